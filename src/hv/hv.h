/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hypervisor interface: one micro-VM, driven through a named backend
 * ("qemu", "lgvmm", "firecracker"). The orchestrator only sees this
 * header; backends live in their own files.
 */
#ifndef LG_HV_HV_H
#define LG_HV_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum lg_vm_state {
	LG_VM_STARTING,
	LG_VM_RUNNING,
	LG_VM_PAUSED,
	LG_VM_STOPPED,
	LG_VM_FAILED,
};

enum lg_accel {
	LG_ACCEL_AUTO, /* hardware KVM when the probe says so, else TCG */
	LG_ACCEL_KVM,
	LG_ACCEL_TCG,
};

struct lg_vm_config {
	const char *kernel; /* vmlinux (PVH) or bzImage */
	const char *initrd; /* may be NULL */
	const char
		*rootfs; /* read-only ext4 image attached as vda; may be NULL */
	const char *cmdline; /* extra kernel command line; may be NULL */
	unsigned vcpus;
	unsigned mem_mib;
	enum lg_accel accel;
	/* Parent of the per-VM runtime directory; NULL: lg_runtime_parent(). */
	const char *runtime_parent;
	unsigned boot_timeout_ms; /* until the guest agent's channel is open */
	/*
	 * Readable means "give up": lg_vm_agent_channel polls it while the
	 * guest boots and fails with -ECANCELED (e.g. a signalfd for Ctrl-C).
	 * 0 or -1: none, so a zero-initialised config has none.
	 */
	int cancel_fd;
	/*
	 * Cap on the guest console log in the runtime directory (often
	 * tmpfs, i.e. RAM), in bytes; 0: LG_VM_CONSOLE_MAX_DEFAULT. Console
	 * output past it is dropped, whatever it says (a late panic message
	 * too); the guest is not slowed or stopped. The QEMU backend applies
	 * it to each file QEMU writes (console.log and qemu.log).
	 */
	unsigned console_max_bytes;
};

#define LG_VM_CONSOLE_MAX_DEFAULT (16u << 20)

struct lg_vm_status {
	enum lg_vm_state state;
	char reason[512]; /* for FAILED and STOPPED: why, in words */
};

/* Timestamps (CLOCK_MONOTONIC ns) a backend records, for benchmarks. */
struct lg_vm_times {
	uint64_t spawn_start;	/* lg_vm_spawn entered */
	uint64_t process_ready; /* VMM process answers its control socket */
	uint64_t guest_start;	/* the guest's vCPUs were set running */
	uint64_t agent_open;	/* guest opened the agent channel */
	uint64_t stop_done;	/* lg_vm_stop returned */
};

struct lg_vm;

/*
 * Starts a VM; backend NULL: lg_hv_default_backend()'s choice, logged.
 * On failure nothing is left behind (process, dir, sockets).
 */
int lg_vm_spawn(const char *backend, const struct lg_vm_config *cfg,
		struct lg_vm **out, char *err, size_t errlen);

/*
 * Waits until the guest agent opened its channel and returns a connected,
 * blocking stream fd (owned by the VM; do not close). Fails with the VM's
 * reason (console tail included) when the guest dies or the timeout passes.
 */
int lg_vm_agent_channel(struct lg_vm *vm, int *fd, char *err, size_t errlen);

int lg_vm_status(struct lg_vm *vm, struct lg_vm_status *st);
/* Pause/resume/snapshot: -ENOTSUP where a backend lacks them. */
int lg_vm_pause(struct lg_vm *vm);
int lg_vm_resume(struct lg_vm *vm);
/* Stops the VM (graceful, then forced); idempotent. */
int lg_vm_stop(struct lg_vm *vm);
/* Stops if needed and frees everything, removing the runtime directory. */
void lg_vm_destroy(struct lg_vm *vm);

/* Last lines of the guest console, NUL-terminated, for error messages. */
size_t lg_vm_console_tail(struct lg_vm *vm, char *buf, size_t len,
			  unsigned lines);
const char *lg_vm_runtime_dir(const struct lg_vm *vm);
const char *lg_vm_accel_name(const struct lg_vm *vm);
const struct lg_vm_times *lg_vm_times(const struct lg_vm *vm);
/* Process id of the VMM while it runs (not yet reaped), else -1. */
long lg_vm_pid(const struct lg_vm *vm);

const char *lg_vm_state_name(enum lg_vm_state state);
/* Comma-separated backend names compiled in, for --help and errors. */
const char *lg_hv_backend_names(void);
bool lg_hv_backend_exists(const char *name);
/*
 * The backend to use when none is named: "lgvmm" where KVM is hardware
 * accelerated and lgvmm is found, else "qemu" (TCG). why says what
 * decided it. Runs the KVM probe (milliseconds).
 */
const char *lg_hv_default_backend(enum lg_accel accel, char *why, size_t len);

/*
 * Where per-VM runtime directories go: $LUMINAGUARD_RUNTIME_DIR, else
 * $XDG_RUNTIME_DIR/luminaguard, else /run/luminaguard for root, else
 * $TMPDIR/luminaguard-$UID. The path goes to buf and is made ready with
 * lg_runtime_dir_prepare().
 */
int lg_runtime_parent(char *buf, size_t len);

/*
 * Makes path usable as the parent of per-VM runtime directories: created
 * 0700 if missing, and it must be a directory. Where the directory holding
 * it is writable by others (e.g. /tmp), path must also not be a symlink
 * (-ELOOP), must be ours (-EPERM), and loses group/other permissions.
 * Returns 0 or -errno.
 */
int lg_runtime_dir_prepare(const char *path);

/*
 * Probe: is /dev/kvm usable and hardware accelerated? Returns true only
 * when it is; *why says what decided it.
 */
bool lg_kvm_hw_accelerated(const char **why);

/*
 * The timed part of that probe on its own, whatever the cheap checks say:
 * runs a real-mode countdown loop in a throwaway KVM VM and stores its
 * duration in *ns. -errno with err on failure (no /dev/kvm, KVM error).
 */
int lg_kvm_time_loop(uint64_t *ns, char *err, size_t errlen);

#endif
