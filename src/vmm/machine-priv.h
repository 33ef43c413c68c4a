/* SPDX-License-Identifier: Apache-2.0 */
/* struct machine, shared by machine*.c only. */
#ifndef LG_VMM_MACHINE_PRIV_H
#define LG_VMM_MACHINE_PRIV_H

#include "vmm/machine.h"
#include "vmm/serial.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#include <pthread.h>
#include <stdbool.h>

struct i8042;
struct virtio_mmio;
struct virtio_vsock;
struct vmm_drive;

/* One virtio-mmio slot. */
struct machine_virtio {
	struct machine *m;
	uint32_t gsi;
	uint64_t base;
	struct virtio_mmio *mmio;
	void *dev;
	void (*destroy)(void *dev);
	const struct vmm_drive *drive; /* for a block device */
};

enum machine_want { MACHINE_RUN, MACHINE_PAUSE, MACHINE_EXIT };

struct machine_cpus {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum machine_want want;
	unsigned int alive;  /* threads running */
	unsigned int parked; /* threads waiting in a pause */
	pthread_t threads[VMM_MAX_VCPUS];
	bool started[VMM_MAX_VCPUS];
};

struct machine {
	const struct vmm_config *cfg; /* &own_cfg */
	struct vmm_config own_cfg;
	struct evloop *loop;
	struct vm *vm;
	unsigned int nr_vcpus;
	struct vcpu *vcpus[VMM_MAX_VCPUS];
	struct machine_cpus cpus;

	struct serial serial;
	bool serial_ready;
	int serial_in_fd;

	struct i8042 *i8042;
	struct machine_virtio virtio[MACHINE_MAX_VIRTIO];
	unsigned int nr_virtio;
	struct virtio_vsock *vsock;

	machine_exit_fn on_exit;
	void *opaque;
	int exited; /* atomic: on_exit called */
};

/* Calls on_exit once; later calls are ignored. */
void machine_guest_exit(struct machine *m, int status, const char *why);

int machine_cpus_init(struct machine *m);
void machine_cpus_stop(struct machine *m);

/* Steps of machine_create() that a restore shares. */
struct machine *machine_alloc(const struct machine_params *p, int *err);
int machine_create_vm(struct machine *m, char *err, size_t err_size);
int machine_add_serial(struct machine *m, const struct machine_params *p);
/* Starts the vCPU threads parked, as after machine_pause(). */
int machine_start_paused(struct machine *m, char *err, size_t err_size);

/* i8042 and the configured virtio devices. */
int machine_add_devices(struct machine *m, char *err, size_t err_size);
void machine_remove_devices(struct machine *m);
/* The kernel command line: boot args, root device, virtio devices. */
int machine_cmdline(struct machine *m, char *buf, size_t size, char *err,
		    size_t err_size);

/*
 * Loads kernel and initrd, writes the boot information with cmdline and
 * the MP table, and sets up vCPU 0.
 */
int machine_load_kernel(struct machine *m, const char *cmdline, char *err,
			size_t err_size);

#endif
