/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bzImage loader for the 64-bit Linux boot protocol (Documentation/
 * arch/x86/boot.rst, protocol 2.12 or later with XLF_KERNEL_64): copies
 * the protected-mode kernel to 1 MiB, places the initrd as high as the
 * kernel allows, writes the command line, the boot_params ("zero page")
 * with the kernel's setup header and the e820 map, a GDT and identity
 * page tables, and puts the vCPU at the 64-bit entry (kernel + 0x200)
 * with RSI = boot_params.
 *
 * Everything read from the image is checked before use; nothing is
 * written to guest memory unless the image, the initrd and the command
 * line all fit.
 *
 * Guest-physical layout (below the EBDA, see e820.h):
 *
 *   0x0500   GDT: null, null, 0x10 code (64-bit, flat), 0x18 data (flat)
 *   0x7000   struct bz_boot_params (4 KiB)
 *   0x8ff0   initial RSP (the kernel sets its own stack at once)
 *   0x9000   PML4, 0xa000 PDPT, 0xb000-0xefff four page directories:
 *            [0, 4 GiB) identity-mapped with 2 MiB pages, supervisor
 *   0x20000  command line, NUL-terminated, at most BZ_CMDLINE_MAX bytes
 *            including the NUL
 *   1 MiB    protected-mode kernel; [1 MiB, kernel_end) stays the
 *            kernel's (init_size, see struct bzimage_info)
 *   high     the initrd, page aligned, ending at or below
 *            min(initrd_addr_max + 1, RAM end below the 3 GiB hole)
 */
#ifndef LG_VMM_BOOT_BZIMAGE_H
#define LG_VMM_BOOT_BZIMAGE_H

#include "vmm/accel/accel.h"
#include "vmm/memory.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BZ_GDT_ADDR 0x500ull
#define BZ_BOOT_PARAMS_ADDR 0x7000ull
#define BZ_STACK_TOP 0x8ff0ull
#define BZ_PML4_ADDR 0x9000ull
#define BZ_PDPT_ADDR 0xa000ull
#define BZ_PD_ADDR 0xb000ull
#define BZ_MAP_SIZE (4ull << 30)
#define BZ_CMDLINE_ADDR 0x20000ull
#define BZ_CMDLINE_MAX 4096u
#define BZ_KERNEL_ADDR 0x100000ull
#define BZ_ENTRY_64_OFFSET 0x200ull

#define BZ_SEL_CODE 0x10u /* __BOOT_CS */
#define BZ_SEL_DATA 0x18u /* __BOOT_DS */

#define BZ_BOOT_FLAG 0xaa55u
#define BZ_HDRS_MAGIC 0x53726448u /* "HdrS" */
#define BZ_MIN_VERSION 0x020cu	  /* 2.12: xloadflags */
#define BZ_LOADER_TYPE 0xffu	  /* "undefined" boot loader */
#define BZ_LOADED_HIGH 0x01u	  /* loadflags: kernel at 1 MiB */
#define BZ_XLF_KERNEL_64 0x01u	  /* xloadflags: 64-bit entry at +0x200 */
#define BZ_DEFAULT_SETUP_SECTS 4u /* setup_sects 0 means 4 */
#define BZ_MAX_E820 128u

/* struct setup_header, at 0x1f1 in the image and in boot_params. */
struct bz_setup_header {
	uint8_t setup_sects; /* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize; /* protected-mode code, 16-byte units */
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag; /* 0x1fe: 0xaa55 */
	uint16_t jump;	    /* 0x200: the byte at 0x201 gives the header end */
	uint32_t header;    /* 0x202: "HdrS" */
	uint16_t version;   /* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader; /* 0x210 */
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;	/* 0x214 */
	uint32_t ramdisk_image; /* 0x218 */
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;	  /* 0x228 */
	uint32_t initrd_addr_max; /* 0x22c: highest initrd byte */
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;   /* 0x236 */
	uint32_t cmdline_size; /* 0x238: without the NUL */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address; /* 0x258 */
	uint32_t init_size;    /* 0x260 */
	uint32_t handover_offset;
	uint32_t kernel_info_offset; /* 0x268, 2.15 */
} __attribute__((packed));

struct bz_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* struct boot_params (the "zero page"), with the fields we fill named. */
struct bz_boot_params {
	uint8_t pad0[0x0c0];
	uint32_t ext_ramdisk_image; /* 0x0c0 */
	uint32_t ext_ramdisk_size;  /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;  /* 0x0c8 */
	uint8_t pad1[0x1e8 - 0x0cc];
	uint8_t e820_entries; /* 0x1e8 */
	uint8_t pad2[0x1f1 - 0x1e9];
	struct bz_setup_header hdr; /* 0x1f1 */
	uint8_t pad3[0x2d0 - 0x1f1 - sizeof(struct bz_setup_header)];
	struct bz_e820_entry e820_table[BZ_MAX_E820]; /* 0x2d0 */
	uint8_t pad4[0x1000 - 0x2d0 - BZ_MAX_E820 * 20];
} __attribute__((packed));

struct bzimage_config {
	uint64_t ram_size;   /* for the e820 map (see e820.h) */
	const char *cmdline; /* NULL: empty */
	const void *initrd;  /* copied into guest RAM; size 0: none */
	uint64_t initrd_size;
};

struct bzimage_info {
	uint16_t version;     /* boot protocol, e.g. 0x020f */
	uint64_t kernel_addr; /* BZ_KERNEL_ADDR */
	uint64_t kernel_size; /* bytes copied (syssize * 16) */
	uint64_t kernel_end;  /* end of the memory the kernel claims */
	uint64_t entry;	      /* 64-bit entry: kernel_addr + 0x200 */
	uint64_t boot_params; /* BZ_BOOT_PARAMS_ADDR */
	uint64_t initrd_addr; /* 0 when there is no initrd */
	uint64_t initrd_size;
};

/* True if buf looks like a bzImage (boot flag and "HdrS"); no checks. */
bool bzimage_detect(const void *buf, size_t len);

/* The same for a file's start: 1 yes, 0 no, or a negative errno. */
int bzimage_detect_file(const char *path);

/*
 * Validates image[0..len), then writes kernel, initrd, command line,
 * boot_params, GDT and page tables into mem (RAM from guest-physical 0).
 * 0, or -ENOEXEC (not a valid 64-bit bzImage), -EINVAL (bad RAM size,
 * command line too long), -ENOSPC (initrd does not fit), -EFAULT (guest
 * RAM too small for the kernel or the boot structures); *why (when why
 * is not NULL) then names the reason.
 */
int bzimage_load(const struct vm_mem *mem, const void *image, size_t len,
		 const struct bzimage_config *cfg, struct bzimage_info *info,
		 const char **why);

/*
 * The same from files; initrd_path NULL: none (cfg->initrd is ignored).
 * Other errors are the files' (negative errno).
 */
int bzimage_load_file(const struct vm_mem *mem, const char *path,
		      const char *initrd_path, const struct bzimage_config *cfg,
		      struct bzimage_info *info, const char **why);

/*
 * Puts the vCPU at the 64-bit entry: long mode with paging (CR3 = the
 * PML4 above, CR4.PAE, EFER.LME|LMA), CS 0x10 (64-bit), DS/ES/FS/GS/SS
 * 0x18, GDT above, IDT limit 0, interrupts off, RIP = info->entry,
 * RSI = boot_params, RSP = BZ_STACK_TOP, other registers 0.
 */
int bzimage_setup_vcpu(struct accel_vcpu *vcpu,
		       const struct bzimage_info *info);

#endif
