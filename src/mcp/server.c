/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server side of one MCP session: parse, answer what the protocol itself
 * defines, hand the rest to the handlers on worker threads, and map
 * notifications/cancelled onto those workers.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/server.h"

const char *const mcp_server_versions[] = {"2025-11-25", "2025-06-18",
					   "2025-03-26", NULL};

/* syslog severities, least severe first (logging.mdx). */
static const char *const log_levels[] = {"debug",   "info",	"notice",
					 "warning", "error",	"critical",
					 "alert",   "emergency"};
#define N_LOG_LEVELS (sizeof(log_levels) / sizeof(log_levels[0]))

struct inflight {
	struct inflight *next;
	struct mcp_session *s;
	json_t *msg; /* the request (owns id, params) */
	struct mcp_req req;
	bool cancelled;
};

/* A request we sent the client (on the waiter's stack). */
struct outreq {
	struct outreq *next;
	int64_t id;
	pthread_cond_t cond;
	bool done;
	int rc; /* 0, -EREMOTEIO, -EPIPE */
	json_t *result;
	struct mcp_server_error err;
	int efd; /* poked on completion, or -1 */
};

struct mcp_session {
	pthread_mutex_t lock;
	pthread_cond_t idle; /* signalled when n_inflight drops */
	struct mcp_server_info info;
	const struct mcp_server_handlers *h;
	void *hopaque;
	mcp_session_send_fn send;
	void *sopaque;
	bool initialized;
	char version[16];
	int log_level; /* index into log_levels: messages below are dropped */
	struct inflight *inflight;
	unsigned n_inflight;
	json_t *client_caps; /* from initialize; NULL before */
	/* Our own requests to the client, waiting for its responses. */
	struct outreq *outreqs;
	unsigned n_outwaiters;
	int64_t next_out_id;
	bool ended; /* mcp_session_end(): no more requests to the client */
};

static int level_index(const char *name)
{
	for (size_t i = 0; name && i < N_LOG_LEVELS; i++)
		if (strcmp(name, log_levels[i]) == 0)
			return (int)i;
	return -1;
}

struct mcp_session *mcp_session_new(const struct mcp_server_info *info,
				    const struct mcp_server_handlers *h,
				    void *handler_opaque,
				    mcp_session_send_fn send, void *send_opaque)
{
	struct mcp_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	s->info = *info;
	s->h = h;
	s->hopaque = handler_opaque;
	s->send = send;
	s->sopaque = send_opaque;
	s->log_level = 1; /* info */
	s->next_out_id = 1;
	return s;
}

static void inflight_cancel_locked(struct inflight *f)
{
	uint64_t one = 1;

	if (f->cancelled)
		return;
	f->cancelled = true;
	if (write(f->req.cancel_fd, &one, sizeof(one)) < 0)
		lg_debug("mcp server: cancel eventfd: %s", strerror(errno));
}

/* With s->lock held: o leaves the table with its outcome. */
static void outreq_complete_locked(struct mcp_session *s, struct outreq *o)
{
	uint64_t one = 1;

	for (struct outreq **pp = &s->outreqs; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	o->done = true;
	pthread_cond_signal(&o->cond);
	if (o->efd >= 0 && write(o->efd, &one, sizeof(one)) < 0)
		lg_debug("mcp server: eventfd write: %s", strerror(errno));
}

void mcp_session_end(struct mcp_session *s)
{
	pthread_mutex_lock(&s->lock);
	s->ended = true;
	while (s->outreqs) {
		struct outreq *o = s->outreqs;

		o->rc = -EPIPE;
		snprintf(o->err.message, sizeof(o->err.message),
			 "the client's session ended");
		outreq_complete_locked(s, o);
	}
	pthread_mutex_unlock(&s->lock);
}

void mcp_session_free(struct mcp_session *s)
{
	if (!s)
		return;
	mcp_session_end(s);
	pthread_mutex_lock(&s->lock);
	for (struct inflight *f = s->inflight; f; f = f->next)
		inflight_cancel_locked(f);
	while (s->n_inflight || s->n_outwaiters)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	json_decref(s->client_caps);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

bool mcp_session_initialized(const struct mcp_session *s)
{
	return s->initialized;
}

const char *mcp_session_protocol_version(const struct mcp_session *s)
{
	return s->initialized ? s->version : NULL;
}

/* Sends msg (stolen). */
static int send_msg(struct mcp_session *s, json_t *msg, const json_t *related)
{
	int rc;

	if (!msg)
		return -ENOMEM;
	rc = s->send(s->sopaque, msg, related);
	json_decref(msg);
	return rc;
}

static int send_error(struct mcp_session *s, json_t *id, int64_t code,
		      const char *message, json_t *data)
{
	return send_msg(s, jsonrpc_error(id, code, message, data), id);
}

int mcp_session_notify(struct mcp_session *s, const char *method,
		       json_t *params, const json_t *related)
{
	return send_msg(s, jsonrpc_notification(method, params), related);
}

int mcp_session_log(struct mcp_session *s, const char *level,
		    const char *logger, json_t *data)
{
	int idx = level_index(level);
	json_t *p;

	if (idx < 0 || idx < s->log_level) {
		json_decref(data);
		return 0;
	}
	p = json_pack("{s:s, s:o}", "level", level, "data",
		      data ? data : json_null());
	if (p && logger)
		json_object_set_new(p, "logger", json_string(logger));
	return p ? mcp_session_notify(s, "notifications/message", p, NULL)
		 : -ENOMEM;
}

int mcp_req_progress(struct mcp_req *req, double progress, double total,
		     const char *message)
{
	json_t *p;

	if (!req->progress_token)
		return 0;
	p = json_pack("{s:O, s:f}", "progressToken", req->progress_token,
		      "progress", progress);
	if (!p)
		return -ENOMEM;
	if (total > 0)
		json_object_set_new(p, "total", json_real(total));
	if (message)
		json_object_set_new(p, "message", json_string(message));
	return mcp_session_notify(req->session, "notifications/progress", p,
				  req->id);
}

static json_t *capabilities(const struct mcp_session *s)
{
	json_t *c = json_pack("{s:{s:b}, s:{s:b}, s:{s:b}}", "tools",
			      "listChanged", 1, "resources", "listChanged", 1,
			      "prompts", "listChanged", 1);

	if (c && s->info.logging)
		json_object_set_new(c, "logging", json_object());
	return c;
}

/* Our version if the client's is one we serve, else our latest. */
static const char *version_choose(const char *asked)
{
	for (size_t i = 0; mcp_server_versions[i]; i++)
		if (strcmp(asked, mcp_server_versions[i]) == 0)
			return mcp_server_versions[i];
	return mcp_server_versions[0];
}

static void on_initialize(struct mcp_session *s, json_t *id, json_t *params)
{
	const char *asked =
		json_string_value(json_object_get(params, "protocolVersion"));
	const char *v;
	json_t *r;

	if (!asked) {
		send_error(s, id, JSONRPC_INVALID_PARAMS,
			   "initialize needs params.protocolVersion", NULL);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->initialized) {
		pthread_mutex_unlock(&s->lock);
		send_error(s, id, JSONRPC_INVALID_REQUEST,
			   "session already initialized", NULL);
		return;
	}
	v = version_choose(asked);
	snprintf(s->version, sizeof(s->version), "%s", v);
	s->client_caps = json_incref(json_object_get(params, "capabilities"));
	if (!json_is_object(s->client_caps)) {
		json_decref(s->client_caps);
		s->client_caps = json_object();
	}
	s->initialized = true;
	pthread_mutex_unlock(&s->lock);
	r = json_pack("{s:s, s:o, s:{s:s, s:s}}", "protocolVersion", v,
		      "capabilities", capabilities(s), "serverInfo", "name",
		      s->info.name, "version", s->info.version);
	if (r && s->info.instructions)
		json_object_set_new(r, "instructions",
				    json_string(s->info.instructions));
	lg_info("mcp server: client %s asked for %s, speaking %s",
		json_string_value(json_object_get(
			json_object_get(params, "clientInfo"), "name"))
			?: "(unnamed)",
		asked, v);
	send_msg(s, jsonrpc_result(id, r), id);
}

static void on_set_level(struct mcp_session *s, json_t *id, json_t *params)
{
	int idx = level_index(
		json_string_value(json_object_get(params, "level")));

	if (idx < 0) {
		send_error(s, id, JSONRPC_INVALID_PARAMS,
			   "logging/setLevel: unknown level", NULL);
		return;
	}
	s->log_level = idx;
	send_msg(s, jsonrpc_result(id, json_object()), id);
}

static const struct {
	const char *method, *key;
} list_methods[] = {
	{"tools/list", "tools"},
	{"resources/list", "resources"},
	{"resources/templates/list", "resourceTemplates"},
	{"prompts/list", "prompts"},
};

/* Opaque to clients; "lg:<offset>" to us. -1: not one of ours. */
static long cursor_parse(json_t *cursor)
{
	const char *c = json_string_value(cursor);
	char *end;
	long off;

	if (!c || strncmp(c, "lg:", 3) != 0 || c[3] < '0' || c[3] > '9')
		return -1;
	errno = 0;
	off = strtol(c + 3, &end, 10);
	if (errno || *end || off < 0)
		return -1;
	return off;
}

static void on_list(struct mcp_session *s, json_t *id, json_t *params,
		    const char *key)
{
	json_t *cursor = json_object_get(params, "cursor");
	json_t *all = s->h->list ? s->h->list(s->hopaque, key) : NULL;
	size_t psize =
		s->info.page_size ? s->info.page_size : MCP_SERVER_PAGE_SIZE;
	json_t *page, *r;
	long off = 0;
	size_t n;

	if (!all)
		all = json_array();
	if (cursor && !json_is_null(cursor)) {
		off = cursor_parse(cursor);
		if (off < 0 || (size_t)off > json_array_size(all)) {
			json_decref(all);
			send_error(s, id, JSONRPC_INVALID_PARAMS,
				   "invalid cursor", NULL);
			return;
		}
	}
	page = json_array();
	n = json_array_size(all);
	for (size_t i = (size_t)off; page && i < n && i < (size_t)off + psize;
	     i++)
		json_array_append(page, json_array_get(all, i));
	r = json_pack("{s:o}", key, page);
	if (r && (size_t)off + psize < n) {
		char next[32];

		snprintf(next, sizeof(next), "lg:%zu", (size_t)off + psize);
		json_object_set_new(r, "nextCursor", json_string(next));
	}
	json_decref(all);
	send_msg(s, jsonrpc_result(id, r), id);
}

static void inflight_remove(struct inflight *f)
{
	struct mcp_session *s = f->s;
	struct inflight **pp;

	pthread_mutex_lock(&s->lock);
	for (pp = &s->inflight; *pp; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

/* After the last touch of s: the session may be freed once we signal. */
static void inflight_finish(struct inflight *f)
{
	struct mcp_session *s = f->s;

	close(f->req.cancel_fd);
	json_decref(f->msg);
	free(f);
	pthread_mutex_lock(&s->lock);
	s->n_inflight--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
}

static void *worker(void *arg)
{
	struct inflight *f = arg;
	struct mcp_session *s = f->s;
	struct mcp_server_error e = {0};
	json_t *params = json_object_get(f->msg, "params");
	const char *method =
		json_string_value(json_object_get(f->msg, "method"));
	json_t *result = NULL, *reply;
	bool cancelled;
	int rc;

	rc = s->h->request(s->hopaque, &f->req, method, params, &result, &e);
	inflight_remove(f);
	pthread_mutex_lock(&s->lock);
	cancelled = f->cancelled;
	pthread_mutex_unlock(&s->lock);
	if (cancelled) {
		/* The client no longer waits for it (cancellation.mdx). */
		lg_debug("mcp server: %s cancelled by the client", method);
		json_decref(result);
		json_decref(e.data);
	} else if (rc == 0) {
		reply = jsonrpc_result(f->req.id,
				       result ? result : json_object());
		send_msg(s, reply, f->req.id);
	} else {
		if (!e.message[0])
			snprintf(e.message, sizeof(e.message), "%s",
				 strerror(-rc));
		send_error(s, f->req.id,
			   e.code ? e.code : JSONRPC_INTERNAL_ERROR, e.message,
			   e.data);
	}
	inflight_finish(f);
	return NULL;
}

static bool id_inflight_locked(struct mcp_session *s, json_t *id)
{
	for (struct inflight *f = s->inflight; f; f = f->next)
		if (json_equal(f->req.id, id))
			return true;
	return false;
}

/* msg is stolen. */
static void dispatch_request(struct mcp_session *s, json_t *msg, json_t *id)
{
	json_t *params = json_object_get(msg, "params");
	struct inflight *f = calloc(1, sizeof(*f));
	pthread_attr_t attr;
	pthread_t t;
	const char *why = NULL;
	int rc;

	if (!f) {
		send_error(s, id, JSONRPC_INTERNAL_ERROR, "out of memory",
			   NULL);
		json_decref(msg);
		return;
	}
	f->s = s;
	f->msg = msg;
	f->req.session = s;
	f->req.id = json_object_get(msg, "id");
	f->req.progress_token = json_object_get(
		json_object_get(params, "_meta"), "progressToken");
	if (f->req.progress_token && !json_is_string(f->req.progress_token) &&
	    !json_is_integer(f->req.progress_token))
		f->req.progress_token = NULL;
	f->req.cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_lock(&s->lock);
	if (f->req.cancel_fd < 0)
		why = "out of file descriptors";
	else if (id_inflight_locked(s, id))
		why = "a request with this id is already in flight";
	else if (s->n_inflight >= MCP_SERVER_MAX_INFLIGHT)
		why = "too many requests in flight";
	if (!why) {
		f->next = s->inflight;
		s->inflight = f;
		s->n_inflight++;
	}
	pthread_mutex_unlock(&s->lock);
	if (why) {
		send_error(s, id, JSONRPC_INVALID_REQUEST, why, NULL);
		if (f->req.cancel_fd >= 0)
			close(f->req.cancel_fd);
		json_decref(msg);
		free(f);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, worker, f);
	pthread_attr_destroy(&attr);
	if (rc) {
		inflight_remove(f);
		send_error(s, id, JSONRPC_INTERNAL_ERROR,
			   "cannot start a worker thread", NULL);
		inflight_finish(f);
	}
}

static void on_cancelled(struct mcp_session *s, json_t *params)
{
	json_t *id = json_object_get(params, "requestId");

	if (!id)
		return;
	pthread_mutex_lock(&s->lock);
	for (struct inflight *f = s->inflight; f; f = f->next) {
		if (json_equal(f->req.id, id)) {
			lg_info("mcp server: client cancelled a request (%s)",
				json_string_value(
					json_object_get(params, "reason"))
					?: "no reason given");
			inflight_cancel_locked(f);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

static void on_notification(struct mcp_session *s, const char *method,
			    json_t *params)
{
	if (strcmp(method, "notifications/cancelled") == 0)
		on_cancelled(s, params);
	else if (strcmp(method, "notifications/initialized") == 0)
		lg_debug("mcp server: client initialized");
	else if (s->h->notification)
		s->h->notification(s->hopaque, s, method, params);
}

/* A request: answer it here or start a worker. */
static int on_request(struct mcp_session *s, struct jsonrpc_msg *m)
{
	const char *method = m->method;

	if (strcmp(method, "ping") == 0) {
		send_msg(s, jsonrpc_result(m->id, json_object()), m->id);
		return 1;
	}
	if (strcmp(method, "initialize") == 0) {
		on_initialize(s, m->id, m->params);
		return 1;
	}
	if (!s->initialized) {
		send_error(s, m->id, JSONRPC_INVALID_REQUEST,
			   "send initialize first", NULL);
		return 1;
	}
	if (m->params && !json_is_object(m->params)) {
		send_error(s, m->id, JSONRPC_INVALID_PARAMS,
			   "params must be an object", NULL);
		return 1;
	}
	if (strcmp(method, "logging/setLevel") == 0 && s->info.logging) {
		on_set_level(s, m->id, m->params);
		return 1;
	}
	for (size_t i = 0; i < sizeof(list_methods) / sizeof(list_methods[0]);
	     i++) {
		if (strcmp(method, list_methods[i].method) == 0) {
			on_list(s, m->id, m->params, list_methods[i].key);
			return 1;
		}
	}
	dispatch_request(s, json_incref(m->root), m->id);
	return 1;
}

/* The client's answer to one of our requests. */
static void on_response(struct mcp_session *s, struct jsonrpc_msg *m)
{
	struct outreq *o;

	pthread_mutex_lock(&s->lock);
	for (o = s->outreqs; o; o = o->next)
		if (json_is_integer(m->id) &&
		    json_integer_value(m->id) == o->id)
			break;
	if (!o) {
		pthread_mutex_unlock(&s->lock);
		lg_debug("mcp server: dropping a response nobody waits for");
		return;
	}
	if (m->kind == JSONRPC_RESULT) {
		o->rc = 0;
		o->result = json_incref(m->result);
	} else {
		o->rc = -EREMOTEIO;
		o->err.code = m->error_code;
		snprintf(o->err.message, sizeof(o->err.message), "%s",
			 m->error_message);
		o->err.data = json_incref(m->error_data);
	}
	outreq_complete_locked(s, o);
	pthread_mutex_unlock(&s->lock);
}

json_t *mcp_session_client_capabilities(struct mcp_session *s)
{
	json_t *c;

	pthread_mutex_lock(&s->lock);
	c = s->client_caps ? json_incref(s->client_caps) : NULL;
	pthread_mutex_unlock(&s->lock);
	return c;
}

/* With s->lock held: waits for o, the deadline or cancel_fd. */
static int outreq_wait(struct mcp_session *s, struct outreq *o,
		       const struct timespec *deadline, int cancel_fd)
{
	while (!o->done) {
		struct timespec now;
		int64_t ms;

		if (o->efd < 0) {
			if (pthread_cond_timedwait(&o->cond, &s->lock,
						   deadline) == ETIMEDOUT &&
			    !o->done)
				return -ETIMEDOUT;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
		     (deadline->tv_nsec - now.tv_nsec) / 1000000;
		if (ms <= 0)
			return -ETIMEDOUT;
		struct pollfd p[2] = {{.fd = cancel_fd, .events = POLLIN},
				      {.fd = o->efd, .events = POLLIN}};
		pthread_mutex_unlock(&s->lock);
		int n = poll(p, 2, ms > 1000000 ? 1000000 : (int)ms + 1);
		pthread_mutex_lock(&s->lock);
		if (o->done)
			return 0;
		if (n > 0 && p[0].revents)
			return -ECANCELED;
	}
	return 0;
}

int mcp_session_request(struct mcp_session *s, const char *method,
			json_t *params, const json_t *related,
			unsigned timeout_ms, int cancel_fd, json_t **result,
			struct mcp_server_error *e)
{
	struct outreq o = {.efd = -1};
	pthread_condattr_t attr;
	struct timespec deadline;
	json_t *id;
	int rc;

	*result = NULL;
	memset(e, 0, sizeof(*e));
	if (cancel_fd >= 0) {
		o.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (o.efd < 0) {
			json_decref(params);
			snprintf(e->message, sizeof(e->message), "eventfd: %s",
				 strerror(errno));
			return -errno;
		}
	}
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&o.cond, &attr);
	pthread_condattr_destroy(&attr);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (timeout_ms ? timeout_ms : 60000u) / 1000;
	deadline.tv_nsec +=
		(long)((timeout_ms ? timeout_ms : 60000u) % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->lock);
	if (s->ended || !s->initialized) {
		pthread_mutex_unlock(&s->lock);
		json_decref(params);
		snprintf(e->message, sizeof(e->message),
			 "the client's session is not open");
		rc = -EPIPE;
		goto out;
	}
	o.id = s->next_out_id++;
	o.next = s->outreqs;
	s->outreqs = &o;
	s->n_outwaiters++;
	pthread_mutex_unlock(&s->lock);
	id = json_integer(o.id);
	rc = send_msg(s, jsonrpc_request(id, method, params), related);
	json_decref(id);
	pthread_mutex_lock(&s->lock);
	if (rc == 0 || o.done)
		rc = outreq_wait(s, &o, &deadline, cancel_fd);
	if (!o.done) {
		/* Not answered: out of the table; a late answer is dropped. */
		for (struct outreq **pp = &s->outreqs; *pp; pp = &(*pp)->next) {
			if (*pp == &o) {
				*pp = o.next;
				break;
			}
		}
	}
	if (--s->n_outwaiters == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	if (o.done && o.rc == 0) {
		*result = o.result;
		rc = 0;
	} else if (o.done) {
		*e = o.err;
		rc = o.rc;
	} else {
		json_t *p = json_pack(
			"{s:I, s:s}", "requestId", (json_int_t)o.id, "reason",
			rc == -ETIMEDOUT ? "timeout" : "cancelled");

		/* The client should stop working on it (cancellation.mdx). */
		if (rc == -ETIMEDOUT || rc == -ECANCELED)
			mcp_session_notify(s, "notifications/cancelled", p,
					   related);
		else
			json_decref(p);
		snprintf(e->message, sizeof(e->message), "%s %s", method,
			 rc == -ETIMEDOUT   ? "timed out"
			 : rc == -ECANCELED ? "cancelled"
					    : "could not be sent");
	}
out:
	pthread_cond_destroy(&o.cond);
	if (o.efd >= 0)
		close(o.efd);
	return rc;
}

int mcp_session_receive(struct mcp_session *s, const char *buf, size_t len)
{
	struct jsonrpc_msg m;
	json_t *id = NULL;
	char err[256];
	int rc;

	rc = jsonrpc_parse(buf, len, JSONRPC_MAX_MESSAGE, &m, &id, err,
			   sizeof(err));
	if (rc == -EBADMSG) {
		send_error(s, NULL, JSONRPC_PARSE_ERROR, err, NULL);
		return 0;
	}
	if (rc < 0) {
		/* Oversized or not JSON-RPC: invalid request, id if known. */
		send_error(s, id, JSONRPC_INVALID_REQUEST, err, NULL);
		json_decref(id);
		return 0;
	}
	switch (m.kind) {
	case JSONRPC_REQUEST:
		rc = on_request(s, &m);
		break;
	case JSONRPC_NOTIFICATION:
		on_notification(s, m.method, m.params);
		rc = 0;
		break;
	default:
		on_response(s, &m);
		rc = 0;
		break;
	}
	jsonrpc_msg_free(&m);
	return rc;
}
