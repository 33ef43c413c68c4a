/* SPDX-License-Identifier: Apache-2.0 */
/* bzImage loading and the 64-bit boot protocol entry (see bzimage.h). */
#include "vmm/boot/bzimage.h"

#include "vmm/boot/e820.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static_assert(sizeof(struct bz_setup_header) == 0x26c - 0x1f1,
	      "setup_header ABI");
static_assert(offsetof(struct bz_boot_params, hdr) == 0x1f1, "hdr offset");
static_assert(offsetof(struct bz_boot_params, hdr.version) == 0x206,
	      "version offset");
static_assert(offsetof(struct bz_boot_params, hdr.cmd_line_ptr) == 0x228,
	      "cmd_line_ptr offset");
static_assert(offsetof(struct bz_boot_params, hdr.xloadflags) == 0x236,
	      "xloadflags offset");
static_assert(offsetof(struct bz_boot_params, hdr.init_size) == 0x260,
	      "init_size offset");
static_assert(offsetof(struct bz_boot_params, e820_entries) == 0x1e8,
	      "e820_entries offset");
static_assert(offsetof(struct bz_boot_params, e820_table) == 0x2d0,
	      "e820_table offset");
static_assert(sizeof(struct bz_e820_entry) == 20, "e820 entry ABI");
static_assert(sizeof(struct bz_boot_params) == 4096, "boot_params ABI");
static_assert(E820_MAX_ENTRIES <= BZ_MAX_E820, "e820 table size");
static_assert(BZ_CMDLINE_ADDR + BZ_CMDLINE_MAX <= E820_EBDA_START,
	      "command line runs into the EBDA");

#define HDR_START 0x1f1u
/* The header ends at 0x202 + the byte at 0x201 (the jump's offset). */
#define HDR_JUMP_END 0x202u
/* 2.12 fields reach handover_offset (0x264..0x268). */
#define HDR_MIN_END 0x268u
/* boot_params.edd_mbr_sig_buffer starts here: the header cannot pass. */
#define HDR_MAX_END 0x290u
#define SECTOR 512u
#define PAGE 4096ull
#define PAGE_2M (2ull << 20)
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull
/* initrd_addr_max when a (pre-2.03) kernel leaves it 0. */
#define INITRD_ADDR_MAX_DEFAULT 0x37ffffffull
#define NR_PD (BZ_MAP_SIZE >> 30)

static_assert(BZ_GDT_ADDR + 32 <= BZ_BOOT_PARAMS_ADDR, "GDT overlaps");
static_assert(BZ_BOOT_PARAMS_ADDR + 4096 + 0x800 <= BZ_STACK_TOP &&
		      BZ_STACK_TOP <= BZ_PML4_ADDR,
	      "boot_params, stack and page tables overlap");
static_assert(BZ_PD_ADDR + NR_PD * PAGE <= BZ_CMDLINE_ADDR,
	      "page tables overlap the command line");

static int fail(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

bool bzimage_detect(const void *buf, size_t len)
{
	const uint8_t *b = buf;

	return len >= HDR_JUMP_END + 4 && b[0x1fe] == 0x55 &&
	       b[0x1ff] == 0xaa && memcmp(b + 0x202, "HdrS", 4) == 0;
}

int bzimage_detect_file(const char *path)
{
	uint8_t buf[HDR_JUMP_END + 4];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	return bzimage_detect(buf, (size_t)n);
}

/* What the checks found, for the writing pass. */
struct bz_plan {
	struct bz_setup_header hdr;
	size_t hdr_end; /* image offset where the header ends */
	size_t setup_size;
	uint64_t kernel_size;
	uint64_t kernel_end;
	uint64_t initrd_addr;
	size_t cmdlen;
	struct e820_entry e820[E820_MAX_ENTRIES];
	unsigned int nr_e820;
};

static int check_header(const uint8_t *b, size_t len, struct bz_plan *p,
			const char **why)
{
	const struct bz_setup_header *h = &p->hdr;
	unsigned int sects;

	if (len < HDR_MIN_END)
		return fail(why, "image too short for a setup header",
			    -ENOEXEC);
	/* Copy the largest header we know; the image holds HDR_MIN_END. */
	memset(&p->hdr, 0, sizeof(p->hdr));
	memcpy(&p->hdr, b + HDR_START,
	       len < 0x26c ? HDR_MIN_END - HDR_START : sizeof(p->hdr));
	if (h->boot_flag != BZ_BOOT_FLAG)
		return fail(why, "no boot flag 0xaa55: not a bzImage",
			    -ENOEXEC);
	if (h->header != BZ_HDRS_MAGIC)
		return fail(why, "no \"HdrS\" magic: not a bzImage", -ENOEXEC);
	if (h->version < BZ_MIN_VERSION)
		return fail(why,
			    "boot protocol older than 2.12: no 64-bit entry",
			    -ENOEXEC);
	if (!(h->xloadflags & BZ_XLF_KERNEL_64))
		return fail(why, "kernel has no 64-bit entry (XLF_KERNEL_64)",
			    -ENOEXEC);
	if (!(h->loadflags & BZ_LOADED_HIGH))
		return fail(why, "kernel does not load at 1 MiB (zImage?)",
			    -ENOEXEC);

	sects = h->setup_sects ? h->setup_sects : BZ_DEFAULT_SETUP_SECTS;
	p->setup_size = (size_t)(sects + 1) * SECTOR;
	p->hdr_end = HDR_JUMP_END + b[0x201];
	if (p->hdr_end < HDR_MIN_END || p->hdr_end > HDR_MAX_END)
		return fail(why, "setup header length out of range", -ENOEXEC);
	if (p->hdr_end > p->setup_size)
		return fail(why, "setup header runs past the setup sectors",
			    -ENOEXEC);
	if (p->setup_size >= len)
		return fail(why,
			    "setup_sects claims more than the file: "
			    "truncated image",
			    -ENOEXEC);
	if (h->syssize == 0)
		return fail(why, "syssize is 0: no kernel", -ENOEXEC);
	p->kernel_size = (uint64_t)h->syssize * 16;
	if (p->kernel_size > len - p->setup_size)
		return fail(why,
			    "syssize claims more than the file: "
			    "truncated image",
			    -ENOEXEC);
	if (p->kernel_size <= BZ_ENTRY_64_OFFSET)
		return fail(why, "kernel too small for its 64-bit entry",
			    -ENOEXEC);
	return 0;
}

/* End of the memory the kernel uses from 1 MiB: image, init_size. */
static int plan_kernel(const struct vm_mem *mem, uint64_t low_end,
		       struct bz_plan *p, const char **why)
{
	const struct bz_setup_header *h = &p->hdr;
	uint64_t end = BZ_KERNEL_ADDR + p->kernel_size;

	if (BZ_KERNEL_ADDR + h->init_size > end)
		end = BZ_KERNEL_ADDR + h->init_size;
	/*
	 * A relocatable kernel decompresses at pref_address (its
	 * LOAD_PHYSICAL_ADDR) when that is above where it was loaded.
	 */
	if (h->pref_address > BZ_KERNEL_ADDR) {
		if (h->pref_address > low_end ||
		    h->init_size > low_end - h->pref_address)
			return fail(why,
				    "guest RAM too small for the kernel "
				    "(pref_address + init_size)",
				    -EFAULT);
		if (h->pref_address + h->init_size > end)
			end = h->pref_address + h->init_size;
	}
	if (end > low_end || !vm_mem_ptr(mem, BZ_KERNEL_ADDR, p->kernel_size))
		return fail(why, "guest RAM too small for the kernel", -EFAULT);
	p->kernel_end = end;
	return 0;
}

static int plan_initrd(const struct vm_mem *mem, uint64_t low_end,
		       const struct bzimage_config *cfg, struct bz_plan *p,
		       const char **why)
{
	uint64_t top = (uint64_t)p->hdr.initrd_addr_max + 1;

	p->initrd_addr = 0;
	if (cfg->initrd_size == 0)
		return 0;
	if (!cfg->initrd)
		return fail(why, "initrd size without data", -EINVAL);
	if (p->hdr.initrd_addr_max == 0)
		top = INITRD_ADDR_MAX_DEFAULT + 1;
	if (top > low_end)
		top = low_end;
	if (top <= p->kernel_end || cfg->initrd_size > top - p->kernel_end)
		return fail(why,
			    "initrd too large: it does not fit between the "
			    "kernel and initrd_addr_max/RAM end",
			    -ENOSPC);
	p->initrd_addr = (top - cfg->initrd_size) & ~(PAGE - 1);
	if (p->initrd_addr < p->kernel_end)
		return fail(why,
			    "initrd too large: it does not fit between the "
			    "kernel and initrd_addr_max/RAM end",
			    -ENOSPC);
	if (!vm_mem_ptr(mem, p->initrd_addr, cfg->initrd_size))
		return fail(why, "initrd outside guest RAM", -EFAULT);
	return 0;
}

static int plan_load(const struct vm_mem *mem, const uint8_t *b, size_t len,
		     const struct bzimage_config *cfg, struct bz_plan *p,
		     const char **why)
{
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	uint64_t low_end;
	int err;

	err = check_header(b, len, p, why);
	if (err < 0)
		return err;
	if (e820_build(cfg->ram_size, p->e820, E820_MAX_ENTRIES, &p->nr_e820) <
	    0)
		return fail(why, "bad RAM size for the memory map", -EINVAL);
	low_end = cfg->ram_size < E820_MMIO_HOLE_START ? cfg->ram_size
						       : E820_MMIO_HOLE_START;
	p->cmdlen = strnlen(cmdline, BZ_CMDLINE_MAX);
	if (p->cmdlen >= BZ_CMDLINE_MAX)
		return fail(why, "kernel command line too long", -EINVAL);
	if (p->cmdlen > p->hdr.cmdline_size)
		return fail(why,
			    "kernel command line longer than the kernel's "
			    "cmdline_size",
			    -EINVAL);
	err = plan_kernel(mem, low_end, p, why);
	if (err < 0)
		return err;
	err = plan_initrd(mem, low_end, cfg, p, why);
	if (err < 0)
		return err;
	if (!vm_mem_ptr(mem, 0, BZ_CMDLINE_ADDR + BZ_CMDLINE_MAX))
		return fail(why, "guest RAM too small for the boot area",
			    -EFAULT);
	return 0;
}

static void write_boot_params(const struct vm_mem *mem, const uint8_t *b,
			      const struct bzimage_config *cfg,
			      const struct bz_plan *p)
{
	struct bz_boot_params *bp =
		vm_mem_ptr(mem, BZ_BOOT_PARAMS_ADDR, sizeof(*bp));
	unsigned int i;

	memset(bp, 0, sizeof(*bp));
	/* The kernel's own header, as long as it says it is. */
	memcpy((uint8_t *)bp + HDR_START, b + HDR_START,
	       p->hdr_end - HDR_START);
	bp->hdr.type_of_loader = BZ_LOADER_TYPE;
	bp->hdr.cmd_line_ptr = (uint32_t)BZ_CMDLINE_ADDR;
	bp->ext_cmd_line_ptr = 0;
	bp->hdr.ramdisk_image = (uint32_t)p->initrd_addr;
	bp->hdr.ramdisk_size = (uint32_t)cfg->initrd_size;
	bp->ext_ramdisk_image = (uint32_t)(p->initrd_addr >> 32);
	bp->ext_ramdisk_size = (uint32_t)(cfg->initrd_size >> 32);
	bp->e820_entries = (uint8_t)p->nr_e820;
	for (i = 0; i < p->nr_e820; i++)
		bp->e820_table[i] = (struct bz_e820_entry){
			.addr = p->e820[i].addr,
			.size = p->e820[i].size,
			.type = p->e820[i].type,
		};
}

static void write_page_tables(const struct vm_mem *mem)
{
	uint64_t *pml4 = vm_mem_ptr(mem, BZ_PML4_ADDR, PAGE);
	uint64_t *pdpt = vm_mem_ptr(mem, BZ_PDPT_ADDR, PAGE);
	uint64_t *pd = vm_mem_ptr(mem, BZ_PD_ADDR, NR_PD * PAGE);
	uint64_t i;

	memset(pml4, 0, PAGE);
	memset(pdpt, 0, PAGE);
	pml4[0] = BZ_PDPT_ADDR | PTE_P | PTE_RW;
	for (i = 0; i < NR_PD; i++)
		pdpt[i] = (BZ_PD_ADDR + i * PAGE) | PTE_P | PTE_RW;
	for (i = 0; i < BZ_MAP_SIZE / PAGE_2M; i++)
		pd[i] = i * PAGE_2M | PTE_P | PTE_RW | PTE_PS;
}

/* Base 0, limit 0xfffff with G; flags: G, D/B, L nibble. */
static uint64_t gdt_flat(uint8_t access, uint8_t flags)
{
	return 0xffffull | (uint64_t)access << 40 | 0xfull << 48 |
	       (uint64_t)flags << 52;
}

int bzimage_load(const struct vm_mem *mem, const void *image, size_t len,
		 const struct bzimage_config *cfg, struct bzimage_info *info,
		 const char **why)
{
	/* 0x10: 64-bit code (G, L), 0x18: data (G, D/B). */
	const uint64_t gdt[4] = {0, 0, gdt_flat(0x9b, 0xa),
				 gdt_flat(0x93, 0xc)};
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	const uint8_t *b = image;
	struct bz_plan p;
	int err;

	err = plan_load(mem, b, len, cfg, &p, why);
	if (err < 0)
		return err;

	/* Every range below was checked by plan_load. */
	memcpy(vm_mem_ptr(mem, BZ_KERNEL_ADDR, p.kernel_size), b + p.setup_size,
	       p.kernel_size);
	if (cfg->initrd_size)
		memcpy(vm_mem_ptr(mem, p.initrd_addr, cfg->initrd_size),
		       cfg->initrd, cfg->initrd_size);
	memcpy(vm_mem_ptr(mem, BZ_CMDLINE_ADDR, p.cmdlen + 1), cmdline,
	       p.cmdlen + 1);
	memcpy(vm_mem_ptr(mem, BZ_GDT_ADDR, sizeof(gdt)), gdt, sizeof(gdt));
	write_boot_params(mem, b, cfg, &p);
	write_page_tables(mem);

	*info = (struct bzimage_info){
		.version = p.hdr.version,
		.kernel_addr = BZ_KERNEL_ADDR,
		.kernel_size = p.kernel_size,
		.kernel_end = p.kernel_end,
		.entry = BZ_KERNEL_ADDR + BZ_ENTRY_64_OFFSET,
		.boot_params = BZ_BOOT_PARAMS_ADDR,
		.initrd_addr = p.initrd_addr,
		.initrd_size = cfg->initrd_size,
	};
	return 0;
}

/* Maps a whole regular file read-only; *len 0 for an empty file. */
static int map_file(const char *path, const char *what_open,
		    const char *what_bad, void **map, size_t *len,
		    const char **why)
{
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(why, what_open, -errno);
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return fail(why, what_open, err);
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return fail(why, what_bad, -EINVAL);
	}
	*map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	err = -errno;
	close(fd);
	if (*map == MAP_FAILED)
		return fail(why, what_open, err);
	*len = (size_t)st.st_size;
	return 0;
}

int bzimage_load_file(const struct vm_mem *mem, const char *path,
		      const char *initrd_path, const struct bzimage_config *cfg,
		      struct bzimage_info *info, const char **why)
{
	struct bzimage_config c = *cfg;
	void *kernel, *initrd = NULL;
	size_t klen, ilen = 0;
	int err;

	err = map_file(path, "cannot open the kernel",
		       "the kernel is not a non-empty regular file", &kernel,
		       &klen, why);
	if (err < 0)
		return err == -EINVAL ? -ENOEXEC : err;
	if (initrd_path) {
		err = map_file(initrd_path, "cannot open the initrd",
			       "the initrd is not a non-empty regular file",
			       &initrd, &ilen, why);
		if (err < 0) {
			munmap(kernel, klen);
			return err;
		}
	}
	c.initrd = initrd;
	c.initrd_size = ilen;
	err = bzimage_load(mem, kernel, klen, &c, info, why);
	if (initrd)
		munmap(initrd, ilen);
	munmap(kernel, klen);
	return err;
}

static struct x86_segment seg_flat(uint16_t selector, uint8_t type, bool code)
{
	return (struct x86_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = code ? 0 : 1,
		.s = 1,
		.l = code ? 1 : 0,
		.g = 1,
	};
}

int bzimage_setup_vcpu(struct accel_vcpu *vcpu, const struct bzimage_info *info)
{
	struct x86_regs r = {0};
	struct x86_sregs s;
	struct x86_segment data = seg_flat(BZ_SEL_DATA, 0x3, false);
	int err;

	err = accel_vcpu_get_sregs(vcpu, &s);
	if (err < 0)
		return err;
	/* TR and LDT keep the reset state the accelerator reported. */
	s.cs = seg_flat(BZ_SEL_CODE, 0xb, true);
	s.ds = data;
	s.es = data;
	s.fs = data;
	s.gs = data;
	s.ss = data;
	s.gdt = (struct x86_dtable){.base = BZ_GDT_ADDR, .limit = 4 * 8 - 1};
	s.idt = (struct x86_dtable){.base = 0, .limit = 0};
	s.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
	s.cr2 = 0;
	s.cr3 = BZ_PML4_ADDR;
	s.cr4 = X86_CR4_PAE;
	s.efer = X86_EFER_LME | X86_EFER_LMA;
	err = accel_vcpu_set_sregs(vcpu, &s);
	if (err < 0)
		return err;
	r.rip = info->entry;
	r.rsi = info->boot_params;
	r.rsp = BZ_STACK_TOP;
	r.rflags = X86_RFLAGS_RESERVED1;
	return accel_vcpu_set_regs(vcpu, &r);
}
