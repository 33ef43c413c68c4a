/* SPDX-License-Identifier: Apache-2.0 */
/* One virtual machine: accelerator, guest RAM and the two buses. */
#ifndef LG_VMM_VM_H
#define LG_VMM_VM_H

#include "vmm/accel/accel.h"
#include "vmm/bus.h"
#include "vmm/memory.h"

#include <stdint.h>

struct vm {
	struct accel *acc;
	struct vm_mem mem;
	struct bus pio;
	struct bus mmio;
};

/*
 * Creates a VM with ram_size bytes of RAM at guest-physical 0.
 * -ENODEV/-EACCES/...: the accelerator is unavailable (see accel_create).
 */
int vm_create(uint64_t ram_size, struct vm **out);

/*
 * Creates a VM whose RAM is the given regions (page aligned, not
 * overlapping; at most VM_MEM_MAX_REGIONS), e.g. below and above the
 * 32-bit MMIO hole.
 */
int vm_create_regions(const uint64_t *gpa, const uint64_t *size,
		      unsigned int nr, struct vm **out);
void vm_destroy(struct vm *vm);

#endif
