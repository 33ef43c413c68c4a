// SPDX-License-Identifier: Apache-2.0
/*
 * The pre-boot configuration endpoints: each parses its section
 * strictly (vmm/config.h), checks the state, then stores it. Any of
 * them except logger and metrics rules out a later snapshot load.
 */
#include "vmm/api/api-internal.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 0 if the state allows pre-boot configuration, else the fault is set. */
static int preboot(struct api *api, struct api_response *r)
{
	if (api_state(api) == VMM_STATE_NOT_STARTED && !api->load_failed)
		return 0;
	api_reply_started(r);
	return -EBUSY;
}

/*
 * Firecracker opens the kernel, initrd and drives at PUT time, so a bad
 * path fails early rather than at InstanceStart. FIFOs would block an
 * open, hence O_NONBLOCK; the type is checked after.
 */
static int check_file(const char *what, const char *path, int flags,
		      bool allow_blk, char *err, size_t err_size)
{
	struct stat st;
	int fd, e;

	fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		snprintf(err, err_size, "The %s file cannot be opened: %s: %s",
			 what, path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 ||
	    !(S_ISREG(st.st_mode) || (allow_blk && S_ISBLK(st.st_mode)))) {
		close(fd);
		snprintf(err, err_size,
			 "The %s file %s is not a regular file%s", what, path,
			 allow_blk ? " or a block device" : "");
		return -EINVAL;
	}
	close(fd);
	return 0;
}

int api_check_boot_files(const struct vmm_boot_source *bs, char *err,
			 size_t err_size)
{
	int ret = check_file("kernel", bs->kernel_image_path, O_RDONLY, false,
			     err, err_size);

	if (!ret && bs->initrd_path)
		ret = check_file("initrd", bs->initrd_path, O_RDONLY, false,
				 err, err_size);
	return ret;
}

int api_check_drive_file(const struct vmm_drive *d, char *err, size_t err_size)
{
	return check_file("block device", d->path_on_host,
			  d->is_read_only ? O_RDONLY : O_RDWR, true, err,
			  err_size);
}

void api_put_boot_source(struct api *api, struct api_request *rq,
			 struct api_response *r)
{
	char err[API_ERR_SIZE];
	struct vmm_boot_source bs;
	int ret;

	ret = vmm_boot_source_from_json(&bs, rq->body, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Boot source error", err);
		return;
	}
	if (preboot(api, r))
		goto out;
	if (api->path_checks && api_check_boot_files(&bs, err, sizeof(err))) {
		api_reply_fault(r, 400, "Boot source error: %s.", err);
		goto out;
	}
	vmm_boot_source_free(&api->cfg.boot);
	api->cfg.boot = bs;
	memset(&bs, 0, sizeof(bs));
	api->boot_path = true;
	api_reply_empty(r);
out:
	vmm_boot_source_free(&bs);
}

void api_put_machine_config(struct api *api, struct api_request *rq,
			    struct api_response *r)
{
	struct vmm_machine_config mc = api->cfg.machine;
	char err[API_ERR_SIZE];
	int ret;

	ret = vmm_machine_config_from_json(
		&mc, rq->body, rq->method == API_PATCH, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Machine config error", err);
		return;
	}
	if (preboot(api, r))
		return;
	api->cfg.machine = mc;
	api->boot_path = true;
	api_reply_empty(r);
}

/* Firecracker's wording when the body's id is not the path's. */
static int check_same_id(const char *path_id, const char *body_id,
			 struct api_response *r)
{
	if (!strcmp(path_id, body_id))
		return 0;
	api_reply_fault(r, 400,
			"The id from the path does not match the id from the "
			"body!");
	return -EINVAL;
}

void api_put_drive(struct api *api, struct api_request *rq,
		   struct api_response *r)
{
	char err[API_ERR_SIZE];
	struct vmm_drive d;
	int ret;

	ret = vmm_drive_from_json(&d, rq->body, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Drive config error", err);
		return;
	}
	if (check_same_id(rq->id, d.drive_id, r) || preboot(api, r))
		goto out;
	if (api->path_checks && api_check_drive_file(&d, err, sizeof(err))) {
		api_reply_fault(r, 400, "Drive config error: %s.", err);
		goto out;
	}
	ret = vmm_config_put_drive(&api->cfg, &d, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Drive config error", err);
		goto out;
	}
	api->boot_path = true;
	api_reply_empty(r);
out:
	vmm_drive_free(&d);
}

void api_put_net(struct api *api, struct api_request *rq,
		 struct api_response *r)
{
	char err[API_ERR_SIZE];
	struct vmm_net n;
	int ret;

	ret = vmm_net_from_json(&n, rq->body, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Network config error", err);
		return;
	}
	if (check_same_id(rq->id, n.iface_id, r) || preboot(api, r))
		goto out;
	ret = vmm_config_put_net(&api->cfg, &n, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Network config error", err);
		goto out;
	}
	api->boot_path = true;
	api_reply_empty(r);
out:
	vmm_net_free(&n);
}

void api_put_vsock(struct api *api, struct api_request *rq,
		   struct api_response *r)
{
	char err[API_ERR_SIZE];
	struct vmm_vsock v;
	int ret;

	ret = vmm_vsock_from_json(&v, rq->body, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Vsock config error", err);
		return;
	}
	if (preboot(api, r)) {
		vmm_vsock_free(&v);
		return;
	}
	vmm_vsock_free(&api->cfg.vsock);
	api->cfg.vsock = v;
	api->boot_path = true;
	api_reply_empty(r);
}

void api_put_entropy(struct api *api, struct api_request *rq,
		     struct api_response *r)
{
	char err[API_ERR_SIZE];
	struct vmm_entropy e;
	int ret;

	ret = vmm_entropy_from_json(&e, rq->body, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Entropy device error", err);
		return;
	}
	if (preboot(api, r))
		return;
	api->cfg.entropy = e;
	api->boot_path = true;
	api_reply_empty(r);
}

/*
 * Not a boot-specific resource (Firecracker does not mark it pre-boot),
 * but the UART's output is chosen at start, so later changes are refused.
 */
void api_put_serial(struct api *api, struct api_request *rq,
		    struct api_response *r)
{
	char err[API_ERR_SIZE];
	struct vmm_serial s;
	int ret;

	ret = vmm_serial_from_json(&s, rq->body, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Serial device error", err);
		return;
	}
	if (preboot(api, r)) {
		vmm_serial_free(&s);
		return;
	}
	vmm_serial_free(&api->cfg.serial);
	api->cfg.serial = s;
	api_reply_empty(r);
}

int api_set_logger(struct api *api, const struct vmm_logger *lc, char *err,
		   size_t err_size)
{
	struct api_logger *l;
	struct vmm_logger copy = *lc;
	char *path = NULL, *module = NULL;
	int ret;

	ret = api_logger_open(lc, api->instance_id, api->logger, &l, err,
			      err_size);
	if (ret)
		return ret;
	/* Without a log_path the previous destination stays. */
	if (lc->log_path || api->cfg.logger.log_path)
		path = strdup(lc->log_path ? lc->log_path
					   : api->cfg.logger.log_path);
	if (lc->module)
		module = strdup(lc->module);
	if ((!path && (lc->log_path || api->cfg.logger.log_path)) ||
	    (!module && lc->module)) {
		free(path);
		free(module);
		api_logger_close(l);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	api_logger_install(l);
	api_logger_close(api->logger);
	api->logger = l;
	vmm_logger_free(&api->cfg.logger);
	copy.set = true;
	copy.log_path = path;
	copy.module = module;
	api->cfg.logger = copy;
	return 0;
}

int api_set_metrics(struct api *api, const char *path, char *err,
		    size_t err_size)
{
	char *copy;
	int ret;

	if (api->cfg.metrics.set) {
		snprintf(err, err_size,
			 "Reinitialization of metrics not allowed.");
		return -EBUSY;
	}
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	ret = api_metrics_open(&api->metrics, path, err, err_size);
	if (ret) {
		free(copy);
		return ret;
	}
	api->cfg.metrics.set = true;
	api->cfg.metrics.metrics_path = copy;
	ret = api_timer_start(api);
	/* Without the timer, metrics still flush on demand. */
	if (ret)
		lg_warn("metrics: no periodic flush: %s", strerror(-ret));
	return 0;
}

void api_put_logger(struct api *api, struct api_request *rq,
		    struct api_response *r)
{
	char err[API_ERR_SIZE];
	struct vmm_logger lc;
	int ret;

	ret = vmm_logger_from_json(&lc, rq->body, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Logger error", err);
		return;
	}
	if (!preboot(api, r)) {
		ret = api_set_logger(api, &lc, err, sizeof(err));
		if (ret)
			api_reply_fault(r, 400, "Logger error: %s.", err);
		else
			api_reply_empty(r);
	}
	vmm_logger_free(&lc);
}

void api_put_metrics(struct api *api, struct api_request *rq,
		     struct api_response *r)
{
	char err[API_ERR_SIZE];
	struct vmm_metrics m;
	int ret;

	ret = vmm_metrics_from_json(&m, rq->body, err, sizeof(err));
	if (ret) {
		api_reply_parse_error(r, ret, "Metrics error", err);
		return;
	}
	if (!preboot(api, r)) {
		ret = api_set_metrics(api, m.metrics_path, err, sizeof(err));
		if (ret)
			api_reply_fault(r, 400, "Metrics error: %s", err);
		else
			api_reply_empty(r);
	}
	vmm_metrics_free(&m);
}
