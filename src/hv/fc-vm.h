/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the backends for VMMs that speak Firecracker's API
 * (`lgvmm`, `firecracker`): one implementation, parameterised by the
 * VMM's name and executable. See fc-spawn.c for the start-up sequence.
 */
#ifndef LG_HV_FC_VM_H
#define LG_HV_FC_VM_H

#include "hv/backend.h"
#include "hv/hv.h"
#include "hv/proc.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Files in the runtime directory. */
#define LG_FC_API_SOCK "api.sock"
#define LG_FC_VSOCK_SOCK "vsock.sock"
#define LG_FC_CONSOLE_LOG "console.log"

/* Guest CIDs 0-2 are reserved; one VM per VMM, so always 3. */
#define LG_FC_GUEST_CID 3u
#define LG_FC_DEFAULT_BOOT_TIMEOUT_MS 60000u
/* A VMM that exits right after an API error: how long to wait for it. */
#define LG_FC_EXIT_SETTLE_MS 500u

struct lg_fc_client;

/* The backend's state behind struct lg_vm. */
struct fc_vm {
	const char *name;    /* "lgvmm", "firecracker": static string */
	struct lg_proc proc; /* pid -1 when there is none (never, or reaped) */
	int wstatus;	     /* once reaped */
	bool started;	     /* InstanceStart succeeded */
	bool paused;
	bool stop_requested;
	bool agent_open;
	int agent_fd;
	struct lg_fc_client *api;
	unsigned boot_timeout_ms;
	int cancel_fd; /* readable: stop waiting for the boot (-1: none) */
	struct lg_vm_times times;
	enum lg_vm_state final_state; /* once reaped */
	char final_reason[512];
	char rundir[PATH_MAX];
};

/*
 * fc-spawn.c: starts the VMM at exe (no checks of the host: the backend
 * made them), configures the VM over the API and starts it. Any failure
 * tears everything down.
 */
int lg_fc_vm_spawn(const char *name, const char *exe,
		   const struct lg_vm_config *cfg, void **impl, char *err,
		   size_t errlen);

/* fc-exit.c: reaps the VMM if it exited (waiting up to wait_ms) and then
 * sets final_state/final_reason. True once there is no process. */
bool lg_fc_vm_gone(struct fc_vm *vm, unsigned wait_ms);
/* ... and records an exit status obtained elsewhere (after a kill). */
void lg_fc_vm_exited(struct fc_vm *vm, int wstatus);

/* fc-vm.c helpers. RUNDIR/file into buf (empty if it does not fit). */
void lg_fc_vm_path(const struct fc_vm *vm, const char *file, char *buf,
		   size_t len);
/* Appends "\nconsole tail:\n<last lines of the console log>" to err. */
void lg_fc_vm_append_tail(const struct fc_vm *vm, char *err, size_t errlen);

/* fc-vm.c: the struct lg_hv_backend operations. */
int lg_fc_vm_agent_channel(void *impl, int *fd, char *err, size_t errlen);
int lg_fc_vm_status(void *impl, struct lg_vm_status *st);
int lg_fc_vm_pause(void *impl);
int lg_fc_vm_resume(void *impl);
int lg_fc_vm_stop(void *impl);
void lg_fc_vm_destroy(void *impl);
size_t lg_fc_vm_console_tail(void *impl, char *buf, size_t len, unsigned lines);
const char *lg_fc_vm_runtime_dir(const void *impl);
const char *lg_fc_vm_accel_name(const void *impl);
const struct lg_vm_times *lg_fc_vm_times(const void *impl);
pid_t lg_fc_vm_pid(const void *impl);

/* A backend table entry for a Firecracker-API VMM with its own spawn. */
#define LG_FC_BACKEND(backend_name, spawn_fn)                                  \
	{                                                                      \
		.name = (backend_name), .spawn = (spawn_fn),                   \
		.agent_channel = lg_fc_vm_agent_channel,                       \
		.status = lg_fc_vm_status, .pause = lg_fc_vm_pause,            \
		.resume = lg_fc_vm_resume, .stop = lg_fc_vm_stop,              \
		.destroy = lg_fc_vm_destroy,                                   \
		.console_tail = lg_fc_vm_console_tail,                         \
		.runtime_dir = lg_fc_vm_runtime_dir,                           \
		.accel_name = lg_fc_vm_accel_name, .times = lg_fc_vm_times,    \
		.pid = lg_fc_vm_pid,                                           \
	}

/*
 * Refuses a host where the named VMM cannot boot Linux: --accel tcg, or a
 * KVM that is not hardware accelerated. 0 or -errno with err.
 */
int lg_fc_check_host(const char *name, enum lg_accel accel, char *err,
		     size_t errlen);

#endif
