/* SPDX-License-Identifier: Apache-2.0 */
/* Guest RAM regions and bounds-checked guest-physical translation. */
#include "vmm/memory.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

/*
 * Maps size bytes of fd from offset (fd -1: anonymous memory) as the next
 * region, at gpa; what names the memory in the error message.
 */
static int region_map(struct vm_mem *mem, uint64_t gpa, uint64_t size, int fd,
		      uint64_t offset, const char *what)
{
	struct vm_mem_region *r;
	void *hva;
	int err;

	hva = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0),
		   fd, (off_t)offset);
	if (hva == MAP_FAILED) {
		err = -errno;
		lg_err("vmm: mmap %llu bytes of %s: %s",
		       (unsigned long long)size, what, strerror(-err));
		return err;
	}
	r = &mem->regions[mem->nr_regions++];
	r->gpa = gpa;
	r->size = size;
	r->hva = hva;
	r->anonymous = fd < 0;
	return 0;
}

int vm_mem_add(struct vm_mem *mem, uint64_t gpa, uint64_t size)
{
	int err;

	err = vm_mem_check_new(mem, gpa, size);
	if (err < 0) {
		lg_err("vmm: bad RAM region %#llx+%#llx: %s",
		       (unsigned long long)gpa, (unsigned long long)size,
		       strerror(-err));
		return err;
	}
	return region_map(mem, gpa, size, -1, 0, "guest RAM");
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

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	uint64_t acc = 0;
	size_t i;

	for (i = 0; i < VM_MEM_PAGE_SIZE / sizeof(*w); i++)
		acc |= w[i];
	return acc == 0;
}

/* Largest single write: bounded so one huge run does not stall. */
#define VM_MEM_SAVE_CHUNK (8ull << 20)
/* /proc/self/pagemap entries read at once, and their flags. */
#define PAGEMAP_BATCH 512u
#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_SWAPPED (1ull << 62)

/*
 * Which pages of a region may hold data. An anonymous page the guest
 * never touched is neither present nor swapped and reads as zero, so it
 * is skipped without faulting it in (reading it would cost a fault per
 * page: most of a large, mostly idle guest). File-backed pages (a
 * restored VM) and anything pagemap cannot tell are always looked at.
 */
struct page_scan {
	const struct vm_mem_region *r;
	int pagemap_fd; /* -1: look at every page */
	uint64_t first; /* page index of entries[0] within the region */
	unsigned int nr;
	uint64_t entries[PAGEMAP_BATCH];
};

static bool page_touched(struct page_scan *ps, uint64_t page)
{
	uint64_t vpn, pages = ps->r->size / VM_MEM_PAGE_SIZE;
	ssize_t n;

	if (ps->pagemap_fd < 0)
		return true;
	if (page < ps->first || page >= ps->first + ps->nr) {
		vpn = (uint64_t)(uintptr_t)ps->r->hva / VM_MEM_PAGE_SIZE + page;
		ps->first = page;
		ps->nr = pages - page < PAGEMAP_BATCH
				 ? (unsigned int)(pages - page)
				 : PAGEMAP_BATCH;
		n = pread(ps->pagemap_fd, ps->entries,
			  ps->nr * sizeof(ps->entries[0]),
			  (off_t)(vpn * sizeof(ps->entries[0])));
		if (n != (ssize_t)(ps->nr * sizeof(ps->entries[0]))) {
			close(ps->pagemap_fd);
			ps->pagemap_fd = -1;
			return true;
		}
	}
	return ps->entries[page - ps->first] &
	       (PAGEMAP_PRESENT | PAGEMAP_SWAPPED);
}

static bool page_has_data(struct page_scan *ps, uint64_t off)
{
	return page_touched(ps, off / VM_MEM_PAGE_SIZE) &&
	       !page_is_zero((const uint8_t *)ps->r->hva + off);
}

static int vm_mem_save_region(const struct vm_mem_region *r, int fd,
			      uint64_t file_off)
{
	struct page_scan ps = {.r = r, .pagemap_fd = -1};
	const uint8_t *base = r->hva;
	uint64_t off = 0;
	int err = 0;

	if (r->anonymous)
		ps.pagemap_fd =
			open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	while (off < r->size && err == 0) {
		uint64_t run = 0;

		if (!page_has_data(&ps, off)) {
			off += VM_MEM_PAGE_SIZE;
			continue;
		}
		while (off + run < r->size && run < VM_MEM_SAVE_CHUNK &&
		       (run == 0 || page_has_data(&ps, off + run)))
			run += VM_MEM_PAGE_SIZE;
		while (run) {
			ssize_t n = pwrite(fd, base + off, (size_t)run,
					   (off_t)(file_off + off));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				err = n < 0 ? -errno : -EIO;
				lg_err("vmm: writing the memory file: %s",
				       strerror(-err));
				break;
			}
			off += (uint64_t)n;
			run -= (uint64_t)n;
		}
	}
	if (ps.pagemap_fd >= 0)
		close(ps.pagemap_fd);
	return err;
}

int vm_mem_save(const struct vm_mem *mem, int fd)
{
	uint64_t file_off = 0;
	unsigned int i;
	int err;

	if (ftruncate(fd, 0) < 0 ||
	    ftruncate(fd, (off_t)vm_mem_size(mem)) < 0) {
		err = -errno;
		lg_err("vmm: sizing the memory file: %s", strerror(-err));
		return err;
	}
	for (i = 0; i < mem->nr_regions; i++) {
		err = vm_mem_save_region(&mem->regions[i], fd, file_off);
		if (err < 0)
			return err;
		file_off += mem->regions[i].size;
	}
	return 0;
}

static int vm_mem_check_file(int fd, uint64_t offset, uint64_t size)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || offset % VM_MEM_PAGE_SIZE ||
	    (uint64_t)st.st_size < offset ||
	    (uint64_t)st.st_size - offset < size) {
		lg_err("vmm: memory file of %llu bytes does not hold %llu "
		       "bytes at %llu",
		       (unsigned long long)st.st_size, (unsigned long long)size,
		       (unsigned long long)offset);
		return -EINVAL;
	}
	return 0;
}

int vm_mem_map_file(struct vm_mem *mem, int fd)
{
	uint64_t off = 0;
	unsigned int i;
	int err;

	err = vm_mem_check_file(fd, 0, vm_mem_size(mem));
	if (err < 0)
		return err;
	for (i = 0; i < mem->nr_regions; i++) {
		struct vm_mem_region *r = &mem->regions[i];
		void *p;

		p = mmap(r->hva, (size_t)r->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd,
			 (off_t)off);
		if (p == MAP_FAILED) {
			err = -errno;
			lg_err("vmm: mapping the memory file: %s",
			       strerror(-err));
			return err;
		}
		r->anonymous = false;
		off += r->size;
	}
	return 0;
}

int vm_mem_add_file(struct vm_mem *mem, uint64_t gpa, uint64_t size, int fd,
		    uint64_t offset)
{
	int err;

	err = vm_mem_check_new(mem, gpa, size);
	if (!err)
		err = vm_mem_check_file(fd, offset, size);
	if (err < 0) {
		lg_err("vmm: bad file RAM region %#llx+%#llx: %s",
		       (unsigned long long)gpa, (unsigned long long)size,
		       strerror(-err));
		return err;
	}
	return region_map(mem, gpa, size, fd, offset, "the memory file");
}
