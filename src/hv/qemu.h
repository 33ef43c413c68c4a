/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the QEMU backend shared between its files. */
#ifndef LG_HV_QEMU_H
#define LG_HV_QEMU_H

#include "hv/hv.h"
#include "hv/proc.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LG_QEMU_BINARY "qemu-system-x86_64"
/* qdev id of the agent's virtserialport, as VSERPORT_CHANGE reports it. */
#define LG_QEMU_AGENT_PORT_ID "agentport"
/* Files in the runtime directory. */
#define LG_QEMU_QMP_SOCK "qmp.sock"
#define LG_QEMU_AGENT_SOCK "agent.sock"
#define LG_QEMU_CONSOLE_LOG "console.log"
#define LG_QEMU_LOG "qemu.log"

#define LG_QEMU_QMP_CMD_MS 3000u
/* QMP closes just before QEMU exits: how long to wait for the exit. */
#define LG_QEMU_EXIT_SETTLE_MS 2000u
#define LG_QEMU_DEFAULT_BOOT_TIMEOUT_MS 60000u

struct lg_qmp;

/* The backend's state behind struct lg_vm. */
struct qemu_vm {
	struct lg_proc proc; /* pid -1 when there is none (never, or reaped) */
	int wstatus;	     /* once reaped */
	bool stop_requested;
	bool agent_open;
	int agent_fd;
	struct lg_qmp *qmp;
	unsigned boot_timeout_ms;
	int cancel_fd; /* readable: stop waiting for the boot (-1: none) */
	const char *accel;
	struct lg_vm_times times;
	enum lg_vm_state final_state; /* once reaped */
	char final_reason[512];
	char rundir[PATH_MAX];
};

struct lg_qemu_args {
	const struct lg_vm_config *cfg;
	const char *exe;    /* path of qemu-system-x86_64 */
	const char *rundir; /* sockets and logs go here */
	bool kvm;	    /* -accel kvm -cpu host, else tcg/max */
};

/* The NULL-terminated argv to start QEMU; free with lg_qemu_argv_free. */
char **lg_qemu_argv(const struct lg_qemu_args *a, char *err, size_t errlen);
void lg_qemu_argv_free(char **argv);

/* qemu-spawn.c: starts QEMU and connects to it. */
int lg_qemu_spawn(const struct lg_vm_config *cfg, void **impl, char *err,
		  size_t errlen);
/* qemu.c: stops QEMU if needed, frees vm, removes its runtime dir. */
void lg_qemu_destroy(void *impl);

/* qemu-exit.c: reaps QEMU if it exited (waiting up to wait_ms) and then
 * sets final_state/final_reason. True once there is no process. */
bool lg_qemu_gone(struct qemu_vm *vm, unsigned wait_ms);
/* ... and records an exit status obtained elsewhere (after a kill). */
void lg_qemu_exited(struct qemu_vm *vm, int wstatus);

/* qemu.c helpers. */
/* RUNDIR/file into buf (empty if it does not fit). */
void lg_qemu_path(const struct qemu_vm *vm, const char *file, char *buf,
		  size_t len);
/* Appends "\nWHAT:\n<last lines of RUNDIR/file>" to err. */
void lg_qemu_append_tail(const struct qemu_vm *vm, const char *file,
			 const char *what, unsigned lines, char *err,
			 size_t errlen);

#endif
