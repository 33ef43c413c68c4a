/* SPDX-License-Identifier: Apache-2.0 */
/* Guest boot parts that need no KVM: e820 layout, ELF loader, PVH info. */
#include "vmm/boot/e820.h"
#include "vmm/boot/elf.h"
#include "vmm/boot/pvh.h"
#include "vmm/memory.h"

#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define GiB (1ull << 30)
#define MiB (1ull << 20)

static void check_e820(const struct e820_entry *e, uint64_t addr, uint64_t size,
		       uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_e820_sizes(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	unsigned int nr;

	(void)state;
	assert_int_equal(e820_build(256 * MiB, e, E820_MAX_ENTRIES, &nr), 0);
	assert_int_equal(nr, 3);
	check_e820(&e[0], 0, 0x9fc00, E820_RAM);
	check_e820(&e[1], 0x9fc00, 0x60400, E820_RESERVED);
	check_e820(&e[2], MiB, 255 * MiB, E820_RAM);

	assert_int_equal(e820_build(2 * MiB, e, E820_MAX_ENTRIES, &nr), 0);
	assert_int_equal(nr, 3);
	check_e820(&e[2], MiB, MiB, E820_RAM);

	assert_int_equal(e820_build(3 * GiB, e, E820_MAX_ENTRIES, &nr), 0);
	assert_int_equal(nr, 3);
	check_e820(&e[2], MiB, 3 * GiB - MiB, E820_RAM);

	assert_int_equal(e820_build(3 * GiB + 4096, e, E820_MAX_ENTRIES, &nr),
			 0);
	assert_int_equal(nr, 4);
	check_e820(&e[2], MiB, 3 * GiB - MiB, E820_RAM);
	check_e820(&e[3], 4 * GiB, 4096, E820_RAM);

	/* 4.5 GiB: 3 GiB below the hole, 1.5 GiB from 4 GiB. */
	assert_int_equal(
		e820_build(4 * GiB + GiB / 2, e, E820_MAX_ENTRIES, &nr), 0);
	assert_int_equal(nr, 4);
	check_e820(&e[0], 0, 0x9fc00, E820_RAM);
	check_e820(&e[1], 0x9fc00, 0x60400, E820_RESERVED);
	check_e820(&e[2], MiB, 3 * GiB - MiB, E820_RAM);
	check_e820(&e[3], 4 * GiB, GiB + GiB / 2, E820_RAM);

	assert_int_equal(e820_build(E820_MAX_RAM, e, E820_MAX_ENTRIES, &nr), 0);
	assert_int_equal(e[3].addr + e[3].size, 1ull << 40);
}

static void test_e820_invalid(void **state)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	unsigned int nr = 99;

	(void)state;
	assert_int_equal(e820_build(0, e, E820_MAX_ENTRIES, &nr), -EINVAL);
	assert_int_equal(nr, 0);
	assert_int_equal(e820_build(MiB, e, E820_MAX_ENTRIES, &nr), -EINVAL);
	assert_int_equal(e820_build(256 * MiB + 1, e, E820_MAX_ENTRIES, &nr),
			 -EINVAL);
	assert_int_equal(
		e820_build(E820_MAX_RAM + 4096, e, E820_MAX_ENTRIES, &nr),
		-EINVAL);
	assert_int_equal(
		e820_build(UINT64_MAX & ~0xfffull, e, E820_MAX_ENTRIES, &nr),
		-EINVAL);
	assert_int_equal(e820_build(256 * MiB, e, 2, &nr), -ENOSPC);
	assert_int_equal(e820_build(4 * GiB, e, 3, &nr), -ENOSPC);
	assert_int_equal(nr, 0);
}

static void test_e820_regions(void **state)
{
	uint64_t gpa[2], size[2];

	(void)state;
	assert_int_equal(e820_ram_regions(256 * MiB, gpa, size), 1);
	assert_int_equal(gpa[0], 0);
	assert_int_equal(size[0], 256 * MiB);
	assert_int_equal(e820_ram_regions(4 * GiB + GiB / 2, gpa, size), 2);
	assert_int_equal(size[0], 3 * GiB);
	assert_int_equal(gpa[1], 4 * GiB);
	assert_int_equal(size[1], GiB + GiB / 2);
	assert_int_equal(e820_ram_regions(MiB, gpa, size), -EINVAL);
}

/* A small valid ELF: one PT_LOAD (0x40 bytes + 0x40 bss) and a note. */
#define IMG_SIZE 0x400u
#define IMG_DATA 0x200u
#define IMG_NOTE 0x300u
#define IMG_LOAD 0x100000ull
#define RAM_SIZE (2 * MiB)

struct img {
	union {
		uint8_t b[IMG_SIZE];
		uint64_t align;
	};
	Elf64_Ehdr *eh;
	Elf64_Phdr *load, *note;
	uint32_t *n; /* note words */
};

static void img_init(struct img *im, unsigned int descsz)
{
	unsigned int i;

	memset(im->b, 0, sizeof(im->b));
	im->eh = (Elf64_Ehdr *)(void *)im->b;
	im->load = (Elf64_Phdr *)(void *)(im->b + sizeof(Elf64_Ehdr));
	im->note = im->load + 1;
	im->n = (uint32_t *)(void *)(im->b + IMG_NOTE);
	memcpy(im->eh->e_ident, ELFMAG, SELFMAG);
	im->eh->e_ident[EI_CLASS] = ELFCLASS64;
	im->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh->e_ident[EI_VERSION] = EV_CURRENT;
	im->eh->e_type = ET_EXEC;
	im->eh->e_machine = EM_X86_64;
	im->eh->e_version = EV_CURRENT;
	im->eh->e_entry = 0xffffffff81000000ull;
	im->eh->e_phoff = sizeof(Elf64_Ehdr);
	im->eh->e_ehsize = sizeof(Elf64_Ehdr);
	im->eh->e_phentsize = sizeof(Elf64_Phdr);
	im->eh->e_phnum = 2;
	*im->load = (Elf64_Phdr){
		.p_type = PT_LOAD,
		.p_offset = IMG_DATA,
		.p_vaddr = 0xffffffff81000000ull,
		.p_paddr = IMG_LOAD,
		.p_filesz = 0x40,
		.p_memsz = 0x80,
	};
	*im->note = (Elf64_Phdr){
		.p_type = PT_NOTE,
		.p_offset = IMG_NOTE,
		.p_filesz = 16 + descsz,
	};
	for (i = 0; i < 0x40; i++)
		im->b[IMG_DATA + i] = (uint8_t)(i + 1);
	im->n[0] = 4;
	im->n[1] = descsz;
	im->n[2] = XEN_ELFNOTE_PHYS32_ENTRY;
	memcpy(&im->n[3], "Xen", 4);
	im->n[4] = (uint32_t)IMG_LOAD + 0x10;
	im->n[5] = 0;
}

struct fixture {
	struct vm_mem mem;
	struct img im;
	uint8_t *ram;
};

static int setup(void **state)
{
	static struct fixture f;

	vm_mem_init(&f.mem);
	if (vm_mem_add(&f.mem, 0, RAM_SIZE) < 0)
		return -1;
	f.ram = vm_mem_ptr(&f.mem, 0, RAM_SIZE);
	memset(f.ram + IMG_LOAD, 0xcc, 0x1000);
	img_init(&f.im, 4);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vm_mem_free(&f->mem);
	return 0;
}

/* Loads and expects failure err, with guest RAM left untouched. */
static void expect_reject(struct fixture *f, size_t len, int err)
{
	struct elf_image img;
	const char *why = NULL;
	unsigned int i;

	assert_int_equal(elf_load(&f->mem, f->im.b, len, &img, &why), err);
	assert_non_null(why);
	for (i = 0; i < 0x1000; i++)
		assert_int_equal(f->ram[IMG_LOAD + i], 0xcc);
}

static void test_elf_ok(void **state)
{
	struct fixture *f = *state;
	struct elf_image img;
	const char *why = NULL;
	unsigned int i;

	assert_int_equal(elf_load(&f->mem, f->im.b, IMG_SIZE, &img, &why), 0);
	assert_int_equal(img.pvh_entry, IMG_LOAD + 0x10);
	assert_int_equal(img.e_entry, 0xffffffff81000000ull);
	assert_int_equal(img.load_start, IMG_LOAD);
	assert_int_equal(img.load_end, IMG_LOAD + 0x80);
	for (i = 0; i < 0x40; i++)
		assert_int_equal(f->ram[IMG_LOAD + i], i + 1);
	for (; i < 0x80; i++)
		assert_int_equal(f->ram[IMG_LOAD + i], 0); /* bss */
	assert_int_equal(f->ram[IMG_LOAD + 0x80], 0xcc);

	/* An 8-byte entry, as older kernels emit it. */
	img_init(&f->im, 8);
	assert_int_equal(elf_load(&f->mem, f->im.b, IMG_SIZE, &img, &why), 0);
	assert_int_equal(img.pvh_entry, IMG_LOAD + 0x10);
}

static void test_elf_header(void **state)
{
	struct fixture *f = *state;

	expect_reject(f, 0, -ENOEXEC);
	expect_reject(f, sizeof(Elf64_Ehdr) - 1, -ENOEXEC);
	f->im.b[1] = 'X';
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.eh->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.eh->e_machine = EM_386;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.eh->e_type = ET_DYN;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.eh->e_phentsize = 32;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.eh->e_phnum = 0;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.eh->e_phnum = 0xffff;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	/* Program headers past the end, and wrapping around. */
	img_init(&f->im, 4);
	f->im.eh->e_phoff = IMG_SIZE - 8;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	f->im.eh->e_phoff = UINT64_MAX - 8;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	/* Truncated inside the program headers. */
	img_init(&f->im, 4);
	expect_reject(f, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr), -ENOEXEC);
}

static void test_elf_segments(void **state)
{
	struct fixture *f = *state;

	/* File range: past the end, and offset + filesz wrapping. */
	f->im.load->p_offset = IMG_SIZE - 0x20;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	f->im.load->p_offset = UINT64_MAX - 0x10;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	/* Truncated file: data beyond len. */
	img_init(&f->im, 4);
	expect_reject(f, IMG_DATA + 0x20, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.load->p_filesz = 0x81;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	/* Guest range: past the end of RAM, and paddr + memsz wrapping. */
	img_init(&f->im, 4);
	f->im.load->p_paddr = RAM_SIZE - 0x40;
	expect_reject(f, IMG_SIZE, -EFAULT);
	f->im.load->p_paddr = 3 * GiB;
	expect_reject(f, IMG_SIZE, -EFAULT);
	f->im.load->p_paddr = UINT64_MAX - 0x10;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.load->p_memsz = UINT64_MAX;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	/* A bad second segment: the first must not have been copied. */
	img_init(&f->im, 4);
	f->im.eh->e_phnum = 3;
	f->im.note[1] = *f->im.load;
	f->im.note[1].p_paddr = RAM_SIZE;
	expect_reject(f, IMG_SIZE, -EFAULT);
	/* No PT_LOAD at all. */
	img_init(&f->im, 4);
	f->im.load->p_type = PT_NULL;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
}

static void test_elf_pvh_note(void **state)
{
	struct fixture *f = *state;
	struct elf_image img;
	const char *why = NULL;

	/* Missing note: a clear reason. */
	f->im.note->p_type = PT_NULL;
	assert_int_equal(elf_load(&f->mem, f->im.b, IMG_SIZE, &img, &why),
			 -ENOEXEC);
	assert_non_null(strstr(why, "PVH"));
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.n[2] = 17; /* another Xen note type */
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	memcpy(&f->im.n[3], "Xyz", 4); /* another owner */
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.n[1] = 2; /* bad entry size */
	f->im.note->p_filesz = 20;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	/* Malformed: sizes beyond the segment, and huge. */
	img_init(&f->im, 4);
	f->im.n[1] = 0x100;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.n[0] = UINT32_MAX;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 4);
	f->im.n[1] = UINT32_MAX;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	/* Note segment outside the file. */
	img_init(&f->im, 4);
	f->im.note->p_offset = IMG_SIZE - 4;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	/* Entry not in RAM, or not 32-bit. */
	img_init(&f->im, 4);
	f->im.n[4] = (uint32_t)RAM_SIZE;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	img_init(&f->im, 8);
	f->im.n[5] = 1;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
}

static void test_elf_file(void **state)
{
	struct fixture *f = *state;
	struct elf_image img;
	const char *why = NULL;
	char path[] = "/tmp/lg-boot-elfXXXXXX";
	FILE *fp;
	int fd;

	assert_int_equal(
		elf_load_file(&f->mem, "/nonexistent/vmlinux", &img, &why),
		-ENOENT);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	fp = fdopen(fd, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(f->im.b, 1, IMG_SIZE, fp), IMG_SIZE);
	fclose(fp);
	assert_int_equal(elf_load_file(&f->mem, path, &img, &why), 0);
	assert_int_equal(img.pvh_entry, IMG_LOAD + 0x10);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(elf_load_file(&f->mem, path, &img, &why), -ENOEXEC);
	unlink(path);
}

static void test_pvh_info(void **state)
{
	struct fixture *f = *state;
	struct pvh_config cfg = {
		.ram_size = RAM_SIZE,
		.cmdline = "console=ttyS0 reboot=k",
		.initrd_paddr = MiB,
		.initrd_size = 0x1234,
	};
	const struct hvm_memmap_table_entry *map;
	const struct hvm_modlist_entry *mod;
	const struct hvm_start_info *si;
	const uint64_t *gdt;
	const char *why = NULL;
	char longline[PVH_CMDLINE_MAX + 1];

	assert_int_equal(pvh_write_boot_info(&f->mem, &cfg, &why), 0);
	si = vm_mem_ptr(&f->mem, PVH_START_INFO_ADDR, sizeof(*si));
	assert_int_equal(si->magic, XEN_HVM_START_MAGIC_VALUE);
	assert_int_equal(si->version, 1);
	assert_int_equal(si->nr_modules, 1);
	assert_int_equal(si->modlist_paddr, PVH_MODLIST_ADDR);
	assert_int_equal(si->cmdline_paddr, PVH_CMDLINE_ADDR);
	assert_int_equal(si->rsdp_paddr, 0);
	assert_int_equal(si->memmap_paddr, PVH_MEMMAP_ADDR);
	assert_int_equal(si->memmap_entries, 3);
	mod = vm_mem_ptr(&f->mem, PVH_MODLIST_ADDR, sizeof(*mod));
	assert_int_equal(mod->paddr, MiB);
	assert_int_equal(mod->size, 0x1234);
	assert_int_equal(mod->cmdline_paddr, 0);
	map = vm_mem_ptr(&f->mem, PVH_MEMMAP_ADDR, 3 * sizeof(*map));
	assert_int_equal(map[1].addr, 0x9fc00);
	assert_int_equal(map[1].type, XEN_HVM_MEMMAP_TYPE_RESERVED);
	assert_int_equal(map[2].addr + map[2].size, RAM_SIZE);
	assert_int_equal(map[2].type, XEN_HVM_MEMMAP_TYPE_RAM);
	assert_string_equal(vm_mem_ptr(&f->mem, PVH_CMDLINE_ADDR, 1),
			    cfg.cmdline);
	gdt = vm_mem_ptr(&f->mem, PVH_GDT_ADDR, 32);
	assert_int_equal(gdt[2], 0x00cf9b000000ffffull);
	assert_int_equal(gdt[3], 0x00cf93000000ffffull);

	/* No initrd: no module. */
	cfg.initrd_size = 0;
	cfg.cmdline = NULL;
	assert_int_equal(pvh_write_boot_info(&f->mem, &cfg, &why), 0);
	assert_int_equal(si->nr_modules, 0);
	assert_int_equal(si->modlist_paddr, 0);
	assert_string_equal(vm_mem_ptr(&f->mem, PVH_CMDLINE_ADDR, 1), "");

	/* Rejections. */
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = '\0';
	cfg.cmdline = longline;
	assert_int_equal(pvh_write_boot_info(&f->mem, &cfg, &why), -EINVAL);
	longline[PVH_CMDLINE_MAX - 1] = '\0'; /* exactly fits */
	assert_int_equal(pvh_write_boot_info(&f->mem, &cfg, &why), 0);
	cfg.cmdline = "x";
	cfg.initrd_paddr = RAM_SIZE - 0x1000;
	cfg.initrd_size = 0x1001;
	assert_int_equal(pvh_write_boot_info(&f->mem, &cfg, &why), -EINVAL);
	cfg.initrd_paddr = UINT64_MAX - 0x10;
	assert_int_equal(pvh_write_boot_info(&f->mem, &cfg, &why), -EINVAL);
	cfg.initrd_paddr = 0x6000;
	cfg.initrd_size = 0x10;
	assert_int_equal(pvh_write_boot_info(&f->mem, &cfg, &why), -EINVAL);
	cfg.initrd_size = 0;
	cfg.ram_size = MiB;
	assert_int_equal(pvh_write_boot_info(&f->mem, &cfg, &why), -EINVAL);
	/* The memory map says 256 MiB but RAM is 2 MiB: still fits. */
	cfg.ram_size = 256 * MiB;
	assert_int_equal(pvh_write_boot_info(&f->mem, &cfg, &why), 0);
}

static void test_pvh_small_ram(void **state)
{
	struct pvh_config cfg = {.ram_size = 2 * MiB, .cmdline = "x"};
	struct vm_mem mem;
	const char *why = NULL;

	(void)state;
	vm_mem_init(&mem);
	assert_int_equal(vm_mem_add(&mem, 0, 0x10000), 0);
	assert_int_equal(pvh_write_boot_info(&mem, &cfg, &why), -EFAULT);
	assert_non_null(why);
	vm_mem_free(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_sizes),
		cmocka_unit_test(test_e820_invalid),
		cmocka_unit_test(test_e820_regions),
		cmocka_unit_test_setup_teardown(test_elf_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elf_header, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_elf_segments, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_elf_pvh_note, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_elf_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pvh_info, setup, teardown),
		cmocka_unit_test(test_pvh_small_ram),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
