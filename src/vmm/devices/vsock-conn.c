/* SPDX-License-Identifier: Apache-2.0 */
/* vsock connection: state machine, TX buffer, credit accounting. */
#include "vmm/devices/vsock-conn.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct vsock_conn *vsock_conn_new(int fd, bool host_initiated,
				  uint64_t local_cid, uint64_t peer_cid,
				  uint32_t local_port, uint32_t peer_port,
				  uint32_t peer_buf_alloc)
{
	struct vsock_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->local_cid = local_cid;
	c->peer_cid = peer_cid;
	c->local_port = local_port;
	c->peer_port = peer_port;
	if (host_initiated) {
		c->state = VSOCK_CONN_LOCAL_INIT;
		c->pending = VSOCK_PENDING_REQUEST;
	} else {
		c->state = VSOCK_CONN_PEER_INIT;
		c->pending = VSOCK_PENDING_RESPONSE;
		c->peer_buf_alloc = peer_buf_alloc;
	}
	return c;
}

void vsock_conn_free(struct vsock_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->tx_buf);
	free(c);
}

void vsock_conn_kill(struct vsock_conn *c)
{
	c->state = VSOCK_CONN_KILLED;
	c->pending |= VSOCK_PENDING_RST;
}

/* What the guest may still receive (its free buffer space). */
static uint32_t peer_avail_credit(const struct vsock_conn *c)
{
	return c->peer_buf_alloc - (c->rx_cnt - c->peer_fwd_cnt);
}

static bool need_credit_update_from_peer(const struct vsock_conn *c)
{
	return peer_avail_credit(c) == 0;
}

/* Whether the free space the guest last heard of is getting small. */
static bool peer_needs_credit_update(const struct vsock_conn *c)
{
	uint32_t seen_free =
		VSOCK_CONN_TX_BUF_SIZE - (c->fwd_cnt - c->last_fwd_cnt_to_peer);

	return seen_free < VSOCK_CONN_CREDIT_UPDATE_THRESHOLD;
}

static void init_hdr(const struct vsock_conn *c, struct vsock_hdr *h)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = c->local_cid;
	h->dst_cid = c->peer_cid;
	h->src_port = c->local_port;
	h->dst_port = c->peer_port;
	h->type = VSOCK_TYPE_STREAM;
	h->buf_alloc = VSOCK_CONN_TX_BUF_SIZE;
	h->fwd_cnt = c->fwd_cnt;
}

/* iov trimmed to max bytes, into out; returns the entry count. */
static int trim_iov(const struct iovec *iov, int iovcnt, size_t max,
		    struct iovec *out)
{
	int i, n = 0;

	for (i = 0; i < iovcnt && i < VSOCK_MAX_IOV && max; i++) {
		out[n] = iov[i];
		if (out[n].iov_len > max)
			out[n].iov_len = max;
		max -= out[n].iov_len;
		n++;
	}
	return n;
}

static ssize_t stream_read(int fd, struct iovec *iov, int iovcnt)
{
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n;

	do {
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* MSG_NOSIGNAL: a host peer that went away must not SIGPIPE the VMM. */
static ssize_t stream_write(int fd, const struct iovec *iov, int iovcnt)
{
	struct msghdr msg = {.msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)iovcnt};
	ssize_t n;

	do {
		n = sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t vsock_conn_send_raw(struct vsock_conn *c, const void *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	if (c->fd < 0)
		return -EBADF;
	return stream_write(c->fd, &iov, 1);
}

int vsock_conn_recv_pkt(struct vsock_conn *c, struct vsock_hdr *h,
			const struct iovec *iov, int iovcnt, uint64_t now)
{
	struct iovec room[VSOCK_MAX_IOV];
	ssize_t n;
	size_t max;
	int cnt;

	init_hdr(c, h);
	if (c->pending & VSOCK_PENDING_RST) {
		c->pending = 0;
		h->op = VSOCK_OP_RST;
		return 0;
	}
	if (c->pending & VSOCK_PENDING_RESPONSE) {
		c->pending &= ~VSOCK_PENDING_RESPONSE;
		c->state = VSOCK_CONN_ESTABLISHED;
		h->op = VSOCK_OP_RESPONSE;
		return 0;
	}
	if (c->pending & VSOCK_PENDING_REQUEST) {
		c->pending &= ~VSOCK_PENDING_REQUEST;
		c->expiry_ns = now + VSOCK_CONN_REQUEST_TIMEOUT_NS;
		h->op = VSOCK_OP_REQUEST;
		return 0;
	}
	if (c->pending & VSOCK_PENDING_RW) {
		c->pending &= ~VSOCK_PENDING_RW;
		if (c->fd < 0 || !(c->state == VSOCK_CONN_ESTABLISHED ||
				   (c->state == VSOCK_CONN_PEER_CLOSED &&
				    !c->peer_recv_off))) {
			/* No data may flow to the guest in this state. */
			vsock_conn_kill(c);
			c->pending = 0;
			h->op = VSOCK_OP_RST;
			return 0;
		}
		if (need_credit_update_from_peer(c)) {
			c->last_fwd_cnt_to_peer = c->fwd_cnt;
			h->op = VSOCK_OP_CREDIT_REQUEST;
			return 0;
		}
		max = peer_avail_credit(c);
		if (max > VSOCK_MAX_PKT_BUF)
			max = VSOCK_MAX_PKT_BUF;
		cnt = trim_iov(iov, iovcnt, max, room);
		n = cnt ? stream_read(c->fd, room, cnt) : -ENOBUFS;
		if (n == 0) {
			/* EOF: ask the guest to shut down both directions. */
			c->state = VSOCK_CONN_LOCAL_CLOSED;
			c->expiry_ns = now + VSOCK_CONN_SHUTDOWN_TIMEOUT_NS;
			h->op = VSOCK_OP_SHUTDOWN;
			h->flags = VSOCK_FLAGS_SHUTDOWN_RCV |
				   VSOCK_FLAGS_SHUTDOWN_SEND;
			c->last_fwd_cnt_to_peer = c->fwd_cnt;
			return 0;
		}
		if (n > 0) {
			h->op = VSOCK_OP_RW;
			h->len = (uint32_t)n;
			c->rx_cnt += (uint32_t)n;
			c->last_fwd_cnt_to_peer = c->fwd_cnt;
			return 0;
		}
		if (n != -EAGAIN && n != -ENOBUFS) {
			lg_debug("vsock: read from host stream %u->%u: %s",
				 c->local_port, c->peer_port,
				 strerror((int)-n));
			vsock_conn_kill(c);
			c->pending = 0;
			h->op = VSOCK_OP_RST;
			c->last_fwd_cnt_to_peer = c->fwd_cnt;
			return 0;
		}
		/* Spurious wakeup: nothing to read after all. */
	}
	if (c->pending & VSOCK_PENDING_CREDIT_UPDATE) {
		c->pending &= ~VSOCK_PENDING_CREDIT_UPDATE;
		if (!c->pending) {
			h->op = VSOCK_OP_CREDIT_UPDATE;
			c->last_fwd_cnt_to_peer = c->fwd_cnt;
			return 0;
		}
	}
	return -ENODATA;
}

/* Appends len bytes of iov (from byte off) to the TX buffer. */
static int tx_buf_push(struct vsock_conn *c, const struct iovec *iov,
		       int iovcnt, size_t off, size_t len)
{
	int i;

	if (len > VSOCK_CONN_TX_BUF_SIZE - c->tx_len)
		return -ENOBUFS;
	if (!c->tx_buf) {
		c->tx_buf = malloc(VSOCK_CONN_TX_BUF_SIZE);
		if (!c->tx_buf)
			return -ENOMEM;
		c->tx_head = 0;
	}
	for (i = 0; i < iovcnt && len; i++) {
		const uint8_t *src = iov[i].iov_base;
		size_t n = iov[i].iov_len;

		if (off >= n) {
			off -= n;
			continue;
		}
		src += off;
		n -= off;
		off = 0;
		if (n > len)
			n = len;
		len -= n;
		while (n) {
			uint32_t tail = (c->tx_head + c->tx_len) %
					VSOCK_CONN_TX_BUF_SIZE;
			size_t chunk = VSOCK_CONN_TX_BUF_SIZE - tail;

			if (chunk > n)
				chunk = n;
			memcpy(c->tx_buf + tail, src, chunk);
			c->tx_len += (uint32_t)chunk;
			src += chunk;
			n -= chunk;
		}
	}
	return 0;
}

/* Writes out the TX buffer: bytes written, or a negative errno. */
static ssize_t tx_buf_flush(struct vsock_conn *c)
{
	struct iovec iov[2];
	int cnt = 1;
	ssize_t n;

	if (!c->tx_len)
		return 0;
	iov[0].iov_base = c->tx_buf + c->tx_head;
	iov[0].iov_len = c->tx_len;
	if (c->tx_head + c->tx_len > VSOCK_CONN_TX_BUF_SIZE) {
		iov[0].iov_len = VSOCK_CONN_TX_BUF_SIZE - c->tx_head;
		iov[1].iov_base = c->tx_buf;
		iov[1].iov_len = c->tx_len - iov[0].iov_len;
		cnt = 2;
	}
	n = stream_write(c->fd, iov, cnt);
	if (n <= 0)
		return n == -EAGAIN ? 0 : (n ? n : -EIO);
	c->tx_head = (c->tx_head + (uint32_t)n) % VSOCK_CONN_TX_BUF_SIZE;
	c->tx_len -= (uint32_t)n;
	if (!c->tx_len) {
		/* Drained: give the memory back until it is needed again. */
		free(c->tx_buf);
		c->tx_buf = NULL;
		c->tx_head = 0;
	}
	return n;
}

/* Guest payload to the host stream, the rest to the TX buffer. */
static int send_bytes(struct vsock_conn *c, const struct iovec *iov, int iovcnt,
		      size_t len)
{
	ssize_t n = 0;

	if (c->fd < 0)
		return -EBADF;
	/* Bytes already waiting go first; EPOLLOUT will flush them. */
	if (c->tx_len)
		return tx_buf_push(c, iov, iovcnt, 0, len);
	n = stream_write(c->fd, iov, iovcnt);
	if (n == -EAGAIN)
		n = 0;
	if (n < 0)
		return (int)n;
	c->fwd_cnt += (uint32_t)n;
	if ((size_t)n < len)
		return tx_buf_push(c, iov, iovcnt, (size_t)n, len - (size_t)n);
	return 0;
}

void vsock_conn_send_pkt(struct vsock_conn *c, const struct vsock_hdr *h,
			 const struct iovec *iov, int iovcnt, uint64_t now)
{
	bool established = c->state == VSOCK_CONN_ESTABLISHED;
	bool peer_closed = c->state == VSOCK_CONN_PEER_CLOSED;
	int err;

	/* Every packet carries the guest's current credit. */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;

	switch (h->op) {
	case VSOCK_OP_RW:
		if (!established && !(peer_closed && !c->peer_send_off))
			break;
		if (h->len == 0)
			break;
		err = send_bytes(c, iov, iovcnt, h->len);
		if (err < 0) {
			lg_debug("vsock: write to host stream %u->%u: %s",
				 c->local_port, c->peer_port, strerror(-err));
			vsock_conn_kill(c);
			break;
		}
		if (peer_needs_credit_update(c))
			c->pending |= VSOCK_PENDING_CREDIT_UPDATE;
		break;
	case VSOCK_OP_RESPONSE:
		if (c->state == VSOCK_CONN_LOCAL_INIT) {
			c->expiry_ns = 0;
			c->state = VSOCK_CONN_ESTABLISHED;
		}
		break;
	case VSOCK_OP_SHUTDOWN:
		if (!established && !peer_closed)
			break;
		c->state = VSOCK_CONN_PEER_CLOSED;
		c->peer_recv_off |= !!(h->flags & VSOCK_FLAGS_SHUTDOWN_RCV);
		c->peer_send_off |= !!(h->flags & VSOCK_FLAGS_SHUTDOWN_SEND);
		if (c->peer_recv_off && c->peer_send_off) {
			if (!c->tx_len)
				c->pending |= VSOCK_PENDING_RST;
			else if (!c->expiry_ns)
				c->expiry_ns =
					now + VSOCK_CONN_SHUTDOWN_TIMEOUT_NS;
		}
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		/* The credit was taken above. */
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		if (established || c->state == VSOCK_CONN_PEER_INIT ||
		    (peer_closed && !c->peer_send_off))
			c->pending |= VSOCK_PENDING_CREDIT_UPDATE;
		break;
	default:
		lg_debug("vsock: dropping %s packet for %u->%u in state %d",
			 vsock_op_name(h->op), c->local_port, c->peer_port,
			 c->state);
		break;
	}
}

void vsock_conn_notify(struct vsock_conn *c, uint32_t events, uint64_t now)
{
	ssize_t n;

	(void)now;
	if (c->fd < 0)
		return;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		c->pending |= VSOCK_PENDING_RW;
	if (!c->tx_len || !(events & (EPOLLOUT | EPOLLHUP | EPOLLERR)))
		return;
	n = tx_buf_flush(c);
	if (n < 0 || (n == 0 && (events & (EPOLLHUP | EPOLLERR)))) {
		/* The host end is gone: its data cannot be delivered. */
		vsock_conn_kill(c);
		return;
	}
	c->fwd_cnt += (uint32_t)n;
	if (c->state == VSOCK_CONN_PEER_CLOSED && c->peer_recv_off &&
	    c->peer_send_off && !c->tx_len)
		c->pending |= VSOCK_PENDING_RST;
	else if (peer_needs_credit_update(c))
		c->pending |= VSOCK_PENDING_CREDIT_UPDATE;
}

uint32_t vsock_conn_wanted_events(const struct vsock_conn *c)
{
	uint32_t ev = 0;

	if (c->fd < 0 || c->state == VSOCK_CONN_KILLED)
		return 0;
	if (c->tx_len)
		ev |= EPOLLOUT;
	/*
	 * Reading needs a state that lets data reach the guest and credit
	 * to send it with; and once a read is pending, the stream stays
	 * quiet until the guest gave an RX buffer for it (no busy loop
	 * while the guest holds back its buffers).
	 */
	if (c->state == VSOCK_CONN_LOCAL_CLOSED ||
	    (c->state == VSOCK_CONN_PEER_CLOSED && c->peer_recv_off) ||
	    need_credit_update_from_peer(c) || (c->pending & VSOCK_PENDING_RW))
		return ev;
	return ev | EPOLLIN;
}
