/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-net: TAP setup, TX and RX through bounce buffers. */
#include "vmm/devices/virtio-net.h"

#include "common/log.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define NUM_BUFFERS_OFFSET 10u

struct virtio_net {
	struct virtio_mmio mmio;
	struct virtio_backend_ops ops;
	struct evloop *loop;
	int tap_fd;
	int kick_fd;
	bool tap_polled;
	bool tap_dead;	    /* no longer registered with the loop */
	uint8_t config[12]; /* mac[6], status, max_virtqueue_pairs, mtu */
	uint64_t features;  /* negotiated */
	struct virtq_chain chain;
	struct virtq_chain rx_chain;
	bool rx_held;
	uint8_t *rx_frame; /* read from the TAP, not delivered yet */
	uint32_t rx_len;
	uint8_t *tx_frame;
	struct virtio_net_stats stats;
	bool warned_tap;
};

static void kick(struct virtio_net *net)
{
	uint64_t one = 1;
	ssize_t n = write(net->kick_fd, &one, sizeof(one));

	(void)n;
}

static bool running(const struct virtio_net *net)
{
	return (net->mmio.status &
		(VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
	       VIRTIO_STATUS_DRIVER_OK;
}

static bool negotiated(const struct virtio_net *net, int bit)
{
	return net->features & (1ull << bit);
}

/* A TX header may only ask for what the driver negotiated. */
static bool tx_hdr_ok(const struct virtio_net *net, const uint8_t *hdr)
{
	uint8_t flags = hdr[0], gso = hdr[1];

	if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
	    !negotiated(net, VIRTIO_NET_F_CSUM))
		return false;
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return negotiated(net, VIRTIO_NET_F_HOST_TSO4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return negotiated(net, VIRTIO_NET_F_HOST_TSO6);
	default:
		return false; /* UDP (UFO), ECN: never offered */
	}
}

static void process_tx(struct virtio_net *net)
{
	struct virtq *q = virtio_mmio_queue(&net->mmio, VIRTIO_NET_TXQ);
	struct virtq_chain *c = &net->chain;
	unsigned int budget = q->size;
	bool pushed = false;
	int rc = 0;

	while (budget && (rc = virtq_pop(q, c)) == 1) {
		uint64_t len = c->read_len;

		budget--;
		if (c->write_len || len < VIRTIO_NET_HDR_SIZE ||
		    len > VIRTIO_NET_MAX_FRAME) {
			net->stats.tx_dropped++;
		} else {
			/* A private copy: checked and sent are the same. */
			virtq_chain_read(c, 0, net->tx_frame, len);
			if (!tx_hdr_ok(net, net->tx_frame)) {
				net->stats.tx_dropped++;
			} else if (write(net->tap_fd, net->tx_frame, len) !=
				   (ssize_t)len) {
				/* A full TAP queue or a frame it refused. */
				net->stats.tx_dropped++;
			} else {
				net->stats.tx_frames++;
				net->stats.tx_bytes +=
					len - VIRTIO_NET_HDR_SIZE;
			}
		}
		if (virtq_push(q, c->head, 0) < 0)
			break;
		pushed = true;
	}
	if (!budget)
		kick(net);
	if (pushed || rc < 0)
		virtio_mmio_notify_used(&net->mmio, VIRTIO_NET_TXQ);
}

/* Reads the next frame from the TAP: true if one is waiting now. */
static bool tap_read(struct virtio_net *net)
{
	ssize_t n;

	if (net->rx_len)
		return true;
	do {
		n = read(net->tap_fd, net->rx_frame, VIRTIO_NET_MAX_FRAME);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && !net->warned_tap) {
			lg_warn("virtio-net: read from the TAP: %s",
				strerror(errno));
			net->warned_tap = true;
		}
		return false;
	}
	if ((size_t)n < VIRTIO_NET_HDR_SIZE)
		return false;
	net->rx_len = (uint32_t)n;
	return true;
}

static void process_rx(struct virtio_net *net)
{
	struct virtq *q = virtio_mmio_queue(&net->mmio, VIRTIO_NET_RXQ);
	struct virtq_chain *c = &net->rx_chain;
	unsigned int budget = q->size;
	bool pushed = false;
	int rc = 0;

	while (budget && tap_read(net)) {
		budget--;
		if (!net->rx_held) {
			rc = virtq_pop(q, c);
			if (rc <= 0)
				break;
			if (c->nr_readable ||
			    c->write_len < VIRTIO_NET_HDR_SIZE) {
				net->stats.bad_rx++;
				if (virtq_push(q, c->head, 0) < 0)
					break;
				pushed = true;
				continue;
			}
			net->rx_held = true;
		}
		if (net->rx_len > c->write_len) {
			/* Cannot fit this buffer; the buffer waits for the
			 * next. */
			net->stats.rx_dropped++;
			net->rx_len = 0;
			continue;
		}
		/* No mergeable buffers: every frame is in one chain. */
		net->rx_frame[NUM_BUFFERS_OFFSET] = 1;
		net->rx_frame[NUM_BUFFERS_OFFSET + 1] = 0;
		virtq_chain_write(c, 0, net->rx_frame, net->rx_len);
		net->stats.rx_frames++;
		net->stats.rx_bytes += net->rx_len - VIRTIO_NET_HDR_SIZE;
		rc = virtq_push(q, c->head, net->rx_len);
		net->rx_len = 0;
		net->rx_held = false;
		if (rc < 0)
			break;
		pushed = true;
	}
	if (!budget)
		kick(net);
	if (pushed || rc < 0)
		virtio_mmio_notify_used(&net->mmio, VIRTIO_NET_RXQ);
}

/*
 * Watch the TAP only when a frame can go somewhere: running, and no
 * frame already waiting for an RX buffer. Lock held, loop thread.
 */
static void update_tap_poll(struct virtio_net *net)
{
	bool want = running(net) && !net->rx_len && !net->tap_dead;
	int err;

	if (want == net->tap_polled || net->tap_dead)
		return;
	err = evloop_modify(net->loop, net->tap_fd, want ? EPOLLIN : 0);
	if (err < 0) {
		lg_err("virtio-net: watching the TAP: %s", strerror(-err));
		virtio_mmio_needs_reset(&net->mmio);
		return;
	}
	net->tap_polled = want;
}

static void kick_event(void *opaque, uint32_t events)
{
	struct virtio_net *net = opaque;
	uint64_t v;
	ssize_t n;

	(void)events;
	n = read(net->kick_fd, &v, sizeof(v));
	(void)n;
	virtio_mmio_lock(&net->mmio);
	if (running(net)) {
		process_tx(net);
		process_rx(net);
	}
	update_tap_poll(net);
	virtio_mmio_unlock(&net->mmio);
}

static void tap_event(void *opaque, uint32_t events)
{
	struct virtio_net *net = opaque;

	virtio_mmio_lock(&net->mmio);
	if (events & (EPOLLERR | EPOLLHUP)) {
		/* The interface went away: reported forever, so stop. */
		lg_err("virtio-net: the TAP device failed");
		evloop_del(net->loop, net->tap_fd);
		net->tap_dead = true;
		net->tap_polled = false;
		virtio_mmio_needs_reset(&net->mmio);
		virtio_mmio_unlock(&net->mmio);
		return;
	}
	if (running(net))
		process_rx(net);
	update_tap_poll(net);
	virtio_mmio_unlock(&net->mmio);
}

static void net_notify(void *opaque, struct virtio_mmio *dev, unsigned int qidx)
{
	(void)dev;
	(void)qidx;
	kick(opaque);
}

/* The TAP hands the guest only the offloads the driver accepted. */
static int net_activate(void *opaque, struct virtio_mmio *dev,
			uint64_t features)
{
	struct virtio_net *net = opaque;
	unsigned int off = 0;

	(void)dev;
	net->features = features;
	if (negotiated(net, VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (negotiated(net, VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (negotiated(net, VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
	}
	if (ioctl(net->tap_fd, TUNSETOFFLOAD, off) < 0) {
		lg_err("virtio-net: TUNSETOFFLOAD %#x: %s", off,
		       strerror(errno));
		return -errno;
	}
	kick(net);
	return 0;
}

static void net_reset(void *opaque)
{
	struct virtio_net *net = opaque;

	net->rx_held = false;
	net->rx_len = 0;
	net->features = 0;
	/* The loop thread stops watching the TAP. */
	kick(net);
}

static void net_config_read(void *opaque, uint32_t offset, uint8_t *data,
			    uint32_t len)
{
	struct virtio_net *net = opaque;

	memcpy(data, net->config + offset, len);
}

/* Opens TAP `name` non-blocking with a 12-byte vnet header. */
static int tap_open(const char *name)
{
	struct ifreq ifr;
	int fd, hdr = VIRTIO_NET_HDR_SIZE, err;

	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 ||
	    ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

int virtio_net_create(const struct virtio_net_params *params,
		      const struct vm_mem *mem, struct evloop *loop,
		      virtio_irq_fn irq, void *irq_opaque,
		      struct virtio_net **out)
{
	struct virtio_net *net;
	uint16_t mtu;
	int err;

	*out = NULL;
	if (!params)
		return -EINVAL;
	net = calloc(1, sizeof(*net));
	if (!net)
		return -ENOMEM;
	net->loop = loop;
	net->kick_fd = -1;
	net->rx_frame = malloc(VIRTIO_NET_MAX_FRAME);
	net->tx_frame = malloc(VIRTIO_NET_MAX_FRAME);
	if (!net->rx_frame || !net->tx_frame) {
		err = -ENOMEM;
		goto fail_mem;
	}
	net->tap_fd = tap_open(params->host_dev_name);
	if (net->tap_fd < 0) {
		err = net->tap_fd;
		lg_err("virtio-net: TAP %s: %s",
		       params->host_dev_name ? params->host_dev_name : "",
		       strerror(-err));
		goto fail_mem;
	}
	net->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (net->kick_fd < 0) {
		err = -errno;
		goto fail_tap;
	}
	if (params->has_mac)
		memcpy(net->config, params->mac, 6);
	mtu = htole16(params->mtu);
	memcpy(net->config + 10, &mtu, sizeof(mtu));
	net->ops = (struct virtio_backend_ops){
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.features = (1ull << VIRTIO_NET_F_CSUM) |
			    (1ull << VIRTIO_NET_F_GUEST_CSUM) |
			    (1ull << VIRTIO_NET_F_GUEST_TSO4) |
			    (1ull << VIRTIO_NET_F_GUEST_TSO6) |
			    (1ull << VIRTIO_NET_F_HOST_TSO4) |
			    (1ull << VIRTIO_NET_F_HOST_TSO6) |
			    (params->has_mac ? 1ull << VIRTIO_NET_F_MAC : 0) |
			    (params->mtu ? 1ull << VIRTIO_NET_F_MTU : 0),
		.config_size = sizeof(net->config),
		.config_read = net_config_read,
		.activate = net_activate,
		.queue_notify = net_notify,
		.reset = net_reset,
	};
	err = virtio_mmio_init(&net->mmio, mem, &net->ops, net, 2,
			       VIRTIO_NET_QUEUE_SIZE, irq, irq_opaque);
	if (err < 0)
		goto fail_kick;
	/* The TAP stays registered; it is watched while running. */
	err = evloop_add(loop, net->tap_fd, 0, tap_event, net);
	if (err < 0)
		goto fail_mmio;
	err = evloop_add(loop, net->kick_fd, EPOLLIN, kick_event, net);
	if (err < 0) {
		evloop_del(loop, net->tap_fd);
		goto fail_mmio;
	}
	*out = net;
	return 0;
fail_mmio:
	virtio_mmio_destroy(&net->mmio);
fail_kick:
	close(net->kick_fd);
fail_tap:
	close(net->tap_fd);
fail_mem:
	free(net->rx_frame);
	free(net->tx_frame);
	free(net);
	return err;
}

static void destroy_on_loop(void *opaque, uint32_t events)
{
	struct virtio_net *net = opaque;

	(void)events;
	evloop_del(net->loop, net->kick_fd);
	if (!net->tap_dead)
		evloop_del(net->loop, net->tap_fd);
}

void virtio_net_destroy(struct virtio_net *net)
{
	if (!net)
		return;
	/* Unregistered on the loop thread: no callback can still be due. */
	if (evloop_call_sync(net->loop, destroy_on_loop, net) < 0)
		destroy_on_loop(net, 0);
	virtio_mmio_destroy(&net->mmio);
	close(net->kick_fd);
	close(net->tap_fd);
	free(net->rx_frame);
	free(net->tx_frame);
	free(net);
}

struct virtio_mmio *virtio_net_mmio(struct virtio_net *net)
{
	return &net->mmio;
}

void virtio_net_get_stats(struct virtio_net *net, struct virtio_net_stats *st)
{
	virtio_mmio_lock(&net->mmio);
	*st = net->stats;
	virtio_mmio_unlock(&net->mmio);
}
