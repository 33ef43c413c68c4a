/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bzImage loader and MP table without KVM: a synthetic bzImage loaded
 * into a plain vm_mem, every rejection, and the MP table parsed back.
 */
#include "vmm/boot/bzimage.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/mptable.h"
#include "vmm/memory.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define MiB (1ull << 20)
#define RAM_SIZE (64 * MiB)
#define SETUP_SECTS 2u
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512u)
#define KERNEL_SIZE 0x1000u
#define IMG_SIZE (SETUP_SIZE + KERNEL_SIZE)
#define HDR_END 0x268u /* jump byte 0x66: header through handover */
#define INIT_SIZE (4 * MiB)
#define PREF_ADDR (16 * MiB)
#define INITRD_SIZE 0x12345u

struct fixture {
	struct vm_mem mem;
	uint8_t *ram;
	uint8_t img[IMG_SIZE + 2048];
	uint8_t initrd[INITRD_SIZE];
	struct bzimage_config cfg;
};

static struct bz_setup_header *hdr(struct fixture *f)
{
	return (struct bz_setup_header *)(void *)(f->img + 0x1f1);
}

/* A 2.15 64-bit bzImage: 2 setup sectors and a 4 KiB kernel. */
static void img_init(struct fixture *f)
{
	struct bz_setup_header *h = hdr(f);
	unsigned int i;

	memset(f->img, 0, sizeof(f->img));
	for (i = 0; i < SETUP_SIZE; i++)
		f->img[i] = 0xee; /* setup code: must not reach boot_params */
	memset(h, 0, HDR_END - 0x1f1);
	h->setup_sects = SETUP_SECTS;
	h->syssize = KERNEL_SIZE / 16;
	h->boot_flag = BZ_BOOT_FLAG;
	h->jump = 0xeb | (HDR_END - 0x202) << 8;
	h->header = BZ_HDRS_MAGIC;
	h->version = 0x020f;
	h->loadflags = BZ_LOADED_HIGH;
	h->code32_start = 0x100000;
	h->initrd_addr_max = 0x7fffffff;
	h->kernel_alignment = 0x200000;
	h->relocatable_kernel = 1;
	h->xloadflags = BZ_XLF_KERNEL_64 | 0x2;
	h->cmdline_size = 2047;
	h->pref_address = PREF_ADDR;
	h->init_size = INIT_SIZE;
	for (i = 0; i < KERNEL_SIZE; i++)
		f->img[SETUP_SIZE + i] = (uint8_t)(i * 7 + 1);
	for (i = 0; i < INITRD_SIZE; i++)
		f->initrd[i] = (uint8_t)(i ^ 0x5a);
	f->cfg = (struct bzimage_config){
		.ram_size = RAM_SIZE,
		.cmdline = "console=ttyS0 lg.test=\"bz image\"",
		.initrd = f->initrd,
		.initrd_size = INITRD_SIZE,
	};
}

static int setup(void **state)
{
	static struct fixture f;

	vm_mem_init(&f.mem);
	if (vm_mem_add(&f.mem, 0, RAM_SIZE) < 0)
		return -1;
	f.ram = vm_mem_ptr(&f.mem, 0, RAM_SIZE);
	memset(f.ram, 0xa5, 2 * MiB);
	img_init(&f);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vm_mem_free(&f->mem);
	return 0;
}

static void test_detect(void **state)
{
	struct fixture *f = *state;

	assert_true(bzimage_detect(f->img, IMG_SIZE));
	assert_false(bzimage_detect(f->img, 0x205));
	hdr(f)->header = 0x53726449;
	assert_false(bzimage_detect(f->img, IMG_SIZE));
}

static void test_load_ok(void **state)
{
	struct fixture *f = *state;
	struct e820_entry e[E820_MAX_ENTRIES];
	struct bzimage_info info;
	const struct bz_boot_params *bp;
	const uint64_t *pml4, *pdpt, *pd, *gdt;
	const char *why = NULL;
	uint64_t want_initrd;
	unsigned int nr, i;

	assert_int_equal(
		bzimage_load(&f->mem, f->img, IMG_SIZE, &f->cfg, &info, &why),
		0);
	assert_int_equal(info.version, 0x020f);
	assert_int_equal(info.kernel_addr, BZ_KERNEL_ADDR);
	assert_int_equal(info.kernel_size, KERNEL_SIZE);
	assert_int_equal(info.entry, 0x100200);
	assert_int_equal(info.boot_params, BZ_BOOT_PARAMS_ADDR);
	/* The kernel decompresses at pref_address: it owns up to there. */
	assert_int_equal(info.kernel_end, PREF_ADDR + INIT_SIZE);
	/* As high as RAM allows (initrd_addr_max is higher), page aligned. */
	want_initrd = (RAM_SIZE - INITRD_SIZE) & ~0xfffull;
	assert_int_equal(info.initrd_addr, want_initrd);
	assert_int_equal(info.initrd_size, INITRD_SIZE);
	assert_memory_equal(f->ram + want_initrd, f->initrd, INITRD_SIZE);
	assert_memory_equal(f->ram + BZ_KERNEL_ADDR, f->img + SETUP_SIZE,
			    KERNEL_SIZE);
	assert_string_equal((char *)f->ram + BZ_CMDLINE_ADDR, f->cfg.cmdline);

	bp = (const struct bz_boot_params *)(f->ram + BZ_BOOT_PARAMS_ADDR);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.setup_sects, SETUP_SECTS);
	assert_int_equal(bp->hdr.boot_flag, BZ_BOOT_FLAG);
	assert_int_equal(bp->hdr.header, BZ_HDRS_MAGIC);
	assert_int_equal(bp->hdr.init_size, INIT_SIZE);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.cmd_line_ptr, BZ_CMDLINE_ADDR);
	assert_int_equal(bp->hdr.ramdisk_image, want_initrd);
	assert_int_equal(bp->hdr.ramdisk_size, INITRD_SIZE);
	assert_int_equal(bp->ext_ramdisk_image, 0);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	/* Past the header's own end (0x268) nothing of the image leaks. */
	for (i = HDR_END; i < 0x2d0; i++)
		assert_int_equal(((const uint8_t *)bp)[i], 0);
	for (i = 0; i < 0x1f1; i++)
		if (i != offsetof(struct bz_boot_params, e820_entries))
			assert_int_equal(((const uint8_t *)bp)[i], 0);

	assert_int_equal(e820_build(RAM_SIZE, e, E820_MAX_ENTRIES, &nr), 0);
	assert_int_equal(bp->e820_entries, nr);
	for (i = 0; i < nr; i++) {
		assert_int_equal(bp->e820_table[i].addr, e[i].addr);
		assert_int_equal(bp->e820_table[i].size, e[i].size);
		assert_int_equal(bp->e820_table[i].type, e[i].type);
	}
	assert_int_equal(bp->e820_table[1].addr, E820_EBDA_START);
	assert_int_equal(bp->e820_table[1].type, E820_RESERVED);
	assert_int_equal(bp->e820_table[nr].size, 0);

	gdt = (const uint64_t *)(f->ram + BZ_GDT_ADDR);
	assert_int_equal(gdt[0], 0);
	assert_int_equal(gdt[2], 0x00af9b000000ffffull);
	assert_int_equal(gdt[3], 0x00cf93000000ffffull);
	pml4 = (const uint64_t *)(f->ram + BZ_PML4_ADDR);
	pdpt = (const uint64_t *)(f->ram + BZ_PDPT_ADDR);
	pd = (const uint64_t *)(f->ram + BZ_PD_ADDR);
	assert_int_equal(pml4[0], BZ_PDPT_ADDR | 3);
	assert_int_equal(pml4[1], 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pdpt[i], (BZ_PD_ADDR + i * 0x1000) | 3);
	assert_int_equal(pdpt[4], 0);
	assert_int_equal(pd[0], 0x83);
	assert_int_equal(pd[1], 0x200083);
	assert_int_equal(pd[2047], 0xffe00083ull);
}

static void test_load_limits(void **state)
{
	struct fixture *f = *state;
	struct bzimage_info info;
	const struct bz_boot_params *bp;
	char line[2048];

	/* initrd_addr_max below RAM end: the initrd ends at or below it. */
	hdr(f)->initrd_addr_max = 32 * MiB - 1;
	assert_int_equal(
		bzimage_load(&f->mem, f->img, IMG_SIZE, &f->cfg, &info, NULL),
		0);
	assert_int_equal(info.initrd_addr,
			 (32 * MiB - INITRD_SIZE) & ~0xfffull);
	/* A 0 initrd_addr_max means the old default, 0x37ffffff. */
	hdr(f)->initrd_addr_max = 0;
	assert_int_equal(
		bzimage_load(&f->mem, f->img, IMG_SIZE, &f->cfg, &info, NULL),
		0);
	assert_int_equal(info.initrd_addr,
			 (RAM_SIZE - INITRD_SIZE) & ~0xfffull);
	/* No initrd; a command line of exactly cmdline_size; no pref. */
	hdr(f)->pref_address = 0;
	f->cfg.initrd_size = 0;
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\0';
	f->cfg.cmdline = line;
	assert_int_equal(
		bzimage_load(&f->mem, f->img, IMG_SIZE, &f->cfg, &info, NULL),
		0);
	assert_int_equal(info.initrd_addr, 0);
	assert_int_equal(info.kernel_end, BZ_KERNEL_ADDR + INIT_SIZE);
	bp = (const struct bz_boot_params *)(f->ram + BZ_BOOT_PARAMS_ADDR);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	assert_int_equal(strlen((char *)f->ram + BZ_CMDLINE_ADDR), 2047);
	/* setup_sects 0 means 4; a NULL command line is empty. */
	memmove(f->img + 5 * 512, f->img + SETUP_SIZE, KERNEL_SIZE);
	hdr(f)->setup_sects = 0;
	f->cfg.cmdline = NULL;
	assert_int_equal(bzimage_load(&f->mem, f->img, 5 * 512 + KERNEL_SIZE,
				      &f->cfg, &info, NULL),
			 0);
	assert_memory_equal(f->ram + BZ_KERNEL_ADDR, f->img + 5 * 512,
			    KERNEL_SIZE);
	assert_string_equal((char *)f->ram + BZ_CMDLINE_ADDR, "");
}

/* Expects rejection err with a reason and guest RAM untouched. */
static void expect_reject(struct fixture *f, size_t len, int err)
{
	struct bzimage_info info;
	const char *why = NULL;
	unsigned int i;

	assert_int_equal(
		bzimage_load(&f->mem, f->img, len, &f->cfg, &info, &why), err);
	assert_non_null(why);
	for (i = 0; i < 2 * MiB; i += 64)
		assert_int_equal(f->ram[i], 0xa5);
	img_init(f);
}

static void test_reject_header(void **state)
{
	struct fixture *f = *state;

	hdr(f)->boot_flag = 0xaa56;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->header = 0x53726449;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->version = 0x020b; /* 2.11: no xloadflags */
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->xloadflags = 0x2; /* no XLF_KERNEL_64 */
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->loadflags = 0; /* zImage */
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->jump = 0xeb | 0x40 << 8; /* header ends before 2.12 fields */
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->jump = 0xeb | 0xa0 << 8; /* past boot_params' header room */
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	expect_reject(f, 0x267, -ENOEXEC); /* no room for the header */
	expect_reject(f, 0, -ENOEXEC);
}

static void test_reject_sizes(void **state)
{
	struct fixture *f = *state;
	struct bzimage_info info;
	size_t len;

	/* setup_sects claiming more sectors than the file has. */
	hdr(f)->setup_sects = 200;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->setup_sects = 9; /* setup ends exactly at the file end */
	expect_reject(f, 10 * 512, -ENOEXEC);
	/* syssize claiming more than the file: truncated image. */
	expect_reject(f, IMG_SIZE - 1, -ENOEXEC);
	expect_reject(f, SETUP_SIZE + 1, -ENOEXEC);
	expect_reject(f, SETUP_SIZE, -ENOEXEC);
	hdr(f)->syssize = KERNEL_SIZE / 16 + 1;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->syssize = 0xffffffff;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->syssize = 0;
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	hdr(f)->syssize = 0x200 / 16; /* no room for the 64-bit entry */
	expect_reject(f, IMG_SIZE, -ENOEXEC);
	/* Every truncation of a valid image is a clean rejection. */
	for (len = 0; len < IMG_SIZE; len++)
		assert_int_equal(bzimage_load(&f->mem, f->img, len, &f->cfg,
					      &info, NULL),
				 -ENOEXEC);
	expect_reject(f, IMG_SIZE - 16, -ENOEXEC);
}

static void test_reject_memory(void **state)
{
	struct fixture *f = *state;
	char line[BZ_CMDLINE_MAX + 1];

	/* initrd larger than the room between kernel and RAM end. */
	f->cfg.initrd_size = RAM_SIZE - (PREF_ADDR + INIT_SIZE) + 1;
	f->cfg.initrd = malloc(f->cfg.initrd_size);
	assert_non_null(f->cfg.initrd);
	{
		void *p = (void *)f->cfg.initrd;

		expect_reject(f, IMG_SIZE, -ENOSPC);
		free(p);
	}
	/* initrd_addr_max inside the kernel's area: nowhere to go. */
	hdr(f)->initrd_addr_max = PREF_ADDR;
	expect_reject(f, IMG_SIZE, -ENOSPC);
	hdr(f)->initrd_addr_max = 0xfff;
	expect_reject(f, IMG_SIZE, -ENOSPC);
	f->cfg.initrd = NULL; /* size without data */
	expect_reject(f, IMG_SIZE, -EINVAL);
	/* Command line longer than cmdline_size, or than our area. */
	memset(line, 'y', sizeof(line));
	line[2048] = '\0';
	f->cfg.cmdline = line;
	expect_reject(f, IMG_SIZE, -EINVAL);
	hdr(f)->cmdline_size = 0xffffffff;
	line[2048] = 'y';
	line[BZ_CMDLINE_MAX] = '\0';
	f->cfg.cmdline = line;
	expect_reject(f, IMG_SIZE, -EINVAL);
	/* The kernel's init_size or pref_address beyond RAM. */
	hdr(f)->init_size = RAM_SIZE;
	expect_reject(f, IMG_SIZE, -EFAULT);
	hdr(f)->pref_address = 0xfffffffffffff000ull;
	expect_reject(f, IMG_SIZE, -EFAULT);
	hdr(f)->pref_address = 0;
	hdr(f)->init_size = RAM_SIZE;
	expect_reject(f, IMG_SIZE, -EFAULT);
	f->cfg.ram_size = RAM_SIZE + 1;
	expect_reject(f, IMG_SIZE, -EINVAL);
}

static void test_small_ram(void **state)
{
	struct fixture *f = *state;
	struct bzimage_info info;
	struct vm_mem mem;
	const char *why = NULL;

	/* The e820 map says 64 MiB but only 1 MiB is RAM. */
	vm_mem_init(&mem);
	assert_int_equal(vm_mem_add(&mem, 0, MiB), 0);
	assert_int_equal(
		bzimage_load(&mem, f->img, IMG_SIZE, &f->cfg, &info, &why),
		-EFAULT);
	assert_non_null(why);
	vm_mem_free(&mem);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(buf, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void test_load_file(void **state)
{
	struct fixture *f = *state;
	char kpath[] = "/tmp/lg-bz-kernel-XXXXXX";
	char ipath[] = "/tmp/lg-bz-initrd-XXXXXX";
	struct bzimage_info info;
	const char *why = NULL;
	int kfd = mkstemp(kpath), ifd = mkstemp(ipath);

	assert_true(kfd >= 0 && ifd >= 0);
	close(kfd);
	close(ifd);
	write_file(kpath, f->img, IMG_SIZE);
	write_file(ipath, f->initrd, 5000);
	f->cfg.initrd = NULL;
	f->cfg.initrd_size = 0;
	assert_int_equal(
		bzimage_load_file(&f->mem, kpath, ipath, &f->cfg, &info, &why),
		0);
	assert_int_equal(info.initrd_size, 5000);
	assert_int_equal(info.initrd_addr, (RAM_SIZE - 5000) & ~0xfffull);
	assert_memory_equal(f->ram + info.initrd_addr, f->initrd, 5000);
	assert_int_equal(
		bzimage_load_file(&f->mem, kpath, NULL, &f->cfg, &info, &why),
		0);
	assert_int_equal(info.initrd_size, 0);
	assert_int_equal(bzimage_detect_file(kpath), 1);
	assert_int_equal(bzimage_detect_file(ipath), 0);
	assert_int_equal(bzimage_detect_file("/nonexistent/bz"), -ENOENT);
	assert_int_equal(bzimage_load_file(&f->mem, "/nonexistent/bz", NULL,
					   &f->cfg, &info, &why),
			 -ENOENT);
	assert_int_equal(bzimage_load_file(&f->mem, kpath, "/nonexistent/i",
					   &f->cfg, &info, &why),
			 -ENOENT);
	assert_int_equal(
		bzimage_load_file(&f->mem, "/tmp", NULL, &f->cfg, &info, &why),
		-ENOEXEC);
	write_file(kpath, f->img, IMG_SIZE - 16);
	assert_int_equal(
		bzimage_load_file(&f->mem, kpath, NULL, &f->cfg, &info, &why),
		-ENOEXEC);
	unlink(kpath);
	unlink(ipath);
}

/* --- MP table --- */

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

struct parsed_mp {
	unsigned int cpus, buses, ioapics, lints;
	uint8_t bsp_count;
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	bool pin[MPTABLE_IOAPIC_PINS];
	unsigned int pins;
};

/* Parses the table at MPTABLE_ADDR as a guest would; fails on errors. */
static void parse_mp(const uint8_t *ram, struct parsed_mp *out)
{
	const struct mp_floating *mpf = (const void *)(ram + MPTABLE_ADDR);
	const struct mp_config *mpc;
	const uint8_t *p, *end;
	unsigned int entries = 0;

	memset(out, 0, sizeof(*out));
	assert_memory_equal(mpf->signature, "_MP_", 4);
	assert_int_equal(mpf->length, 1);
	assert_int_equal(mpf->spec, 4);
	assert_int_equal(sum((const uint8_t *)mpf, 16), 0);
	assert_int_equal(mpf->feature[0], 0); /* a table, not a default */
	assert_true(mpf->physptr >= MPTABLE_ADDR + 16);
	mpc = (const void *)(ram + mpf->physptr);
	assert_memory_equal(mpc->signature, "PCMP", 4);
	assert_int_equal(mpc->spec, 4);
	assert_true(mpf->physptr + mpc->length <=
		    MPTABLE_ADDR + MPTABLE_AREA_SIZE);
	assert_int_equal(sum((const uint8_t *)mpc, mpc->length), 0);
	assert_int_equal(mpc->lapic, MPTABLE_LAPIC_ADDR);
	assert_int_equal(mpc->ext_length, 0);
	p = (const uint8_t *)(mpc + 1);
	end = (const uint8_t *)mpc + mpc->length;
	while (p < end) {
		const struct mp_processor *cpu = (const void *)p;
		const struct mp_ioapic *io = (const void *)p;
		const struct mp_bus *bus = (const void *)p;
		const struct mp_intsrc *irq = (const void *)p;

		entries++;
		switch (p[0]) {
		case MP_ENTRY_PROCESSOR:
			assert_int_equal(cpu->apic_id, out->cpus);
			assert_true(cpu->flags & 1);
			out->bsp_count += (cpu->flags & 2) ? 1 : 0;
			if (cpu->flags & 2)
				assert_int_equal(cpu->apic_id, 0);
			out->cpus++;
			p += 20;
			break;
		case MP_ENTRY_BUS:
			assert_int_equal(bus->bus_id, 0);
			assert_memory_equal(bus->bus_type, "ISA   ", 6);
			out->buses++;
			p += 8;
			break;
		case MP_ENTRY_IOAPIC:
			assert_int_equal(io->flags & 1, 1);
			out->ioapic_id = io->apic_id;
			out->ioapic_addr = io->addr;
			out->ioapics++;
			p += 8;
			break;
		case MP_ENTRY_INTSRC:
			assert_int_equal(irq->irq_type, MP_IRQ_INT);
			assert_int_equal(irq->src_bus, 0);
			assert_int_equal(irq->dst_apic, out->ioapic_id);
			assert_int_equal(irq->src_irq, irq->dst_pin);
			assert_true(irq->dst_pin < MPTABLE_IOAPIC_PINS);
			assert_false(out->pin[irq->dst_pin]); /* no repeats */
			out->pin[irq->dst_pin] = true;
			out->pins++;
			p += 8;
			break;
		case MP_ENTRY_LINTSRC:
			assert_true(irq->irq_type == MP_IRQ_EXTINT ||
				    irq->irq_type == MP_IRQ_NMI);
			out->lints++;
			p += 8;
			break;
		default:
			fail_msg("unknown MP entry type %u", p[0]);
		}
	}
	assert_true(p == end);
	assert_int_equal(entries, mpc->entry_count);
}

static void test_mptable(void **state)
{
	static const uint8_t virtio[] = {5, 6, 7, 8, 9, 10, 11, 12, 16, 23, 5};
	static const unsigned int counts[] = {1, 2, 4, 31, 32};
	struct fixture *f = *state;
	struct mptable_config cfg = {.irqs = virtio, .nr_irqs = 0};
	struct parsed_mp mp;
	unsigned int i, k;

	for (k = 0; k < 2; k++) {
		cfg.nr_irqs = k ? sizeof(virtio) : 0;
		for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
			memset(f->ram + MPTABLE_ADDR, 0xa5, MPTABLE_AREA_SIZE);
			cfg.nr_cpus = counts[i];
			assert_int_equal(mptable_write(&f->mem, &cfg, NULL), 0);
			parse_mp(f->ram, &mp);
			assert_int_equal(mp.cpus, counts[i]);
			assert_int_equal(mp.bsp_count, 1);
			assert_int_equal(mp.buses, 1);
			assert_int_equal(mp.ioapics, 1);
			assert_int_equal(mp.ioapic_id, counts[i]);
			assert_int_equal(mp.ioapic_addr, MPTABLE_IOAPIC_ADDR);
			assert_int_equal(mp.lints, 2);
			assert_int_equal(mp.pins, k ? 18 : 16);
			assert_true(mp.pin[0] && mp.pin[15]);
			assert_int_equal(mp.pin[16], k == 1);
			assert_int_equal(mp.pin[23], k == 1);
			assert_false(mp.pin[17]);
		}
	}
}

static void test_mptable_reject(void **state)
{
	static const uint8_t bad[] = {5, 24};
	struct fixture *f = *state;
	struct mptable_config cfg = {.nr_cpus = 0};
	struct vm_mem mem;
	const char *why = NULL;

	assert_int_equal(mptable_write(&f->mem, &cfg, &why), -EINVAL);
	assert_non_null(why);
	cfg.nr_cpus = MPTABLE_MAX_CPUS + 1;
	assert_int_equal(mptable_write(&f->mem, &cfg, &why), -EINVAL);
	cfg.nr_cpus = 1;
	cfg.irqs = bad;
	cfg.nr_irqs = 2;
	assert_int_equal(mptable_write(&f->mem, &cfg, &why), -EINVAL);
	cfg.irqs = NULL;
	assert_int_equal(mptable_write(&f->mem, &cfg, &why), -EINVAL);
	/* The EBDA is not RAM. */
	cfg.nr_irqs = 0;
	vm_mem_init(&mem);
	assert_int_equal(vm_mem_add(&mem, 0, 0x9f000), 0);
	why = NULL;
	assert_int_equal(mptable_write(&mem, &cfg, &why), -EFAULT);
	assert_non_null(why);
	vm_mem_free(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_detect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reject_header, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reject_sizes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reject_memory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_small_ram, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_load_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mptable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mptable_reject, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
