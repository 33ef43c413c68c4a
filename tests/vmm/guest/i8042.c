/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The i8042 as Linux's driver probes it, then a machine reset: keys the
 * host queued before start (SendCtrlAltDel), the control register,
 * the self test, a control register write read back, a keyboard
 * command's ACK, and finally command 0xFE on port 0x64. The VMM must
 * stop the machine there: the lines after it must never print.
 */
#include "virtio.h"

#define DATA 0x60
#define STATUS 0x64
#define STS_OBF 0x01
#define STS_IBF 0x02
#define CTR_KBDINT 0x01
#define CTR_KBDDIS 0x10

static int failures;

static void put_byte(uint8_t v)
{
	uart_puts(" ");
	put_hex(v);
}

/* Polls the status like i8042_wait_read(): 1 once data is there. */
static int wait_data(void)
{
	int i;

	for (i = 0; i < 1000; i++)
		if (inb(STATUS) & STS_OBF)
			return 1;
	return 0;
}

static int wait_writable(void)
{
	int i;

	for (i = 0; i < 1000; i++)
		if (!(inb(STATUS) & STS_IBF))
			return 1;
	return 0;
}

static int command(uint8_t cmd)
{
	if (!wait_writable())
		return -1;
	outb(STATUS, cmd);
	return 0;
}

/* A command answered with one byte; -1 if none came. */
static int command_reply(uint8_t cmd)
{
	if (command(cmd) < 0 || !wait_data())
		return -1;
	return inb(DATA);
}

static void expect(const char *what, int got, int want)
{
	uart_puts("i8042: ");
	uart_puts(what);
	if (got < 0)
		uart_puts(" none");
	else
		put_byte((uint8_t)got);
	uart_putc('\n');
	if (got != want)
		failures++;
}

int guest_main(void)
{
	uint8_t keys[16];
	unsigned int n = 0, i;
	int ctr;

	while (n < sizeof(keys) && (inb(STATUS) & STS_OBF))
		keys[n++] = inb(DATA);
	uart_puts("i8042: pending keys");
	for (i = 0; i < n; i++)
		put_byte(keys[i]);
	uart_putc('\n');
	report(n);

	ctr = command_reply(0x20);
	uart_puts("i8042: ctr");
	put_byte((uint8_t)ctr);
	uart_putc('\n');
	if (ctr < 0)
		failures++;
	expect("self test", command_reply(0xaa), 0x55);
	expect("keyboard test", command_reply(0xab), 0x00);

	/* As i8042_controller_init(): keyboard off, its interrupt off. */
	command(0x60);
	outb(DATA, (uint8_t)((ctr | CTR_KBDDIS) & ~CTR_KBDINT));
	expect("ctr after write", command_reply(0x20),
	       (ctr | CTR_KBDDIS) & ~CTR_KBDINT);
	command(0x60);
	outb(DATA, (uint8_t)ctr);

	/* A byte to the keyboard itself (0xf2: identify) is ACKed. */
	wait_writable();
	outb(DATA, 0xf2);
	expect("keyboard ack", wait_data() ? inb(DATA) : -1, 0xfa);
	put_kv("i8042: ", "probe failures ", (uint64_t)failures);
	report((uint32_t)failures);

	uart_puts("i8042: resetting\n");
	command(0xfe);
	/* Only reached if the reset did not stop the machine. */
	for (i = 0; i < 1000; i++)
		inb(STATUS);
	uart_puts("i8042: still running after reset\n");
	return 0x0bad;
}
