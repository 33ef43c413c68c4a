/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM: anonymous host mappings placed at guest-physical addresses,
 * and the only sanctioned way from a guest address to a host pointer.
 */
#ifndef LG_VMM_MEMORY_H
#define LG_VMM_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#define VM_MEM_MAX_REGIONS 4u
/* Upper bound on one region, and on the end of guest-physical space. */
#define VM_MEM_MAX_SIZE (1ull << 40)
#define VM_MEM_PAGE_SIZE 4096ull

struct vm_mem_region {
	uint64_t gpa;
	uint64_t size;
	void *hva;
};

struct vm_mem {
	struct vm_mem_region regions[VM_MEM_MAX_REGIONS];
	unsigned int nr_regions;
};

void vm_mem_init(struct vm_mem *mem);
/*
 * Adds a zeroed RAM region [gpa, gpa + size). Both page aligned, size
 * nonzero, end within VM_MEM_MAX_SIZE, no overlap with another region.
 */
int vm_mem_add(struct vm_mem *mem, uint64_t gpa, uint64_t size);
void vm_mem_free(struct vm_mem *mem);

/*
 * The host address of guest range [gpa, gpa + len), or NULL unless the
 * whole range (len >= 1) lies in one RAM region.
 */
void *vm_mem_ptr(const struct vm_mem *mem, uint64_t gpa, uint64_t len);

/* Copies into guest RAM; -EFAULT if the range is not all RAM. */
int vm_mem_write(const struct vm_mem *mem, uint64_t gpa, const void *src,
		 uint64_t len);

/* Total RAM in bytes. */
uint64_t vm_mem_size(const struct vm_mem *mem);

#endif
