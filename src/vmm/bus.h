/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port-I/O and MMIO buses: address ranges owned by devices, and dispatch
 * of one guest access to the owner. Devices see an offset into their
 * range and little-endian bytes, never an accelerator type.
 *
 * Ranges are registered before vCPUs run; dispatch may then run on any
 * number of vCPU threads at once (devices do their own locking).
 */
#ifndef LG_VMM_BUS_H
#define LG_VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A device's handlers: 0, or a negative errno for a failure of the VMM
 * (not of the guest: a guest's bad access is the device's to ignore).
 * A NULL handler reads as all-ones / ignores writes.
 */
struct bus_device_ops {
	const char *name;
	int (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
	int (*write)(void *opaque, uint64_t offset, const uint8_t *data,
		     uint32_t len);
};

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_device_ops *ops;
	void *opaque;
};

struct bus_stats {
	uint64_t unhandled_reads;  /* no device: the guest read all-ones */
	uint64_t unhandled_writes; /* no device: the write was dropped */
};

struct bus {
	const char *name;
	uint64_t last;		  /* highest valid address */
	struct bus_range *ranges; /* sorted by base, never overlapping */
	unsigned int nr_ranges;
	unsigned int cap_ranges;
	struct bus_stats stats; /* updated atomically */
};

#define BUS_PIO_LAST 0xffffull
#define BUS_MMIO_LAST UINT64_MAX
#define BUS_MAX_ACCESS 8u

void bus_init(struct bus *bus, const char *name, uint64_t last);
void bus_free(struct bus *bus);

/* -EINVAL: empty or beyond the bus; -EEXIST: overlaps a range. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len,
		 const struct bus_device_ops *ops, void *opaque);

/* The range holding [addr, addr + len), or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr,
				 uint32_t len);

/*
 * One access of 1..BUS_MAX_ACCESS bytes. An access no device owns
 * entirely is counted; a read of it returns all-ones. Returns the
 * device's error, or -EINVAL for a bad length.
 */
int bus_access(struct bus *bus, uint64_t addr, uint8_t *data, uint32_t len,
	       bool is_write);

void bus_get_stats(const struct bus *bus, struct bus_stats *stats);

#endif
