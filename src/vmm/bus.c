/* SPDX-License-Identifier: Apache-2.0 */
/* Address-range dispatch for the PIO and MMIO buses. */
#include "vmm/bus.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name, uint64_t last)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	bus->last = last;
}

void bus_free(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr_ranges = 0;
	bus->cap_ranges = 0;
}

static int bus_grow(struct bus *bus)
{
	unsigned int cap = bus->cap_ranges ? bus->cap_ranges * 2 : 8;
	struct bus_range *r;

	if (cap > 4096)
		return -ENOSPC;
	r = realloc(bus->ranges, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	bus->ranges = r;
	bus->cap_ranges = cap;
	return 0;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_device_ops *ops, void *opaque)
{
	unsigned int i;
	int err;

	if (len == 0 || base > bus->last || len - 1 > bus->last - base) {
		lg_err("vmm: %s: %s range %#llx+%#llx out of bounds", bus->name,
		       ops->name, (unsigned long long)base,
		       (unsigned long long)len);
		return -EINVAL;
	}
	/* First range ending at or after base: the insertion point. */
	for (i = 0; i < bus->nr_ranges; i++) {
		const struct bus_range *r = &bus->ranges[i];

		if (r->base + (r->len - 1) >= base)
			break;
	}
	if (i < bus->nr_ranges && bus->ranges[i].base <= base + (len - 1)) {
		lg_err("vmm: %s: %s range %#llx+%#llx overlaps %s", bus->name,
		       ops->name, (unsigned long long)base,
		       (unsigned long long)len, bus->ranges[i].ops->name);
		return -EEXIST;
	}
	if (bus->nr_ranges == bus->cap_ranges) {
		err = bus_grow(bus);
		if (err < 0)
			return err;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i],
		(bus->nr_ranges - i) * sizeof(bus->ranges[0]));
	bus->ranges[i] = (struct bus_range){base, len, ops, opaque};
	bus->nr_ranges++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr,
				 uint32_t len)
{
	unsigned int lo = 0, hi = bus->nr_ranges;

	if (len == 0)
		return NULL;
	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			/* The whole access must be the device's. */
			if (len > r->len - (addr - r->base))
				return NULL;
			return r;
		}
	}
	return NULL;
}

int bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
	       bool is_write)
{
	const struct bus_range *r;
	uint64_t off;

	if (len == 0 || len > BUS_MAX_ACCESS)
		return -EINVAL;
	r = bus_find(bus, addr, len);
	if (!r) {
		if (is_write) {
			__atomic_add_fetch(&bus->stats.unhandled_writes, 1,
					   __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&bus->stats.unhandled_reads, 1,
					   __ATOMIC_RELAXED);
			memset(data, 0xff, len);
		}
		return 0;
	}
	off = addr - r->base;
	if (is_write)
		return r->ops->write ? r->ops->write(r->opaque, off, data, len)
				     : 0;
	if (!r->ops->read) {
		memset(data, 0xff, len);
		return 0;
	}
	return r->ops->read(r->opaque, off, data, len);
}

void bus_get_stats(const struct bus *bus, struct bus_stats *stats)
{
	stats->unhandled_reads =
		__atomic_load_n(&bus->stats.unhandled_reads, __ATOMIC_RELAXED);
	stats->unhandled_writes =
		__atomic_load_n(&bus->stats.unhandled_writes, __ATOMIC_RELAXED);
}
