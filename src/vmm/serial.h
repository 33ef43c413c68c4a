/* SPDX-License-Identifier: Apache-2.0 */
/*
 * 8250/16550A UART as at COM1 (I/O 0x3f8): transmit to a host fd. The
 * registers answer as Linux's 8250 driver probes them (scratch, IER
 * read-back, loopback MSR, FIFO type in IIR).
 *
 * Not yet: receive (RBR reads 0, LSR never reports data ready) and
 * interrupts (no irqchip yet: IIR always reads "no interrupt pending").
 */
#ifndef LG_VMM_SERIAL_H
#define LG_VMM_SERIAL_H

#include "vmm/bus.h"

#include <pthread.h>
#include <stdint.h>

#define SERIAL_COM1_BASE 0x3f8u
#define SERIAL_NR_PORTS 8u

struct serial {
	pthread_mutex_t lock;
	int out_fd; /* not owned; -1 discards output */
	uint8_t ier, iir_fifo, lcr, mcr, scr, dll, dlm;
	uint64_t tx_bytes;   /* bytes written to out_fd */
	uint64_t tx_dropped; /* bytes out_fd did not take */
	int tx_error;	     /* first write error, as -errno, or 0 */
};

extern const struct bus_device_ops serial_ops;

int serial_init(struct serial *s, int out_fd);
void serial_destroy(struct serial *s);
/* Registers the 8 ports at base on the PIO bus. */
int serial_attach(struct serial *s, struct bus *pio, uint16_t base);

#endif
