/* SPDX-License-Identifier: Apache-2.0 */
/* The guest-physical e820 layout (see e820.h). */
#include "vmm/boot/e820.h"

#include <errno.h>

#define E820_PAGE 4096ull

static int e820_check_size(uint64_t ram_size)
{
	if (ram_size < E820_MIN_RAM || ram_size > E820_MAX_RAM ||
	    ram_size % E820_PAGE)
		return -EINVAL;
	return 0;
}

int e820_build(uint64_t ram_size, struct e820_entry *out, unsigned int max,
	       unsigned int *nr)
{
	struct e820_entry e[E820_MAX_ENTRIES];
	unsigned int n = 0, i;
	uint64_t below;

	*nr = 0;
	if (e820_check_size(ram_size) < 0)
		return -EINVAL;
	below = ram_size < E820_MMIO_HOLE_START ? ram_size
						: E820_MMIO_HOLE_START;
	e[n++] = (struct e820_entry){0, E820_LOW_RAM_END, E820_RAM};
	e[n++] = (struct e820_entry){E820_LOW_RAM_END,
				     E820_HIGH_RAM_START - E820_LOW_RAM_END,
				     E820_RESERVED};
	e[n++] = (struct e820_entry){E820_HIGH_RAM_START,
				     below - E820_HIGH_RAM_START, E820_RAM};
	if (ram_size > below)
		e[n++] = (struct e820_entry){E820_MMIO_HOLE_END,
					     ram_size - below, E820_RAM};
	if (n > max)
		return -ENOSPC;
	for (i = 0; i < n; i++)
		out[i] = e[i];
	*nr = n;
	return 0;
}

int e820_ram_regions(uint64_t ram_size, uint64_t gpa[2], uint64_t size[2])
{
	if (e820_check_size(ram_size) < 0)
		return -EINVAL;
	gpa[0] = 0;
	if (ram_size <= E820_MMIO_HOLE_START) {
		size[0] = ram_size;
		return 1;
	}
	size[0] = E820_MMIO_HOLE_START;
	gpa[1] = E820_MMIO_HOLE_END;
	size[1] = ram_size - E820_MMIO_HOLE_START;
	return 2;
}
