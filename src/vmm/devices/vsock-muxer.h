/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of virtio-vsock, exactly as Firecracker's Unix-socket
 * backend (unix/muxer.rs, docs/vsock.md): guest AF_VSOCK ports map to
 * host AF_UNIX sockets.
 *
 * Host -> guest: the muxer listens on `uds_path`. A host client
 * connects and sends "CONNECT <port>\n" (first word case-insensitive,
 * the port a decimal u32, at most 32 bytes up to the newline); the
 * muxer allocates a local port round-robin in [1 << 30, 1 << 31) and
 * sends the guest a REQUEST from (CID 2, local port) to <port>. When
 * the guest answers RESPONSE, the host client reads "OK <local port>\n"
 * and the stream carries the connection; if the guest answers RST, or
 * does not answer within 2 s of the REQUEST, the host stream is closed.
 *
 * Guest -> host: a REQUEST to CID 2, port P connects to
 * "<uds_path>_<P>"; if nothing listens there (or its backlog is full)
 * the guest gets an RST.
 *
 * Bounds: at most VSOCK_MAX_CONNECTIONS connections (host connections
 * still sending their CONNECT line count too; more are accepted and
 * closed), 64 KiB of buffered guest data per connection, and a queue of
 * VSOCK_MUXER_RSTQ_SIZE RSTs for packets that match no connection
 * (more are dropped, as in Firecracker). All sockets are non-blocking
 * and served by the event loop; nothing a guest sends makes the loop
 * wait or spin.
 *
 * Threading: everything runs on the event loop's thread (the device
 * calls in from its loop handlers, and destroys it there too).
 */
#ifndef LG_VMM_DEVICES_VSOCK_MUXER_H
#define LG_VMM_DEVICES_VSOCK_MUXER_H

#include "vmm/devices/vsock-packet.h"
#include "vmm/event-loop.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VSOCK_MAX_CONNECTIONS 1023u
#define VSOCK_MUXER_RSTQ_SIZE 256u
#define VSOCK_LOCAL_PORT_FIRST (1u << 30)
/* "CONNECT <port>\n": the most bytes read for it. */
#define VSOCK_CONNECT_LINE_MAX 32u
/* A host client must send its CONNECT line within this time. */
#define VSOCK_CONNECT_LINE_TIMEOUT_NS (2000ull * 1000 * 1000)

struct vsock_muxer_stats {
	uint64_t conns_added, conns_removed, conns_killed;
	uint64_t host_connects;	     /* host connections accepted */
	uint64_t host_rejects;	     /* bad CONNECT lines, limits, timeouts */
	uint64_t rst_dropped;	     /* RSTs that did not fit the queue */
	uint64_t pkts_dropped;	     /* guest packets not for CID 2 */
	uint64_t tx_bytes, rx_bytes; /* guest->host, host->guest payload */
};

struct vsock_muxer;

/*
 * `kick` is called (on the loop thread, from the muxer's own event
 * handlers only) when packets for the guest became pending: the device
 * should then fill RX buffers with vsock_muxer_recv_pkt().
 */
typedef void (*vsock_muxer_kick_fn)(void *opaque);

/*
 * Binds and listens on uds_path (which must not exist: -EADDRINUSE).
 * 0 or a negative errno.
 */
int vsock_muxer_create(struct evloop *loop, uint64_t guest_cid,
		       const char *uds_path, vsock_muxer_kick_fn kick,
		       void *kick_opaque, struct vsock_muxer **out);
/* Closes every socket and removes uds_path. */
void vsock_muxer_destroy(struct vsock_muxer *m);

/*
 * A packet from the guest (TX queue); for RW, iov holds exactly h->len
 * payload bytes. Always consumed.
 */
void vsock_muxer_send_pkt(struct vsock_muxer *m, const struct vsock_hdr *h,
			  const struct iovec *iov, int iovcnt);

/*
 * The next packet for the guest (RX queue): header into h, payload
 * into iov (the buffer's room, non-empty). 0, or -ENODATA.
 */
int vsock_muxer_recv_pkt(struct vsock_muxer *m, struct vsock_hdr *h,
			 const struct iovec *iov, int iovcnt);

bool vsock_muxer_has_pending_rx(const struct vsock_muxer *m);

/*
 * The running driver reset the device: every connection the guest knew
 * of ends (host streams closed, no RST sent: the guest's driver starts
 * from scratch); host connections whose REQUEST was not sent yet stay
 * for the next driver, and so does the listener.
 */
void vsock_muxer_reset(struct vsock_muxer *m);

/* Connections now (host clients still sending CONNECT included). */
unsigned int vsock_muxer_nr_connections(const struct vsock_muxer *m);
void vsock_muxer_get_stats(const struct vsock_muxer *m,
			   struct vsock_muxer_stats *st);

#endif
