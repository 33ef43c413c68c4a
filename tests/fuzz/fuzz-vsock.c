/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the vsock packet header path. A virtio-vsock device
 * is driven through its virtio-mmio registers by a script from the input:
 * TX packets with fuzzed headers and payloads (steered, when the script
 * says so, towards the host CID, stream type and the two ports that have
 * host listeners), RX buffers of fuzzed sizes, host clients sending
 * CONNECT lines and data, device resets, event loop turns. Guest RAM is
 * one mapping, the device sources are instrumented.
 *
 * Script: records of [op][arg][len][len bytes]:
 *   op % 6 == 0: TX packet; the bytes are the 44-byte header (zero
 *                padded) then the payload; arg bits: 0 keep dst_cid,
 *                1 keep type, 2-3 dst_port (0-3) unless bit 4, bit 5
 *                keep src_port (else & 7), bit 6 set hdr.len to the
 *                payload's length, bit 7 split the payload in two.
 *   1: RX buffer of 4 * arg bytes.
 *   2: arg % 8 event loop turns.
 *   3: a host client connects to uds_path and sends the bytes.
 *   4: the listener on <uds_path>_(arg % 2 + 1) accepts, and sends the
 *      bytes to the guest (or closes when there are none).
 *   5: device reset and set up again.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/devices/virtio-vsock.h"
#include "vmm/event-loop.h"
#include "vmm/memory.h"
#include "vmm/virtio/mmio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM_SIZE (1u << 20)
#define QSIZE 16u
#define QUEUE_GPA(q) (0x1000u + (q)*0x1000u)
#define TX_GPA 0x10000u
#define RX_GPA 0x40000u
#define RX_SLOT 0x4000u
#define MAX_FDS 16

struct tq {
	uint16_t avail_idx, used_seen, next;
};

static struct vm_mem mem;
static uint8_t *ram;
static struct evloop *loop;
static char uds[108];
static int listeners[2] = {-1, -1};
static struct virtio_mmio *dev;
static struct tq q[3];
static int fds[MAX_FDS];
static unsigned int nr_fds;

static void no_irq(void *opaque, bool level)
{
	(void)opaque;
	(void)level;
}

static void wr(uint64_t off, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			(uint8_t)(v >> 24)};

	virtio_mmio_bus_ops.write(dev, off, b, 4);
}

static void drv_init(void)
{
	unsigned int i;

	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, 3);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(VIRTIO_MMIO_STATUS, 11);
	memset(ram, 0, TX_GPA);
	for (i = 0; i < 3; i++) {
		uint32_t base = QUEUE_GPA(i);

		memset(&q[i], 0, sizeof(q[i]));
		wr(VIRTIO_MMIO_QUEUE_SEL, i);
		wr(VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(VIRTIO_MMIO_QUEUE_DESC_LOW, base);
		wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, base + 0x400);
		wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, base + 0x800);
		wr(VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(VIRTIO_MMIO_STATUS, 15);
}

static void add(unsigned int qi, const uint64_t *addr, const uint32_t *len,
		unsigned int n, bool writable)
{
	uint8_t *desc = ram + QUEUE_GPA(qi);
	uint8_t *avail = desc + 0x400;
	uint16_t head = q[qi].next, idx;
	unsigned int i;

	for (i = 0; i < n; i++) {
		struct virtq_desc d = {
			.addr = addr[i],
			.len = len[i],
			.flags =
				(uint16_t)((writable ? VIRTQ_DESC_F_WRITE : 0) |
					   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
		};

		idx = (uint16_t)((head + i) % QSIZE);
		d.next = (uint16_t)((idx + 1) % QSIZE);
		memcpy(desc + 16u * idx, &d, sizeof(d));
	}
	q[qi].next = (uint16_t)((head + n) % QSIZE);
	memcpy(avail + 4 + 2u * (q[qi].avail_idx % QSIZE), &head, 2);
	q[qi].avail_idx++;
	memcpy(avail + 2, &q[qi].avail_idx, 2);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

static void turns(unsigned int n)
{
	while (n-- && evloop_run_once(loop, 0) > 0)
		;
}

static void tx_packet(uint8_t arg, const uint8_t *p, uint32_t len)
{
	uint8_t raw[VSOCK_HDR_SIZE] = {0};
	uint32_t plen = len > VSOCK_HDR_SIZE ? len - VSOCK_HDR_SIZE : 0;
	uint64_t addr[3];
	uint32_t lens[3];
	struct vsock_hdr h;
	unsigned int n = 1;

	memcpy(raw, p, len < VSOCK_HDR_SIZE ? len : VSOCK_HDR_SIZE);
	vsock_hdr_decode(raw, &h);
	if (!(arg & 1))
		h.dst_cid = VSOCK_HOST_CID;
	if (!(arg & 2))
		h.type = VSOCK_TYPE_STREAM;
	if (!(arg & 16))
		h.dst_port = (arg >> 2) & 3;
	if (!(arg & 32))
		h.src_port &= 7;
	if (arg & 64)
		h.len = plen;
	vsock_hdr_encode(&h, ram + TX_GPA);
	memcpy(ram + TX_GPA + 0x100, p + VSOCK_HDR_SIZE, plen);
	addr[0] = TX_GPA;
	lens[0] = VSOCK_HDR_SIZE;
	if (plen && (arg & 128) && plen > 1) {
		addr[1] = TX_GPA + 0x100;
		lens[1] = plen / 2;
		addr[2] = TX_GPA + 0x100 + plen / 2;
		lens[2] = plen - plen / 2;
		n = 3;
	} else if (plen) {
		addr[1] = TX_GPA + 0x100;
		lens[1] = plen;
		n = 2;
	}
	add(VIRTIO_VSOCK_TXQ, addr, lens, n, false);
	turns(4);
}

static void rx_buffer(uint8_t arg)
{
	static unsigned int slot;
	uint64_t addr = RX_GPA + RX_SLOT * (slot++ % QSIZE);
	uint32_t len = 4u * arg + 1;

	add(VIRTIO_VSOCK_RXQ, &addr, &len, 1, true);
	turns(4);
}

static void keep_fd(int fd)
{
	if (fd < 0)
		return;
	if (nr_fds == MAX_FDS) {
		close(fd);
		return;
	}
	fds[nr_fds++] = fd;
}

static void host_client(const uint8_t *p, uint32_t len)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", uds);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return;
	}
	if (len && send(fd, p, len, MSG_NOSIGNAL) < 0) {
		close(fd);
		return;
	}
	keep_fd(fd);
	turns(4);
}

static void host_peer(uint8_t arg, const uint8_t *p, uint32_t len)
{
	int fd = accept4(listeners[arg % 2], NULL, NULL,
			 SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (!len || send(fd, p, len, MSG_NOSIGNAL) < 0) {
		close(fd);
	} else {
		keep_fd(fd);
	}
	turns(4);
}

static int listen_at(unsigned int port)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s_%u", uds, port);
	unlink(a.sun_path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 64) < 0)
		abort();
	return fd;
}

static char dir[] = "/tmp/lg-fuzz-vsock-XXXXXX";

/* The listeners' paths and the folder go when the fuzzer exits. */
static void cleanup(void)
{
	char path[128];
	unsigned int i;

	for (i = 1; i <= 2; i++) {
		snprintf(path, sizeof(path), "%s_%u", uds, i);
		unlink(path);
	}
	unlink(uds);
	rmdir(dir);
}

static void init_once(void)
{
	lg_log_set_level(LG_LOG_ERROR);
	vm_mem_init(&mem);
	if (vm_mem_add(&mem, 0, RAM_SIZE) || evloop_create(&loop) ||
	    !mkdtemp(dir))
		abort();
	ram = vm_mem_ptr(&mem, 0, RAM_SIZE);
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	listeners[0] = listen_at(1);
	listeners[1] = listen_at(2);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtio_vsock_params params = {.guest_cid = 3, .uds_path = uds};
	struct virtio_vsock *vs;
	size_t pos = 0;
	unsigned int i;

	if (!ram)
		init_once();
	if (virtio_vsock_create(&params, &mem, loop, no_irq, NULL, &vs) < 0)
		abort();
	dev = virtio_vsock_mmio(vs);
	drv_init();
	turns(4);
	while (pos + 3 <= size) {
		uint8_t op = data[pos], arg = data[pos + 1];
		uint32_t len = data[pos + 2];
		const uint8_t *p = data + pos + 3;

		if (len > size - pos - 3)
			len = (uint32_t)(size - pos - 3);
		pos += 3 + len;
		switch (op % 6) {
		case 0:
			tx_packet(arg, p, len);
			break;
		case 1:
			rx_buffer(arg);
			break;
		case 2:
			turns(arg % 8);
			break;
		case 3:
			host_client(p, len);
			break;
		case 4:
			host_peer(arg, p, len);
			break;
		default:
			drv_init();
			turns(4);
			break;
		}
		if (virtio_vsock_nr_connections(vs) > VSOCK_MAX_CONNECTIONS)
			abort();
	}
	virtio_vsock_destroy(vs);
	for (i = 0; i < nr_fds; i++)
		close(fds[i]);
	nr_fds = 0;
	/* Connections the guest made and nobody accepted. */
	for (i = 0; i < 2; i++) {
		int fd;

		while ((fd = accept(listeners[i], NULL, NULL)) >= 0)
			close(fd);
	}
	return 0;
}
