/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM VM state for snapshots: the kvm-clock and, where the VM has them,
 * the in-kernel PICs, IOAPIC and PIT, in a blob (kvm-state-blob.h).
 */
#include "vmm/accel/accel-state.h"
#include "vmm/accel/kvm-priv.h"
#include "vmm/accel/kvm-state-blob.h"

#include "common/log.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

enum vm_tag {
	T_CLOCK = 1,
	T_PIC_MASTER,
	T_PIC_SLAVE,
	T_IOAPIC,
	T_PIT2,
	T_VM_LAST = T_PIT2,
};

static const uint32_t vm_sizes[KVM_BLOB_MAX_TAGS] = {
	[T_CLOCK] = sizeof(struct kvm_clock_data),
	[T_PIC_MASTER] = sizeof(struct kvm_irqchip),
	[T_PIC_SLAVE] = sizeof(struct kvm_irqchip),
	[T_IOAPIC] = sizeof(struct kvm_irqchip),
	[T_PIT2] = sizeof(struct kvm_pit_state2),
};

/* 1: saved; 0: the VM has no such device (ENXIO); < 0: error. */
static int vm_get_chip(struct accel *acc, uint32_t chip, struct kvm_blob *b,
		       unsigned int tag)
{
	struct kvm_irqchip c;

	memset(&c, 0, sizeof(c));
	c.chip_id = chip;
	if (ioctl(acc->vm_fd, KVM_GET_IRQCHIP, &c) < 0)
		return errno == ENXIO ? 0 : kvm_ioctl_err("KVM_GET_IRQCHIP");
	kvm_blob_add(b, tag, &c, sizeof(c));
	return 1;
}

int accel_vm_save(struct accel *acc, uint8_t **blob, size_t *len)
{
	struct kvm_clock_data clock;
	struct kvm_pit_state2 pit;
	struct kvm_blob b;
	int r;

	*blob = NULL;
	*len = 0;
	kvm_blob_init(&b, KVM_BLOB_MAGIC_VM);
	memset(&clock, 0, sizeof(clock));
	if (ioctl(acc->vm_fd, KVM_GET_CLOCK, &clock) < 0) {
		r = kvm_ioctl_err("KVM_GET_CLOCK");
		goto fail;
	}
	kvm_blob_add(&b, T_CLOCK, &clock, sizeof(clock));
	r = vm_get_chip(acc, KVM_IRQCHIP_PIC_MASTER, &b, T_PIC_MASTER);
	if (r > 0)
		r = vm_get_chip(acc, KVM_IRQCHIP_PIC_SLAVE, &b, T_PIC_SLAVE);
	if (r > 0)
		r = vm_get_chip(acc, KVM_IRQCHIP_IOAPIC, &b, T_IOAPIC);
	if (r < 0)
		goto fail;
	memset(&pit, 0, sizeof(pit));
	if (ioctl(acc->vm_fd, KVM_GET_PIT2, &pit) == 0) {
		kvm_blob_add(&b, T_PIT2, &pit, sizeof(pit));
	} else if (errno != ENXIO) {
		r = kvm_ioctl_err("KVM_GET_PIT2");
		goto fail;
	}
	return kvm_blob_finish(&b, blob, len);
fail:
	free(b.buf);
	return r;
}

static int vm_set_chip(struct accel *acc, const struct kvm_record *r,
		       uint32_t chip)
{
	struct kvm_irqchip c;

	memcpy(&c, r->p, sizeof(c));
	if (c.chip_id != chip) {
		lg_err("kvm: irqchip record for chip %u holds chip %u", chip,
		       c.chip_id);
		return -EINVAL;
	}
	if (ioctl(acc->vm_fd, KVM_SET_IRQCHIP, &c) < 0)
		return kvm_ioctl_err("KVM_SET_IRQCHIP");
	return 0;
}

/* Whether the VM has the device behind a GET ioctl: 1, 0 or < 0. */
static int vm_probe(struct accel *acc, unsigned long nr, void *obj,
		    const char *what)
{
	if (ioctl(acc->vm_fd, nr, obj) == 0)
		return 1;
	return errno == ENXIO ? 0 : kvm_ioctl_err(what);
}

static int vm_check_records(struct accel *acc,
			    const struct kvm_record recs[KVM_BLOB_MAX_TAGS])
{
	struct kvm_irqchip c = {.chip_id = KVM_IRQCHIP_PIC_MASTER};
	struct kvm_pit_state2 pit;
	bool chips = recs[T_PIC_MASTER].present;
	int has_chip, has_pit;

	if (!recs[T_CLOCK].present || recs[T_PIC_SLAVE].present != chips ||
	    recs[T_IOAPIC].present != chips) {
		lg_err("kvm: VM state lacks required records");
		return -EINVAL;
	}
	has_chip = vm_probe(acc, KVM_GET_IRQCHIP, &c, "KVM_GET_IRQCHIP");
	if (has_chip < 0)
		return has_chip;
	has_pit = vm_probe(acc, KVM_GET_PIT2, &pit, "KVM_GET_PIT2");
	if (has_pit < 0)
		return has_pit;
	if ((bool)has_chip != chips || (bool)has_pit != recs[T_PIT2].present) {
		lg_err("kvm: snapshot VM had %s irqchip and %s PIT, this VM "
		       "has %s and %s",
		       chips ? "an in-kernel" : "no",
		       recs[T_PIT2].present ? "a" : "no",
		       has_chip ? "one" : "none", has_pit ? "one" : "none");
		return -ENXIO;
	}
	return 0;
}

int accel_vm_restore(struct accel *acc, const uint8_t *blob, size_t len)
{
	struct kvm_record recs[KVM_BLOB_MAX_TAGS];
	struct kvm_clock_data clock;
	int err;

	err = kvm_blob_parse(blob, len, KVM_BLOB_MAGIC_VM, vm_sizes, T_VM_LAST,
			     recs);
	if (err < 0)
		return err;
	err = vm_check_records(acc, recs);
	if (err < 0)
		return err;
	if (recs[T_PIT2].present) {
		struct kvm_pit_state2 pit;

		memcpy(&pit, recs[T_PIT2].p, sizeof(pit));
		if (ioctl(acc->vm_fd, KVM_SET_PIT2, &pit) < 0)
			return kvm_ioctl_err("KVM_SET_PIT2");
	}
	/* The guest's clock goes on from the snapshot; KVM computes the
	 * rest (the flags it reported are not settable). */
	memset(&clock, 0, sizeof(clock));
	memcpy(&clock.clock, recs[T_CLOCK].p, sizeof(clock.clock));
	if (ioctl(acc->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return kvm_ioctl_err("KVM_SET_CLOCK");
	if (recs[T_PIC_MASTER].present) {
		err = vm_set_chip(acc, &recs[T_PIC_MASTER],
				  KVM_IRQCHIP_PIC_MASTER);
		if (!err)
			err = vm_set_chip(acc, &recs[T_PIC_SLAVE],
					  KVM_IRQCHIP_PIC_SLAVE);
		if (!err)
			err = vm_set_chip(acc, &recs[T_IOAPIC],
					  KVM_IRQCHIP_IOAPIC);
	}
	return err;
}
