/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Noticing that the VMM is gone and saying why: stopped on request,
 * killed by a signal, the guest kernel panicked (panic=1 reboot=k turn a
 * panic into a reset, which ends a Firecracker-API VMM), the guest reset
 * or powered off (exit status 0 after InstanceStart), or the VMM failed.
 */
#include "hv/fc-vm.h"
#include "hv/proc.h"
#include "hv/tail.h"
#include "hv/vmm-proc.h"

#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define SET_REASON(vm, ...)                                                    \
	snprintf((vm)->final_reason, sizeof((vm)->final_reason), __VA_ARGS__)

static void classify_exit(struct fc_vm *vm)
{
	char how[160], line[300], path[PATH_MAX];
	int st = vm->wstatus;

	lg_proc_describe(st, how, sizeof(how));
	lg_fc_vm_path(vm, LG_FC_CONSOLE_LOG, path, sizeof(path));
	vm->final_state = LG_VM_FAILED;
	if (vm->stop_requested) {
		vm->final_state = LG_VM_STOPPED;
		SET_REASON(vm, "stopped on request (%s %s)", vm->name, how);
	} else if (WIFSIGNALED(st)) {
		SET_REASON(vm, "%s %s", vm->name, how);
	} else if (lg_tail_find(path, "Kernel panic", line, sizeof(line))) {
		SET_REASON(vm, "guest kernel panic: %s (%s %s)", line, vm->name,
			   how);
	} else if (vm->started && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		vm->final_state = LG_VM_STOPPED;
		SET_REASON(vm, "guest reset or powered off (%s %s)", vm->name,
			   how);
	} else {
		if (!lg_tail_lines(path, line, sizeof(line), 1))
			snprintf(line, sizeof(line), "nothing in %s",
				 LG_FC_CONSOLE_LOG);
		SET_REASON(vm, "%s %s (%s)", vm->name, how, line);
	}
	lg_debug("%s: %s: %s", vm->name, lg_vm_state_name(vm->final_state),
		 vm->final_reason);
}

void lg_fc_vm_exited(struct fc_vm *vm, int wstatus)
{
	lg_proc_release(&vm->proc);
	vm->wstatus = wstatus;
	classify_exit(vm);
}

bool lg_fc_vm_gone(struct fc_vm *vm, unsigned wait_ms)
{
	int st;

	if (vm->proc.pid < 0)
		return true;
	if (!lg_vmm_reaped(&vm->proc, vm->name, wait_ms, &st))
		return false;
	lg_fc_vm_exited(vm, st);
	return true;
}
