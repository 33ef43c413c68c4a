/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the ring-0 boot test guests (pvh-guest.S, bz-guest.S) run on: a VM
 * whose port 0x500 block records what the guest reports (dwords on
 * 0x503, command-line bytes on 0x504, its exit code on 0x501), one vCPU,
 * and a run bounded by an alarm.
 */
#ifndef LG_TESTS_VMM_BOOT_RIG_H
#define LG_TESTS_VMM_BOOT_RIG_H

#include "vmm/vcpu.h"
#include "vmm/vm.h"

#include <stdbool.h>
#include <stdint.h>

#define RIG_MAX_REPORTS 96u
#define RIG_CMDLINE_MAX 4096u

struct rig_recorder {
	uint32_t reports[RIG_MAX_REPORTS];
	unsigned int nr_reports;
	char cmdline[RIG_CMDLINE_MAX];
	unsigned int cmdlen;
	bool exited;
	uint32_t exit_code;
	unsigned int overflow;
	unsigned int missing; /* rig_next() past the last report */
};

/*
 * A VM with ram_size bytes, the recorder on its ports and vCPU 0, and a
 * 20 s alarm. 0; 77 (printed SKIP with the reason) without KVM; 1 on a
 * setup failure (printed).
 */
int rig_create(uint64_t ram_size, struct rig_recorder *rec, struct vm **vm,
	       struct vcpu **vcpu);

/* Runs the vCPU to its stop: false (printed) unless it halted cleanly. */
bool rig_run(struct vcpu *vcpu);

/* The next report, or 0xdeadbeef (counted in missing) past the end. */
uint32_t rig_next(struct rig_recorder *rec, unsigned int *i);

#endif
