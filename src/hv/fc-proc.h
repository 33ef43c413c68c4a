/* SPDX-License-Identifier: Apache-2.0 */
/* Watching a VMM process while something else is waited for. */
#ifndef LG_HV_FC_PROC_H
#define LG_HV_FC_PROC_H

#include "hv/proc.h"

#include <stdbool.h>

/*
 * Has proc exited? Waits up to timeout_ms for it (0: just look) without
 * reaping it, so its owner still collects the status with lg_proc_reap().
 * *wstatus, when not NULL, gets its wait status once it has exited. False
 * when proc is NULL or has no pid.
 */
bool lg_fc_proc_exited(const struct lg_proc *proc, unsigned timeout_ms,
		       int *wstatus);

#endif
