/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small VM for the snapshot tests: RAM of any size at 0, in-kernel
 * irqchip and PIT, a UART into a memfd, the count guest's ports, one vCPU
 * run on its own thread, stopped on request. (tests/vmm/harness.c has a
 * fixed RAM size and no irqchip, hence this.)
 */
#ifndef LG_TESTS_VMM_SNAP_VM_H
#define LG_TESTS_VMM_SNAP_VM_H

#include "vmm/serial.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* The count guest's (tests/vmm/guest/count.c). */
#define SNAP_PORT_BASE 0x500u
#define SNAP_PORT_EXIT 0x501u
#define SNAP_PORT_REPORT 0x503u
#define SNAP_PORT_TICK 0x504u
#define SNAP_PORT_TICK_X 0x505u
#define SNAP_PORT_TICK_TSC 0x506u
#define SNAP_PORT_TICK_CLOCK 0x507u
#define SNAP_TICK_ECHO 0x5a5a5a5au
#define SNAP_COUNT_TOTAL (1ull << 29)
#define SNAP_COUNT_TICK_SHIFT 21
#define SNAP_NR_TICKS                                                          \
	((unsigned int)(SNAP_COUNT_TOTAL >> SNAP_COUNT_TICK_SHIFT))
#define SNAP_MAX_REPORTS 32u
#define SNAP_LOAD_ADDR 0x100000ull
#define SNAP_MAP_SIZE (4ull << 30)

/* What the guest told its ports; written on the vCPU thread. */
struct snap_dev {
	struct vcpu *vcpu;
	bool exited;
	uint32_t exit_code;
	uint32_t reports[SNAP_MAX_REPORTS];
	unsigned int nr_reports;
	uint32_t cur_tick;   /* last PORT_TICK value */
	uint32_t first_tick; /* first PORT_TICK value seen, 0: none */
	uint32_t nr_ticks;   /* PORT_TICK writes (atomic) */
	bool ticks_in_order; /* each tick was the previous + 1 */
	uint32_t x_lo[SNAP_NR_TICKS + 1];     /* by tick */
	uint32_t tsc[SNAP_NR_TICKS + 1];      /* TSC / 256, by tick */
	uint32_t clock_us[SNAP_NR_TICKS + 1]; /* kvm-clock, by tick */
	uint32_t tick_reads;		      /* PORT_TICK reads */
	uint32_t last_tsc, last_clock_us;     /* latest written, any tick */
	/* Request a stop in the tick's read-back (an IN exit); 0: none. */
	uint32_t stop_at_tick;
	uint64_t first_exit_ns; /* first port access */
	unsigned int bad_accesses;
};

struct snap_vm {
	struct vm *vm;
	struct vcpu *vcpu;
	struct serial serial;
	bool serial_ready;
	int uart_fd;
	struct snap_dev dev;
	pthread_t thread;
	bool started;
	int done; /* atomic */
	int run_err;
	enum vcpu_stop_reason stop;
};

/* 0, or the accelerator's error (the caller skips on -ENODEV etc.). */
int snap_vm_create(struct snap_vm *s, uint64_t ram_size);
void snap_vm_destroy(struct snap_vm *s);

/* Loads a flat guest at SNAP_LOAD_ADDR and enters it in ring 3. */
int snap_vm_load(struct snap_vm *s, const char *path);

int snap_vm_start(struct snap_vm *s);
/* Waits up to timeout_ms for the vCPU thread to end by itself. */
bool snap_vm_wait(struct snap_vm *s, int timeout_ms);
/* Requests a stop and joins: 0, the run's error, or -ETIMEDOUT. */
int snap_vm_stop(struct snap_vm *s);

/* The UART output so far, NUL-terminated. */
int snap_vm_uart(struct snap_vm *s, char *buf, size_t size);

#endif
