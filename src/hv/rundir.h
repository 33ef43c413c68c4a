/* SPDX-License-Identifier: Apache-2.0 */
/* Per-VM runtime directories: PARENT/vm-<pid>-<random>, mode 0700. */
#ifndef LG_HV_RUNDIR_H
#define LG_HV_RUNDIR_H

#include <stddef.h>

/* Creates a fresh vm-<our pid>-<random> under parent; its path to buf. */
int lg_rundir_create(const char *parent, char *buf, size_t len, char *err,
		     size_t errlen);

/*
 * Removes vm-<pid>-* directories under parent whose pid no longer runs
 * (left behind by a luminaguard that was killed). Returns how many went.
 */
int lg_rundir_sweep(const char *parent);

/* Removes every file in dir, then dir itself; a missing dir is fine. */
int lg_rundir_remove(const char *dir);

#endif
