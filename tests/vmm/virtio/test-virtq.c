/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueue and virtio-mmio transport over guest RAM in host memory:
 * valid chains, the used ring, every rejected chain, register semantics.
 */
#include "vmm/bus.h"
#include "vmm/memory.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/virtqueue.h"

#include "common/log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define RAM_SIZE (1u << 20)
#define DESC_GPA 0x1000u
#define AVAIL_GPA 0x2000u
#define USED_GPA 0x3000u
#define TABLE_GPA 0x4000u
#define BUF_GPA 0x10000u
#define QSIZE 16u

struct fixture {
	struct vm_mem mem;
	uint8_t *ram;
	struct virtq q;
	struct virtq_chain chain;
	uint16_t avail_idx;
};

static int fx_setup(void **state)
{
	static struct fixture fx;

	memset(&fx, 0, sizeof(fx));
	vm_mem_init(&fx.mem);
	if (vm_mem_add(&fx.mem, 0, RAM_SIZE))
		return -1;
	fx.ram = vm_mem_ptr(&fx.mem, 0, RAM_SIZE);
	virtq_init(&fx.q, &fx.mem, VIRTQ_MAX_SIZE);
	fx.q.size = QSIZE;
	fx.q.desc_gpa = DESC_GPA;
	fx.q.avail_gpa = AVAIL_GPA;
	fx.q.used_gpa = USED_GPA;
	fx.q.indirect = true;
	if (virtq_enable(&fx.q))
		return -1;
	*state = &fx;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fixture *fx = *state;

	vm_mem_free(&fx->mem);
	return 0;
}

static void put16(struct fixture *fx, uint64_t gpa, uint16_t v)
{
	memcpy(fx->ram + gpa, &v, 2);
}

static uint16_t get16(struct fixture *fx, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, fx->ram + gpa, 2);
	return v;
}

static uint32_t get32(struct fixture *fx, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, fx->ram + gpa, 4);
	return v;
}

static void desc(struct fixture *fx, uint64_t table, unsigned int i,
		 uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct virtq_desc d = {
		.addr = addr, .len = len, .flags = flags, .next = next};

	memcpy(fx->ram + table + 16u * i, &d, sizeof(d));
}

static void offer(struct fixture *fx, uint16_t head)
{
	put16(fx, AVAIL_GPA + 4 + 2u * (fx->avail_idx % QSIZE), head);
	fx->avail_idx++;
	put16(fx, AVAIL_GPA + 2, fx->avail_idx);
}

/* Offers a chain and expects it rejected with err; the queue stays dead. */
static void expect_broken(struct fixture *fx, uint16_t head,
			  enum virtq_error err)
{
	offer(fx, head);
	assert_int_equal(virtq_pop(&fx->q, &fx->chain), -EIO);
	assert_int_equal(fx->q.error, err);
	assert_true(virtq_broken(&fx->q));
	assert_int_equal(virtq_pop(&fx->q, &fx->chain), -EIO);
	assert_int_equal(virtq_push(&fx->q, head, 0), -EIO);
	assert_int_equal(get16(fx, USED_GPA + 2), 0);
}

static void test_direct(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(virtq_pop(&fx->q, &fx->chain), 0);
	desc(fx, DESC_GPA, 3, BUF_GPA, 100, 0, 0);
	offer(fx, 3);
	assert_int_equal(virtq_pop(&fx->q, &fx->chain), 1);
	assert_int_equal(fx->chain.head, 3);
	assert_int_equal(fx->chain.nr_segs, 1);
	assert_int_equal(fx->chain.nr_readable, 1);
	assert_ptr_equal(fx->chain.segs[0].hva, fx->ram + BUF_GPA);
	assert_int_equal(fx->chain.segs[0].len, 100);
	assert_false(fx->chain.segs[0].writable);
	assert_int_equal(fx->chain.read_len, 100);
	assert_int_equal(fx->chain.write_len, 0);
	assert_int_equal(virtq_pop(&fx->q, &fx->chain), 0);

	assert_int_equal(virtq_push(&fx->q, 3, 42), 0);
	assert_int_equal(get16(fx, USED_GPA + 2), 1);
	assert_int_equal(get32(fx, USED_GPA + 4), 3);
	assert_int_equal(get32(fx, USED_GPA + 8), 42);
	/* Pushed twice: a device bug, caught. */
	assert_int_equal(virtq_push(&fx->q, 3, 0), -EIO);
	assert_int_equal(fx->q.error, VIRTQ_ERR_PUSH);
}

static void test_chained(void **state)
{
	struct fixture *fx = *state;
	uint8_t out[8];

	desc(fx, DESC_GPA, 5, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 2);
	desc(fx, DESC_GPA, 2, BUF_GPA + 0x100, 6, VIRTQ_DESC_F_NEXT, 9);
	desc(fx, DESC_GPA, 9, BUF_GPA + 0x200, 3, VIRTQ_DESC_F_WRITE, 0);
	memcpy(fx->ram + BUF_GPA, "abcd", 4);
	memcpy(fx->ram + BUF_GPA + 0x100, "efghij", 6);
	offer(fx, 5);
	assert_int_equal(virtq_pop(&fx->q, &fx->chain), 1);
	assert_int_equal(fx->chain.head, 5);
	assert_int_equal(fx->chain.nr_segs, 3);
	assert_int_equal(fx->chain.nr_readable, 2);
	assert_int_equal(fx->chain.read_len, 10);
	assert_int_equal(fx->chain.write_len, 3);
	assert_true(fx->chain.segs[2].writable);
	assert_int_equal(virtq_chain_read(&fx->chain, 2, out, 8), 8);
	assert_memory_equal(out, "cdefghij", 8);
	assert_int_equal(virtq_chain_read(&fx->chain, 9, out, 8), 1);
	assert_int_equal(virtq_chain_write(&fx->chain, 1, "XYZ", 3), 2);
	assert_memory_equal(fx->ram + BUF_GPA + 0x201, "XY", 2);
	assert_int_equal(virtq_push(&fx->q, 5, 3), 0);
	assert_int_equal(get32(fx, USED_GPA + 4), 5);
	assert_int_equal(get32(fx, USED_GPA + 8), 3);
}

static void test_indirect(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(fx, DESC_GPA, 1, TABLE_GPA, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(fx, TABLE_GPA, 0, BUF_GPA + 0x100, 16, VIRTQ_DESC_F_NEXT, 2);
	desc(fx, TABLE_GPA, 2, BUF_GPA + 0x200, 32,
	     VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc(fx, TABLE_GPA, 1, BUF_GPA + 0x300, 64, VIRTQ_DESC_F_WRITE, 0);
	offer(fx, 0);
	assert_int_equal(virtq_pop(&fx->q, &fx->chain), 1);
	assert_int_equal(fx->chain.nr_segs, 4);
	assert_int_equal(fx->chain.nr_readable, 2);
	assert_int_equal(fx->chain.read_len, 24);
	assert_int_equal(fx->chain.write_len, 96);
	assert_ptr_equal(fx->chain.segs[3].hva, fx->ram + BUF_GPA + 0x300);
	assert_int_equal(virtq_push(&fx->q, 0, 96), 0);
	assert_false(virtq_broken(&fx->q));
}

static void test_many_and_wrap(void **state)
{
	struct fixture *fx = *state;
	unsigned int i, j;

	for (i = 0; i < QSIZE; i++)
		desc(fx, DESC_GPA, i, BUF_GPA + 16 * i, 16, VIRTQ_DESC_F_WRITE,
		     0);
	/* Past the 16-bit wrap of both indexes, a full ring at a time. */
	for (i = 0; i < 70000 / QSIZE; i++) {
		for (j = 0; j < QSIZE; j++)
			offer(fx, (uint16_t)((j + i) % QSIZE));
		for (j = 0; j < QSIZE; j++) {
			assert_int_equal(virtq_pop(&fx->q, &fx->chain), 1);
			assert_int_equal(fx->chain.head, (j + i) % QSIZE);
		}
		assert_int_equal(virtq_pop(&fx->q, &fx->chain), 0);
		for (j = 0; j < QSIZE; j++)
			assert_int_equal(virtq_push(&fx->q,
						    (uint16_t)((j + i) % QSIZE),
						    j),
					 0);
	}
	assert_int_equal(get16(fx, USED_GPA + 2), fx->avail_idx);
	assert_false(virtq_broken(&fx->q));
}

static void test_notify_suppression(void **state)
{
	struct fixture *fx = *state;

	assert_true(virtq_push_needs_irq(&fx->q));
	put16(fx, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(virtq_push_needs_irq(&fx->q));
	/* The device never asks the driver not to notify. */
	assert_int_equal(get16(fx, USED_GPA), 0);
}

static void test_bad_head(void **state)
{
	expect_broken(*state, QSIZE, VIRTQ_ERR_HEAD);
}

static void test_bad_next(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, QSIZE);
	expect_broken(fx, 0, VIRTQ_ERR_NEXT);
}

static void test_loop(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(fx, DESC_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	expect_broken(fx, 0, VIRTQ_ERR_LOOP);
}

static void test_self_loop(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 7, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 7);
	expect_broken(fx, 7, VIRTQ_ERR_LOOP);
}

static void test_indirect_loop(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(fx, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(fx, TABLE_GPA, 1, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	expect_broken(fx, 0, VIRTQ_ERR_LOOP);
}

static void test_indirect_next_range(void **state)
{
	struct fixture *fx = *state;

	/* Index 2 is inside the direct table but outside this table. */
	desc(fx, DESC_GPA, 0, TABLE_GPA, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(fx, TABLE_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	expect_broken(fx, 0, VIRTQ_ERR_NEXT);
}

static void test_zero_len(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, BUF_GPA, 0, 0, 0);
	expect_broken(fx, 0, VIRTQ_ERR_ZERO_LEN);
}

static void test_out_of_ram(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, RAM_SIZE - 4, 8, 0, 0);
	expect_broken(fx, 0, VIRTQ_ERR_BAD_ADDR);
}

static void test_wrapping_addr(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, UINT64_MAX - 3, 8, VIRTQ_DESC_F_WRITE, 0);
	expect_broken(fx, 0, VIRTQ_ERR_BAD_ADDR);
}

static void test_nested_indirect(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(fx, TABLE_GPA, 0, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(fx, 0, VIRTQ_ERR_NESTED);
}

static void test_indirect_len_odd(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, TABLE_GPA, 24, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(fx, 0, VIRTQ_ERR_INDIRECT_LEN);
}

static void test_indirect_len_zero(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, TABLE_GPA, 0, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(fx, 0, VIRTQ_ERR_INDIRECT_LEN);
}

static void test_indirect_too_long(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, TABLE_GPA, (VIRTQ_MAX_SEGS + 1) * 16,
	     VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(fx, 0, VIRTQ_ERR_INDIRECT_LEN);
}

static void test_indirect_out_of_ram(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	expect_broken(fx, 0, VIRTQ_ERR_BAD_ADDR);
}

static void test_indirect_with_next(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, TABLE_GPA, 16,
	     VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc(fx, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	expect_broken(fx, 0, VIRTQ_ERR_INDIRECT);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fixture *fx = *state;

	fx->q.indirect = false;
	desc(fx, DESC_GPA, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	desc(fx, TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	expect_broken(fx, 0, VIRTQ_ERR_INDIRECT);
}

static void test_chain_too_long(void **state)
{
	struct fixture *fx = *state;
	unsigned int i;

	/* One direct buffer, then a full indirect table: one too many. */
	desc(fx, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(fx, DESC_GPA, 1, TABLE_GPA, VIRTQ_MAX_SEGS * 16,
	     VIRTQ_DESC_F_INDIRECT, 0);
	for (i = 0; i < VIRTQ_MAX_SEGS; i++)
		desc(fx, TABLE_GPA, i, BUF_GPA, 8,
		     i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	expect_broken(fx, 0, VIRTQ_ERR_TOO_LONG);
}

static void test_full_indirect_ok(void **state)
{
	struct fixture *fx = *state;
	unsigned int i;

	desc(fx, DESC_GPA, 0, TABLE_GPA, VIRTQ_MAX_SEGS * 16,
	     VIRTQ_DESC_F_INDIRECT, 0);
	for (i = 0; i < VIRTQ_MAX_SEGS; i++)
		desc(fx, TABLE_GPA, i, BUF_GPA, 8,
		     i + 1 < VIRTQ_MAX_SEGS ? VIRTQ_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	offer(fx, 0);
	assert_int_equal(virtq_pop(&fx->q, &fx->chain), 1);
	assert_int_equal(fx->chain.nr_segs, VIRTQ_MAX_SEGS);
}

static void test_read_after_write(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, BUF_GPA, 8,
	     VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc(fx, DESC_GPA, 1, BUF_GPA, 8, 0, 0);
	expect_broken(fx, 0, VIRTQ_ERR_ORDER);
}

static void test_avail_jump(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 0, BUF_GPA, 8, 0, 0);
	fx->avail_idx = QSIZE; /* offer() adds one more: size + 1 */
	expect_broken(fx, 0, VIRTQ_ERR_AVAIL_IDX);
}

static void test_avail_full_ok(void **state)
{
	struct fixture *fx = *state;
	unsigned int i;

	desc(fx, DESC_GPA, 0, BUF_GPA, 8, 0, 0);
	desc(fx, DESC_GPA, 1, BUF_GPA, 8, 0, 0);
	/* Exactly size entries are fine... */
	put16(fx, AVAIL_GPA + 2, QSIZE);
	for (i = 0; i < QSIZE; i++)
		put16(fx, AVAIL_GPA + 4 + 2 * i, (uint16_t)i);
	for (i = 0; i < QSIZE; i++)
		desc(fx, DESC_GPA, i, BUF_GPA, 8, 0, 0);
	for (i = 0; i < QSIZE; i++)
		assert_int_equal(virtq_pop(&fx->q, &fx->chain), 1);
	assert_int_equal(virtq_pop(&fx->q, &fx->chain), 0);
}

static void test_head_busy(void **state)
{
	struct fixture *fx = *state;

	desc(fx, DESC_GPA, 4, BUF_GPA, 8, 0, 0);
	offer(fx, 4);
	assert_int_equal(virtq_pop(&fx->q, &fx->chain), 1);
	expect_broken(fx, 4, VIRTQ_ERR_HEAD_BUSY);
}

static void test_push_not_popped(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(virtq_push(&fx->q, 1, 0), -EIO);
	assert_int_equal(fx->q.error, VIRTQ_ERR_PUSH);
	assert_int_equal(get16(fx, USED_GPA + 2), 0);
}

static void test_setup_errors(void **state)
{
	struct fixture *fx = *state;
	struct virtq q;

	(void)state;
	virtq_init(&q, &fx->mem, 64);
	assert_int_equal(q.size, 64);
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;

	q.size = 48; /* not a power of 2 */
	assert_int_equal(virtq_enable(&q), -EINVAL);
	assert_int_equal(q.error, VIRTQ_ERR_SETUP);
	assert_false(q.ready);
	assert_int_equal(virtq_pop(&q, &fx->chain), -EIO);

	virtq_reset(&q);
	assert_false(virtq_broken(&q));
	q.size = 128; /* above the device's max */
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	assert_int_equal(virtq_enable(&q), -EINVAL);

	virtq_reset(&q);
	q.size = 0;
	assert_int_equal(virtq_enable(&q), -EINVAL);

	virtq_reset(&q);
	q.desc_gpa = DESC_GPA + 8; /* misaligned */
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	assert_int_equal(virtq_enable(&q), -EINVAL);

	virtq_reset(&q);
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = RAM_SIZE - 64; /* ring runs past RAM */
	assert_int_equal(virtq_enable(&q), -EINVAL);

	virtq_reset(&q);
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	assert_int_equal(virtq_enable(&q), 0);
	assert_true(q.ready);
	/* Not ready: nothing to pop. */
	virtq_disable(&q);
	assert_int_equal(virtq_pop(&q, &fx->chain), 0);
	assert_true(strlen(virtq_error_str(VIRTQ_ERR_LOOP)) > 0);
	assert_string_equal(virtq_error_str((enum virtq_error)999), "unknown");
}

/* --- virtio-mmio transport ------------------------------------------- */

#define MMIO_BASE 0xd0000000ull

struct fake_backend {
	uint8_t config[8];
	unsigned int notifies;
	unsigned int last_qidx;
	unsigned int resets;
	unsigned int activates;
	uint64_t activated_features;
	int activate_rc;
	bool pop_on_notify;
	int irq_level;
	unsigned int irq_raised;
	struct virtq_chain chain;
};

static void fb_config_read(void *opaque, uint32_t off, uint8_t *data,
			   uint32_t len)
{
	struct fake_backend *fb = opaque;

	memcpy(data, fb->config + off, len);
}

static void fb_config_write(void *opaque, uint32_t off, const uint8_t *data,
			    uint32_t len)
{
	struct fake_backend *fb = opaque;

	memcpy(fb->config + off, data, len);
}

static int fb_activate(void *opaque, struct virtio_mmio *dev, uint64_t features)
{
	struct fake_backend *fb = opaque;

	(void)dev;
	fb->activates++;
	fb->activated_features = features;
	return fb->activate_rc;
}

static void fb_notify(void *opaque, struct virtio_mmio *dev, unsigned int qidx)
{
	struct fake_backend *fb = opaque;
	struct virtq *q = virtio_mmio_queue(dev, qidx);

	fb->notifies++;
	fb->last_qidx = qidx;
	if (!fb->pop_on_notify)
		return;
	while (virtq_pop(q, &fb->chain) == 1) {
		virtq_push(q, fb->chain.head, 0);
		virtio_mmio_notify_used(dev, qidx);
	}
}

static void fb_reset(void *opaque)
{
	struct fake_backend *fb = opaque;

	fb->resets++;
}

static void fb_irq(void *opaque, bool level)
{
	struct fake_backend *fb = opaque;

	fb->irq_level = level;
	if (level)
		fb->irq_raised++;
}

static const struct virtio_backend_ops fb_ops = {
	.name = "fake",
	.device_id = 4, /* rng */
	.features = (1ull << 0) | (1ull << VIRTIO_F_INDIRECT_DESC) |
		    (1ull << VIRTIO_F_EVENT_IDX) | (1ull << 40),
	.config_size = 8,
	.config_read = fb_config_read,
	.config_write = fb_config_write,
	.activate = fb_activate,
	.queue_notify = fb_notify,
	.reset = fb_reset,
};

struct mmio_fixture {
	struct fixture *fx;
	struct bus bus;
	struct virtio_mmio dev;
	struct fake_backend fb;
};

static int mmio_setup(void **state)
{
	static struct mmio_fixture m;
	void *fxs;

	memset(&m, 0, sizeof(m));
	if (fx_setup(&fxs))
		return -1;
	m.fx = fxs;
	bus_init(&m.bus, "mmio", BUS_MMIO_LAST);
	if (virtio_mmio_init(&m.dev, &m.fx->mem, &fb_ops, &m.fb, 2, 64, fb_irq,
			     &m.fb))
		return -1;
	if (virtio_mmio_register(&m.dev, &m.bus, MMIO_BASE))
		return -1;
	*state = &m;
	return 0;
}

static int mmio_teardown(void **state)
{
	struct mmio_fixture *m = *state;
	void *fxs = m->fx;

	virtio_mmio_destroy(&m->dev);
	bus_free(&m->bus);
	return fx_teardown(&fxs);
}

static uint32_t rd(struct mmio_fixture *m, uint64_t off, uint32_t len)
{
	uint8_t b[8] = {0};
	uint32_t v = 0;

	assert_int_equal(bus_access(&m->bus, MMIO_BASE + off, b, len, false),
			 0);
	memcpy(&v, b, len < 4 ? len : 4);
	return v;
}

static uint32_t rd32(struct mmio_fixture *m, uint64_t off)
{
	return rd(m, off, 4);
}

static void wr(struct mmio_fixture *m, uint64_t off, uint32_t v, uint32_t len)
{
	uint8_t b[8] = {0};

	memcpy(b, &v, len < 4 ? len : 4);
	assert_int_equal(bus_access(&m->bus, MMIO_BASE + off, b, len, true), 0);
}

static void wr32(struct mmio_fixture *m, uint64_t off, uint32_t v)
{
	wr(m, off, v, 4);
}

/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns the status read. */
static uint32_t negotiate(struct mmio_fixture *m, uint64_t features)
{
	wr32(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr32(m, VIRTIO_MMIO_STATUS,
	     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr32(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr32(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
	wr32(m, VIRTIO_MMIO_STATUS,
	     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		     VIRTIO_STATUS_FEATURES_OK);
	return rd32(m, VIRTIO_MMIO_STATUS);
}

static void setup_queue0(struct mmio_fixture *m)
{
	wr32(m, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr32(m, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr32(m, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC_GPA);
	wr32(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr32(m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, AVAIL_GPA);
	wr32(m, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
	wr32(m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, USED_GPA);
	wr32(m, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
	wr32(m, VIRTIO_MMIO_QUEUE_READY, 1);
}

#define ALL_OK                                                                 \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |                    \
	 VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK)
#define F_V1 (1ull << VIRTIO_F_VERSION_1)
#define F_INDIRECT (1ull << VIRTIO_F_INDIRECT_DESC)

static void test_mmio_ids(void **state)
{
	struct mmio_fixture *m = *state;

	assert_int_equal(rd32(m, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd32(m, VIRTIO_MMIO_VERSION_REG), 2);
	assert_int_equal(rd32(m, VIRTIO_MMIO_DEVICE_ID), 4);
	assert_int_equal(rd32(m, VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd32(m, VIRTIO_MMIO_CONFIG_GENERATION), 0);
	/* Write-only registers read 0; read-only ones ignore writes. */
	assert_int_equal(rd32(m, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	assert_int_equal(rd32(m, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	wr32(m, VIRTIO_MMIO_MAGIC_VALUE, 0);
	wr32(m, VIRTIO_MMIO_DEVICE_ID, 9);
	assert_int_equal(rd32(m, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd32(m, VIRTIO_MMIO_DEVICE_ID), 4);
	assert_int_equal(rd32(m, VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffffu);
	assert_int_equal(virtio_mmio_init(&m->dev, &m->fx->mem, &fb_ops, &m->fb,
					  0, 64, NULL, NULL),
			 -EINVAL);
}

static void test_mmio_features(void **state)
{
	struct mmio_fixture *m = *state;

	wr32(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	/* EVENT_IDX filtered out; INDIRECT and bit 0 offered. */
	assert_int_equal(rd32(m, VIRTIO_MMIO_DEVICE_FEATURES),
			 1u | (1u << VIRTIO_F_INDIRECT_DESC));
	wr32(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd32(m, VIRTIO_MMIO_DEVICE_FEATURES), 1);
	wr32(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd32(m, VIRTIO_MMIO_DEVICE_FEATURES), 0);

	/* Driver features before DRIVER: ignored. */
	wr32(m, VIRTIO_MMIO_DRIVER_FEATURES, 1);
	assert_int_equal(m->dev.driver_features, 0);

	/* Not offered (EVENT_IDX): FEATURES_OK refused. */
	assert_int_equal(negotiate(m, F_V1 | (1ull << VIRTIO_F_EVENT_IDX)) &
				 VIRTIO_STATUS_FEATURES_OK,
			 0);
	wr32(m, VIRTIO_MMIO_STATUS, 0);
	/* Without VERSION_1: refused. */
	assert_int_equal(negotiate(m, 1) & VIRTIO_STATUS_FEATURES_OK, 0);
	wr32(m, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(m->dev.driver_features, 0);

	assert_int_equal(negotiate(m, F_V1 | F_INDIRECT | 1),
			 VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				 VIRTIO_STATUS_FEATURES_OK);
	assert_true(m->dev.queues[0].indirect);
	/* After FEATURES_OK the features are fixed. */
	wr32(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr32(m, VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(m->dev.driver_features, F_V1 | F_INDIRECT | 1);

	wr32(m, VIRTIO_MMIO_STATUS, ALL_OK);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS), ALL_OK);
	assert_int_equal(m->fb.activates, 1);
	assert_int_equal(m->fb.activated_features, F_V1 | F_INDIRECT | 1);
}

static void test_mmio_status_order(void **state)
{
	struct mmio_fixture *m = *state;

	/* DRIVER without ACKNOWLEDGE, FEATURES_OK without DRIVER. */
	wr32(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS), 0);
	wr32(m, VIRTIO_MMIO_STATUS,
	     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS), 0);
	wr32(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr32(m, VIRTIO_MMIO_STATUS,
	     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
		     VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS),
			 VIRTIO_STATUS_ACKNOWLEDGE);
	/* The driver cannot set NEEDS_RESET nor clear bits. */
	wr32(m, VIRTIO_MMIO_STATUS,
	     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS),
			 VIRTIO_STATUS_ACKNOWLEDGE);
	wr32(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_DRIVER);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS),
			 VIRTIO_STATUS_ACKNOWLEDGE);
	/* An activate failure: needs reset. */
	wr32(m, VIRTIO_MMIO_STATUS, 0);
	m->fb.activate_rc = -1;
	negotiate(m, F_V1);
	wr32(m, VIRTIO_MMIO_STATUS, ALL_OK);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS),
			 ALL_OK | VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd32(m, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG);
}

static void test_mmio_queue_setup(void **state)
{
	struct mmio_fixture *m = *state;
	struct virtq *q = &m->dev.queues[0];

	assert_int_equal(rd32(m, VIRTIO_MMIO_QUEUE_NUM_MAX), 64);
	wr32(m, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(rd32(m, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd32(m, VIRTIO_MMIO_QUEUE_READY), 0);

	/* Before FEATURES_OK: ignored. */
	setup_queue0(m);
	assert_false(q->ready);
	assert_int_equal(q->desc_gpa, 0);

	negotiate(m, F_V1);
	setup_queue0(m);
	assert_int_equal(rd32(m, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_true(q->ready);
	assert_int_equal(q->size, QSIZE);
	assert_int_equal(q->desc_gpa, DESC_GPA);
	assert_int_equal(q->avail_gpa, AVAIL_GPA);
	assert_int_equal(q->used_gpa, USED_GPA);
	assert_false(q->indirect);
	/* While ready: setup writes ignored. */
	wr32(m, VIRTIO_MMIO_QUEUE_NUM, 32);
	wr32(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
	assert_int_equal(q->size, QSIZE);
	assert_int_equal(q->desc_gpa, DESC_GPA);
	/* Disable, then 64-bit addresses. */
	wr32(m, VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd32(m, VIRTIO_MMIO_QUEUE_READY), 0);
	wr32(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, 1);
	assert_int_equal(q->desc_gpa, DESC_GPA | 1ull << 32);
	wr32(m, VIRTIO_MMIO_QUEUE_NUM, 0x10010); /* truncation is no size */
	assert_int_equal(q->size, 0);

	/* A bad setup going ready: the queue stays off, device needs reset. */
	wr32(m, VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd32(m, VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd32(m, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* And further setup is refused until reset. */
	wr32(m, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	assert_int_equal(q->size, 0);
}

static void test_mmio_notify_irq(void **state)
{
	struct mmio_fixture *m = *state;
	struct fixture *fx = m->fx;

	negotiate(m, F_V1);
	setup_queue0(m);
	m->fb.pop_on_notify = true;

	/* Before DRIVER_OK no notification reaches the backend. */
	wr32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(m->fb.notifies, 0);
	wr32(m, VIRTIO_MMIO_STATUS, ALL_OK);

	desc(fx, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(fx, 0);
	wr32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(m->fb.notifies, 1);
	assert_int_equal(get16(fx, USED_GPA + 2), 1);
	assert_int_equal(m->fb.irq_level, 1);
	assert_int_equal(rd32(m, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_VRING);
	/* Acking a cause not pending changes nothing. */
	wr32(m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(m->fb.irq_level, 1);
	wr32(m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(m->fb.irq_level, 0);
	assert_int_equal(rd32(m, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* Queue 1 not ready, queue 7 absent: no callback. */
	wr32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 1);
	wr32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 7);
	assert_int_equal(m->fb.notifies, 1);

	/* Suppressed interrupt. */
	put16(fx, AVAIL_GPA, VIRTQ_AVAIL_F_NO_INTERRUPT);
	offer(fx, 0);
	wr32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(get16(fx, USED_GPA + 2), 2);
	assert_int_equal(m->fb.irq_raised, 1);

	/* Config change: new generation, config interrupt. */
	virtio_mmio_lock(&m->dev);
	virtio_mmio_config_changed(&m->dev);
	virtio_mmio_unlock(&m->dev);
	assert_int_equal(rd32(m, VIRTIO_MMIO_CONFIG_GENERATION), 1);
	assert_int_equal(rd32(m, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG);
}

static void test_mmio_broken_and_reset(void **state)
{
	struct mmio_fixture *m = *state;
	struct fixture *fx = m->fx;
	struct virtq *q = &m->dev.queues[0];

	negotiate(m, F_V1);
	setup_queue0(m);
	wr32(m, VIRTIO_MMIO_STATUS, ALL_OK);
	m->fb.pop_on_notify = true;

	/* A hostile chain: the device breaks, the VMM carries on. */
	desc(fx, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(fx, 0);
	wr32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(virtq_broken(q));
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS),
			 ALL_OK | VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd32(m, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(m->fb.irq_level, 1);
	/* No more notifications while it needs a reset. */
	wr32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(m->fb.notifies, 1);

	/* Reset clears everything but the generation. */
	wr32(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	wr32(m, VIRTIO_MMIO_QUEUE_SEL, 1);
	wr32(m, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(m->fb.resets, 1);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rd32(m, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(m->fb.irq_level, 0);
	assert_int_equal(m->dev.driver_features, 0);
	assert_int_equal(m->dev.device_features_sel, 0);
	assert_int_equal(m->dev.queue_sel, 0);
	assert_false(virtq_broken(q));
	assert_false(q->ready);
	assert_int_equal(q->desc_gpa, 0);
	assert_int_equal(q->avail_gpa, 0);
	assert_int_equal(q->used_gpa, 0);
	assert_int_equal(q->size, 64);
	assert_int_equal(rd32(m, VIRTIO_MMIO_QUEUE_READY), 0);

	/* And the device works again. */
	memset(fx->ram + AVAIL_GPA, 0, 0x2000);
	fx->avail_idx = 0;
	negotiate(m, F_V1);
	setup_queue0(m);
	wr32(m, VIRTIO_MMIO_STATUS, ALL_OK);
	desc(fx, DESC_GPA, 0, BUF_GPA, 8, 0, 0);
	offer(fx, 0);
	wr32(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(get16(fx, USED_GPA + 2), 1);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS), ALL_OK);
}

static void test_mmio_widths(void **state)
{
	struct mmio_fixture *m = *state;

	/* Registers: only aligned 32-bit accesses. */
	assert_int_equal(rd(m, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
	assert_int_equal(rd(m, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
	assert_int_equal(rd(m, VIRTIO_MMIO_MAGIC_VALUE, 8), 0);
	assert_int_equal(rd(m, VIRTIO_MMIO_MAGIC_VALUE + 1, 4), 0);
	wr(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	wr(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 2);
	wr(m, VIRTIO_MMIO_STATUS - 2, VIRTIO_STATUS_ACKNOWLEDGE << 16, 4);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS), 0);
	wr32(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(rd32(m, VIRTIO_MMIO_STATUS), 1);

	/* Config space: naturally aligned 1, 2, 4, 8 within its size. */
	memcpy(m->fb.config, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(rd(m, VIRTIO_MMIO_CONFIG + 3, 1), 4);
	assert_int_equal(rd(m, VIRTIO_MMIO_CONFIG + 2, 2), 0x0403);
	assert_int_equal(rd(m, VIRTIO_MMIO_CONFIG + 4, 4), 0x08070605);
	assert_int_equal(rd(m, VIRTIO_MMIO_CONFIG + 0, 8), 0x04030201);
	assert_int_equal(rd(m, VIRTIO_MMIO_CONFIG + 1, 2), 0);
	assert_int_equal(rd(m, VIRTIO_MMIO_CONFIG + 8, 1), 0);
	assert_int_equal(rd(m, VIRTIO_MMIO_CONFIG + 0xfc, 4), 0);
	wr(m, VIRTIO_MMIO_CONFIG + 1, 0xaa, 1);
	assert_int_equal(m->fb.config[1], 0xaa);
	wr(m, VIRTIO_MMIO_CONFIG + 6, 0xbbbbbbbb, 4); /* misaligned */
	wr(m, VIRTIO_MMIO_CONFIG + 8, 0xbbbbbbbb, 4); /* beyond */
	assert_memory_equal(m->fb.config, "\x01\xaa\x03\x04\x05\x06\x07\x08",
			    8);
}

#define VQ_TEST(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)
#define MMIO_TEST(f)                                                           \
	cmocka_unit_test_setup_teardown(f, mmio_setup, mmio_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		VQ_TEST(test_direct),
		VQ_TEST(test_chained),
		VQ_TEST(test_indirect),
		VQ_TEST(test_many_and_wrap),
		VQ_TEST(test_notify_suppression),
		VQ_TEST(test_bad_head),
		VQ_TEST(test_bad_next),
		VQ_TEST(test_loop),
		VQ_TEST(test_self_loop),
		VQ_TEST(test_indirect_loop),
		VQ_TEST(test_indirect_next_range),
		VQ_TEST(test_zero_len),
		VQ_TEST(test_out_of_ram),
		VQ_TEST(test_wrapping_addr),
		VQ_TEST(test_nested_indirect),
		VQ_TEST(test_indirect_len_odd),
		VQ_TEST(test_indirect_len_zero),
		VQ_TEST(test_indirect_too_long),
		VQ_TEST(test_indirect_out_of_ram),
		VQ_TEST(test_indirect_with_next),
		VQ_TEST(test_indirect_not_negotiated),
		VQ_TEST(test_chain_too_long),
		VQ_TEST(test_full_indirect_ok),
		VQ_TEST(test_read_after_write),
		VQ_TEST(test_avail_jump),
		VQ_TEST(test_avail_full_ok),
		VQ_TEST(test_head_busy),
		VQ_TEST(test_push_not_popped),
		VQ_TEST(test_setup_errors),
		MMIO_TEST(test_mmio_ids),
		MMIO_TEST(test_mmio_features),
		MMIO_TEST(test_mmio_status_order),
		MMIO_TEST(test_mmio_queue_setup),
		MMIO_TEST(test_mmio_notify_irq),
		MMIO_TEST(test_mmio_broken_and_reset),
		MMIO_TEST(test_mmio_widths),
	};

	lg_log_set_level(LG_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
