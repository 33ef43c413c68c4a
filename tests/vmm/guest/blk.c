/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk through its real interface, for every block device found:
 * capacity, reads of known sectors of the prepared image (byte j of
 * sector s is s ^ (13 * j), see blk_pattern), a write read back, flush,
 * GET_ID, out-of-range and misaligned requests (IOERR), an unknown
 * request type (UNSUPP), and on a read-only disk a refused write. Only
 * well-formed requests: malformed chains are hostile-virtio's.
 *
 * Each line starts "blkN: " (N = the device's order in the scan); the
 * text is what a run under another VMM is compared with.
 */
#include "virtio.h"

#define VIRTIO_ID_BLOCK 2
#define BLK_F_RO (1ull << 5)
#define BLK_F_FLUSH (1ull << 9)
#define T_IN 0u
#define T_OUT 1u
#define T_FLUSH 4u
#define T_GET_ID 8u
#define T_BOGUS 0x77u
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2
#define SECTOR 512u
#define WRITE_SECTOR 5u
#define STATUS_NONE 0xff

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct vdev dev;
static struct vq q;
static struct blk_hdr hdr;
static uint8_t data[4 * SECTOR];
static uint8_t status;
static char prefix[8] = "blk0: ";
static int failures;

static uint8_t blk_pattern(uint64_t sector, uint32_t j)
{
	return (uint8_t)(sector ^ (13u * j));
}

static void say(const char *text)
{
	uart_puts(prefix);
	uart_puts(text);
}

static void fail(const char *what)
{
	say("FAIL ");
	uart_puts(what);
	uart_putc('\n');
	failures++;
}

/*
 * One request: header, then `len` bytes of data at `buf` (split into
 * `split` descriptors), then the status byte. Returns the status, or
 * -1 if the device did not complete it.
 */
static int request(uint32_t type, uint64_t sector, void *buf, uint32_t len,
		   int split, int writable)
{
	struct vbuf b[4];
	unsigned int n = 0;
	int64_t used;

	hdr.type = type;
	hdr.reserved = 0;
	hdr.sector = sector;
	status = STATUS_NONE;
	b[n++] = (struct vbuf){&hdr, sizeof(hdr), 0};
	if (len && split == 2) {
		b[n++] = (struct vbuf){buf, len / 2, writable};
		b[n++] = (struct vbuf){(uint8_t *)buf + len / 2, len - len / 2,
				       writable};
	} else if (len) {
		b[n++] = (struct vbuf){buf, len, writable};
	}
	b[n++] = (struct vbuf){&status, 1, 1};
	used = vq_transfer(&q, b, n);
	if (used < 0)
		return -1;
	return status;
}

static void expect_status(const char *what, int got, int want)
{
	say(what);
	uart_puts(" status ");
	if (got < 0)
		uart_puts("none");
	else
		put_dec((uint64_t)got);
	uart_putc('\n');
	if (got != want)
		fail(what);
}

static int check_pattern(uint64_t first, unsigned int sectors)
{
	unsigned int s, j;

	for (s = 0; s < sectors; s++)
		for (j = 0; j < SECTOR; j++)
			if (data[s * SECTOR + j] != blk_pattern(first + s, j))
				return 0;
	return 1;
}

static void test_reads(uint64_t capacity)
{
	int st;

	st = request(T_IN, 0, data, 4 * SECTOR, 2, 1);
	if (st == S_OK && check_pattern(0, 4)) {
		say("read sectors 0-3 ok crc ");
		put_hex(crc32(data, 4 * SECTOR));
		uart_putc('\n');
	} else {
		fail("read sectors 0-3");
	}
	st = request(T_IN, capacity - 1, data, SECTOR, 1, 1);
	if (st == S_OK && check_pattern(capacity - 1, 1))
		say("read last sector ok\n");
	else
		fail("read last sector");
	expect_status("read at capacity",
		      request(T_IN, capacity, data, SECTOR, 1, 1), S_IOERR);
	expect_status("read across the end",
		      request(T_IN, capacity - 1, data, 2 * SECTOR, 1, 1),
		      S_IOERR);
	expect_status("read at sector 2^63",
		      request(T_IN, 1ull << 63, data, SECTOR, 1, 1), S_IOERR);
	expect_status("read of 100 bytes", request(T_IN, 0, data, 100, 1, 1),
		      S_IOERR);
	expect_status("unknown request type",
		      request(T_BOGUS, 0, data, SECTOR, 1, 1), S_UNSUPP);
}

static void test_get_id(void)
{
	char id[21];
	int st;

	memset(id, 0, sizeof(id));
	st = request(T_GET_ID, 0, id, 20, 1, 1);
	if (st != S_OK) {
		expect_status("get id", st, S_OK);
		return;
	}
	say("id \"");
	uart_puts(id);
	uart_puts("\"\n");
}

static void test_write(int read_only, uint64_t capacity)
{
	unsigned int j;
	int st;

	for (j = 0; j < SECTOR; j++)
		data[j] = (uint8_t)(0xa5 ^ j);
	st = request(T_OUT, WRITE_SECTOR, data, SECTOR, 1, 0);
	if (read_only) {
		expect_status("write to read-only disk", st, S_IOERR);
	} else {
		expect_status("write sector 5", st, S_OK);
		memset(data, 0, SECTOR);
		st = request(T_IN, WRITE_SECTOR, data, SECTOR, 1, 1);
		for (j = 0; j < SECTOR && st == S_OK; j++)
			if (data[j] != (uint8_t)(0xa5 ^ j))
				st = -2;
		if (st == S_OK)
			say("read back sector 5 ok\n");
		else
			fail("read back sector 5");
	}
	expect_status("write at capacity",
		      request(T_OUT, capacity, data, SECTOR, 1, 0), S_IOERR);
}

static void test_disk(unsigned int n)
{
	uint64_t capacity;
	int read_only, flush;

	prefix[3] = (char)('0' + n);
	if (vdev_begin(&dev, BLK_F_RO | BLK_F_FLUSH) < 0 ||
	    vq_setup(&dev, &q, 0) < 0) {
		fail("setup");
		return;
	}
	vdev_driver_ok(&dev);
	read_only = !!(dev.features & BLK_F_RO);
	flush = !!(dev.features & BLK_F_FLUSH);
	capacity = vdev_config64(&dev, 0);
	say("read-only ");
	put_dec((uint64_t)read_only);
	uart_puts(" flush ");
	put_dec((uint64_t)flush);
	uart_putc('\n');
	put_kv(prefix, "capacity sectors ", capacity);
	report((uint32_t)capacity);
	if (capacity < 8) {
		fail("capacity below 8 sectors");
		return;
	}
	test_reads(capacity);
	test_get_id();
	test_write(read_only, capacity);
	if (flush)
		expect_status("flush", request(T_FLUSH, 0, 0, 0, 1, 0), S_OK);
	if (vdev_status(&dev) & (VSTAT_NEEDS_RESET | VSTAT_FAILED))
		fail("device needs reset");
	vdev_reset(&dev);
}

int guest_main(void)
{
	unsigned int n;

	for (n = 0;
	     n < VIRTIO_MMIO_SLOTS && vdev_find(VIRTIO_ID_BLOCK, n, &dev); n++)
		test_disk(n);
	put_kv("blk: ", "disks ", n);
	put_kv("blk: ", "done failures ", (uint64_t)failures);
	return n ? failures : 0x100;
}
