/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock (virtio 1.x section 5.10) with Firecracker's host side:
 * guest ports map to host Unix sockets (see vsock-muxer.h for the
 * protocol). Queues: 0 RX, 1 TX, 2 event; config space: guest_cid (le64).
 *
 * Threads: queue notifications (vCPU threads) only wake the event loop
 * through an eventfd; all packet processing and every socket operation
 * happen on the event loop's thread, with the transport lock held while
 * the queues are touched. A reset of the running device ends the
 * connections the guest knew of (on the loop thread, before anything
 * else is processed); see vsock_muxer_reset().
 */
#ifndef LG_VMM_DEVICES_VIRTIO_VSOCK_H
#define LG_VMM_DEVICES_VIRTIO_VSOCK_H

#include "vmm/devices/vsock-muxer.h"
#include "vmm/event-loop.h"
#include "vmm/memory.h"
#include "vmm/virtio/mmio.h"

#include <stdint.h>

#define VIRTIO_ID_VSOCK 19u
#define VIRTIO_VSOCK_QUEUE_SIZE 256u
#define VIRTIO_VSOCK_RXQ 0u
#define VIRTIO_VSOCK_TXQ 1u
#define VIRTIO_VSOCK_EVQ 2u
#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0u

struct virtio_vsock_params {
	uint64_t guest_cid; /* >= 3 */
	const char *uds_path;
};

struct virtio_vsock_stats {
	uint64_t tx_pkts, rx_pkts;
	uint64_t bad_tx, bad_rx; /* malformed chains returned unused */
};

struct virtio_vsock;

/*
 * Binds uds_path at once (it must not exist) and registers with loop
 * (which may already run on another thread: the listener goes live as
 * the last step).
 */
int virtio_vsock_create(const struct virtio_vsock_params *params,
			const struct vm_mem *mem, struct evloop *loop,
			virtio_irq_fn irq, void *irq_opaque,
			struct virtio_vsock **out);
/*
 * Closes every socket (on the loop thread, waiting for it, if the loop
 * runs) and removes uds_path. The device must be off the bus (vCPUs
 * stopped) and the caller must not hold its transport lock.
 */
void virtio_vsock_destroy(struct virtio_vsock *vs);

struct virtio_mmio *virtio_vsock_mmio(struct virtio_vsock *vs);

/*
 * Sends VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the event queue (after a
 * snapshot restore: the guest drops its connections and rereads the
 * CID). Any thread. 0, -EAGAIN if the guest gave no event buffer, or
 * -ENODEV if the driver is not running.
 */
int virtio_vsock_transport_reset(struct virtio_vsock *vs);

/* Loop thread only (or with the loop stopped). */
void virtio_vsock_get_stats(struct virtio_vsock *vs,
			    struct virtio_vsock_stats *st,
			    struct vsock_muxer_stats *mst);
unsigned int virtio_vsock_nr_connections(struct virtio_vsock *vs);

#endif
