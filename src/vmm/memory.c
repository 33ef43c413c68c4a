/* SPDX-License-Identifier: Apache-2.0 */
/* Guest RAM regions and bounds-checked guest-physical translation. */
#include "vmm/memory.h"

#include "common/log.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

void vm_mem_init(struct vm_mem *mem)
{
	memset(mem, 0, sizeof(*mem));
}

static int vm_mem_check_new(const struct vm_mem *mem, uint64_t gpa,
			    uint64_t size)
{
	unsigned int i;

	if (size == 0 || gpa % VM_MEM_PAGE_SIZE || size % VM_MEM_PAGE_SIZE)
		return -EINVAL;
	/* gpa + size cannot wrap: both are below 2^40 once this passes. */
	if (size > VM_MEM_MAX_SIZE || gpa > VM_MEM_MAX_SIZE - size)
		return -ERANGE;
	if (size > SIZE_MAX)
		return -ENOMEM;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct vm_mem_region *r = &mem->regions[i];

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EEXIST;
	}
	if (mem->nr_regions == VM_MEM_MAX_REGIONS)
		return -ENOSPC;
	return 0;
}

int vm_mem_add(struct vm_mem *mem, uint64_t gpa, uint64_t size)
{
	struct vm_mem_region *r;
	void *hva;
	int err;

	err = vm_mem_check_new(mem, gpa, size);
	if (err < 0) {
		lg_err("vmm: bad RAM region %#llx+%#llx: %s",
		       (unsigned long long)gpa, (unsigned long long)size,
		       strerror(-err));
		return err;
	}
	hva = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (hva == MAP_FAILED) {
		err = -errno;
		lg_err("vmm: mmap %llu bytes of guest RAM: %s",
		       (unsigned long long)size, strerror(-err));
		return err;
	}
	r = &mem->regions[mem->nr_regions++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	return 0;
}

void vm_mem_free(struct vm_mem *mem)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++)
		munmap(mem->regions[i].hva, (size_t)mem->regions[i].size);
	vm_mem_init(mem);
}

void *vm_mem_ptr(const struct vm_mem *mem, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	if (len == 0)
		return NULL;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct vm_mem_region *r = &mem->regions[i];
		uint64_t off;

		if (gpa < r->gpa)
			continue;
		off = gpa - r->gpa;
		/* Written so that nothing can wrap. */
		if (off >= r->size || len > r->size - off)
			continue;
		return (uint8_t *)r->hva + off;
	}
	return NULL;
}

int vm_mem_write(const struct vm_mem *mem, uint64_t gpa, const void *src,
		 uint64_t len)
{
	void *dst = vm_mem_ptr(mem, gpa, len);

	if (!dst)
		return -EFAULT;
	memcpy(dst, src, (size_t)len);
	return 0;
}

uint64_t vm_mem_size(const struct vm_mem *mem)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++)
		total += mem->regions[i].size;
	return total;
}
