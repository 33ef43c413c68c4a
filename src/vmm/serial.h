/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 8250/16550A UART as at COM1 (I/O 0x3f8): transmit to a host fd,
 * receive what the VMM feeds it (stdin), and the two interrupts Linux's
 * 8250 driver uses (received data, transmitter empty). The registers
 * answer as that driver probes them (scratch, IER read-back, loopback
 * MSR, FIFO type in IIR).
 */
#ifndef LG_VMM_SERIAL_H
#define LG_VMM_SERIAL_H

#include "vmm/bus.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3f8u
#define SERIAL_NR_PORTS 8u

#define SERIAL_RX_FIFO 64u

/*
 * Interrupt line: true when an interrupt is pending and the guest
 * enabled it (IER, and OUT2 as on a PC), false when none is. Called with
 * the serial lock held; must not call back into the serial.
 */
typedef void (*serial_irq_fn)(void *opaque, bool level);

struct serial {
	pthread_mutex_t lock;
	int out_fd; /* not owned; -1 discards output */
	uint8_t ier, iir_fifo, lcr, mcr, scr, dll, dlm;
	bool thr_int;	/* transmitter-empty interrupt pending */
	bool irq_level; /* what the line was last set to */
	serial_irq_fn irq;
	void *irq_opaque;
	void (*rx_ready)(void *opaque); /* FIFO no longer full */
	void *rx_ready_opaque;
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned int rx_head, rx_count;
	uint64_t tx_bytes;   /* bytes written to out_fd */
	uint64_t tx_dropped; /* bytes out_fd did not take */
	int tx_error;	     /* first write error, as -errno, or 0 */
};

extern const struct bus_device_ops serial_ops;

int serial_init(struct serial *s, int out_fd);
/* Before the guest runs. */
void serial_set_irq(struct serial *s, serial_irq_fn irq, void *opaque);
/*
 * Input for the guest: queues up to len bytes in the receive FIFO and
 * returns how many fit (0 when full: try again after the guest reads).
 */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
/*
 * fn is called (serial lock held, on the reading vCPU's thread) when the
 * guest takes a byte from a full receive FIFO: input may resume.
 */
void serial_set_rx_ready(struct serial *s, void (*fn)(void *opaque),
			 void *opaque);
/* Free space in the receive FIFO. */
size_t serial_rx_space(struct serial *s);
void serial_destroy(struct serial *s);
/* Registers the 8 ports at base on the PIO bus. */
int serial_attach(struct serial *s, struct bus *pio, uint16_t base);

#endif
