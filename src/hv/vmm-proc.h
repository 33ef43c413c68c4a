/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the backends that run a VMM process (fc-*.c for the
 * Firecracker-API VMMs, qemu-*.c for QEMU) do alike: check the files a
 * VM boots from, make its runtime directory, open the log the process
 * writes to, and reap the process.
 */
#ifndef LG_HV_VMM_PROC_H
#define LG_HV_VMM_PROC_H

#include "hv/hv.h"
#include "hv/proc.h"

#include <stdbool.h>
#include <stddef.h>

/* The kernel, and the initrd and rootfs image if given: readable files. */
int lg_vmm_check_config(const struct lg_vm_config *cfg, char *err,
			size_t errlen);

/*
 * Prepares the runtime parent (cfg's, or lg_runtime_parent()), sweeps
 * what dead runs left there and creates a fresh runtime directory in it,
 * its path to rundir (empty on failure). Fails with -ENAMETOOLONG when
 * RUNDIR/longest_sock would not fit in a Unix socket address.
 */
int lg_vmm_make_rundir(const struct lg_vm_config *cfg, const char *longest_sock,
		       char *rundir, size_t len, char *err, size_t errlen);

/*
 * Creates (truncates) the file at path for the process's stdout and
 * stderr, into opts->log_fd (the caller closes it once the process is
 * started), and caps the size of the files the process writes at cfg's
 * console limit: the log is usually on tmpfs, so a guest flooding its
 * console would fill RAM. With SIGXFSZ ignored, writes past the cap fail
 * and the VMM and the guest carry on; output after the cap is lost.
 */
int lg_vmm_open_log(const struct lg_vm_config *cfg, const char *path,
		    struct lg_proc_opts *opts, char *err, size_t errlen);

/*
 * Reaps proc if it exited, waiting up to wait_ms: true with *wstatus set
 * when it did (255 when waitpid failed, warned about as name's), false
 * while it runs. proc must have a pid; it is left for the caller to
 * release.
 */
bool lg_vmm_reaped(const struct lg_proc *proc, const char *name,
		   unsigned wait_ms, int *wstatus);

#endif
