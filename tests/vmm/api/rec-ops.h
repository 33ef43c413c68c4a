/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A VMM for the API tests: records every op call and its arguments, and
 * fails the ops it is told to fail.
 */
#ifndef LG_TESTS_VMM_API_REC_OPS_H
#define LG_TESTS_VMM_API_REC_OPS_H

#include "vmm/api/api.h"

enum rec_op {
	REC_START,
	REC_PAUSE,
	REC_RESUME,
	REC_CAD,
	REC_SNAP_CREATE,
	REC_SNAP_LOAD,
	REC_DRIVE_UPDATE,
	REC_METRICS_FILL,
	REC_NR,
};

struct rec {
	int calls[REC_NR];
	int fail[REC_NR];	   /* nonzero: that op returns -fail[op] */
	struct vmm_config started; /* copy of the cfg InstanceStart got */
	struct vmm_snapshot_create_params create;
	struct vmm_snapshot_load_params load;
	char drive_id[80];
	char drive_path[256];
};

extern const struct api_vmm_ops rec_ops;

void rec_init(struct rec *r);
void rec_free(struct rec *r);

#endif
