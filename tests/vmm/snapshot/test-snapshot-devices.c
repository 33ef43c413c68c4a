/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot state of what needs no KVM: the UART registers, the
 * virtio-mmio transport with its queues (over guest RAM in host memory),
 * and the memory file (sparse save, private mapping).
 */
#include "vmm/memory.h"
#include "vmm/serial-state.h"
#include "vmm/virtio/mmio-state.h"

#include "common/log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- serial ---- */

static void serial_out(struct serial *s, uint64_t reg, uint8_t v)
{
	assert_int_equal(serial_ops.write(s, reg, &v, 1), 0);
}

static uint8_t serial_in(struct serial *s, uint64_t reg)
{
	uint8_t v;

	assert_int_equal(serial_ops.read(s, reg, &v, 1), 0);
	return v;
}

struct irq_log {
	unsigned int raised;
	bool level;
};

static void serial_irq(void *opaque, bool level)
{
	struct irq_log *l = opaque;

	l->raised += level;
	l->level = level;
}

static void test_serial(void **state)
{
	uint8_t buf[SERIAL_STATE_SIZE], bad[SERIAL_STATE_SIZE];
	struct irq_log irq = {0};
	struct serial a, b;
	size_t len, n;

	(void)state;
	assert_int_equal(serial_init(&a, -1), 0);
	serial_out(&a, 3, 0x80); /* DLAB */
	serial_out(&a, 0, 0x0c);
	serial_out(&a, 1, 0x00);
	serial_out(&a, 3, 0x1b); /* 8 bits, even parity */
	serial_out(&a, 1, 0x01); /* received-data interrupt */
	serial_out(&a, 2, 0x01); /* FIFO on */
	serial_out(&a, 4, 0x0b); /* OUT2: interrupts reach the PIC */
	serial_out(&a, 7, 0x5c);
	/* Input the guest has partly read: the FIFO wraps. */
	assert_int_equal(serial_receive(&a, (const uint8_t *)"xyz", 3), 3);
	assert_int_equal(serial_in(&a, 0), 'x');
	assert_int_equal(serial_save(&a, buf, sizeof(buf), &len), 0);
	assert_int_equal(serial_save(&a, buf, 4, &n), -ENOSPC);

	assert_int_equal(serial_init(&b, -1), 0);
	serial_set_irq(&b, serial_irq, &irq);
	assert_int_equal(serial_restore(&b, buf, len), 0);
	/* The pending received-data interrupt is raised again. */
	assert_int_equal(irq.raised, 1);
	assert_true(irq.level);
	assert_int_equal(serial_in(&b, 3), 0x1b);
	assert_int_equal(serial_in(&b, 1), 0x01);
	assert_int_equal(serial_in(&b, 2), 0xc4); /* FIFO, data pending */
	assert_int_equal(serial_in(&b, 4), 0x0b);
	assert_int_equal(serial_in(&b, 7), 0x5c);
	assert_int_equal(serial_in(&b, 5) & 1, 1); /* data ready */
	assert_int_equal(serial_in(&b, 0), 'y');
	assert_int_equal(serial_in(&b, 0), 'z');
	assert_int_equal(serial_in(&b, 5) & 1, 0);
	assert_false(irq.level); /* FIFO empty: line down */
	serial_out(&b, 3, 0x9b);
	assert_int_equal(serial_in(&b, 0), 0x0c);
	assert_int_equal(serial_in(&b, 1), 0x00);

	/* Every shorter or longer blob, another version, bad values. */
	for (n = 0; n < len; n++)
		assert_int_equal(serial_restore(&b, buf, n), -EINVAL);
	memcpy(bad, buf, len);
	bad[len] = 0;
	assert_int_equal(serial_restore(&b, bad, len + 1), -EINVAL);
	bad[0] = 2;
	assert_int_equal(serial_restore(&b, bad, len), -EINVAL);
	memcpy(bad, buf, len);
	bad[4] = 0xf0; /* IER bits the UART does not have */
	assert_int_equal(serial_restore(&b, bad, len), -EINVAL);
	memcpy(bad, buf, len);
	bad[12] = SERIAL_RX_FIFO + 1; /* more bytes than the FIFO holds */
	assert_int_equal(serial_restore(&b, bad, len), -EINVAL);
	/* A refused blob changed nothing. */
	assert_int_equal(serial_in(&b, 7), 0x5c);
	serial_destroy(&a);
	serial_destroy(&b);
}

/* ---- virtio-mmio ---- */

#define RAM_SIZE (1u << 20)
#define DESC_GPA 0x1000u
#define AVAIL_GPA 0x2000u
#define USED_GPA 0x3000u
#define BUF_GPA 0x10000u
#define QSIZE 16u

struct backend {
	unsigned int activated;
	unsigned int popped, held;
	bool hold; /* keep popped chains in flight */
	unsigned int irq_raised;
};

static struct virtq_chain chain;

static int be_activate(void *opaque, struct virtio_mmio *dev, uint64_t f)
{
	struct backend *be = opaque;

	(void)dev;
	(void)f;
	be->activated++;
	return 0;
}

static void be_notify(void *opaque, struct virtio_mmio *dev, unsigned int q)
{
	struct backend *be = opaque;
	struct virtq *vq = virtio_mmio_queue(dev, q);

	while (virtq_pop(vq, &chain) == 1) {
		be->popped++;
		if (be->hold) {
			be->held++;
			continue;
		}
		assert_int_equal(virtq_push(vq, chain.head, 1), 0);
		virtio_mmio_notify_used(dev, q);
	}
}

static void be_irq(void *opaque, bool level)
{
	struct backend *be = opaque;

	if (level)
		be->irq_raised++;
}

static const struct virtio_backend_ops be_ops = {
	.name = "test",
	.device_id = 4,
	.features = 1ull << VIRTIO_F_INDIRECT_DESC,
	.activate = be_activate,
	.queue_notify = be_notify,
};

static const struct virtio_backend_ops other_ops = {
	.name = "other",
	.device_id = 2,
	.features = 1ull << VIRTIO_F_INDIRECT_DESC,
};

static void reg_write(struct virtio_mmio *dev, uint64_t off, uint32_t v)
{
	uint8_t d[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			(uint8_t)(v >> 24)};

	assert_int_equal(virtio_mmio_bus_ops.write(dev, off, d, 4), 0);
}

static uint32_t reg_read(struct virtio_mmio *dev, uint64_t off)
{
	uint8_t d[4];

	assert_int_equal(virtio_mmio_bus_ops.read(dev, off, d, 4), 0);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

static void driver_setup(struct virtio_mmio *dev)
{
	reg_write(dev, VIRTIO_MMIO_STATUS,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	reg_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(dev, VIRTIO_MMIO_DRIVER_FEATURES,
		  1u << VIRTIO_F_INDIRECT_DESC);
	reg_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	reg_write(dev, VIRTIO_MMIO_STATUS,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK);
	reg_write(dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	reg_write(dev, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	reg_write(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC_GPA);
	reg_write(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, AVAIL_GPA);
	reg_write(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, USED_GPA);
	reg_write(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	reg_write(dev, VIRTIO_MMIO_STATUS,
		  VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	reg_write(dev, VIRTIO_MMIO_QUEUE_SEL, 1); /* a selector to keep */
}

/* The driver offers `n` one-buffer chains and notifies queue 0. */
static void driver_offer(struct virtio_mmio *dev, uint8_t *ram,
			 uint16_t *avail_idx, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint16_t head = *avail_idx % QSIZE;
		uint8_t *d = ram + DESC_GPA + 16u * head;
		uint64_t addr = BUF_GPA + 64u * head;
		uint32_t len = 64;
		uint16_t flags = 2; /* device-writable */

		memcpy(d, &addr, 8);
		memcpy(d + 8, &len, 4);
		memcpy(d + 12, &flags, 2);
		memset(d + 14, 0, 2);
		memcpy(ram + AVAIL_GPA + 4 + 2u * (*avail_idx % QSIZE), &head,
		       2);
		(*avail_idx)++;
	}
	memcpy(ram + AVAIL_GPA + 2, avail_idx, 2);
	reg_write(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static uint16_t used_idx(const uint8_t *ram)
{
	uint16_t v;

	memcpy(&v, ram + USED_GPA + 2, 2);
	return v;
}

static void test_virtio_mmio(void **state)
{
	uint8_t buf[VIRTIO_MMIO_STATE_SIZE], bad[VIRTIO_MMIO_STATE_SIZE];
	struct backend be_a = {0}, be_b = {0};
	struct virtio_mmio a, b, c;
	struct vm_mem mem;
	uint16_t avail_idx = 0;
	uint8_t *ram;
	size_t len, n;
	struct virtq *q;

	(void)state;
	vm_mem_init(&mem);
	assert_int_equal(vm_mem_add(&mem, 0, RAM_SIZE), 0);
	ram = vm_mem_ptr(&mem, 0, RAM_SIZE);
	assert_int_equal(virtio_mmio_init(&a, &mem, &be_ops, &be_a, 2, 64,
					  be_irq, &be_a),
			 0);
	driver_setup(&a);
	assert_int_equal(be_a.activated, 1);
	driver_offer(&a, ram, &avail_idx, 3); /* used */
	be_a.hold = true;
	driver_offer(&a, ram, &avail_idx, 2); /* left in flight */
	assert_int_equal(used_idx(ram), 3);
	assert_int_equal(reg_read(&a, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_VRING);
	assert_int_equal(virtio_mmio_save(&a, buf, sizeof(buf), &len), 0);
	assert_int_equal(virtio_mmio_save(&a, buf, 16, &n), -ENOSPC);

	/* A fresh device, as a new process creates it, takes the state. */
	assert_int_equal(virtio_mmio_init(&b, &mem, &be_ops, &be_b, 2, 64,
					  be_irq, &be_b),
			 0);
	assert_int_equal(virtio_mmio_restore(&b, buf, len), 0);
	assert_int_equal(be_b.activated, 1);
	assert_int_equal(be_b.irq_raised, 1); /* the pending one, again */
	assert_int_equal(reg_read(&b, VIRTIO_MMIO_STATUS),
			 reg_read(&a, VIRTIO_MMIO_STATUS));
	assert_int_equal(reg_read(&b, VIRTIO_MMIO_INTERRUPT_STATUS),
			 VIRTIO_MMIO_INT_VRING);
	assert_int_equal(b.driver_features, a.driver_features);
	assert_int_equal(b.queue_sel, 1);
	q = virtio_mmio_queue(&b, 0);
	assert_true(q->ready);
	assert_int_equal(q->size, QSIZE);
	assert_int_equal(q->desc_gpa, DESC_GPA);
	assert_int_equal(q->avail_gpa, AVAIL_GPA);
	assert_int_equal(q->used_gpa, USED_GPA);
	assert_true(q->indirect);
	assert_int_equal(q->last_avail, 5);
	assert_int_equal(q->used_idx, 3);
	assert_int_equal(q->in_flight, 2);
	assert_false(virtio_mmio_queue(&b, 1)->ready);
	/* The restored device completes what was in flight... */
	assert_int_equal(virtq_push(q, 3, 1), 0);
	assert_int_equal(virtq_push(q, 4, 1), 0);
	assert_int_equal(used_idx(ram), 5);
	assert_int_equal(virtq_push(q, 4, 1), -EIO); /* not twice */
	virtq_reset(q);
	virtio_mmio_destroy(&b);

	/* ... and goes on from the same ring positions. */
	assert_int_equal(virtio_mmio_init(&b, &mem, &be_ops, &be_b, 2, 64,
					  be_irq, &be_b),
			 0);
	assert_int_equal(virtio_mmio_restore(&b, buf, len), 0);
	driver_offer(&b, ram, &avail_idx, 1);
	assert_int_equal(be_b.popped, 1);
	assert_int_equal(used_idx(ram), 4); /* chains 3, 4 still held */

	/* Refused: every other length, another version, another device. */
	assert_int_equal(
		virtio_mmio_init(&c, &mem, &be_ops, &be_b, 2, 64, NULL, NULL),
		0);
	for (n = 0; n < len; n++)
		assert_int_equal(virtio_mmio_restore(&c, buf, n), -EINVAL);
	memcpy(bad, buf, len);
	bad[len] = 0;
	assert_int_equal(virtio_mmio_restore(&c, bad, len + 1), -EINVAL);
	bad[0] = 9;
	assert_int_equal(virtio_mmio_restore(&c, bad, len), -EINVAL);
	assert_int_equal(c.status, 0); /* unchanged */
	virtio_mmio_destroy(&c);
	assert_int_equal(
		virtio_mmio_init(&c, &mem, &other_ops, NULL, 2, 64, NULL, NULL),
		0);
	assert_int_equal(virtio_mmio_restore(&c, buf, len), -EINVAL);
	virtio_mmio_destroy(&c);
	assert_int_equal(
		virtio_mmio_init(&c, &mem, &be_ops, NULL, 2, 32, NULL, NULL),
		0);
	assert_int_equal(virtio_mmio_restore(&c, buf, len), -EINVAL);
	virtio_mmio_destroy(&c);
	assert_int_equal(
		virtio_mmio_init(&c, &mem, &be_ops, NULL, 1, 64, NULL, NULL),
		0);
	assert_int_equal(virtio_mmio_restore(&c, buf, len), -EINVAL);
	virtio_mmio_destroy(&c);

	virtio_mmio_destroy(&a);
	virtio_mmio_destroy(&b);
	vm_mem_free(&mem);
}

/* Rings that are no longer in RAM: the device asks for a reset. */
static void test_virtio_mmio_broken(void **state)
{
	uint8_t buf[VIRTIO_MMIO_STATE_SIZE];
	struct backend be_a = {0}, be_b = {0};
	struct virtio_mmio a, b;
	struct vm_mem mem, small;
	uint16_t avail_idx = 0;
	size_t len;

	(void)state;
	vm_mem_init(&mem);
	assert_int_equal(vm_mem_add(&mem, 0, RAM_SIZE), 0);
	assert_int_equal(virtio_mmio_init(&a, &mem, &be_ops, &be_a, 1, 64,
					  be_irq, &be_a),
			 0);
	driver_setup(&a);
	driver_offer(&a, vm_mem_ptr(&mem, 0, RAM_SIZE), &avail_idx, 1);
	assert_int_equal(virtio_mmio_save(&a, buf, sizeof(buf), &len), 0);

	vm_mem_init(&small);
	assert_int_equal(vm_mem_add(&small, 0, 0x2000), 0); /* no used ring */
	assert_int_equal(virtio_mmio_init(&b, &small, &be_ops, &be_b, 1, 64,
					  be_irq, &be_b),
			 0);
	assert_int_equal(virtio_mmio_restore(&b, buf, len), 0);
	assert_false(virtio_mmio_queue(&b, 0)->ready);
	assert_true(virtq_broken(virtio_mmio_queue(&b, 0)));
	assert_true(reg_read(&b, VIRTIO_MMIO_STATUS) &
		    VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(be_b.activated, 0);
	/* The guest's way out: a reset, then a working setup. */
	reg_write(&b, VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(reg_read(&b, VIRTIO_MMIO_STATUS), 0);
	virtio_mmio_destroy(&a);
	virtio_mmio_destroy(&b);
	vm_mem_free(&mem);
	vm_mem_free(&small);
}

/* ---- memory file ---- */

#define PAGE 4096u

static int temp_file(void)
{
	char path[] = "/tmp/lg-snapmem-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

static void test_memory_file(void **state)
{
	struct vm_mem a, b, c;
	uint8_t *pa, *pb, page[PAGE];
	struct stat st;
	int fd;

	(void)state;
	vm_mem_init(&a);
	assert_int_equal(vm_mem_add(&a, 0, 64 * PAGE), 0);
	assert_int_equal(vm_mem_add(&a, 1u << 20, 16 * PAGE), 0);
	pa = vm_mem_ptr(&a, 0, 64 * PAGE);
	memset(pa + 3 * PAGE, 0x33, PAGE);
	pa[10 * PAGE + 100] = 0x0a;
	pa[63 * PAGE + PAGE - 1] = 0x3f;
	memset(vm_mem_ptr(&a, (1u << 20) + 5 * PAGE, PAGE), 0x55, PAGE);

	fd = temp_file();
	assert_int_equal(write(fd, "old", 3), 3);
	assert_int_equal(vm_mem_save(&a, fd), 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 80 * PAGE);
	/* Four pages of data; zero pages are holes (allow some slack for
	 * file systems that allocate in larger blocks). */
	assert_true((uint64_t)st.st_blocks * 512 <= 16 * PAGE);
	assert_int_equal(pread(fd, page, PAGE, (64 + 5) * PAGE), PAGE);
	assert_int_equal(page[0], 0x55);

	/* Same layout, contents from the file. */
	vm_mem_init(&b);
	assert_int_equal(vm_mem_add(&b, 0, 64 * PAGE), 0);
	assert_int_equal(vm_mem_add(&b, 1u << 20, 16 * PAGE), 0);
	pb = vm_mem_ptr(&b, 0, 64 * PAGE);
	assert_int_equal(vm_mem_map_file(&b, fd), 0);
	assert_ptr_equal(vm_mem_ptr(&b, 0, 1), pb); /* same address */
	assert_memory_equal(pb, pa, 64 * PAGE);
	assert_memory_equal(vm_mem_ptr(&b, 1u << 20, 16 * PAGE),
			    vm_mem_ptr(&a, 1u << 20, 16 * PAGE), 16 * PAGE);
	/* Copy on write: the file keeps the snapshot. */
	memset(pb + 3 * PAGE, 0x77, PAGE);
	pb[20 * PAGE] = 1;
	assert_int_equal(pread(fd, page, PAGE, 3 * PAGE), PAGE);
	assert_int_equal(page[0], 0x33);
	assert_int_equal(pread(fd, page, PAGE, 20 * PAGE), PAGE);
	assert_int_equal(page[0], 0);

	/* A region straight from the file, at an offset. */
	vm_mem_init(&c);
	assert_int_equal(
		vm_mem_add_file(&c, 0x200000, 16 * PAGE, fd, 64 * PAGE), 0);
	assert_int_equal(*(uint8_t *)vm_mem_ptr(&c, 0x200000 + 5 * PAGE, 1),
			 0x55);
	assert_int_equal(vm_mem_add_file(&c, 0, 16 * PAGE, fd, 70 * PAGE),
			 -EINVAL); /* past the end of the file */
	assert_int_equal(vm_mem_add_file(&c, 0, 16 * PAGE, fd, 100),
			 -EINVAL); /* unaligned */
	vm_mem_free(&c);

	/* A file too short for the RAM is refused, RAM untouched. */
	assert_int_equal(ftruncate(fd, 79 * PAGE), 0);
	assert_int_equal(vm_mem_map_file(&b, fd), -EINVAL);
	assert_int_equal(pb[3 * PAGE], 0x77);
	close(fd);
	vm_mem_free(&a);
	vm_mem_free(&b);
}

/*
 * Saving skips anonymous pages the guest never touched without reading
 * them, and touched pages that are zero; a restored VM's RAM comes from
 * its memory file, so pages this process never touched still hold data
 * and must be in the next snapshot.
 */
static void test_memory_resave(void **state)
{
	const size_t len = 64 * PAGE;
	uint8_t *pa, *f1 = malloc(len), *f2 = malloc(len);
	struct vm_mem a, b;
	struct stat st;
	int fd1, fd2;

	(void)state;
	assert_non_null(f1);
	assert_non_null(f2);
	vm_mem_init(&a);
	assert_int_equal(vm_mem_add(&a, 0, len), 0);
	pa = vm_mem_ptr(&a, 0, len);
	memset(pa + 7 * PAGE, 0x11, PAGE);
	memset(pa + 9 * PAGE, 0x22, PAGE);
	memset(pa + 9 * PAGE, 0, PAGE); /* touched, zero again */
	pa[40 * PAGE + 17] = 0x40;
	fd1 = temp_file();
	assert_int_equal(vm_mem_save(&a, fd1), 0);
	assert_int_equal(fstat(fd1, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 <= 8 * PAGE);
	assert_int_equal(pread(fd1, f1, len, 0), (ssize_t)len);
	assert_memory_equal(f1, pa, len);

	vm_mem_init(&b);
	assert_int_equal(vm_mem_add(&b, 0, len), 0);
	assert_int_equal(vm_mem_map_file(&b, fd1), 0);
	fd2 = temp_file();
	assert_int_equal(vm_mem_save(&b, fd2), 0);
	assert_int_equal(pread(fd2, f2, len, 0), (ssize_t)len);
	assert_memory_equal(f2, f1, len);
	assert_int_equal(f2[7 * PAGE], 0x11);
	assert_int_equal(f2[40 * PAGE + 17], 0x40);

	close(fd1);
	close(fd2);
	vm_mem_free(&a);
	vm_mem_free(&b);
	free(f1);
	free(f2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_virtio_mmio),
		cmocka_unit_test(test_virtio_mmio_broken),
		cmocka_unit_test(test_memory_file),
		cmocka_unit_test(test_memory_resave),
	};

	lg_log_set_level(LG_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
