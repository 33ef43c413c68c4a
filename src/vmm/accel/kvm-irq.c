/* SPDX-License-Identifier: Apache-2.0 */
/* KVM in-kernel irqchip and PIT, and interrupt lines. */
#include "vmm/accel/accel-irq.h"
#include "vmm/accel/kvm-priv.h"

#include "common/log.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

/* Three pages for the TSS and one for the identity map (VMX real mode). */
#define KVM_TSS_ADDR 0xfffbd000ul
#define KVM_IDENTITY_MAP_ADDR 0xfffbc000ull
#define KVM_NR_GSI 24u

int accel_create_irqchip(struct accel *acc)
{
	uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};

	if (ioctl(acc->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0)
		return kvm_ioctl_err("KVM_SET_TSS_ADDR");
	if (ioctl(acc->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return kvm_ioctl_err("KVM_SET_IDENTITY_MAP_ADDR");
	if (ioctl(acc->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return kvm_ioctl_err("KVM_CREATE_IRQCHIP");
	if (ioctl(acc->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return kvm_ioctl_err("KVM_CREATE_PIT2");
	return 0;
}

int accel_irq_line(struct accel *acc, uint32_t gsi, bool level)
{
	struct kvm_irq_level irq = {.irq = gsi, .level = level};

	if (gsi >= KVM_NR_GSI)
		return -EINVAL;
	if (ioctl(acc->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return kvm_ioctl_err("KVM_IRQ_LINE");
	return 0;
}
