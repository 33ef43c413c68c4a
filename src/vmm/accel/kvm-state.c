/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM vCPU state for snapshots: registers, FPU, APIC, events, MSRs, in a
 * blob (kvm-state-blob.h). MSRS payload: u32 count, u32 0, then count
 * struct kvm_msr_entry.
 */
#include "vmm/accel/accel-state.h"
#include "vmm/accel/kvm-priv.h"
#include "vmm/accel/kvm-state-blob.h"

#include "common/log.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define XSAVE_MIN 4096u /* struct kvm_xsave */
#define MAX_MSRS 256u
#define MAX_CPUID 256u /* KVM_MAX_CPUID_ENTRIES */

enum vcpu_tag {
	T_MP_STATE = 1,
	T_REGS,
	T_SREGS,
	T_XSAVE,
	T_FPU,
	T_XCRS,
	T_DEBUGREGS,
	T_LAPIC,
	T_MSRS,
	T_EVENTS,
	T_TSC_KHZ,
	T_CPUID,
	T_VCPU_LAST = T_CPUID,
};

/* Fixed payload sizes by tag; 0: variable, checked by its user. */
static const uint32_t vcpu_sizes[KVM_BLOB_MAX_TAGS] = {
	[T_MP_STATE] = sizeof(struct kvm_mp_state),
	[T_REGS] = sizeof(struct kvm_regs),
	[T_SREGS] = sizeof(struct kvm_sregs),
	[T_FPU] = sizeof(struct kvm_fpu),
	[T_XCRS] = sizeof(struct kvm_xcrs),
	[T_DEBUGREGS] = sizeof(struct kvm_debugregs),
	[T_LAPIC] = sizeof(struct kvm_lapic_state),
	[T_EVENTS] = sizeof(struct kvm_vcpu_events),
	[T_TSC_KHZ] = sizeof(uint32_t),
};

/* The size of KVM's xsave area here: 4096 unless XSAVE2 says more. */
static size_t kvm_xsave_size(struct accel *acc)
{
	int r = ioctl(acc->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return r > (int)XSAVE_MIN ? (size_t)r : XSAVE_MIN;
}

static bool kvm_has(struct accel *acc, int cap)
{
	return ioctl(acc->vm_fd, KVM_CHECK_EXTENSION, cap) > 0;
}

/*
 * The MSRs worth saving: KVM's list, filtered to what a Linux guest sets
 * and expects back, plus MTRRs and others KVM handles without listing.
 */
static bool msr_wanted(uint32_t i)
{
	return i == 0x10 ||		     /* TSC */
	       i == 0x11 || i == 0x12 ||     /* kvm-clock, old MSRs */
	       i == 0x3a ||		     /* FEATURE_CONTROL */
	       i == 0x3b ||		     /* TSC_ADJUST */
	       i == 0x48 ||		     /* SPEC_CTRL */
	       i == 0x140 ||		     /* MISC_FEATURES_ENABLES */
	       (i >= 0x174 && i <= 0x176) || /* SYSENTER_CS/ESP/EIP */
	       i == 0x1a0 ||		     /* MISC_ENABLE */
	       (i >= 0x200 && i <= 0x2ff) || /* MTRRs */
	       i == 0x277 ||		     /* PAT */
	       i == 0x6e0 ||		     /* TSC_DEADLINE */
	       i == 0xda0 ||		     /* XSS */
	       (i >= 0xc0000081 && i <= 0xc0000084) || /* STAR..FMASK */
	       i == 0xc0000102 ||		       /* KERNEL_GS_BASE */
	       i == 0xc0000103 ||		       /* TSC_AUX */
	       (i >= 0x4b564d00 && i <= 0x4b564dff);   /* kvm paravirt */
}

static const uint32_t msr_extra[] = {
	0x200,	    0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207, /* var */
	0x208,	    0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
	0x250,	    0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, /* fixed */
	0x26d,	    0x26e, 0x26f, 0x2ff, /* def type */
	0xc0000103,			 /* TSC_AUX, listed only with rdtscp */
};

static int msr_cmp(const void *a, const void *b)
{
	const struct kvm_msr_entry *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

/* Fills e with the wanted MSR indices, sorted, unique: the count. */
static int msr_candidates(struct accel *acc, struct kvm_msr_entry *e)
{
	struct kvm_msr_list *l;
	unsigned int i, n = 0, out = 0;

	l = calloc(1, sizeof(*l) + 1024 * sizeof(l->indices[0]));
	if (!l)
		return -ENOMEM;
	l->nmsrs = 1024;
	if (ioctl(acc->kvm_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		free(l);
		return kvm_ioctl_err("KVM_GET_MSR_INDEX_LIST");
	}
	for (i = 0; i < l->nmsrs && n < MAX_MSRS; i++)
		if (msr_wanted(l->indices[i]))
			e[n++].index = l->indices[i];
	free(l);
	for (i = 0; i < sizeof(msr_extra) / sizeof(msr_extra[0]); i++)
		if (n < MAX_MSRS)
			e[n++].index = msr_extra[i];
	qsort(e, n, sizeof(e[0]), msr_cmp);
	for (i = 0; i < n; i++)
		if (out == 0 || e[out - 1].index != e[i].index)
			e[out++] = e[i];
	return (int)out;
}

/*
 * Reads the candidates; KVM stops at the first it cannot read, which is
 * then dropped (not every listed MSR is readable on every host).
 */
static int msr_read(struct accel_vcpu *vcpu, struct kvm_msrs *m)
{
	unsigned int done = 0, total = m->nmsrs;
	struct kvm_msrs *part;
	int r = 0;

	part = calloc(1, sizeof(*part) + MAX_MSRS * sizeof(part->entries[0]));
	if (!part)
		return -ENOMEM;
	while (done < total) {
		part->nmsrs = total - done;
		memcpy(part->entries, &m->entries[done],
		       part->nmsrs * sizeof(part->entries[0]));
		r = ioctl(vcpu->fd, KVM_GET_MSRS, part);
		if (r < 0) {
			r = kvm_ioctl_err("KVM_GET_MSRS");
			break;
		}
		memcpy(&m->entries[done], part->entries,
		       (size_t)r * sizeof(part->entries[0]));
		done += (unsigned int)r;
		if (done < total) {
			lg_debug("kvm: MSR %#x not readable, not saved",
				 m->entries[done].index);
			memmove(&m->entries[done], &m->entries[done + 1],
				(total - done - 1) * sizeof(m->entries[0]));
			total--;
		}
		r = 0;
	}
	m->nmsrs = total;
	free(part);
	return r;
}

static int vcpu_save_msrs(struct accel_vcpu *vcpu, struct kvm_blob *b)
{
	struct kvm_msrs *m;
	int n, r;

	m = calloc(1, sizeof(*m) + MAX_MSRS * sizeof(m->entries[0]));
	if (!m)
		return -ENOMEM;
	n = msr_candidates(vcpu->acc, m->entries);
	if (n < 0) {
		free(m);
		return n;
	}
	m->nmsrs = (uint32_t)n;
	r = msr_read(vcpu, m);
	if (!r)
		kvm_blob_add(b, T_MSRS, m,
			     sizeof(*m) + m->nmsrs * sizeof(m->entries[0]));
	free(m);
	return r;
}

/* The record's payload in an aligned copy (records are only 8-aligned). */
static void *rec_copy(const struct kvm_record *r, size_t size)
{
	void *p = calloc(1, size > r->len ? size : r->len);

	if (p)
		memcpy(p, r->p, r->len);
	return p;
}

/*
 * The CPUID the vCPU was given: restored first, so the guest keeps the
 * CPU it saw even if this VMM would now describe the vCPU differently.
 */
static int vcpu_save_cpuid(struct accel_vcpu *vcpu, struct kvm_blob *b)
{
	struct kvm_cpuid2 *c;

	c = calloc(1, sizeof(*c) + MAX_CPUID * sizeof(c->entries[0]));
	if (!c)
		return -ENOMEM;
	c->nent = MAX_CPUID;
	if (ioctl(vcpu->fd, KVM_GET_CPUID2, c) < 0) {
		free(c);
		return kvm_ioctl_err("KVM_GET_CPUID2");
	}
	kvm_blob_add(b, T_CPUID, c,
		     sizeof(*c) + c->nent * sizeof(c->entries[0]));
	free(c);
	return 0;
}

static int vcpu_restore_cpuid(struct accel_vcpu *vcpu,
			      const struct kvm_record *r)
{
	struct kvm_cpuid2 *c;
	uint32_t n;
	int err = 0;

	if (!r->present)
		return 0;
	memcpy(&n, r->p, sizeof(n));
	if (n > MAX_CPUID ||
	    r->len != sizeof(*c) + (size_t)n * sizeof(c->entries[0])) {
		lg_err("kvm: CPUID record of %u bytes for %u entries", r->len,
		       n);
		return -EINVAL;
	}
	c = rec_copy(r, r->len);
	if (!c)
		return -ENOMEM;
	c->padding = 0;
	if (ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0)
		err = kvm_ioctl_err("KVM_SET_CPUID2");
	free(c);
	return err;
}

/*
 * KVM finishes a handled I/O or MMIO exit (stores an IN's data, moves
 * rip past the instruction) on the next KVM_RUN. With immediate_exit it
 * does only that and returns -EINTR.
 */
static int vcpu_complete_pending(struct accel_vcpu *vcpu)
{
	int r, err;

	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	r = ioctl(vcpu->fd, KVM_RUN, 0);
	err = errno;
	__atomic_store_n(&vcpu->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	if (r < 0 && (err == EINTR || err == EAGAIN))
		return 0;
	if (r < 0) {
		errno = err;
		return kvm_ioctl_err("KVM_RUN (completing I/O)");
	}
	lg_err("kvm: vcpu %u stopped inside a multi-part I/O (exit %u); run "
	       "it on before saving",
	       vcpu->id, vcpu->run->exit_reason);
	return -EBUSY;
}

#define GET(ioctl_nr, what, obj)                                               \
	do {                                                                   \
		if (ioctl(vcpu->fd, ioctl_nr, obj) < 0) {                      \
			err = kvm_ioctl_err(what);                             \
			goto out;                                              \
		}                                                              \
	} while (0)

int accel_vcpu_save(struct accel_vcpu *vcpu, uint8_t **blob, size_t *len)
{
	struct accel *acc = vcpu->acc;
	struct kvm_mp_state mp;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_lapic_state *lapic = NULL;
	struct kvm_vcpu_events ev;
	void *xsave = NULL;
	struct kvm_blob b;
	int err, khz;

	*blob = NULL;
	*len = 0;
	err = vcpu_complete_pending(vcpu);
	if (err < 0)
		return err;
	kvm_blob_init(&b, KVM_BLOB_MAGIC_VCPU);
	err = vcpu_save_cpuid(vcpu, &b);
	if (err < 0)
		goto out;
	GET(KVM_GET_MP_STATE, "KVM_GET_MP_STATE", &mp);
	kvm_blob_add(&b, T_MP_STATE, &mp, sizeof(mp));
	GET(KVM_GET_REGS, "KVM_GET_REGS", &regs);
	kvm_blob_add(&b, T_REGS, &regs, sizeof(regs));
	GET(KVM_GET_SREGS, "KVM_GET_SREGS", &sregs);
	kvm_blob_add(&b, T_SREGS, &sregs, sizeof(sregs));
	if (kvm_has(acc, KVM_CAP_XSAVE)) {
		size_t n = kvm_xsave_size(acc);

		xsave = calloc(1, n);
		if (!xsave) {
			err = -ENOMEM;
			goto out;
		}
		if (n > XSAVE_MIN)
			GET(KVM_GET_XSAVE2, "KVM_GET_XSAVE2", xsave);
		else
			GET(KVM_GET_XSAVE, "KVM_GET_XSAVE", xsave);
		kvm_blob_add(&b, T_XSAVE, xsave, n);
	} else {
		struct kvm_fpu fpu;

		GET(KVM_GET_FPU, "KVM_GET_FPU", &fpu);
		kvm_blob_add(&b, T_FPU, &fpu, sizeof(fpu));
	}
	if (kvm_has(acc, KVM_CAP_XCRS)) {
		struct kvm_xcrs xcrs;

		GET(KVM_GET_XCRS, "KVM_GET_XCRS", &xcrs);
		kvm_blob_add(&b, T_XCRS, &xcrs, sizeof(xcrs));
	}
	if (kvm_has(acc, KVM_CAP_DEBUGREGS)) {
		struct kvm_debugregs dr;

		GET(KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS", &dr);
		kvm_blob_add(&b, T_DEBUGREGS, &dr, sizeof(dr));
	}
	lapic = calloc(1, sizeof(*lapic));
	if (!lapic) {
		err = -ENOMEM;
		goto out;
	}
	/* Without an in-kernel irqchip there is no local APIC to save. */
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, lapic) == 0) {
		kvm_blob_add(&b, T_LAPIC, lapic, sizeof(*lapic));
	} else if (errno != ENXIO) {
		err = kvm_ioctl_err("KVM_GET_LAPIC");
		goto out;
	}
	khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	if (khz > 0) {
		uint32_t k = (uint32_t)khz;

		kvm_blob_add(&b, T_TSC_KHZ, &k, sizeof(k));
	}
	err = vcpu_save_msrs(vcpu, &b);
	if (err < 0)
		goto out;
	/* Last, as its pending exception/interrupt is the newest state. */
	GET(KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", &ev);
	kvm_blob_add(&b, T_EVENTS, &ev, sizeof(ev));
	free(xsave);
	free(lapic);
	return kvm_blob_finish(&b, blob, len);
out:
	free(xsave);
	free(lapic);
	free(b.buf);
	return err;
}

#undef GET

#define SET(ioctl_nr, what, obj)                                               \
	do {                                                                   \
		if (ioctl(vcpu->fd, ioctl_nr, obj) < 0) {                      \
			err = kvm_ioctl_err(what);                             \
			goto out;                                              \
		}                                                              \
	} while (0)

static int vcpu_check_records(struct accel_vcpu *vcpu,
			      const struct kvm_record recs[KVM_BLOB_MAX_TAGS])
{
	struct kvm_lapic_state *probe;
	bool vm_has_lapic;
	int r;

	if (!recs[T_CPUID].present || !recs[T_MP_STATE].present ||
	    !recs[T_REGS].present || !recs[T_SREGS].present ||
	    !recs[T_EVENTS].present || !recs[T_MSRS].present ||
	    recs[T_XSAVE].present == recs[T_FPU].present) {
		lg_err("kvm: vCPU state lacks required records");
		return -EINVAL;
	}
	if (recs[T_XSAVE].present &&
	    recs[T_XSAVE].len != kvm_xsave_size(vcpu->acc)) {
		lg_err("kvm: saved xsave area is %u bytes, this host's %zu",
		       recs[T_XSAVE].len, kvm_xsave_size(vcpu->acc));
		return -EINVAL;
	}
	if (recs[T_MSRS].len < sizeof(struct kvm_msrs)) {
		lg_err("kvm: short MSR record");
		return -EINVAL;
	}
	probe = calloc(1, sizeof(*probe));
	if (!probe)
		return -ENOMEM;
	r = ioctl(vcpu->fd, KVM_GET_LAPIC, probe);
	vm_has_lapic = r == 0;
	free(probe);
	if (r < 0 && errno != ENXIO)
		return kvm_ioctl_err("KVM_GET_LAPIC");
	if (vm_has_lapic != recs[T_LAPIC].present) {
		lg_err("kvm: the snapshot was taken %s an in-kernel irqchip, "
		       "this VM has %s",
		       recs[T_LAPIC].present ? "with" : "without",
		       vm_has_lapic ? "one" : "none");
		return -ENXIO;
	}
	return 0;
}

static int vcpu_restore_msrs(struct accel_vcpu *vcpu,
			     const struct kvm_record *r)
{
	struct kvm_msrs *m;
	uint32_t n;
	int set, err = 0;

	memcpy(&n, r->p, sizeof(n));
	if (n > MAX_MSRS ||
	    r->len != sizeof(*m) + (size_t)n * sizeof(m->entries[0])) {
		lg_err("kvm: MSR record of %u bytes for %u MSRs", r->len, n);
		return -EINVAL;
	}
	m = rec_copy(r, r->len);
	if (!m)
		return -ENOMEM;
	m->pad = 0;
	set = ioctl(vcpu->fd, KVM_SET_MSRS, m);
	if (set < 0) {
		err = kvm_ioctl_err("KVM_SET_MSRS");
	} else if ((uint32_t)set != n) {
		lg_err("kvm: MSR %#x not accepted (%d of %u set)",
		       m->entries[set].index, set, n);
		err = -EINVAL;
	}
	free(m);
	return err;
}

static void vcpu_restore_tsc_khz(struct accel_vcpu *vcpu,
				 const struct kvm_record *r)
{
	uint32_t khz;
	int now;

	if (!r->present)
		return;
	memcpy(&khz, r->p, sizeof(khz));
	now = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	if (now <= 0 || (uint32_t)now == khz)
		return;
	if (kvm_has(vcpu->acc, KVM_CAP_TSC_CONTROL) &&
	    ioctl(vcpu->fd, KVM_SET_TSC_KHZ, (unsigned long)khz) == 0)
		return;
	lg_warn("kvm: snapshot TSC runs at %u kHz, this host's at %d kHz; "
		"guest time may drift",
		khz, now);
}

/* Firecracker's order: the APIC after sregs (its base), MSRs
 * after the APIC (TSC deadline), events last. */
static const struct {
	unsigned int tag;
	unsigned long nr;
	const char *what;
} restore_steps[] = {
	{T_MP_STATE, KVM_SET_MP_STATE, "KVM_SET_MP_STATE"},
	{T_REGS, KVM_SET_REGS, "KVM_SET_REGS"},
	{T_SREGS, KVM_SET_SREGS, "KVM_SET_SREGS"},
	{T_XSAVE, KVM_SET_XSAVE, "KVM_SET_XSAVE"},
	{T_FPU, KVM_SET_FPU, "KVM_SET_FPU"},
	{T_XCRS, KVM_SET_XCRS, "KVM_SET_XCRS"},
	{T_DEBUGREGS, KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS"},
	{T_LAPIC, KVM_SET_LAPIC, "KVM_SET_LAPIC"},
	{T_MSRS, 0, NULL},
	{T_EVENTS, KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS"},
};

int accel_vcpu_restore(struct accel_vcpu *vcpu, const uint8_t *blob, size_t len)
{
	struct kvm_record recs[KVM_BLOB_MAX_TAGS];
	void *p = NULL;
	unsigned int i;
	int err;

	err = kvm_blob_parse(blob, len, KVM_BLOB_MAGIC_VCPU, vcpu_sizes,
			     T_VCPU_LAST, recs);
	if (err < 0)
		return err;
	err = vcpu_check_records(vcpu, recs);
	if (err < 0)
		return err;
	err = vcpu_restore_cpuid(vcpu, &recs[T_CPUID]);
	if (err < 0)
		return err;
	vcpu_restore_tsc_khz(vcpu, &recs[T_TSC_KHZ]);
	for (i = 0; i < sizeof(restore_steps) / sizeof(restore_steps[0]); i++) {
		const struct kvm_record *r = &recs[restore_steps[i].tag];

		if (!r->present)
			continue;
		if (restore_steps[i].tag == T_MSRS) {
			err = vcpu_restore_msrs(vcpu, r);
			if (err < 0)
				goto out;
			continue;
		}
		p = rec_copy(r, r->len);
		if (!p) {
			err = -ENOMEM;
			goto out;
		}
		SET(restore_steps[i].nr, restore_steps[i].what, p);
		free(p);
		p = NULL;
	}
	/* Tells a kvm-clock guest it was paused (no soft-lockup alarms);
	 * fails harmlessly when the guest has no kvm-clock. */
	if (ioctl(vcpu->fd, KVM_KVMCLOCK_CTRL, 0) < 0)
		lg_debug("kvm: KVM_KVMCLOCK_CTRL: %s", strerror(errno));
out:
	free(p);
	return err;
}

#undef SET
