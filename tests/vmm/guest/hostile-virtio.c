/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile virtio driver against the block device: descriptors outside
 * RAM, a descriptor loop, a huge length, a next index out of range, an
 * avail index that jumps, a head out of range, an indirect descriptor
 * that was not negotiated, a zero-length buffer, rings outside RAM.
 * After each, the device must report DEVICE_NEEDS_RESET (and the VMM
 * keep running); a reset must bring it back, checked with a good read.
 */
#include "virtio.h"

#define VIRTIO_ID_BLOCK 2
#define T_IN 0u
#define SECTOR 512u

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct vdev dev;
static struct vq q;
static struct blk_hdr hdr;
static uint8_t data[SECTOR];
static uint8_t status;
static int failures;

static void say(const char *what, const char *result)
{
	uart_puts("hostile-virtio: ");
	uart_puts(what);
	uart_puts(": ");
	uart_puts(result);
	uart_putc('\n');
}

static int setup(void)
{
	if (vdev_begin(&dev, 0) < 0 || vq_setup(&dev, &q, 0) < 0)
		return -1;
	vdev_driver_ok(&dev);
	return 0;
}

/* A good one-sector read: the device works. */
static int good_read(void)
{
	struct vbuf b[3] = {
		{&hdr, sizeof(hdr), 0}, {data, SECTOR, 1}, {&status, 1, 1}};

	hdr.type = T_IN;
	hdr.sector = 0;
	status = 0xff;
	return vq_transfer(&q, b, 3) == SECTOR + 1 && status == 0;
}

/* Descriptor i, written by hand. */
static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	q.desc[i].addr = addr;
	q.desc[i].len = len;
	q.desc[i].flags = flags;
	q.desc[i].next = next;
}

/* Offers head (any value) with avail idx moved by `step`, and notifies. */
static void offer(uint16_t head, uint16_t step)
{
	q.avail.ring[q.avail_idx % q.size] = head;
	q.avail_idx = (uint16_t)(q.avail_idx + step);
	__atomic_store_n(&q.avail.idx, q.avail_idx, __ATOMIC_RELEASE);
	vq_kick(&q);
}

/* After an abuse: NEEDS_RESET expected, then reset, then a good read. */
static void check(const char *what)
{
	if (vdev_status(&dev) & VSTAT_NEEDS_RESET) {
		say(what, "needs reset");
	} else {
		say(what, "FAIL device did not flag it");
		failures++;
	}
	if (setup() == 0 && good_read()) {
		say(what, "recovered after reset");
	} else {
		say(what, "FAIL not recovered");
		failures++;
	}
}

#define F_NEXT VRING_DESC_F_NEXT
#define F_WRITE VRING_DESC_F_WRITE

int guest_main(void)
{
	uint64_t hdr_a = (uintptr_t)&hdr, st_a = (uintptr_t)&status;

	if (!vdev_find(VIRTIO_ID_BLOCK, 0, &dev)) {
		uart_puts("hostile-virtio: no block device\n");
		return 1;
	}
	if (setup() < 0 || !good_read()) {
		uart_puts("hostile-virtio: FAIL device does not work\n");
		return 2;
	}
	uart_puts("hostile-virtio: device works\n");

	/* Data buffer far outside guest RAM. */
	desc(0, hdr_a, sizeof(hdr), F_NEXT, 1);
	desc(1, 0x40000000ull, SECTOR, F_WRITE | F_NEXT, 2);
	desc(2, st_a, 1, F_WRITE, 0);
	offer(0, 1);
	check("buffer outside RAM");

	/* 0 -> 1 -> 0 -> ... */
	desc(0, hdr_a, sizeof(hdr), F_NEXT, 1);
	desc(1, hdr_a, sizeof(hdr), F_NEXT, 0);
	offer(0, 1);
	check("descriptor loop");

	/* 4 GiB - 1 bytes from inside RAM. */
	desc(0, hdr_a, sizeof(hdr), F_NEXT, 1);
	desc(1, (uintptr_t)data, 0xffffffffu, F_WRITE | F_NEXT, 2);
	desc(2, st_a, 1, F_WRITE, 0);
	offer(0, 1);
	check("huge length");

	desc(0, hdr_a, sizeof(hdr), F_NEXT, 200);
	offer(0, 1);
	check("next index out of range");

	desc(0, hdr_a, sizeof(hdr), F_NEXT, 1);
	desc(1, st_a, 1, F_WRITE, 0);
	offer(0, (uint16_t)(q.size + 5));
	check("avail index jump");

	offer(q.size + 3, 1);
	check("head out of range");

	desc(0, (uintptr_t)q.desc, 64, VRING_DESC_F_INDIRECT, 0);
	offer(0, 1);
	check("indirect not negotiated");

	desc(0, hdr_a, sizeof(hdr), F_NEXT, 1);
	desc(1, (uintptr_t)data, 0, F_WRITE | F_NEXT, 2);
	desc(2, st_a, 1, F_WRITE, 0);
	offer(0, 1);
	check("zero-length buffer");

	/* Rings outside RAM: refused when the queue is enabled. */
	vdev_begin(&dev, 0);
	vreg_write(&dev, VREG_QUEUE_SEL, 0);
	vreg_write(&dev, VREG_QUEUE_NUM, 16);
	vreg_write(&dev, VREG_QUEUE_DESC_LOW, 0x40000000u);
	vreg_write(&dev, VREG_QUEUE_DESC_HIGH, 0);
	vreg_write(&dev, VREG_QUEUE_DRIVER_LOW, (uint32_t)(uintptr_t)&q.avail);
	vreg_write(&dev, VREG_QUEUE_DRIVER_HIGH, 0);
	vreg_write(&dev, VREG_QUEUE_DEVICE_LOW, (uint32_t)(uintptr_t)&q.used);
	vreg_write(&dev, VREG_QUEUE_DEVICE_HIGH, 0);
	vreg_write(&dev, VREG_QUEUE_READY, 1);
	check("ring outside RAM");

	put_kv("hostile-virtio: ", "done failures ", (uint64_t)failures);
	return failures;
}
