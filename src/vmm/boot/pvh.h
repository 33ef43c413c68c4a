/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PVH boot (Xen's direct boot ABI, which Linux supports with
 * CONFIG_PVH): the VMM loads the ELF, writes hvm_start_info, the memory
 * map and the command line into guest RAM and starts the vCPU at the
 * PHYS32_ENTRY point in 32-bit protected mode with paging off.
 *
 * Guest-physical layout of the boot structures (all below 640 KiB):
 *
 *   0x0500  GDT: null, null, 0x10 code (flat 4 GiB, exec/read),
 *           0x18 data (flat 4 GiB, read/write)
 *   0x6000  struct hvm_start_info
 *   0x6040  struct hvm_modlist_entry[1] (the initrd, when there is one)
 *   0x7000  struct hvm_memmap_table_entry[] (the e820 layout)
 *   0x20000 command line, NUL-terminated, at most PVH_CMDLINE_MAX bytes
 *           including the NUL
 */
#ifndef LG_VMM_BOOT_PVH_H
#define LG_VMM_BOOT_PVH_H

#include "vmm/accel/accel.h"
#include "vmm/boot/e820.h"
#include "vmm/memory.h"

#include <stdint.h>

#define PVH_GDT_ADDR 0x500ull
#define PVH_START_INFO_ADDR 0x6000ull
#define PVH_MODLIST_ADDR 0x6040ull
#define PVH_MEMMAP_ADDR 0x7000ull
#define PVH_CMDLINE_ADDR 0x20000ull
#define PVH_CMDLINE_MAX 4096u

#define PVH_SEL_CODE 0x10u
#define PVH_SEL_DATA 0x18u

#define XEN_HVM_START_MAGIC_VALUE 0x336ec578u
#define XEN_HVM_MEMMAP_TYPE_RAM 1u
#define XEN_HVM_MEMMAP_TYPE_RESERVED 2u

/* xen/include/public/arch-x86/hvm/start_info.h, version 1. */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;	 /* version >= 1 */
	uint32_t memmap_entries; /* version >= 1 */
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct pvh_config {
	uint64_t ram_size;     /* for the memory map (see e820.h) */
	const char *cmdline;   /* NULL: empty */
	uint64_t initrd_paddr; /* already in guest RAM; size 0: none */
	uint64_t initrd_size;
};

/*
 * Writes the GDT, start info, module list, memory map and command line
 * into mem. -EINVAL (bad RAM size, command line too long, initrd not
 * in RAM or overlapping the boot structures), -EFAULT (RAM too small
 * for the layout); *why names the reason when why is not NULL.
 */
int pvh_write_boot_info(const struct vm_mem *mem, const struct pvh_config *cfg,
			const char **why);

/*
 * Puts the vCPU at the PVH entry: CR0.PE, paging off, flat 32-bit CS
 * (0x10) and DS/ES/FS/GS/SS (0x18) from the GDT above, IDT limit 0,
 * EFLAGS 0x2, EBX = start info, EIP = entry, other registers 0.
 */
int pvh_setup_vcpu(struct accel_vcpu *vcpu, uint64_t entry);

#endif
