/* SPDX-License-Identifier: Apache-2.0 */
/* lgvmm parts that need no KVM: guest memory bounds, buses, the UART. */
#include "vmm/bus.h"
#include "vmm/memory.h"
#include "vmm/serial.h"

#include "common/log.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

static void test_mem_bounds(void **state)
{
	struct vm_mem mem;
	uint8_t *base;

	(void)state;
	vm_mem_init(&mem);
	assert_int_equal(vm_mem_add(&mem, 0, 1 << 20), 0);
	base = vm_mem_ptr(&mem, 0, 1);
	assert_non_null(base);
	assert_ptr_equal(vm_mem_ptr(&mem, 0x1000, 16), base + 0x1000);
	assert_ptr_equal(vm_mem_ptr(&mem, (1 << 20) - 1, 1),
			 base + (1 << 20) - 1);
	assert_non_null(vm_mem_ptr(&mem, 0, 1 << 20));
	assert_null(vm_mem_ptr(&mem, 0, 0));
	assert_null(vm_mem_ptr(&mem, 1 << 20, 1));
	assert_null(vm_mem_ptr(&mem, (1 << 20) - 1, 2));
	assert_null(vm_mem_ptr(&mem, 0, (1 << 20) + 1));
	/* Ranges whose end wraps around 2^64. */
	assert_null(vm_mem_ptr(&mem, 0x1000, UINT64_MAX));
	assert_null(vm_mem_ptr(&mem, UINT64_MAX, 2));
	assert_null(vm_mem_ptr(&mem, UINT64_MAX - 0xfff, 0x2000));
	assert_int_equal(vm_mem_write(&mem, (1 << 20) - 2, "abc", 3), -EFAULT);
	assert_int_equal(vm_mem_write(&mem, 16, "abc", 3), 0);
	assert_memory_equal(base + 16, "abc", 3);
	vm_mem_free(&mem);
}

static void test_mem_regions(void **state)
{
	struct vm_mem mem;

	(void)state;
	vm_mem_init(&mem);
	assert_int_equal(vm_mem_add(&mem, 0, 0), -EINVAL);
	assert_int_equal(vm_mem_add(&mem, 0x800, 0x1000), -EINVAL);
	assert_int_equal(vm_mem_add(&mem, 0, 0x1800), -EINVAL);
	assert_int_equal(vm_mem_add(&mem, UINT64_MAX - 0xfff, 0x1000), -ERANGE);
	assert_int_equal(vm_mem_add(&mem, 0x1000, UINT64_MAX & ~0xfffull),
			 -ERANGE);
	assert_int_equal(vm_mem_add(&mem, VM_MEM_MAX_SIZE, 0x1000), -ERANGE);
	assert_int_equal(vm_mem_add(&mem, 0, 0x10000), 0);
	assert_int_equal(vm_mem_add(&mem, 0xf000, 0x2000), -EEXIST);
	/* A hole, then RAM above it (as around the PCI hole). */
	assert_int_equal(vm_mem_add(&mem, 0x100000, 0x10000), 0);
	assert_null(vm_mem_ptr(&mem, 0x10000, 1));
	assert_null(vm_mem_ptr(&mem, 0xffff, 2));
	assert_non_null(vm_mem_ptr(&mem, 0x100000, 0x10000));
	assert_int_equal(vm_mem_size(&mem), 0x20000);
	vm_mem_free(&mem);
	assert_int_equal(mem.nr_regions, 0);
}

struct rec {
	uint64_t off;
	uint32_t len;
	uint8_t data[8];
	int writes, reads;
};

static int rec_write(void *opaque, uint64_t off, const uint8_t *data,
		     uint32_t len)
{
	struct rec *r = opaque;

	r->off = off;
	r->len = len;
	memcpy(r->data, data, len);
	r->writes++;
	return 0;
}

static int rec_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct rec *r = opaque;

	r->off = off;
	r->len = len;
	memset(data, 0x5a, len);
	r->reads++;
	return 0;
}

static int fail_write(void *opaque, uint64_t off, const uint8_t *data,
		      uint32_t len)
{
	(void)opaque;
	(void)off;
	(void)data;
	(void)len;
	return -EIO;
}

static const struct bus_device_ops rec_ops = {"rec", rec_read, rec_write};
static const struct bus_device_ops fail_ops = {"fail", NULL, fail_write};

static void test_bus(void **state)
{
	struct rec a = {0}, b = {0};
	struct bus_stats st;
	uint8_t d[8];
	struct bus bus;

	(void)state;
	bus_init(&bus, "pio", BUS_PIO_LAST);
	assert_int_equal(bus_register(&bus, 0x100, 0, &rec_ops, &a), -EINVAL);
	assert_int_equal(bus_register(&bus, 0xfff0, 0x11, &rec_ops, &a),
			 -EINVAL);
	assert_int_equal(bus_register(&bus, 0x10000, 1, &rec_ops, &a), -EINVAL);
	assert_int_equal(bus_register(&bus, 0xfff0, 0x10, &rec_ops, &a), 0);
	assert_int_equal(bus_register(&bus, 0x100, 8, &rec_ops, &a), 0);
	assert_int_equal(bus_register(&bus, 0x200, 8, &rec_ops, &b), 0);
	assert_int_equal(bus_register(&bus, 0x107, 1, &rec_ops, &b), -EEXIST);
	assert_int_equal(bus_register(&bus, 0xf8, 9, &rec_ops, &b), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x1f8, 0x20, &rec_ops, &b),
			 -EEXIST);
	assert_int_equal(bus_register(&bus, 0x300, 1, &fail_ops, NULL), 0);

	memcpy(d, "\x01\x02", 2);
	assert_int_equal(bus_access(&bus, 0x202, d, 2, true), 0);
	assert_int_equal(b.writes, 1);
	assert_int_equal(b.off, 2);
	assert_int_equal(b.len, 2);
	assert_memory_equal(b.data, "\x01\x02", 2);
	assert_int_equal(bus_access(&bus, 0x104, d, 4, false), 0);
	assert_int_equal(a.reads, 1);
	assert_int_equal(a.off, 4);
	assert_memory_equal(d, "\x5a\x5a\x5a\x5a", 4);

	/* Nobody's, straddling, or past a device's end: all-ones, counted. */
	memset(d, 0, sizeof(d));
	assert_int_equal(bus_access(&bus, 0x180, d, 4, false), 0);
	assert_memory_equal(d, "\xff\xff\xff\xff", 4);
	assert_int_equal(bus_access(&bus, 0x106, d, 4, false), 0);
	assert_int_equal(bus_access(&bus, 0xffff, d, 2, false), 0);
	assert_int_equal(bus_access(&bus, 0x108, d, 1, true), 0);
	assert_int_equal(a.reads, 1);
	bus_get_stats(&bus, &st);
	assert_int_equal(st.unhandled_reads, 3);
	assert_int_equal(st.unhandled_writes, 1);

	assert_int_equal(bus_access(&bus, 0x100, d, 0, false), -EINVAL);
	assert_int_equal(bus_access(&bus, 0x100, d, 9, false), -EINVAL);
	/* A device's failure reaches the caller; a missing read is ~0. */
	assert_int_equal(bus_access(&bus, 0x300, d, 1, true), -EIO);
	assert_int_equal(bus_access(&bus, 0x300, d, 1, false), 0);
	assert_int_equal(d[0], 0xff);
	bus_free(&bus);

	bus_init(&bus, "mmio", BUS_MMIO_LAST);
	assert_int_equal(
		bus_register(&bus, UINT64_MAX - 0xfff, 0x1000, &rec_ops, &a),
		0);
	assert_int_equal(bus_access(&bus, UINT64_MAX - 3, d, 4, false), 0);
	assert_int_equal(a.reads, 2);
	assert_int_equal(bus_access(&bus, UINT64_MAX - 2, d, 4, false), 0);
	assert_int_equal(a.reads, 2);
	bus_free(&bus);
}

static uint8_t uart_in(struct bus *bus, uint64_t reg)
{
	uint8_t v = 0;

	assert_int_equal(bus_access(bus, SERIAL_COM1_BASE + reg, &v, 1, false),
			 0);
	return v;
}

static void uart_out(struct bus *bus, uint64_t reg, uint8_t v)
{
	assert_int_equal(bus_access(bus, SERIAL_COM1_BASE + reg, &v, 1, true),
			 0);
}

/* The register sequence of Linux's 8250 autoconfig(), then output. */
static void test_serial_probe(void **state)
{
	struct serial s;
	struct bus bus;
	char out[16];
	int fds[2];
	ssize_t n;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	bus_init(&bus, "pio", BUS_PIO_LAST);
	assert_int_equal(serial_init(&s, fds[1]), 0);
	assert_int_equal(serial_attach(&s, &bus, SERIAL_COM1_BASE), 0);

	/* Scratch register. */
	uart_out(&bus, 7, 0xa5);
	assert_int_equal(uart_in(&bus, 7), 0xa5);
	/* IER: 0 reads back 0, 0x0f reads back 0x0f. */
	uart_out(&bus, 1, 0);
	assert_int_equal(uart_in(&bus, 1) & 0x0f, 0);
	uart_out(&bus, 1, 0xff);
	assert_int_equal(uart_in(&bus, 1), 0x0f);
	uart_out(&bus, 1, 0);
	/* Loopback: MCR = LOOP | OUT2 | RTS -> MSR = DCD | CTS. */
	uart_out(&bus, 4, 0x1a);
	assert_int_equal(uart_in(&bus, 6) & 0xf0, 0x90);
	uart_out(&bus, 0, 'x'); /* loopback: not transmitted */
	uart_out(&bus, 4, 0x0b);
	/* FIFO enabled: IIR says 16550A, no interrupt pending. */
	uart_out(&bus, 2, 0x07);
	assert_int_equal(uart_in(&bus, 2), 0xc1);
	uart_out(&bus, 2, 0);
	assert_int_equal(uart_in(&bus, 2), 0x01);
	/* Divisor latch behind DLAB. */
	uart_out(&bus, 3, 0x83);
	uart_out(&bus, 0, 0x0c);
	uart_out(&bus, 1, 0x00);
	assert_int_equal(uart_in(&bus, 0), 0x0c);
	assert_int_equal(uart_in(&bus, 1), 0x00);
	uart_out(&bus, 3, 0x03);
	assert_int_equal(uart_in(&bus, 3), 0x03);
	assert_int_equal(uart_in(&bus, 1), 0x00); /* IER again */
	/* Transmitter always empty; no received data. */
	assert_int_equal(uart_in(&bus, 5), 0x60);
	uart_out(&bus, 0, 'o');
	uart_out(&bus, 0, 'k');
	n = read(fds[0], out, sizeof(out));
	assert_int_equal(n, 2);
	assert_memory_equal(out, "ok", 2);
	assert_int_equal(s.tx_bytes, 2);

	/* A closed reader: the byte is dropped, counted, nothing stops. */
	close(fds[0]);
	uart_out(&bus, 0, '!');
	assert_int_equal(s.tx_dropped, 1);
	assert_int_equal(s.tx_error, -EPIPE);

	serial_destroy(&s);
	bus_free(&bus);
	close(fds[1]);
}

struct irq_log {
	int raised, lowered;
	bool level;
};

static void irq_record(void *opaque, bool level)
{
	struct irq_log *l = opaque;

	l->level = level;
	if (level)
		l->raised++;
	else
		l->lowered++;
}

/* Receive FIFO, data-ready and THR-empty interrupts, OUT2 gating. */
static void test_serial_rx_irq(void **state)
{
	struct irq_log irq = {0};
	uint8_t big[SERIAL_RX_FIFO + 10];
	struct serial s;
	struct bus bus;
	unsigned int i;

	(void)state;
	bus_init(&bus, "pio", BUS_PIO_LAST);
	assert_int_equal(serial_init(&s, -1), 0);
	serial_set_irq(&s, irq_record, &irq);
	assert_int_equal(serial_attach(&s, &bus, SERIAL_COM1_BASE), 0);

	/* Data without RDI enabled: LSR.DR, no interrupt. */
	assert_int_equal(serial_receive(&s, (const uint8_t *)"ab", 2), 2);
	assert_int_equal(uart_in(&bus, 5) & 0x01, 0x01);
	assert_int_equal(irq.raised, 0);
	/* Enable RDI: the line goes up, IIR says received data. */
	uart_out(&bus, 1, 0x01);
	assert_true(irq.level);
	assert_int_equal(uart_in(&bus, 2) & 0x0f, 0x04);
	assert_int_equal(uart_in(&bus, 0), 'a');
	assert_true(irq.level);
	assert_int_equal(uart_in(&bus, 0), 'b');
	assert_false(irq.level);
	assert_int_equal(uart_in(&bus, 5) & 0x01, 0);
	assert_int_equal(uart_in(&bus, 2) & 0x0f, 0x01);

	/* OUT2 clear: causes stay pending but the line stays low. */
	uart_out(&bus, 4, 0x00);
	serial_receive(&s, (const uint8_t *)"c", 1);
	assert_false(irq.level);
	uart_out(&bus, 4, 0x08);
	assert_true(irq.level);
	assert_int_equal(uart_in(&bus, 0), 'c');
	assert_false(irq.level);

	/* THRI: enabling it raises; reading IIR acknowledges; a write
	 * raises it again. */
	uart_out(&bus, 1, 0x03);
	assert_true(irq.level);
	assert_int_equal(uart_in(&bus, 2) & 0x0f, 0x02);
	assert_false(irq.level);
	uart_out(&bus, 0, 'x');
	assert_true(irq.level);
	assert_int_equal(uart_in(&bus, 2) & 0x0f, 0x02);
	assert_false(irq.level);

	/* The FIFO is bounded; what does not fit is not taken. */
	memset(big, 'z', sizeof(big));
	assert_int_equal(serial_receive(&s, big, sizeof(big)), SERIAL_RX_FIFO);
	assert_int_equal(serial_rx_space(&s), 0);
	for (i = 0; i < SERIAL_RX_FIFO; i++)
		assert_int_equal(uart_in(&bus, 0), 'z');
	assert_int_equal(serial_rx_space(&s), SERIAL_RX_FIFO);
	/* FCR bit 1 clears the receive FIFO. */
	serial_receive(&s, (const uint8_t *)"q", 1);
	uart_out(&bus, 2, 0x03);
	assert_int_equal(uart_in(&bus, 5) & 0x01, 0);
	assert_false(irq.level);

	serial_destroy(&s);
	bus_free(&bus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_bounds),
		cmocka_unit_test(test_mem_regions),
		cmocka_unit_test(test_bus),
		cmocka_unit_test(test_serial_probe),
		cmocka_unit_test(test_serial_rx_irq),
	};

	/* The EPIPE case must not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	lg_log_set_level(LG_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
