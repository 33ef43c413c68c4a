/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot state of the UART: its registers, pending transmit interrupt
 * and the received bytes the guest has not read (not the output fd, the
 * callbacks or the transmit counters, which belong to the host side).
 * The blob starts with a u32 layout version; restore refuses another.
 */
#ifndef LG_VMM_SERIAL_STATE_H
#define LG_VMM_SERIAL_STATE_H

#include "vmm/serial.h"

#include <stddef.h>
#include <stdint.h>

#define SERIAL_STATE_VERSION 1u
#define SERIAL_STATE_SIZE (16u + SERIAL_RX_FIFO) /* room for any blob */

/* Writes the state into buf: 0 and *len, or -ENOSPC. */
int serial_save(struct serial *s, uint8_t *buf, size_t size, size_t *len);
/*
 * Into a UART set up by serial_init() (and serial_set_irq(), with the
 * interrupt controller already restored): re-raises its interrupt line
 * if an interrupt was pending. -EINVAL: wrong length, version or
 * register values; s is unchanged.
 */
int serial_restore(struct serial *s, const uint8_t *buf, size_t len);

#endif
