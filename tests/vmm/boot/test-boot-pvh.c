/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PVH boot under KVM: loads the ELF64 test guest through the ELF loader,
 * writes the PVH start info for a 256 MiB VM and runs the guest from its
 * PHYS32_ENTRY note; the guest reports what it received over PIO.
 * Exits 77 (skip) without KVM. A 20 s alarm bounds the whole run.
 */
#include "../check.h"
#include "boot-rig.h"
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
#define CMDLINE "console=ttyS0 reboot=k panic=1 lg.test=\"pvh boot\""
#define INITRD_ADDR 0x800000ull
#define INITRD_SIZE 0x12345ull

static void check_reports(struct rig_recorder *r)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	unsigned int nr, i = 0, k;

	CHECK(r->exited);
	CHECK_EQ(r->exit_code, 0x600d);
	CHECK_EQ(r->overflow, 0);
	CHECK_EQ(rig_next(r, &i), XEN_HVM_START_MAGIC_VALUE);
	CHECK_EQ(rig_next(r, &i), 1); /* version */
	CHECK_EQ(rig_next(r, &i), 0); /* flags */
	CHECK_EQ(rig_next(r, &i), 1); /* nr_modules */
	CHECK_EQ(rig_next(r, &i), (uint32_t)INITRD_ADDR);
	CHECK_EQ(rig_next(r, &i), INITRD_ADDR >> 32);
	CHECK_EQ(rig_next(r, &i), (uint32_t)INITRD_SIZE);
	CHECK_EQ(rig_next(r, &i), INITRD_SIZE >> 32);
	CHECK_EQ(e820_build(RAM_SIZE, e, E820_MAX_ENTRIES, &nr), 0);
	CHECK_EQ(rig_next(r, &i), nr);
	for (k = 0; k < nr; k++) {
		uint64_t addr = rig_next(r, &i);
		uint64_t size;

		addr |= (uint64_t)rig_next(r, &i) << 32;
		size = rig_next(r, &i);
		size |= (uint64_t)rig_next(r, &i) << 32;
		CHECK_EQ(addr, e[k].addr);
		CHECK_EQ(size, e[k].size);
		CHECK_EQ(rig_next(r, &i), e[k].type);
	}
	CHECK_EQ(rig_next(r, &i) & 0xffff, PVH_SEL_CODE);
	CHECK_EQ(rig_next(r, &i) & 0xffff, PVH_SEL_DATA);
	CHECK_EQ(rig_next(r, &i) & 0xffff, PVH_SEL_DATA);
	k = rig_next(r, &i); /* cr0: PE set, PG clear */
	CHECK_EQ(k & 1, 1);
	CHECK_EQ(k >> 31, 0);
	CHECK_EQ(rig_next(r, &i), 0); /* bss zeroed by the loader */
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
	static struct rig_recorder rec;
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
	err = rig_create(RAM_SIZE, &rec, &vm, &vcpu);
	if (err)
		return err;
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
	if (!rig_run(vcpu))
		failures++;
	check_reports(&rec);
	vcpu_destroy(vcpu);
	vm_destroy(vm);
	failures += (int)rec.missing;
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
