/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-vsock device: queues <-> muxer, on the event loop's thread. */
#include "vmm/devices/virtio-vsock.h"
#include "vmm/devices/chain-iov.h"

#include "common/log.h"

#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct virtio_vsock {
	struct virtio_mmio mmio;
	struct evloop *loop;
	struct vsock_muxer *muxer;
	int kick_fd;
	uint64_t cid;
	/* Guest resets (vCPU thread) and those handled (loop thread). */
	unsigned int reset_gen, seen_gen;
	struct virtq_chain chain; /* TX and event queue scratch */
	struct virtq_chain rx_chain;
	bool rx_held; /* rx_chain popped, waiting for a packet */
	struct iovec iov[VSOCK_MAX_IOV];
	struct virtio_vsock_stats stats;
};

/* Wakes the loop thread; lock held or not, any thread. */
static void kick(struct virtio_vsock *vs)
{
	uint64_t one = 1;
	ssize_t n = write(vs->kick_fd, &one, sizeof(one));

	/* Fails only when the counter is saturated: a wakeup is due. */
	(void)n;
}

/* iov over chain segments [first, last) from byte skip, at most max. */
static int gather(struct virtio_vsock *vs, const struct virtq_chain *c,
		  unsigned int first, unsigned int last, uint64_t skip,
		  uint64_t max)
{
	return chain_iov_gather(c, first, last, skip, max, vs->iov,
				VSOCK_MAX_IOV);
}

/* A TX chain: readable only, a whole header, the payload it claims. */
static bool tx_parse(struct virtio_vsock *vs, struct vsock_hdr *h, int *n)
{
	const struct virtq_chain *c = &vs->chain;
	uint8_t raw[VSOCK_HDR_SIZE];

	if (c->write_len || c->read_len < VSOCK_HDR_SIZE)
		return false;
	virtq_chain_read(c, 0, raw, sizeof(raw));
	vsock_hdr_decode(raw, h);
	if (h->len > VSOCK_MAX_PKT_BUF || h->len > c->read_len - VSOCK_HDR_SIZE)
		return false;
	*n = h->op == VSOCK_OP_RW
		     ? gather(vs, c, 0, c->nr_readable, VSOCK_HDR_SIZE, h->len)
		     : 0;
	return true;
}

static void process_tx(struct virtio_vsock *vs)
{
	struct virtq *q = virtio_mmio_queue(&vs->mmio, VIRTIO_VSOCK_TXQ);
	unsigned int budget = q->size;
	bool pushed = false;
	struct vsock_hdr h;
	int rc = 0, n;

	while (budget && (rc = virtq_pop(q, &vs->chain)) == 1) {
		budget--;
		if (tx_parse(vs, &h, &n)) {
			vs->stats.tx_pkts++;
			vsock_muxer_send_pkt(vs->muxer, &h, vs->iov, n);
		} else {
			vs->stats.bad_tx++;
		}
		if (virtq_push(q, vs->chain.head, 0) < 0)
			break;
		pushed = true;
	}
	/* A ring's worth at a time; the rest on the next loop turn. */
	if (!budget)
		kick(vs);
	if (pushed || rc < 0)
		virtio_mmio_notify_used(&vs->mmio, VIRTIO_VSOCK_TXQ);
}

static void process_rx(struct virtio_vsock *vs)
{
	struct virtq *q = virtio_mmio_queue(&vs->mmio, VIRTIO_VSOCK_RXQ);
	struct virtq_chain *c = &vs->rx_chain;
	unsigned int budget = q->size;
	uint8_t raw[VSOCK_HDR_SIZE];
	bool pushed = false;
	struct vsock_hdr h;
	int rc = 0, n;

	while (budget && vsock_muxer_has_pending_rx(vs->muxer)) {
		if (!vs->rx_held) {
			rc = virtq_pop(q, c);
			if (rc <= 0)
				break;
			budget--;
			/* Writable only, with room for a header and data. */
			if (c->nr_readable || c->write_len <= VSOCK_HDR_SIZE) {
				vs->stats.bad_rx++;
				if (virtq_push(q, c->head, 0) < 0)
					break;
				pushed = true;
				continue;
			}
			vs->rx_held = true;
		}
		n = gather(vs, c, c->nr_readable, c->nr_segs, VSOCK_HDR_SIZE,
			   VSOCK_MAX_PKT_BUF);
		if (vsock_muxer_recv_pkt(vs->muxer, &h, vs->iov, n) < 0)
			break; /* keep the buffer for the next packet */
		vsock_hdr_encode(&h, raw);
		virtq_chain_write(c, 0, raw, sizeof(raw));
		vs->rx_held = false;
		vs->stats.rx_pkts++;
		if (virtq_push(q, c->head, VSOCK_HDR_SIZE + h.len) < 0)
			break;
		pushed = true;
	}
	if (!budget && vsock_muxer_has_pending_rx(vs->muxer))
		kick(vs);
	if (pushed || rc < 0)
		virtio_mmio_notify_used(&vs->mmio, VIRTIO_VSOCK_RXQ);
}

/* Lock held, loop thread. */
static bool device_running(struct virtio_vsock *vs)
{
	if (vs->seen_gen != vs->reset_gen) {
		vs->seen_gen = vs->reset_gen;
		vsock_muxer_reset(vs->muxer);
	}
	return (vs->mmio.status &
		(VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

/* The eventfd: queue notifications, resets, leftover work. */
static void kick_event(void *opaque, uint32_t events)
{
	struct virtio_vsock *vs = opaque;
	uint64_t v;
	ssize_t n;

	(void)events;
	n = read(vs->kick_fd, &v, sizeof(v));
	(void)n;
	virtio_mmio_lock(&vs->mmio);
	if (device_running(vs)) {
		process_tx(vs);
		process_rx(vs);
	}
	virtio_mmio_unlock(&vs->mmio);
}

/* The muxer has packets for the guest (loop thread, lock not held). */
static void muxer_kick(void *opaque)
{
	struct virtio_vsock *vs = opaque;

	virtio_mmio_lock(&vs->mmio);
	if (device_running(vs))
		process_rx(vs);
	virtio_mmio_unlock(&vs->mmio);
}

static void vsock_notify(void *opaque, struct virtio_mmio *dev,
			 unsigned int qidx)
{
	(void)dev;
	(void)qidx;
	kick(opaque);
}

static int vsock_activate(void *opaque, struct virtio_mmio *dev,
			  uint64_t features)
{
	(void)dev;
	(void)features;
	kick(opaque);
	return 0;
}

static void vsock_reset(void *opaque)
{
	struct virtio_vsock *vs = opaque;

	/*
	 * The rings are gone. If the driver had been running, the guest's
	 * side of every connection is gone too: they end on the loop
	 * thread. A reset before that (a driver probing) ends nothing, so
	 * host clients that connected early still reach the guest.
	 */
	vs->rx_held = false;
	if (vs->mmio.status & VIRTIO_STATUS_DRIVER_OK) {
		vs->reset_gen++;
		kick(vs);
	}
}

static void vsock_config_read(void *opaque, uint32_t offset, uint8_t *data,
			      uint32_t len)
{
	struct virtio_vsock *vs = opaque;
	uint64_t cid = htole64(vs->cid);

	memcpy(data, (const uint8_t *)&cid + offset, len);
}

static const struct virtio_backend_ops vsock_ops = {
	.name = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.features = 0,
	.config_size = sizeof(uint64_t),
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.queue_notify = vsock_notify,
	.reset = vsock_reset,
};

int virtio_vsock_create(const struct virtio_vsock_params *params,
			const struct vm_mem *mem, struct evloop *loop,
			virtio_irq_fn irq, void *irq_opaque,
			struct virtio_vsock **out)
{
	struct virtio_vsock *vs;
	int err;

	*out = NULL;
	if (!params || params->guest_cid < 3 || params->guest_cid > UINT32_MAX)
		return -EINVAL;
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	vs->loop = loop;
	vs->cid = params->guest_cid;
	vs->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vs->kick_fd < 0) {
		err = -errno;
		free(vs);
		return err;
	}
	err = virtio_mmio_init(&vs->mmio, mem, &vsock_ops, vs, 3,
			       VIRTIO_VSOCK_QUEUE_SIZE, irq, irq_opaque);
	if (err < 0)
		goto fail_fd;
	err = vsock_muxer_create(loop, vs->cid, params->uds_path, muxer_kick,
				 vs, &vs->muxer);
	if (err < 0)
		goto fail_mmio;
	err = evloop_add(loop, vs->kick_fd, EPOLLIN, kick_event, vs);
	if (err < 0)
		goto fail_muxer;
	*out = vs;
	return 0;
fail_muxer:
	vsock_muxer_destroy(vs->muxer);
fail_mmio:
	virtio_mmio_destroy(&vs->mmio);
fail_fd:
	close(vs->kick_fd);
	free(vs);
	return err;
}

static void destroy_on_loop(void *opaque, uint32_t events)
{
	struct virtio_vsock *vs = opaque;

	(void)events;
	evloop_del(vs->loop, vs->kick_fd);
	vsock_muxer_destroy(vs->muxer);
}

void virtio_vsock_destroy(struct virtio_vsock *vs)
{
	if (!vs)
		return;
	/* The sockets belong to the loop thread: they go there. */
	if (evloop_call_sync(vs->loop, destroy_on_loop, vs) < 0)
		destroy_on_loop(vs, 0);
	virtio_mmio_destroy(&vs->mmio);
	close(vs->kick_fd);
	free(vs);
}

struct virtio_mmio *virtio_vsock_mmio(struct virtio_vsock *vs)
{
	return &vs->mmio;
}

int virtio_vsock_transport_reset(struct virtio_vsock *vs)
{
	struct virtq *q;
	uint32_t ev = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	int rc, err = 0;

	virtio_mmio_lock(&vs->mmio);
	q = virtio_mmio_queue(&vs->mmio, VIRTIO_VSOCK_EVQ);
	if ((vs->mmio.status &
	     (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) !=
	    VIRTIO_STATUS_DRIVER_OK) {
		err = -ENODEV;
		goto out;
	}
	rc = virtq_pop(q, &vs->chain);
	if (rc <= 0) {
		err = rc < 0 ? -EIO : -EAGAIN;
		if (rc < 0)
			virtio_mmio_notify_used(&vs->mmio, VIRTIO_VSOCK_EVQ);
		goto out;
	}
	rc = (int)virtq_chain_write(&vs->chain, 0, &ev, sizeof(ev));
	if (virtq_push(q, vs->chain.head, (uint32_t)rc) < 0)
		err = -EIO;
	virtio_mmio_notify_used(&vs->mmio, VIRTIO_VSOCK_EVQ);
out:
	virtio_mmio_unlock(&vs->mmio);
	return err;
}

void virtio_vsock_get_stats(struct virtio_vsock *vs,
			    struct virtio_vsock_stats *st,
			    struct vsock_muxer_stats *mst)
{
	virtio_mmio_lock(&vs->mmio);
	if (st)
		*st = vs->stats;
	if (mst)
		vsock_muxer_get_stats(vs->muxer, mst);
	virtio_mmio_unlock(&vs->mmio);
}

unsigned int virtio_vsock_nr_connections(struct virtio_vsock *vs)
{
	return vsock_muxer_nr_connections(vs->muxer);
}
