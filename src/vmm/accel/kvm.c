/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM accelerator (Linux). The only file that includes <linux/kvm.h>:
 * it turns kvm_run exits into struct accel_exit and checks every offset
 * and length the kernel reports before handing a pointer up.
 */
#include "vmm/accel/accel.h"
#include "vmm/accel/kvm-priv.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KVM_DEVICE "/dev/kvm"
#define KVM_CPUID_MAX_ENTRIES 1024u

int kvm_ioctl_err(const char *what)
{
	int err = errno;

	lg_err("kvm: %s: %s", what, strerror(err));
	return -err;
}

static int kvm_cpuid_fetch(struct accel *acc)
{
	uint32_t nent;

	for (nent = 64; nent <= KVM_CPUID_MAX_ENTRIES; nent *= 2) {
		struct kvm_cpuid2 *c;

		c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = nent;
		if (ioctl(acc->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			acc->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return kvm_ioctl_err("KVM_GET_SUPPORTED_CPUID");
	}
	lg_err("kvm: more than %u CPUID entries", KVM_CPUID_MAX_ENTRIES);
	return -E2BIG;
}

static int kvm_check_caps(struct accel *acc)
{
	static const struct {
		int cap;
		const char *name;
	} caps[] = {
		{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY"},
		{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT"},
		{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID"},
	};
	size_t i;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		int r = ioctl(acc->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap);

		if (r < 0)
			return kvm_ioctl_err("KVM_CHECK_EXTENSION");
		if (r == 0) {
			lg_err("kvm: %s is missing", caps[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

int accel_create(struct accel **out)
{
	struct accel *acc;
	int r;

	*out = NULL;
	acc = calloc(1, sizeof(*acc));
	if (!acc)
		return -ENOMEM;
	acc->vm_fd = -1;
	acc->kvm_fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
	if (acc->kvm_fd < 0) {
		r = -errno;
		lg_err("kvm: open %s: %s", KVM_DEVICE, strerror(-r));
		goto fail;
	}
	r = ioctl(acc->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r < 0) {
		r = kvm_ioctl_err("KVM_GET_API_VERSION");
		goto fail;
	}
	if (r != KVM_API_VERSION) {
		lg_err("kvm: API version %d, need %d", r, KVM_API_VERSION);
		r = -ENOTSUP;
		goto fail;
	}
	r = kvm_check_caps(acc);
	if (r < 0)
		goto fail;
	r = ioctl(acc->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r < 0) {
		r = kvm_ioctl_err("KVM_GET_VCPU_MMAP_SIZE");
		goto fail;
	}
	if ((size_t)r < sizeof(struct kvm_run)) {
		lg_err("kvm: vCPU mmap size %d too small", r);
		r = -EINVAL;
		goto fail;
	}
	acc->run_size = (size_t)r;
	r = kvm_cpuid_fetch(acc);
	if (r < 0)
		goto fail;
	do {
		acc->vm_fd = ioctl(acc->kvm_fd, KVM_CREATE_VM, 0);
	} while (acc->vm_fd < 0 && errno == EINTR);
	if (acc->vm_fd < 0) {
		r = kvm_ioctl_err("KVM_CREATE_VM");
		goto fail;
	}
	*out = acc;
	return 0;
fail:
	accel_destroy(acc);
	return r;
}

void accel_destroy(struct accel *acc)
{
	if (!acc)
		return;
	if (acc->vm_fd >= 0)
		close(acc->vm_fd);
	if (acc->kvm_fd >= 0)
		close(acc->kvm_fd);
	free(acc->cpuid);
	free(acc);
}

int accel_map_memory(struct accel *acc, uint32_t slot, uint64_t gpa,
		     uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	if (ioctl(acc->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return kvm_ioctl_err("KVM_SET_USER_MEMORY_REGION");
	return 0;
}

int accel_vcpu_create(struct accel *acc, uint32_t id, struct accel_vcpu **out)
{
	struct accel_vcpu *vcpu;
	void *run;
	int r;

	*out = NULL;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->acc = acc;
	vcpu->id = id;
	vcpu->fd = ioctl(acc->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		r = kvm_ioctl_err("KVM_CREATE_VCPU");
		goto fail;
	}
	run = mmap(NULL, acc->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vcpu->fd, 0);
	if (run == MAP_FAILED) {
		r = kvm_ioctl_err("mmap kvm_run");
		goto fail;
	}
	vcpu->run = run;
	/* Without it even fxsave faults on some KVMs (ENVIRONMENT.md). */
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, acc->cpuid) < 0) {
		r = kvm_ioctl_err("KVM_SET_CPUID2");
		goto fail;
	}
	*out = vcpu;
	return 0;
fail:
	accel_vcpu_destroy(vcpu);
	return r;
}

void accel_vcpu_destroy(struct accel_vcpu *vcpu)
{
	if (!vcpu)
		return;
	if (vcpu->run)
		munmap(vcpu->run, vcpu->acc->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	free(vcpu);
}

int accel_vcpu_get_regs(struct accel_vcpu *vcpu, struct x86_regs *regs)
{
	struct kvm_regs k;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &k) < 0)
		return kvm_ioctl_err("KVM_GET_REGS");
	*regs = (struct x86_regs){
		.rax = k.rax,
		.rbx = k.rbx,
		.rcx = k.rcx,
		.rdx = k.rdx,
		.rsi = k.rsi,
		.rdi = k.rdi,
		.rsp = k.rsp,
		.rbp = k.rbp,
		.r8 = k.r8,
		.r9 = k.r9,
		.r10 = k.r10,
		.r11 = k.r11,
		.r12 = k.r12,
		.r13 = k.r13,
		.r14 = k.r14,
		.r15 = k.r15,
		.rip = k.rip,
		.rflags = k.rflags,
	};
	return 0;
}

int accel_vcpu_set_regs(struct accel_vcpu *vcpu, const struct x86_regs *regs)
{
	struct kvm_regs k = {
		.rax = regs->rax,
		.rbx = regs->rbx,
		.rcx = regs->rcx,
		.rdx = regs->rdx,
		.rsi = regs->rsi,
		.rdi = regs->rdi,
		.rsp = regs->rsp,
		.rbp = regs->rbp,
		.r8 = regs->r8,
		.r9 = regs->r9,
		.r10 = regs->r10,
		.r11 = regs->r11,
		.r12 = regs->r12,
		.r13 = regs->r13,
		.r14 = regs->r14,
		.r15 = regs->r15,
		.rip = regs->rip,
		.rflags = regs->rflags,
	};

	if (ioctl(vcpu->fd, KVM_SET_REGS, &k) < 0)
		return kvm_ioctl_err("KVM_SET_REGS");
	return 0;
}

static void seg_from_kvm(struct x86_segment *s, const struct kvm_segment *k)
{
	*s = (struct x86_segment){
		.base = k->base,
		.limit = k->limit,
		.selector = k->selector,
		.type = k->type,
		.present = k->present,
		.dpl = k->dpl,
		.db = k->db,
		.s = k->s,
		.l = k->l,
		.g = k->g,
		.avl = k->avl,
		.unusable = k->unusable,
	};
}

static void seg_to_kvm(struct kvm_segment *k, const struct x86_segment *s)
{
	*k = (struct kvm_segment){
		.base = s->base,
		.limit = s->limit,
		.selector = s->selector,
		.type = s->type,
		.present = s->present,
		.dpl = s->dpl,
		.db = s->db,
		.s = s->s,
		.l = s->l,
		.g = s->g,
		.avl = s->avl,
		.unusable = s->unusable,
	};
}

int accel_vcpu_get_sregs(struct accel_vcpu *vcpu, struct x86_sregs *sregs)
{
	struct kvm_sregs k;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &k) < 0)
		return kvm_ioctl_err("KVM_GET_SREGS");
	memset(sregs, 0, sizeof(*sregs));
	seg_from_kvm(&sregs->cs, &k.cs);
	seg_from_kvm(&sregs->ds, &k.ds);
	seg_from_kvm(&sregs->es, &k.es);
	seg_from_kvm(&sregs->fs, &k.fs);
	seg_from_kvm(&sregs->gs, &k.gs);
	seg_from_kvm(&sregs->ss, &k.ss);
	seg_from_kvm(&sregs->tr, &k.tr);
	seg_from_kvm(&sregs->ldt, &k.ldt);
	sregs->gdt = (struct x86_dtable){k.gdt.base, k.gdt.limit};
	sregs->idt = (struct x86_dtable){k.idt.base, k.idt.limit};
	sregs->cr0 = k.cr0;
	sregs->cr2 = k.cr2;
	sregs->cr3 = k.cr3;
	sregs->cr4 = k.cr4;
	sregs->cr8 = k.cr8;
	sregs->efer = k.efer;
	sregs->apic_base = k.apic_base;
	return 0;
}

int accel_vcpu_set_sregs(struct accel_vcpu *vcpu, const struct x86_sregs *sregs)
{
	struct kvm_sregs k;

	/* Start from KVM's view so fields we do not model keep their value. */
	if (ioctl(vcpu->fd, KVM_GET_SREGS, &k) < 0)
		return kvm_ioctl_err("KVM_GET_SREGS");
	seg_to_kvm(&k.cs, &sregs->cs);
	seg_to_kvm(&k.ds, &sregs->ds);
	seg_to_kvm(&k.es, &sregs->es);
	seg_to_kvm(&k.fs, &sregs->fs);
	seg_to_kvm(&k.gs, &sregs->gs);
	seg_to_kvm(&k.ss, &sregs->ss);
	seg_to_kvm(&k.tr, &sregs->tr);
	seg_to_kvm(&k.ldt, &sregs->ldt);
	k.gdt.base = sregs->gdt.base;
	k.gdt.limit = sregs->gdt.limit;
	k.idt.base = sregs->idt.base;
	k.idt.limit = sregs->idt.limit;
	k.cr0 = sregs->cr0;
	k.cr2 = sregs->cr2;
	k.cr3 = sregs->cr3;
	k.cr4 = sregs->cr4;
	k.cr8 = sregs->cr8;
	k.efer = sregs->efer;
	k.apic_base = sregs->apic_base;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &k) < 0)
		return kvm_ioctl_err("KVM_SET_SREGS");
	return 0;
}

static int kvm_decode_io(struct accel_vcpu *vcpu, struct accel_exit *exit)
{
	const struct kvm_run *run = vcpu->run;
	uint64_t bytes, off = run->io.data_offset;
	uint8_t size = run->io.size;

	if (size != 1 && size != 2 && size != 4) {
		lg_err("kvm: I/O exit with size %u", size);
		return -EPROTO;
	}
	bytes = (uint64_t)size * run->io.count;
	if (run->io.count == 0 || off > vcpu->acc->run_size ||
	    bytes > vcpu->acc->run_size - off) {
		lg_err("kvm: I/O exit data (offset %llu, %u x %u) outside "
		       "kvm_run",
		       (unsigned long long)off, run->io.count, size);
		return -EPROTO;
	}
	exit->reason = ACCEL_EXIT_IO;
	exit->io.port = run->io.port;
	exit->io.size = size;
	exit->io.is_write = run->io.direction == KVM_EXIT_IO_OUT;
	exit->io.count = run->io.count;
	exit->io.data = (uint8_t *)vcpu->run + off;
	return 0;
}

static int kvm_decode_mmio(struct accel_vcpu *vcpu, struct accel_exit *exit)
{
	struct kvm_run *run = vcpu->run;

	if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data)) {
		lg_err("kvm: MMIO exit with length %u", run->mmio.len);
		return -EPROTO;
	}
	exit->reason = ACCEL_EXIT_MMIO;
	exit->mmio.addr = run->mmio.phys_addr;
	exit->mmio.len = run->mmio.len;
	exit->mmio.is_write = run->mmio.is_write;
	exit->mmio.data = run->mmio.data;
	return 0;
}

static int kvm_decode(struct accel_vcpu *vcpu, struct accel_exit *exit)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		return kvm_decode_io(vcpu, exit);
	case KVM_EXIT_MMIO:
		return kvm_decode_mmio(vcpu, exit);
	case KVM_EXIT_HLT:
		exit->reason = ACCEL_EXIT_HLT;
		return 0;
	case KVM_EXIT_SHUTDOWN:
		exit->reason = ACCEL_EXIT_SHUTDOWN;
		return 0;
	case KVM_EXIT_INTR:
		exit->reason = ACCEL_EXIT_INTR;
		return 0;
	case KVM_EXIT_INTERNAL_ERROR:
		exit->reason = ACCEL_EXIT_INTERNAL;
		exit->internal.suberror = run->internal.suberror;
		return 0;
	case KVM_EXIT_FAIL_ENTRY:
		exit->reason = ACCEL_EXIT_FAIL_ENTRY;
		exit->fail_entry.reason =
			run->fail_entry.hardware_entry_failure_reason;
		return 0;
	default:
		exit->reason = ACCEL_EXIT_OTHER;
		exit->other.code = run->exit_reason;
		return 0;
	}
}

int accel_vcpu_run(struct accel_vcpu *vcpu, struct accel_exit *exit)
{
	memset(exit, 0, sizeof(*exit));
	if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
		if (errno == EINTR || errno == EAGAIN) {
			/* A kick: rearm for the next request. */
			__atomic_store_n(&vcpu->run->immediate_exit, 0,
					 __ATOMIC_SEQ_CST);
			exit->reason = ACCEL_EXIT_INTR;
			return 0;
		}
		return kvm_ioctl_err("KVM_RUN");
	}
	return kvm_decode(vcpu, exit);
}

void accel_vcpu_kick(struct accel_vcpu *vcpu)
{
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}
