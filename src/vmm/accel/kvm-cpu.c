/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-vCPU setup for a Linux guest on KVM: CPUID, boot MSRs, FPU, LAPIC
 * local interrupt pins. What a firmware would have done before handing
 * over, and what makes each vCPU see itself and its siblings consistently.
 */
#include "vmm/accel/accel.h"
#include "vmm/accel/kvm-priv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_HYPERVISOR (1u << 31) /* leaf 1 ecx */
#define CPUID_HTT (1u << 28)	    /* leaf 1 edx */
#define CPUID_TOPO_SMT 1u	    /* leaf 0xb/0x1f level types */
#define CPUID_TOPO_CORE 2u

#define MSR_IA32_TSC 0x10u
#define MSR_IA32_SYSENTER_CS 0x174u
#define MSR_IA32_SYSENTER_ESP 0x175u
#define MSR_IA32_SYSENTER_EIP 0x176u
#define MSR_IA32_MISC_ENABLE 0x1a0u
#define MSR_MTRR_DEF_TYPE 0x2ffu
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_SYSCALL_MASK 0xc0000084u
#define MSR_KERNEL_GS_BASE 0xc0000102u

#define MISC_ENABLE_FAST_STRING 1ull
#define MTRR_ENABLE (1ull << 11)
#define MTRR_TYPE_WB 6ull

#define APIC_LVT_LINT0 0x350u
#define APIC_LVT_LINT1 0x360u
#define APIC_MODE_NMI 0x4u
#define APIC_MODE_EXTINT 0x7u

static uint32_t log2_ceil(uint32_t n)
{
	uint32_t s = 0;

	while ((1u << s) < n)
		s++;
	return s;
}

/* Extended topology (leaves 0xb and 0x1f): SMT level, core level, end. */
static void cpuid_topology(struct kvm_cpuid_entry2 *e, uint32_t apic_id,
			   const struct accel_cpu_topology *t)
{
	uint32_t smt_shift = t->smt ? 1 : 0;

	e->edx = apic_id;
	switch (e->index) {
	case 0:
		e->eax = smt_shift;
		e->ebx = 1u << smt_shift;
		e->ecx = (CPUID_TOPO_SMT << 8) | e->index;
		break;
	case 1:
		e->eax = log2_ceil(t->nr_vcpus);
		e->ebx = t->nr_vcpus;
		e->ecx = (CPUID_TOPO_CORE << 8) | e->index;
		break;
	default:
		e->eax = e->ebx = 0;
		e->ecx = e->index;
		break;
	}
}

static void cpuid_normalise(struct kvm_cpuid_entry2 *e, uint32_t apic_id,
			    const struct accel_cpu_topology *t)
{
	uint32_t cores = t->smt ? (t->nr_vcpus + 1) / 2 : t->nr_vcpus;

	switch (e->function) {
	case 0x1:
		/* APIC id, logical CPUs per package, clflush size 64. */
		e->ebx = (apic_id << 24) | ((t->nr_vcpus & 0xff) << 16) |
			 (8u << 8) | (e->ebx & 0xff);
		e->ecx |= CPUID_HYPERVISOR;
		if (t->nr_vcpus > 1)
			e->edx |= CPUID_HTT;
		else
			e->edx &= ~CPUID_HTT;
		break;
	case 0x4:
		/* Cores per package, and threads sharing each cache. */
		if ((e->eax & 0x1f) == 0)
			break;
		e->eax &= 0x3fff;
		e->eax |= ((cores - 1) & 0x3f) << 26;
		if (((e->eax >> 5) & 7) >= 3)
			e->eax |= ((t->nr_vcpus - 1) & 0xfff) << 14;
		else if (t->smt)
			e->eax |= 1u << 14;
		break;
	case 0xa:
		/* No performance monitoring in a sandbox. */
		e->eax = e->ebx = e->ecx = e->edx = 0;
		break;
	case 0xb:
	case 0x1f:
		cpuid_topology(e, apic_id, t);
		break;
	case 0x80000008:
		/* AMD: number of cores - 1. */
		e->ecx = (e->ecx & ~0xffu) | ((t->nr_vcpus - 1) & 0xff);
		break;
	default:
		break;
	}
}

static int vcpu_set_cpuid(struct accel_vcpu *vcpu,
			  const struct accel_cpu_topology *topo)
{
	const struct kvm_cpuid2 *src = vcpu->acc->cpuid;
	size_t size = sizeof(*src) + src->nent * sizeof(src->entries[0]);
	struct kvm_cpuid2 *c = malloc(size);
	uint32_t i;
	int r = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, src, size);
	for (i = 0; i < c->nent; i++)
		cpuid_normalise(&c->entries[i], vcpu->id, topo);
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		r = kvm_ioctl_err("KVM_SET_CPUID2");
	free(c);
	return r;
}

static int vcpu_set_boot_msrs(struct accel_vcpu *vcpu)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} boot[] = {
		{MSR_IA32_SYSENTER_CS, 0},
		{MSR_IA32_SYSENTER_ESP, 0},
		{MSR_IA32_SYSENTER_EIP, 0},
		{MSR_STAR, 0},
		{MSR_CSTAR, 0},
		{MSR_KERNEL_GS_BASE, 0},
		{MSR_SYSCALL_MASK, 0},
		{MSR_LSTAR, 0},
		{MSR_IA32_TSC, 0},
		{MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING},
		{MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB},
	};
	const size_t n = sizeof(boot) / sizeof(boot[0]);
	struct kvm_msrs *m;
	size_t i;
	int r;

	m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	if (!m)
		return -ENOMEM;
	m->nmsrs = (uint32_t)n;
	for (i = 0; i < n; i++) {
		m->entries[i].index = boot[i].index;
		m->entries[i].data = boot[i].data;
	}
	r = ioctl(vcpu->fd, KVM_SET_MSRS, m);
	free(m);
	if (r < 0)
		return kvm_ioctl_err("KVM_SET_MSRS");
	/* KVM stops at the first MSR it refuses and returns the count. */
	if ((size_t)r != n)
		return -ENOTSUP;
	return 0;
}

static int vcpu_reset_fpu(struct accel_vcpu *vcpu)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return kvm_ioctl_err("KVM_SET_FPU");
	return 0;
}

static void lapic_set_mode(struct kvm_lapic_state *l, unsigned int reg,
			   uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], sizeof(v));
	v = (v & ~0x700u) | (mode << 8);
	memcpy(&l->regs[reg], &v, sizeof(v));
}

static int vcpu_set_lint(struct accel_vcpu *vcpu)
{
	struct kvm_lapic_state l;

	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &l) < 0)
		return kvm_ioctl_err("KVM_GET_LAPIC");
	lapic_set_mode(&l, APIC_LVT_LINT0, APIC_MODE_EXTINT);
	lapic_set_mode(&l, APIC_LVT_LINT1, APIC_MODE_NMI);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &l) < 0)
		return kvm_ioctl_err("KVM_SET_LAPIC");
	return 0;
}

int accel_vcpu_configure(struct accel_vcpu *vcpu,
			 const struct accel_cpu_topology *topo,
			 bool has_irqchip)
{
	int r;

	if (topo->nr_vcpus == 0 || topo->nr_vcpus > 255 ||
	    vcpu->id >= topo->nr_vcpus)
		return -EINVAL;
	r = vcpu_set_cpuid(vcpu, topo);
	if (r == 0)
		r = vcpu_set_boot_msrs(vcpu);
	if (r == 0)
		r = vcpu_reset_fpu(vcpu);
	if (r == 0 && has_irqchip)
		r = vcpu_set_lint(vcpu);
	return r;
}
