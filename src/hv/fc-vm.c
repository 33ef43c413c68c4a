/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A running Firecracker-API VM: the guest agent's vsock channel, state
 * from GET /, pause and resume with PATCH /vm, stop with SendCtrlAltDel
 * and then SIGKILL, and teardown. One struct lg_vm is used by one thread
 * at a time; the VMM gets PR_SET_PDEATHSIG SIGKILL from the spawning
 * thread, which must live as long as the VM.
 */
#include "hv/fc-vm.h"
#include "hv/fc-client.h"
#include "hv/fc-vsock.h"
#include "hv/rundir.h"
#include "hv/tail.h"

#include "agent/proto.h"
#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAIL_LINES 12u
/*
 * After SendCtrlAltDel: the guest kernel reboots (reboot=k) and the VMM
 * exits, if the kernel has an i8042 keyboard driver. The project's
 * minimal kernel has none (no CONFIG_SERIO), and lg-agent powers off on
 * its own at the end of a task, so this is short.
 */
#define STOP_GRACE_MS 500u
#define STOP_CALL_MS 500u

void lg_fc_vm_path(const struct fc_vm *vm, const char *file, char *buf,
		   size_t len)
{
	int n = snprintf(buf, len, "%s/%s", vm->rundir, file);

	if (n < 0 || (size_t)n >= len)
		buf[0] = '\0';
}

void lg_fc_vm_append_tail(const struct fc_vm *vm, char *err, size_t errlen)
{
	char path[PATH_MAX], tail[2048];
	size_t used = strlen(err);

	lg_fc_vm_path(vm, LG_FC_CONSOLE_LOG, path, sizeof(path));
	if (!lg_tail_lines(path, tail, sizeof(tail), TAIL_LINES))
		snprintf(tail, sizeof(tail), "(empty)");
	if (used < errlen)
		snprintf(err + used, errlen - used, "\nconsole tail:\n%s",
			 tail);
}

/* --- agent channel ------------------------------------------------- */

static int boot_failed(struct fc_vm *vm, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "VM stopped before the guest agent opened its channel: %s",
		 vm->final_reason);
	lg_fc_vm_append_tail(vm, err, errlen);
	return -ECHILD;
}

int lg_fc_vm_agent_channel(void *impl, int *fd, char *err, size_t errlen)
{
	struct fc_vm *vm = impl;
	struct lg_fc_vsock_wait w = {
		.deadline_ns = lg_now_ns() +
			       (uint64_t)vm->boot_timeout_ms * 1000000ull,
		.cancel_fd = vm->cancel_fd,
		.proc = &vm->proc,
	};
	char path[PATH_MAX];
	int ret;

	if (vm->agent_open) {
		*fd = vm->agent_fd;
		return 0;
	}
	if (lg_fc_vm_gone(vm, 0))
		return boot_failed(vm, err, errlen);
	lg_fc_vm_path(vm, LG_FC_VSOCK_SOCK, path, sizeof(path));
	ret = lg_fc_vsock_connect(path, LG_AGENT_VSOCK_PORT, &w, &vm->agent_fd,
				  err, errlen);
	if (ret == 0) {
		vm->agent_open = true;
		vm->times.agent_open = lg_now_ns();
		*fd = vm->agent_fd;
		return 0;
	}
	if (ret == -ECANCELED) {
		snprintf(err, errlen,
			 "interrupted while the guest was booting");
		return ret;
	}
	/* Connecting fails as the VMM goes: its exit says more. */
	if (lg_fc_vm_gone(vm, ret == -ECHILD ? LG_FC_EXIT_SETTLE_MS : 0))
		return boot_failed(vm, err, errlen);
	if (ret == -ETIMEDOUT) {
		snprintf(err, errlen,
			 "guest agent did not answer on vsock port %u within "
			 "%u s",
			 LG_AGENT_VSOCK_PORT,
			 (vm->boot_timeout_ms + 999) / 1000);
		lg_fc_vm_append_tail(vm, err, errlen);
	}
	return ret;
}

/* --- status, pause, resume ----------------------------------------- */

static enum lg_vm_state state_from_api(const char *s)
{
	if (!strcmp(s, "Running"))
		return LG_VM_RUNNING;
	if (!strcmp(s, "Paused"))
		return LG_VM_PAUSED;
	if (!strcmp(s, "Not started"))
		return LG_VM_STARTING;
	return LG_VM_FAILED;
}

/* GET / (InstanceInfo); -errno (reason filled in) when that fails. */
static int query_state(struct fc_vm *vm, struct lg_vm_status *st)
{
	char *body = NULL;
	const char *s;
	json_t *j;
	long status;
	int ret;

	ret = lg_fc_client_get(vm->api, "/", &status, &body, st->reason,
			       sizeof(st->reason));
	if (ret < 0) {
		free(body);
		return ret;
	}
	j = json_loads(body, 0, NULL);
	free(body);
	s = json_string_value(json_object_get(j, "state"));
	st->state = state_from_api(s ? s : "");
	if (st->state == LG_VM_FAILED)
		snprintf(st->reason, sizeof(st->reason),
			 "%s reports state \"%.64s\"", vm->name,
			 s ? s : "(none)");
	json_decref(j);
	return 0;
}

int lg_fc_vm_status(void *impl, struct lg_vm_status *st)
{
	struct fc_vm *vm = impl;
	int ret;

	st->reason[0] = '\0';
	if (!lg_fc_vm_gone(vm, 0)) {
		ret = query_state(vm, st);
		if (ret == 0)
			return 0;
		/* The API fails as the VMM exits: then report the exit. */
		if (!lg_fc_vm_gone(vm, LG_FC_EXIT_SETTLE_MS)) {
			st->state = LG_VM_FAILED;
			return ret;
		}
	}
	st->state = vm->final_state;
	snprintf(st->reason, sizeof(st->reason), "%s", vm->final_reason);
	return 0;
}

static int set_vm_state(struct fc_vm *vm, const char *state)
{
	char body[64], err[512];
	long status;
	int ret;

	if (lg_fc_vm_gone(vm, 0))
		return -ESRCH;
	snprintf(body, sizeof(body), "{\"state\":\"%s\"}", state);
	ret = lg_fc_client_patch(vm->api, "/vm", body, &status, NULL, err,
				 sizeof(err));
	if (ret < 0)
		lg_err("%s", err);
	return ret;
}

int lg_fc_vm_pause(void *impl)
{
	struct fc_vm *vm = impl;
	int ret = set_vm_state(vm, "Paused");

	if (ret == 0)
		vm->paused = true;
	return ret;
}

int lg_fc_vm_resume(void *impl)
{
	struct fc_vm *vm = impl;
	int ret = set_vm_state(vm, "Resumed");

	if (ret == 0)
		vm->paused = false;
	return ret;
}

/* --- stop and teardown --------------------------------------------- */

/* SendCtrlAltDel, then STOP_GRACE_MS for the exit. True once gone. */
static bool stop_gracefully(struct fc_vm *vm)
{
	char err[512];
	long status;
	int ret;

	/* Before InstanceStart, or paused, no guest would see the keys. */
	if (!vm->started || vm->paused || !vm->api)
		return false;
	lg_fc_client_set_timeout(vm->api, STOP_CALL_MS);
	ret = lg_fc_client_put(vm->api, "/actions",
			       "{\"action_type\":\"SendCtrlAltDel\"}", &status,
			       NULL, err, sizeof(err));
	if (ret < 0) {
		lg_debug("%s", err);
		return lg_fc_vm_gone(vm, 0);
	}
	if (lg_fc_vm_gone(vm, STOP_GRACE_MS))
		return true;
	lg_debug("%s %ld did not exit within %u ms of SendCtrlAltDel: "
		 "killing it",
		 vm->name, (long)vm->proc.pid, STOP_GRACE_MS);
	return false;
}

static void kill_vmm(struct fc_vm *vm)
{
	int st = 0, ret;

	ret = lg_proc_kill(&vm->proc, &st);
	if (ret < 0) {
		lg_err("killing %s %ld: %s", vm->name, (long)vm->proc.pid,
		       strerror(-ret));
		st = 0xff00;
	}
	lg_fc_vm_exited(vm, st);
}

int lg_fc_vm_stop(void *impl)
{
	struct fc_vm *vm = impl;

	if (!lg_fc_vm_gone(vm, 0)) {
		vm->stop_requested = true;
		if (!stop_gracefully(vm))
			kill_vmm(vm);
	}
	if (!vm->times.stop_done)
		vm->times.stop_done = lg_now_ns();
	return 0;
}

void lg_fc_vm_destroy(void *impl)
{
	struct fc_vm *vm = impl;
	int ret;

	if (vm->proc.pid > 0)
		lg_fc_vm_stop(vm);
	if (vm->agent_fd >= 0)
		close(vm->agent_fd);
	lg_fc_client_close(vm->api);
	if (vm->rundir[0]) {
		ret = lg_rundir_remove(vm->rundir);
		if (ret < 0)
			lg_warn("removing %s: %s", vm->rundir, strerror(-ret));
	}
	free(vm);
}

/* --- accessors ----------------------------------------------------- */

size_t lg_fc_vm_console_tail(void *impl, char *buf, size_t len, unsigned lines)
{
	struct fc_vm *vm = impl;
	char path[PATH_MAX];

	lg_fc_vm_path(vm, LG_FC_CONSOLE_LOG, path, sizeof(path));
	return lg_tail_lines(path, buf, len, lines);
}

const char *lg_fc_vm_runtime_dir(const void *impl)
{
	return ((const struct fc_vm *)impl)->rundir;
}

const char *lg_fc_vm_accel_name(const void *impl)
{
	(void)impl;
	return "kvm";
}

const struct lg_vm_times *lg_fc_vm_times(const void *impl)
{
	return &((const struct fc_vm *)impl)->times;
}

pid_t lg_fc_vm_pid(const void *impl)
{
	return ((const struct fc_vm *)impl)->proc.pid;
}
