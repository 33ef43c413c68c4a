// SPDX-License-Identifier: Apache-2.0
#include "rec-ops.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Counts the call; nonzero when the test asked this op to fail. */
static int rec_call(struct rec *r, enum rec_op op, char *err, size_t n)
{
	r->calls[op]++;
	if (!r->fail[op])
		return 0;
	snprintf(err, n, "recorded failure of op %d", (int)op);
	return -r->fail[op];
}

static int rec_start(void *opaque, const struct vmm_config *cfg, char *err,
		     size_t n)
{
	struct rec *r = opaque;
	int ret = rec_call(r, REC_START, err, n);

	if (ret)
		return ret;
	vmm_config_free(&r->started);
	return vmm_config_copy(&r->started, cfg);
}

static int rec_pause(void *opaque, char *err, size_t n)
{
	return rec_call(opaque, REC_PAUSE, err, n);
}

static int rec_resume(void *opaque, char *err, size_t n)
{
	return rec_call(opaque, REC_RESUME, err, n);
}

static int rec_cad(void *opaque, char *err, size_t n)
{
	return rec_call(opaque, REC_CAD, err, n);
}

static int rec_create(void *opaque, const struct vmm_snapshot_create_params *p,
		      char *err, size_t n)
{
	struct rec *r = opaque;
	int ret = rec_call(r, REC_SNAP_CREATE, err, n);

	if (ret)
		return ret;
	free(r->create.snapshot_path);
	free(r->create.mem_file_path);
	r->create.snapshot_path = dup_or_null(p->snapshot_path);
	r->create.mem_file_path = dup_or_null(p->mem_file_path);
	r->create.diff = p->diff;
	return 0;
}

static int rec_load(void *opaque, const struct vmm_snapshot_load_params *p,
		    struct vmm_config *cfg, char *err, size_t n)
{
	struct rec *r = opaque;
	int ret = rec_call(r, REC_SNAP_LOAD, err, n);

	if (ret)
		return ret;
	free(r->load.snapshot_path);
	free(r->load.mem_file_path);
	free(r->load.vsock_uds_override);
	r->load = *p;
	r->load.snapshot_path = dup_or_null(p->snapshot_path);
	r->load.mem_file_path = dup_or_null(p->mem_file_path);
	r->load.vsock_uds_override = dup_or_null(p->vsock_uds_override);
	/* The "restored" machine: 2 vCPUs, 256 MiB, a boot source. */
	cfg->machine.vcpu_count = 2;
	cfg->machine.mem_size_mib = 256;
	cfg->boot.set = true;
	cfg->boot.kernel_image_path = strdup("restored-kernel");
	return cfg->boot.kernel_image_path ? 0 : -ENOMEM;
}

static int rec_drive_update(void *opaque, const char *id, const char *path,
			    char *err, size_t n)
{
	struct rec *r = opaque;
	int ret = rec_call(r, REC_DRIVE_UPDATE, err, n);

	if (ret)
		return ret;
	snprintf(r->drive_id, sizeof(r->drive_id), "%s", id);
	snprintf(r->drive_path, sizeof(r->drive_path), "%s", path);
	return 0;
}

static void rec_fill(void *opaque, json_t *metrics)
{
	struct rec *r = opaque;

	r->calls[REC_METRICS_FILL]++;
	json_object_set_new(
		metrics, "vmm",
		json_pack("{s:i}", "fills", r->calls[REC_METRICS_FILL]));
}

const struct api_vmm_ops rec_ops = {
	.instance_start = rec_start,
	.pause = rec_pause,
	.resume = rec_resume,
	.send_ctrl_alt_del = rec_cad,
	.snapshot_create = rec_create,
	.snapshot_load = rec_load,
	.drive_update = rec_drive_update,
	.metrics_fill = rec_fill,
};

void rec_init(struct rec *r)
{
	memset(r, 0, sizeof(*r));
	vmm_config_init(&r->started);
}

void rec_free(struct rec *r)
{
	vmm_config_free(&r->started);
	free(r->create.snapshot_path);
	free(r->create.mem_file_path);
	free(r->load.snapshot_path);
	free(r->load.mem_file_path);
	free(r->load.vsock_uds_override);
	memset(r, 0, sizeof(*r));
}
