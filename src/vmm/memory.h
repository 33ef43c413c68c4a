/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Guest RAM: anonymous host mappings placed at guest-physical addresses,
 * and the only sanctioned way from a guest address to a host pointer.
 */
#ifndef LG_VMM_MEMORY_H
#define LG_VMM_MEMORY_H

#include <stdbool.h>
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
	bool anonymous; /* untouched pages are zero (not a file's) */
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

/*
 * Memory files (snapshots): all RAM, region after region in the order
 * they were added, as one flat file of vm_mem_size() bytes.
 *
 * vm_mem_save() writes that file to fd (a regular file, truncated
 * first); all-zero pages are left as holes. It does not sync.
 */
int vm_mem_save(const struct vm_mem *mem, int fd);

/*
 * Replaces the contents of every region by a private, copy-on-write
 * mapping of fd laid out as vm_mem_save() writes it: pages load from the
 * file when first touched, guest writes never reach the file. The host
 * addresses stay the same, so mappings the accelerator holds stay valid.
 * fd must be at least vm_mem_size() bytes (-EINVAL otherwise) and must
 * not shrink while the VM lives; it may be closed afterwards.
 */
int vm_mem_map_file(struct vm_mem *mem, int fd);

/*
 * Like vm_mem_add(), with the region a private copy-on-write mapping of
 * [offset, offset + size) of fd (offset page aligned, within the file).
 */
int vm_mem_add_file(struct vm_mem *mem, uint64_t gpa, uint64_t size, int fd,
		    uint64_t offset);

#endif
