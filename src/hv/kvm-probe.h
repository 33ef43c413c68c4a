/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the KVM probe, for its tests. */
#ifndef LG_HV_KVM_PROBE_H
#define LG_HV_KVM_PROBE_H

#include <stddef.h>
#include <stdint.h>

/* How long the probe's loop may run before it is given up. */
#define LG_KVM_PROBE_RUN_MAX_MS 2000u

/*
 * Runs a real-mode loop of `iterations` (at least 1) in a throwaway KVM
 * VM and stores how long it ran in *ns. A timer ends KVM_RUN after max_ms
 * whatever the guest does: then -ETIMEDOUT with err, as for any failure.
 */
int lg_kvm_run_loop(uint32_t iterations, unsigned max_ms, uint64_t *ns,
		    char *err, size_t errlen);

#endif
