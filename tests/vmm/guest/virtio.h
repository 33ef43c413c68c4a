/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal virtio 1.x MMIO driver for ring-3 test guests, written to the
 * spec (4.2 virtio over MMIO, 2.7 split virtqueues), plus text output.
 *
 * Devices are found by scanning for the magic, version 2 and a device
 * id, first the slots QEMU's microvm machine (and our test harness)
 * uses, 0xfeb00000 + n * 0x200, then those of the lgvmm executable
 * (src/vmm/machine-devices.c), 0xd0000000 + n * 0x1000, n < 8 in each:
 * the same guest runs under the harness, QEMU and lgvmm. Scan slot k is
 * microvm slot k for k < 8, lgvmm slot k - 8 after, so the guest meets
 * devices in that order. An empty slot reads all-ones (our VMM) or 0
 * (QEMU); under the harness the first lgvmm slot is its test device,
 * which never reads as the magic. Ring-3 guests
 * take no interrupts: the driver polls the used ring (with a TSC
 * timeout). Guest-virtual equals guest-physical (identity paging), so
 * buffer addresses are plain pointers. Register accesses are 32 bits
 * wide, config space too (QEMU's transport refuses 64-bit accesses).
 *
 * Header-only: each test guest is one C file.
 */
#ifndef LG_VMM_TEST_GUEST_VIRTIO_H
#define LG_VMM_TEST_GUEST_VIRTIO_H

#include "guest.h"

#include <stddef.h>
#include <stdint.h>

/* gcc may emit calls to these even in freestanding code. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);

void *memset(void *dst, int c, size_t n)
{
	uint8_t *d = dst;

	while (n--)
		*d++ = (uint8_t)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

/* ---- text output over the UART ---- */

static inline void put_dec(uint64_t v)
{
	char buf[24];
	int i = 0;

	do {
		buf[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		uart_putc(buf[--i]);
}

static inline void put_hex(uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char buf[16];
	int i = 0;

	uart_puts("0x");
	do {
		buf[i++] = digits[v & 15];
		v >>= 4;
	} while (v);
	while (i)
		uart_putc(buf[--i]);
}

/* One "prefix: text\n" style line from pieces. */
static inline void put_kv(const char *prefix, const char *key, uint64_t v)
{
	uart_puts(prefix);
	uart_puts(key);
	put_dec(v);
	uart_putc('\n');
}

static inline uint32_t crc32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t crc = 0xffffffffu;
	int k;

	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	return ~crc;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* About 2-8 s at common TSC rates: only a guard against a hang. */
#define VIRTIO_TIMEOUT_CYCLES (1ull << 33)

/* ---- virtio-mmio transport ---- */

#define VIRTIO_MMIO_BASE 0xfeb00000ul
#define VIRTIO_MMIO_STRIDE 0x200ul
#define VIRTIO_MMIO_LGVMM_BASE 0xd0000000ul
#define VIRTIO_MMIO_LGVMM_STRIDE 0x1000ul
#define VIRTIO_MMIO_LAYOUT_SLOTS 8
/* Scan slots: the microvm layout's, then lgvmm's. */
#define VIRTIO_MMIO_SLOTS (2 * VIRTIO_MMIO_LAYOUT_SLOTS)

#define VREG_MAGIC 0x000
#define VREG_VERSION 0x004
#define VREG_DEVICE_ID 0x008
#define VREG_DEVICE_FEATURES 0x010
#define VREG_DEVICE_FEATURES_SEL 0x014
#define VREG_DRIVER_FEATURES 0x020
#define VREG_DRIVER_FEATURES_SEL 0x024
#define VREG_QUEUE_SEL 0x030
#define VREG_QUEUE_NUM_MAX 0x034
#define VREG_QUEUE_NUM 0x038
#define VREG_QUEUE_READY 0x044
#define VREG_QUEUE_NOTIFY 0x050
#define VREG_INTERRUPT_STATUS 0x060
#define VREG_INTERRUPT_ACK 0x064
#define VREG_STATUS 0x070
#define VREG_QUEUE_DESC_LOW 0x080
#define VREG_QUEUE_DESC_HIGH 0x084
#define VREG_QUEUE_DRIVER_LOW 0x090
#define VREG_QUEUE_DRIVER_HIGH 0x094
#define VREG_QUEUE_DEVICE_LOW 0x0a0
#define VREG_QUEUE_DEVICE_HIGH 0x0a4
#define VREG_CONFIG_GENERATION 0x0fc
#define VREG_CONFIG 0x100

#define VIRTIO_MAGIC 0x74726976u
#define VSTAT_ACKNOWLEDGE 1u
#define VSTAT_DRIVER 2u
#define VSTAT_DRIVER_OK 4u
#define VSTAT_FEATURES_OK 8u
#define VSTAT_NEEDS_RESET 64u
#define VSTAT_FAILED 128u

#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VRING_DESC_F_NEXT 1u
#define VRING_DESC_F_WRITE 2u
#define VRING_DESC_F_INDIRECT 4u

struct vdev {
	uint64_t base;
	uint32_t device_id;
	unsigned int slot;
	uint64_t features; /* negotiated */
};

static inline uint32_t vreg_read(const struct vdev *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static inline void vreg_write(const struct vdev *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

/* Where scan slot `slot` (< VIRTIO_MMIO_SLOTS) is. */
static inline uint64_t vdev_slot_base(unsigned int slot)
{
	if (slot < VIRTIO_MMIO_LAYOUT_SLOTS)
		return VIRTIO_MMIO_BASE + slot * VIRTIO_MMIO_STRIDE;
	return VIRTIO_MMIO_LGVMM_BASE +
	       (slot - VIRTIO_MMIO_LAYOUT_SLOTS) * VIRTIO_MMIO_LGVMM_STRIDE;
}

/*
 * The nth device (0-based) with this id, scanning the slots in order:
 * 1 with *d filled, 0 if there is none.
 */
static inline int vdev_find(uint32_t device_id, unsigned int nth,
			    struct vdev *d)
{
	unsigned int slot;

	for (slot = 0; slot < VIRTIO_MMIO_SLOTS; slot++) {
		uint64_t base = vdev_slot_base(slot);

		if (mmio_read32(base + VREG_MAGIC) != VIRTIO_MAGIC ||
		    mmio_read32(base + VREG_VERSION) != 2 ||
		    mmio_read32(base + VREG_DEVICE_ID) != device_id)
			continue;
		if (nth--)
			continue;
		d->base = base;
		d->device_id = device_id;
		d->slot = slot;
		d->features = 0;
		return 1;
	}
	return 0;
}

static inline uint32_t vdev_status(const struct vdev *d)
{
	return vreg_read(d, VREG_STATUS);
}

static inline void vdev_reset(const struct vdev *d)
{
	uint64_t t0 = rdtsc();

	vreg_write(d, VREG_STATUS, 0);
	/* 4.2.3.1: wait until the reset is complete (status reads 0). */
	while (vreg_read(d, VREG_STATUS) != 0 &&
	       rdtsc() - t0 < VIRTIO_TIMEOUT_CYCLES)
		cpu_relax();
}

static inline uint64_t vdev_device_features(const struct vdev *d)
{
	uint64_t f;

	vreg_write(d, VREG_DEVICE_FEATURES_SEL, 1);
	f = (uint64_t)vreg_read(d, VREG_DEVICE_FEATURES) << 32;
	vreg_write(d, VREG_DEVICE_FEATURES_SEL, 0);
	return f | vreg_read(d, VREG_DEVICE_FEATURES);
}

/*
 * 3.1.1 up to FEATURES_OK: reset, ACKNOWLEDGE, DRIVER, accept
 * `wanted` & offered (VERSION_1 is required). 0, or -1 if the device
 * lacks VERSION_1 or refused the features.
 */
static inline int vdev_begin(struct vdev *d, uint64_t wanted)
{
	uint64_t offered;

	vdev_reset(d);
	vreg_write(d, VREG_STATUS, VSTAT_ACKNOWLEDGE);
	vreg_write(d, VREG_STATUS, VSTAT_ACKNOWLEDGE | VSTAT_DRIVER);
	offered = vdev_device_features(d);
	if (!(offered & VIRTIO_F_VERSION_1))
		return -1;
	d->features = offered & (wanted | VIRTIO_F_VERSION_1);
	vreg_write(d, VREG_DRIVER_FEATURES_SEL, 0);
	vreg_write(d, VREG_DRIVER_FEATURES, (uint32_t)d->features);
	vreg_write(d, VREG_DRIVER_FEATURES_SEL, 1);
	vreg_write(d, VREG_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	vreg_write(d, VREG_STATUS,
		   VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK);
	if (!(vdev_status(d) & VSTAT_FEATURES_OK)) {
		vreg_write(d, VREG_STATUS,
			   VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FAILED);
		return -1;
	}
	return 0;
}

static inline void vdev_driver_ok(const struct vdev *d)
{
	vreg_write(d, VREG_STATUS,
		   VSTAT_ACKNOWLEDGE | VSTAT_DRIVER | VSTAT_FEATURES_OK |
			   VSTAT_DRIVER_OK);
}

/* Config space, 32 bits at a time, re-read until the generation holds. */
static inline uint32_t vdev_config32(const struct vdev *d, uint32_t off)
{
	return vreg_read(d, VREG_CONFIG + off);
}

static inline uint64_t vdev_config64(const struct vdev *d, uint32_t off)
{
	uint32_t gen, lo, hi;

	do {
		gen = vreg_read(d, VREG_CONFIG_GENERATION);
		lo = vdev_config32(d, off);
		hi = vdev_config32(d, off + 4);
	} while (gen != vreg_read(d, VREG_CONFIG_GENERATION));
	return (uint64_t)hi << 32 | lo;
}

static inline uint8_t vdev_config8(const struct vdev *d, uint32_t off)
{
	return mmio_read8(d->base + VREG_CONFIG + off);
}

/* Reads and acknowledges InterruptStatus; returns what was pending. */
static inline uint32_t vdev_ack_interrupts(const struct vdev *d)
{
	uint32_t isr = vreg_read(d, VREG_INTERRUPT_STATUS);

	if (isr)
		vreg_write(d, VREG_INTERRUPT_ACK, isr);
	return isr;
}

/* ---- split virtqueue (2.7) ---- */

#define VQ_MAX 16u

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vq {
	struct vring_desc desc[VQ_MAX] __attribute__((aligned(16)));
	struct {
		uint16_t flags;
		uint16_t idx;
		uint16_t ring[VQ_MAX];
		uint16_t used_event;
	} avail __attribute__((aligned(2)));
	struct {
		uint16_t flags;
		uint16_t idx;
		struct vring_used_elem ring[VQ_MAX];
		uint16_t avail_event;
	} used __attribute__((aligned(4)));
	const struct vdev *dev;
	uint32_t index;
	uint16_t size;
	uint16_t free_head;
	uint16_t nr_free;
	uint16_t avail_idx;
	uint16_t last_used;
	uint16_t chain_len[VQ_MAX];
};

/* One buffer of a chain. */
struct vbuf {
	const void *addr;
	uint32_t len;
	int writable;
};

/*
 * Sets up queue `index` (4.2.3.2) between FEATURES_OK and DRIVER_OK with
 * min(VQ_MAX, QueueNumMax) entries. 0, or -1 if the queue is absent or
 * already live.
 */
static inline int vq_setup(const struct vdev *d, struct vq *q, uint32_t index)
{
	uint32_t max;
	uint16_t i;

	memset(q, 0, sizeof(*q));
	vreg_write(d, VREG_QUEUE_SEL, index);
	if (vreg_read(d, VREG_QUEUE_READY))
		return -1;
	max = vreg_read(d, VREG_QUEUE_NUM_MAX);
	if (max == 0)
		return -1;
	q->dev = d;
	q->index = index;
	q->size = (uint16_t)(max < VQ_MAX ? max : VQ_MAX);
	for (i = 0; i < q->size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	q->nr_free = q->size;
	vreg_write(d, VREG_QUEUE_NUM, q->size);
	vreg_write(d, VREG_QUEUE_DESC_LOW, (uint32_t)(uintptr_t)q->desc);
	vreg_write(d, VREG_QUEUE_DESC_HIGH,
		   (uint32_t)((uintptr_t)q->desc >> 32));
	vreg_write(d, VREG_QUEUE_DRIVER_LOW, (uint32_t)(uintptr_t)&q->avail);
	vreg_write(d, VREG_QUEUE_DRIVER_HIGH,
		   (uint32_t)((uintptr_t)&q->avail >> 32));
	vreg_write(d, VREG_QUEUE_DEVICE_LOW, (uint32_t)(uintptr_t)&q->used);
	vreg_write(d, VREG_QUEUE_DEVICE_HIGH,
		   (uint32_t)((uintptr_t)&q->used >> 32));
	vreg_write(d, VREG_QUEUE_READY, 1);
	return vreg_read(d, VREG_QUEUE_READY) == 1 ? 0 : -1;
}

/*
 * Offers a chain of n buffers (readable ones first) without notifying.
 * Returns the head index, or -1 if the ring has too few free entries.
 */
static inline int vq_add(struct vq *q, const struct vbuf *bufs, unsigned int n)
{
	uint16_t head, idx, last = 0;
	unsigned int i;

	if (n == 0 || n > q->nr_free)
		return -1;
	head = idx = q->free_head;
	for (i = 0; i < n; i++) {
		struct vring_desc *dsc = &q->desc[idx];

		dsc->addr = (uint64_t)(uintptr_t)bufs[i].addr;
		dsc->len = bufs[i].len;
		dsc->flags =
			(uint16_t)((bufs[i].writable ? VRING_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VRING_DESC_F_NEXT : 0));
		last = idx;
		idx = dsc->next;
	}
	q->free_head = q->desc[last].next;
	q->nr_free = (uint16_t)(q->nr_free - n);
	q->chain_len[head] = (uint16_t)n;
	q->avail.ring[q->avail_idx % q->size] = head;
	/* The ring entry before the index that publishes it. */
	__atomic_store_n(&q->avail.idx, ++q->avail_idx, __ATOMIC_RELEASE);
	return head;
}

static inline void vq_kick(struct vq *q)
{
	/* Index store visible before the device looks (4.2.3.3). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	vreg_write(q->dev, VREG_QUEUE_NOTIFY, q->index);
}

/* Returns a used chain's descriptors to the free list. */
static inline void vq_free_chain(struct vq *q, uint16_t head)
{
	uint16_t idx = head, n = q->chain_len[head], i;

	for (i = 1; i < n; i++)
		idx = q->desc[idx].next;
	q->desc[idx].next = q->free_head;
	q->free_head = head;
	q->nr_free = (uint16_t)(q->nr_free + n);
	q->chain_len[head] = 0;
}

/* 1 with the next used element taken (and its chain freed), else 0. */
static inline int vq_get_used(struct vq *q, uint32_t *id, uint32_t *len)
{
	struct vring_used_elem e;

	if (__atomic_load_n(&q->used.idx, __ATOMIC_ACQUIRE) == q->last_used)
		return 0;
	e = q->used.ring[q->last_used % q->size];
	q->last_used++;
	if (e.id >= q->size || q->chain_len[e.id] == 0)
		return 0; /* the device returned a head we never offered */
	vq_free_chain(q, (uint16_t)e.id);
	if (id)
		*id = e.id;
	if (len)
		*len = e.len;
	return 1;
}

/* Waits for the next used element: 1, or 0 after `cycles` TSC cycles. */
static inline int vq_wait_used(struct vq *q, uint32_t *id, uint32_t *len,
			       uint64_t cycles)
{
	uint64_t t0 = rdtsc();

	do {
		if (vq_get_used(q, id, len))
			return 1;
		cpu_relax();
	} while (rdtsc() - t0 < cycles);
	return 0;
}

/* Adds a chain, notifies and waits for it: used length, or -1. */
static inline int64_t vq_transfer(struct vq *q, const struct vbuf *bufs,
				  unsigned int n)
{
	uint32_t id, len;
	int head = vq_add(q, bufs, n);

	if (head < 0)
		return -1;
	vq_kick(q);
	if (!vq_wait_used(q, &id, &len, VIRTIO_TIMEOUT_CYCLES) ||
	    id != (uint32_t)head)
		return -1;
	return len;
}

#endif
