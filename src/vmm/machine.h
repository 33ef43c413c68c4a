/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lgvmm machine: a VM built from a struct vmm_config - RAM around the
 * 32-bit MMIO hole, in-kernel irqchip and PIT, the legacy devices (UART,
 * i8042), virtio-mmio devices, the kernel loaded for PVH or the 64-bit
 * boot protocol - and its vCPU threads, which can be paused and resumed.
 */
#ifndef LG_VMM_MACHINE_H
#define LG_VMM_MACHINE_H

#include "vmm/api/api.h"
#include "vmm/config.h"
#include "vmm/event-loop.h"

#include <stddef.h>
#include <stdint.h>

/* Guest-physical layout of the virtio-mmio devices and their GSIs. */
#define MACHINE_VIRTIO_BASE 0xd0000000ull
#define MACHINE_VIRTIO_STRIDE 0x1000ull
#define MACHINE_VIRTIO_FIRST_GSI 5u
#define MACHINE_MAX_VIRTIO 8u
#define MACHINE_SERIAL_GSI 4u
#define MACHINE_I8042_GSI 1u

struct machine;

/*
 * The guest ended: status 0 for a guest reset or power-off (Firecracker
 * exits on CPU reset), nonzero for a VMM failure; why says which. Called
 * once, from a vCPU or device thread.
 */
typedef void (*machine_exit_fn)(void *opaque, int status, const char *why);

struct machine_params {
	const struct vmm_config *cfg;
	struct evloop *loop; /* the VMM thread's loop (devices, stdin) */
	int serial_out_fd;   /* not owned; -1 discards the console */
	int serial_in_fd;    /* not owned; -1: no console input */
	machine_exit_fn on_exit;
	void *opaque;
};

/*
 * Builds the machine, loads the kernel; the vCPUs do not run yet.
 * 0, or a negative errno with a message in err.
 */
int machine_create(const struct machine_params *p, struct machine **out,
		   char *err, size_t err_size);
/* Stops and joins the vCPUs, frees every device and the VM. */
void machine_destroy(struct machine *m);
/* Stops and joins the vCPUs only; the devices stay (to drain them). */
void machine_stop(struct machine *m);

/* Starts one thread per vCPU. */
int machine_start(struct machine *m, char *err, size_t err_size);
/* Returns once every vCPU is out of the guest and parked. */
int machine_pause(struct machine *m);
int machine_resume(struct machine *m);

/*
 * With the machine paused: writes the memory file, then the state file
 * (its appearance means the snapshot is complete).
 */
int machine_snapshot_create(struct machine *m, const char *state_path,
			    const char *mem_path, char *err, size_t err_size);

/*
 * Builds the machine a snapshot describes (p->cfg is ignored: the state
 * file holds the configuration, returned in *cfg_out), maps its memory
 * file privately and loads the state; then starts the vCPUs, parked
 * unless lp->resume_vm.
 */
int machine_restore(const struct machine_params *p,
		    const struct vmm_snapshot_load_params *lp,
		    struct vmm_config *cfg_out, struct machine **out, char *err,
		    size_t err_size);

/*
 * PATCH /drives: drive_id's device switches to the file at path (same
 * read-only mode) and tells the guest its capacity may have changed.
 */
int machine_drive_update(struct machine *m, const char *drive_id,
			 const char *path, char *err, size_t err_size);

/* Presses Ctrl-Alt-Del on the i8042 keyboard. */
int machine_ctrl_alt_del(struct machine *m);

/* Counters for the metrics line. */
struct machine_stats {
	uint64_t exits_io, exits_mmio, exits_intr;
	uint64_t serial_tx_bytes, serial_tx_dropped;
};
void machine_get_stats(struct machine *m, struct machine_stats *st);

#endif
