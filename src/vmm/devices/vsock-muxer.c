/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vsock muxer: the listener, host clients sending CONNECT, the
 * connection table keyed by (local port, peer port), the queue of
 * connections with packets for the guest (served round-robin), the RST
 * queue, and one timerfd for every timeout.
 */
#include "vmm/devices/vsock-muxer.h"
#include "vmm/devices/vsock-conn.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#define HASH_SIZE 1024u
/* "connect 0\n" is the shortest line (Firecracker reads this first). */
#define CONNECT_LINE_MIN 10u

/* A host client that has not finished its CONNECT line yet. */
struct vsock_local {
	struct vsock_muxer *m;
	int fd;
	char buf[VSOCK_CONNECT_LINE_MAX];
	unsigned int len;
	uint64_t deadline_ns;
	struct vsock_local *prev, *next;
};

struct vsock_rst {
	uint32_t local_port;
	uint32_t peer_port;
};

struct vsock_muxer {
	struct evloop *loop;
	uint64_t cid;
	char *uds_path;
	int listen_fd;
	int timer_fd;
	uint64_t timer_ns; /* armed deadline, 0: disarmed */
	vsock_muxer_kick_fn kick;
	void *kick_opaque;

	struct vsock_conn *hash[HASH_SIZE];
	unsigned int nr_conns;
	struct vsock_local *locals;
	unsigned int nr_locals;

	struct vsock_conn *rxq_head, *rxq_tail;
	unsigned int rxq_len;
	struct vsock_rst rstq[VSOCK_MUXER_RSTQ_SIZE];
	unsigned int rst_head, rst_len;

	uint32_t local_port_last;
	struct vsock_muxer_stats stats;
};

static void conn_event(void *opaque, uint32_t events);

static unsigned int hash_key(uint32_t local_port, uint32_t peer_port)
{
	return (local_port * 2654435761u ^ peer_port * 40503u) % HASH_SIZE;
}

static struct vsock_conn *conn_find(struct vsock_muxer *m, uint32_t local_port,
				    uint32_t peer_port)
{
	struct vsock_conn *c = m->hash[hash_key(local_port, peer_port)];

	while (c && (c->local_port != local_port || c->peer_port != peer_port))
		c = c->hash_next;
	return c;
}

static bool local_port_in_use(struct vsock_muxer *m, uint32_t port)
{
	unsigned int i;

	for (i = 0; i < HASH_SIZE; i++)
		for (struct vsock_conn *c = m->hash[i]; c; c = c->hash_next)
			if (c->local_port == port)
				return true;
	return false;
}

/* Round-robin in [1 << 30, 1 << 31), skipping ports in use. */
static uint32_t allocate_local_port(struct vsock_muxer *m)
{
	do {
		m->local_port_last =
			((m->local_port_last + 1) & ~(1u << 31)) | (1u << 30);
	} while (local_port_in_use(m, m->local_port_last));
	return m->local_port_last;
}

static void rxq_push(struct vsock_muxer *m, struct vsock_conn *c)
{
	if (c->in_rxq)
		return;
	c->in_rxq = true;
	c->rx_next = NULL;
	c->rx_prev = m->rxq_tail;
	if (m->rxq_tail)
		m->rxq_tail->rx_next = c;
	else
		m->rxq_head = c;
	m->rxq_tail = c;
	m->rxq_len++;
}

static void rxq_remove(struct vsock_muxer *m, struct vsock_conn *c)
{
	if (!c->in_rxq)
		return;
	if (c->rx_prev)
		c->rx_prev->rx_next = c->rx_next;
	else
		m->rxq_head = c->rx_next;
	if (c->rx_next)
		c->rx_next->rx_prev = c->rx_prev;
	else
		m->rxq_tail = c->rx_prev;
	c->in_rxq = false;
	c->rx_prev = c->rx_next = NULL;
	m->rxq_len--;
}

static void enq_rst(struct vsock_muxer *m, uint32_t local_port,
		    uint32_t peer_port)
{
	if (m->rst_len == VSOCK_MUXER_RSTQ_SIZE) {
		m->stats.rst_dropped++;
		return;
	}
	m->rstq[(m->rst_head + m->rst_len) % VSOCK_MUXER_RSTQ_SIZE] =
		(struct vsock_rst){local_port, peer_port};
	m->rst_len++;
}

static void timer_arm(struct vsock_muxer *m, uint64_t when)
{
	struct itimerspec its = {0};

	if (!when || (m->timer_ns && m->timer_ns <= when))
		return;
	its.it_value.tv_sec = (time_t)(when / 1000000000ull);
	its.it_value.tv_nsec = (long)(when % 1000000000ull);
	if (timerfd_settime(m->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
		lg_err("vsock: timerfd_settime: %s", strerror(errno));
		return;
	}
	m->timer_ns = when;
}

/* Stops watching and closes a connection's host stream. */
static void conn_close_stream(struct vsock_muxer *m, struct vsock_conn *c)
{
	if (c->polled)
		evloop_del(m->loop, c->fd);
	c->polled = 0;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void remove_conn(struct vsock_muxer *m, struct vsock_conn *c)
{
	struct vsock_conn **pp =
		&m->hash[hash_key(c->local_port, c->peer_port)];

	while (*pp && *pp != c)
		pp = &(*pp)->hash_next;
	if (*pp)
		*pp = c->hash_next;
	rxq_remove(m, c);
	conn_close_stream(m, c);
	vsock_conn_free(c);
	m->nr_conns--;
	m->stats.conns_removed++;
}

/* Brings the stream's epoll registration in line with what c wants. */
static void conn_update_poll(struct vsock_muxer *m, struct vsock_conn *c)
{
	uint32_t want = vsock_conn_wanted_events(c);
	int err = 0;

	if (want == c->polled)
		return;
	if (!want)
		err = evloop_del(m->loop, c->fd);
	else if (!c->polled)
		err = evloop_add(m->loop, c->fd, want, conn_event, c);
	else
		err = evloop_modify(m->loop, c->fd, want);
	if (err < 0) {
		lg_warn("vsock: watching stream %u->%u: %s", c->local_port,
			c->peer_port, strerror(-err));
		if (c->polled && want)
			evloop_del(m->loop, c->fd);
		c->polled = 0;
		vsock_conn_kill(c);
		conn_close_stream(m, c);
		m->stats.conns_killed++;
		rxq_push(m, c);
		return;
	}
	c->polled = want;
}

/*
 * After anything that may have changed c: the "OK" to a host client
 * whose connection the guest just accepted, closing a killed stream,
 * scheduling packets, arming the timer, the epoll registration.
 */
static void conn_apply(struct vsock_muxer *m, struct vsock_conn *c,
		       enum vsock_conn_state prev_state)
{
	if (prev_state == VSOCK_CONN_LOCAL_INIT &&
	    c->state == VSOCK_CONN_ESTABLISHED) {
		char msg[24];
		int len = snprintf(msg, sizeof(msg), "OK %u\n", c->local_port);

		if (vsock_conn_send_raw(c, msg, (size_t)len) != len)
			vsock_conn_kill(c);
	}
	if (c->state == VSOCK_CONN_KILLED && c->fd >= 0) {
		conn_close_stream(m, c);
		m->stats.conns_killed++;
	}
	if (vsock_conn_has_pending_rx(c))
		rxq_push(m, c);
	timer_arm(m, c->expiry_ns);
	conn_update_poll(m, c);
}

static int add_conn(struct vsock_muxer *m, struct vsock_conn *c)
{
	unsigned int h;

	if (m->nr_conns >= VSOCK_MAX_CONNECTIONS)
		return -EMFILE;
	c->owner = m;
	h = hash_key(c->local_port, c->peer_port);
	c->hash_next = m->hash[h];
	m->hash[h] = c;
	m->nr_conns++;
	m->stats.conns_added++;
	conn_apply(m, c, c->state);
	return 0;
}

static void kick_if_pending(struct vsock_muxer *m)
{
	if (vsock_muxer_has_pending_rx(m) && m->kick)
		m->kick(m->kick_opaque);
}

static void conn_event(void *opaque, uint32_t events)
{
	struct vsock_conn *c = opaque;
	struct vsock_muxer *m = c->owner;
	enum vsock_conn_state prev = c->state;

	vsock_conn_notify(c, events, lg_now_ns());
	conn_apply(m, c, prev);
	kick_if_pending(m);
}

/* ---- host clients and their CONNECT line ---- */

static void local_free(struct vsock_muxer *m, struct vsock_local *l,
		       bool close_fd)
{
	if (l->prev)
		l->prev->next = l->next;
	else
		m->locals = l->next;
	if (l->next)
		l->next->prev = l->prev;
	m->nr_locals--;
	evloop_del(m->loop, l->fd);
	if (close_fd)
		close(l->fd);
	free(l);
}

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	       ch == '\v' || ch == '\f';
}

/* The next whitespace-separated word of buf[*pos, len): its length. */
static unsigned int next_word(const char *buf, unsigned int len,
			      unsigned int *pos, const char **word)
{
	unsigned int start;

	while (*pos < len && is_space(buf[*pos]))
		(*pos)++;
	start = *pos;
	while (*pos < len && !is_space(buf[*pos]))
		(*pos)++;
	*word = buf + start;
	return *pos - start;
}

/* "connect <u32>" (first word case-insensitive): 0 and *port, or -1. */
static int parse_connect(const char *buf, unsigned int len, uint32_t *port)
{
	unsigned int pos = 0, n, i;
	const char *w;
	uint64_t v = 0;

	n = next_word(buf, len, &pos, &w);
	if (n != 7 || strncasecmp(w, "connect", 7) != 0)
		return -1;
	n = next_word(buf, len, &pos, &w);
	/* As Rust's u32 parsing: an optional '+', then only digits. */
	if (n && w[0] == '+') {
		w++;
		n--;
	}
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (w[i] < '0' || w[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(w[i] - '0');
		if (v > UINT32_MAX)
			return -1;
	}
	*port = (uint32_t)v;
	return 0;
}

static void local_reject(struct vsock_muxer *m, struct vsock_local *l)
{
	m->stats.host_rejects++;
	local_free(m, l, true);
}

/* The line is complete: becomes a connection asking the guest. */
static void local_connect(struct vsock_muxer *m, struct vsock_local *l)
{
	struct vsock_conn *c;
	uint32_t peer_port, local_port;
	int fd = l->fd;

	if (parse_connect(l->buf, l->len, &peer_port) < 0 ||
	    m->nr_conns >= VSOCK_MAX_CONNECTIONS) {
		local_reject(m, l);
		return;
	}
	local_port = allocate_local_port(m);
	c = vsock_conn_new(fd, true, VSOCK_HOST_CID, m->cid, local_port,
			   peer_port, 0);
	if (!c) {
		local_reject(m, l);
		return;
	}
	local_free(m, l, false);
	add_conn(m, c);
}

static void local_event(void *opaque, uint32_t events)
{
	struct vsock_local *l = opaque;
	struct vsock_muxer *m = l->m;
	ssize_t n;

	(void)events;
	/*
	 * As Firecracker: the shortest line's length first, then a byte at
	 * a time up to the newline or the buffer's end, so nothing past the
	 * line is taken from the stream (it is connection data).
	 */
	for (;;) {
		size_t want;

		if (l->len >= CONNECT_LINE_MIN &&
		    (l->buf[l->len - 1] == '\n' ||
		     l->len == VSOCK_CONNECT_LINE_MAX)) {
			local_connect(m, l);
			break;
		}
		want = l->len < CONNECT_LINE_MIN ? CONNECT_LINE_MIN - l->len
						 : 1;
		n = recv(l->fd, l->buf + l->len, want, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			local_reject(m, l);
			return;
		}
		l->len += (unsigned int)n;
	}
	kick_if_pending(m);
}

static void listener_event(void *opaque, uint32_t events)
{
	struct vsock_muxer *m = opaque;
	struct vsock_local *l;
	int fd, err;

	(void)events;
	fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (m->nr_conns + m->nr_locals >= VSOCK_MAX_CONNECTIONS) {
		m->stats.host_rejects++;
		close(fd);
		return;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		close(fd);
		return;
	}
	l->m = m;
	l->fd = fd;
	l->deadline_ns = lg_now_ns() + VSOCK_CONNECT_LINE_TIMEOUT_NS;
	err = evloop_add(m->loop, fd, EPOLLIN, local_event, l);
	if (err < 0) {
		lg_warn("vsock: watching a host connection: %s",
			strerror(-err));
		close(fd);
		free(l);
		return;
	}
	l->next = m->locals;
	if (m->locals)
		m->locals->prev = l;
	m->locals = l;
	m->nr_locals++;
	m->stats.host_connects++;
	timer_arm(m, l->deadline_ns);
}

static void timer_event(void *opaque, uint32_t events)
{
	struct vsock_muxer *m = opaque;
	uint64_t now = lg_now_ns(), next = 0, ticks;
	struct vsock_local *l, *lnext;
	unsigned int i;
	ssize_t n;

	(void)events;
	n = read(m->timer_fd, &ticks, sizeof(ticks));
	(void)n;
	m->timer_ns = 0;
	for (i = 0; i < HASH_SIZE; i++) {
		for (struct vsock_conn *c = m->hash[i]; c; c = c->hash_next) {
			if (!c->expiry_ns)
				continue;
			if (c->expiry_ns <= now) {
				enum vsock_conn_state prev = c->state;

				c->expiry_ns = 0;
				vsock_conn_kill(c);
				conn_apply(m, c, prev);
			} else if (!next || c->expiry_ns < next) {
				next = c->expiry_ns;
			}
		}
	}
	for (l = m->locals; l; l = lnext) {
		lnext = l->next;
		if (l->deadline_ns <= now)
			local_reject(m, l);
		else if (!next || l->deadline_ns < next)
			next = l->deadline_ns;
	}
	m->timer_ns = 0;
	timer_arm(m, next);
	kick_if_pending(m);
}

/* ---- the device's side ---- */

static void handle_peer_request(struct vsock_muxer *m,
				const struct vsock_hdr *h)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct vsock_conn *c;
	int fd, n;

	n = snprintf(addr.sun_path, sizeof(addr.sun_path), "%s_%u", m->uds_path,
		     h->dst_port);
	if (n < 0 || (size_t)n >= sizeof(addr.sun_path) ||
	    m->nr_conns >= VSOCK_MAX_CONNECTIONS)
		goto rst;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto rst;
	/* Non-blocking: a full backlog (EAGAIN) is a refusal too. */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		close(fd);
		goto rst;
	}
	c = vsock_conn_new(fd, false, VSOCK_HOST_CID, m->cid, h->dst_port,
			   h->src_port, h->buf_alloc);
	if (!c) {
		close(fd);
		goto rst;
	}
	add_conn(m, c);
	return;
rst:
	enq_rst(m, h->dst_port, h->src_port);
}

void vsock_muxer_send_pkt(struct vsock_muxer *m, const struct vsock_hdr *h,
			  const struct iovec *iov, int iovcnt)
{
	enum vsock_conn_state prev;
	struct vsock_conn *c;

	if (h->type != VSOCK_TYPE_STREAM) {
		/* Only streams; an RST is never answered with one. */
		if (h->op != VSOCK_OP_RST)
			enq_rst(m, h->dst_port, h->src_port);
		return;
	}
	if (h->dst_cid != VSOCK_HOST_CID) {
		m->stats.pkts_dropped++;
		return;
	}
	c = conn_find(m, h->dst_port, h->src_port);
	if (!c) {
		if (h->op == VSOCK_OP_REQUEST)
			handle_peer_request(m, h);
		else if (h->op != VSOCK_OP_RST)
			enq_rst(m, h->dst_port, h->src_port);
		return;
	}
	if (h->op == VSOCK_OP_RST) {
		remove_conn(m, c);
		return;
	}
	prev = c->state;
	if (h->op == VSOCK_OP_RW)
		m->stats.tx_bytes += h->len;
	vsock_conn_send_pkt(c, h, iov, iovcnt, lg_now_ns());
	conn_apply(m, c, prev);
}

int vsock_muxer_recv_pkt(struct vsock_muxer *m, struct vsock_hdr *h,
			 const struct iovec *iov, int iovcnt)
{
	unsigned int tries = m->rxq_len;
	uint64_t now = lg_now_ns();

	if (m->rst_len) {
		const struct vsock_rst *r = &m->rstq[m->rst_head];

		memset(h, 0, sizeof(*h));
		h->src_cid = VSOCK_HOST_CID;
		h->dst_cid = m->cid;
		h->src_port = r->local_port;
		h->dst_port = r->peer_port;
		h->type = VSOCK_TYPE_STREAM;
		h->op = VSOCK_OP_RST;
		m->rst_head = (m->rst_head + 1) % VSOCK_MUXER_RSTQ_SIZE;
		m->rst_len--;
		return 0;
	}
	/* Each connection once at most, in turn: the next goes to the end. */
	while (tries-- && m->rxq_head) {
		struct vsock_conn *c = m->rxq_head;
		enum vsock_conn_state prev = c->state;
		int rc;

		rxq_remove(m, c);
		rc = vsock_conn_recv_pkt(c, h, iov, iovcnt, now);
		if (rc == 0 && h->op == VSOCK_OP_RST) {
			remove_conn(m, c);
			return 0;
		}
		if (rc == 0 && h->op == VSOCK_OP_RW)
			m->stats.rx_bytes += h->len;
		conn_apply(m, c, prev);
		if (rc == 0)
			return 0;
	}
	return -ENODATA;
}

bool vsock_muxer_has_pending_rx(const struct vsock_muxer *m)
{
	return m->rst_len || m->rxq_head;
}

static void remove_all_conns(struct vsock_muxer *m)
{
	unsigned int i;

	for (i = 0; i < HASH_SIZE; i++)
		while (m->hash[i])
			remove_conn(m, m->hash[i]);
}

void vsock_muxer_reset(struct vsock_muxer *m)
{
	unsigned int i;

	for (i = 0; i < HASH_SIZE; i++) {
		struct vsock_conn *c = m->hash[i], *next;

		for (; c; c = next) {
			next = c->hash_next;
			/* A REQUEST not sent yet is for the next driver. */
			if (c->state == VSOCK_CONN_LOCAL_INIT &&
			    (c->pending & VSOCK_PENDING_REQUEST))
				continue;
			remove_conn(m, c);
		}
	}
	m->rst_head = 0;
	m->rst_len = 0;
}

unsigned int vsock_muxer_nr_connections(const struct vsock_muxer *m)
{
	return m->nr_conns + m->nr_locals;
}

void vsock_muxer_get_stats(const struct vsock_muxer *m,
			   struct vsock_muxer_stats *st)
{
	*st = m->stats;
}

int vsock_muxer_create(struct evloop *loop, uint64_t guest_cid,
		       const char *uds_path, vsock_muxer_kick_fn kick,
		       void *kick_opaque, struct vsock_muxer **out)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct vsock_muxer *m;
	int err;

	*out = NULL;
	/* Room for "_<u32>" too, for the guest-initiated paths. */
	if (!uds_path || !*uds_path ||
	    strlen(uds_path) + 11 >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->loop = loop;
	m->cid = guest_cid;
	m->kick = kick;
	m->kick_opaque = kick_opaque;
	m->listen_fd = -1;
	m->timer_fd = -1;
	m->local_port_last = VSOCK_LOCAL_PORT_FIRST - 1;
	m->uds_path = strdup(uds_path);
	if (!m->uds_path) {
		err = -ENOMEM;
		goto fail;
	}
	m->timer_fd =
		timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (m->timer_fd < 0) {
		err = -errno;
		goto fail;
	}
	m->listen_fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0) {
		err = -errno;
		goto fail;
	}
	strcpy(addr.sun_path, uds_path);
	if (bind(m->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		err = -errno;
		lg_err("vsock: bind %s: %s", uds_path, strerror(-err));
		goto fail;
	}
	if (listen(m->listen_fd, 128) < 0) {
		err = -errno;
		goto fail_unlink;
	}
	err = evloop_add(loop, m->listen_fd, EPOLLIN, listener_event, m);
	if (err < 0)
		goto fail_unlink;
	err = evloop_add(loop, m->timer_fd, EPOLLIN, timer_event, m);
	if (err < 0) {
		evloop_del(loop, m->listen_fd);
		goto fail_unlink;
	}
	*out = m;
	return 0;
fail_unlink:
	unlink(uds_path);
fail:
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	free(m->uds_path);
	free(m);
	return err;
}

void vsock_muxer_destroy(struct vsock_muxer *m)
{
	if (!m)
		return;
	remove_all_conns(m);
	while (m->locals)
		local_free(m, m->locals, true);
	evloop_del(m->loop, m->listen_fd);
	evloop_del(m->loop, m->timer_fd);
	close(m->listen_fd);
	close(m->timer_fd);
	unlink(m->uds_path);
	free(m->uds_path);
	free(m);
}
