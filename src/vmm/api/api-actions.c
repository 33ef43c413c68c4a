// SPDX-License-Identifier: Apache-2.0
/*
 * Requests that act on the machine: InstanceStart and the other
 * actions, pause/resume, snapshots and the post-boot updates. These are
 * the ones that call into the VMM (struct api_vmm_ops).
 */
#include "vmm/api/api-internal.h"

#include "vmm/api/jfield.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void no_op(struct api_response *r, const char *what)
{
	api_reply_fault(r, 400,
			"The requested operation is not supported: %s is not "
			"implemented by this VMM.",
			what);
}

/* The op's message, or the errno's text when it left none. */
static const char *op_msg(char *err, size_t err_size, int ret)
{
	if (!err[0])
		snprintf(err, err_size, "%s", strerror(ret < 0 ? -ret : EIO));
	return err;
}

static int parse_fail(struct api_response *r, int ret, const char *err)
{
	api_reply_parse_error(r, ret, "Invalid request", err);
	return ret;
}

int api_start_locked(struct api *api, char *err, size_t err_size)
{
	char detail[API_ERR_SIZE] = "";
	uint64_t t0;
	int ret;

	if (api->load_failed) {
		snprintf(err, err_size,
			 "Start microvm error: a snapshot load failed in this "
			 "process; start a new one.");
		return -EBUSY;
	}
	if (api_state(api) != VMM_STATE_NOT_STARTED) {
		snprintf(err, err_size,
			 "The requested operation is not supported after "
			 "starting the microVM.");
		return -EBUSY;
	}
	if (!api->cfg.boot.set) {
		snprintf(err, err_size,
			 "Start microvm error: Cannot start microvm without "
			 "kernel configuration.");
		return -EINVAL;
	}
	if (!api->ops.instance_start) {
		snprintf(err, err_size,
			 "Start microvm error: not implemented by this VMM.");
		return -EOPNOTSUPP;
	}
	t0 = api_now_us();
	ret = api->ops.instance_start(api->opaque, &api->cfg, detail,
				      sizeof(detail));
	if (ret) {
		snprintf(err, err_size, "Start microvm error: %s",
			 detail[0] ? detail : strerror(-ret));
		return ret < 0 ? ret : -EIO;
	}
	api_metrics_latency(&api->metrics, API_L_START_MICROVM,
			    api_now_us() - t0);
	atomic_store(&api->state, VMM_STATE_RUNNING);
	return 0;
}

static void flush_action(struct api *api, struct api_response *r)
{
	int ret = api_flush_locked(api);

	if (ret == -ENODEV)
		api_reply_fault(r, 400,
				"Metrics error: the metrics system is not "
				"configured (PUT /metrics first).");
	else if (ret)
		api_reply_fault(r, 400,
				"Internal VMM error: the metrics line could "
				"not be written: %s.",
				strerror(-ret));
	else
		api_reply_empty(r);
}

void api_put_actions(struct api *api, struct api_request *rq,
		     struct api_response *r)
{
	static const char *const keys[] = {"action_type", NULL};
	static const char *const actions[] = {"FlushMetrics", "InstanceStart",
					      "SendCtrlAltDel", NULL};
	char err[API_ERR_SIZE];
	int action = 0, ret;

	ret = jf_check_keys(rq->body, keys, err, sizeof(err));
	if (!ret)
		ret = jf_enum(rq->body, "action_type", true, actions, &action,
			      err, sizeof(err));
	if (ret) {
		parse_fail(r, ret, err);
		return;
	}
	switch (action) {
	case 0:
		flush_action(api, r);
		return;
	case 1:
		if (api_start_locked(api, err, sizeof(err)))
			api_reply_fault(r, 400, "%s", err);
		else
			api_reply_empty(r);
		return;
	default:
		break;
	}
	if (api_state(api) == VMM_STATE_NOT_STARTED) {
		api_reply_not_started(r);
		return;
	}
	if (!api->ops.send_ctrl_alt_del) {
		no_op(r, "SendCtrlAltDel");
		return;
	}
	err[0] = '\0';
	ret = api->ops.send_ctrl_alt_del(api->opaque, err, sizeof(err));
	if (ret)
		api_reply_fault(r, 400, "Internal VMM error: %s",
				op_msg(err, sizeof(err), ret));
	else
		api_reply_empty(r);
}

void api_patch_vm(struct api *api, struct api_request *rq,
		  struct api_response *r)
{
	static const char *const keys[] = {"state", NULL};
	static const char *const states[] = {"Paused", "Resumed", NULL};
	char err[API_ERR_SIZE] = "";
	enum vmm_state want;
	uint64_t t0;
	int st = 0, ret;

	ret = jf_check_keys(rq->body, keys, err, sizeof(err));
	if (!ret)
		ret = jf_enum(rq->body, "state", true, states, &st, err,
			      sizeof(err));
	if (ret) {
		parse_fail(r, ret, err);
		return;
	}
	if (api_state(api) == VMM_STATE_NOT_STARTED) {
		api_reply_not_started(r);
		return;
	}
	want = st == 0 ? VMM_STATE_PAUSED : VMM_STATE_RUNNING;
	if (api_state(api) == want) {
		/* Already there: nothing to do, as Firecracker. */
		api_reply_empty(r);
		return;
	}
	if (!(want == VMM_STATE_PAUSED ? api->ops.pause : api->ops.resume)) {
		no_op(r, want == VMM_STATE_PAUSED ? "pause" : "resume");
		return;
	}
	t0 = api_now_us();
	err[0] = '\0';
	ret = want == VMM_STATE_PAUSED
		      ? api->ops.pause(api->opaque, err, sizeof(err))
		      : api->ops.resume(api->opaque, err, sizeof(err));
	if (ret) {
		api_reply_fault(r, 400, "Internal VMM error: %s",
				op_msg(err, sizeof(err), ret));
		return;
	}
	api_metrics_latency(&api->metrics,
			    want == VMM_STATE_PAUSED ? API_L_PAUSE_VM
						     : API_L_RESUME_VM,
			    api_now_us() - t0);
	atomic_store(&api->state, want);
	api_reply_empty(r);
}

void api_put_snapshot_create(struct api *api, struct api_request *rq,
			     struct api_response *r)
{
	static const char *const keys[] = {"snapshot_path", "mem_file_path",
					   "snapshot_type", NULL};
	static const char *const types[] = {"Full", "Diff", NULL};
	struct vmm_snapshot_create_params p = {0};
	char err[API_ERR_SIZE] = "";
	uint64_t t0;
	int type = 0, ret;

	ret = jf_check_keys(rq->body, keys, err, sizeof(err));
	if (!ret)
		ret = jf_string(rq->body, "snapshot_path", true,
				VMM_MAX_PATH_LEN, &p.snapshot_path, err,
				sizeof(err));
	if (!ret)
		ret = jf_string(rq->body, "mem_file_path", true,
				VMM_MAX_PATH_LEN, &p.mem_file_path, err,
				sizeof(err));
	if (!ret)
		ret = jf_enum(rq->body, "snapshot_type", false, types, &type,
			      err, sizeof(err));
	if (ret) {
		parse_fail(r, ret, err);
		goto out;
	}
	p.diff = type == 1;
	if (api_state(api) == VMM_STATE_NOT_STARTED) {
		api_reply_not_started(r);
		goto out;
	}
	if (api_state(api) != VMM_STATE_PAUSED) {
		api_reply_fault(r, 400,
				"Create snapshot error: the microVM must be "
				"paused first (PATCH /vm {\"state\": "
				"\"Paused\"}).");
		goto out;
	}
	if (p.diff && !api->cfg.machine.track_dirty_pages) {
		api_reply_fault(r, 400,
				"Create snapshot error: Diff snapshots are not "
				"allowed on uVMs with dirty page tracking "
				"disabled.");
		goto out;
	}
	if (!api->ops.snapshot_create) {
		no_op(r, "snapshot creation");
		goto out;
	}
	t0 = api_now_us();
	err[0] = '\0';
	ret = api->ops.snapshot_create(api->opaque, &p, err, sizeof(err));
	if (ret) {
		api_reply_fault(r, 400, "Create snapshot error: %s",
				op_msg(err, sizeof(err), ret));
		goto out;
	}
	api_metrics_latency(&api->metrics,
			    p.diff ? API_L_DIFF_CREATE_SNAPSHOT
				   : API_L_FULL_CREATE_SNAPSHOT,
			    api_now_us() - t0);
	api_reply_empty(r);
out:
	free(p.snapshot_path);
	free(p.mem_file_path);
}

/* mem_backend {backend_type, backend_path} or the deprecated path. */
static int parse_mem_backend(const json_t *body, char **path, bool *depr,
			     char *err, size_t err_size)
{
	static const char *const keys[] = {"backend_type", "backend_path",
					   NULL};
	static const char *const types[] = {"File", "Uffd", NULL};
	const json_t *mb = jf_get(body, "mem_backend");
	int type = 0, ret;

	if (mb && jf_get(body, "mem_file_path")) {
		snprintf(err, err_size,
			 "too many fields: either `mem_backend` or "
			 "`mem_file_path` exclusively is required");
		return -EINVAL;
	}
	if (!mb && !jf_get(body, "mem_file_path")) {
		snprintf(err, err_size,
			 "missing field: either `mem_backend` or "
			 "`mem_file_path` is required");
		return -EINVAL;
	}
	if (!mb) {
		*depr = true;
		return jf_string(body, "mem_file_path", true, VMM_MAX_PATH_LEN,
				 path, err, err_size);
	}
	ret = jf_expect_keys(mb, "`mem_backend`", keys, err, err_size);
	if (!ret)
		ret = jf_enum(mb, "backend_type", true, types, &type, err,
			      err_size);
	if (!ret)
		ret = jf_string(mb, "backend_path", true, VMM_MAX_PATH_LEN,
				path, err, err_size);
	if (!ret && type == 1) {
		snprintf(err, err_size,
			 "`backend_type` \"Uffd\" is not supported by lgvmm "
			 "(only \"File\")");
		ret = -EOPNOTSUPP;
	}
	return ret;
}

static int parse_load(const json_t *body, struct vmm_snapshot_load_params *p,
		      bool *depr, char *err, size_t err_size)
{
	static const char *const keys[] = {
		"snapshot_path",     "mem_backend",
		"mem_file_path",     "enable_diff_snapshots",
		"track_dirty_pages", "resume_vm",
		"network_overrides", "vsock_override",
		"clock_realtime",    NULL,
	};
	static const char *const vkeys[] = {"uds_path", NULL};
	const json_t *v;
	bool diff = false, realtime = false;
	int ret;

	ret = jf_check_keys(body, keys, err, err_size);
	if (!ret)
		ret = jf_string(body, "snapshot_path", true, VMM_MAX_PATH_LEN,
				&p->snapshot_path, err, err_size);
	if (!ret)
		ret = parse_mem_backend(body, &p->mem_file_path, depr, err,
					err_size);
	if (!ret)
		ret = jf_bool(body, "enable_diff_snapshots", false, &diff, err,
			      err_size);
	if (!ret)
		ret = jf_bool(body, "track_dirty_pages", false,
			      &p->track_dirty_pages, err, err_size);
	if (!ret)
		ret = jf_bool(body, "resume_vm", false, &p->resume_vm, err,
			      err_size);
	if (!ret)
		ret = jf_bool(body, "clock_realtime", false, &realtime, err,
			      err_size);
	if (ret)
		return ret;
	if (json_object_get(body, "enable_diff_snapshots"))
		*depr = true;
	p->track_dirty_pages |= diff;
	if (realtime) {
		snprintf(err, err_size,
			 "`clock_realtime` is not supported by lgvmm");
		return -EOPNOTSUPP;
	}
	v = jf_get(body, "network_overrides");
	if (v && !json_is_array(v)) {
		snprintf(err, err_size,
			 "invalid type: expected an array for "
			 "`network_overrides`");
		return -EINVAL;
	}
	if (v && json_array_size(v)) {
		snprintf(err, err_size,
			 "`network_overrides` is not supported by lgvmm");
		return -EOPNOTSUPP;
	}
	v = jf_get(body, "vsock_override");
	if (!v)
		return 0;
	ret = jf_expect_keys(v, "`vsock_override`", vkeys, err, err_size);
	if (!ret)
		ret = jf_string(v, "uds_path", true, VMM_MAX_VSOCK_UDS_LEN,
				&p->vsock_uds_override, err, err_size);
	return ret;
}

/* The restored machine's configuration, keeping the API's own sections. */
static void adopt_restored(struct api *api, struct vmm_config *restored)
{
	vmm_logger_free(&restored->logger);
	vmm_metrics_free(&restored->metrics);
	vmm_serial_free(&restored->serial);
	restored->logger = api->cfg.logger;
	restored->metrics = api->cfg.metrics;
	restored->serial = api->cfg.serial;
	memset(&api->cfg.logger, 0, sizeof(api->cfg.logger));
	memset(&api->cfg.metrics, 0, sizeof(api->cfg.metrics));
	memset(&api->cfg.serial, 0, sizeof(api->cfg.serial));
	vmm_config_free(&api->cfg);
	api->cfg = *restored;
	vmm_config_init(restored);
}

void api_put_snapshot_load(struct api *api, struct api_request *rq,
			   struct api_response *r)
{
	struct vmm_snapshot_load_params p = {0};
	char err[API_ERR_SIZE] = "";
	struct vmm_config restored;
	bool depr = false;
	uint64_t t0;
	int ret;

	vmm_config_init(&restored);
	ret = parse_load(rq->body, &p, &depr, err, sizeof(err));
	if (ret) {
		parse_fail(r, ret, err);
		goto out;
	}
	if (api_state(api) != VMM_STATE_NOT_STARTED) {
		api_reply_started(r);
		goto out;
	}
	if (api->boot_path || api->load_failed) {
		api_reply_fault(r, 400,
				"Load snapshot error: Loading a microVM "
				"snapshot not allowed after configuring "
				"boot-specific resources%s.",
				api->load_failed ? " or a failed load" : "");
		goto out;
	}
	if (!api->ops.snapshot_load) {
		no_op(r, "snapshot loading");
		goto out;
	}
	t0 = api_now_us();
	err[0] = '\0';
	p.serial_out_path = api->cfg.serial.serial_out_path;
	ret = api->ops.snapshot_load(api->opaque, &p, &restored, err,
				     sizeof(err));
	if (ret) {
		/* The VMM may be half built: no second attempt here. */
		api->load_failed = true;
		api_reply_fault(r, 400,
				"Load snapshot error: Failed to restore from "
				"snapshot: %s",
				op_msg(err, sizeof(err), ret));
		goto out;
	}
	api_metrics_latency(&api->metrics, API_L_LOAD_SNAPSHOT,
			    api_now_us() - t0);
	adopt_restored(api, &restored);
	atomic_store(&api->state,
		     p.resume_vm ? VMM_STATE_RUNNING : VMM_STATE_PAUSED);
	api_reply_empty(r);
	r->deprecated = depr;
out:
	vmm_config_free(&restored);
	free(p.snapshot_path);
	free(p.mem_file_path);
	free(p.vsock_uds_override);
}

/*
 * A PATCH names its device in the path and the body, and applies to a
 * running VM only: false, or true with the fault replied.
 */
static bool patch_refused(struct api *api, const struct api_request *rq,
			  const char *body_id, struct api_response *r)
{
	if (strcmp(body_id, rq->id)) {
		api_reply_fault(r, 400,
				"The id from the path does not match the id "
				"from the body!");
		return true;
	}
	if (api_state(api) == VMM_STATE_NOT_STARTED) {
		api_reply_not_started(r);
		return true;
	}
	return false;
}

void api_patch_drive(struct api *api, struct api_request *rq,
		     struct api_response *r)
{
	static const char *const keys[] = {"drive_id", "path_on_host",
					   "rate_limiter", NULL};
	char err[API_ERR_SIZE] = "", *id = NULL, *path = NULL;
	int idx, ret;

	ret = jf_check_keys(rq->body, keys, err, sizeof(err));
	if (!ret)
		ret = jf_string(rq->body, "drive_id", true, VMM_MAX_ID_LEN, &id,
				err, sizeof(err));
	if (!ret)
		ret = jf_string(rq->body, "path_on_host", false,
				VMM_MAX_PATH_LEN, &path, err, sizeof(err));
	if (!ret)
		ret = jf_unsupported(rq->body, "rate_limiter",
				     "rate limiters are not implemented", err,
				     sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Drive config error", err);
		goto out;
	}
	if (patch_refused(api, rq, id, r))
		goto out;
	idx = vmm_config_find_drive(&api->cfg, id);
	if (idx < 0) {
		api_reply_fault(r, 400,
				"Drive config error: Error during drive update "
				"(patch): no drive with id `%s`.",
				id);
		goto out;
	}
	if (!path) {
		api_reply_fault(r, 400,
				"Drive config error: nothing to update: give "
				"`path_on_host`.");
		goto out;
	}
	if (!api->ops.drive_update) {
		no_op(r, "drive update");
		goto out;
	}
	err[0] = '\0';
	ret = api->ops.drive_update(api->opaque, id, path, err, sizeof(err));
	if (ret) {
		api_reply_fault(r, 400,
				"Drive config error: Error during drive update "
				"(patch): %s",
				op_msg(err, sizeof(err), ret));
		goto out;
	}
	free(api->cfg.drives[idx].path_on_host);
	api->cfg.drives[idx].path_on_host = path;
	path = NULL;
	api_reply_empty(r);
out:
	free(id);
	free(path);
}

void api_patch_net(struct api *api, struct api_request *rq,
		   struct api_response *r)
{
	static const char *const keys[] = {"iface_id", "rx_rate_limiter",
					   "tx_rate_limiter", NULL};
	char err[API_ERR_SIZE] = "", *id = NULL;
	int ret;

	ret = jf_check_keys(rq->body, keys, err, sizeof(err));
	if (!ret)
		ret = jf_string(rq->body, "iface_id", true, VMM_MAX_ID_LEN, &id,
				err, sizeof(err));
	if (!ret)
		ret = jf_unsupported(rq->body, "rx_rate_limiter",
				     "rate limiters are not implemented", err,
				     sizeof(err));
	if (!ret)
		ret = jf_unsupported(rq->body, "tx_rate_limiter",
				     "rate limiters are not implemented", err,
				     sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Network config error", err);
		goto out;
	}
	if (patch_refused(api, rq, id, r))
		goto out;
	if (vmm_config_find_net(&api->cfg, id) < 0) {
		api_reply_fault(r, 400,
				"Network config error: no network interface "
				"with id `%s`.",
				id);
		goto out;
	}
	/* Only rate limiters can be patched, and none were given. */
	api_reply_empty(r);
out:
	free(id);
}
