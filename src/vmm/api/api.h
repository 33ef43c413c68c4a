/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lgvmm's Firecracker-compatible REST API: the request handling (pure,
 * thread safe, no network: api_handle), the boundary to the VMM (struct
 * api_vmm_ops) and the HTTP/1.1 server on a Unix socket that feeds it.
 * The API object keeps the machine's state (Not started / Running /
 * Paused) and its configuration; the VMM only sees complete, validated
 * requests through the ops. See docs/lgvmm-api.md.
 */
#ifndef LG_VMM_API_API_H
#define LG_VMM_API_API_H

#include "vmm/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Firecracker's HTTP_MAX_PAYLOAD_SIZE. */
#define API_DEFAULT_MAX_PAYLOAD 51200u
#define API_DEFAULT_INSTANCE_ID "anonymous-instance"

enum vmm_state { VMM_STATE_NOT_STARTED, VMM_STATE_RUNNING, VMM_STATE_PAUSED };

struct vmm_snapshot_create_params {
	char *snapshot_path;
	char *mem_file_path;
	bool diff;
};

struct vmm_snapshot_load_params {
	char *snapshot_path;
	char *mem_file_path;
	bool resume_vm;
	bool track_dirty_pages;
	char *vsock_uds_override; /* NULL if none */
	/* From PUT /serial before the load (not owned); NULL: stdout. */
	const char *serial_out_path;
};

/*
 * Called on the thread that handles the request, with the API's lock
 * held: an op must not call back into api_* (api_state() excepted).
 * Each returns 0 or a negative errno and writes a message into err.
 * A NULL op makes its request fail with "not supported".
 */
struct api_vmm_ops {
	/* cfg is complete and validated. The VMM builds and starts the VM. */
	int (*instance_start)(void *opaque, const struct vmm_config *cfg,
			      char *err, size_t err_size);
	int (*pause)(void *opaque, char *err, size_t err_size);
	int (*resume)(void *opaque, char *err, size_t err_size);
	int (*send_ctrl_alt_del)(void *opaque, char *err, size_t err_size);
	int (*snapshot_create)(void *opaque,
			       const struct vmm_snapshot_create_params *p,
			       char *err, size_t err_size);
	/* On success fills *cfg with the restored machine's configuration. */
	int (*snapshot_load)(void *opaque,
			     const struct vmm_snapshot_load_params *p,
			     struct vmm_config *cfg, char *err,
			     size_t err_size);
	int (*drive_update)(void *opaque, const char *drive_id,
			    const char *path_on_host, char *err,
			    size_t err_size);
	/* Adds the VMM's counters to a metrics object (may be NULL). */
	void (*metrics_fill)(void *opaque, json_t *metrics);
};

struct api;

struct api_response {
	int status;	 /* 200, 204, 400, 500 */
	char *body;	 /* malloc'd JSON text, or NULL (204) */
	bool deprecated; /* a deprecated field was used: add Deprecation */
};

void api_response_free(struct api_response *resp);

/*
 * instance_id: NULL for "anonymous-instance", else 1 to 64 characters
 * from [A-Za-z0-9-] (as Firecracker's --id). ops is copied.
 * 0, -EINVAL or -ENOMEM.
 */
int api_create(const struct api_vmm_ops *ops, void *opaque,
	       const char *instance_id, struct api **out);
/* Removes the log sink, closes the log and metrics files. */
void api_destroy(struct api *api);

/*
 * Handles one request: method "GET"/"PUT"/"PATCH"/..., path as in the
 * request line (a query string is ignored), body NULL or body_len 0 for
 * none. Fills *resp (free it with api_response_free). Returns 0, or
 * -ENOMEM when not even a response could be built.
 */
int api_handle(struct api *api, const char *method, const char *path,
	       const char *body, size_t body_len, struct api_response *resp);

/*
 * --config-file: reads a GET /vm/config shaped JSON file into the
 * configuration (logger and metrics sections take effect at once).
 * Only before anything was configured or started. 0 or a negative
 * errno with the reason in err.
 */
int api_apply_config_file(struct api *api, const char *path, char *err,
			  size_t err_size);
/* PUT /actions InstanceStart, same rules (once, needs a boot source). */
int api_instance_start(struct api *api, char *err, size_t err_size);

/* Lock-free; safe from within an op. */
enum vmm_state api_state(struct api *api);

/* --log-path/--level/... and --metrics-path: as PUT /logger, /metrics. */
int api_configure_logger(struct api *api, const struct vmm_logger *lc,
			 char *err, size_t err_size);
int api_configure_metrics(struct api *api, const char *metrics_path, char *err,
			  size_t err_size);
/*
 * Writes one metrics line now (FlushMetrics). 0, -ENODEV when metrics
 * are not configured, -EAGAIN when the line was lost (a full FIFO), or
 * another negative errno.
 */
int api_flush_metrics(struct api *api);
/*
 * Once metrics are configured, a timer thread inside the API flushes
 * them every period_ms (default 60000). Call before PUT /metrics.
 */
void api_set_metrics_period(struct api *api, unsigned int period_ms);

/*
 * The largest body api_handle() accepts (default API_DEFAULT_MAX_PAYLOAD);
 * api_server_start() sets its own limit here too.
 */
void api_set_max_payload(struct api *api, size_t max_payload);

/*
 * Whether PUT /boot-source and PUT /drives check that the files exist
 * (default true, as Firecracker opens them at PUT). Off for fuzzing.
 */
void api_set_path_checks(struct api *api, bool on);

/* The HTTP server: one MHD polling thread on a Unix socket. */
struct api_server;

/*
 * Binds sock_path (mode 0600; a stale socket there is replaced, any
 * other file is refused with -EEXIST) and serves api on it. max_payload:
 * the largest request body accepted (0: API_DEFAULT_MAX_PAYLOAD).
 */
int api_server_start(struct api *api, const char *sock_path, size_t max_payload,
		     struct api_server **out);
/* Stops serving, closes and unlinks the socket. NULL is fine. */
void api_server_stop(struct api_server *srv);

#endif
