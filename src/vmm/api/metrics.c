// SPDX-License-Identifier: Apache-2.0
#include "vmm/api/metrics.h"

#include "vmm/api/logger.h"
#include "vmm/api/outfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Firecracker's groups and names ("<name>_count", "<name>_fails"). */
static const struct {
	const char *group;
	const char *name;
} counter_names[API_C_NR] = {
	[API_C_GET_INSTANCE_INFO] = {"get_api_requests", "instance_info"},
	[API_C_GET_VERSION] = {"get_api_requests", "vmm_version"},
	[API_C_GET_MACHINE_CFG] = {"get_api_requests", "machine_cfg"},
	[API_C_GET_VM_CONFIG] = {"get_api_requests", "vm_config"},
	[API_C_PUT_ACTIONS] = {"put_api_requests", "actions"},
	[API_C_PUT_BOOT_SOURCE] = {"put_api_requests", "boot_source"},
	[API_C_PUT_DRIVE] = {"put_api_requests", "drive"},
	[API_C_PUT_ENTROPY] = {"put_api_requests", "entropy"},
	[API_C_PUT_LOGGER] = {"put_api_requests", "logger"},
	[API_C_PUT_MACHINE_CFG] = {"put_api_requests", "machine_cfg"},
	[API_C_PUT_METRICS] = {"put_api_requests", "metrics"},
	[API_C_PUT_NETWORK] = {"put_api_requests", "network"},
	[API_C_PUT_SNAPSHOT_CREATE] = {"put_api_requests", "snapshot_create"},
	[API_C_PUT_SNAPSHOT_LOAD] = {"put_api_requests", "snapshot_load"},
	[API_C_PUT_SERIAL] = {"put_api_requests", "serial"},
	[API_C_PUT_VSOCK] = {"put_api_requests", "vsock"},
	[API_C_PATCH_DRIVE] = {"patch_api_requests", "drive"},
	[API_C_PATCH_MACHINE_CFG] = {"patch_api_requests", "machine_cfg"},
	[API_C_PATCH_NETWORK] = {"patch_api_requests", "network"},
	[API_C_PATCH_VM] = {"patch_api_requests", "vm"},
	[API_C_INVALID] = {"api_server", "invalid_request"},
	[API_C_UNSUPPORTED] = {"api_server", "unsupported_request"},
};

static const char *const latency_names[API_L_NR] = {
	[API_L_START_MICROVM] = "start_microvm",
	[API_L_LOAD_SNAPSHOT] = "load_snapshot",
	[API_L_FULL_CREATE_SNAPSHOT] = "full_create_snapshot",
	[API_L_DIFF_CREATE_SNAPSHOT] = "diff_create_snapshot",
	[API_L_PAUSE_VM] = "pause_vm",
	[API_L_RESUME_VM] = "resume_vm",
};

void api_metrics_init(struct api_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = -1;
}

void api_metrics_count(struct api_metrics *m, enum api_counter c, bool failed)
{
	m->count[c]++;
	if (failed)
		m->fails[c]++;
}

void api_metrics_latency(struct api_metrics *m, enum api_latency l, uint64_t us)
{
	m->latency_us[l] = us;
}

int api_metrics_open(struct api_metrics *m, const char *path, char *err,
		     size_t err_size)
{
	int fd = api_outfile_open(path, err, err_size);

	if (fd < 0)
		return fd;
	api_metrics_close(m);
	m->fd = fd;
	return 0;
}

void api_metrics_close(struct api_metrics *m)
{
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
}

/* obj[group][key] = v; 0 or -ENOMEM. */
static int put_u64(json_t *obj, const char *group, const char *key, uint64_t v)
{
	json_t *g = json_object_get(obj, group);

	if (!g) {
		g = json_object();
		if (!g || json_object_set_new(obj, group, g))
			return -ENOMEM;
	}
	return json_object_set_new(g, key, json_integer((json_int_t)v))
		       ? -ENOMEM
		       : 0;
}

static json_t *metrics_build(const struct api_metrics *m, uint64_t log_missed,
			     uint64_t log_fails)
{
	json_t *obj = json_object();
	struct timespec ts;
	char key[64];
	int ret = 0;
	int i;

	if (!obj)
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	ret |= json_object_set_new(obj, "utc_timestamp_ms",
				   json_integer((json_int_t)ts.tv_sec * 1000 +
						ts.tv_nsec / 1000000));
	for (i = 0; i < API_C_NR; i++) {
		snprintf(key, sizeof(key), "%s_count", counter_names[i].name);
		ret |= put_u64(obj, counter_names[i].group, key,
			       m->count[i] - m->count_sent[i]);
		snprintf(key, sizeof(key), "%s_fails", counter_names[i].name);
		ret |= put_u64(obj, counter_names[i].group, key,
			       m->fails[i] - m->fails_sent[i]);
	}
	for (i = 0; i < API_L_NR; i++)
		ret |= put_u64(obj, "latencies_us", latency_names[i],
			       m->latency_us[i]);
	ret |= put_u64(obj, "logger", "missed_metrics_count",
		       m->missed - m->missed_sent);
	ret |= put_u64(obj, "logger", "metrics_fails",
		       m->write_fails - m->write_fails_sent);
	ret |= put_u64(obj, "logger", "missed_log_count",
		       log_missed - m->log_missed_sent);
	ret |= put_u64(obj, "logger", "log_fails",
		       log_fails - m->log_fails_sent);
	if (ret) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

int api_metrics_write(struct api_metrics *m,
		      void (*fill)(void *opaque, json_t *metrics), void *opaque)
{
	uint64_t log_missed, log_fails;
	json_t *obj;
	char *text;
	size_t len;
	int ret;

	if (m->fd < 0)
		return -ENODEV;
	api_logger_counters(&log_missed, &log_fails);
	obj = metrics_build(m, log_missed, log_fails);
	if (!obj)
		return -ENOMEM;
	if (fill)
		fill(opaque, obj);
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	text[len] = '\n'; /* the NUL becomes the line end */
	ret = api_outfile_write(m->fd, text, len + 1);
	free(text);
	if (ret == -EAGAIN) {
		m->missed++;
		return ret;
	}
	if (ret) {
		m->write_fails++;
		return ret;
	}
	memcpy(m->count_sent, m->count, sizeof(m->count));
	memcpy(m->fails_sent, m->fails, sizeof(m->fails));
	m->missed_sent = m->missed;
	m->write_fails_sent = m->write_fails;
	m->log_missed_sent = log_missed;
	m->log_fails_sent = log_fails;
	return 0;
}
