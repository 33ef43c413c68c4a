/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ring-3 test-guest harness: a VM with RAM at 0, a UART capturing its
 * output, test devices, and a vCPU put straight into 64-bit long mode at
 * CPL3 (this host's KVM emulates ring 0 slowly; ring 3 runs natively).
 */
#ifndef LG_VMM_TEST_HARNESS_H
#define LG_VMM_TEST_HARNESS_H

#include "vmm/serial.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#include <stdbool.h>
#include <stdint.h>

#define HARNESS_RAM_SIZE (16ull << 20)
#define HARNESS_MAP_SIZE (4ull << 30) /* identity-mapped, user, 2 MiB pages */
#define HARNESS_LOAD_ADDR 0x100000ull
#define HARNESS_PORT_BASE 0x500u
#define HARNESS_PORT_EXIT 0x501u
#define HARNESS_PORT_BENCH 0x502u
#define HARNESS_PORT_REPORT 0x503u
#define HARNESS_MMIO_BASE 0xd0000000ull
#define HARNESS_MMIO_SIZE 0x1000ull
#define HARNESS_MMIO_BENCH 0x800ull
#define HARNESS_MAX_REPORTS 64u
#define HARNESS_MAX_MMIO_LOG 16u
#define HARNESS_TIMEOUT_S 10
/* virtio-mmio slots, where QEMU's microvm machine puts them. */
#define HARNESS_VIRTIO_BASE 0xfeb00000ull
#define HARNESS_VIRTIO_STRIDE 0x200ull
#define HARNESS_VIRTIO_SLOTS 8u

struct harness_mmio_access {
	uint64_t offset;
	uint32_t len;
	uint64_t data;
};

/* What the test devices saw. */
struct harness_devices {
	struct vcpu *vcpu;
	bool exited;
	uint32_t exit_code;
	uint32_t reports[HARNESS_MAX_REPORTS];
	unsigned int nr_reports;
	struct harness_mmio_access mmio_log[HARNESS_MAX_MMIO_LOG];
	unsigned int nr_mmio_log;
	uint64_t pio_bench_n, pio_bench_first_ns, pio_bench_last_ns;
	uint64_t mmio_bench_n, mmio_bench_first_ns, mmio_bench_last_ns;
	unsigned int overflow; /* log entries that did not fit */
};

struct harness {
	struct vm *vm;
	struct vcpu *vcpu;
	struct serial serial;
	bool serial_ready;
	int uart_fd; /* memfd holding the UART output */
	struct harness_devices dev;
	enum vcpu_stop_reason stop;
	uint64_t run_ns;
	unsigned int nr_virtio; /* slots taken by harness_attach_virtio() */
	uint64_t virtio_irqs;	/* atomic: raised virtio interrupts */
};

/* 0; -ENODEV etc. when the accelerator is unavailable (caller skips). */
int harness_create(struct harness *h);
void harness_destroy(struct harness *h);

/* Loads a flat guest image at HARNESS_LOAD_ADDR and sets up the vCPU. */
int harness_load(struct harness *h, const char *path);

/*
 * Runs the guest to its stop, on a vCPU thread, for at most
 * HARNESS_TIMEOUT_S: 0, or -ETIMEDOUT, or the vcpu_run() error.
 */
int harness_run(struct harness *h);

/* Prints the vCPU's main registers to stderr (for failures). */
void harness_dump(struct harness *h);

/* The UART output so far, NUL-terminated, in buf. */
int harness_uart_output(struct harness *h, char *buf, size_t size);

/*
 * virtio devices and the VMM event loop (harness-virtio.c, linked by the
 * device tests only, with lg_vmm_devices_dep).
 */
struct evloop;
struct virtio_mmio;

/*
 * Registers dev in the next free slot, HARNESS_VIRTIO_BASE + slot *
 * HARNESS_VIRTIO_STRIDE: the slot number, or a negative errno (-ENOSPC
 * when all HARNESS_VIRTIO_SLOTS are taken). The device must outlive
 * the harness's runs; destroy it before harness_destroy().
 */
int harness_attach_virtio(struct harness *h, struct virtio_mmio *dev);

/*
 * A virtio_irq_fn for devices under the harness, opaque = the harness:
 * ring-3 guests take no interrupts, so raised ones are only counted.
 */
void harness_virtio_irq(void *opaque, bool level);

/* An event loop running on its own thread, as the VMM thread would. */
struct harness_loop {
	struct evloop *loop;
	pthread_t thread;
	bool running;
	int err; /* evloop_run()'s result once stopped */
};

/* Creates the loop; devices register with it before it starts. */
int harness_loop_create(struct harness_loop *hl);
int harness_loop_start(struct harness_loop *hl);
/*
 * Stops and joins the thread (idempotent); the loop stays, so devices
 * can unregister from it while being destroyed.
 */
void harness_loop_stop(struct harness_loop *hl);
/* Stops if needed and frees the loop. */
void harness_loop_free(struct harness_loop *hl);

#endif
