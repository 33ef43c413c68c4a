/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 64-bit Linux boot protocol under KVM: loads the fake bzImage test
 * guest and an initrd through the bzImage loader into a 256 MiB VM,
 * writes the MP table, starts the vCPU at the 64-bit entry and checks
 * what the guest reports about boot_params, its CPU state, the initrd
 * and the MP table. Exits 77 (skip) without KVM. A 20 s alarm bounds
 * the whole run.
 */
#include "../check.h"
#include "boot-rig.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/mptable.h"
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
#define CMDLINE "console=ttyS0 reboot=k panic=1 lg.test=\"bz boot\""
#define INITRD_SIZE 0x23456u
#define KERNEL_MAGIC 0x4c47425au

static uint8_t mp_table_sum(const struct vm_mem *mem)
{
	const uint8_t *mpf = vm_mem_ptr(mem, MPTABLE_ADDR, 16);
	uint32_t ptr;
	uint16_t len;
	const uint8_t *t;
	uint8_t sum = 0;

	memcpy(&ptr, mpf + 4, 4);
	t = vm_mem_ptr(mem, ptr, 8);
	memcpy(&len, t + 4, 2);
	while (len--)
		sum += *t++;
	return sum;
}

static void check_reports(struct rig_recorder *r,
			  const struct bzimage_info *info, uint32_t syssize)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	unsigned int nr, i = 0, k;
	uint32_t v;

	CHECK(r->exited);
	CHECK_EQ(r->exit_code, 0x600d);
	CHECK_EQ(r->overflow, 0);
	CHECK_EQ(rig_next(r, &i), BZ_BOOT_PARAMS_ADDR); /* rsi */
	CHECK_EQ(rig_next(r, &i), 0);
	CHECK_EQ(rig_next(r, &i), BZ_STACK_TOP);
	CHECK_EQ(rig_next(r, &i) & 0xffff, BZ_SEL_CODE);
	CHECK_EQ(rig_next(r, &i) & 0xffff, BZ_SEL_DATA);
	CHECK_EQ(rig_next(r, &i) & 0xffff, BZ_SEL_DATA);
	CHECK_EQ(rig_next(r, &i) & 0xffff, BZ_SEL_DATA);
	v = rig_next(r, &i); /* cr0: PE and PG */
	CHECK_EQ(v & 0x80000001u, 0x80000001u);
	CHECK_EQ(rig_next(r, &i), BZ_PML4_ADDR);
	CHECK_EQ(rig_next(r, &i) & 0x20, 0x20); /* cr4.PAE */
	v = rig_next(r, &i);			/* efer: LME, LMA */
	CHECK_EQ(v & 0x500, 0x500);
	CHECK_EQ(rig_next(r, &i) & 0x200, 0); /* rflags.IF clear */

	CHECK_EQ(rig_next(r, &i), BZ_HDRS_MAGIC);
	CHECK_EQ(rig_next(r, &i), 0x020f);
	CHECK_EQ(rig_next(r, &i), BZ_LOADER_TYPE);
	CHECK_EQ(rig_next(r, &i), BZ_LOADED_HIGH);
	CHECK_EQ(rig_next(r, &i), BZ_CMDLINE_ADDR);
	CHECK_EQ(rig_next(r, &i), info->initrd_addr);
	CHECK_EQ(rig_next(r, &i), INITRD_SIZE);
	CHECK_EQ(rig_next(r, &i), 0); /* ext_ramdisk_image */
	CHECK_EQ(rig_next(r, &i), 1); /* setup_sects */
	CHECK_EQ(rig_next(r, &i), syssize);
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
	CHECK_EQ(rig_next(r, &i), KERNEL_MAGIC);
	CHECK_EQ(rig_next(r, &i), 0x03020100); /* initrd bytes 0..3 */
	v = INITRD_SIZE - 4;		       /* and its last 4 */
	CHECK_EQ(rig_next(r, &i),
		 (uint32_t)((v & 0xff) | ((v + 1) & 0xff) << 8 |
			    ((v + 2) & 0xff) << 16 |
			    (uint32_t)((v + 3) & 0xff) << 24));
	CHECK_EQ(rig_next(r, &i), 0x5f504d5f); /* "_MP_" */
	CHECK_EQ(rig_next(r, &i), 0);	       /* table bytes sum to 0 */
	CHECK_EQ(r->nr_reports, i);
	CHECK(r->cmdlen == sizeof(CMDLINE) &&
	      memcmp(r->cmdline, CMDLINE, sizeof(CMDLINE)) == 0);
}

/* Writes the initrd (byte i = i mod 256) to a temporary file. */
static int make_initrd(char *path)
{
	static uint8_t buf[INITRD_SIZE];
	unsigned int i;
	int fd = mkstemp(path);

	if (fd < 0)
		return -errno;
	for (i = 0; i < INITRD_SIZE; i++)
		buf[i] = (uint8_t)i;
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
		close(fd);
		unlink(path);
		return -EIO;
	}
	close(fd);
	return 0;
}

int main(void)
{
	static const uint8_t virtio_irqs[] = {5, 6, 7, 8, 9, 10, 11, 12};
	struct bzimage_config cfg = {.ram_size = RAM_SIZE, .cmdline = CMDLINE};
	struct mptable_config mp = {
		.nr_cpus = 2,
		.irqs = virtio_irqs,
		.nr_irqs = sizeof(virtio_irqs),
	};
	static struct rig_recorder rec;
	const char *reason = "?";
	const char *dir = getenv("LG_VMM_BOOT_GUEST_DIR");
	char path[4096], initrd[] = "/tmp/lg-bz-initrd-XXXXXX";
	struct bzimage_info info;
	struct vcpu *vcpu = NULL;
	struct vm *vm;
	uint32_t syssize;
	int err;

	if (!dir) {
		fprintf(stderr, "LG_VMM_BOOT_GUEST_DIR is not set\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/bz-guest.img", dir);
	err = rig_create(RAM_SIZE, &rec, &vm, &vcpu);
	if (err)
		return err;
	err = make_initrd(initrd);
	if (err < 0) {
		fprintf(stderr, "setup: %s\n", strerror(-err));
		return 1;
	}
	err = bzimage_load_file(&vm->mem, path, initrd, &cfg, &info, &reason);
	unlink(initrd);
	if (err < 0) {
		fprintf(stderr, "load %s: %s (%s)\n", path, reason,
			strerror(-err));
		return 1;
	}
	CHECK_EQ(info.entry, 0x100200);
	CHECK_EQ(info.initrd_addr, (RAM_SIZE - INITRD_SIZE) & ~0xfffull);
	syssize = (uint32_t)(info.kernel_size / 16);
	err = mptable_write(&vm->mem, &mp, &reason);
	if (err < 0) {
		fprintf(stderr, "mptable: %s\n", reason);
		return 1;
	}
	CHECK_EQ(mp_table_sum(&vm->mem), 0);
	err = bzimage_setup_vcpu(vcpu->acc, &info);
	if (err < 0) {
		fprintf(stderr, "vcpu setup: %s\n", strerror(-err));
		return 1;
	}
	if (!rig_run(vcpu))
		failures++;
	check_reports(&rec, &info, syssize);
	vcpu_destroy(vcpu);
	vm_destroy(vm);
	failures += (int)rec.missing;
	if (failures) {
		fprintf(stderr, "%d check(s) failed (%u reports)\n", failures,
			rec.nr_reports);
		return 1;
	}
	printf("bzImage boot: guest saw boot_params (loader 0xff, e820 %u "
	       "entries, initrd at %#llx), long mode and the MP table as "
	       "built\n",
	       rec.reports[22], (unsigned long long)info.initrd_addr);
	return 0;
}
