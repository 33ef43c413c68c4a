// SPDX-License-Identifier: Apache-2.0
/*
 * The API object and request dispatch: paths, methods and bodies are
 * checked here, then one handler per endpoint (api-config.c,
 * api-actions.c) applies Firecracker's rules under the lock.
 */
#include "vmm/api/api-internal.h"

#include "common/log.h"
#include "config.h"
#include "vmm/api/jfield.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEGS 3
#define PATH_COPY_MAX 512
#define CONFIG_FILE_MAX (1u << 20)
#define DEFAULT_METRICS_PERIOD_MS 60000u

/* ------------------------------------------------------------------ */
/* Replies                                                             */

void api_response_free(struct api_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
}

static void reply_oom(struct api_response *r)
{
	free(r->body);
	r->status = 500;
	r->body = strdup("{\"fault_message\":\"Internal error: out of "
			 "memory.\"}");
}

void api_reply_json(struct api_response *r, json_t *obj)
{
	free(r->body);
	r->body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!r->body) {
		reply_oom(r);
		return;
	}
	r->status = 200;
}

void api_reply_empty(struct api_response *r)
{
	free(r->body);
	r->body = NULL;
	r->status = 204;
}

void api_reply_fault(struct api_response *r, int status, const char *fmt, ...)
{
	char msg[API_ERR_SIZE + 256];
	json_t *s;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s = json_string(msg);
	if (!s) {
		/* Not UTF-8 (a path from the VMM, cut text): keep ASCII. */
		for (char *p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		s = json_string(msg);
	}
	free(r->body);
	r->body = NULL;
	if (s) {
		json_t *o = json_object();

		if (o && !json_object_set_new(o, "fault_message", s))
			r->body = json_dumps(o, JSON_COMPACT);
		else
			json_decref(s);
		json_decref(o);
	}
	if (!r->body) {
		reply_oom(r);
		return;
	}
	r->status = status;
}

void api_reply_parse_error(struct api_response *r, int err, const char *what,
			   const char *detail)
{
	switch (err) {
	case -EINVAL:
		api_reply_fault(r, 400,
				"An error occurred when deserializing the json "
				"body of a request: %s.",
				detail);
		break;
	case -EOPNOTSUPP:
		api_reply_fault(r, 400,
				"The requested operation is not supported: %s.",
				detail);
		break;
	case -ENOMEM:
		reply_oom(r);
		break;
	default:
		api_reply_fault(r, 400, "%s: %s", what, detail);
		break;
	}
}

void api_reply_not_started(struct api_response *r)
{
	api_reply_fault(r, 400,
			"The requested operation is not supported before "
			"starting the microVM.");
}

void api_reply_started(struct api_response *r)
{
	api_reply_fault(r, 400,
			"The requested operation is not supported after "
			"starting the microVM.");
}

uint64_t api_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ------------------------------------------------------------------ */
/* The object                                                          */

static bool instance_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (i >= VMM_MAX_ID_LEN ||
		    !(isalnum((unsigned char)id[i]) || id[i] == '-'))
			return false;
	return i > 0;
}

int api_create(const struct api_vmm_ops *ops, void *opaque,
	       const char *instance_id, struct api **out)
{
	pthread_condattr_t ca;
	struct api *api;

	*out = NULL;
	if (!instance_id)
		instance_id = API_DEFAULT_INSTANCE_ID;
	if (!ops || !instance_id_valid(instance_id))
		return -EINVAL;
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	if (pthread_mutex_init(&api->lock, NULL)) {
		free(api);
		return -ENOMEM;
	}
	/* The flush period is measured on the monotonic clock. */
	if (pthread_condattr_init(&ca) ||
	    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) ||
	    pthread_cond_init(&api->timer_cond, &ca)) {
		pthread_mutex_destroy(&api->lock);
		free(api);
		return -ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	api->ops = *ops;
	api->opaque = opaque;
	snprintf(api->instance_id, sizeof(api->instance_id), "%s", instance_id);
	atomic_init(&api->state, VMM_STATE_NOT_STARTED);
	vmm_config_init(&api->cfg);
	api->path_checks = true;
	api->max_payload = API_DEFAULT_MAX_PAYLOAD;
	api_metrics_init(&api->metrics);
	api->metrics_period_ms = DEFAULT_METRICS_PERIOD_MS;
	*out = api;
	return 0;
}

void api_destroy(struct api *api)
{
	if (!api)
		return;
	pthread_mutex_lock(&api->lock);
	api->timer_stop = true;
	pthread_cond_broadcast(&api->timer_cond);
	pthread_mutex_unlock(&api->lock);
	if (api->timer_running)
		pthread_join(api->timer, NULL);
	api_logger_close(api->logger);
	api_metrics_close(&api->metrics);
	vmm_config_free(&api->cfg);
	pthread_cond_destroy(&api->timer_cond);
	pthread_mutex_destroy(&api->lock);
	free(api);
}

enum vmm_state api_state(struct api *api)
{
	return (enum vmm_state)atomic_load(&api->state);
}

void api_set_path_checks(struct api *api, bool on)
{
	pthread_mutex_lock(&api->lock);
	api->path_checks = on;
	pthread_mutex_unlock(&api->lock);
}

void api_set_max_payload(struct api *api, size_t max_payload)
{
	pthread_mutex_lock(&api->lock);
	api->max_payload = max_payload ? max_payload : API_DEFAULT_MAX_PAYLOAD;
	pthread_mutex_unlock(&api->lock);
}

void api_set_metrics_period(struct api *api, unsigned int period_ms)
{
	pthread_mutex_lock(&api->lock);
	api->metrics_period_ms = period_ms ? period_ms : 1;
	pthread_mutex_unlock(&api->lock);
}

/* ------------------------------------------------------------------ */
/* Metrics                                                             */

int api_flush_locked(struct api *api)
{
	return api_metrics_write(&api->metrics, api->ops.metrics_fill,
				 api->opaque);
}

int api_flush_metrics(struct api *api)
{
	int ret;

	pthread_mutex_lock(&api->lock);
	ret = api_flush_locked(api);
	pthread_mutex_unlock(&api->lock);
	return ret;
}

static void *timer_main(void *arg)
{
	struct api *api = arg;
	struct timespec deadline;
	int ret;

	pthread_mutex_lock(&api->lock);
	while (!api->timer_stop) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += api->metrics_period_ms / 1000;
		deadline.tv_nsec +=
			(long)(api->metrics_period_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		ret = 0;
		while (!api->timer_stop && ret != ETIMEDOUT)
			ret = pthread_cond_timedwait(&api->timer_cond,
						     &api->lock, &deadline);
		if (!api->timer_stop)
			api_flush_locked(api);
	}
	pthread_mutex_unlock(&api->lock);
	return NULL;
}

int api_timer_start(struct api *api)
{
	int ret;

	if (api->timer_running || api->metrics.fd < 0)
		return 0;
	ret = pthread_create(&api->timer, NULL, timer_main, api);
	if (ret)
		return -ret;
	pthread_setname_np(api->timer, "fc_metrics");
	api->timer_running = true;
	return 0;
}

/* ------------------------------------------------------------------ */
/* GET                                                                 */

static const char *state_name(enum vmm_state s)
{
	switch (s) {
	case VMM_STATE_RUNNING:
		return "Running";
	case VMM_STATE_PAUSED:
		return "Paused";
	case VMM_STATE_NOT_STARTED:
		break;
	}
	return "Not started";
}

static void get_instance_info(struct api *api, struct api_response *r)
{
	api_reply_json(r, json_pack("{s:s, s:s, s:s, s:s}", "id",
				    api->instance_id, "state",
				    state_name(api_state(api)), "vmm_version",
				    LG_VERSION, "app_name", "lgvmm"));
}

static void get_version(struct api_response *r)
{
	api_reply_json(r,
		       json_pack("{s:s}", "firecracker_version", LG_VERSION));
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

struct route {
	const char *path[MAX_SEGS]; /* "*": an id */
	enum api_method method;
	enum api_counter counter;
	void (*fn)(struct api *api, struct api_request *rq,
		   struct api_response *r);
};

static void h_get_info(struct api *api, struct api_request *rq,
		       struct api_response *r)
{
	(void)rq;
	get_instance_info(api, r);
}

static void h_get_version(struct api *api, struct api_request *rq,
			  struct api_response *r)
{
	(void)api;
	(void)rq;
	get_version(r);
}

static void h_get_machine(struct api *api, struct api_request *rq,
			  struct api_response *r)
{
	(void)rq;
	api_reply_json(r, vmm_machine_config_to_json(&api->cfg.machine));
}

static void h_get_vm_config(struct api *api, struct api_request *rq,
			    struct api_response *r)
{
	json_t *o = vmm_config_to_json(&api->cfg);

	(void)rq;
	if (!o) {
		api_reply_fault(r, 500,
				"Internal error: the configuration cannot be "
				"shown as JSON.");
		return;
	}
	api_reply_json(r, o);
}

static const struct route routes[] = {
	{{NULL}, API_GET, API_C_GET_INSTANCE_INFO, h_get_info},
	{{"version"}, API_GET, API_C_GET_VERSION, h_get_version},
	{{"machine-config"}, API_GET, API_C_GET_MACHINE_CFG, h_get_machine},
	{{"machine-config"},
	 API_PUT,
	 API_C_PUT_MACHINE_CFG,
	 api_put_machine_config},
	{{"machine-config"},
	 API_PATCH,
	 API_C_PATCH_MACHINE_CFG,
	 api_put_machine_config},
	{{"vm", "config"}, API_GET, API_C_GET_VM_CONFIG, h_get_vm_config},
	{{"boot-source"}, API_PUT, API_C_PUT_BOOT_SOURCE, api_put_boot_source},
	{{"drives", "*"}, API_PUT, API_C_PUT_DRIVE, api_put_drive},
	{{"drives", "*"}, API_PATCH, API_C_PATCH_DRIVE, api_patch_drive},
	{{"network-interfaces", "*"}, API_PUT, API_C_PUT_NETWORK, api_put_net},
	{{"network-interfaces", "*"},
	 API_PATCH,
	 API_C_PATCH_NETWORK,
	 api_patch_net},
	{{"vsock"}, API_PUT, API_C_PUT_VSOCK, api_put_vsock},
	{{"entropy"}, API_PUT, API_C_PUT_ENTROPY, api_put_entropy},
	{{"serial"}, API_PUT, API_C_PUT_SERIAL, api_put_serial},
	{{"actions"}, API_PUT, API_C_PUT_ACTIONS, api_put_actions},
	{{"vm"}, API_PATCH, API_C_PATCH_VM, api_patch_vm},
	{{"snapshot", "create"},
	 API_PUT,
	 API_C_PUT_SNAPSHOT_CREATE,
	 api_put_snapshot_create},
	{{"snapshot", "load"},
	 API_PUT,
	 API_C_PUT_SNAPSHOT_LOAD,
	 api_put_snapshot_load},
	{{"logger"}, API_PUT, API_C_PUT_LOGGER, api_put_logger},
	{{"metrics"}, API_PUT, API_C_PUT_METRICS, api_put_metrics},
};

/* Firecracker endpoints lgvmm refuses, by their first path segment. */
static const struct {
	const char *seg;
	const char *what;
} unsupported[] = {
	{"balloon", "balloon devices are not implemented by lgvmm"},
	{"mmds", "MMDS (the microVM metadata service) is not implemented by "
		 "lgvmm"},
	{"cpu-config", "custom CPU templates are not implemented by lgvmm"},
	{"pmem", "pmem devices are not implemented by lgvmm"},
	{"hotplug", "memory hotplug is not implemented by lgvmm"},
};

static enum api_method parse_method(const char *m)
{
	if (!strcmp(m, "GET"))
		return API_GET;
	if (!strcmp(m, "PUT"))
		return API_PUT;
	if (!strcmp(m, "PATCH"))
		return API_PATCH;
	return API_OTHER;
}

/*
 * Splits "/a/b/c?q" into at most MAX_SEGS segments (leading slashes and
 * one trailing slash ignored, as Firecracker does). -1: empty segments
 * or too many.
 */
static int split_path(char *p, char *segs[MAX_SEGS])
{
	size_t len;
	int n = 0;

	p[strcspn(p, "?#")] = '\0';
	while (*p == '/')
		p++;
	len = strlen(p);
	if (len && p[len - 1] == '/')
		p[len - 1] = '\0';
	while (*p) {
		char *slash = strchr(p, '/');

		if (n == MAX_SEGS)
			return -1;
		segs[n++] = p;
		if (!slash)
			break;
		*slash = '\0';
		p = slash + 1;
		if (!*p)
			return -1;
	}
	return n;
}

static bool route_matches(const struct route *rt, char *segs[MAX_SEGS],
			  int nsegs)
{
	int i;

	for (i = 0; i < MAX_SEGS; i++) {
		if (!rt->path[i])
			return i == nsegs;
		if (i >= nsegs)
			return false;
		if (strcmp(rt->path[i], "*") && strcmp(rt->path[i], segs[i]))
			return false;
	}
	return nsegs == MAX_SEGS;
}

static int parse_body(const char *body, size_t len, json_t **out,
		      struct api_response *r)
{
	json_error_t jerr;
	json_t *v;

	*out = NULL;
	v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v) {
		api_reply_fault(r, 400,
				"An error occurred when deserializing the json "
				"body of a request: %s at line %d column %d.",
				jerr.text, jerr.line, jerr.column);
		return -EINVAL;
	}
	if (!json_is_object(v)) {
		api_reply_fault(r, 400,
				"An error occurred when deserializing the json "
				"body of a request: invalid type: a sequence, "
				"expected an object.");
		json_decref(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static void dispatch(struct api *api, struct api_request *rq, char *path,
		     const char *shown_path, const char *body, size_t body_len,
		     struct api_response *r)
{
	char *segs[MAX_SEGS] = {NULL};
	const struct route *rt = NULL;
	int nsegs;
	size_t i;

	rq->counter = API_C_INVALID;
	nsegs = split_path(path, segs);
	for (i = 0;
	     nsegs >= 0 && i < sizeof(unsupported) / sizeof(unsupported[0]);
	     i++) {
		if (nsegs && !strcmp(segs[0], unsupported[i].seg) &&
		    rq->method != API_OTHER) {
			rq->counter = API_C_UNSUPPORTED;
			api_reply_fault(r, 400,
					"The requested operation is not "
					"supported: %s.",
					unsupported[i].what);
			return;
		}
	}
	for (i = 0; nsegs >= 0 && i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!route_matches(&routes[i], segs, nsegs))
			continue;
		if (routes[i].method == rq->method) {
			rt = &routes[i];
			break;
		}
	}
	/* PUT/PATCH /drives or /network-interfaces without an id. */
	if (!rt && nsegs == 1 &&
	    (rq->method == API_PUT || rq->method == API_PATCH) &&
	    (!strcmp(segs[0], "drives") ||
	     !strcmp(segs[0], "network-interfaces"))) {
		api_reply_fault(r, 400, "The ID cannot be empty.");
		return;
	}
	if (!rt && nsegs == 1 && rq->method == API_PUT &&
	    !strcmp(segs[0], "snapshot")) {
		api_reply_fault(r, 400, "Missing snapshot operation type.");
		return;
	}
	if (!rt) {
		api_reply_fault(r, 400,
				"Invalid request method and/or path: %s %s.",
				rq->method_name, shown_path);
		return;
	}
	rq->counter = rt->counter;
	if (rt->path[1] && !strcmp(rt->path[1], "*")) {
		rq->id = segs[1];
		if (!vmm_config_id_valid(rq->id)) {
			api_reply_fault(r, 400,
					"API Resource IDs can only contain "
					"alphanumeric characters and "
					"underscores (at most %u).",
					VMM_MAX_ID_LEN);
			return;
		}
	}
	if (rq->method == API_GET && body_len) {
		api_reply_fault(r, 400, "GET request cannot have a body.");
		return;
	}
	if (rq->method != API_GET && !body_len) {
		api_reply_fault(r, 400, "Empty %s request.", rq->method_name);
		return;
	}
	if (rq->method != API_GET && parse_body(body, body_len, &rq->body, r))
		return;
	rt->fn(api, rq, r);
}

int api_handle(struct api *api, const char *method, const char *path,
	       const char *body, size_t body_len, struct api_response *resp)
{
	char copy[PATH_COPY_MAX], shown[96], mname[16];
	struct api_request rq = {0};

	memset(resp, 0, sizeof(*resp));
	if (!body)
		body_len = 0;
	jf_quote(mname, sizeof(mname), method ? method : "");
	jf_quote(shown, sizeof(shown), path ? path : "");
	rq.method = parse_method(method ? method : "");
	rq.method_name = mname;
	rq.counter = API_C_INVALID;

	pthread_mutex_lock(&api->lock);
	if (body_len > api->max_payload) {
		api_reply_fault(resp, 400,
				"Request payload with size %zu is larger than "
				"the limit of %zu allowed by server.",
				body_len, api->max_payload);
	} else if (!path || strlen(path) >= sizeof(copy)) {
		api_reply_fault(resp, 400,
				"Invalid request method and/or path: %s %s.",
				mname, shown);
	} else {
		strcpy(copy, path);
		dispatch(api, &rq, copy, shown, body, body_len, resp);
	}
	if (resp->status)
		api_metrics_count(&api->metrics, rq.counter,
				  resp->status >= 400);
	pthread_mutex_unlock(&api->lock);
	json_decref(rq.body);

	if (!resp->status)
		return -ENOMEM;
	if (resp->status >= 400)
		lg_info("API %s %s: %d %s", mname, shown, resp->status,
			resp->body ? resp->body : "");
	else
		lg_debug("API %s %s: %d", mname, shown, resp->status);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Outside HTTP: the config file, CLI flags, InstanceStart             */

static char *read_file(const char *path, char *err, size_t err_size,
		       size_t *len_out)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		e = errno;
		snprintf(err, err_size, "cannot open %s: %s", path,
			 strerror(e));
		if (fd >= 0)
			close(fd);
		errno = e;
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)CONFIG_FILE_MAX) {
		snprintf(err, err_size,
			 "%s: not a regular file of at most %u bytes", path,
			 CONFIG_FILE_MAX);
		close(fd);
		errno = EINVAL;
		return NULL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	*len_out = len;
	return buf;
}

int api_apply_config_file(struct api *api, const char *path, char *err,
			  size_t err_size)
{
	struct vmm_config tmp;
	json_error_t jerr;
	char detail[API_ERR_SIZE];
	json_t *root;
	size_t len = 0;
	char *text;
	int ret = 0;

	text = read_file(path, err, err_size, &len);
	if (!text)
		return -errno;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root) {
		snprintf(err, err_size,
			 "%s: invalid JSON: %s at line %d "
			 "column %d",
			 path, jerr.text, jerr.line, jerr.column);
		return -EINVAL;
	}
	vmm_config_init(&tmp);
	ret = vmm_config_from_json(&tmp, root, detail, sizeof(detail));
	json_decref(root);
	if (ret) {
		snprintf(err, err_size, "%s: %s", path, detail);
		goto out;
	}

	pthread_mutex_lock(&api->lock);
	if (api_state(api) != VMM_STATE_NOT_STARTED || api->boot_path) {
		snprintf(err, err_size,
			 "a configuration file is only accepted before "
			 "anything else was configured");
		ret = -EBUSY;
	}
	if (!ret && api->path_checks && tmp.boot.set)
		ret = api_check_boot_files(&tmp.boot, err, err_size);
	for (unsigned int i = 0; !ret && api->path_checks && i < tmp.nr_drives;
	     i++)
		ret = api_check_drive_file(&tmp.drives[i], err, err_size);
	if (!ret && tmp.logger.set)
		ret = api_set_logger(api, &tmp.logger, err, err_size);
	if (!ret && tmp.metrics.set)
		ret = api_set_metrics(api, tmp.metrics.metrics_path, err,
				      err_size);
	if (!ret) {
		/* api_set_* stored their sections already. */
		vmm_logger_free(&tmp.logger);
		vmm_metrics_free(&tmp.metrics);
		tmp.logger = api->cfg.logger;
		tmp.metrics = api->cfg.metrics;
		memset(&api->cfg.logger, 0, sizeof(api->cfg.logger));
		memset(&api->cfg.metrics, 0, sizeof(api->cfg.metrics));
		vmm_config_free(&api->cfg);
		api->cfg = tmp;
		vmm_config_init(&tmp);
		api->boot_path = true;
	}
	pthread_mutex_unlock(&api->lock);
out:
	vmm_config_free(&tmp);
	return ret;
}

int api_instance_start(struct api *api, char *err, size_t err_size)
{
	int ret;

	pthread_mutex_lock(&api->lock);
	ret = api_start_locked(api, err, err_size);
	pthread_mutex_unlock(&api->lock);
	return ret;
}

int api_configure_logger(struct api *api, const struct vmm_logger *lc,
			 char *err, size_t err_size)
{
	int ret;

	pthread_mutex_lock(&api->lock);
	ret = api_set_logger(api, lc, err, err_size);
	pthread_mutex_unlock(&api->lock);
	return ret;
}

int api_configure_metrics(struct api *api, const char *metrics_path, char *err,
			  size_t err_size)
{
	int ret;

	pthread_mutex_lock(&api->lock);
	ret = api_set_metrics(api, metrics_path, err, err_size);
	pthread_mutex_unlock(&api->lock);
	return ret;
}
