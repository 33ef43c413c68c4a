/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The x86 guest-physical layout for a RAM size, as e820 entries:
 *
 *   [0, 0x9fc00)          RAM
 *   [0x9fc00, 1 MiB)      reserved: the last KiB below 640 KiB is the
 *                         EBDA, where the MP table lives (mptable.h; Linux
 *                         scans that KiB for it), then the legacy VGA/ROM
 *                         hole
 *   [1 MiB, min(size, 3 GiB))   RAM
 *   [3 GiB, 4 GiB)        not listed: 32-bit MMIO/PCI hole
 *   [4 GiB, 4 GiB + size - 3 GiB)  RAM, when size > 3 GiB
 *
 * "size" counts every byte of guest RAM, including the 0x9fc00-1 MiB
 * window (backed, but reported reserved).
 */
#ifndef LG_VMM_BOOT_E820_H
#define LG_VMM_BOOT_E820_H

#include <stdint.h>

#define E820_RAM 1u
#define E820_RESERVED 2u

/* The EBDA: the last KiB below 640 KiB, reserved for the MP table. */
#define E820_EBDA_START 0x9fc00ull
#define E820_LOW_RAM_END E820_EBDA_START
#define E820_HIGH_RAM_START 0x100000ull	   /* 1 MiB */
#define E820_MMIO_HOLE_START 0xc0000000ull /* 3 GiB */
#define E820_MMIO_HOLE_END 0x100000000ull  /* 4 GiB */

/* Smallest RAM size accepted: low RAM, the hole and 1 MiB above it. */
#define E820_MIN_RAM (2ull << 20)
/* Largest: the end of guest-physical RAM stays within 1 TiB. */
#define E820_MAX_RAM                                                           \
	((1ull << 40) - (E820_MMIO_HOLE_END - E820_MMIO_HOLE_START))

#define E820_MAX_ENTRIES 4u

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/*
 * Fills out[0..*nr) with the layout for ram_size bytes (page aligned,
 * E820_MIN_RAM..E820_MAX_RAM). -EINVAL for a bad size, -ENOSPC when max
 * entries do not hold it.
 */
int e820_build(uint64_t ram_size, struct e820_entry *out, unsigned int max,
	       unsigned int *nr);

/*
 * The guest-physical RAM regions backing that layout (for vm_mem_add):
 * [0, min(size, 3 GiB)) and, above 3 GiB, [4 GiB, 4 GiB + size - 3 GiB).
 * Returns the number of regions (1 or 2) or -EINVAL.
 */
int e820_ram_regions(uint64_t ram_size, uint64_t gpa[2], uint64_t size[2]);

#endif
