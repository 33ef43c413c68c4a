/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the API: the object, one request, and reply helpers. */
#ifndef LG_VMM_API_API_INTERNAL_H
#define LG_VMM_API_API_INTERNAL_H

#include "vmm/api/api.h"
#include "vmm/api/logger.h"
#include "vmm/api/metrics.h"

#include <pthread.h>
#include <stdatomic.h>

#define API_ERR_SIZE 1024

struct api {
	pthread_mutex_t lock;
	struct api_vmm_ops ops;
	void *opaque;
	char instance_id[VMM_MAX_ID_LEN + 1];
	atomic_int state; /* enum vmm_state */
	struct vmm_config cfg;
	/* Boot-specific resources were configured: no snapshot load. */
	bool boot_path;
	/* A snapshot load failed: the process is not reusable. */
	bool load_failed;
	bool path_checks;
	size_t max_payload;
	struct api_logger *logger;
	struct api_metrics metrics;
	/* The periodic metrics flush. */
	pthread_t timer;
	bool timer_running;
	bool timer_stop;
	pthread_cond_t timer_cond;
	unsigned int metrics_period_ms;
};

enum api_method { API_GET, API_PUT, API_PATCH, API_OTHER };

struct api_request {
	enum api_method method;
	const char *method_name;
	const char *id; /* {drive_id}/{iface_id} from the path, or NULL */
	json_t *body;	/* the parsed object for PUT/PATCH */
	enum api_counter counter;
};

/* Reply helpers; all leave status 500 when out of memory. */
void api_reply_fault(struct api_response *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void api_reply_json(struct api_response *r, json_t *obj); /* steals obj */
void api_reply_empty(struct api_response *r);
/*
 * A section parser's error: -EINVAL as a deserialisation fault, -ERANGE
 * as "<what>: <detail>", -EOPNOTSUPP as not supported.
 */
void api_reply_parse_error(struct api_response *r, int err, const char *what,
			   const char *detail);
void api_reply_not_started(struct api_response *r);
void api_reply_started(struct api_response *r);

uint64_t api_now_us(void);

/* PUT/PATCH of the configuration (api-config.c). Lock held. */
void api_put_boot_source(struct api *api, struct api_request *rq,
			 struct api_response *r);
void api_put_machine_config(struct api *api, struct api_request *rq,
			    struct api_response *r);
void api_put_drive(struct api *api, struct api_request *rq,
		   struct api_response *r);
void api_put_net(struct api *api, struct api_request *rq,
		 struct api_response *r);
void api_put_vsock(struct api *api, struct api_request *rq,
		   struct api_response *r);
void api_put_serial(struct api *api, struct api_request *rq,
		    struct api_response *r);
void api_put_entropy(struct api *api, struct api_request *rq,
		     struct api_response *r);
void api_put_logger(struct api *api, struct api_request *rq,
		    struct api_response *r);
void api_put_metrics(struct api *api, struct api_request *rq,
		     struct api_response *r);
/* Shared with the config file and the CLI flags. */
int api_set_logger(struct api *api, const struct vmm_logger *lc, char *err,
		   size_t err_size);
int api_set_metrics(struct api *api, const char *path, char *err,
		    size_t err_size);
int api_check_boot_files(const struct vmm_boot_source *bs, char *err,
			 size_t err_size);
int api_check_drive_file(const struct vmm_drive *d, char *err, size_t err_size);

/* Actions, VM state, snapshots, post-boot updates (api-actions.c). */
void api_put_actions(struct api *api, struct api_request *rq,
		     struct api_response *r);
void api_patch_vm(struct api *api, struct api_request *rq,
		  struct api_response *r);
void api_put_snapshot_create(struct api *api, struct api_request *rq,
			     struct api_response *r);
void api_put_snapshot_load(struct api *api, struct api_request *rq,
			   struct api_response *r);
void api_patch_drive(struct api *api, struct api_request *rq,
		     struct api_response *r);
void api_patch_net(struct api *api, struct api_request *rq,
		   struct api_response *r);
/* InstanceStart with the lock held; 0 or errno, fault text in err. */
int api_start_locked(struct api *api, char *err, size_t err_size);
/* Starts the periodic flush thread if metrics are on and it is not. */
int api_timer_start(struct api *api);
int api_flush_locked(struct api *api);

#endif
