// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: a sequence of API requests through api_handle(), in
 * one fresh API per input, against a VMM whose ops succeed or fail as
 * the input says. Also reads bodies as --config-file documents and
 * checks that what vmm_config_to_json() shows reads back identically.
 *
 * Input: records separated by "\n--\n" (at most 24). A record: [0]
 * method (mod 5: GET PUT PATCH POST, 4 = config document), [1] bit i:
 * op i fails, [2] path (index into paths[]; 0xff: the path is the rest
 * of the record up to '\n'), then the body.
 *
 * Log and metrics destinations go to /dev/null: this file replaces
 * outfile.c, so no fuzzed path is ever created or written.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/api/api.h"
#include "vmm/api/outfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 24

static uint8_t fail_mask;

int api_outfile_open(const char *path, char *err, size_t err_size)
{
	int fd;

	(void)path;
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, err_size, "no /dev/null");
		return -errno;
	}
	return fd;
}

int api_outfile_write(int fd, const char *line, size_t len)
{
	return write(fd, line, len) == (ssize_t)len ? 0 : -EIO;
}

static int result(int bit, char *err, size_t n)
{
	if (!(fail_mask & (1u << bit)))
		return 0;
	snprintf(err, n, "fuzzed failure \xff of op %d", bit);
	return -EIO;
}

static int op_start(void *o, const struct vmm_config *cfg, char *err, size_t n)
{
	(void)o;
	/* What the API guarantees a VMM at InstanceStart. */
	if (!cfg->boot.set || !cfg->boot.kernel_image_path ||
	    cfg->machine.vcpu_count < 1 ||
	    cfg->machine.vcpu_count > VMM_MAX_VCPUS ||
	    cfg->nr_drives > VMM_MAX_DRIVES || cfg->nr_nets > VMM_MAX_NETS)
		abort();
	return result(0, err, n);
}

static int op_pause(void *o, char *err, size_t n)
{
	(void)o;
	return result(1, err, n);
}

static int op_resume(void *o, char *err, size_t n)
{
	(void)o;
	return result(2, err, n);
}

static int op_cad(void *o, char *err, size_t n)
{
	(void)o;
	return result(3, err, n);
}

static int op_create(void *o, const struct vmm_snapshot_create_params *p,
		     char *err, size_t n)
{
	(void)o;
	if (!p->snapshot_path || !p->mem_file_path)
		abort();
	return result(4, err, n);
}

static int op_load(void *o, const struct vmm_snapshot_load_params *p,
		   struct vmm_config *cfg, char *err, size_t n)
{
	(void)o;
	if (!p->snapshot_path || !p->mem_file_path)
		abort();
	if (result(5, err, n))
		return -EIO;
	cfg->machine.vcpu_count = 2;
	cfg->boot.set = true;
	cfg->boot.kernel_image_path = strdup(p->snapshot_path);
	return cfg->boot.kernel_image_path ? 0 : -ENOMEM;
}

static int op_drive(void *o, const char *id, const char *path, char *err,
		    size_t n)
{
	(void)o;
	if (!id[0] || !path[0])
		abort();
	return result(6, err, n);
}

static void op_fill(void *o, json_t *m)
{
	(void)o;
	json_object_set_new(m, "vmm", json_object());
}

static const struct api_vmm_ops ops = {
	.instance_start = op_start,
	.pause = op_pause,
	.resume = op_resume,
	.send_ctrl_alt_del = op_cad,
	.snapshot_create = op_create,
	.snapshot_load = op_load,
	.drive_update = op_drive,
	.metrics_fill = op_fill,
};

static const char *const paths[] = {
	"/",
	"/version",
	"/boot-source",
	"/machine-config",
	"/drives/rootfs",
	"/drives/data",
	"/network-interfaces/eth0",
	"/vsock",
	"/entropy",
	"/actions",
	"/vm",
	"/vm/config",
	"/snapshot/create",
	"/snapshot/load",
	"/logger",
	"/metrics",
	"/balloon",
	"/drives/",
	"/snapshot",
};

static const char *const methods[] = {"GET", "PUT", "PATCH", "POST"};

/* A body as a config document: shown back, it must read back the same. */
static void fuzz_config(const char *body, size_t len)
{
	struct vmm_config a, b;
	json_t *in, *shown, *again;
	char err[512];

	in = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (!in)
		return;
	vmm_config_init(&a);
	vmm_config_init(&b);
	if (vmm_config_from_json(&a, in, err, sizeof(err)) == 0) {
		shown = vmm_config_to_json(&a);
		if (!shown)
			abort();
		if (vmm_config_from_json(&b, shown, err, sizeof(err)))
			abort();
		again = vmm_config_to_json(&b);
		if (!again || !json_equal(shown, again))
			abort();
		json_decref(again);
		json_decref(shown);
	}
	json_decref(in);
	vmm_config_free(&a);
	vmm_config_free(&b);
}

static void one_record(struct api *api, const uint8_t *p, size_t n)
{
	struct api_response resp;
	char path[256];
	const char *body;
	size_t blen;
	int m;

	if (n < 3)
		return;
	m = p[0] % 5;
	fail_mask = p[1];
	body = (const char *)p + 3;
	blen = n - 3;
	if (m == 4) {
		fuzz_config(body, blen);
		return;
	}
	if (p[2] == 0xff) {
		const char *nl = memchr(body, '\n', blen);
		size_t plen = nl ? (size_t)(nl - body) : blen;

		if (plen >= sizeof(path))
			plen = sizeof(path) - 1;
		memcpy(path, body, plen);
		path[plen] = '\0';
		body += nl ? plen + 1 : plen;
		blen -= nl ? plen + 1 : plen;
	} else {
		snprintf(path, sizeof(path), "%s",
			 paths[p[2] % (sizeof(paths) / sizeof(paths[0]))]);
	}
	if (api_handle(api, methods[m], path, blen ? body : NULL, blen, &resp))
		return;
	/* Every response is a status and, if any, a JSON body. */
	if (resp.status < 200 || resp.status > 599)
		abort();
	if (resp.body) {
		json_t *o = json_loads(resp.body, 0, NULL);

		if (!o)
			abort();
		json_decref(o);
	} else if (resp.status != 204) {
		abort();
	}
	api_response_free(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api *api;
	const uint8_t *p = data, *end = data + size;
	int records = 0;

	/* PUT /logger may have raised it; failed requests log at Info. */
	lg_log_set_level(LG_LOG_ERROR);
	if (api_create(&ops, NULL, "fuzz", &api))
		return 0;
	api_set_path_checks(api, false);
	while (p < end && records++ < MAX_RECORDS) {
		const uint8_t *sep = memmem(p, (size_t)(end - p), "\n--\n", 4);
		size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);

		one_record(api, p, n);
		p += n + (sep ? 4 : 0);
	}
	api_destroy(api);
	return 0;
}
