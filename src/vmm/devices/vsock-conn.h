/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One vsock stream connection between a guest AF_VSOCK socket and a host
 * AF_UNIX stream, as Firecracker's connection state machine
 * (csm/connection.rs): it turns guest packets into bytes on the host
 * stream and host bytes into packets for the guest, and keeps the
 * credit accounting of both directions.
 *
 * Guest -> host: data goes straight to the (non-blocking) stream; what
 * the stream does not take waits in a TX buffer of
 * VSOCK_CONN_TX_BUF_SIZE, which is also the buf_alloc we advertise, so a
 * guest that respects its credit never overflows it; one that does not
 * gets its connection killed. Host -> guest: bytes are read from the
 * stream only as far as the guest's credit (buf_alloc - (rx_cnt -
 * fwd_cnt)) allows, straight into the guest's RX buffer.
 *
 * What the connection wants to send is kept as a set of pending packet
 * kinds (VSOCK_PENDING_*); the muxer asks for one packet at a time. It
 * owns the scheduling, the epoll registration of the stream and the
 * closing of it; the connection only says which events it wants.
 * Single-threaded: the muxer's (event loop) thread only.
 */
#ifndef LG_VMM_DEVICES_VSOCK_CONN_H
#define LG_VMM_DEVICES_VSOCK_CONN_H

#include "vmm/devices/vsock-packet.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define VSOCK_CONN_TX_BUF_SIZE (64u * 1024)
/* Credit update when the guest may think we have less free than this. */
#define VSOCK_CONN_CREDIT_UPDATE_THRESHOLD (4u * 1024)
#define VSOCK_CONN_REQUEST_TIMEOUT_NS (2000ull * 1000 * 1000)
#define VSOCK_CONN_SHUTDOWN_TIMEOUT_NS (2000ull * 1000 * 1000)

enum vsock_conn_state {
	VSOCK_CONN_LOCAL_INIT, /* host-initiated, REQUEST not answered */
	VSOCK_CONN_PEER_INIT,  /* guest-initiated, RESPONSE not sent yet */
	VSOCK_CONN_ESTABLISHED,
	VSOCK_CONN_LOCAL_CLOSED, /* the host stream reached EOF */
	VSOCK_CONN_PEER_CLOSED,	 /* the guest sent SHUTDOWN */
	VSOCK_CONN_KILLED,	 /* RST pending; the stream is dead */
};

/* Pending packets for the guest, most urgent first. */
#define VSOCK_PENDING_RST (1u << 0)
#define VSOCK_PENDING_RESPONSE (1u << 1)
#define VSOCK_PENDING_REQUEST (1u << 2)
#define VSOCK_PENDING_RW (1u << 3)
#define VSOCK_PENDING_CREDIT_UPDATE (1u << 4)

struct vsock_conn {
	/* The muxer's bookkeeping. */
	void *owner;
	struct vsock_conn *hash_next;
	struct vsock_conn *rx_prev, *rx_next;
	bool in_rxq;
	uint32_t polled; /* events registered with the event loop, 0: none */

	int fd; /* the host stream, -1 once closed */
	enum vsock_conn_state state;
	bool peer_recv_off, peer_send_off; /* SHUTDOWN flags seen */
	uint64_t local_cid, peer_cid;
	uint32_t local_port, peer_port;

	uint8_t *tx_buf; /* allocated while it holds data */
	uint32_t tx_head, tx_len;

	uint32_t fwd_cnt;	 /* bytes written to the host stream */
	uint32_t peer_buf_alloc; /* the guest's receive buffer */
	uint32_t peer_fwd_cnt;	 /* bytes the guest consumed */
	uint32_t rx_cnt;	 /* bytes sent to the guest */
	uint32_t last_fwd_cnt_to_peer;
	unsigned int pending; /* VSOCK_PENDING_* */
	uint64_t expiry_ns;   /* kill at this time; 0: no timer */
};

/*
 * A connection over host stream fd (owned from here on). Host-initiated
 * ones start with a REQUEST pending, guest-initiated ones with a
 * RESPONSE; NULL if out of memory (fd not closed then).
 */
struct vsock_conn *vsock_conn_new(int fd, bool host_initiated,
				  uint64_t local_cid, uint64_t peer_cid,
				  uint32_t local_port, uint32_t peer_port,
				  uint32_t peer_buf_alloc);
/* Closes the stream (if still open) and frees. */
void vsock_conn_free(struct vsock_conn *c);

static inline bool vsock_conn_has_pending_rx(const struct vsock_conn *c)
{
	return c->pending != 0;
}

/*
 * Fills in the next packet for the guest: header h, and for RW the
 * payload read from the stream into iov (at most VSOCK_MAX_IOV entries,
 * the packet's room). 0, or -ENODATA when there is nothing to send
 * after all (the RX buffer stays unused).
 */
int vsock_conn_recv_pkt(struct vsock_conn *c, struct vsock_hdr *h,
			const struct iovec *iov, int iovcnt, uint64_t now);

/*
 * Takes a guest packet addressed to this connection; for RW, iov holds
 * exactly h->len payload bytes. Never fails: bad packets are dropped, a
 * broken stream or a credit violation kills the connection.
 */
void vsock_conn_send_pkt(struct vsock_conn *c, const struct vsock_hdr *h,
			 const struct iovec *iov, int iovcnt, uint64_t now);

/* The host stream is ready (events as epoll reported them). */
void vsock_conn_notify(struct vsock_conn *c, uint32_t events, uint64_t now);

/* The epoll events the stream should be watched for now (0: none). */
uint32_t vsock_conn_wanted_events(const struct vsock_conn *c);

/* Forceful termination: an RST is all that is left to send. */
void vsock_conn_kill(struct vsock_conn *c);

/* Writes bytes outside the flow control (the "OK <port>\n" reply). */
ssize_t vsock_conn_send_raw(struct vsock_conn *c, const void *buf, size_t len);

#endif
