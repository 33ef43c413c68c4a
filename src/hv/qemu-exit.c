/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Noticing that QEMU is gone and saying why: stopped on request, killed
 * by a signal, the guest kernel panicked (panic=-1 reboot=t -no-reboot
 * turn a panic into a QEMU exit), the guest powered off, or QEMU failed.
 */
#include "hv/proc.h"
#include "hv/qemu.h"
#include "hv/qmp.h"
#include "hv/tail.h"
#include "hv/vmm-proc.h"

#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* The reason field of the last SHUTDOWN event QEMU sent, or NULL. */
static char *shutdown_reason(struct qemu_vm *vm)
{
	json_t *ev = NULL, *next;
	char *reason = NULL, err[128];
	const char *r;

	if (!vm->qmp)
		return NULL;
	lg_qmp_drain(vm->qmp, err, sizeof(err)); /* ends at EOF, expected */
	while ((next = lg_qmp_take_event(vm->qmp, "SHUTDOWN"))) {
		json_decref(ev);
		ev = next;
	}
	r = json_string_value(
		json_object_get(json_object_get(ev, "data"), "reason"));
	if (r)
		reason = strdup(r);
	json_decref(ev);
	return reason;
}

#define SET_REASON(vm, ...)                                                    \
	snprintf((vm)->final_reason, sizeof((vm)->final_reason), __VA_ARGS__)

/* QEMU failed on its own: its exit status, shutdown reason, last words. */
static void qemu_failed(struct qemu_vm *vm, const char *how, const char *shut)
{
	char path[PATH_MAX], last[256];

	lg_qemu_path(vm, LG_QEMU_LOG, path, sizeof(path));
	if (!lg_tail_lines(path, last, sizeof(last), 1))
		snprintf(last, sizeof(last), "nothing in qemu.log");
	SET_REASON(vm, "qemu %s (shutdown reason: %s; %s)", how,
		   shut ? shut : "none reported", last);
}

static void classify_exit(struct qemu_vm *vm)
{
	char how[160], panic[300], path[PATH_MAX];
	char *shut = shutdown_reason(vm);
	int st = vm->wstatus;

	lg_proc_describe(st, how, sizeof(how));
	lg_qemu_path(vm, LG_QEMU_CONSOLE_LOG, path, sizeof(path));
	vm->final_state = LG_VM_FAILED;
	if (vm->stop_requested) {
		vm->final_state = LG_VM_STOPPED;
		SET_REASON(vm, "stopped on request (qemu %s)", how);
	} else if (WIFSIGNALED(st)) {
		SET_REASON(vm, "qemu %s", how);
	} else if (lg_tail_find(path, "Kernel panic", panic, sizeof(panic))) {
		SET_REASON(vm, "guest kernel panic: %s (qemu %s)", panic, how);
	} else if (shut && !strcmp(shut, "guest-shutdown") && WIFEXITED(st) &&
		   WEXITSTATUS(st) == 0) {
		vm->final_state = LG_VM_STOPPED;
		SET_REASON(vm, "guest powered off");
	} else {
		qemu_failed(vm, how, shut);
	}
	free(shut);
	lg_debug("qemu: %s: %s", lg_vm_state_name(vm->final_state),
		 vm->final_reason);
}

void lg_qemu_exited(struct qemu_vm *vm, int wstatus)
{
	lg_proc_release(&vm->proc);
	vm->wstatus = wstatus;
	classify_exit(vm);
}

bool lg_qemu_gone(struct qemu_vm *vm, unsigned wait_ms)
{
	int st;

	if (vm->proc.pid < 0)
		return true;
	if (!lg_vmm_reaped(&vm->proc, "qemu", wait_ms, &st))
		return false;
	lg_qemu_exited(vm, st);
	return true;
}
