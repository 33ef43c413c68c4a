/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A partial i8042 keyboard controller, as Firecracker's: enough for
 * Linux's i8042 driver booted with "i8042.noaux i8042.nomux i8042.nopnp
 * i8042.dumbkbd", for the guest to reset the machine (command 0xFE, as
 * "reboot=k" does) and for the host to press Ctrl-Alt-Del.
 *
 * Ports: 0x60 data, 0x64 status (read) / command (write). Commands:
 * 0x20/0x60 read/write the control register, 0xAA self test (0x55),
 * 0xAB keyboard interface test (0x00), 0xAD/0xAE disable/enable the
 * keyboard, 0xA7/0xA8 disable/enable the aux port, 0xD0/0xD1 read/write
 * the output port, 0xF0-0xFF with bit 0 clear pulse the reset line.
 * Bytes written to 0x60 outside a command go to the "keyboard", which
 * acknowledges each with 0xFA. Scancodes are set 2 (no translation).
 */
#ifndef LG_VMM_DEVICES_I8042_H
#define LG_VMM_DEVICES_I8042_H

#include "vmm/bus.h"

#include <stdint.h>

#define I8042_DATA_PORT 0x60u
#define I8042_COMMAND_PORT 0x64u
#define I8042_IRQ 1u
#define I8042_BUF_SIZE 16u

/* The guest pulsed the CPU reset line (the VMM ends the process). */
typedef void (*i8042_reset_fn)(void *opaque);
/* Raise IRQ 1 once (an edge): keyboard data is waiting. */
typedef void (*i8042_irq_fn)(void *opaque);

struct i8042_stats {
	uint64_t resets;
	uint64_t irqs;
	uint64_t reads, writes;
	uint64_t missed; /* accesses of other widths or ports */
};

struct i8042;

/* Callbacks run on the calling thread, without the device lock held. */
int i8042_create(i8042_reset_fn reset, void *reset_opaque, i8042_irq_fn irq,
		 void *irq_opaque, struct i8042 **out);
void i8042_destroy(struct i8042 *dev);

/* Registers ports 0x60 and 0x64 on the PIO bus. */
int i8042_attach(struct i8042 *dev, struct bus *pio);

/*
 * SendCtrlAltDel: queues the set-2 make codes of Ctrl, Alt and Delete
 * and raises IRQ 1 (if the guest enabled the keyboard interrupt). Any
 * thread. 0, or -ENOSPC when the output buffer has no room for them.
 */
int i8042_send_ctrl_alt_del(struct i8042 *dev);

void i8042_get_stats(struct i8042 *dev, struct i8042_stats *st);

/* The port handlers, for tests: offset 0 of each one-byte range. */
extern const struct bus_device_ops i8042_data_ops;
extern const struct bus_device_ops i8042_command_ops;

#endif
