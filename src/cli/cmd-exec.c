/* SPDX-License-Identifier: Apache-2.0 */
/*
 * luminaguard exec: boot a fresh micro-VM, run one command in it through
 * lg-agent, stream its output, return its status, destroy the VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/client.h"
#include "cli/cli.h"
#include "cli/exec-opts.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "hv/hv.h"
#include "image/image.h"

/* How long the agent gets to acknowledge SHUTDOWN before a forced stop. */
#define SHUTDOWN_ACK_MS 1000
/* The agent answers HELLO at once once its channel is open. */
#define HELLO_TIMEOUT_MS 10000

static void exec_usage(FILE *out)
{
	fprintf(out,
		"usage: luminaguard exec [OPTIONS] -- CMD [ARGS...]\n"
		"\n"
		"Boot a fresh micro-VM, run CMD in it, stream its output, "
		"destroy the VM.\n"
		"Exits with CMD's status (128+N if killed by signal N).\n"
		"\n"
		"Options:\n"
		"  --vcpus N              guest CPUs (1-32, default 1)\n"
		"  --mem MiB              guest memory (64-65536, default "
		"256)\n"
		"  --timeout S            kill CMD and the VM after S seconds "
		"(exit 124)\n"
		"  --env K=V              set an environment variable "
		"(repeatable)\n"
		"  --workdir DIR          working directory in the guest "
		"(default /)\n"
		"  --copy-in HOST:GUEST   copy a host file into the guest "
		"before CMD\n"
		"  --copy-out GUEST:HOST  copy a guest file out after CMD\n"
		"  --copy-max MiB         largest file copy-out accepts "
		"(default 1024)\n"
		"  --backend NAME         VM backend: %s (default: lgvmm "
		"where KVM is\n"
		"                         hardware accelerated, else qemu "
		"with TCG)\n"
		"  --accel auto|kvm|tcg   acceleration (default auto: KVM "
		"only when it is\n"
		"                         hardware accelerated, else TCG)\n"
		"  --image DIR            guest image directory (default: "
		"$LUMINAGUARD_IMAGE,\n"
		"                         else the cache's images/default)\n"
		"  --kernel PATH          boot this kernel (vmlinux or "
		"bzImage) instead\n"
		"  --initrd PATH          with this initramfs (its /init must "
		"be lg-agent)\n"
		"  --rootfs PATH          attach a read-only ext4 root "
		"filesystem (tmpfs overlay)\n"
		"  --append ARGS          extra kernel command line\n"
		"  --boot-timeout S       give up if the guest agent is not "
		"up (default 60)\n"
		"  --timings FILE         write phase timings as JSON (for "
		"bench/)\n"
		"\n"
		"The caller's stdin is forwarded when it is not a terminal.\n"
		"Ctrl-C forwards SIGINT to CMD, then destroys the VM (exit "
		"130).\n"
		"Exit codes: 124 timeout, 125 VM or internal error, 126 CMD "
		"not\n"
		"executable, 127 CMD not found, 2 usage error.\n",
		lg_hv_backend_names());
}

/* SIGINT/SIGTERM/SIGHUP arrive on a signalfd so teardown always runs. */
static int signals_capture(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int copy_in(struct lg_client *c, const struct exec_opts *o)
{
	char err[1024];

	for (size_t i = 0; i < o->n_copy_in; i++) {
		const struct copy_spec *s = &o->copy_in[i];
		int fd = open(s->host, O_RDONLY | O_CLOEXEC);
		struct stat st;
		int rc;

		if (fd < 0 || fstat(fd, &st) < 0) {
			lg_err("copy-in source %s: %s", s->host,
			       strerror(errno));
			if (fd >= 0)
				close(fd);
			return -ENOENT;
		}
		rc = lg_client_put_file(c, fd, st.st_mode & 07777, s->guest,
					err, sizeof(err));
		close(fd);
		if (rc < 0) {
			lg_err("%s", err);
			return rc;
		}
	}
	return 0;
}

static int copy_out(struct lg_client *c, const struct exec_opts *o)
{
	char err[1024], tmp[PATH_MAX];
	int failed = 0;

	for (size_t i = 0; i < o->n_copy_out; i++) {
		const struct copy_spec *s = &o->copy_out[i];
		struct lg_file_get g = {0};
		int fd, rc;

		err[0] = '\0';
		if (lg_path_fmt(tmp, sizeof(tmp), "%s.lg-part.%d", s->host,
				(int)getpid()) < 0) {
			lg_err("copy-out to %s: path too long", s->host);
			failed = -ENAMETOOLONG;
			continue;
		}
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			lg_err("copy-out to %s: %s", s->host, strerror(errno));
			failed = -EIO;
			continue;
		}
		g.dst_fd = fd;
		g.max_bytes = (uint64_t)o->copy_max_mib << 20;
		rc = lg_client_get_file(c, s->guest, &g, err, sizeof(err));
		if (!rc && (fchmod(fd, g.mode) < 0 || fsync(fd) < 0))
			rc = -errno;
		close(fd);
		if (!rc && rename(tmp, s->host) < 0)
			rc = -errno;
		if (rc < 0) {
			unlink(tmp);
			if (err[0])
				lg_err("%s", err);
			else
				lg_err("copy-out to %s: %s", s->host,
				       strerror(-rc));
			failed = rc;
		}
	}
	return failed;
}

/* Why did the channel break? The VM knows (panic, QEMU killed, ...). */
static void report_vm_failure(struct lg_vm *vm, const char *what)
{
	struct lg_vm_status st;
	char tail[2048];

	if (lg_vm_status(vm, &st) == 0 &&
	    (st.state == LG_VM_FAILED || st.state == LG_VM_STOPPED)) {
		lg_err("%s: VM %s: %s", what, lg_vm_state_name(st.state),
		       st.reason);
		return;
	}
	lg_err("%s", what);
	if (lg_vm_console_tail(vm, tail, sizeof(tail), 10))
		fprintf(stderr, "--- last lines of the guest console ---\n%s\n",
			tail);
}

static int result_exit_code(struct lg_vm *vm, const struct exec_opts *o,
			    const struct lg_exec_result *r)
{
	switch (r->outcome) {
	case LG_EXEC_EXITED:
		return r->code;
	case LG_EXEC_SIGNALED:
		return 128 + r->sig;
	case LG_EXEC_NOT_STARTED:
		lg_err("%s", r->msg);
		/* 126/127 only when execve itself failed, not e.g. chdir. */
		if (strncmp(r->msg, "exec ", 5) != 0)
			return LG_EXIT_INTERNAL;
		if (r->err == ENOENT)
			return LG_EXIT_NOT_FOUND;
		return r->err == EACCES ? LG_EXIT_CANNOT_RUN : LG_EXIT_INTERNAL;
	case LG_EXEC_TIMED_OUT:
		lg_err("command timed out after %u s; the VM was destroyed",
		       o->timeout_s);
		return LG_EXIT_TIMEOUT;
	case LG_EXEC_INTERRUPTED:
		lg_warn("interrupted by %s; the VM was destroyed",
			strsignal(r->sig));
		return r->sig == SIGINT ? LG_EXIT_INTERRUPTED : 128 + r->sig;
	case LG_EXEC_CHANNEL_LOST:
	default:
		report_vm_failure(vm, r->msg);
		return LG_EXIT_INTERNAL;
	}
}

static void request_fill(const struct exec_opts *o, struct lg_exec_req *req)
{
	memset(req, 0, sizeof(*req));
	req->argv = o->argv;
	req->argc = o->argc;
	req->envp = o->env;
	req->envc = o->n_env;
	req->cwd = (char *)o->workdir;
	req->stdin_attached = !isatty(STDIN_FILENO);
}

/* Channel, handshake, copy-in: the guest is ready for the command. */
static int session_start(struct lg_vm *vm, const struct exec_opts *o, int sigfd,
			 struct lg_client *c, struct exec_timings *t)
{
	char err[1024];
	int fd, rc;

	rc = lg_vm_agent_channel(vm, &fd, err, sizeof(err));
	if (rc < 0) {
		lg_err("%s", err);
		return rc == -ECANCELED ? LG_EXIT_INTERRUPTED
					: LG_EXIT_INTERNAL;
	}
	t->agent_open = lg_now_ns();
	rc = lg_client_open(c, fd);
	if (rc < 0) {
		lg_err("agent channel: %s", strerror(-rc));
		return LG_EXIT_INTERNAL;
	}
	c->cancel_fd = sigfd;
	rc = lg_client_hello(c, HELLO_TIMEOUT_MS, err, sizeof(err));
	t->hello = lg_now_ns();
	if (rc == -ECANCELED)
		return LG_EXIT_INTERRUPTED;
	if (rc < 0) {
		report_vm_failure(vm, err);
		return LG_EXIT_INTERNAL;
	}
	return copy_in(c, o) < 0 ? LG_EXIT_INTERNAL : LG_EXIT_OK;
}

static int run_in_vm(struct lg_vm *vm, const struct exec_opts *o, int sigfd,
		     struct exec_timings *t)
{
	struct lg_client c = {.dec = NULL};
	struct lg_exec_result r;
	struct lg_exec_req req;
	struct lg_exec_io io = {
		.in_fd = -1,
		.out_fd = STDOUT_FILENO,
		.err_fd = STDERR_FILENO,
		.cancel_fd = sigfd,
		.timeout_ms = o->timeout_s * 1000u,
	};
	int rc, code = session_start(vm, o, sigfd, &c, t);

	if (code != LG_EXIT_OK) {
		lg_client_close(&c);
		return code;
	}
	request_fill(o, &req);
	if (req.stdin_attached)
		io.in_fd = STDIN_FILENO;
	t->exec_sent = lg_now_ns();
	rc = lg_client_exec(&c, &req, &io, &r);
	t->exec_done = lg_now_ns();
	if (rc < 0) {
		/* Nothing ran: the request itself could not be built. */
		lg_err("%s", r.msg[0] ? r.msg : strerror(-rc));
		code = rc == -ENOMEM ? LG_EXIT_INTERNAL : LG_EXIT_USAGE;
	} else {
		code = result_exit_code(vm, o, &r);
	}
	if (rc == 0 &&
	    (r.outcome == LG_EXEC_EXITED || r.outcome == LG_EXEC_SIGNALED)) {
		if (copy_out(&c, o) < 0)
			code = LG_EXIT_INTERNAL;
		/* The task is over: let the guest sync and power off. */
		if (lg_client_shutdown(&c, SHUTDOWN_ACK_MS) < 0)
			lg_info("guest agent did not acknowledge shutdown; "
				"stopping the VM");
	}
	t->finished = lg_now_ns();
	lg_client_close(&c);
	return code;
}

static int exec_run(int argc, char **argv)
{
	struct exec_opts o;
	struct exec_timings t = {.start = lg_now_ns()};
	struct lg_vm_config cfg;
	struct lg_vm *vm = NULL;
	char err[2048];
	int rc, sigfd, code;

	rc = exec_opts_parse(&o, argc, argv);
	if (rc > 0)
		exec_usage(stdout);
	if (rc < 0)
		fprintf(stderr, "Run `luminaguard exec --help` for usage.\n");
	if (rc)
		return rc < 0 ? LG_EXIT_USAGE : LG_EXIT_OK;
	rc = exec_opts_vm_config(&o, &cfg, err, sizeof(err));
	if (rc) {
		lg_err("%s", err);
		exec_opts_free(&o);
		return rc == -EINVAL ? LG_EXIT_USAGE : LG_EXIT_INTERNAL;
	}
	sigfd = signals_capture();
	if (sigfd < 0) {
		lg_err("signalfd: %s", strerror(errno));
		exec_opts_free(&o);
		return LG_EXIT_INTERNAL;
	}
	cfg.cancel_fd = sigfd;
	rc = lg_vm_spawn(o.backend, &cfg, &vm, err, sizeof(err));
	t.spawned = lg_now_ns();
	if (rc < 0) {
		lg_err("%s", err);
		code = LG_EXIT_INTERNAL;
	} else {
		snprintf(t.accel, sizeof(t.accel), "%s", lg_vm_accel_name(vm));
		lg_info("VM up in %s (accel %s)", lg_vm_runtime_dir(vm),
			t.accel);
		code = run_in_vm(vm, &o, sigfd, &t);
		t.teardown_start = lg_now_ns();
		lg_vm_destroy(vm);
	}
	t.end = lg_now_ns();
	if (o.timings)
		exec_timings_write(o.timings, &t);
	close(sigfd);
	exec_opts_free(&o);
	return code;
}

const struct lg_cmd lg_cmd_exec = {
	.name = "exec",
	.summary = "run a command in a fresh micro-VM",
	.run = exec_run,
	.usage = exec_usage,
};
