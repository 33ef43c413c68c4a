/* SPDX-License-Identifier: Apache-2.0 */
/* The MP table in the EBDA (see mptable.h). */
#include "vmm/boot/mptable.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define MP_APIC_VERSION 0x14   /* local APIC, as KVM reports it */
#define MP_IOAPIC_VERSION 0x11 /* KVM's IOAPIC version register */
#define MP_CPU_ENABLED 0x1
#define MP_CPU_BSP 0x2
#define MP_CPU_SIGNATURE 0x600 /* family 6 */
#define MP_CPU_FEATURES 0x201  /* CPUID.1:EDX FPU | APIC */
#define MP_BUS_ISA 0

static_assert(sizeof(struct mp_floating) == 16, "floating pointer ABI");
static_assert(sizeof(struct mp_config) == 44, "config header ABI");
static_assert(sizeof(struct mp_processor) == 20, "processor entry ABI");
static_assert(sizeof(struct mp_bus) == 8, "bus entry ABI");
static_assert(sizeof(struct mp_ioapic) == 8, "ioapic entry ABI");
static_assert(sizeof(struct mp_intsrc) == 8, "interrupt entry ABI");
/* The largest table still fits in the EBDA's KiB. */
static_assert(sizeof(struct mp_floating) + sizeof(struct mp_config) +
			      MPTABLE_MAX_CPUS * sizeof(struct mp_processor) +
			      sizeof(struct mp_bus) + sizeof(struct mp_ioapic) +
			      (MPTABLE_IOAPIC_PINS + 2) *
				      sizeof(struct mp_intsrc) <=
		      MPTABLE_AREA_SIZE,
	      "MP table does not fit in the EBDA");
static_assert(MPTABLE_ADDR + MPTABLE_AREA_SIZE <= 0xa0000,
	      "EBDA runs past 640 KiB");

static int fail(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* Appends one entry to the table being built in buf. */
static void put(uint8_t *buf, size_t *off, const void *entry, size_t len)
{
	memcpy(buf + *off, entry, len);
	*off += len;
}

int mptable_write(const struct vm_mem *mem, const struct mptable_config *cfg,
		  const char **why)
{
	uint8_t buf[MPTABLE_AREA_SIZE] = {0};
	bool pins[MPTABLE_IOAPIC_PINS] = {false};
	const size_t cfg_off = sizeof(struct mp_floating);
	size_t off = cfg_off + sizeof(struct mp_config);
	struct mp_floating mpf = {.signature = "_MP_"};
	struct mp_config mpc = {.signature = "PCMP"};
	uint8_t ioapic_id;
	unsigned int i, count = 0;

	if (cfg->nr_cpus < 1 || cfg->nr_cpus > MPTABLE_MAX_CPUS)
		return fail(why, "vCPU count out of range for the MP table",
			    -EINVAL);
	if (cfg->nr_irqs && !cfg->irqs)
		return fail(why, "IRQ count without a list", -EINVAL);
	for (i = 0; i < MPTABLE_LEGACY_IRQS; i++)
		pins[i] = true;
	for (i = 0; i < cfg->nr_irqs; i++) {
		if (cfg->irqs[i] >= MPTABLE_IOAPIC_PINS)
			return fail(why, "IRQ beyond the IOAPIC's pins",
				    -EINVAL);
		pins[cfg->irqs[i]] = true;
	}
	ioapic_id = (uint8_t)cfg->nr_cpus;

	for (i = 0; i < cfg->nr_cpus; i++) {
		struct mp_processor cpu = {
			.type = MP_ENTRY_PROCESSOR,
			.apic_id = (uint8_t)i,
			.apic_version = MP_APIC_VERSION,
			.flags = MP_CPU_ENABLED | (i == 0 ? MP_CPU_BSP : 0),
			.signature = MP_CPU_SIGNATURE,
			.features = MP_CPU_FEATURES,
		};

		put(buf, &off, &cpu, sizeof(cpu));
		count++;
	}
	put(buf, &off,
	    &(struct mp_bus){.type = MP_ENTRY_BUS,
			     .bus_id = MP_BUS_ISA,
			     .bus_type = {'I', 'S', 'A', ' ', ' ', ' '}},
	    sizeof(struct mp_bus));
	count++;
	put(buf, &off,
	    &(struct mp_ioapic){.type = MP_ENTRY_IOAPIC,
				.apic_id = ioapic_id,
				.apic_version = MP_IOAPIC_VERSION,
				.flags = 1,
				.addr = MPTABLE_IOAPIC_ADDR},
	    sizeof(struct mp_ioapic));
	count++;
	for (i = 0; i < MPTABLE_IOAPIC_PINS; i++) {
		if (!pins[i])
			continue;
		put(buf, &off,
		    &(struct mp_intsrc){.type = MP_ENTRY_INTSRC,
					.irq_type = MP_IRQ_INT,
					.src_bus = MP_BUS_ISA,
					.src_irq = (uint8_t)i,
					.dst_apic = ioapic_id,
					.dst_pin = (uint8_t)i},
		    sizeof(struct mp_intsrc));
		count++;
	}
	/* Virtual-wire mode: the PIC reaches the BSP's LINT0. */
	put(buf, &off,
	    &(struct mp_intsrc){.type = MP_ENTRY_LINTSRC,
				.irq_type = MP_IRQ_EXTINT,
				.src_bus = MP_BUS_ISA,
				.dst_apic = 0,
				.dst_pin = 0},
	    sizeof(struct mp_intsrc));
	put(buf, &off,
	    &(struct mp_intsrc){.type = MP_ENTRY_LINTSRC,
				.irq_type = MP_IRQ_NMI,
				.src_bus = MP_BUS_ISA,
				.dst_apic = 0xff,
				.dst_pin = 1},
	    sizeof(struct mp_intsrc));
	count += 2;

	mpc.length = (uint16_t)(off - cfg_off);
	mpc.spec = 4;
	memcpy(mpc.oem, "LGVMM   ", sizeof(mpc.oem));
	memcpy(mpc.product, "LUMINAGUARD ", sizeof(mpc.product));
	mpc.entry_count = (uint16_t)count;
	mpc.lapic = MPTABLE_LAPIC_ADDR;
	memcpy(buf + cfg_off, &mpc, sizeof(mpc));
	buf[cfg_off + offsetof(struct mp_config, checksum)] =
		checksum(buf + cfg_off, mpc.length);

	mpf.physptr = (uint32_t)(MPTABLE_ADDR + cfg_off);
	mpf.length = 1;
	mpf.spec = 4;
	mpf.checksum = checksum((const uint8_t *)&mpf, sizeof(mpf));
	memcpy(buf, &mpf, sizeof(mpf));

	if (vm_mem_write(mem, MPTABLE_ADDR, buf, off) < 0)
		return fail(why, "guest RAM does not hold the EBDA", -EFAULT);
	return 0;
}
