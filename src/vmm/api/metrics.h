/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PUT /metrics and FlushMetrics: per-endpoint request counters and
 * latencies, written as one JSON line per flush as Firecracker does
 * (counters are the change since the previous line; latencies the last
 * value). Not thread safe: the API's lock covers it.
 */
#ifndef LG_VMM_API_METRICS_H
#define LG_VMM_API_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum api_counter {
	API_C_GET_INSTANCE_INFO,
	API_C_GET_VERSION,
	API_C_GET_MACHINE_CFG,
	API_C_GET_VM_CONFIG,
	API_C_PUT_ACTIONS,
	API_C_PUT_BOOT_SOURCE,
	API_C_PUT_DRIVE,
	API_C_PUT_ENTROPY,
	API_C_PUT_LOGGER,
	API_C_PUT_MACHINE_CFG,
	API_C_PUT_METRICS,
	API_C_PUT_NETWORK,
	API_C_PUT_SNAPSHOT_CREATE,
	API_C_PUT_SNAPSHOT_LOAD,
	API_C_PUT_SERIAL,
	API_C_PUT_VSOCK,
	API_C_PATCH_DRIVE,
	API_C_PATCH_MACHINE_CFG,
	API_C_PATCH_NETWORK,
	API_C_PATCH_VM,
	API_C_INVALID,	   /* unknown path or method */
	API_C_UNSUPPORTED, /* a Firecracker feature lgvmm lacks */
	API_C_NR,
};

enum api_latency {
	API_L_START_MICROVM,
	API_L_LOAD_SNAPSHOT,
	API_L_FULL_CREATE_SNAPSHOT,
	API_L_DIFF_CREATE_SNAPSHOT,
	API_L_PAUSE_VM,
	API_L_RESUME_VM,
	API_L_NR,
};

struct api_metrics {
	int fd; /* -1 until configured */
	uint64_t count[API_C_NR], fails[API_C_NR];
	uint64_t count_sent[API_C_NR], fails_sent[API_C_NR];
	uint64_t latency_us[API_L_NR];
	uint64_t missed, write_fails;
	uint64_t missed_sent, write_fails_sent;
	uint64_t log_missed_sent, log_fails_sent;
};

void api_metrics_init(struct api_metrics *m);
void api_metrics_count(struct api_metrics *m, enum api_counter c, bool failed);
void api_metrics_latency(struct api_metrics *m, enum api_latency l,
			 uint64_t us);
/* 0 or a negative errno with err set. */
int api_metrics_open(struct api_metrics *m, const char *path, char *err,
		     size_t err_size);
void api_metrics_close(struct api_metrics *m);
/*
 * Builds and writes one line; fill (may be NULL) adds the VMM's part.
 * 0, -ENODEV (not configured), -EAGAIN (lost on a full FIFO), or
 * another negative errno. A lost line's counters go into the next one.
 */
int api_metrics_write(struct api_metrics *m,
		      void (*fill)(void *opaque, json_t *metrics),
		      void *opaque);

#endif
