/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot state of a virtio-mmio transport: status, features, selector
 * registers, interrupt status and, per queue, its configuration and ring
 * positions (ready, last_avail, used_idx, heads in flight). The backend's
 * own state (a disk's in-flight requests, a socket's connections) is the
 * backend's section, not this one.
 *
 * The blob starts with a u32 layout version; restore refuses another, and
 * refuses a device that does not offer what was saved (other device id,
 * queue count, queue sizes or offered features).
 */
#ifndef LG_VMM_VIRTIO_MMIO_STATE_H
#define LG_VMM_VIRTIO_MMIO_STATE_H

#include "vmm/virtio/mmio.h"

#include <stddef.h>
#include <stdint.h>

#define VIRTIO_MMIO_STATE_VERSION 1u
#define VIRTIO_MMIO_STATE_SIZE 1024u /* room for any blob */

/* Lock not held by the caller. 0 and *len, or -ENOSPC. */
int virtio_mmio_save(struct virtio_mmio *dev, uint8_t *buf, size_t size,
		     size_t *len);

/*
 * Into a device just set up by virtio_mmio_init() with the same backend
 * and queue sizes, in a VM whose RAM already holds the snapshot and whose
 * interrupt controller is restored. Ready queues are re-enabled over the
 * rings in guest RAM: where a ring no longer lies in RAM, the queue is
 * broken and the device asks the guest for a reset (DEVICE_NEEDS_RESET);
 * that is not an error of the restore. A device with DRIVER_OK gets its
 * backend's activate() again, then a pending interrupt is raised again.
 * Restore the backend's own section after this one.
 *
 * -EINVAL: malformed blob or one for another device; dev is unchanged.
 */
int virtio_mmio_restore(struct virtio_mmio *dev, const uint8_t *buf,
			size_t len);

#endif
