/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A vCPU and its run loop: run the guest, hand each PIO/MMIO exit to the
 * bus, stop on hlt, shutdown, an error or a stop request.
 */
#ifndef LG_VMM_VCPU_H
#define LG_VMM_VCPU_H

#include "vmm/accel/accel.h"
#include "vmm/vm.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>

/* Sent to a vCPU thread to end a KVM_RUN; vcpu_create installs a no-op
 * handler for it (without SA_RESTART). */
#define VCPU_KICK_SIGNAL (SIGRTMIN + 1)

enum vcpu_stop_reason {
	VCPU_STOP_HLT,
	VCPU_STOP_SHUTDOWN,  /* the guest triple-faulted or asked to reset */
	VCPU_STOP_REQUESTED, /* vcpu_request_stop() */
};

struct vcpu_stats {
	uint64_t exits_io;
	uint64_t exits_mmio;
	uint64_t exits_intr;
};

struct vcpu {
	struct vm *vm;
	struct accel_vcpu *acc;
	uint32_t id;
	void *opaque;	    /* the owner's, e.g. the machine */
	int stop_requested; /* atomic */
	int in_run;	    /* atomic: thread is valid */
	pthread_t thread;
	struct vcpu_stats stats; /* owned by the vCPU thread */
};

int vcpu_create(struct vm *vm, uint32_t id, struct vcpu **out);
void vcpu_destroy(struct vcpu *vcpu);

/*
 * Runs the guest on the calling thread until it stops: 0 and *why, or a
 * negative errno (accelerator failure, guest state the accelerator
 * refused or could not emulate, a device failure).
 */
int vcpu_run(struct vcpu *vcpu, enum vcpu_stop_reason *why);

/*
 * Asks vcpu_run() to return VCPU_STOP_REQUESTED soon. Callable from any
 * thread, from a device handler on the vCPU thread, and from a signal
 * handler, while the thread that ran vcpu_run() has not been joined.
 */
void vcpu_request_stop(struct vcpu *vcpu);

const char *vcpu_stop_reason_name(enum vcpu_stop_reason why);

#endif
