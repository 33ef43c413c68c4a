/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Intel MultiProcessor Specification 1.4 table, so that a guest
 * without ACPI finds its CPUs, its IOAPIC and how ISA interrupts reach
 * the IOAPIC's pins.
 *
 * Placed in the EBDA (E820_EBDA_START = 0x9fc00, reserved in the e820
 * map), which Linux scans for "_MP_": the 16-byte floating pointer at
 * 0x9fc00, the "PCMP" configuration table right after it. Entries, in
 * order: one processor per vCPU (APIC id = vCPU index, CPU 0 the BSP),
 * the ISA bus (id 0), the IOAPIC (id nr_cpus, at 0xfec00000), one I/O
 * interrupt entry per IOAPIC pin described (ISA IRQ n -> pin n,
 * conforming polarity and trigger, as KVM's default GSI routing wires
 * them), ExtINT on LINT0 of the BSP and NMI on LINT1 of every CPU.
 */
#ifndef LG_VMM_BOOT_MPTABLE_H
#define LG_VMM_BOOT_MPTABLE_H

#include "vmm/boot/e820.h"
#include "vmm/memory.h"

#include <stdint.h>

#define MPTABLE_ADDR E820_EBDA_START
#define MPTABLE_AREA_SIZE 0x400u /* the EBDA KiB it must fit in */
#define MPTABLE_MAX_CPUS 32u
#define MPTABLE_IOAPIC_ADDR 0xfec00000u
#define MPTABLE_LAPIC_ADDR 0xfee00000u
#define MPTABLE_IOAPIC_PINS 24u
#define MPTABLE_LEGACY_IRQS 16u /* ISA IRQs 0-15: always described */

#define MP_ENTRY_PROCESSOR 0u
#define MP_ENTRY_BUS 1u
#define MP_ENTRY_IOAPIC 2u
#define MP_ENTRY_INTSRC 3u
#define MP_ENTRY_LINTSRC 4u
#define MP_IRQ_INT 0u
#define MP_IRQ_NMI 1u
#define MP_IRQ_EXTINT 3u

/* The floating pointer structure ("_MP_"). */
struct mp_floating {
	char signature[4];
	uint32_t physptr; /* the configuration table */
	uint8_t length;	  /* in 16-byte units: 1 */
	uint8_t spec;	  /* 4: version 1.4 */
	uint8_t checksum; /* all 16 bytes sum to 0 */
	uint8_t feature[5];
} __attribute__((packed));

/* The configuration table header ("PCMP"); entries follow it. */
struct mp_config {
	char signature[4];
	uint16_t length; /* header and entries */
	uint8_t spec;
	uint8_t checksum; /* all length bytes sum to 0 */
	char oem[8];
	char product[12];
	uint32_t oem_ptr;
	uint16_t oem_size;
	uint16_t entry_count;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mp_processor {
	uint8_t type; /* MP_ENTRY_PROCESSOR */
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags; /* bit 0 enabled, bit 1 BSP */
	uint32_t signature;
	uint32_t features;
	uint32_t reserved[2];
} __attribute__((packed));

struct mp_bus {
	uint8_t type; /* MP_ENTRY_BUS */
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));

struct mp_ioapic {
	uint8_t type; /* MP_ENTRY_IOAPIC */
	uint8_t apic_id;
	uint8_t apic_version;
	uint8_t flags; /* bit 0 usable */
	uint32_t addr;
} __attribute__((packed));

/* An I/O (MP_ENTRY_INTSRC) or local (MP_ENTRY_LINTSRC) interrupt. */
struct mp_intsrc {
	uint8_t type;
	uint8_t irq_type;
	uint16_t irq_flags; /* 0: conforms to the bus */
	uint8_t src_bus;
	uint8_t src_irq;
	uint8_t dst_apic; /* 0xff: every local APIC */
	uint8_t dst_pin;  /* IOAPIC pin or LINTn */
} __attribute__((packed));

struct mptable_config {
	unsigned int nr_cpus; /* 1..MPTABLE_MAX_CPUS */
	/*
	 * IOAPIC pins to describe besides the legacy 0-15, e.g. the
	 * virtio-mmio GSIs; each < MPTABLE_IOAPIC_PINS. Pins already
	 * described are not repeated.
	 */
	const uint8_t *irqs;
	unsigned int nr_irqs;
};

/*
 * Writes the MP table at MPTABLE_ADDR. 0, -EINVAL (CPU count or pin out
 * of range), -EFAULT (the EBDA is not guest RAM); *why (when why is not
 * NULL) then names the reason.
 */
int mptable_write(const struct vm_mem *mem, const struct mptable_config *cfg,
		  const char **why);

#endif
