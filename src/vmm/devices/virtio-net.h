/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net (virtio 1.x section 5.1) on a host TAP device, as
 * Firecracker's net device: one RX and one TX queue, the 12-byte
 * virtio_net_hdr (VERSION_1, no mergeable buffers) passed through to
 * the TAP (IFF_VNET_HDR), the MAC (and MTU) in config space.
 *
 * Offered: MAC (when given), MTU (when given), CSUM, GUEST_CSUM,
 * GUEST_TSO4/6, HOST_TSO4/6. The TAP's offloads follow what the driver
 * accepted (TUNSETOFFLOAD at DRIVER_OK), so the guest only receives
 * what it can take; a TX frame asking for an offload that was not
 * negotiated is dropped. Frames are copied through one bounce buffer per
 * direction, so what reaches the TAP is what was checked.
 *
 * Threads: queue notifications only wake the event loop (an eventfd);
 * TX, RX and the TAP are served on the loop thread, with the transport
 * lock held. The TAP is watched only while the guest has RX buffers: a
 * guest that posts none just has its frames wait in the TAP's queue.
 */
#ifndef LG_VMM_DEVICES_VIRTIO_NET_H
#define LG_VMM_DEVICES_VIRTIO_NET_H

#include "vmm/event-loop.h"
#include "vmm/memory.h"
#include "vmm/virtio/mmio.h"

#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_ID_NET 1u
#define VIRTIO_NET_QUEUE_SIZE 256u
#define VIRTIO_NET_RXQ 0u
#define VIRTIO_NET_TXQ 1u

/* Feature bits (5.1.3). */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12

/* struct virtio_net_hdr with num_buffers (VERSION_1): 12 bytes. */
#define VIRTIO_NET_HDR_SIZE 12u
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1u
#define VIRTIO_NET_HDR_GSO_NONE 0u
#define VIRTIO_NET_HDR_GSO_TCPV4 1u
#define VIRTIO_NET_HDR_GSO_UDP 3u
#define VIRTIO_NET_HDR_GSO_TCPV6 4u
#define VIRTIO_NET_HDR_GSO_ECN 0x80u

/* Largest frame with its header (Firecracker's MAX_BUFFER_SIZE). */
#define VIRTIO_NET_MAX_FRAME 65562u

struct virtio_net_params {
	const char *host_dev_name; /* the TAP, created if absent */
	bool has_mac;
	uint8_t mac[6];
	uint16_t mtu; /* 0: not offered */
};

struct virtio_net_stats {
	uint64_t rx_frames, rx_bytes, rx_dropped; /* dropped: no room */
	uint64_t tx_frames, tx_bytes, tx_dropped; /* dropped: bad or TAP */
	uint64_t bad_rx;			  /* RX chains unusable */
};

struct virtio_net;

/*
 * Opens the TAP host_dev_name and registers with loop (which may already
 * run). Destroy unregisters on the loop thread (waiting for it) if the
 * loop runs; the device must be off the bus (vCPUs stopped) by then.
 */
int virtio_net_create(const struct virtio_net_params *params,
		      const struct vm_mem *mem, struct evloop *loop,
		      virtio_irq_fn irq, void *irq_opaque,
		      struct virtio_net **out);
void virtio_net_destroy(struct virtio_net *net);

struct virtio_mmio *virtio_net_mmio(struct virtio_net *net);
void virtio_net_get_stats(struct virtio_net *net, struct virtio_net_stats *st);

#endif
