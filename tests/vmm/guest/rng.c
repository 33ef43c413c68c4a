/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-rng through its real interface: two draws of 64 bytes, each
 * must be filled completely, not be all one value, and differ from the
 * other. Split across two descriptors in the second draw.
 */
#include "virtio.h"

#define VIRTIO_ID_RNG 4
#define DRAW 64

static struct vdev dev;
static struct vq q;
static uint8_t a[DRAW], b[DRAW];

static int all_equal(const uint8_t *p, unsigned int n)
{
	unsigned int i;

	for (i = 1; i < n; i++)
		if (p[i] != p[0])
			return 0;
	return 1;
}

int guest_main(void)
{
	struct vbuf one = {a, DRAW, 1};
	struct vbuf two[2] = {{b, DRAW / 2, 1}, {b + DRAW / 2, DRAW / 2, 1}};
	int64_t n1, n2;
	int failures = 0;

	if (!vdev_find(VIRTIO_ID_RNG, 0, &dev)) {
		uart_puts("rng: no device\n");
		return 1;
	}
	if (vdev_begin(&dev, 0) < 0 || vq_setup(&dev, &q, 0) < 0) {
		uart_puts("rng: setup failed\n");
		return 2;
	}
	vdev_driver_ok(&dev);
	uart_puts("rng: ready\n");

	n1 = vq_transfer(&q, &one, 1);
	n2 = vq_transfer(&q, two, 2);
	report((uint32_t)n1);
	report((uint32_t)n2);
	put_kv("rng: ", "draw 1 bytes ", n1 < 0 ? 0 : (uint64_t)n1);
	put_kv("rng: ", "draw 2 bytes ", n2 < 0 ? 0 : (uint64_t)n2);
	if (n1 != DRAW || n2 != DRAW)
		failures++;
	if (all_equal(a, DRAW) || all_equal(b, DRAW)) {
		uart_puts("rng: a draw is constant\n");
		failures++;
	}
	if (crc32(a, DRAW) == crc32(b, DRAW)) {
		uart_puts("rng: draws are equal\n");
		failures++;
	} else {
		uart_puts("rng: draws differ\n");
	}
	put_kv("rng: ", "done failures ", (uint64_t)failures);
	return failures;
}
