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
#include "hv/vmm-proc.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define QMP_CONNECT_MS 15000u

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
	struct lg_proc_opts opts;
	char exe[PATH_MAX], log[PATH_MAX];
	char **argv;
	int ret;

	ret = lg_proc_find_exe(LG_QEMU_BINARY, exe, sizeof(exe), err, errlen);
	if (ret < 0)
		return ret;
	args.exe = exe;
	argv = lg_qemu_argv(&args, err, errlen);
	if (!argv)
		return -ENOMEM;
	/*
	 * The console chardev is a plain file in the runtime directory too,
	 * and the size cap holds for every file QEMU writes: console.log,
	 * qemu.log (a writable disk image would need its own arrangement,
	 * guest RAM is anonymous memory and not affected).
	 */
	lg_qemu_path(vm, LG_QEMU_LOG, log, sizeof(log));
	ret = lg_vmm_open_log(cfg, log, &opts, err, errlen);
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
	ret = lg_vmm_check_config(cfg, err, errlen);
	if (ret == 0)
		ret = choose_accel(cfg->accel, &kvm, err, errlen);
	vm->accel = kvm ? "kvm" : "tcg";
	if (ret == 0)
		ret = lg_vmm_make_rundir(cfg, LG_QEMU_AGENT_SOCK, vm->rundir,
					 sizeof(vm->rundir), err, errlen);
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
