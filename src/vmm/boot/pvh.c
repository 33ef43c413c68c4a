/* SPDX-License-Identifier: Apache-2.0 */
/* PVH boot structures and vCPU entry state (see pvh.h). */
#include "vmm/boot/pvh.h"

#include <assert.h>
#include <errno.h>
#include <string.h>

static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info ABI");
static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist ABI");
static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap ABI");
static_assert(PVH_START_INFO_ADDR + sizeof(struct hvm_start_info) <=
		      PVH_MODLIST_ADDR,
	      "start info overlaps the module list");

/* Everything below this is boot structures (the cmdline area's end). */
#define PVH_BOOT_AREA_END (PVH_CMDLINE_ADDR + PVH_CMDLINE_MAX)

static int fail(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

/* A flat (base 0, limit 4 GiB) 32-bit descriptor with access byte. */
static uint64_t gdt_flat32(uint8_t access)
{
	/* limit 0xfffff, G=1, D/B=1 */
	return 0xffffull | (uint64_t)access << 40 | 0xfull << 48 | 0xcull << 52;
}

int pvh_write_boot_info(const struct vm_mem *mem, const struct pvh_config *cfg,
			const char **why)
{
	struct hvm_memmap_table_entry map[E820_MAX_ENTRIES];
	struct e820_entry e820[E820_MAX_ENTRIES];
	struct hvm_start_info si = {0};
	struct hvm_modlist_entry mod = {0};
	/* 0x10: code, exec/read; 0x18: data, read/write (both accessed). */
	const uint64_t gdt[4] = {0, 0, gdt_flat32(0x9b), gdt_flat32(0x93)};
	const char *cmdline = cfg->cmdline ? cfg->cmdline : "";
	size_t cmdlen = strnlen(cmdline, PVH_CMDLINE_MAX);
	unsigned int nr, i;

	if (cmdlen >= PVH_CMDLINE_MAX)
		return fail(why, "kernel command line too long", -EINVAL);
	if (e820_build(cfg->ram_size, e820, E820_MAX_ENTRIES, &nr) < 0)
		return fail(why, "bad RAM size for the memory map", -EINVAL);
	if (cfg->initrd_size) {
		uint64_t end = cfg->initrd_paddr + cfg->initrd_size;

		if (end < cfg->initrd_paddr ||
		    !vm_mem_ptr(mem, cfg->initrd_paddr, cfg->initrd_size))
			return fail(why, "initrd outside guest RAM", -EINVAL);
		if (cfg->initrd_paddr < PVH_BOOT_AREA_END)
			return fail(why, "initrd overlaps the boot structures",
				    -EINVAL);
	}

	for (i = 0; i < nr; i++)
		map[i] = (struct hvm_memmap_table_entry){
			.addr = e820[i].addr,
			.size = e820[i].size,
			.type = e820[i].type == E820_RAM
					? XEN_HVM_MEMMAP_TYPE_RAM
					: XEN_HVM_MEMMAP_TYPE_RESERVED,
		};
	si.magic = XEN_HVM_START_MAGIC_VALUE;
	si.version = 1;
	si.cmdline_paddr = PVH_CMDLINE_ADDR;
	si.rsdp_paddr = 0;
	si.memmap_paddr = PVH_MEMMAP_ADDR;
	si.memmap_entries = nr;
	if (cfg->initrd_size) {
		mod.paddr = cfg->initrd_paddr;
		mod.size = cfg->initrd_size;
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_ADDR;
	}

	if (vm_mem_write(mem, PVH_GDT_ADDR, gdt, sizeof(gdt)) < 0 ||
	    vm_mem_write(mem, PVH_START_INFO_ADDR, &si, sizeof(si)) < 0 ||
	    vm_mem_write(mem, PVH_MODLIST_ADDR, &mod, sizeof(mod)) < 0 ||
	    vm_mem_write(mem, PVH_MEMMAP_ADDR, map, nr * sizeof(map[0])) < 0 ||
	    vm_mem_write(mem, PVH_CMDLINE_ADDR, cmdline, cmdlen + 1) < 0)
		return fail(why, "guest RAM too small for the PVH boot area",
			    -EFAULT);
	return 0;
}

static struct x86_segment seg_flat32(uint16_t selector, uint8_t type)
{
	return (struct x86_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = selector,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = 1,
		.s = 1,
		.l = 0,
		.g = 1,
	};
}

int pvh_setup_vcpu(struct accel_vcpu *vcpu, uint64_t entry)
{
	struct x86_regs r = {0};
	struct x86_sregs s;
	struct x86_segment data = seg_flat32(PVH_SEL_DATA, 0x3);
	int err;

	if (entry >= 0x100000000ull)
		return -EINVAL;
	err = accel_vcpu_get_sregs(vcpu, &s);
	if (err < 0)
		return err;
	/* TR and LDT keep the reset state the accelerator reported. */
	s.cs = seg_flat32(PVH_SEL_CODE, 0xb);
	s.ds = data;
	s.es = data;
	s.fs = data;
	s.gs = data;
	s.ss = data;
	s.gdt = (struct x86_dtable){.base = PVH_GDT_ADDR, .limit = 4 * 8 - 1};
	s.idt = (struct x86_dtable){.base = 0, .limit = 0};
	s.cr0 = X86_CR0_PE;
	s.cr2 = 0;
	s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	err = accel_vcpu_set_sregs(vcpu, &s);
	if (err < 0)
		return err;
	r.rip = entry;
	r.rbx = PVH_START_INFO_ADDR;
	r.rflags = X86_RFLAGS_RESERVED1;
	return accel_vcpu_set_regs(vcpu, &r);
}
