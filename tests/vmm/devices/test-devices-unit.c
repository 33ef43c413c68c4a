/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Device backends driven through the virtio-mmio registers from host
 * code, over guest RAM in host memory: no KVM. A small driver here sets
 * devices up as a guest would and then does what a hostile guest (or a
 * hostile host client) would: malformed chains, out-of-range requests,
 * protocol abuse, floods. Event-loop devices are stepped with
 * evloop_run_once().
 */
#include "vmm/bus.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/virtio-blk.h"
#include "vmm/devices/virtio-net.h"
#include "vmm/devices/virtio-rng.h"
#include "vmm/devices/virtio-vsock.h"
#include "vmm/event-loop.h"
#include "vmm/memory.h"
#include "vmm/virtio/mmio.h"

#include "common/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#define RAM_SIZE (4u << 20)
#define QSIZE 16u
#define QUEUE_GPA(q) (0x10000u + (q)*0x4000u)
#define BUF_GPA 0x100000u

/* ---- a host-side virtio driver over fake guest RAM ---- */

struct tq {
	uint32_t index;
	uint64_t desc, avail, used;
	uint16_t avail_idx, used_seen, next_desc;
};

struct tbuf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct fx {
	struct vm_mem mem;
	uint8_t *ram;
	unsigned int irqs, irq_level;
	struct virtio_mmio *dev;
	struct tq q[3];
	struct evloop *loop;
	char dir[64];
};

static void count_irq(void *opaque, bool level)
{
	struct fx *fx = opaque;

	if (level)
		fx->irqs++;
	fx->irq_level = level;
}

static uint32_t rd(struct fx *fx, uint64_t off)
{
	uint8_t b[4];

	assert_int_equal(virtio_mmio_bus_ops.read(fx->dev, off, b, 4), 0);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static void wr(struct fx *fx, uint64_t off, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			(uint8_t)(v >> 24)};

	assert_int_equal(virtio_mmio_bus_ops.write(fx->dev, off, b, 4), 0);
}

static void put16(struct fx *fx, uint64_t gpa, uint16_t v)
{
	memcpy(fx->ram + gpa, &v, 2);
}

static uint16_t get16(struct fx *fx, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, fx->ram + gpa, 2);
	return v;
}

static uint32_t get32(struct fx *fx, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, fx->ram + gpa, 4);
	return v;
}

/* Status sequence of 3.1.1 with nq queues of QSIZE; DRIVER_OK set. */
static void drv_init(struct fx *fx, uint64_t features, unsigned int nq)
{
	unsigned int i;

	wr(fx, VIRTIO_MMIO_STATUS, 0);
	wr(fx, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(fx, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	features |= 1ull << VIRTIO_F_VERSION_1;
	wr(fx, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(fx, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(fx, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(fx, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr(fx, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		   VIRTIO_STATUS_FEATURES_OK);
	assert_true(rd(fx, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	for (i = 0; i < nq; i++) {
		struct tq *q = &fx->q[i];

		memset(q, 0, sizeof(*q));
		memset(fx->ram + QUEUE_GPA(i), 0, 0x4000);
		q->index = i;
		q->desc = QUEUE_GPA(i);
		q->avail = QUEUE_GPA(i) + 0x1000;
		q->used = QUEUE_GPA(i) + 0x2000;
		wr(fx, VIRTIO_MMIO_QUEUE_SEL, i);
		wr(fx, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
		wr(fx, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)q->desc);
		wr(fx, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		wr(fx, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)q->avail);
		wr(fx, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
		wr(fx, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)q->used);
		wr(fx, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
		wr(fx, VIRTIO_MMIO_QUEUE_READY, 1);
	}
	wr(fx, VIRTIO_MMIO_STATUS,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(fx, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET,
			 0);
}

/* Writes raw descriptor i of queue q. */
static void desc_put(struct fx *fx, struct tq *q, uint16_t i, uint64_t addr,
		     uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = {
		.addr = addr, .len = len, .flags = flags, .next = next};

	memcpy(fx->ram + q->desc + 16u * i, &d, sizeof(d));
}

static void avail_push(struct fx *fx, struct tq *q, uint16_t head)
{
	put16(fx, q->avail + 4 + 2u * (q->avail_idx % QSIZE), head);
	q->avail_idx++;
	put16(fx, q->avail + 2, q->avail_idx);
}

/* Offers a chain of n buffers; returns its head. */
static uint16_t tq_add(struct fx *fx, struct tq *q, const struct tbuf *b,
		       unsigned int n)
{
	uint16_t head = q->next_desc, i;

	for (i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSIZE);

		desc_put(fx, q, idx, b[i].gpa, b[i].len,
			 (uint16_t)((b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
				    (i + 1u < n ? VIRTQ_DESC_F_NEXT : 0)),
			 (uint16_t)((idx + 1) % QSIZE));
	}
	q->next_desc = (uint16_t)((head + n) % QSIZE);
	avail_push(fx, q, head);
	return head;
}

static void notify(struct fx *fx, struct tq *q)
{
	wr(fx, VIRTIO_MMIO_QUEUE_NOTIFY, q->index);
}

/* 1 and the next used element, or 0. */
static int tq_used(struct fx *fx, struct tq *q, uint32_t *id, uint32_t *len)
{
	uint64_t e;

	if (get16(fx, q->used + 2) == q->used_seen)
		return 0;
	e = q->used + 4 + 8u * (q->used_seen % QSIZE);
	q->used_seen++;
	if (id)
		*id = get32(fx, e);
	if (len)
		*len = get32(fx, e + 4);
	return 1;
}

static bool needs_reset(struct fx *fx)
{
	return rd(fx, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET;
}

static int fx_setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	vm_mem_init(&fx->mem);
	if (vm_mem_add(&fx->mem, 0, RAM_SIZE))
		return -1;
	fx->ram = vm_mem_ptr(&fx->mem, 0, RAM_SIZE);
	if (evloop_create(&fx->loop))
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/lg-devunit-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	*state = fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *fx = *state;

	evloop_destroy(fx->loop);
	vm_mem_free(&fx->mem);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* ---- event loop ---- */

struct ev_counts {
	struct evloop *loop;
	int fds[4];
	int hits[4];
	bool delete_other; /* fd 0's callback deletes fd 1 */
};

static void ev_cb0(void *opaque, uint32_t events)
{
	struct ev_counts *c = opaque;
	char b;

	(void)events;
	c->hits[0]++;
	if (read(c->fds[0], &b, 1) < 0)
		fail();
	if (c->delete_other) {
		/* Itself and another ready fd, in the same batch. */
		assert_int_equal(evloop_del(c->loop, c->fds[0]), 0);
		assert_int_equal(evloop_del(c->loop, c->fds[2]), 0);
	}
}

static void ev_cb1(void *opaque, uint32_t events)
{
	struct ev_counts *c = opaque;

	(void)events;
	c->hits[1]++;
}

static void ev_call(void *opaque, uint32_t events)
{
	int *n = opaque;

	assert_int_equal(events, 0);
	(*n)++;
}

static void *ev_stopper(void *arg)
{
	usleep(20000);
	evloop_stop(arg);
	return NULL;
}

struct ev_sync {
	struct evloop *loop;
	pthread_t loop_thread;
	bool ran_on_loop;
};

static void ev_sync_fn(void *opaque, uint32_t events)
{
	struct ev_sync *s = opaque;

	(void)events;
	s->ran_on_loop = pthread_equal(pthread_self(), s->loop_thread);
}

static void ev_mark(void *opaque, uint32_t events)
{
	(void)events;
	__atomic_store_n((int *)opaque, 1, __ATOMIC_RELEASE);
}

static void *ev_runner(void *arg)
{
	struct ev_sync *s = arg;

	evloop_run(s->loop);
	return NULL;
}

static void test_evloop(void **state)
{
	struct fx *fx = *state;
	struct ev_counts c = {.loop = fx->loop};
	int p0[2], p1[2], calls = 0;
	pthread_t t;

	assert_int_equal(pipe2(p0, O_NONBLOCK), 0);
	assert_int_equal(pipe2(p1, O_NONBLOCK), 0);
	c.fds[0] = p0[0];
	c.fds[2] = p1[0];
	assert_int_equal(evloop_add(fx->loop, p0[0], EPOLLIN, ev_cb0, &c), 0);
	assert_int_equal(evloop_add(fx->loop, p0[0], EPOLLIN, ev_cb0, &c),
			 -EEXIST);
	assert_int_equal(evloop_add(fx->loop, p1[0], EPOLLIN, ev_cb1, &c), 0);
	assert_int_equal(evloop_run_once(fx->loop, 0), 0);
	assert_int_equal(write(p0[1], "x", 1), 1);
	assert_int_equal(evloop_run_once(fx->loop, 100), 1);
	assert_int_equal(c.hits[0], 1);
	/* Both ready; the first callback deletes both: the second is dropped.
	 */
	c.delete_other = true;
	assert_int_equal(write(p0[1], "x", 1), 1);
	assert_int_equal(write(p1[1], "x", 1), 1);
	evloop_run_once(fx->loop, 100);
	assert_true(c.hits[0] == 2 && c.hits[1] <= 1);
	if (c.hits[1] == 0) {
		/* fd 1 came second: it must not have been called. */
		assert_int_equal(evloop_run_once(fx->loop, 0), 0);
	}
	assert_int_equal(evloop_del(fx->loop, p0[0]), -ENOENT);
	assert_int_equal(evloop_modify(fx->loop, p0[0], EPOLLIN), -ENOENT);
	/* evloop_call and evloop_stop from other threads. */
	assert_int_equal(evloop_call(fx->loop, ev_call, &calls), 0);
	assert_int_equal(evloop_call(fx->loop, ev_call, &calls), 0);
	assert_int_equal(pthread_create(&t, NULL, ev_stopper, fx->loop), 0);
	assert_int_equal(evloop_run(fx->loop), 0);
	pthread_join(t, NULL);
	assert_int_equal(calls, 2);
	/* A stop before run: run returns at once. */
	evloop_stop(fx->loop);
	assert_int_equal(evloop_run(fx->loop), 0);
	/* A synchronous call: on the loop thread while it runs... */
	{
		struct ev_sync s = {.loop = fx->loop};

		int started = 0;

		assert_int_equal(pthread_create(&t, NULL, ev_runner, &s), 0);
		s.loop_thread = t;
		/* Running for sure once an asynchronous call has run. */
		assert_int_equal(evloop_call(fx->loop, ev_mark, &started), 0);
		while (!__atomic_load_n(&started, __ATOMIC_ACQUIRE))
			usleep(1000);
		assert_int_equal(evloop_call_sync(fx->loop, ev_sync_fn, &s), 0);
		assert_true(s.ran_on_loop);
		evloop_stop(fx->loop);
		pthread_join(t, NULL);
		/* ...and right here once it stopped. */
		s.loop_thread = pthread_self();
		s.ran_on_loop = false;
		assert_int_equal(evloop_call_sync(fx->loop, ev_sync_fn, &s), 0);
		assert_true(s.ran_on_loop);
	}
	close(p0[0]);
	close(p0[1]);
	close(p1[0]);
	close(p1[1]);
}

/* ---- virtio-rng ---- */

static void test_rng(void **state)
{
	struct fx *fx = *state;
	struct virtio_rng *rng;
	struct tbuf b[2];
	uint32_t id, len;
	unsigned int i, zero = 0;

	assert_int_equal(virtio_rng_create(&fx->mem, count_irq, fx, &rng), 0);
	fx->dev = virtio_rng_mmio(rng);
	assert_int_equal(rd(fx, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	drv_init(fx, 0, 1);
	/* A readable buffer gets nothing; the writable one after it does. */
	memset(fx->ram + BUF_GPA, 0, 0x20000);
	b[0] = (struct tbuf){BUF_GPA, 64, false};
	b[1] = (struct tbuf){BUF_GPA + 64, 256, true};
	tq_add(fx, &fx->q[0], b, 2);
	notify(fx, &fx->q[0]);
	assert_int_equal(tq_used(fx, &fx->q[0], &id, &len), 1);
	assert_int_equal(len, 256);
	for (i = 0; i < 64; i++)
		zero += fx->ram[BUF_GPA + i] == 0;
	assert_int_equal(zero, 64);
	assert_true(fx->irqs >= 1);
	/* A huge request is capped: the vCPU is not held for long. */
	b[0] = (struct tbuf){BUF_GPA, 3u << 20, true};
	tq_add(fx, &fx->q[0], b, 1);
	notify(fx, &fx->q[0]);
	assert_int_equal(tq_used(fx, &fx->q[0], &id, &len), 1);
	assert_int_equal(len, VIRTIO_RNG_MAX_REQUEST);
	/* A buffer outside RAM breaks the queue: NEEDS_RESET, and back. */
	b[0] = (struct tbuf){RAM_SIZE - 16, 64, true};
	tq_add(fx, &fx->q[0], b, 1);
	notify(fx, &fx->q[0]);
	assert_true(needs_reset(fx));
	drv_init(fx, 0, 1);
	b[0] = (struct tbuf){BUF_GPA, 32, true};
	tq_add(fx, &fx->q[0], b, 1);
	notify(fx, &fx->q[0]);
	assert_int_equal(tq_used(fx, &fx->q[0], &id, &len), 1);
	assert_int_equal(len, 32);
	virtio_rng_destroy(rng);
}

/* ---- virtio-blk ---- */

struct blk_fx {
	struct virtio_blk *blk;
	char path[96];
	int fd;
};

#define BLK_SECTORS 16u

static void blk_open(struct fx *fx, struct blk_fx *b, bool ro)
{
	struct virtio_blk_params p = {.drive_id = "a-very-long-drive-id-0123",
				      .read_only = ro,
				      .flush = true};
	uint8_t sector[512];
	unsigned int s;

	snprintf(b->path, sizeof(b->path), "%s/disk", fx->dir);
	b->fd = open(b->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(b->fd >= 0);
	for (s = 0; s < BLK_SECTORS; s++) {
		memset(sector, (int)s, sizeof(sector));
		assert_int_equal(write(b->fd, sector, sizeof(sector)), 512);
	}
	p.path = b->path;
	assert_int_equal(
		virtio_blk_create(&p, &fx->mem, count_irq, fx, &b->blk), 0);
	fx->dev = virtio_blk_mmio(b->blk);
	drv_init(fx,
		 (1ull << VIRTIO_BLK_F_FLUSH) |
			 (ro ? 1ull << VIRTIO_BLK_F_RO : 0),
		 1);
}

static void blk_close(struct blk_fx *b)
{
	virtio_blk_destroy(b->blk);
	close(b->fd);
	unlink(b->path);
}

#define HDR_GPA BUF_GPA
#define DATA_GPA (BUF_GPA + 0x1000)
#define STATUS_GPA (BUF_GPA + 0x100)

static void blk_hdr(struct fx *fx, uint32_t type, uint64_t sector)
{
	memcpy(fx->ram + HDR_GPA, &type, 4);
	memset(fx->ram + HDR_GPA + 4, 0, 4);
	memcpy(fx->ram + HDR_GPA + 8, &sector, 8);
	fx->ram[STATUS_GPA] = 0xee;
}

/* One request; returns the status byte (0xee: untouched). */
static int blk_req(struct fx *fx, const struct tbuf *b, unsigned int n,
		   uint32_t *used_len)
{
	uint32_t id, len = 0;

	tq_add(fx, &fx->q[0], b, n);
	notify(fx, &fx->q[0]);
	assert_int_equal(tq_used(fx, &fx->q[0], &id, &len), 1);
	if (used_len)
		*used_len = len;
	return fx->ram[STATUS_GPA];
}

static bool file_sector_is(struct blk_fx *b, unsigned int s, uint8_t v)
{
	uint8_t sector[512];
	unsigned int i;

	if (pread(b->fd, sector, 512, (off_t)s * 512) != 512)
		return false;
	for (i = 0; i < 512; i++)
		if (sector[i] != v)
			return false;
	return true;
}

static void test_blk_malformed(void **state)
{
	struct fx *fx = *state;
	struct virtio_blk_stats st;
	struct blk_fx b;
	struct tbuf t[3];
	uint32_t len;
	struct stat sb;

	blk_open(fx, &b, false);
	assert_int_equal(virtio_blk_capacity(b.blk), BLK_SECTORS);
	/* No writable status byte: returned unused, the file untouched. */
	blk_hdr(fx, VIRTIO_BLK_T_OUT, 0);
	memset(fx->ram + DATA_GPA, 0x77, 512);
	t[0] = (struct tbuf){HDR_GPA, 16, false};
	t[1] = (struct tbuf){DATA_GPA, 512, false};
	assert_int_equal(blk_req(fx, t, 2, &len), 0xee);
	assert_int_equal(len, 0);
	assert_true(file_sector_is(&b, 0, 0));
	/* A header of 8 bytes: IOERR. */
	t[0] = (struct tbuf){HDR_GPA, 8, false};
	t[1] = (struct tbuf){STATUS_GPA, 1, true};
	assert_int_equal(blk_req(fx, t, 2, &len), VIRTIO_BLK_S_IOERR);
	assert_int_equal(len, 1);
	/* Writes past the end, or wrapping around: IOERR, no growth. */
	blk_hdr(fx, VIRTIO_BLK_T_OUT, BLK_SECTORS - 1);
	t[0] = (struct tbuf){HDR_GPA, 16, false};
	t[1] = (struct tbuf){DATA_GPA, 1024, false};
	t[2] = (struct tbuf){STATUS_GPA, 1, true};
	assert_int_equal(blk_req(fx, t, 3, NULL), VIRTIO_BLK_S_IOERR);
	blk_hdr(fx, VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1);
	assert_int_equal(blk_req(fx, t, 3, NULL), VIRTIO_BLK_S_IOERR);
	blk_hdr(fx, VIRTIO_BLK_T_IN, UINT64_MAX);
	t[1].write = true;
	assert_int_equal(blk_req(fx, t, 3, NULL), VIRTIO_BLK_S_IOERR);
	assert_int_equal(fstat(b.fd, &sb), 0);
	assert_int_equal(sb.st_size, BLK_SECTORS * 512);
	assert_true(file_sector_is(&b, BLK_SECTORS - 1, BLK_SECTORS - 1));
	/* A write split over buffers lands whole. */
	blk_hdr(fx, VIRTIO_BLK_T_OUT, 3);
	memset(fx->ram + DATA_GPA, 0x55, 1024);
	t[1] = (struct tbuf){DATA_GPA, 100, false};
	t[2] = (struct tbuf){DATA_GPA + 100, 412, false};
	{
		struct tbuf t4[4] = {t[0], t[1], t[2], {STATUS_GPA, 1, true}};

		assert_int_equal(blk_req(fx, t4, 4, &len), VIRTIO_BLK_S_OK);
	}
	assert_int_equal(len, 1);
	assert_true(file_sector_is(&b, 3, 0x55));
	/* GET_ID into 30 bytes: the first 20 of the id, used 21. */
	blk_hdr(fx, VIRTIO_BLK_T_GET_ID, 0);
	memset(fx->ram + DATA_GPA, 0xcc, 30);
	t[1] = (struct tbuf){DATA_GPA, 30, true};
	t[2] = (struct tbuf){STATUS_GPA, 1, true};
	assert_int_equal(blk_req(fx, t, 3, &len), VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	assert_memory_equal(fx->ram + DATA_GPA, "a-very-long-drive-id", 20);
	assert_int_equal(fx->ram[DATA_GPA + 20], 0xcc);
	/* Status split from data inside one writable buffer. */
	blk_hdr(fx, VIRTIO_BLK_T_IN, 2);
	t[1] = (struct tbuf){DATA_GPA, 513, true};
	tq_add(fx, &fx->q[0], t, 2);
	notify(fx, &fx->q[0]);
	assert_int_equal(tq_used(fx, &fx->q[0], NULL, &len), 1);
	assert_int_equal(len, 513);
	assert_int_equal(fx->ram[DATA_GPA], 2);
	assert_int_equal(fx->ram[DATA_GPA + 512], VIRTIO_BLK_S_OK);
	/* Flush. */
	blk_hdr(fx, VIRTIO_BLK_T_FLUSH, 0);
	t[1] = (struct tbuf){STATUS_GPA, 1, true};
	assert_int_equal(blk_req(fx, t, 2, NULL), VIRTIO_BLK_S_OK);
	virtio_blk_get_stats(b.blk, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.errors, 4);
	assert_int_equal(st.writes, 1);
	assert_int_equal(st.flushes, 1);
	/* A descriptor outside RAM: NEEDS_RESET; a reset brings it back. */
	t[1] = (struct tbuf){RAM_SIZE - 256, 512, true};
	t[2] = (struct tbuf){STATUS_GPA, 1, true};
	tq_add(fx, &fx->q[0], t, 3);
	notify(fx, &fx->q[0]);
	assert_true(needs_reset(fx));
	drv_init(fx, 1ull << VIRTIO_BLK_F_FLUSH, 1);
	blk_hdr(fx, VIRTIO_BLK_T_IN, 1);
	t[1] = (struct tbuf){DATA_GPA, 512, true};
	assert_int_equal(blk_req(fx, t, 3, NULL), VIRTIO_BLK_S_OK);
	assert_int_equal(fx->ram[DATA_GPA], 1);
	blk_close(&b);
}

static void test_blk_read_only_and_update(void **state)
{
	struct fx *fx = *state;
	struct blk_fx b;
	struct tbuf t[3];
	char path2[128];
	uint32_t gen;
	unsigned int irqs;
	int fd2;

	blk_open(fx, &b, true);
	assert_true(rd(fx, VIRTIO_MMIO_DEVICE_FEATURES) &
		    (1u << VIRTIO_BLK_F_RO));
	blk_hdr(fx, VIRTIO_BLK_T_OUT, 0);
	memset(fx->ram + DATA_GPA, 0x99, 512);
	t[0] = (struct tbuf){HDR_GPA, 16, false};
	t[1] = (struct tbuf){DATA_GPA, 512, false};
	t[2] = (struct tbuf){STATUS_GPA, 1, true};
	assert_int_equal(blk_req(fx, t, 3, NULL), VIRTIO_BLK_S_IOERR);
	assert_true(file_sector_is(&b, 0, 0));
	/* PATCH /drives: a bigger file, a new generation, an interrupt. */
	snprintf(path2, sizeof(path2), "%s/disk2", fx->dir);
	fd2 = open(path2, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd2 >= 0);
	assert_int_equal(ftruncate(fd2, 64 * 512), 0);
	gen = rd(fx, VIRTIO_MMIO_CONFIG_GENERATION);
	irqs = fx->irqs;
	assert_int_equal(virtio_blk_update_path(b.blk, path2), 0);
	assert_int_equal(rd(fx, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
	assert_int_equal(rd(fx, VIRTIO_MMIO_CONFIG), 64);
	assert_true(fx->irqs > irqs);
	assert_true(rd(fx, VIRTIO_MMIO_INTERRUPT_STATUS) &
		    VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(virtio_blk_update_path(b.blk, "/nonexistent/disk"),
			 -ENOENT);
	assert_int_equal(virtio_blk_capacity(b.blk), 64);
	close(fd2);
	unlink(path2);
	blk_close(&b);
}

/* ---- i8042 ---- */

static void count_reset(void *opaque)
{
	(*(unsigned int *)opaque)++;
}

static void count_kbd_irq(void *opaque)
{
	(*(unsigned int *)opaque)++;
}

static uint8_t pio_in(const struct bus_device_ops *ops, struct i8042 *dev)
{
	uint8_t v = 0;

	assert_int_equal(ops->read(dev, 0, &v, 1), 0);
	return v;
}

static void pio_out(const struct bus_device_ops *ops, struct i8042 *dev,
		    uint8_t v)
{
	assert_int_equal(ops->write(dev, 0, &v, 1), 0);
}

static void test_i8042(void **state)
{
	unsigned int resets = 0, irqs = 0, i;
	struct i8042_stats st;
	struct i8042 *dev;
	uint8_t two[2] = {0xfe, 0xfe};

	(void)state;
	assert_int_equal(
		i8042_create(count_reset, &resets, count_kbd_irq, &irqs, &dev),
		0);
	/* Wide accesses are ignored, a 2-byte 0xfe included. */
	assert_int_equal(i8042_command_ops.write(dev, 0, two, 2), 0);
	assert_int_equal(resets, 0);
	/* Ctrl-Alt-Del fits 4 times in 16 bytes, then -ENOSPC. */
	for (i = 0; i < 4; i++)
		assert_int_equal(i8042_send_ctrl_alt_del(dev), 0);
	assert_int_equal(i8042_send_ctrl_alt_del(dev), -ENOSPC);
	assert_int_equal(irqs, 4);
	assert_int_equal(pio_in(&i8042_command_ops, dev) & 1, 1);
	assert_int_equal(pio_in(&i8042_data_ops, dev), 0x14);
	/* Interrupt off: keys still queue, no interrupt. */
	pio_out(&i8042_command_ops, dev, 0x60);
	pio_out(&i8042_data_ops, dev, 0x04);
	irqs = 0;
	pio_out(&i8042_command_ops, dev, 0x20);
	assert_int_equal(pio_in(&i8042_data_ops, dev), 0x04);
	assert_int_equal(pio_in(&i8042_command_ops, dev) & 1, 0);
	assert_int_equal(i8042_send_ctrl_alt_del(dev), 0);
	assert_int_equal(irqs, 0);
	/* Output port, reset line pulses other than 0xfe, odd commands. */
	pio_out(&i8042_command_ops, dev, 0xd1);
	pio_out(&i8042_data_ops, dev, 0x5a);
	pio_out(&i8042_command_ops, dev, 0xd0);
	assert_int_equal(pio_in(&i8042_data_ops, dev), 0x5a);
	pio_out(&i8042_command_ops, dev, 0xff); /* bit 0 high: no reset */
	pio_out(&i8042_command_ops, dev, 0x12); /* unknown */
	assert_int_equal(resets, 0);
	pio_out(&i8042_command_ops, dev, 0xf0);
	pio_out(&i8042_command_ops, dev, 0xfe);
	assert_int_equal(resets, 2);
	i8042_get_stats(dev, &st);
	assert_int_equal(st.resets, 2);
	assert_int_equal(st.missed, 1);
	i8042_destroy(dev);
}

/* ---- virtio-vsock ---- */

#define VS_RX 0
#define VS_TX 1
#define VS_CID 3u
#define PKT_GPA(i) (BUF_GPA + 0x20000u * (i))

struct vs_fx {
	struct virtio_vsock *vs;
	char uds[108];
	unsigned int next_rx;
};

static void vs_open(struct fx *fx, struct vs_fx *v)
{
	struct virtio_vsock_params p = {.guest_cid = VS_CID};

	memset(v, 0, sizeof(*v));
	snprintf(v->uds, sizeof(v->uds), "%s/v.sock", fx->dir);
	p.uds_path = v->uds;
	assert_int_equal(virtio_vsock_create(&p, &fx->mem, fx->loop, count_irq,
					     fx, &v->vs),
			 0);
	fx->dev = virtio_vsock_mmio(v->vs);
	assert_int_equal(rd(fx, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_VSOCK);
	assert_int_equal(rd(fx, VIRTIO_MMIO_CONFIG), VS_CID);
	drv_init(fx, 0, 3);
}

static void vs_close(struct vs_fx *v)
{
	struct stat sb;

	virtio_vsock_destroy(v->vs);
	assert_int_equal(stat(v->uds, &sb), -1);
}

/* Runs the loop until nothing is ready. */
static void vs_settle(struct fx *fx)
{
	int i;

	for (i = 0; i < 1000 && evloop_run_once(fx->loop, 0) > 0; i++)
		;
	assert_true(i < 1000);
}

/* Offers n RX buffers of 44 + 4096 bytes. */
static void vs_rx_post(struct fx *fx, struct vs_fx *v, unsigned int n)
{
	while (n--) {
		struct tbuf b = {PKT_GPA(8 + v->next_rx % 8), 44 + 4096, true};

		v->next_rx++;
		tq_add(fx, &fx->q[VS_RX], &b, 1);
	}
	notify(fx, &fx->q[VS_RX]);
}

static void vs_send(struct fx *fx, const struct vsock_hdr *h, const void *data,
		    uint32_t len)
{
	struct tbuf b[2] = {{PKT_GPA(0), 44, false},
			    {PKT_GPA(0) + 0x1000, len, false}};

	vsock_hdr_encode(h, fx->ram + PKT_GPA(0));
	if (len)
		memcpy(fx->ram + PKT_GPA(0) + 0x1000, data, len);
	tq_add(fx, &fx->q[VS_TX], b, len ? 2 : 1);
	notify(fx, &fx->q[VS_TX]);
	vs_settle(fx);
	assert_int_equal(tq_used(fx, &fx->q[VS_TX], NULL, NULL), 1);
}

static struct vsock_hdr vs_hdr(uint32_t src_port, uint32_t dst_port,
			       uint16_t op, uint32_t len)
{
	struct vsock_hdr h = {
		.src_cid = VS_CID,
		.dst_cid = VSOCK_HOST_CID,
		.src_port = src_port,
		.dst_port = dst_port,
		.len = len,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.buf_alloc = 65536,
	};

	return h;
}

/* The next packet the device put in an RX buffer: 1, or 0. */
static int vs_recv(struct fx *fx, struct vsock_hdr *h)
{
	uint32_t id, len;
	uint64_t gpa;

	if (!tq_used(fx, &fx->q[VS_RX], &id, &len))
		return 0;
	memcpy(&gpa, fx->ram + fx->q[VS_RX].desc + 16u * id, 8);
	assert_true(len >= 44);
	vsock_hdr_decode(fx->ram + gpa, h);
	assert_int_equal(len, 44 + h->len);
	return 1;
}

static void test_vsock_malformed(void **state)
{
	struct fx *fx = *state;
	struct virtio_vsock_stats st;
	struct vsock_muxer_stats mst;
	struct vs_fx v;
	struct vsock_hdr h;
	struct tbuf b[2];

	vs_open(fx, &v);
	vs_settle(fx);
	/* A 20-byte header, a writable buffer in TX, a lying length. */
	b[0] = (struct tbuf){PKT_GPA(0), 20, false};
	tq_add(fx, &fx->q[VS_TX], b, 1);
	b[0] = (struct tbuf){PKT_GPA(0), 44, false};
	b[1] = (struct tbuf){PKT_GPA(1), 16, true};
	h = vs_hdr(1, 2, VSOCK_OP_REQUEST, 0);
	vsock_hdr_encode(&h, fx->ram + PKT_GPA(0));
	tq_add(fx, &fx->q[VS_TX], b, 2);
	h = vs_hdr(1, 2, VSOCK_OP_RW, 5000);
	vsock_hdr_encode(&h, fx->ram + PKT_GPA(2));
	b[0] = (struct tbuf){PKT_GPA(2), 44 + 100, false};
	tq_add(fx, &fx->q[VS_TX], b, 1);
	notify(fx, &fx->q[VS_TX]);
	vs_settle(fx);
	assert_int_equal(tq_used(fx, &fx->q[VS_TX], NULL, NULL), 1);
	assert_int_equal(tq_used(fx, &fx->q[VS_TX], NULL, NULL), 1);
	assert_int_equal(tq_used(fx, &fx->q[VS_TX], NULL, NULL), 1);
	/* An RX chain with a readable buffer, and one too small. */
	b[0] = (struct tbuf){PKT_GPA(3), 44, false};
	b[1] = (struct tbuf){PKT_GPA(4), 4096, true};
	tq_add(fx, &fx->q[VS_RX], b, 2);
	b[0] = (struct tbuf){PKT_GPA(3), 44, true};
	tq_add(fx, &fx->q[VS_RX], b, 1);
	notify(fx, &fx->q[VS_RX]);
	vs_settle(fx);
	/* Nothing to send yet: the chains wait. Packets make it use them. */
	h = vs_hdr(1000, 7777, VSOCK_OP_RW, 1);
	vs_send(fx, &h, "x", 1);
	{
		uint32_t len;

		assert_int_equal(tq_used(fx, &fx->q[VS_RX], NULL, &len), 1);
		assert_int_equal(len, 0);
		assert_int_equal(tq_used(fx, &fx->q[VS_RX], NULL, &len), 1);
		assert_int_equal(len, 0);
	}
	vs_rx_post(fx, &v, 1);
	vs_settle(fx);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.src_port, 7777);
	assert_int_equal(h.dst_port, 1000);
	assert_int_equal(h.dst_cid, VS_CID);
	/* Not a stream: RST. For another CID: dropped. RST: no answer. */
	vs_rx_post(fx, &v, 4);
	h = vs_hdr(1001, 7777, VSOCK_OP_REQUEST, 0);
	h.type = 2;
	vs_send(fx, &h, NULL, 0);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 1001);
	h = vs_hdr(1002, 7777, VSOCK_OP_REQUEST, 0);
	h.dst_cid = 5;
	vs_send(fx, &h, NULL, 0);
	h = vs_hdr(1003, 7777, VSOCK_OP_RST, 0);
	vs_send(fx, &h, NULL, 0);
	/* A connect to a port nobody listens on: RST. */
	h = vs_hdr(1004, 5001, VSOCK_OP_REQUEST, 0);
	vs_send(fx, &h, NULL, 0);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 1004);
	assert_int_equal(vs_recv(fx, &h), 0);
	assert_false(needs_reset(fx));
	virtio_vsock_get_stats(v.vs, &st, &mst);
	assert_int_equal(st.bad_tx, 3);
	assert_int_equal(st.bad_rx, 2);
	assert_int_equal(mst.pkts_dropped, 1);
	vs_close(&v);
}

static void test_vsock_rst_flood(void **state)
{
	struct fx *fx = *state;
	struct vsock_muxer_stats mst;
	struct vs_fx v;
	struct vsock_hdr h;
	unsigned int i, n = 0;

	vs_open(fx, &v);
	/* 300 stray packets and no RX buffers: the RST queue is bounded. */
	for (i = 0; i < 300; i++) {
		h = vs_hdr(2000 + i, 9, VSOCK_OP_CREDIT_REQUEST, 0);
		vs_send(fx, &h, NULL, 0);
	}
	virtio_vsock_get_stats(v.vs, NULL, &mst);
	assert_int_equal(mst.rst_dropped, 300 - VSOCK_MUXER_RSTQ_SIZE);
	/* They drain as buffers come, oldest first. */
	for (i = 0; i < 40; i++) {
		vs_rx_post(fx, &v, 1);
		vs_settle(fx);
		while (vs_recv(fx, &h)) {
			assert_int_equal(h.op, VSOCK_OP_RST);
			assert_int_equal(h.dst_port, 2000 + n);
			n++;
		}
	}
	assert_int_equal(n, 40);
	vs_close(&v);
}

/* Connects to path; the fd or -1. */
static int unix_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int unix_listen(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 16) < 0)
		return -1;
	return fd;
}

/* Whether the peer closed fd (EOF or reset) within ms. */
static bool closed_by_peer(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[64];

	if (poll(&p, 1, ms) != 1)
		return false;
	return read(fd, buf, sizeof(buf)) <= 0;
}

static void test_vsock_host_connect_lines(void **state)
{
	struct fx *fx = *state;
	struct vsock_muxer_stats mst;
	struct vs_fx v;
	struct vsock_hdr h;
	char line[64];
	int bad[4], ok, i;
	ssize_t n;

	vs_open(fx, &v);
	vs_rx_post(fx, &v, 4);
	/* Not "connect", no port, a port beyond u32, no newline in 32. */
	static const char *const lines[] = {
		"CONNEKT 52\n",
		"connect   \n",
		"connect 4294967296\n",
		"connect 1x\n",
	};
	for (i = 0; i < 4; i++) {
		bad[i] = unix_connect(v.uds);
		assert_true(bad[i] >= 0);
		assert_int_equal(write(bad[i], lines[i], strlen(lines[i])),
				 (ssize_t)strlen(lines[i]));
	}
	/* Mixed case, extra words and data right after the newline. */
	ok = unix_connect(v.uds);
	assert_int_equal(write(ok, "CoNnEcT 52 x\nearly", 18), 18);
	vs_settle(fx);
	for (i = 0; i < 4; i++) {
		assert_true(closed_by_peer(bad[i], 1000));
		close(bad[i]);
	}
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(h.src_port, VSOCK_LOCAL_PORT_FIRST);
	assert_int_equal(h.dst_port, 52);
	/* The guest accepts: "OK <port>\n", then the early data arrives. */
	h = vs_hdr(52, VSOCK_LOCAL_PORT_FIRST, VSOCK_OP_RESPONSE, 0);
	vs_send(fx, &h, NULL, 0);
	n = read(ok, line, sizeof(line) - 1);
	assert_true(n > 0);
	line[n] = 0;
	assert_string_equal(line, "OK 1073741824\n");
	vs_settle(fx);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 5);
	/* The host closes: SHUTDOWN to the guest, which answers RST. */
	close(ok);
	vs_settle(fx);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, 3);
	h = vs_hdr(52, VSOCK_LOCAL_PORT_FIRST, VSOCK_OP_RST, 0);
	vs_send(fx, &h, NULL, 0);
	assert_int_equal(virtio_vsock_nr_connections(v.vs), 0);
	/* A second host connection gets the next port. */
	ok = unix_connect(v.uds);
	assert_int_equal(write(ok, "connect 53\n", 11), 11);
	vs_settle(fx);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.src_port, VSOCK_LOCAL_PORT_FIRST + 1);
	/* The guest refuses: the host connection is closed. */
	h = vs_hdr(53, VSOCK_LOCAL_PORT_FIRST + 1, VSOCK_OP_RST, 0);
	vs_send(fx, &h, NULL, 0);
	assert_true(closed_by_peer(ok, 1000));
	close(ok);
	virtio_vsock_get_stats(v.vs, NULL, &mst);
	assert_int_equal(mst.host_rejects, 4);
	assert_int_equal(mst.host_connects, 6);
	vs_close(&v);
}

static void test_vsock_request_timeout(void **state)
{
	struct fx *fx = *state;
	struct vs_fx v;
	struct vsock_hdr h;
	uint64_t t0;
	int fd;

	vs_open(fx, &v);
	vs_rx_post(fx, &v, 4);
	fd = unix_connect(v.uds);
	assert_int_equal(write(fd, "connect 99\n", 11), 11);
	vs_settle(fx);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	/* No answer from the guest: after 2 s, RST and the host closed. */
	t0 = lg_now_ns();
	while (!vs_recv(fx, &h) && lg_now_ns() - t0 < 4000000000ull)
		evloop_run_once(fx->loop, 100);
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_true(lg_now_ns() - t0 >= 1900000000ull);
	assert_true(closed_by_peer(fd, 100));
	close(fd);
	assert_int_equal(virtio_vsock_nr_connections(v.vs), 0);
	vs_close(&v);
}

static void test_vsock_credit_violation(void **state)
{
	struct fx *fx = *state;
	static uint8_t chunk[4096];
	char path[128];
	struct vs_fx v;
	struct vsock_hdr h;
	int lfd, peer;
	unsigned int i;

	vs_open(fx, &v);
	vs_rx_post(fx, &v, 4);
	snprintf(path, sizeof(path), "%s_%u", v.uds, 6000);
	lfd = unix_listen(path);
	assert_true(lfd >= 0);
	h = vs_hdr(3000, 6000, VSOCK_OP_REQUEST, 0);
	vs_send(fx, &h, NULL, 0);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_RESPONSE);
	assert_int_equal(h.buf_alloc, 64 * 1024);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	/*
	 * The host never reads; the guest ignores its credit. Once the
	 * socket and the 64 KiB TX buffer are full, the connection dies
	 * (RST) and the host end is closed: memory stays bounded.
	 */
	for (i = 0; i < 4096; i++) {
		h = vs_hdr(3000, 6000, VSOCK_OP_RW, sizeof(chunk));
		vs_send(fx, &h, chunk, sizeof(chunk));
		if (virtio_vsock_nr_connections(v.vs) == 0)
			break;
		while (vs_recv(fx, &h)) {
			if (h.op == VSOCK_OP_RST)
				break;
			vs_rx_post(fx, &v, 1);
		}
		if (h.op == VSOCK_OP_RST)
			break;
	}
	assert_true(i < 4096);
	vs_settle(fx);
	while (vs_recv(fx, &h) && h.op != VSOCK_OP_RST)
		vs_rx_post(fx, &v, 1);
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(virtio_vsock_nr_connections(v.vs), 0);
	/* The host sees the end after the data that did fit. */
	{
		uint8_t buf[65536];
		ssize_t n;

		while ((n = read(peer, buf, sizeof(buf))) > 0)
			;
		assert_true(n == 0 || errno == ECONNRESET);
	}
	close(peer);
	close(lfd);
	unlink(path);
	vs_close(&v);
}

static void test_vsock_no_spin(void **state)
{
	struct fx *fx = *state;
	static uint8_t big[256 * 1024];
	char path[128];
	struct vs_fx v;
	struct vsock_hdr h;
	int lfd, peer, i, busy = 0;

	vs_open(fx, &v);
	vs_rx_post(fx, &v, 1);
	snprintf(path, sizeof(path), "%s_%u", v.uds, 6001);
	lfd = unix_listen(path);
	h = vs_hdr(3001, 6001, VSOCK_OP_REQUEST, 0);
	h.buf_alloc = 6000;
	vs_send(fx, &h, NULL, 0);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_RESPONSE);
	peer = accept(lfd, NULL, NULL);
	assert_true(peer >= 0);
	fcntl(peer, F_SETFL, O_NONBLOCK);
	/* The host floods; the guest gives no RX buffer, then no credit. */
	assert_true(write(peer, big, sizeof(big)) > 0);
	for (i = 0; i < 50; i++)
		busy += evloop_run_once(fx->loop, 2);
	/* One wakeup for the data at most; then quiet, not a busy loop. */
	assert_true(busy <= 2);
	/* Two buffers: 4096, then what is left of the 6000 credit. */
	vs_rx_post(fx, &v, 2);
	vs_settle(fx);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 4096);
	assert_int_equal(vs_recv(fx, &h), 1);
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 6000 - 4096);
	vs_rx_post(fx, &v, 2);
	busy = 0;
	for (i = 0; i < 50; i++)
		busy += evloop_run_once(fx->loop, 2);
	assert_true(busy <= 3);
	/* Credit exhausted: nothing was sent beyond it. */
	assert_int_equal(vs_recv(fx, &h), 0);
	/* The host hangs up while the guest has no credit: still quiet. */
	close(peer);
	busy = 0;
	for (i = 0; i < 50; i++)
		busy += evloop_run_once(fx->loop, 2);
	assert_true(busy <= 2);
	/* A device reset ends the connection on the loop thread. */
	wr(fx, VIRTIO_MMIO_STATUS, 0);
	vs_settle(fx);
	assert_int_equal(virtio_vsock_nr_connections(v.vs), 0);
	close(lfd);
	unlink(path);
	vs_close(&v);
}

static void test_vsock_max_connections(void **state)
{
	struct fx *fx = *state;
	static int peers[VSOCK_MAX_CONNECTIONS + 1];
	unsigned int i, accepted = 0;
	char path[128];
	struct vs_fx v;
	struct vsock_hdr h;
	int lfd;

	vs_open(fx, &v);
	snprintf(path, sizeof(path), "%s_%u", v.uds, 6002);
	lfd = unix_listen(path);
	assert_true(lfd >= 0);
	vs_rx_post(fx, &v, 8);
	for (i = 0; i <= VSOCK_MAX_CONNECTIONS; i++) {
		h = vs_hdr(10000 + i, 6002, VSOCK_OP_REQUEST, 0);
		vs_send(fx, &h, NULL, 0);
		while (vs_recv(fx, &h))
			vs_rx_post(fx, &v, 1);
		/* Keep the listener's backlog short. */
		while (accepted <= i) {
			struct pollfd p = {.fd = lfd, .events = POLLIN};

			if (poll(&p, 1, 0) != 1)
				break;
			peers[accepted++] = accept(lfd, NULL, NULL);
		}
		if (i == VSOCK_MAX_CONNECTIONS - 1)
			assert_int_equal(h.op, VSOCK_OP_RESPONSE);
	}
	/* The 1024th is refused. */
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_int_equal(h.dst_port, 10000 + VSOCK_MAX_CONNECTIONS);
	assert_int_equal(virtio_vsock_nr_connections(v.vs),
			 VSOCK_MAX_CONNECTIONS);
	/* A host client too: accepted and closed at once. */
	{
		int fd = unix_connect(v.uds);

		vs_settle(fx);
		assert_true(closed_by_peer(fd, 1000));
		close(fd);
	}
	for (i = 0; i < accepted; i++)
		close(peers[i]);
	vs_close(&v);
	close(lfd);
	unlink(path);
}

/* ---- virtio-net ---- */

#define NET_TAP "lgtapunit0"

static int net_netns(void)
{
	static int done;

	/* The whole process moves, once: the TAP dies with it. */
	if (!done) {
		int fd;

		done = unshare(CLONE_NEWNET) == 0 ? 1 : -1;
		/* No IPv6 traffic of the host's own on the new link. */
		fd = open("/proc/sys/net/ipv6/conf/default/disable_ipv6",
			  O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "1", 1) != 1)
				done = -1;
			close(fd);
		}
	}
	return done;
}

static int net_packet_socket(int *ifindex)
{
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL)};
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), NET_TAP);
	assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
	*ifindex = (int)if_nametoindex(NET_TAP);
	sll.sll_ifindex = *ifindex;
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sll, sizeof(sll)), 0);
	return fd;
}

/* A frame from the guest: 12-byte header, then 60 bytes of Ethernet. */
static void net_tx(struct fx *fx, uint8_t flags, uint8_t gso, uint32_t len,
		   bool writable)
{
	uint8_t *p = fx->ram + PKT_GPA(0);
	struct tbuf b = {PKT_GPA(0), len, writable};

	memset(p, 0, 12 + 60);
	p[0] = flags;
	p[1] = gso;
	memset(p + 12, 0xff, 6);
	p[12 + 12] = 0x88;
	p[12 + 13] = 0xb5;
	tq_add(fx, &fx->q[VIRTIO_NET_TXQ], &b, 1);
	notify(fx, &fx->q[VIRTIO_NET_TXQ]);
	vs_settle(fx);
	assert_int_equal(tq_used(fx, &fx->q[VIRTIO_NET_TXQ], NULL, NULL), 1);
}

static void test_net_hostile(void **state)
{
	struct fx *fx = *state;
	struct virtio_net_params p = {.host_dev_name = NET_TAP};
	struct virtio_net_stats st;
	struct virtio_net *net;
	struct sockaddr_ll to;
	uint8_t frame[1000] = {0};
	uint32_t len;
	struct tbuf b[2];
	int sock, ifindex, i, busy = 0;

	if (net_netns() < 0)
		skip();
	assert_int_equal(
		virtio_net_create(&p, &fx->mem, fx->loop, count_irq, fx, &net),
		0);
	fx->dev = virtio_net_mmio(net);
	assert_int_equal(rd(fx, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	sock = net_packet_socket(&ifindex);
	drv_init(fx, 0, 2);
	vs_settle(fx);
	/* TX: a writable buffer, a short one, an offload not negotiated. */
	net_tx(fx, 0, 0, 12 + 60, true);
	net_tx(fx, 0, 0, 8, false);
	net_tx(fx, VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, 12 + 60, false);
	net_tx(fx, 0, VIRTIO_NET_HDR_GSO_TCPV4, 12 + 60, false);
	net_tx(fx, 0, VIRTIO_NET_HDR_GSO_UDP, 12 + 60, false);
	/* Longer than any frame, over two buffers. */
	b[0] = (struct tbuf){PKT_GPA(0), 40000, false};
	b[1] = (struct tbuf){PKT_GPA(2), 40000, false};
	tq_add(fx, &fx->q[VIRTIO_NET_TXQ], b, 2);
	notify(fx, &fx->q[VIRTIO_NET_TXQ]);
	vs_settle(fx);
	assert_int_equal(tq_used(fx, &fx->q[VIRTIO_NET_TXQ], NULL, NULL), 1);
	net_tx(fx, 0, 0, 12 + 60, false);
	virtio_net_get_stats(net, &st);
	assert_int_equal(st.tx_dropped, 6);
	assert_int_equal(st.tx_frames, 1);
	/* RX: frames wait in the TAP while the guest gives no buffer. */
	memset(&to, 0, sizeof(to));
	to.sll_family = AF_PACKET;
	to.sll_ifindex = ifindex;
	to.sll_halen = 6;
	memset(frame, 0xff, 6);
	frame[12] = 0x88;
	frame[13] = 0xb6;
	for (i = 0; i < 3; i++)
		assert_int_equal(sendto(sock, frame, sizeof(frame), 0,
					(struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)sizeof(frame));
	for (i = 0; i < 50; i++)
		busy += evloop_run_once(fx->loop, 2);
	assert_true(busy <= 2);
	/* A readable buffer is refused; a small one holds no frame. */
	b[0] = (struct tbuf){PKT_GPA(4), 64, false};
	b[1] = (struct tbuf){PKT_GPA(4) + 64, 2000, true};
	tq_add(fx, &fx->q[VIRTIO_NET_RXQ], b, 2);
	b[0] = (struct tbuf){PKT_GPA(5), 100, true};
	tq_add(fx, &fx->q[VIRTIO_NET_RXQ], b, 1);
	notify(fx, &fx->q[VIRTIO_NET_RXQ]);
	vs_settle(fx);
	assert_int_equal(tq_used(fx, &fx->q[VIRTIO_NET_RXQ], NULL, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(tq_used(fx, &fx->q[VIRTIO_NET_RXQ], NULL, NULL), 0);
	virtio_net_get_stats(net, &st);
	assert_int_equal(st.bad_rx, 1);
	assert_int_equal(st.rx_dropped, 3);
	/* A reset, then a proper buffer gets the next frame, whole. */
	drv_init(fx, 0, 2);
	vs_settle(fx);
	b[0] = (struct tbuf){PKT_GPA(6), 2048, true};
	tq_add(fx, &fx->q[VIRTIO_NET_RXQ], b, 1);
	notify(fx, &fx->q[VIRTIO_NET_RXQ]);
	vs_settle(fx);
	assert_int_equal(sendto(sock, frame, sizeof(frame), 0,
				(struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)sizeof(frame));
	for (i = 0; i < 100 && !tq_used(fx, &fx->q[VIRTIO_NET_RXQ], NULL, &len);
	     i++)
		evloop_run_once(fx->loop, 10);
	assert_int_equal(len, 12 + sizeof(frame));
	assert_int_equal(fx->ram[PKT_GPA(6) + 10], 1); /* num_buffers */
	assert_memory_equal(fx->ram + PKT_GPA(6) + 12, frame, sizeof(frame));
	close(sock);
	virtio_net_destroy(net);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_evloop, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_rng, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_blk_malformed, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_blk_read_only_and_update,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_i8042, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_vsock_malformed, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_vsock_rst_flood, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_vsock_host_connect_lines,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vsock_request_timeout,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vsock_credit_violation,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_vsock_no_spin, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_vsock_max_connections,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_net_hostile, fx_setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
