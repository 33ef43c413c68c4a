/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An MCP stdio server in a micro-VM. Two threads: one owns the VM (it
 * boots it, runs the agent EXEC, where lg_client_exec moves bytes between
 * three local pipes and the guest process within the agent's
 * flow-control windows, and at the end stops it: the VMM process dies
 * with the thread that spawned it, PR_SET_PDEATHSIG), the other splits
 * the stdout pipe into messages and the stderr pipe into log lines.
 * send() writes a line into the stdin pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/vm-transport.h"

/* After stdin closes, how long the server gets to exit by itself. */
#define VM_EXIT_WAIT_MS 2000
/* Each signal's grace before the next step. */
#define VM_SIGNAL_WAIT_MS 2500

struct vm_transport {
	struct mcp_transport base;
	char name[64];
	struct lg_sandbox sb;
	char **argv, **env;
	char *cwd;
	int in[2], out[2], errp[2], cancel[2];
	pthread_t exec_thread, read_thread;
	bool exec_started, read_started;
	pthread_mutex_t lock; /* send() and the stdin pipe */
	pthread_mutex_t done_lock;
	pthread_cond_t done_cond; /* booted, exec_done, teardown changed */
	bool booted, exec_done, teardown;
	int boot_rc;
	char boot_err[512];
	const struct mcp_vm_opts *opts; /* during the boot only */
	struct lg_exec_result res;
	const struct mcp_transport_events *ev;
	void *opaque;
	atomic_bool quiet; /* destroy() runs: no more callbacks */
	bool closed_sent;
};

static char **strv_dup(char *const *v)
{
	size_t n = 0;
	char **d;

	while (v && v[n])
		n++;
	d = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; d && i < n; i++) {
		if (!(d[i] = strdup(v[i]))) {
			for (size_t j = 0; j < i; j++)
				free(d[j]);
			free(d);
			return NULL;
		}
	}
	return d;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static int copy_in(struct vm_transport *t, const struct mcp_vm_opts *o,
		   char *err, size_t err_size)
{
	for (size_t i = 0; i < o->n_copy_in; i++) {
		int rc =
			lg_sandbox_put_path(&t->sb, o->copy_in[i].host,
					    o->copy_in[i].guest, err, err_size);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static void state_set(struct vm_transport *t, bool *flag)
{
	pthread_mutex_lock(&t->done_lock);
	*flag = true;
	pthread_cond_broadcast(&t->done_cond);
	pthread_mutex_unlock(&t->done_lock);
}

static int vm_boot(struct vm_transport *t)
{
	const struct mcp_vm_opts *o = t->opts;
	int rc;

	lg_info("mcp[%s]: booting a micro-VM for the server", t->name);
	rc = lg_sandbox_start(&o->vm, &t->sb, t->boot_err, sizeof(t->boot_err));
	if (!rc) {
		rc = copy_in(t, o, t->boot_err, sizeof(t->boot_err));
		if (rc)
			lg_sandbox_stop(&t->sb);
	}
	t->boot_rc = rc;
	state_set(t, &t->booted);
	return rc;
}

static void *exec_main(void *arg)
{
	struct vm_transport *t = arg;
	struct lg_exec_req req = {0};
	struct lg_exec_io io = {
		.in_fd = t->in[0],
		.out_fd = t->out[1],
		.err_fd = t->errp[1],
		.cancel_fd = t->cancel[0],
	};
	int rc;

	if (vm_boot(t) < 0)
		return NULL;
	req.argv = t->argv;
	for (char **a = t->argv; *a; a++)
		req.argc++;
	req.envp = t->env;
	for (char **e = t->env; e && *e; e++)
		req.envc++;
	req.cwd = t->cwd;
	req.stdin_attached = true;
	rc = lg_client_exec(&t->sb.c, &req, &io, &t->res);
	if (rc < 0) {
		t->res.outcome = LG_EXEC_NOT_STARTED;
		if (!t->res.msg[0])
			snprintf(t->res.msg, sizeof(t->res.msg), "%s",
				 strerror(-rc));
	}
	/* The reader sees EOF once the guest's output is all delivered. */
	close(t->out[1]);
	close(t->errp[1]);
	t->out[1] = t->errp[1] = -1;
	state_set(t, &t->exec_done);
	/* The VM lives until destroy(), and dies on this thread. */
	pthread_mutex_lock(&t->done_lock);
	while (!t->teardown)
		pthread_cond_wait(&t->done_cond, &t->done_lock);
	pthread_mutex_unlock(&t->done_lock);
	lg_sandbox_stop(&t->sb);
	return NULL;
}

static void outcome_describe(const struct lg_exec_result *r, char *buf,
			     size_t len)
{
	switch (r->outcome) {
	case LG_EXEC_EXITED:
		snprintf(buf, len, "server in the VM exited with status %d",
			 r->code);
		break;
	case LG_EXEC_SIGNALED:
		snprintf(buf, len, "server in the VM killed by signal %d",
			 r->sig);
		break;
	case LG_EXEC_NOT_STARTED:
		snprintf(buf, len, "server did not start in the VM: %s",
			 r->msg);
		break;
	default:
		snprintf(buf, len, "VM channel lost: %s",
			 r->msg[0] ? r->msg : "no reason");
		break;
	}
}

/* Splits buf into lines; each complete one goes to fn. */
struct linebuf {
	char *buf;
	size_t len, cap, max;
	bool skipping;
};

static int linebuf_feed(struct vm_transport *t, struct linebuf *lb, int fd,
			bool is_msg)
{
	ssize_t n;
	size_t start = 0;

	if (lb->len == lb->cap) {
		size_t ncap = lb->cap ? lb->cap * 2 : 65536;
		char *nb;

		if (ncap > lb->max + 1)
			ncap = lb->max + 1;
		if (lb->len == ncap) {
			/* A line past the bound: drop it up to its newline. */
			lg_warn("mcp[%s]: dropping an overlong line", t->name);
			lb->len = 0;
			lb->skipping = true;
		} else {
			nb = realloc(lb->buf, ncap);
			if (!nb)
				return -ENOMEM;
			lb->buf = nb;
			lb->cap = ncap;
		}
	}
	n = read(fd, lb->buf + lb->len, lb->cap - lb->len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return 1;
	lb->len += (size_t)n;
	for (size_t i = 0; i < lb->len; i++) {
		if (lb->buf[i] != '\n')
			continue;
		if (lb->skipping) {
			lb->skipping = false;
		} else if (i > start && !atomic_load(&t->quiet)) {
			if (is_msg)
				t->ev->message(t->opaque, lb->buf + start,
					       i - start);
			else
				lg_info("mcp[%s] stderr: %.*s", t->name,
					(int)(i - start), lb->buf + start);
		}
		start = i + 1;
	}
	memmove(lb->buf, lb->buf + start, lb->len - start);
	lb->len -= start;
	return 0;
}

static void *read_main(void *arg)
{
	struct vm_transport *t = arg;
	struct linebuf out = {.max = JSONRPC_MAX_MESSAGE}, err = {.max = 65536};
	bool out_open = true, err_open = true;
	char why[384];

	while (out_open || err_open) {
		struct pollfd p[2] = {
			{.fd = out_open ? t->out[0] : -1, .events = POLLIN},
			{.fd = err_open ? t->errp[0] : -1, .events = POLLIN},
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents && linebuf_feed(t, &out, t->out[0], true))
			out_open = false;
		if (p[1].revents && linebuf_feed(t, &err, t->errp[0], false))
			err_open = false;
	}
	free(out.buf);
	free(err.buf);
	pthread_mutex_lock(&t->done_lock);
	while (!t->exec_done)
		pthread_cond_wait(&t->done_cond, &t->done_lock);
	pthread_mutex_unlock(&t->done_lock);
	outcome_describe(&t->res, why, sizeof(why));
	lg_info("mcp[%s]: %s", t->name, why);
	if (!atomic_load(&t->quiet) && t->ev->closed) {
		t->closed_sent = true;
		t->ev->closed(t->opaque,
			      t->res.outcome == LG_EXEC_EXITED &&
					      t->res.code == 0
				      ? 0
				      : -ECONNRESET,
			      why);
	}
	return NULL;
}

static int vm_start(struct mcp_transport *base,
		    const struct mcp_transport_events *ev, void *opaque,
		    char *err, size_t err_size)
{
	struct vm_transport *t = (struct vm_transport *)base;

	t->ev = ev;
	t->opaque = opaque;
	if (pthread_create(&t->read_thread, NULL, read_main, t)) {
		snprintf(err, err_size, "cannot start a thread");
		return -EAGAIN;
	}
	t->read_started = true;
	return 0;
}

static int vm_send(struct mcp_transport *base, const char *msg, size_t len,
		   char *err, size_t err_size)
{
	struct vm_transport *t = (struct vm_transport *)base;
	int rc = -EPIPE;

	if (memchr(msg, '\n', len)) {
		snprintf(err, err_size, "message contains a newline");
		return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	if (t->in[1] >= 0) {
		rc = lg_write_all(t->in[1], msg, len);
		if (!rc)
			rc = lg_write_all(t->in[1], "\n", 1);
	}
	pthread_mutex_unlock(&t->lock);
	if (rc)
		snprintf(err, err_size, "server in the VM: %s", strerror(-rc));
	return rc;
}

static bool exec_wait(struct vm_transport *t, int ms)
{
	uint64_t deadline = lg_now_ns() + (uint64_t)ms * 1000000ull;
	struct timespec ts;
	bool done;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->done_lock);
	while (!t->exec_done && lg_now_ns() < deadline)
		if (pthread_cond_timedwait(&t->done_cond, &t->done_lock, &ts))
			break;
	done = t->exec_done;
	pthread_mutex_unlock(&t->done_lock);
	return done;
}

/* What lg_client_exec reads from its cancel fd: a signal to forward. */
static void cancel_send(struct vm_transport *t, int sig)
{
	struct signalfd_siginfo si = {.ssi_signo = (uint32_t)sig};

	if (write(t->cancel[1], &si, sizeof(si)) < 0)
		lg_debug("mcp[%s]: cancel pipe: %s", t->name, strerror(errno));
}

static void fds_close(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

static void vm_destroy(struct mcp_transport *base)
{
	struct vm_transport *t = (struct vm_transport *)base;

	atomic_store(&t->quiet, true);
	pthread_mutex_lock(&t->lock);
	if (t->in[1] >= 0)
		close(t->in[1]); /* EOF on the server's stdin */
	t->in[1] = -1;
	pthread_mutex_unlock(&t->lock);
	if (t->exec_started) {
		/* Then SIGTERM, then give up on it (the VM goes anyway). */
		if (!exec_wait(t, VM_EXIT_WAIT_MS)) {
			cancel_send(t, SIGTERM);
			if (!exec_wait(t, VM_SIGNAL_WAIT_MS))
				cancel_send(t, SIGKILL);
		}
		state_set(t, &t->teardown);
		pthread_join(t->exec_thread, NULL);
	}
	if (t->read_started)
		pthread_join(t->read_thread, NULL);
	fds_close(t->in, 2);
	fds_close(t->out, 2);
	fds_close(t->errp, 2);
	fds_close(t->cancel, 2);
	strv_free(t->argv);
	strv_free(t->env);
	free(t->cwd);
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->done_lock);
	pthread_cond_destroy(&t->done_cond);
	free(t);
}

static const struct mcp_transport_ops vm_ops = {
	.name = "vm-stdio",
	.start = vm_start,
	.send = vm_send,
	.destroy = vm_destroy,
};

static int pipes_make(struct vm_transport *t)
{
	if (pipe2(t->in, O_CLOEXEC) < 0 || pipe2(t->out, O_CLOEXEC) < 0 ||
	    pipe2(t->errp, O_CLOEXEC) < 0 || pipe2(t->cancel, O_CLOEXEC) < 0)
		return -errno;
	/* The exec loop must never block on a local write (client-exec.c). */
	if (fcntl(t->out[1], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(t->errp[1], F_SETFL, O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int mcp_vm_transport_create(const struct mcp_vm_opts *o,
			    struct mcp_transport **out, char *err,
			    size_t err_size)
{
	struct vm_transport *t = calloc(1, sizeof(*t));
	int rc;

	if (!t) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	t->base.ops = &vm_ops;
	snprintf(t->name, sizeof(t->name), "%s",
		 o->name ? o->name : o->argv[0]);
	for (int i = 0; i < 2; i++)
		t->in[i] = t->out[i] = t->errp[i] = t->cancel[i] = -1;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->done_lock, NULL);
	pthread_cond_init(&t->done_cond, NULL);
	t->argv = strv_dup(o->argv);
	t->env = strv_dup(o->env);
	t->cwd = o->cwd ? strdup(o->cwd) : NULL;
	if (!t->argv || !t->argv[0] || !t->env || (o->cwd && !t->cwd)) {
		snprintf(err, err_size, "no command, or out of memory");
		vm_destroy(&t->base);
		return -EINVAL;
	}
	rc = pipes_make(t);
	if (rc < 0) {
		snprintf(err, err_size, "pipe: %s", strerror(-rc));
		vm_destroy(&t->base);
		return rc;
	}
	t->opts = o;
	if (pthread_create(&t->exec_thread, NULL, exec_main, t)) {
		snprintf(err, err_size, "cannot start a thread");
		vm_destroy(&t->base);
		return -EAGAIN;
	}
	pthread_mutex_lock(&t->done_lock);
	while (!t->booted)
		pthread_cond_wait(&t->done_cond, &t->done_lock);
	pthread_mutex_unlock(&t->done_lock);
	t->opts = NULL;
	if (t->boot_rc < 0) {
		rc = t->boot_rc;
		snprintf(err, err_size, "%s", t->boot_err);
		pthread_join(t->exec_thread, NULL);
		vm_destroy(&t->base);
		return rc;
	}
	t->exec_started = true;
	*out = &t->base;
	return 0;
}
