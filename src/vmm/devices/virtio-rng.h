/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng (virtio 1.x section 5.4), Firecracker's "entropy" device:
 * one request queue whose device-writable buffers are filled from the
 * host's getrandom(). Requests are served on the notifying vCPU thread.
 */
#ifndef LG_VMM_DEVICES_VIRTIO_RNG_H
#define LG_VMM_DEVICES_VIRTIO_RNG_H

#include "vmm/memory.h"
#include "vmm/virtio/mmio.h"

#include <stdint.h>

#define VIRTIO_ID_RNG 4u
#define VIRTIO_RNG_QUEUE_SIZE 256u
/* Most bytes given for one request: a guest cannot hold the vCPU long. */
#define VIRTIO_RNG_MAX_REQUEST (64u * 1024)

struct virtio_rng;

int virtio_rng_create(const struct vm_mem *mem, virtio_irq_fn irq,
		      void *irq_opaque, struct virtio_rng **out);
void virtio_rng_destroy(struct virtio_rng *rng);

/* The transport to register on the MMIO bus. */
struct virtio_mmio *virtio_rng_mmio(struct virtio_rng *rng);

/* Bytes handed to the guest so far. */
uint64_t virtio_rng_bytes(struct virtio_rng *rng);

#endif
