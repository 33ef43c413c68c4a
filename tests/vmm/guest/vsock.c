/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock through its real interface, with a host peer on the
 * other side (tests/vmm/devices/test-devices.c drives it):
 *
 * 1. host -> guest: the guest "listens" on port 1234, answers the
 *    host's REQUEST, receives HOST_BYTES with a receive buffer of only
 *    GUEST_BUF_ALLOC bytes (the device must stop at the credit, and go
 *    on after each CREDIT_UPDATE), replies, and sees the host close.
 * 2. guest -> host: connects to host port 5000, sends GUEST_BYTES
 *    within the host's credit (waiting for credit updates, asking with
 *    CREDIT_REQUEST), reads the host's answer, shuts down.
 * 3. a connect to host port 5001 (nobody listens) is refused with RST;
 *    a packet for no connection is answered with RST.
 *
 * Stream contents are fixed patterns both sides compute.
 */
#include "virtio.h"

#define VIRTIO_ID_VSOCK 19
#define RXQ 0
#define TXQ 1
#define EVQ 2

#define HOST_CID 2
#define TYPE_STREAM 1
#define OP_REQUEST 1
#define OP_RESPONSE 2
#define OP_RST 3
#define OP_SHUTDOWN 4
#define OP_RW 5
#define OP_CREDIT_UPDATE 6
#define OP_CREDIT_REQUEST 7

#define LISTEN_PORT 1234u
#define HOST_PORT 5000u
#define REFUSED_PORT 5001u
#define GUEST_PORT 2000u
#define HOST_BYTES 20000u
#define GUEST_BYTES 100000u
#define GUEST_BUF_ALLOC 8192u
#define RX_PAYLOAD 4096u
#define NR_RX 8u

struct hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

struct rx_buf {
	struct hdr h;
	uint8_t data[RX_PAYLOAD];
} __attribute__((packed));

static struct vdev dev;
static struct vq rxq, txq, evq;
static struct rx_buf rx[NR_RX];
static int rx_of_head[VQ_MAX];
static uint32_t event;
static struct hdr txh;
static uint8_t txdata[RX_PAYLOAD];
static uint64_t cid;
static int failures;
static uint32_t stray; /* packets for none of the expected ports */

static void fail(const char *what)
{
	uart_puts("vsock: FAIL ");
	uart_puts(what);
	uart_putc('\n');
	failures++;
}

static void rx_post(int i)
{
	struct vbuf b = {&rx[i], sizeof(rx[i]), 1};
	int head = vq_add(&rxq, &b, 1);

	if (head >= 0)
		rx_of_head[head] = i;
}

/*
 * Next packet for (local, peer) ports, into *h and *data (copied out of
 * the RX buffer, which is posted again). Others are counted and
 * dropped. 1, or 0 on timeout.
 */
static int recv_pkt(uint32_t local, uint32_t peer, struct hdr *h, uint8_t *data)
{
	uint64_t t0 = rdtsc();
	uint32_t id, len;

	while (rdtsc() - t0 < VIRTIO_TIMEOUT_CYCLES) {
		int i;

		if (!vq_get_used(&rxq, &id, &len)) {
			cpu_relax();
			continue;
		}
		i = rx_of_head[id];
		*h = rx[i].h;
		if (len < sizeof(struct hdr) || h->len > RX_PAYLOAD ||
		    len != sizeof(struct hdr) + h->len) {
			fail("bad rx packet length");
			h->len = 0;
		}
		if (data && h->len)
			memcpy(data, rx[i].data, h->len);
		rx_post(i);
		vq_kick(&rxq);
		if (h->dst_port == local && (peer == 0 || h->src_port == peer))
			return 1;
		stray++;
	}
	return 0;
}

static void send_pkt(uint32_t local, uint32_t peer, uint16_t op, uint32_t flags,
		     uint32_t buf_alloc, uint32_t fwd_cnt, const void *data,
		     uint32_t len)
{
	struct vbuf b[2] = {{&txh, sizeof(txh), 0}, {data, len, 0}};

	txh.src_cid = cid;
	txh.dst_cid = HOST_CID;
	txh.src_port = local;
	txh.dst_port = peer;
	txh.len = len;
	txh.type = TYPE_STREAM;
	txh.op = op;
	txh.flags = flags;
	txh.buf_alloc = buf_alloc;
	txh.fwd_cnt = fwd_cnt;
	if (vq_transfer(&txq, b, len ? 2 : 1) < 0)
		fail("tx not completed");
}

static uint8_t host_pattern(uint32_t k)
{
	return (uint8_t)(k * 7 + 3);
}

static uint8_t guest_pattern(uint32_t k)
{
	return (uint8_t)(k * 11 + 5);
}

/* 1: the host connects to our port 1234 and streams to us. */
static void host_to_guest(void)
{
	static uint8_t data[RX_PAYLOAD];
	uint32_t received = 0, fwd = 0, updates = 0, k, hport;
	int bad_pattern = 0;
	struct hdr h;
	char msg[16];

	if (!recv_pkt(LISTEN_PORT, 0, &h, 0) || h.op != OP_REQUEST) {
		fail("no connection request from the host");
		return;
	}
	hport = h.src_port;
	uart_puts("vsock: request from host port ");
	put_dec(hport);
	uart_puts(" cid ");
	put_dec(h.src_cid);
	uart_puts(" to port ");
	put_dec(h.dst_port);
	uart_putc('\n');
	send_pkt(LISTEN_PORT, hport, OP_RESPONSE, 0, GUEST_BUF_ALLOC, 0, 0, 0);

	while (received < HOST_BYTES) {
		if (!recv_pkt(LISTEN_PORT, hport, &h, data)) {
			fail("host data stopped");
			return;
		}
		if (h.op == OP_CREDIT_REQUEST) {
			send_pkt(LISTEN_PORT, hport, OP_CREDIT_UPDATE, 0,
				 GUEST_BUF_ALLOC, received, 0, 0);
			fwd = received;
			continue;
		}
		if (h.op != OP_RW) {
			fail("unexpected packet in host data");
			return;
		}
		for (k = 0; k < h.len; k++)
			if (data[k] != host_pattern(received + k))
				bad_pattern = 1;
		received += h.len;
		/* The device must never send beyond what we allowed. */
		if (received - fwd > GUEST_BUF_ALLOC) {
			fail("device ignored the guest's credit");
			return;
		}
		/* Credit only once it is all used up, or at the end. */
		if (received - fwd == GUEST_BUF_ALLOC ||
		    received == HOST_BYTES) {
			send_pkt(LISTEN_PORT, hport, OP_CREDIT_UPDATE, 0,
				 GUEST_BUF_ALLOC, received, 0, 0);
			fwd = received;
			updates++;
		}
	}
	put_kv("vsock: ", "received from host bytes ", received);
	if (bad_pattern)
		fail("host data pattern");
	else
		uart_puts("vsock: host data pattern ok\n");
	report(updates);

	memcpy(msg, "pong 20000\n", 11);
	send_pkt(LISTEN_PORT, hport, OP_RW, 0, GUEST_BUF_ALLOC, received, msg,
		 11);
	/* The host closes after reading it: a full shutdown reaches us. */
	if (!recv_pkt(LISTEN_PORT, hport, &h, 0) || h.op != OP_SHUTDOWN) {
		fail("no shutdown after the host closed");
		return;
	}
	put_kv("vsock: ", "host closed, shutdown flags ", h.flags);
	send_pkt(LISTEN_PORT, hport, OP_RST, 0, 0, 0, 0, 0);
}

/* 2: we connect to host port 5000 and stream to it. */
static void guest_to_host(void)
{
	static uint8_t data[RX_PAYLOAD];
	uint32_t sent = 0, host_alloc, host_fwd, waits = 0, k, n;
	struct hdr h;

	send_pkt(GUEST_PORT, HOST_PORT, OP_REQUEST, 0, 65536, 0, 0, 0);
	if (!recv_pkt(GUEST_PORT, HOST_PORT, &h, 0) || h.op != OP_RESPONSE) {
		fail("connect to host port 5000");
		return;
	}
	put_kv("vsock: ", "connected to host port ", h.src_port);
	host_alloc = h.buf_alloc;
	host_fwd = h.fwd_cnt;
	put_kv("vsock: ", "host buf_alloc ", host_alloc);

	while (sent < GUEST_BYTES) {
		uint32_t credit = host_alloc - (sent - host_fwd);

		if (credit == 0) {
			/* Ask, then wait for any packet carrying credit. */
			waits++;
			send_pkt(GUEST_PORT, HOST_PORT, OP_CREDIT_REQUEST, 0,
				 65536, 0, 0, 0);
			if (!recv_pkt(GUEST_PORT, HOST_PORT, &h, 0) ||
			    h.op != OP_CREDIT_UPDATE) {
				fail("no credit update from the host");
				return;
			}
			host_alloc = h.buf_alloc;
			host_fwd = h.fwd_cnt;
			continue;
		}
		n = GUEST_BYTES - sent;
		if (n > credit)
			n = credit;
		if (n > RX_PAYLOAD)
			n = RX_PAYLOAD;
		for (k = 0; k < n; k++)
			txdata[k] = guest_pattern(sent + k);
		send_pkt(GUEST_PORT, HOST_PORT, OP_RW, 0, 65536, 0, txdata, n);
		sent += n;
	}
	put_kv("vsock: ", "sent to host bytes ", sent);
	report(waits);

	/* The host answers once it has it all. */
	do {
		if (!recv_pkt(GUEST_PORT, HOST_PORT, &h, data)) {
			fail("no answer from the host");
			return;
		}
	} while (h.op == OP_CREDIT_UPDATE);
	if (h.op != OP_RW || h.len >= sizeof(data)) {
		fail("host answer");
		return;
	}
	data[h.len] = 0;
	uart_puts("vsock: host says ");
	uart_puts((const char *)data);

	send_pkt(GUEST_PORT, HOST_PORT, OP_SHUTDOWN, 3, 65536, h.len, 0, 0);
	do {
		if (!recv_pkt(GUEST_PORT, HOST_PORT, &h, 0)) {
			fail("no rst after shutdown");
			return;
		}
	} while (h.op == OP_CREDIT_UPDATE);
	if (h.op == OP_RST)
		uart_puts("vsock: shutdown answered with rst\n");
	else
		fail("shutdown answer");
}

/* 3: refusals. */
static void refusals(void)
{
	struct hdr h;

	send_pkt(GUEST_PORT + 1, REFUSED_PORT, OP_REQUEST, 0, 65536, 0, 0, 0);
	if (recv_pkt(GUEST_PORT + 1, REFUSED_PORT, &h, 0) && h.op == OP_RST)
		uart_puts("vsock: connect to port 5001 refused with rst\n");
	else
		fail("connect to port 5001");
	send_pkt(GUEST_PORT + 2, 7777, OP_RW, 0, 65536, 0, "x", 1);
	if (recv_pkt(GUEST_PORT + 2, 7777, &h, 0) && h.op == OP_RST)
		uart_puts("vsock: stray packet answered with rst\n");
	else
		fail("stray packet");
}

int guest_main(void)
{
	struct vbuf ev = {&event, sizeof(event), 1};
	unsigned int i;

	if (!vdev_find(VIRTIO_ID_VSOCK, 0, &dev)) {
		uart_puts("vsock: no device\n");
		return 1;
	}
	if (vdev_begin(&dev, 0) < 0 || vq_setup(&dev, &rxq, RXQ) < 0 ||
	    vq_setup(&dev, &txq, TXQ) < 0 || vq_setup(&dev, &evq, EVQ) < 0) {
		uart_puts("vsock: setup failed\n");
		return 2;
	}
	vdev_driver_ok(&dev);
	cid = vdev_config64(&dev, 0);
	put_kv("vsock: ", "guest cid ", cid);
	for (i = 0; i < NR_RX; i++)
		rx_post((int)i);
	vq_kick(&rxq);
	vq_add(&evq, &ev, 1);
	vq_kick(&evq);

	host_to_guest();
	guest_to_host();
	refusals();
	report(stray);
	if (vdev_status(&dev) & (VSTAT_NEEDS_RESET | VSTAT_FAILED))
		fail("device needs reset");
	put_kv("vsock: ", "done failures ", (uint64_t)failures);
	return failures;
}
