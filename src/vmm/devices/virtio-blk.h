/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk (virtio 1.x section 5.2) on a raw host file, as
 * Firecracker's block device with its Sync engine: requests run
 * synchronously on the notifying vCPU thread.
 *
 * Offered: VIRTIO_BLK_F_RO for a read-only drive, VIRTIO_BLK_F_FLUSH
 * when asked (Firecracker's cache_type Writeback). Requests: IN, OUT,
 * FLUSH (fdatasync), GET_ID (the drive id, NUL-padded to 20 bytes);
 * anything else is UNSUPP. Every request's range is checked against the
 * capacity (the file size at open, in 512-byte sectors, rounded down):
 * a request outside it, or not a whole number of sectors, fails with
 * IOERR and never reaches the file. A chain without a writable status
 * byte is returned unused; one with a short header gets IOERR.
 */
#ifndef LG_VMM_DEVICES_VIRTIO_BLK_H
#define LG_VMM_DEVICES_VIRTIO_BLK_H

#include "vmm/memory.h"
#include "vmm/virtio/mmio.h"

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_ID_BLOCK 2u
#define VIRTIO_BLK_QUEUE_SIZE 256u
#define VIRTIO_BLK_SECTOR_SIZE 512u
#define VIRTIO_BLK_ID_BYTES 20u

/* Feature bits (5.2.3). */
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_FLUSH 9

/* Request types and status values (5.2.6). */
#define VIRTIO_BLK_T_IN 0u
#define VIRTIO_BLK_T_OUT 1u
#define VIRTIO_BLK_T_FLUSH 4u
#define VIRTIO_BLK_T_GET_ID 8u
#define VIRTIO_BLK_S_OK 0u
#define VIRTIO_BLK_S_IOERR 1u
#define VIRTIO_BLK_S_UNSUPP 2u

struct virtio_blk_params {
	const char *path;     /* the backing file */
	const char *drive_id; /* GET_ID answer; may be NULL */
	bool read_only;
	bool flush; /* offer VIRTIO_BLK_F_FLUSH (cache_type Writeback) */
};

struct virtio_blk_stats {
	uint64_t reads, writes, flushes;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;  /* requests answered IOERR or UNSUPP */
	uint64_t dropped; /* chains without a status byte */
};

struct virtio_blk;

/* Opens the file (O_RDONLY for a read-only drive). 0 or a negative errno. */
int virtio_blk_create(const struct virtio_blk_params *params,
		      const struct vm_mem *mem, virtio_irq_fn irq,
		      void *irq_opaque, struct virtio_blk **out);
void virtio_blk_destroy(struct virtio_blk *blk);

struct virtio_mmio *virtio_blk_mmio(struct virtio_blk *blk);

/* Capacity in sectors. */
uint64_t virtio_blk_capacity(struct virtio_blk *blk);
void virtio_blk_get_stats(struct virtio_blk *blk, struct virtio_blk_stats *st);

/*
 * PATCH /drives: switches to another backing file (same read-only mode),
 * rereads its size and sends a config-change interrupt. Any thread.
 * 0, or a negative errno with the old file kept.
 */
int virtio_blk_update_path(struct virtio_blk *blk, const char *path);

#endif
