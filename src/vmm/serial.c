/* SPDX-License-Identifier: Apache-2.0 */
/* 8250 UART: register file and transmit path. */
#include "vmm/serial.h"

#include "common/log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Register offsets (DLAB = LCR bit 7 selects the divisor latch at 0/1). */
#define UART_RBR_THR_DLL 0
#define UART_IER_DLM 1
#define UART_IIR_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_LCR_DLAB 0x80
#define UART_IER_MASK 0x0f
#define UART_IER_RDI 0x01
#define UART_IER_THRI 0x02
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_RDI 0x04
#define UART_IIR_FIFO_ON 0xc0 /* 16550A with working FIFOs */
#define UART_FCR_ENABLE 0x01
#define UART_MCR_MASK 0x1f
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10
#define UART_LSR_DR 0x01
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MSR_CTS 0x10
#define UART_MSR_DSR 0x20
#define UART_MSR_RI 0x40
#define UART_MSR_DCD 0x80

int serial_init(struct serial *s, int out_fd)
{
	int err;

	memset(s, 0, sizeof(*s));
	err = pthread_mutex_init(&s->lock, NULL);
	if (err)
		return -err;
	s->out_fd = out_fd;
	/* 115200 baud, 8n1, as firmware would leave it. */
	s->dll = 1;
	s->lcr = 0x03;
	s->mcr = 0x08; /* OUT2 */
	return 0;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

void serial_set_irq(struct serial *s, serial_irq_fn irq, void *opaque)
{
	s->irq = irq;
	s->irq_opaque = opaque;
}

/* The highest-priority pending cause, as IIR reports it. */
static uint8_t serial_iir_cause(const struct serial *s)
{
	if ((s->ier & UART_IER_RDI) && s->rx_count)
		return UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->thr_int)
		return UART_IIR_THRI;
	return UART_IIR_NO_INT;
}

static void serial_update_irq(struct serial *s)
{
	bool level = serial_iir_cause(s) != UART_IIR_NO_INT &&
		     (s->mcr & UART_MCR_OUT2);

	if (!s->irq || level == s->irq_level)
		return;
	s->irq_level = level;
	s->irq(s->irq_opaque, level);
}

void serial_set_rx_ready(struct serial *s, void (*fn)(void *opaque),
			 void *opaque)
{
	s->rx_ready = fn;
	s->rx_ready_opaque = opaque;
}

size_t serial_rx_space(struct serial *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = SERIAL_RX_FIFO - s->rx_count;
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_count < SERIAL_RX_FIFO) {
		s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO] = buf[n++];
		s->rx_count++;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

static uint8_t serial_rx_pop(struct serial *s)
{
	uint8_t v;

	if (!s->rx_count)
		return 0;
	v = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
	if (s->rx_count-- == SERIAL_RX_FIFO && s->rx_ready)
		s->rx_ready(s->rx_ready_opaque);
	return v;
}

static void serial_tx(struct serial *s, uint8_t byte)
{
	ssize_t n;

	if (s->out_fd < 0)
		return;
	do {
		n = write(s->out_fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	if (n == 1) {
		s->tx_bytes++;
		return;
	}
	/* The guest must not be able to stop the VMM by flooding a pipe. */
	s->tx_dropped++;
	if (!s->tx_error) {
		s->tx_error = n < 0 ? -errno : -EIO;
		lg_warn("vmm: serial output: %s; dropping output",
			strerror(-s->tx_error));
	}
}

static uint8_t serial_msr(const struct serial *s)
{
	uint8_t msr = 0;

	if (!(s->mcr & UART_MCR_LOOP))
		return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	/* Loopback: modem outputs feed modem inputs (8250 probe checks). */
	if (s->mcr & 0x01)
		msr |= UART_MSR_DSR;
	if (s->mcr & 0x02)
		msr |= UART_MSR_CTS;
	if (s->mcr & 0x04)
		msr |= UART_MSR_RI;
	if (s->mcr & 0x08)
		msr |= UART_MSR_DCD;
	return msr;
}

static uint8_t serial_read_reg(struct serial *s, uint64_t reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR_DLL:
		return dlab ? s->dll : serial_rx_pop(s);
	case UART_IER_DLM:
		return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR: {
		uint8_t cause = serial_iir_cause(s);

		/* Reading IIR acknowledges a transmitter-empty interrupt. */
		if (cause == UART_IIR_THRI)
			s->thr_int = false;
		return s->iir_fifo | cause;
	}
	case UART_LCR:
		return s->lcr;
	case UART_MCR:
		return s->mcr;
	case UART_LSR:
		return UART_LSR_THRE | UART_LSR_TEMT |
		       (s->rx_count ? UART_LSR_DR : 0);
	case UART_MSR:
		return serial_msr(s);
	default:
		return s->scr;
	}
}

static void serial_write_reg(struct serial *s, uint64_t reg, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR_DLL:
		if (dlab)
			s->dll = v;
		else if (!(s->mcr & UART_MCR_LOOP))
			serial_tx(s, v);
		/* Sent at once: the holding register is empty again. */
		if (!dlab)
			s->thr_int = true;
		break;
	case UART_IER_DLM:
		if (dlab) {
			s->dlm = v;
		} else {
			/* Enabling THRI with THR empty raises it (8250). */
			if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
				s->thr_int = true;
			s->ier = v & UART_IER_MASK;
		}
		break;
	case UART_IIR_FCR:
		s->iir_fifo = (v & UART_FCR_ENABLE) ? UART_IIR_FIFO_ON : 0;
		if ((v & 0x02) && s->rx_count) { /* clear the receive FIFO */
			if (s->rx_count == SERIAL_RX_FIFO && s->rx_ready)
				s->rx_ready(s->rx_ready_opaque);
			s->rx_head = s->rx_count = 0;
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & UART_MCR_MASK;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	default: /* LSR, MSR: factory test writes, ignored */
		break;
	}
}

/* Registers are bytes; a wider access reads all-ones, writes nothing. */
static int serial_read(void *opaque, uint64_t offset, uint8_t *data,
		       uint32_t len)
{
	struct serial *s = opaque;

	if (len != 1 || offset >= SERIAL_NR_PORTS) {
		memset(data, 0xff, len);
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	data[0] = serial_read_reg(s, offset);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int serial_write(void *opaque, uint64_t offset, const uint8_t *data,
			uint32_t len)
{
	struct serial *s = opaque;

	if (len != 1 || offset >= SERIAL_NR_PORTS)
		return 0;
	pthread_mutex_lock(&s->lock);
	serial_write_reg(s, offset, data[0]);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

const struct bus_device_ops serial_ops = {
	.name = "serial",
	.read = serial_read,
	.write = serial_write,
};

int serial_attach(struct serial *s, struct bus *pio, uint16_t base)
{
	return bus_register(pio, base, SERIAL_NR_PORTS, &serial_ops, s);
}
