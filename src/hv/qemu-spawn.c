/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting QEMU: check the inputs, pick the accelerator, make the runtime
 * directory, exec QEMU (paused, -S, with its file sizes capped), wait for
 * its QMP socket (watching for an early exit), connect to the agent
 * socket, and only then let the guest run. Any failure tears down all of
 * it through lg_qemu_destroy().
 */
#include "hv/errmsg.h"
#include "hv/proc.h"
#include "hv/qemu.h"
#include "hv/qmp.h"
#include "hv/rundir.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define QMP_CONNECT_MS 15000u
#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

static int check_file(const char *what, const char *path, char *err,
		      size_t errlen)
{
	struct stat st;

	if (!path) {
		snprintf(err, errlen, "no %s given", what);
		return -EINVAL;
	}
	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return lg_hv_syserr(err, errlen, "%s %s", what, path);
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		return -EINVAL;
	}
	return 0;
}

static int check_config(const struct lg_vm_config *cfg, char *err,
			size_t errlen)
{
	int ret = check_file("kernel", cfg->kernel, err, errlen);

	if (ret == 0 && cfg->initrd)
		ret = check_file("initrd", cfg->initrd, err, errlen);
	if (ret == 0 && cfg->rootfs)
		ret = check_file("rootfs image", cfg->rootfs, err, errlen);
	return ret;
}

static int choose_accel(enum lg_accel want, bool *kvm, char *err, size_t errlen)
{
	const char *why = "";
	bool hw;

	if (want == LG_ACCEL_TCG) {
		*kvm = false;
		lg_info("qemu: accelerator tcg (requested)");
		return 0;
	}
	hw = lg_kvm_hw_accelerated(&why);
	if (want == LG_ACCEL_KVM && !hw) {
		snprintf(err, errlen, "KVM requested but not usable: %s", why);
		return -ENODEV;
	}
	*kvm = hw;
	lg_info("qemu: accelerator %s (%s: %s)", hw ? "kvm" : "tcg",
		want == LG_ACCEL_KVM ? "requested" : "auto", why);
	return 0;
}

static int prepare_parent(const struct lg_vm_config *cfg, char *parent,
			  size_t len, char *err, size_t errlen)
{
	int n, ret;

	if (cfg->runtime_parent) {
		n = snprintf(parent, len, "%s", cfg->runtime_parent);
		ret = n < 0 || (size_t)n >= len
			      ? -ENAMETOOLONG
			      : lg_runtime_dir_prepare(parent);
	} else {
		ret = lg_runtime_parent(parent, len);
	}
	if (ret < 0)
		snprintf(err, errlen, "runtime directory %s: %s", parent,
			 strerror(-ret));
	return ret;
}

static int make_rundir(struct qemu_vm *vm, const struct lg_vm_config *cfg,
		       char *err, size_t errlen)
{
	char parent[PATH_MAX];
	int ret;

	ret = prepare_parent(cfg, parent, sizeof(parent), err, errlen);
	if (ret < 0)
		return ret;
	lg_rundir_sweep(parent);
	ret = lg_rundir_create(parent, vm->rundir, sizeof(vm->rundir), err,
			       errlen);
	if (ret < 0) {
		vm->rundir[0] = '\0';
		return ret;
	}
	if (strlen(vm->rundir) + 1 + strlen(LG_QEMU_AGENT_SOCK) >
	    SUN_PATH_MAX) {
		snprintf(err, errlen,
			 "runtime dir %s is too long for Unix socket paths "
			 "(max %zu bytes); set LUMINAGUARD_RUNTIME_DIR to a "
			 "shorter path",
			 vm->rundir, SUN_PATH_MAX);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int open_log(const struct qemu_vm *vm, int *fd, char *err, size_t errlen)
{
	char path[PATH_MAX];

	lg_qemu_path(vm, LG_QEMU_LOG, path, sizeof(path));
	*fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (*fd < 0)
		return lg_hv_syserr(err, errlen, "create %s", path);
	return 0;
}

static void log_argv(char **argv)
{
	char line[4096];
	size_t used = 0;

	line[0] = '\0';
	for (char **p = argv; *p && used < sizeof(line); p++) {
		used += (size_t)snprintf(line + used, sizeof(line) - used,
					 "%s%s", p == argv ? "" : " ", *p);
	}
	lg_debug("qemu: exec %s", line);
}

static int start_qemu(struct qemu_vm *vm, const struct lg_vm_config *cfg,
		      bool kvm, char *err, size_t errlen)
{
	struct lg_qemu_args args = {
		.cfg = cfg, .rundir = vm->rundir, .kvm = kvm};
	/*
	 * The console chardev is a plain file in the runtime directory,
	 * usually tmpfs: a guest flooding its console would fill RAM. QEMU
	 * gets RLIMIT_FSIZE with SIGXFSZ ignored, so its writes past the cap
	 * fail with EFBIG and the serial device drops the bytes; QEMU and
	 * the guest carry on. The price: output after the cap (a late panic
	 * message, say) is lost, and the cap holds for every file QEMU
	 * writes (qemu.log too; a writable disk image would need its own
	 * arrangement, guest RAM is anonymous memory and not affected).
	 */
	struct lg_proc_opts opts = {
		.log_fd = -1,
		.fsize_max = cfg->console_max_bytes ? cfg->console_max_bytes
						    : LG_VM_CONSOLE_MAX_DEFAULT,
	};
	char exe[PATH_MAX];
	char **argv;
	int ret;

	ret = lg_proc_find_exe(LG_QEMU_BINARY, exe, sizeof(exe), err, errlen);
	if (ret < 0)
		return ret;
	args.exe = exe;
	argv = lg_qemu_argv(&args, err, errlen);
	if (!argv)
		return -ENOMEM;
	ret = open_log(vm, &opts.log_fd, err, errlen);
	if (ret == 0) {
		log_argv(argv);
		ret = lg_proc_spawn(exe, argv, &opts, &vm->proc, err, errlen);
		close(opts.log_fd);
	}
	lg_qemu_argv_free(argv);
	return ret;
}

/* Between QMP connection attempts: did QEMU already give up? */
static int startup_check(void *arg, char *err, size_t errlen)
{
	struct qemu_vm *vm = arg;
	char how[160];

	if (!lg_qemu_gone(vm, 0))
		return 0;
	lg_proc_describe(vm->wstatus, how, sizeof(how));
	snprintf(err, errlen, "qemu %s during startup", how);
	lg_qemu_append_tail(vm, LG_QEMU_LOG, "qemu.log", 5, err, errlen);
	return -ECHILD;
}

static int connect_agent_socket(struct qemu_vm *vm, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	lg_qemu_path(vm, LG_QEMU_AGENT_SOCK, sa.sun_path, sizeof(sa.sun_path));
	vm->agent_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (vm->agent_fd < 0)
		return lg_hv_syserr(err, errlen, "socket");
	if (connect(vm->agent_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return lg_hv_syserr(err, errlen, "connect %s", sa.sun_path);
	return 0;
}

/*
 * QEMU starts with -S: the guest runs only once we send "cont". QMP
 * drops the events sent before a client finished qmp_capabilities, so a
 * guest running earlier could open its agent port (VSERPORT_CHANGE)
 * unseen, and lg_vm_agent_channel would wait out the whole boot timeout.
 */
static int attach(struct qemu_vm *vm, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ret;

	lg_qemu_path(vm, LG_QEMU_QMP_SOCK, path, sizeof(path));
	ret = lg_qmp_connect(path, QMP_CONNECT_MS, startup_check, vm, &vm->qmp,
			     err, errlen);
	if (ret == 0) {
		vm->times.process_ready = lg_now_ns();
		/* Connected before the guest runs: it never sees no host. */
		ret = connect_agent_socket(vm, err, errlen);
	}
	if (ret == 0)
		ret = lg_qmp_execute(vm->qmp, "cont", NULL, LG_QEMU_QMP_CMD_MS,
				     NULL, err, errlen);
	/* Failing as QEMU gives up: QEMU's own words say more. */
	if (ret < 0 && vm->proc.pid > 0 &&
	    lg_qemu_gone(vm, LG_QEMU_EXIT_SETTLE_MS))
		ret = startup_check(vm, err, errlen);
	if (ret < 0)
		return ret;
	vm->times.guest_start = lg_now_ns();
	return 0;
}

int lg_qemu_spawn(const struct lg_vm_config *cfg, void **impl, char *err,
		  size_t errlen)
{
	struct qemu_vm *vm;
	bool kvm = false;
	int ret;

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "allocating the VM: %s",
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	vm->times.spawn_start = lg_now_ns();
	vm->proc = LG_PROC_NONE;
	vm->agent_fd = -1;
	vm->cancel_fd = cfg->cancel_fd;
	vm->boot_timeout_ms = cfg->boot_timeout_ms
				      ? cfg->boot_timeout_ms
				      : LG_QEMU_DEFAULT_BOOT_TIMEOUT_MS;
	ret = check_config(cfg, err, errlen);
	if (ret == 0)
		ret = choose_accel(cfg->accel, &kvm, err, errlen);
	vm->accel = kvm ? "kvm" : "tcg";
	if (ret == 0)
		ret = make_rundir(vm, cfg, err, errlen);
	if (ret == 0)
		ret = start_qemu(vm, cfg, kvm, err, errlen);
	if (ret == 0)
		ret = attach(vm, err, errlen);
	if (ret < 0) {
		lg_qemu_destroy(vm);
		return ret;
	}
	lg_info("qemu: started pid %ld in %s (%s)", (long)vm->proc.pid,
		vm->rundir, vm->accel);
	*impl = vm;
	return 0;
}
