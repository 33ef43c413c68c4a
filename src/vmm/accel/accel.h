/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The accelerator: the one place that talks to the hypervisor (KVM on
 * Linux). Everything above it - memory, bus, devices, vCPU loop - sees
 * only the neutral types here, so a second backend (WHP, HVF) is one
 * more file next to kvm.c.
 *
 * All functions return 0 or a negative errno.
 */
#ifndef LG_VMM_ACCEL_ACCEL_H
#define LG_VMM_ACCEL_ACCEL_H

#include "vmm/accel/x86-regs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct accel;
struct accel_vcpu;

enum accel_exit_reason {
	ACCEL_EXIT_IO,	       /* port I/O: exit.io */
	ACCEL_EXIT_MMIO,       /* access to guest-physical memory not in RAM */
	ACCEL_EXIT_HLT,	       /* the guest executed hlt */
	ACCEL_EXIT_SHUTDOWN,   /* triple fault or similar: the guest reset */
	ACCEL_EXIT_INTR,       /* the run was interrupted (kick or signal) */
	ACCEL_EXIT_INTERNAL,   /* the hypervisor could not continue the guest */
	ACCEL_EXIT_FAIL_ENTRY, /* the hypervisor refused the vCPU state */
	ACCEL_EXIT_OTHER,      /* anything else: exit.other.code */
};

/*
 * One vCPU exit. The data pointers lie inside the accelerator's per-vCPU
 * exit area and stay valid until the next accel_vcpu_run(); for reads
 * the device fills them, and the next run hands the values to the guest.
 * The accelerator has already checked that they fit in that area.
 */
struct accel_exit {
	enum accel_exit_reason reason;
	union {
		struct {
			uint16_t port;
			uint8_t size; /* 1, 2 or 4 */
			bool is_write;
			uint32_t count; /* > 1 for rep ins/outs */
			uint8_t *data;	/* size * count bytes */
		} io;
		struct {
			uint64_t addr;
			uint32_t len; /* 1..8 */
			bool is_write;
			uint8_t *data;
		} mmio;
		struct {
			uint32_t suberror;
		} internal;
		struct {
			uint64_t reason;
		} fail_entry;
		struct {
			uint32_t code;
		} other;
	};
};

/* Opens the hypervisor and creates an empty VM. -ENODEV: no KVM here. */
int accel_create(struct accel **out);
void accel_destroy(struct accel *acc);

/* Maps host memory [hva, hva + size) at guest-physical gpa. */
int accel_map_memory(struct accel *acc, uint32_t slot, uint64_t gpa,
		     uint64_t size, void *hva);

int accel_vcpu_create(struct accel *acc, uint32_t id, struct accel_vcpu **out);
void accel_vcpu_destroy(struct accel_vcpu *vcpu);

int accel_vcpu_get_regs(struct accel_vcpu *vcpu, struct x86_regs *regs);
int accel_vcpu_set_regs(struct accel_vcpu *vcpu, const struct x86_regs *regs);
int accel_vcpu_get_sregs(struct accel_vcpu *vcpu, struct x86_sregs *sregs);
int accel_vcpu_set_sregs(struct accel_vcpu *vcpu,
			 const struct x86_sregs *sregs);

/* What a vCPU is told about the machine's CPUs (CPUID topology). */
struct accel_cpu_topology {
	uint32_t nr_vcpus; /* 1 .. 255 */
	bool smt;	   /* two threads per core */
};

/*
 * Prepares a vCPU for a Linux guest, before it first runs: CPUID
 * normalised for this vCPU (APIC id, topology, hypervisor bit, no PMU),
 * the boot MSRs, a reset FPU, and - with an in-kernel irqchip - LINT0 as
 * ExtINT and LINT1 as NMI, as a BIOS would leave them.
 */
int accel_vcpu_configure(struct accel_vcpu *vcpu,
			 const struct accel_cpu_topology *topo,
			 bool has_irqchip);

/*
 * Runs the vCPU until the next exit and decodes it. Interruption is an
 * exit (ACCEL_EXIT_INTR), not an error.
 */
int accel_vcpu_run(struct accel_vcpu *vcpu, struct accel_exit *exit);

/*
 * Makes the current or next accel_vcpu_run() of vcpu return
 * ACCEL_EXIT_INTR promptly. Async-signal-safe, callable from any thread;
 * the caller also signals the vCPU thread to end a run in progress.
 */
void accel_vcpu_kick(struct accel_vcpu *vcpu);

#endif
