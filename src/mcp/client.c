/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MCP client session. Requests wait on their own condition variable
 * in a table keyed by id; the transport's thread completes them. Each
 * waiter owns its table entry (on its stack) and leaves only once no
 * progress callback for it is running, so a caller's opaque pointer is
 * never used after mcp_client_request() returns.
 *
 * The transport is guarded by a read-write lock: senders hold it shared,
 * mcp_client_destroy() holds it exclusively while the transport goes
 * away. The transport's own thread only try-locks it, so a destroy that
 * waits for that thread cannot deadlock with it.
 */
#include "mcp/client.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "config.h"
#include "mcp/client-peer.h"
#include "mcp/http.h"
#include "mcp/jsonrpc.h"

const char *const mcp_protocol_versions[] = {
	MCP_PROTOCOL_LATEST,
	"2025-06-18",
	"2025-03-26",
	NULL,
};

struct pending {
	struct pending *next;
	int64_t id;
	pthread_cond_t cond;
	bool done;
	int rc; /* 0, -EREMOTEIO, -EPIPE, -EBADMSG */
	json_t *result;
	struct mcp_error err;
	char token[40]; /* progressToken, "" when none */
	const struct mcp_call_opts *co;
	unsigned int cb_active; /* progress callbacks running now */
	int efd;		/* eventfd poked on completion, or -1 */
};

/* A server request answered by opts.server_request on its own thread. */
struct srvreq {
	struct srvreq *next;
	struct mcp_client *c;
	json_t *msg; /* the request */
	int efd;     /* readable: cancelled, or the session ended */
};

struct mcp_client {
	struct mcp_transport *t;
	pthread_rwlock_t t_lock;
	pthread_mutex_t lock;
	pthread_cond_t idle; /* waiters == 0 */
	struct pending *pending;
	unsigned int waiters;
	int64_t next_id;
	bool closed;
	char why[256];
	struct mcp_client_opts opts;
	char *client_name, *client_version;
	char version[32];
	json_t *server_info, *caps;
	char *instructions;
	/* The server ended the session (HTTP): initialize again first. */
	bool reinit;
	pthread_mutex_t reinit_lock;
	struct srvreq *srvreqs; /* counted in waiters */
};

void mcp_error_clear(struct mcp_error *e)
{
	if (!e)
		return;
	json_decref(e->data);
	memset(e, 0, sizeof(*e));
}

static int error_set(struct mcp_error *e, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A local failure: code 0, the message, rc returned. */
static int error_set(struct mcp_error *e, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return rc;
	mcp_error_clear(e);
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return rc;
}

/* Shared lock for a sender; the transport's thread only tries. */
static int client_send(struct mcp_client *c, json_t *msg, bool transport_thread)
{
	char err[256] = "";
	size_t len;
	char *s;
	int rc;

	if (!msg)
		return -ENOMEM;
	s = jsonrpc_dump(msg, &len);
	json_decref(msg);
	if (!s)
		return -ENOMEM;
	rc = transport_thread ? pthread_rwlock_tryrdlock(&c->t_lock)
			      : pthread_rwlock_rdlock(&c->t_lock);
	if (rc) {
		free(s);
		return -EPIPE;
	}
	rc = c->t ? c->t->ops->send(c->t, s, len, err, sizeof(err)) : -EPIPE;
	pthread_rwlock_unlock(&c->t_lock);
	if (rc < 0 && err[0])
		lg_debug("mcp: send failed: %s", err);
	free(s);
	return rc;
}

/* With c->lock held. */
static void pending_unlink(struct mcp_client *c, struct pending *p)
{
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

static struct pending *pending_find(struct mcp_client *c, int64_t id)
{
	for (struct pending *p = c->pending; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

/* With c->lock held: p leaves the table with its outcome. */
static void pending_complete(struct mcp_client *c, struct pending *p)
{
	uint64_t one = 1;

	pending_unlink(c, p);
	p->done = true;
	pthread_cond_signal(&p->cond);
	if (p->efd >= 0 && write(p->efd, &one, sizeof(one)) < 0)
		lg_debug("mcp: eventfd write: %s", strerror(errno));
}

static void on_response(struct mcp_client *c, struct jsonrpc_msg *m)
{
	struct pending *p;
	json_int_t id;

	if (!json_is_integer(m->id)) {
		lg_debug("mcp: dropping a response with a non-integer id");
		return;
	}
	id = json_integer_value(m->id);
	pthread_mutex_lock(&c->lock);
	p = pending_find(c, id);
	if (!p) {
		pthread_mutex_unlock(&c->lock);
		lg_debug("mcp: dropping a response for unknown id %" PRId64,
			 (int64_t)id);
		return;
	}
	if (m->kind == JSONRPC_RESULT) {
		p->rc = 0;
		p->result = json_incref(m->result);
	} else {
		p->rc = -EREMOTEIO;
		p->err.code = m->error_code;
		snprintf(p->err.message, sizeof(p->err.message), "%s",
			 m->error_message);
		p->err.data = json_incref(m->error_data);
	}
	pending_complete(c, p);
	pthread_mutex_unlock(&c->lock);
}

/* A response we could not parse but whose id we read fails its request
 * now instead of at its timeout. */
static void on_bad_response(struct mcp_client *c, json_t *id, const char *why)
{
	struct pending *p;

	if (!json_is_integer(id))
		return;
	pthread_mutex_lock(&c->lock);
	p = pending_find(c, json_integer_value(id));
	if (p) {
		p->rc = -EBADMSG;
		snprintf(p->err.message, sizeof(p->err.message),
			 "malformed response from the server: %s", why);
		pending_complete(c, p);
	}
	pthread_mutex_unlock(&c->lock);
}

static void on_progress(struct mcp_client *c, json_t *params)
{
	json_t *tok = json_object_get(params, "progressToken");
	const char *msg = json_string_value(json_object_get(params, "message"));
	double progress =
		json_number_value(json_object_get(params, "progress"));
	double total = json_number_value(json_object_get(params, "total"));
	struct pending *p;

	if (!json_is_string(tok)) {
		lg_debug("mcp: dropping progress with a token we never sent");
		return;
	}
	pthread_mutex_lock(&c->lock);
	for (p = c->pending; p; p = p->next)
		if (p->token[0] &&
		    strcmp(p->token, json_string_value(tok)) == 0)
			break;
	if (!p || !p->co || !p->co->progress) {
		pthread_mutex_unlock(&c->lock);
		lg_debug("mcp: dropping progress for a finished request");
		return;
	}
	p->cb_active++;
	pthread_mutex_unlock(&c->lock);
	p->co->progress(p->co->opaque, progress, total, msg);
	pthread_mutex_lock(&c->lock);
	if (--p->cb_active == 0)
		pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&c->lock);
}

static void srvreq_poke(struct srvreq *r)
{
	uint64_t one = 1;

	if (write(r->efd, &one, sizeof(one)) < 0)
		lg_debug("mcp: eventfd write: %s", strerror(errno));
}

/* Unlinks r from its client (waking mcp_client_destroy, which waits
 * for the last one) and frees it. */
static void srvreq_finish(struct srvreq *r)
{
	struct mcp_client *c = r->c;

	pthread_mutex_lock(&c->lock);
	for (struct srvreq **pp = &c->srvreqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	if (--c->waiters == 0)
		pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	close(r->efd);
	json_decref(r->msg);
	free(r);
}

static void *srvreq_main(void *arg)
{
	struct srvreq *r = arg;
	struct mcp_client *c = r->c;
	json_t *id = json_object_get(r->msg, "id");
	const char *method =
		json_string_value(json_object_get(r->msg, "method"));
	char msg[256] = "";
	int64_t code = JSONRPC_INTERNAL_ERROR;
	json_t *res;

	res = c->opts.server_request(c->opts.opaque, method,
				     json_object_get(r->msg, "params"), r->efd,
				     &code, msg, sizeof(msg));
	if (client_send(c,
			res ? jsonrpc_result(id, res)
			    : jsonrpc_error(id, code, msg[0] ? msg : "failed",
					    NULL),
			false) < 0)
		lg_debug("mcp: could not answer the server's %s", method);
	srvreq_finish(r);
	return NULL;
}

/* Hands the request to opts.server_request on a thread; false: could not. */
static bool srvreq_start(struct mcp_client *c, struct jsonrpc_msg *m)
{
	struct srvreq *r = calloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (!r)
		return false;
	r->c = c;
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0) {
		free(r);
		return false;
	}
	r->msg = json_incref(m->root);
	pthread_mutex_lock(&c->lock);
	if (c->closed) {
		pthread_mutex_unlock(&c->lock);
		close(r->efd);
		json_decref(r->msg);
		free(r);
		return false;
	}
	r->next = c->srvreqs;
	c->srvreqs = r;
	c->waiters++;
	pthread_mutex_unlock(&c->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, srvreq_main, r);
	pthread_attr_destroy(&attr);
	if (rc) {
		srvreq_finish(r);
		return false;
	}
	return true;
}

/* The server gave up on one of its requests to us. */
static void srvreq_cancelled(struct mcp_client *c, json_t *params)
{
	json_t *id = json_object_get(params, "requestId");

	pthread_mutex_lock(&c->lock);
	for (struct srvreq *r = c->srvreqs; id && r; r = r->next)
		if (json_equal(json_object_get(r->msg, "id"), id))
			srvreq_poke(r);
	pthread_mutex_unlock(&c->lock);
}

static void on_request(struct mcp_client *c, struct jsonrpc_msg *m)
{
	char msg[256] = "";
	int64_t code = 0;
	json_t *res;

	if (c->opts.server_request && strcmp(m->method, "ping") != 0) {
		if (srvreq_start(c, m))
			return;
		if (client_send(c,
				jsonrpc_error(m->id, JSONRPC_INTERNAL_ERROR,
					      "cannot answer now", NULL),
				true) < 0)
			lg_debug("mcp: could not answer the server's %s",
				 m->method);
		return;
	}
	res = mcp_peer_answer(&c->opts, m->method, m->params, &code, msg,
			      sizeof(msg));
	lg_debug("mcp: server asked %s: %s", m->method, res ? "answered" : msg);
	if (client_send(c,
			res ? jsonrpc_result(m->id, res)
			    : jsonrpc_error(m->id, code, msg, NULL),
			true) < 0)
		lg_debug("mcp: could not answer the server's %s", m->method);
}

static void on_message(void *opaque, const char *buf, size_t len)
{
	struct mcp_client *c = opaque;
	struct jsonrpc_msg m;
	json_t *bad_id;
	char err[256];

	if (jsonrpc_parse(buf, len, 0, &m, &bad_id, err, sizeof(err)) < 0) {
		lg_warn("mcp: dropping a malformed message from the server: "
			"%s",
			err);
		on_bad_response(c, bad_id, err);
		json_decref(bad_id);
		return;
	}
	switch (m.kind) {
	case JSONRPC_RESULT:
	case JSONRPC_ERROR:
		on_response(c, &m);
		break;
	case JSONRPC_REQUEST:
		on_request(c, &m);
		break;
	case JSONRPC_NOTIFICATION:
		if (strcmp(m.method, "notifications/cancelled") == 0)
			srvreq_cancelled(c, m.params);
		if (strcmp(m.method, "notifications/progress") == 0)
			on_progress(c, m.params);
		else if (c->opts.notification)
			c->opts.notification(c->opts.opaque, m.method,
					     m.params);
		break;
	}
	jsonrpc_msg_free(&m);
}

/* With c->lock held: the session is over; every waiter gets -EPIPE. */
static void client_end(struct mcp_client *c, const char *why)
{
	if (!c->closed) {
		c->closed = true;
		snprintf(c->why, sizeof(c->why), "%s", why);
	}
	for (struct srvreq *r = c->srvreqs; r; r = r->next)
		srvreq_poke(r);
	while (c->pending) {
		struct pending *p = c->pending;

		p->rc = -EPIPE;
		snprintf(p->err.message, sizeof(p->err.message), "%s", c->why);
		pending_complete(c, p);
	}
}

static void on_closed(void *opaque, int err, const char *why)
{
	struct mcp_client *c = opaque;
	char msg[256];

	snprintf(msg, sizeof(msg), "connection to the server ended%s%s",
		 why && why[0] ? ": " : "", why ? why : "");
	if (err)
		lg_debug("mcp: %s (%s)", msg, strerror(-err));
	pthread_mutex_lock(&c->lock);
	client_end(c, msg);
	pthread_mutex_unlock(&c->lock);
}

static void on_session_expired(void *opaque)
{
	struct mcp_client *c = opaque;

	pthread_mutex_lock(&c->lock);
	c->reinit = true;
	pthread_mutex_unlock(&c->lock);
}

static const struct mcp_transport_events client_events = {
	.message = on_message,
	.closed = on_closed,
	.session_expired = on_session_expired,
};

int mcp_client_create(struct mcp_transport *t,
		      const struct mcp_client_opts *opts,
		      struct mcp_client **out, char *err, size_t err_size)
{
	struct mcp_client *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c) {
		t->ops->destroy(t);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	if (opts)
		c->opts = *opts;
	c->client_name = strdup(c->opts.client_name ? c->opts.client_name
						    : "luminaguard");
	c->client_version = strdup(
		c->opts.client_version ? c->opts.client_version : LG_VERSION);
	c->opts.client_name = c->client_name;
	c->opts.client_version = c->client_version;
	if (!c->opts.timeout_ms)
		c->opts.timeout_ms = MCP_DEFAULT_TIMEOUT_MS;
	json_incref(c->opts.roots);
	c->next_id = 1;
	pthread_rwlock_init(&c->t_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->reinit_lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	c->t = t;
	if (!c->client_name || !c->client_version) {
		snprintf(err, err_size, "out of memory");
		mcp_client_destroy(c);
		return -ENOMEM;
	}
	rc = t->ops->start(t, &client_events, c, err, err_size);
	if (rc < 0) {
		mcp_client_destroy(c);
		return rc;
	}
	*out = c;
	return 0;
}

void mcp_client_destroy(struct mcp_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	client_end(c, "the client ended the session");
	pthread_mutex_unlock(&c->lock);
	pthread_rwlock_wrlock(&c->t_lock);
	if (c->t)
		c->t->ops->destroy(c->t);
	c->t = NULL;
	pthread_rwlock_unlock(&c->t_lock);
	pthread_mutex_lock(&c->lock);
	while (c->waiters)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->reinit_lock);
	pthread_rwlock_destroy(&c->t_lock);
	json_decref(c->opts.roots);
	json_decref(c->server_info);
	json_decref(c->caps);
	free(c->instructions);
	free(c->client_name);
	free(c->client_version);
	free(c);
}

/* Adds _meta.progressToken to params (created when NULL). */
static int progress_token_add(json_t **params, const char *token)
{
	json_t *meta;

	if (!*params)
		*params = json_object();
	if (!json_is_object(*params))
		return -EINVAL;
	meta = json_object_get(*params, "_meta");
	if (!meta) {
		meta = json_object();
		if (json_object_set_new(*params, "_meta", meta))
			return -ENOMEM;
	}
	if (!json_is_object(meta))
		return -EINVAL;
	return json_object_set_new(meta, "progressToken", json_string(token))
		       ? -ENOMEM
		       : 0;
}

static void deadline_make(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int ms_left(const struct timespec *deadline)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000 +
	     (deadline->tv_nsec - now.tv_nsec) / 1000000;
	if (ms <= 0)
		return 0;
	return ms > 1000000 ? 1000000 : (int)ms + 1;
}

/*
 * With c->lock held: waits until p is done (0), times out (-ETIMEDOUT)
 * or cancel_fd fires (-ECANCELED).
 */
static int pending_wait(struct mcp_client *c, struct pending *p,
			const struct timespec *deadline, int cancel_fd)
{
	while (!p->done) {
		if (p->efd >= 0) {
			struct pollfd fds[2] = {
				{.fd = cancel_fd, .events = POLLIN},
				{.fd = p->efd, .events = POLLIN},
			};
			int ms = ms_left(deadline), n;

			if (ms == 0)
				return -ETIMEDOUT;
			pthread_mutex_unlock(&c->lock);
			n = poll(fds, 2, ms);
			pthread_mutex_lock(&c->lock);
			if (p->done)
				return 0;
			if (n > 0 && fds[0].revents)
				return -ECANCELED;
			if (n < 0 && errno != EINTR)
				return -errno;
		} else if (pthread_cond_timedwait(&p->cond, &c->lock,
						  deadline) == ETIMEDOUT &&
			   !p->done) {
			return -ETIMEDOUT;
		}
	}
	return 0;
}

static void cancelled_send(struct mcp_client *c, int64_t id, const char *reason)
{
	json_t *params = json_pack("{s:I,s:s}", "requestId", (json_int_t)id,
				   "reason", reason);

	if (client_send(c,
			jsonrpc_notification("notifications/cancelled", params),
			false) < 0)
		lg_debug("mcp: could not send notifications/cancelled");
}

/* Registers p under a fresh id; -EPIPE once the session is over. */
static int pending_add(struct mcp_client *c, struct pending *p,
		       struct mcp_error *e)
{
	pthread_mutex_lock(&c->lock);
	if (c->closed) {
		pthread_mutex_unlock(&c->lock);
		return error_set(e, -EPIPE, "%s", c->why);
	}
	p->id = c->next_id++;
	p->next = c->pending;
	c->pending = p;
	c->waiters++;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* With c->lock held: p is out of the table and no callback runs for it. */
static void pending_leave(struct mcp_client *c, struct pending *p)
{
	pending_unlink(c, p);
	while (p->cb_active)
		pthread_cond_wait(&p->cond, &c->lock);
	if (--c->waiters == 0)
		pthread_cond_broadcast(&c->idle);
}

static int pending_outcome(struct pending *p, json_t **result,
			   struct mcp_error *e)
{
	if (p->rc == 0) {
		*result = p->result;
		return 0;
	}
	if (e) {
		mcp_error_clear(e);
		*e = p->err;
	} else {
		json_decref(p->err.data);
	}
	return p->rc;
}

static int request_once(struct mcp_client *c, const char *method,
			json_t *params, const struct mcp_call_opts *co,
			json_t **result, struct mcp_error *e)
{
	unsigned int ms =
		co && co->timeout_ms ? co->timeout_ms : c->opts.timeout_ms;
	int cancel_fd = co ? co->cancel_fd : -1;
	struct pending p = {.efd = -1, .co = co};
	pthread_condattr_t attr;
	struct timespec deadline;
	int rc;

	*result = NULL;
	if (e)
		mcp_error_clear(e);
	if (cancel_fd >= 0) {
		p.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p.efd < 0) {
			json_decref(params);
			return error_set(e, -errno, "eventfd: %s",
					 strerror(errno));
		}
	}
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p.cond, &attr);
	pthread_condattr_destroy(&attr);
	rc = pending_add(c, &p, e);
	if (rc < 0) {
		json_decref(params);
		goto out;
	}
	if (co && co->progress) {
		snprintf(p.token, sizeof(p.token), "lg-%" PRId64, p.id);
		rc = progress_token_add(&params, p.token);
	}
	deadline_make(&deadline, ms);
	if (rc == 0) {
		json_t *id = json_integer(p.id); /* the builder borrows it */

		rc = client_send(c, jsonrpc_request(id, method, params), false);
		json_decref(id);
	} else {
		json_decref(params);
	}
	pthread_mutex_lock(&c->lock);
	if (rc < 0) {
		pending_leave(c, &p);
		pthread_mutex_unlock(&c->lock);
		if (p.done) /* the transport ended meanwhile */
			json_decref(p.result);
		rc = error_set(e, rc, "could not send %s: %s", method,
			       p.done ? p.err.message : strerror(-rc));
		goto out;
	}
	rc = pending_wait(c, &p, &deadline, cancel_fd);
	pending_leave(c, &p);
	pthread_mutex_unlock(&c->lock);
	if (rc == 0) {
		rc = pending_outcome(&p, result, e);
	} else {
		/* Its response, if it ever comes, finds no entry: dropped. */
		cancelled_send(c, p.id,
			       rc == -ETIMEDOUT ? "timeout"
						: "cancelled by the client");
		if (rc == -ETIMEDOUT)
			error_set(e, rc, "%s timed out after %u ms", method,
				  ms);
		else
			error_set(e, rc, "%s cancelled", method);
	}
out:
	pthread_cond_destroy(&p.cond);
	if (p.efd >= 0)
		close(p.efd);
	return rc;
}

/*
 * After the server ended the session, the first request to notice runs
 * initialize again (once, whichever thread); the others wait for it.
 */
static void reinit_if_needed(struct mcp_client *c)
{
	struct mcp_error e = {0};
	bool need;

	pthread_mutex_lock(&c->lock);
	need = c->reinit;
	pthread_mutex_unlock(&c->lock);
	if (!need)
		return;
	pthread_mutex_lock(&c->reinit_lock);
	pthread_mutex_lock(&c->lock);
	need = c->reinit;
	c->reinit = false;
	pthread_mutex_unlock(&c->lock);
	if (need) {
		lg_info("mcp: the server ended the session; initializing "
			"again");
		if (mcp_client_initialize(c, &e) < 0)
			lg_warn("mcp: initialize again: %s", e.message);
		mcp_error_clear(&e);
	}
	pthread_mutex_unlock(&c->reinit_lock);
}

/* The transport's answer to a request that met an expired session. */
static bool error_is_stale(const struct mcp_error *e)
{
	return e && e->code == MCP_HTTP_ERROR_TRANSPORT &&
	       json_integer_value(json_object_get(e->data, "errno")) == -ESTALE;
}

int mcp_client_request(struct mcp_client *c, const char *method, json_t *params,
		       const struct mcp_call_opts *co, json_t **result,
		       struct mcp_error *e)
{
	struct mcp_error local = {0};
	bool may_retry = strcmp(method, "initialize") != 0;
	int rc;

	if (!may_retry)
		return request_once(c, method, params, co, result, e);
	reinit_if_needed(c);
	/* Kept for one resend: a server that forgot the session never
	 * acted on the request. */
	json_incref(params);
	rc = request_once(c, method, params, co, result, e ? e : &local);
	if (rc == -EREMOTEIO && error_is_stale(e ? e : &local)) {
		mcp_error_clear(e ? e : &local);
		reinit_if_needed(c);
		rc = request_once(c, method, params, co, result, e);
	} else {
		json_decref(params);
	}
	mcp_error_clear(&local);
	return rc;
}

int mcp_client_notify(struct mcp_client *c, const char *method, json_t *params)
{
	return client_send(c, jsonrpc_notification(method, params), false);
}

static json_t *capabilities_make(const struct mcp_client_opts *o)
{
	json_t *caps = json_object();

	if (caps && o->roots)
		json_object_set_new(caps, "roots", json_object());
	if (caps && o->sampling)
		json_object_set_new(caps, "sampling", json_object());
	if (caps && o->elicit_declared)
		json_object_set_new(caps, "elicitation",
				    json_pack("{s:{}}", "form"));
	return caps;
}

static bool version_supported(const char *v)
{
	for (size_t i = 0; mcp_protocol_versions[i]; i++)
		if (strcmp(v, mcp_protocol_versions[i]) == 0)
			return true;
	return false;
}

/* A server we cannot talk to: the session ends (spec: disconnect). */
static int version_refuse(struct mcp_client *c, const char *got,
			  struct mcp_error *e)
{
	char msg[256];

	snprintf(msg, sizeof(msg),
		 "server answered protocol version \"%.40s\"; this client "
		 "speaks %s (also accepts 2025-06-18, 2025-03-26)",
		 got, MCP_PROTOCOL_LATEST);
	pthread_mutex_lock(&c->lock);
	client_end(c, msg);
	pthread_mutex_unlock(&c->lock);
	return error_set(e, -EPROTONOSUPPORT, "%s", msg);
}

int mcp_client_initialize(struct mcp_client *c, struct mcp_error *e)
{
	json_t *params, *res = NULL;
	const char *version;
	int rc;

	params = json_pack("{s:s,s:o,s:{s:s,s:s}}", "protocolVersion",
			   MCP_PROTOCOL_LATEST, "capabilities",
			   capabilities_make(&c->opts), "clientInfo", "name",
			   c->client_name, "version", c->client_version);
	if (!params)
		return error_set(e, -ENOMEM, "out of memory");
	rc = mcp_client_request(c, "initialize", params, NULL, &res, e);
	if (rc < 0)
		return rc;
	version = json_string_value(json_object_get(res, "protocolVersion"));
	if (!version || !json_is_object(json_object_get(res, "capabilities"))) {
		json_decref(res);
		return error_set(e, -EPROTO,
				 "initialize result without protocolVersion "
				 "or capabilities");
	}
	if (!version_supported(version)) {
		rc = version_refuse(c, version, e);
		json_decref(res);
		return rc;
	}
	snprintf(c->version, sizeof(c->version), "%s", version);
	json_decref(c->server_info);
	json_decref(c->caps);
	free(c->instructions);
	c->server_info = json_incref(json_object_get(res, "serverInfo"));
	c->caps = json_incref(json_object_get(res, "capabilities"));
	version = json_string_value(json_object_get(res, "instructions"));
	c->instructions = version ? strdup(version) : NULL;
	json_decref(res);
	pthread_rwlock_rdlock(&c->t_lock);
	if (c->t && c->t->ops->set_protocol_version)
		c->t->ops->set_protocol_version(c->t, c->version);
	pthread_rwlock_unlock(&c->t_lock);
	rc = mcp_client_notify(c, "notifications/initialized", NULL);
	if (rc < 0)
		return error_set(e, rc, "could not send initialized: %s",
				 strerror(-rc));
	return 0;
}

const char *mcp_client_protocol_version(const struct mcp_client *c)
{
	return c->version[0] ? c->version : NULL;
}

json_t *mcp_client_server_info(const struct mcp_client *c)
{
	return c->server_info;
}

json_t *mcp_client_server_capabilities(const struct mcp_client *c)
{
	return c->caps;
}

const char *mcp_client_instructions(const struct mcp_client *c)
{
	return c->instructions;
}

const char *mcp_client_closed_reason(struct mcp_client *c)
{
	const char *why;

	pthread_mutex_lock(&c->lock);
	why = c->closed ? c->why : NULL;
	pthread_mutex_unlock(&c->lock);
	return why;
}

/* One page into all; *next is the page's nextCursor (new) or NULL. */
static int page_take(json_t *res, const char *key, json_t *all, char **next,
		     struct mcp_error *e)
{
	json_t *items = json_object_get(res, key);
	json_t *cursor = json_object_get(res, "nextCursor");

	*next = NULL;
	if (!json_is_array(items))
		return error_set(e, -EPROTO, "result has no \"%s\" array", key);
	if (json_array_extend(all, items))
		return error_set(e, -ENOMEM, "out of memory");
	if (!cursor || json_is_null(cursor))
		return 0;
	if (!json_is_string(cursor))
		return error_set(e, -EPROTO, "nextCursor is not a string");
	*next = strdup(json_string_value(cursor));
	return *next ? 0 : error_set(e, -ENOMEM, "out of memory");
}

static bool cursor_seen(json_t *seen, const char *cursor)
{
	size_t i;
	json_t *v;

	json_array_foreach(seen, i, v)
	{
		if (strcmp(json_string_value(v), cursor) == 0)
			return true;
	}
	return false;
}

int mcp_client_list_all(struct mcp_client *c, const char *method,
			const char *key, json_t **items, struct mcp_error *e)
{
	json_t *all = json_array(), *seen = json_array(), *res;
	char *cursor = NULL;
	int rc = 0;

	*items = NULL;
	if (!all || !seen) {
		rc = error_set(e, -ENOMEM, "out of memory");
		goto out;
	}
	for (unsigned int page = 0;; page++) {
		json_t *params = NULL;
		char *next;

		if (page == MCP_MAX_PAGES) {
			rc = error_set(e, -E2BIG,
				       "%s: more than %u pages; stopped",
				       method, MCP_MAX_PAGES);
			goto out;
		}
		if (cursor)
			params = json_pack("{s:s}", "cursor", cursor);
		rc = mcp_client_request(c, method, params, NULL, &res, e);
		if (rc < 0)
			goto out;
		rc = page_take(res, key, all, &next, e);
		json_decref(res);
		if (rc < 0 || !next)
			goto out;
		/* A server handing back a cursor again would loop forever. */
		if (cursor_seen(seen, next)) {
			rc = error_set(
				e, -ELOOP,
				"%s: the server repeated cursor \"%.64s\"",
				method, next);
			free(next);
			goto out;
		}
		json_array_append_new(seen, json_string(next));
		free(cursor);
		cursor = next;
	}
out:
	free(cursor);
	json_decref(seen);
	if (rc == 0)
		*items = all;
	else
		json_decref(all);
	return rc;
}
