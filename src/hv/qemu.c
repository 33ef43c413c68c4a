/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The QEMU backend: qemu-system-x86_64 -M microvm, driven over QMP, the
 * guest agent reached through a virtio-serial port backed by a Unix
 * socket. One struct lg_vm is used by one thread at a time.
 *
 * QEMU gets PR_SET_PDEATHSIG SIGKILL, which fires when the *thread* that
 * spawned it exits: spawn from a thread that lives as long as the VM.
 */
#include "hv/qemu.h"
#include "hv/backend.h"
#include "hv/proc.h"
#include "hv/qmp.h"
#include "hv/rundir.h"
#include "hv/tail.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUIT_CMD_MS 1000u
#define QUIT_WAIT_MS 2000u
#define BOOT_SLICE_MS 250u
#define TAIL_LINES 12u

void lg_qemu_path(const struct qemu_vm *vm, const char *file, char *buf,
		  size_t len)
{
	int n = snprintf(buf, len, "%s/%s", vm->rundir, file);

	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
}

void lg_qemu_append_tail(const struct qemu_vm *vm, const char *file,
			 const char *what, unsigned lines, char *err,
			 size_t errlen)
{
	char path[PATH_MAX], tail[2048];
	size_t used = strlen(err);

	lg_qemu_path(vm, file, path, sizeof(path));
	if (!lg_tail_lines(path, tail, sizeof(tail), lines))
		snprintf(tail, sizeof(tail), "(empty)");
	if (used < errlen)
		snprintf(err + used, errlen - used, "\n%s:\n%s", what, tail);
}

/* --- agent channel ------------------------------------------------- */

static bool agent_port_opened(json_t *data, void *arg)
{
	(void)arg;
	return json_is_true(json_object_get(data, "open")) &&
	       !strcmp(json_string_value(json_object_get(data, "id")) ?: "",
		       LG_QEMU_AGENT_PORT_ID);
}

static int boot_failed(struct qemu_vm *vm, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "VM stopped before the guest agent opened its channel: %s",
		 vm->final_reason);
	lg_qemu_append_tail(vm, LG_QEMU_CONSOLE_LOG, "console tail", TAIL_LINES,
			    err, errlen);
	return -ECHILD;
}

static int boot_timed_out(struct qemu_vm *vm, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "guest agent did not open its channel within %u s",
		 (vm->boot_timeout_ms + 999) / 1000);
	lg_qemu_append_tail(vm, LG_QEMU_CONSOLE_LOG, "console tail", TAIL_LINES,
			    err, errlen);
	return -ETIMEDOUT;
}

static bool boot_cancelled(const struct qemu_vm *vm)
{
	struct pollfd p = {.fd = vm->cancel_fd, .events = POLLIN};

	return vm->cancel_fd > 0 && poll(&p, 1, 0) == 1;
}

/* One slice of waiting: 0 opened, -EAGAIN keep waiting, else failure. */
static int wait_agent_slice(struct qemu_vm *vm, unsigned slice_ms, char *err,
			    size_t errlen)
{
	int ret;

	ret = lg_qmp_wait_event(vm->qmp, "VSERPORT_CHANGE", agent_port_opened,
				NULL, slice_ms, NULL, err, errlen);
	if (ret == 0)
		return 0;
	if (ret != -ETIMEDOUT && ret != -ECONNRESET)
		return ret;
	/* QMP closes just before QEMU exits: give it a moment to go. */
	if (lg_qemu_gone(vm, ret == -ECONNRESET ? LG_QEMU_EXIT_SETTLE_MS : 0))
		return boot_failed(vm, err, errlen);
	if (ret == -ECONNRESET) {
		snprintf(err, errlen, "QMP connection lost while qemu %ld runs",
			 (long)vm->proc.pid);
		return ret;
	}
	return -EAGAIN;
}

static int qemu_agent_channel(void *impl, int *fd, char *err, size_t errlen)
{
	struct qemu_vm *vm = impl;
	uint64_t start = lg_now_ns(), elapsed_ms;
	unsigned slice;
	int ret;

	while (!vm->agent_open) {
		if (vm->proc.pid < 0 || !vm->qmp)
			return boot_failed(vm, err, errlen);
		elapsed_ms = (lg_now_ns() - start) / 1000000ull;
		if (elapsed_ms >= vm->boot_timeout_ms)
			return boot_timed_out(vm, err, errlen);
		if (boot_cancelled(vm)) {
			snprintf(err, errlen,
				 "interrupted while the guest "
				 "was booting");
			return -ECANCELED;
		}
		slice = vm->boot_timeout_ms - (unsigned)elapsed_ms;
		slice = slice < BOOT_SLICE_MS ? slice : BOOT_SLICE_MS;
		ret = wait_agent_slice(vm, slice, err, errlen);
		if (ret == 0) {
			vm->agent_open = true;
			vm->times.agent_open = lg_now_ns();
		} else if (ret != -EAGAIN) {
			return ret;
		}
	}
	*fd = vm->agent_fd;
	return 0;
}

/* --- status, pause, resume, stop ----------------------------------- */

static enum lg_vm_state state_from_qmp(const char *status)
{
	if (!strcmp(status, "running"))
		return LG_VM_RUNNING;
	if (!strcmp(status, "paused") || !strcmp(status, "suspended"))
		return LG_VM_PAUSED;
	if (!strcmp(status, "prelaunch") || !strcmp(status, "inmigrate") ||
	    !strcmp(status, "restore-vm"))
		return LG_VM_STARTING;
	return LG_VM_FAILED;
}

/* Asks QEMU over QMP; -errno (reason filled in) when that fails. */
static int query_status(struct qemu_vm *vm, struct lg_vm_status *st)
{
	char err[256];
	const char *s;
	json_t *ret;
	int rc;

	rc = lg_qmp_execute(vm->qmp, "query-status", NULL, LG_QEMU_QMP_CMD_MS,
			    &ret, err, sizeof(err));
	if (rc < 0) {
		snprintf(st->reason, sizeof(st->reason), "%s", err);
		return rc;
	}
	s = json_string_value(json_object_get(ret, "status"));
	st->state = state_from_qmp(s ? s : "");
	if (st->state == LG_VM_FAILED)
		snprintf(st->reason, sizeof(st->reason),
			 "qemu reports status %s", s ? s : "(none)");
	json_decref(ret);
	return 0;
}

static int qemu_status(void *impl, struct lg_vm_status *st)
{
	struct qemu_vm *vm = impl;
	int rc;

	st->reason[0] = '\0';
	if (!lg_qemu_gone(vm, 0)) {
		rc = query_status(vm, st);
		if (rc == 0)
			return 0;
		/* QMP fails as QEMU exits: then report the exit. */
		if (!lg_qemu_gone(vm, LG_QEMU_EXIT_SETTLE_MS)) {
			st->state = LG_VM_FAILED;
			return rc;
		}
	}
	st->state = vm->final_state;
	snprintf(st->reason, sizeof(st->reason), "%s", vm->final_reason);
	return 0;
}

static int simple_command(struct qemu_vm *vm, const char *cmd)
{
	char err[256];
	int ret;

	if (lg_qemu_gone(vm, 0))
		return -ESRCH;
	ret = lg_qmp_execute(vm->qmp, cmd, NULL, LG_QEMU_QMP_CMD_MS, NULL, err,
			     sizeof(err));
	if (ret < 0)
		lg_err("qemu %ld: %s", (long)vm->proc.pid, err);
	return ret;
}

static int qemu_pause(void *impl)
{
	return simple_command(impl, "stop");
}

static int qemu_resume(void *impl)
{
	return simple_command(impl, "cont");
}

/* QMP quit, then up to QUIT_WAIT_MS for the exit. True once it is gone. */
static bool quit_gracefully(struct qemu_vm *vm)
{
	char err[256];
	int ret;

	if (!vm->qmp)
		return false;
	ret = lg_qmp_execute(vm->qmp, "quit", NULL, QUIT_CMD_MS, NULL, err,
			     sizeof(err));
	if (ret < 0 && ret != -ECONNRESET)
		lg_debug("qemu %ld: %s", (long)vm->proc.pid, err);
	if (lg_qemu_gone(vm, QUIT_WAIT_MS))
		return true;
	lg_warn("qemu %ld did not quit within %u ms: killing it",
		(long)vm->proc.pid, QUIT_WAIT_MS);
	return false;
}

static void kill_qemu(struct qemu_vm *vm)
{
	int st = 0, ret;

	ret = lg_proc_kill(&vm->proc, &st);
	if (ret < 0) {
		lg_err("killing qemu %ld: %s", (long)vm->proc.pid,
		       strerror(-ret));
		st = 0xff00;
	}
	lg_qemu_exited(vm, st);
}

static int qemu_stop(void *impl)
{
	struct qemu_vm *vm = impl;

	if (!lg_qemu_gone(vm, 0)) {
		vm->stop_requested = true;
		if (!quit_gracefully(vm))
			kill_qemu(vm);
	}
	if (!vm->times.stop_done)
		vm->times.stop_done = lg_now_ns();
	return 0;
}

/* --- teardown and accessors ---------------------------------------- */

void lg_qemu_destroy(void *impl)
{
	struct qemu_vm *vm = impl;
	int ret;

	if (vm->proc.pid > 0)
		qemu_stop(vm);
	if (vm->agent_fd >= 0)
		close(vm->agent_fd);
	lg_qmp_close(vm->qmp);
	if (vm->rundir[0]) {
		ret = lg_rundir_remove(vm->rundir);
		if (ret < 0)
			lg_warn("removing %s: %s", vm->rundir, strerror(-ret));
	}
	free(vm);
}

static size_t qemu_console_tail(void *impl, char *buf, size_t len,
				unsigned lines)
{
	struct qemu_vm *vm = impl;
	char path[PATH_MAX];

	lg_qemu_path(vm, LG_QEMU_CONSOLE_LOG, path, sizeof(path));
	return lg_tail_lines(path, buf, len, lines);
}

static const char *qemu_runtime_dir(const void *impl)
{
	return ((const struct qemu_vm *)impl)->rundir;
}

static const char *qemu_accel_name(const void *impl)
{
	return ((const struct qemu_vm *)impl)->accel;
}

static const struct lg_vm_times *qemu_times(const void *impl)
{
	return &((const struct qemu_vm *)impl)->times;
}

static pid_t qemu_pid(const void *impl)
{
	return ((const struct qemu_vm *)impl)->proc.pid;
}

const struct lg_hv_backend lg_hv_qemu_backend = {
	.name = "qemu",
	.spawn = lg_qemu_spawn,
	.agent_channel = qemu_agent_channel,
	.status = qemu_status,
	.pause = qemu_pause,
	.resume = qemu_resume,
	.stop = qemu_stop,
	.destroy = lg_qemu_destroy,
	.console_tail = qemu_console_tail,
	.runtime_dir = qemu_runtime_dir,
	.accel_name = qemu_accel_name,
	.times = qemu_times,
	.pid = qemu_pid,
};
