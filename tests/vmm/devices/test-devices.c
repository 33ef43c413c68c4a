/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lgvmm's devices driven by ring-3 test guests through their real
 * interfaces (virtio-mmio, i8042 ports), under KVM: the guest prints
 * its findings over the UART, and the test checks that text, the
 * reports and what the host side saw. Usage: test-devices NAME, one
 * device per run. Exit 77 (skip) when KVM is not usable here.
 */
#include "check.h"
#include "harness.h"

#include "common/log.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/virtio-blk.h"
#include "vmm/devices/virtio-net.h"
#include "vmm/devices/virtio-rng.h"
#include "vmm/devices/virtio-vsock.h"
#include "vmm/event-loop.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define STATUS(f0) (failures == (f0) ? "ok" : "FAILED")
#define UART_MAX 8192

static const char *guest_dir;
static char uart[UART_MAX];

/* Creates the harness and loads guest `name`; false on failure. */
static bool setup_guest(struct harness *h, const char *name)
{
	char path[4096];
	int err;

	err = harness_create(h);
	if (err < 0) {
		fprintf(stderr, "%s: harness: %s\n", name, strerror(-err));
		failures++;
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s.bin", guest_dir, name);
	err = harness_load(h, path);
	if (err < 0) {
		fprintf(stderr, "%s: load %s: %s\n", name, path,
			strerror(-err));
		failures++;
		harness_destroy(h);
		return false;
	}
	return true;
}

/* Runs the loaded guest, then fetches its UART text into `uart`. */
static bool run_guest(struct harness *h, const char *name)
{
	int err = harness_run(h);

	uart[0] = '\0';
	harness_uart_output(h, uart, sizeof(uart));
	if (err < 0) {
		fprintf(stderr, "%s: run: %s\n", name, strerror(-err));
		fprintf(stderr, "%s: UART so far:\n%s", name, uart);
		failures++;
		return false;
	}
	if (!h->dev.exited)
		harness_dump(h);
	/* In the test log, for comparison with runs under other VMMs. */
	printf("--- %s: guest UART ---\n%s--- end ---\n", name, uart);
	return true;
}

static bool uart_has(const char *line)
{
	if (strstr(uart, line))
		return true;
	fprintf(stderr, "UART lacks \"%s\"; it has:\n%s", line, uart);
	return false;
}

static void test_rng(void)
{
	struct virtio_rng *rng = NULL;
	struct harness h;
	int f0 = failures;

	if (!setup_guest(&h, "rng"))
		return;
	CHECK_EQ(virtio_rng_create(&h.vm->mem, harness_virtio_irq, &h, &rng),
		 0);
	if (!rng)
		goto out;
	CHECK_EQ(harness_attach_virtio(&h, virtio_rng_mmio(rng)), 0);
	if (!run_guest(&h, "rng"))
		goto out;
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.exit_code, 0);
	CHECK(uart_has("rng: ready\n"));
	CHECK(uart_has("rng: draw 1 bytes 64\n"));
	CHECK(uart_has("rng: draw 2 bytes 64\n"));
	CHECK(uart_has("rng: draws differ\n"));
	CHECK(uart_has("rng: done failures 0\n"));
	CHECK_EQ(h.dev.nr_reports, 2);
	CHECK_EQ(h.dev.reports[0], 64);
	CHECK_EQ(h.dev.reports[1], 64);
	CHECK_EQ(virtio_rng_bytes(rng), 128);
	/* Vring interrupts were raised (the guest polls, never takes them). */
	CHECK(h.virtio_irqs >= 2);
out:
	printf("rng: %s\n", STATUS(f0));
	virtio_rng_destroy(rng);
	harness_destroy(&h);
}

/* The image blk.c expects: byte j of sector s is s ^ (13 * j). */
static uint8_t blk_pattern(uint64_t sector, uint32_t j)
{
	return (uint8_t)(sector ^ (13u * j));
}

/* A temporary disk image of `sectors` sectors; its fd, path in `path`. */
static int make_image(char *path, size_t size, unsigned int sectors)
{
	uint8_t buf[VIRTIO_BLK_SECTOR_SIZE];
	unsigned int s, j;
	int fd;

	snprintf(path, size, "/tmp/lg-test-blk-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	for (s = 0; s < sectors; s++) {
		for (j = 0; j < sizeof(buf); j++)
			buf[j] = blk_pattern(s, j);
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			close(fd);
			unlink(path);
			return -EIO;
		}
	}
	return fd;
}

/* Whether sector s of fd holds the original pattern (or 0xa5 ^ j). */
static bool sector_is(int fd, unsigned int s, bool written)
{
	uint8_t buf[VIRTIO_BLK_SECTOR_SIZE];
	unsigned int j;

	if (pread(fd, buf, sizeof(buf), (off_t)s * sizeof(buf)) !=
	    (ssize_t)sizeof(buf))
		return false;
	for (j = 0; j < sizeof(buf); j++)
		if (buf[j] !=
		    (written ? (uint8_t)(0xa5 ^ j) : blk_pattern(s, j)))
			return false;
	return true;
}

static void test_blk(void)
{
	struct virtio_blk_params p0 = {.drive_id = "rootfs", .flush = true};
	/* Flush offered on both, as QEMU does: the text stays comparable. */
	struct virtio_blk_params p1 = {
		.drive_id = "scratch-ro", .read_only = true, .flush = true};
	struct virtio_blk *blk0 = NULL, *blk1 = NULL;
	struct virtio_blk_stats st0, st1;
	char path0[64], path1[64];
	int fd0, fd1 = -1, f0 = failures;
	struct harness h;
	unsigned int s;

	fd0 = make_image(path0, sizeof(path0), 128);
	CHECK(fd0 >= 0);
	if (fd0 >= 0)
		fd1 = make_image(path1, sizeof(path1), 64);
	CHECK(fd1 >= 0);
	if (fd1 < 0 || !setup_guest(&h, "blk")) {
		failures++;
		goto out_files;
	}
	p0.path = path0;
	p1.path = path1;
	CHECK_EQ(virtio_blk_create(&p0, &h.vm->mem, harness_virtio_irq, &h,
				   &blk0),
		 0);
	CHECK_EQ(virtio_blk_create(&p1, &h.vm->mem, harness_virtio_irq, &h,
				   &blk1),
		 0);
	if (!blk0 || !blk1)
		goto out;
	CHECK_EQ(harness_attach_virtio(&h, virtio_blk_mmio(blk0)), 0);
	CHECK_EQ(harness_attach_virtio(&h, virtio_blk_mmio(blk1)), 1);
	if (!run_guest(&h, "blk"))
		goto out;
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.exit_code, 0);
	CHECK(uart_has("blk0: read-only 0 flush 1\n"));
	CHECK(uart_has("blk0: capacity sectors 128\n"));
	CHECK(uart_has("blk0: read sectors 0-3 ok crc "));
	CHECK(uart_has("blk0: read last sector ok\n"));
	CHECK(uart_has("blk0: read at capacity status 1\n"));
	CHECK(uart_has("blk0: read across the end status 1\n"));
	CHECK(uart_has("blk0: read at sector 2^63 status 1\n"));
	CHECK(uart_has("blk0: read of 100 bytes status 1\n"));
	CHECK(uart_has("blk0: unknown request type status 2\n"));
	CHECK(uart_has("blk0: id \"rootfs\"\n"));
	CHECK(uart_has("blk0: write sector 5 status 0\n"));
	CHECK(uart_has("blk0: read back sector 5 ok\n"));
	CHECK(uart_has("blk0: write at capacity status 1\n"));
	CHECK(uart_has("blk0: flush status 0\n"));
	CHECK(uart_has("blk1: read-only 1 flush 1\n"));
	CHECK(uart_has("blk1: flush status 0\n"));
	CHECK(uart_has("blk1: capacity sectors 64\n"));
	CHECK(uart_has("blk1: id \"scratch-ro\"\n"));
	CHECK(uart_has("blk1: write to read-only disk status 1\n"));
	CHECK(uart_has("blk: disks 2\n"));
	CHECK(uart_has("blk: done failures 0\n"));
	CHECK(!strstr(uart, "FAIL"));
	CHECK_EQ(h.dev.nr_reports, 2);
	CHECK_EQ(h.dev.reports[0], 128);
	CHECK_EQ(h.dev.reports[1], 64);
	/* The host file: sector 5 rewritten, every other one untouched. */
	for (s = 0; s < 128; s++)
		CHECK(sector_is(fd0, s, s == 5));
	for (s = 0; s < 64; s++)
		CHECK(sector_is(fd1, s, false));
	virtio_blk_get_stats(blk0, &st0);
	virtio_blk_get_stats(blk1, &st1);
	CHECK_EQ(st0.writes, 1);
	CHECK_EQ(st0.write_bytes, 512);
	CHECK_EQ(st0.flushes, 1);
	CHECK_EQ(st1.writes, 0);
	CHECK_EQ(st1.flushes, 1);
	CHECK_EQ(st0.errors, 6);
	CHECK_EQ(st1.errors, 7);
	CHECK_EQ(st0.dropped, 0);
out:
	printf("blk: %s\n", STATUS(f0));
	virtio_blk_destroy(blk0);
	virtio_blk_destroy(blk1);
	harness_destroy(&h);
out_files:
	if (fd0 >= 0) {
		close(fd0);
		unlink(path0);
	}
	if (fd1 >= 0) {
		close(fd1);
		unlink(path1);
	}
}

static void test_hostile_virtio(void)
{
	static const char *const cases[] = {
		"buffer outside RAM",
		"descriptor loop",
		"huge length",
		"next index out of range",
		"avail index jump",
		"head out of range",
		"indirect not negotiated",
		"zero-length buffer",
		"ring outside RAM",
	};
	struct virtio_blk_params p = {.drive_id = "hostile"};
	struct virtio_blk *blk = NULL;
	char path[64], line[128];
	struct harness h;
	unsigned int i, s;
	int fd, f0 = failures;

	fd = make_image(path, sizeof(path), 16);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	if (!setup_guest(&h, "hostile-virtio"))
		goto out_file;
	p.path = path;
	CHECK_EQ(
		virtio_blk_create(&p, &h.vm->mem, harness_virtio_irq, &h, &blk),
		0);
	if (!blk)
		goto out;
	CHECK_EQ(harness_attach_virtio(&h, virtio_blk_mmio(blk)), 0);
	if (!run_guest(&h, "hostile-virtio"))
		goto out;
	/* The VMM survived every abuse and the guest ran to its end. */
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.exit_code, 0);
	CHECK(uart_has("hostile-virtio: device works\n"));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line),
			 "hostile-virtio: %s: needs reset\n", cases[i]);
		CHECK(uart_has(line));
		snprintf(line, sizeof(line),
			 "hostile-virtio: %s: recovered after reset\n",
			 cases[i]);
		CHECK(uart_has(line));
	}
	CHECK(uart_has("hostile-virtio: done failures 0\n"));
	/* Nothing reached the disk. */
	for (s = 0; s < 16; s++)
		CHECK(sector_is(fd, s, false));
out:
	printf("hostile-virtio: %s\n", STATUS(f0));
	virtio_blk_destroy(blk);
	harness_destroy(&h);
out_file:
	close(fd);
	unlink(path);
}

struct i8042_test {
	struct harness *h;
	unsigned int resets;
	unsigned int irqs;
};

static void i8042_test_reset(void *opaque)
{
	struct i8042_test *t = opaque;

	/* What the VMM does: stop the machine (it then ends the process). */
	t->resets++;
	vcpu_request_stop(t->h->vcpu);
}

static void i8042_test_irq(void *opaque)
{
	struct i8042_test *t = opaque;

	t->irqs++;
}

static void test_i8042(void)
{
	struct i8042_test t = {0};
	struct i8042 *kbd = NULL;
	struct i8042_stats st;
	struct harness h;
	int f0 = failures;

	if (!setup_guest(&h, "i8042"))
		return;
	t.h = &h;
	CHECK_EQ(i8042_create(i8042_test_reset, &t, i8042_test_irq, &t, &kbd),
		 0);
	if (!kbd)
		goto out;
	CHECK_EQ(i8042_attach(kbd, &h.vm->pio), 0);
	/* SendCtrlAltDel before start: the guest finds the keys queued. */
	CHECK_EQ(i8042_send_ctrl_alt_del(kbd), 0);
	CHECK_EQ(t.irqs, 1);
	if (!run_guest(&h, "i8042"))
		goto out;
	CHECK(uart_has("i8042: pending keys 0x14 0x11 0xe0 0x71\n"));
	CHECK(uart_has("i8042: ctr 0x5\n"));
	CHECK(uart_has("i8042: self test 0x55\n"));
	CHECK(uart_has("i8042: keyboard test 0x0\n"));
	CHECK(uart_has("i8042: ctr after write 0x14\n"));
	CHECK(uart_has("i8042: keyboard ack 0xfa\n"));
	CHECK(uart_has("i8042: probe failures 0\n"));
	CHECK(uart_has("i8042: resetting\n"));
	CHECK(!strstr(uart, "still running"));
	/* The reset callback fired once and the VM stopped right there. */
	CHECK_EQ(t.resets, 1);
	CHECK_EQ(h.stop, VCPU_STOP_REQUESTED);
	CHECK(!h.dev.exited);
	CHECK_EQ(h.dev.nr_reports, 2);
	CHECK_EQ(h.dev.reports[0], 4);
	CHECK_EQ(h.dev.reports[1], 0);
	i8042_get_stats(kbd, &st);
	CHECK_EQ(st.resets, 1);
	CHECK_EQ(st.missed, 0);
	/* Keys: one per SendCtrlAltDel, then one per byte left after a read. */
	CHECK(t.irqs >= 4);
out:
	printf("i8042: %s\n", STATUS(f0));
	i8042_destroy(kbd);
	harness_destroy(&h);
}

/* ---- vsock: a host peer thread playing the other end ---- */

#define VSOCK_PEER_TIMEOUT_MS 8000
#define VSOCK_HOST_BYTES 20000u
#define VSOCK_GUEST_BYTES 100000u

struct vsock_peer {
	char uds[108];
	char uds_5000[108];
	int listen_fd;
	pthread_t thread;
	/* Results, read after join. */
	char ok_line[32];
	char pong[32];
	bool guest_pattern_ok;
	uint32_t guest_bytes;
	bool eof_after_shutdown;
	const char *error;
};

/* Waits for events on fd; false on timeout or error. */
static bool wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};

	return poll(&p, 1, ms) == 1 && (p.revents & (events | POLLHUP));
}

static bool read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		if (!wait_fd(fd, POLLIN, VSOCK_PEER_TIMEOUT_MS) ||
		    read(fd, buf + n, 1) != 1)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return n && buf[n - 1] == '\n';
}

static bool write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n;

		if (!wait_fd(fd, POLLOUT, VSOCK_PEER_TIMEOUT_MS))
			return false;
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void *vsock_peer_main(void *arg)
{
	struct vsock_peer *p = arg;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	uint8_t buf[4096];
	uint32_t k, got = 0;
	int fd, conn = -1;
	ssize_t n;

	/* 1. host -> guest, through uds_path and CONNECT. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(addr.sun_path, p->uds);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		p->error = "connect to uds_path";
		goto out;
	}
	if (!write_all(fd, "CONNECT 1234\n", 13)) {
		p->error = "send CONNECT";
		goto out;
	}
	if (!read_line(fd, p->ok_line, sizeof(p->ok_line))) {
		p->error = "read OK line";
		goto out;
	}
	for (k = 0; k < VSOCK_HOST_BYTES; k += n) {
		n = VSOCK_HOST_BYTES - k < sizeof(buf) ? VSOCK_HOST_BYTES - k
						       : sizeof(buf);
		for (ssize_t i = 0; i < n; i++)
			buf[i] = (uint8_t)((k + (uint32_t)i) * 7 + 3);
		if (!write_all(fd, buf, (size_t)n)) {
			p->error = "stream to the guest";
			goto out;
		}
	}
	if (!read_line(fd, p->pong, sizeof(p->pong))) {
		p->error = "read the guest's reply";
		goto out;
	}
	close(fd);
	fd = -1;

	/* 2. guest -> host: the guest connects to <uds_path>_5000. */
	if (!wait_fd(p->listen_fd, POLLIN, VSOCK_PEER_TIMEOUT_MS) ||
	    (conn = accept(p->listen_fd, NULL, NULL)) < 0) {
		p->error = "accept the guest's connection";
		goto out;
	}
	p->guest_pattern_ok = true;
	while (got < VSOCK_GUEST_BYTES) {
		if (!wait_fd(conn, POLLIN, VSOCK_PEER_TIMEOUT_MS))
			break;
		n = read(conn, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (uint8_t)((got + (uint32_t)i) * 11 + 5))
				p->guest_pattern_ok = false;
		got += (uint32_t)n;
	}
	p->guest_bytes = got;
	if (got != VSOCK_GUEST_BYTES || !write_all(conn, "hello guest\n", 12)) {
		p->error = "stream from the guest";
		goto out;
	}
	/* The guest shuts down: the device closes our end. */
	p->eof_after_shutdown = wait_fd(conn, POLLIN, VSOCK_PEER_TIMEOUT_MS) &&
				read(conn, buf, sizeof(buf)) == 0;
out:
	if (fd >= 0)
		close(fd);
	if (conn >= 0)
		close(conn);
	return NULL;
}

/* Listens on path: the fd, or -1. */
static int listen_unix(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(fd, 4) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_vsock(void)
{
	struct virtio_vsock_params params = {.guest_cid = 3};
	struct vsock_peer peer = {.listen_fd = -1};
	struct virtio_vsock *vs = NULL;
	struct harness_loop hl = {0};
	struct virtio_vsock_stats st;
	struct vsock_muxer_stats mst;
	char dir[] = "/tmp/lg-test-vsock-XXXXXX";
	bool peer_started = false;
	struct stat sb;
	struct harness h;
	int f0 = failures;

	if (!mkdtemp(dir)) {
		failures++;
		return;
	}
	snprintf(peer.uds, sizeof(peer.uds), "%s/v.sock", dir);
	snprintf(peer.uds_5000, sizeof(peer.uds_5000), "%s/v.sock_5000", dir);
	params.uds_path = peer.uds;
	if (!setup_guest(&h, "vsock"))
		goto out_dir;
	CHECK_EQ(harness_loop_create(&hl), 0);
	if (!hl.loop)
		goto out;
	CHECK_EQ(virtio_vsock_create(&params, &h.vm->mem, hl.loop,
				     harness_virtio_irq, &h, &vs),
		 0);
	if (!vs)
		goto out;
	CHECK_EQ(harness_attach_virtio(&h, virtio_vsock_mmio(vs)), 0);
	CHECK(stat(peer.uds, &sb) == 0 && S_ISSOCK(sb.st_mode));
	peer.listen_fd = listen_unix(peer.uds_5000);
	CHECK(peer.listen_fd >= 0);
	CHECK_EQ(harness_loop_start(&hl), 0);
	CHECK_EQ(pthread_create(&peer.thread, NULL, vsock_peer_main, &peer), 0);
	peer_started = true;
	if (!run_guest(&h, "vsock"))
		goto out;
	pthread_join(peer.thread, NULL);
	peer_started = false;
	if (peer.error)
		fprintf(stderr, "vsock peer: %s\n", peer.error);
	CHECK(!peer.error);
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.exit_code, 0);
	CHECK(uart_has("vsock: guest cid 3\n"));
	CHECK(uart_has("vsock: request from host port 1073741824 cid 2 to "
		       "port 1234\n"));
	CHECK(uart_has("vsock: received from host bytes 20000\n"));
	CHECK(uart_has("vsock: host data pattern ok\n"));
	CHECK(uart_has("vsock: host closed, shutdown flags 3\n"));
	CHECK(uart_has("vsock: connected to host port 5000\n"));
	CHECK(uart_has("vsock: host buf_alloc 65536\n"));
	CHECK(uart_has("vsock: sent to host bytes 100000\n"));
	CHECK(uart_has("vsock: host says hello guest\n"));
	CHECK(uart_has("vsock: shutdown answered with rst\n"));
	CHECK(uart_has("vsock: connect to port 5001 refused with rst\n"));
	CHECK(uart_has("vsock: stray packet answered with rst\n"));
	CHECK(uart_has("vsock: done failures 0\n"));
	/* The host side: Firecracker's "OK <port>", both streams intact. */
	CHECK(strcmp(peer.ok_line, "OK 1073741824\n") == 0);
	CHECK(strcmp(peer.pong, "pong 20000\n") == 0);
	CHECK_EQ(peer.guest_bytes, VSOCK_GUEST_BYTES);
	CHECK(peer.guest_pattern_ok);
	CHECK(peer.eof_after_shutdown);
	/* 20000 bytes through an 8 KiB window: at least 3 credit updates. */
	CHECK_EQ(h.dev.nr_reports, 3);
	CHECK(h.dev.reports[0] >= 3);
	printf("vsock: guest credit updates %u, guest credit waits %u, "
	       "stray packets %u (information)\n",
	       h.dev.reports[0], h.dev.reports[1], h.dev.reports[2]);
	harness_loop_stop(&hl);
	virtio_vsock_get_stats(vs, &st, &mst);
	CHECK_EQ(st.bad_tx, 0);
	CHECK_EQ(st.bad_rx, 0);
	CHECK_EQ(mst.conns_added, 2);
	CHECK_EQ(mst.conns_removed, 2);
	CHECK_EQ(mst.tx_bytes, VSOCK_GUEST_BYTES + 11);
	CHECK_EQ(mst.rx_bytes, VSOCK_HOST_BYTES + 12);
	CHECK_EQ(virtio_vsock_nr_connections(vs), 0);
out:
	if (peer_started) {
		/* The guest run failed: the peer gives up on its timeouts. */
		pthread_join(peer.thread, NULL);
	}
	harness_loop_stop(&hl);
	printf("vsock: %s\n", STATUS(f0));
	virtio_vsock_destroy(vs);
	/* Destroy removes the listening socket. */
	CHECK(stat(peer.uds, &sb) < 0 && errno == ENOENT);
	if (hl.loop)
		harness_loop_free(&hl);
	harness_destroy(&h);
	if (peer.listen_fd >= 0)
		close(peer.listen_fd);
	unlink(peer.uds_5000);
out_dir:
	unlink(peer.uds);
	rmdir(dir);
}

/* ---- net: a TAP in a private network namespace ---- */

#define NET_TAP "lgtap0"
#define NET_TYPE_GUEST 0x88b5
#define NET_TYPE_HOST 0x88b6

struct net_peer {
	int sock; /* AF_PACKET on the TAP */
	int ifindex;
	const uint8_t *guest_mac;
	pthread_t thread;
	int stop; /* atomic: the guest run is over */
	bool hello_seen, bad_seen, answered;
	unsigned int frames;
};

static void *net_peer_main(void *arg)
{
	struct net_peer *p = arg;
	uint8_t frame[2048];

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		struct sockaddr_ll from;
		socklen_t flen = sizeof(from);
		ssize_t n;

		if (!wait_fd(p->sock, POLLIN, 100))
			continue;
		n = recvfrom(p->sock, frame, sizeof(frame), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen);
		/* Only what the guest sent: the TAP's "incoming" side. */
		if (n < 14 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (frame[12] != (NET_TYPE_GUEST >> 8) ||
		    frame[13] != (NET_TYPE_GUEST & 0xff))
			continue;
		p->frames++;
		if (n >= 14 + 16 && !memcmp(frame + 14, "hello from guest", 16))
			p->hello_seen = true;
		if (n >= 14 + 7 && !memcmp(frame + 14, "bad gso", 7))
			p->bad_seen = true;
		if (p->hello_seen && !p->answered) {
			struct sockaddr_ll to = {.sll_family = AF_PACKET,
						 .sll_ifindex = p->ifindex,
						 .sll_halen = 6};
			uint8_t out[60] = {0};

			memcpy(out, p->guest_mac, 6);
			memcpy(out + 6, "\x02\0\0\0\0\xfe", 6);
			out[12] = NET_TYPE_HOST >> 8;
			out[13] = NET_TYPE_HOST & 0xff;
			memcpy(out + 14, "hello from host", 15);
			memcpy(to.sll_addr, p->guest_mac, 6);
			p->answered = sendto(p->sock, out, sizeof(out), 0,
					     (struct sockaddr *)&to,
					     sizeof(to)) == sizeof(out);
		}
	}
	return NULL;
}

/* Brings interface name up in the current namespace. */
static int link_up(const char *name)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		err = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			err = -errno;
	}
	close(fd);
	return err;
}

static int packet_socket(int ifindex)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = ifindex};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void test_net(void)
{
	struct virtio_net_params params = {
		.host_dev_name = NET_TAP,
		.has_mac = true,
		.mac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01},
	};
	struct net_peer peer = {.sock = -1, .guest_mac = params.mac};
	struct virtio_net *net = NULL;
	struct harness_loop hl = {0};
	struct virtio_net_stats st;
	bool peer_started = false;
	struct harness h;
	int f0 = failures, fd;

	/*
	 * A private network namespace for this process: the TAP and
	 * everything on it vanish with the process, on every path.
	 */
	if (unshare(CLONE_NEWNET) < 0) {
		printf("SKIP: no network namespace (%s)\n", strerror(errno));
		exit(77);
	}
	/* No IPv6 chatter from the host kernel on the new link. */
	fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			fprintf(stderr, "net: could not disable IPv6\n");
		close(fd);
	}
	if (!setup_guest(&h, "net"))
		return;
	CHECK_EQ(harness_loop_create(&hl), 0);
	if (!hl.loop)
		goto out;
	CHECK_EQ(virtio_net_create(&params, &h.vm->mem, hl.loop,
				   harness_virtio_irq, &h, &net),
		 0);
	if (!net)
		goto out;
	CHECK_EQ(harness_attach_virtio(&h, virtio_net_mmio(net)), 0);
	CHECK_EQ(link_up(NET_TAP), 0);
	peer.ifindex = (int)if_nametoindex(NET_TAP);
	CHECK(peer.ifindex > 0);
	peer.sock = packet_socket(peer.ifindex);
	CHECK(peer.sock >= 0);
	if (peer.sock < 0)
		goto out;
	CHECK_EQ(harness_loop_start(&hl), 0);
	CHECK_EQ(pthread_create(&peer.thread, NULL, net_peer_main, &peer), 0);
	peer_started = true;
	if (!run_guest(&h, "net"))
		goto out;
	/* Let a frame the device should have dropped show up if it was not. */
	usleep(200 * 1000);
	__atomic_store_n(&peer.stop, 1, __ATOMIC_RELEASE);
	pthread_join(peer.thread, NULL);
	peer_started = false;
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.exit_code, 0);
	CHECK(uart_has("net: mac 0x2:0x0:0x0:0x0:0x0:0x1\n"));
	CHECK(uart_has("net: sent hello frame\n"));
	CHECK(uart_has("net: host frame num_buffers 1\n"));
	CHECK(uart_has("net: received from host: hello from host\n"));
	CHECK(uart_has("net: done failures 0\n"));
	/* On the TAP: the guest's frame, not the one with a bogus GSO. */
	CHECK(peer.hello_seen);
	CHECK(!peer.bad_seen);
	CHECK(peer.answered);
	CHECK_EQ(peer.frames, 1);
	harness_loop_stop(&hl);
	virtio_net_get_stats(net, &st);
	CHECK_EQ(st.tx_frames, 1);
	CHECK_EQ(st.tx_dropped, 1);
	CHECK(st.rx_frames >= 1);
	CHECK_EQ(st.bad_rx, 0);
out:
	if (peer_started) {
		__atomic_store_n(&peer.stop, 1, __ATOMIC_RELEASE);
		pthread_join(peer.thread, NULL);
	}
	harness_loop_stop(&hl);
	printf("net: %s\n", STATUS(f0));
	virtio_net_destroy(net);
	if (hl.loop)
		harness_loop_free(&hl);
	harness_destroy(&h);
	if (peer.sock >= 0)
		close(peer.sock);
}

struct device_test {
	const char *name;
	void (*fn)(void);
};

static const struct device_test tests[] = {
	{"rng", test_rng},     {"blk", test_blk},
	{"i8042", test_i8042}, {"vsock", test_vsock},
	{"net", test_net},     {"hostile-virtio", test_hostile_virtio},
};

/* Skips (77) when there is no usable KVM here. */
static void skip_without_kvm(void)
{
	struct vm *vm;
	int err;

	err = vm_create(2ull << 20, &vm);
	if (err < 0) {
		printf("SKIP: KVM unavailable (%s)\n", strerror(-err));
		exit(77);
	}
	vm_destroy(vm);
}

int main(int argc, char **argv)
{
	unsigned int i;
	bool ran = false;

	lg_log_set_ident("test-devices");
	guest_dir = getenv("LG_VMM_GUEST_DIR");
	if (!guest_dir) {
		fprintf(stderr, "LG_VMM_GUEST_DIR is not set\n");
		return 1;
	}
	skip_without_kvm();
	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		if (argc > 1 && strcmp(argv[1], tests[i].name) != 0)
			continue;
		tests[i].fn();
		ran = true;
	}
	if (!ran) {
		fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "");
		return 1;
	}
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	return 0;
}
