/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-kernel interrupt controllers: the two 8259 PICs, the IOAPIC (24
 * pins, GSI 0-23), a local APIC per vCPU, and the 8254 PIT on port 0x40.
 */
#ifndef LG_VMM_ACCEL_ACCEL_IRQ_H
#define LG_VMM_ACCEL_ACCEL_IRQ_H

#include "vmm/accel/accel.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * Creates the in-kernel PICs, IOAPIC and PIT (and the TSS and identity
 * map pages some hypervisors need, at 0xfffbc000-0xfffbffff, below the
 * 4 GiB boundary: keep RAM and devices away from them). Call once,
 * before the first accel_vcpu_create().
 */
int accel_create_irqchip(struct accel *acc);

/* Drives interrupt line gsi (0-23) high or low. */
int accel_irq_line(struct accel *acc, uint32_t gsi, bool level);

#endif
