/* SPDX-License-Identifier: Apache-2.0 */
/* UART registers and receive FIFO to and from a snapshot blob. */
#include "vmm/serial-state.h"
#include "vmm/snapshot/state-buf.h"

#include "common/log.h"

#include <errno.h>
#include <string.h>

/* What serial.c lets the guest store in each register. */
#define IER_MASK 0x0f
#define IER_RDI 0x01
#define IER_THRI 0x02
#define MCR_MASK 0x1f
#define MCR_OUT2 0x08
#define IIR_FIFO_ON 0xc0

int serial_save(struct serial *s, uint8_t *buf, size_t size, size_t *len)
{
	struct state_wr w;
	unsigned int i;

	state_wr_init(&w, buf, size);
	pthread_mutex_lock(&s->lock);
	state_put_u32(&w, SERIAL_STATE_VERSION);
	state_put_u8(&w, s->ier);
	state_put_u8(&w, s->iir_fifo);
	state_put_u8(&w, s->lcr);
	state_put_u8(&w, s->mcr);
	state_put_u8(&w, s->scr);
	state_put_u8(&w, s->dll);
	state_put_u8(&w, s->dlm);
	state_put_u8(&w, s->thr_int);
	/* Received bytes the guest has not read yet, oldest first. */
	state_put_u8(&w, (uint8_t)s->rx_count);
	for (i = 0; i < s->rx_count; i++)
		state_put_u8(&w, s->rx[(s->rx_head + i) % SERIAL_RX_FIFO]);
	pthread_mutex_unlock(&s->lock);
	if (w.overflow)
		return -ENOSPC;
	*len = w.pos;
	return 0;
}

/* As serial.c drives the line: a pending, enabled cause and OUT2. */
static bool serial_irq_pending(const struct serial *s)
{
	bool cause = ((s->ier & IER_RDI) && s->rx_count) ||
		     ((s->ier & IER_THRI) && s->thr_int);

	return cause && (s->mcr & MCR_OUT2);
}

int serial_restore(struct serial *s, const uint8_t *buf, size_t len)
{
	uint8_t ier, iir_fifo, lcr, mcr, scr, dll, dlm, thr_int, rx_count;
	uint8_t rx[SERIAL_RX_FIFO];
	struct state_rd r;
	uint32_t version;

	state_rd_init(&r, buf, len);
	version = state_get_u32(&r);
	if (version != SERIAL_STATE_VERSION) {
		lg_err("serial: state version %u, this build reads %u", version,
		       SERIAL_STATE_VERSION);
		return -EINVAL;
	}
	ier = state_get_u8(&r);
	iir_fifo = state_get_u8(&r);
	lcr = state_get_u8(&r);
	mcr = state_get_u8(&r);
	scr = state_get_u8(&r);
	dll = state_get_u8(&r);
	dlm = state_get_u8(&r);
	thr_int = state_get_u8(&r);
	rx_count = state_get_u8(&r);
	if (rx_count <= SERIAL_RX_FIFO)
		state_get_bytes(&r, rx, rx_count);
	if (!state_rd_done(&r) || (ier & ~IER_MASK) || (mcr & ~MCR_MASK) ||
	    (iir_fifo != 0 && iir_fifo != IIR_FIFO_ON) || thr_int > 1 ||
	    rx_count > SERIAL_RX_FIFO) {
		lg_err("serial: malformed state (%zu bytes)", len);
		return -EINVAL;
	}
	pthread_mutex_lock(&s->lock);
	s->ier = ier;
	s->iir_fifo = iir_fifo;
	s->lcr = lcr;
	s->mcr = mcr;
	s->scr = scr;
	s->dll = dll;
	s->dlm = dlm;
	s->thr_int = thr_int;
	memcpy(s->rx, rx, rx_count);
	s->rx_head = 0;
	s->rx_count = rx_count;
	/*
	 * The interrupt controller's idea of the line is not in its saved
	 * state: drive it again. A pending interrupt may so arrive twice,
	 * which the 8250 driver handles (it reads IIR); none is lost.
	 */
	s->irq_level = serial_irq_pending(s);
	if (s->irq && s->irq_level)
		s->irq(s->irq_opaque, true);
	pthread_mutex_unlock(&s->lock);
	return 0;
}
