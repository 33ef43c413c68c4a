/* SPDX-License-Identifier: Apache-2.0 */
/* vCPU run loop and exit dispatch. */
#include "vmm/vcpu.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t vcpu_signal_once = PTHREAD_ONCE_INIT;
static int vcpu_signal_err;

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

static void vcpu_signal_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		vcpu_signal_err = -errno;
}

int vcpu_create(struct vm *vm, uint32_t id, struct vcpu **out)
{
	struct vcpu *vcpu;
	int err;

	*out = NULL;
	pthread_once(&vcpu_signal_once, vcpu_signal_setup);
	if (vcpu_signal_err)
		return vcpu_signal_err;
	vcpu = calloc(1, sizeof(*vcpu));
	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	err = accel_vcpu_create(vm->acc, id, &vcpu->acc);
	if (err < 0) {
		free(vcpu);
		return err;
	}
	*out = vcpu;
	return 0;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (!vcpu)
		return;
	accel_vcpu_destroy(vcpu->acc);
	free(vcpu);
}

void vcpu_request_stop(struct vcpu *vcpu)
{
	__atomic_store_n(&vcpu->stop_requested, 1, __ATOMIC_SEQ_CST);
	/* Covers a run about to start; the signal ends one in progress. */
	accel_vcpu_kick(vcpu->acc);
	if (__atomic_load_n(&vcpu->in_run, __ATOMIC_SEQ_CST) &&
	    !pthread_equal(vcpu->thread, pthread_self()))
		pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

static int vcpu_handle_io(struct vcpu *vcpu, const struct accel_exit *e)
{
	uint32_t i;
	int err;

	vcpu->stats.exits_io++;
	/* The accelerator checked that size * count bytes are there. */
	for (i = 0; i < e->io.count; i++) {
		err = bus_access(&vcpu->vm->pio, e->io.port,
				 e->io.data + (size_t)i * e->io.size,
				 e->io.size, e->io.is_write);
		if (err < 0) {
			lg_err("vmm: vcpu %u: port %#x: %s", vcpu->id,
			       e->io.port, strerror(-err));
			return err;
		}
	}
	return 0;
}

static int vcpu_handle_mmio(struct vcpu *vcpu, const struct accel_exit *e)
{
	int err;

	vcpu->stats.exits_mmio++;
	err = bus_access(&vcpu->vm->mmio, e->mmio.addr, e->mmio.data,
			 e->mmio.len, e->mmio.is_write);
	if (err < 0)
		lg_err("vmm: vcpu %u: MMIO %#llx: %s", vcpu->id,
		       (unsigned long long)e->mmio.addr, strerror(-err));
	return err;
}

static void vcpu_log_rip(struct vcpu *vcpu)
{
	struct x86_regs regs;

	if (accel_vcpu_get_regs(vcpu->acc, &regs) == 0)
		lg_err("vmm: vcpu %u: rip %#llx", vcpu->id,
		       (unsigned long long)regs.rip);
}

/* 1: stop with *why; 0: run on; < 0: error. */
static int vcpu_handle_exit(struct vcpu *vcpu, const struct accel_exit *e,
			    enum vcpu_stop_reason *why)
{
	switch (e->reason) {
	case ACCEL_EXIT_IO:
		return vcpu_handle_io(vcpu, e);
	case ACCEL_EXIT_MMIO:
		return vcpu_handle_mmio(vcpu, e);
	case ACCEL_EXIT_INTR:
		vcpu->stats.exits_intr++;
		return 0;
	case ACCEL_EXIT_HLT:
		*why = VCPU_STOP_HLT;
		return 1;
	case ACCEL_EXIT_SHUTDOWN:
		*why = VCPU_STOP_SHUTDOWN;
		return 1;
	case ACCEL_EXIT_INTERNAL:
		lg_err("vmm: vcpu %u: internal error, suberror %u", vcpu->id,
		       e->internal.suberror);
		vcpu_log_rip(vcpu);
		return -EIO;
	case ACCEL_EXIT_FAIL_ENTRY:
		lg_err("vmm: vcpu %u: entry failed, reason %#llx", vcpu->id,
		       (unsigned long long)e->fail_entry.reason);
		return -EINVAL;
	default:
		lg_err("vmm: vcpu %u: unexpected exit %u", vcpu->id,
		       e->other.code);
		vcpu_log_rip(vcpu);
		return -ENOTSUP;
	}
}

int vcpu_run(struct vcpu *vcpu, enum vcpu_stop_reason *why)
{
	struct accel_exit e;
	int r;

	vcpu->thread = pthread_self();
	__atomic_store_n(&vcpu->in_run, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		if (__atomic_load_n(&vcpu->stop_requested, __ATOMIC_SEQ_CST)) {
			*why = VCPU_STOP_REQUESTED;
			r = 0;
			break;
		}
		r = accel_vcpu_run(vcpu->acc, &e);
		if (r < 0)
			break;
		r = vcpu_handle_exit(vcpu, &e, why);
		if (r < 0)
			break;
		if (r > 0) {
			r = 0;
			break;
		}
	}
	__atomic_store_n(&vcpu->in_run, 0, __ATOMIC_SEQ_CST);
	return r;
}

const char *vcpu_stop_reason_name(enum vcpu_stop_reason why)
{
	switch (why) {
	case VCPU_STOP_HLT:
		return "hlt";
	case VCPU_STOP_SHUTDOWN:
		return "shutdown";
	case VCPU_STOP_REQUESTED:
		return "stop requested";
	}
	return "?";
}
