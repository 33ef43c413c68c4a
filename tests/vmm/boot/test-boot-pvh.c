/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PVH boot under KVM: loads the ELF64 test guest through the ELF loader,
 * writes the PVH start info for a 256 MiB VM and runs the guest from its
 * PHYS32_ENTRY note; the guest reports what it received over PIO.
 * Exits 77 (skip) without KVM. A 20 s alarm bounds the whole run.
 */
#include "../check.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/elf.h"
#include "vmm/boot/pvh.h"
#include "vmm/bus.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RAM_SIZE (256ull << 20)
#define PORT_BASE 0x500u
#define PORT_EXIT 0x501u
#define PORT_REPORT 0x503u
#define PORT_CMDLINE 0x504u
#define MAX_REPORTS 64u
#define CMDLINE "console=ttyS0 reboot=k panic=1 lg.test=\"pvh boot\""
#define INITRD_ADDR 0x800000ull
#define INITRD_SIZE 0x12345ull

struct recorder {
	uint32_t reports[MAX_REPORTS];
	unsigned int nr_reports;
	char cmdline[PVH_CMDLINE_MAX];
	unsigned int cmdlen;
	bool exited;
	uint32_t exit_code;
	unsigned int overflow;
};

static uint32_t le32(const uint8_t *data, uint32_t len)
{
	uint32_t v = 0, i;

	for (i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	return v;
}

static int rec_write(void *opaque, uint64_t offset, const uint8_t *data,
		     uint32_t len)
{
	struct recorder *r = opaque;

	switch (offset + PORT_BASE) {
	case PORT_EXIT:
		r->exit_code = le32(data, len);
		r->exited = true;
		break;
	case PORT_REPORT:
		if (r->nr_reports < MAX_REPORTS)
			r->reports[r->nr_reports++] = le32(data, len);
		else
			r->overflow++;
		break;
	case PORT_CMDLINE:
		if (r->cmdlen < sizeof(r->cmdline))
			r->cmdline[r->cmdlen++] = (char)data[0];
		else
			r->overflow++;
		break;
	default:
		break;
	}
	return 0;
}

static const struct bus_device_ops rec_ops = {
	.name = "pvh-test",
	.write = rec_write,
};

/* Reads the next report, or 0xdeadbeef (and a failure) past the end. */
static uint32_t next(const struct recorder *r, unsigned int *i)
{
	if (*i >= r->nr_reports) {
		fprintf(stderr, "missing report %u\n", *i);
		failures++;
		return 0xdeadbeef;
	}
	return r->reports[(*i)++];
}

static void check_reports(const struct recorder *r)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	unsigned int nr, i = 0, k;

	CHECK(r->exited);
	CHECK_EQ(r->exit_code, 0x600d);
	CHECK_EQ(r->overflow, 0);
	CHECK_EQ(next(r, &i), XEN_HVM_START_MAGIC_VALUE);
	CHECK_EQ(next(r, &i), 1); /* version */
	CHECK_EQ(next(r, &i), 0); /* flags */
	CHECK_EQ(next(r, &i), 1); /* nr_modules */
	CHECK_EQ(next(r, &i), (uint32_t)INITRD_ADDR);
	CHECK_EQ(next(r, &i), INITRD_ADDR >> 32);
	CHECK_EQ(next(r, &i), (uint32_t)INITRD_SIZE);
	CHECK_EQ(next(r, &i), INITRD_SIZE >> 32);
	CHECK_EQ(e820_build(RAM_SIZE, e, E820_MAX_ENTRIES, &nr), 0);
	CHECK_EQ(next(r, &i), nr);
	for (k = 0; k < nr; k++) {
		uint64_t addr = next(r, &i);
		uint64_t size;

		addr |= (uint64_t)next(r, &i) << 32;
		size = next(r, &i);
		size |= (uint64_t)next(r, &i) << 32;
		CHECK_EQ(addr, e[k].addr);
		CHECK_EQ(size, e[k].size);
		CHECK_EQ(next(r, &i), e[k].type);
	}
	CHECK_EQ(next(r, &i) & 0xffff, PVH_SEL_CODE);
	CHECK_EQ(next(r, &i) & 0xffff, PVH_SEL_DATA);
	CHECK_EQ(next(r, &i) & 0xffff, PVH_SEL_DATA);
	k = next(r, &i); /* cr0: PE set, PG clear */
	CHECK_EQ(k & 1, 1);
	CHECK_EQ(k >> 31, 0);
	CHECK_EQ(next(r, &i), 0); /* bss zeroed by the loader */
	CHECK_EQ(r->nr_reports, i);
	CHECK(r->cmdlen == sizeof(CMDLINE) &&
	      memcmp(r->cmdline, CMDLINE, sizeof(CMDLINE)) == 0);
}

int main(void)
{
	struct pvh_config cfg = {
		.ram_size = RAM_SIZE,
		.cmdline = CMDLINE,
		.initrd_paddr = INITRD_ADDR,
		.initrd_size = INITRD_SIZE,
	};
	static struct recorder rec;
	enum vcpu_stop_reason why = VCPU_STOP_REQUESTED;
	const char *reason = "?";
	const char *dir = getenv("LG_VMM_BOOT_GUEST_DIR");
	char path[4096];
	struct elf_image img;
	struct vcpu *vcpu = NULL;
	struct vm *vm;
	uint8_t *ram;
	int err;

	if (!dir) {
		fprintf(stderr, "LG_VMM_BOOT_GUEST_DIR is not set\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/pvh-guest.elf", dir);
	err = vm_create(RAM_SIZE, &vm);
	if (err < 0) {
		printf("SKIP: KVM unavailable (%s)\n", strerror(-err));
		return 77;
	}
	/* Never hang: the default SIGALRM action ends the process. */
	alarm(20);
	err = bus_register(&vm->pio, PORT_BASE, 16, &rec_ops, &rec);
	if (err == 0)
		err = vcpu_create(vm, 0, &vcpu);
	if (err < 0) {
		fprintf(stderr, "setup: %s\n", strerror(-err));
		return 1;
	}
	/* Garbage where the guest's bss lies: the loader must zero it. */
	ram = vm_mem_ptr(&vm->mem, 0x100000, 0x1000);
	memset(ram, 0xa5, 0x1000);
	err = elf_load_file(&vm->mem, path, &img, &reason);
	if (err < 0) {
		fprintf(stderr, "load %s: %s (%s)\n", path, reason,
			strerror(-err));
		return 1;
	}
	CHECK_EQ(img.pvh_entry, 0x100000);
	memset(vm_mem_ptr(&vm->mem, INITRD_ADDR, INITRD_SIZE), 0x5a,
	       INITRD_SIZE);
	err = pvh_write_boot_info(&vm->mem, &cfg, &reason);
	if (err < 0) {
		fprintf(stderr, "boot info: %s\n", reason);
		return 1;
	}
	err = pvh_setup_vcpu(vcpu->acc, img.pvh_entry);
	if (err < 0) {
		fprintf(stderr, "vcpu setup: %s\n", strerror(-err));
		return 1;
	}
	err = vcpu_run(vcpu, &why);
	alarm(0);
	if (err < 0) {
		fprintf(stderr, "vcpu_run: %s\n", strerror(-err));
		failures++;
	} else {
		CHECK_EQ(why, VCPU_STOP_HLT);
	}
	check_reports(&rec);
	vcpu_destroy(vcpu);
	vm_destroy(vm);
	if (failures) {
		fprintf(stderr, "%d check(s) failed (%u reports)\n", failures,
			rec.nr_reports);
		return 1;
	}
	printf("pvh boot: guest saw magic, version, memmap (%u entries), "
	       "initrd module and command line as built\n",
	       rec.reports[8]);
	return 0;
}
