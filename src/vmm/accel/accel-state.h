/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Complete accelerator state of a vCPU and of a VM, as opaque byte blobs
 * for snapshots. The blob layout belongs to the accelerator backend and
 * carries its own magic and version; the rest of the VMM stores and hands
 * back the bytes without looking inside.
 *
 * vCPU state: its CPUID, general and system registers, FPU/SSE/AVX (xsave),
 * XCRs, debug registers, the local APIC (with an in-kernel irqchip), pending
 * events, the multiprocessing state, the TSC frequency and the MSRs a
 * Linux guest relies on (TSC, SYSENTER/SYSCALL, KERNEL_GS_BASE, PAT,
 * MISC_ENABLE, MTRRs, TSC deadline, paravirtual clock ...).
 *
 * VM state: the in-kernel PICs and IOAPIC, the PIT, and the VM clock
 * (kvm-clock), each only where the VM has it.
 *
 * Order on load, in a VM whose RAM is already in place and which has the
 * same in-kernel devices (accel_create_irqchip() before the vCPUs) as
 * the one saved: accel_vm_restore(), then accel_vcpu_restore() for each
 * vCPU, then the devices.
 *
 * All functions return 0 or a negative errno and log why.
 */
#ifndef LG_VMM_ACCEL_ACCEL_STATE_H
#define LG_VMM_ACCEL_ACCEL_STATE_H

#include "vmm/accel/accel.h"

#include <stddef.h>
#include <stdint.h>

/* No blob is larger. */
#define ACCEL_STATE_MAX_SIZE (1u << 20)

/*
 * Saves the state of a stopped vCPU (no thread in accel_vcpu_run()) into
 * a new buffer *blob (free() it) of *len bytes. An I/O or MMIO exit the
 * VMM has handled is completed first, as the next run would, so that the
 * saved state is the one after the instruction. -EBUSY: the vCPU is in
 * the middle of a string I/O instruction that needs more device work; run
 * it on and stop it again.
 */
int accel_vcpu_save(struct accel_vcpu *vcpu, uint8_t **blob, size_t *len);

/*
 * Loads a blob from accel_vcpu_save() into a vCPU that has not run.
 * -EINVAL: malformed blob or state the hypervisor refused;
 * -EPROTONOSUPPORT: another backend or blob version; -ENXIO: the blob has
 * a local APIC but the VM has no in-kernel irqchip.
 */
int accel_vcpu_restore(struct accel_vcpu *vcpu, const uint8_t *blob,
		       size_t len);

/* VM-wide state: same conventions, with every vCPU stopped. */
int accel_vm_save(struct accel *acc, uint8_t **blob, size_t *len);
/* -ENXIO: the blob and the VM differ in their in-kernel devices. */
int accel_vm_restore(struct accel *acc, const uint8_t *blob, size_t len);

#endif
