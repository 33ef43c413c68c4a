// SPDX-License-Identifier: Apache-2.0
/*
 * Streamable HTTP transport: the transport object, its worker threads
 * and the POST of each message. The GET streams (server-initiated
 * messages, resuming a POST stream, the old HTTP+SSE transport) are in
 * http-stream.c; the libcurl handle setup, redaction and header parsing
 * in http-easy.c.
 */
#include "mcp/http.h"
#include "mcp/http-internal.h"
#include "mcp/jsonrpc.h"

#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const struct mcp_transport_ops http_ops;

/* Waits ms on the transport's condition; 1 when stopping. */
static int http_sleep_ms(void *opaque, uint64_t ms)
{
	struct http_t *t = opaque;
	struct timespec ts;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&t->mu);
	while (!t->stopping &&
	       pthread_cond_timedwait(&t->cond, &t->mu, &ts) != ETIMEDOUT)
		;
	stop = t->stopping;
	pthread_mutex_unlock(&t->mu);
	return stop;
}

int http_wait_ms(struct http_t *t, uint64_t ms)
{
	return t->clk.sleep_ms(t->clk.opaque, ms);
}

void http_deliver(struct http_t *t, const char *msg, size_t len)
{
	pthread_mutex_lock(&t->deliver_mu);
	if (t->ev.message)
		t->ev.message(t->opaque, msg, len);
	pthread_mutex_unlock(&t->deliver_mu);
}

void http_report_closed(struct http_t *t, int err, const char *why)
{
	bool first;

	pthread_mutex_lock(&t->mu);
	first = !t->closed_sent && !t->stopping;
	t->closed_sent = true;
	pthread_mutex_unlock(&t->mu);
	if (!first)
		return;
	http_log(t, err ? LG_LOG_WARN : LG_LOG_INFO, "transport closed: %s",
		 why);
	pthread_mutex_lock(&t->deliver_mu);
	if (t->ev.closed)
		t->ev.closed(t->opaque, err, why);
	pthread_mutex_unlock(&t->deliver_mu);
}

void http_session_expire(struct http_t *t, unsigned gen)
{
	bool report;

	pthread_mutex_lock(&t->mu);
	report = gen == t->sess_gen && t->session_id[0] && !t->stopping;
	if (report) {
		t->session_id[0] = '\0';
		t->proto_version[0] = '\0';
		t->sess_gen++;
		t->get_wanted = false;
		http_abort_get_locked(t);
	}
	pthread_mutex_unlock(&t->mu);
	if (!report)
		return;
	http_log(t, LG_LOG_WARN, "the server ended the session");
	if (t->ev.session_expired) {
		pthread_mutex_lock(&t->deliver_mu);
		t->ev.session_expired(t->opaque);
		pthread_mutex_unlock(&t->deliver_mu);
	} else {
		http_report_closed(t, -ESTALE, "the server ended the session");
	}
}

/* The local answer to a request whose POST failed for good. */
static void answer_failure(struct http_t *t, struct http_job *j, int err,
			   long status, const char *why)
{
	json_t *data, *msg;
	char text[512], *s;
	size_t len;

	if (!j->id) {
		http_log(t, LG_LOG_WARN, "%s not delivered: %s",
			 j->method ? j->method : "response", why);
		return;
	}
	snprintf(text, sizeof(text), "HTTP transport: %s", why);
	http_redact_inplace(t, text, sizeof(text));
	data = json_pack("{s:s, s:i, s:i}", "transport", "http", "errno", err,
			 "status", (int)status);
	msg = jsonrpc_error(j->id, MCP_HTTP_ERROR_TRANSPORT, text, data);
	if (!msg)
		return;
	s = jsonrpc_dump(msg, &len);
	json_decref(msg);
	if (!s)
		return;
	http_log(t, LG_LOG_WARN, "%s failed: %s", j->method, why);
	http_deliver(t, s, len);
	free(s);
}

static void job_free(struct http_job *j)
{
	if (!j)
		return;
	json_decref(j->id);
	free(j->method);
	free(j->body);
	free(j);
}

/* A POST came back 2xx: deliver what it carried. */
static void http_post_done(struct http_t *t, struct http_xfer *x)
{
	struct http_job *j = x->job;
	bool legacy;

	pthread_mutex_lock(&t->mu);
	legacy = t->legacy;
	pthread_mutex_unlock(&t->mu);
	if (legacy)
		return; /* the answer comes on the old transport's stream */
	if (x->is_sse) {
		if (!j->id || x->got_response)
			return;
		/* The stream ended early: resume it, if it had an id. */
		if (sse_last_id(&x->sse)[0] &&
		    http_resume(t, x->curl, j, x->url, sse_last_id(&x->sse),
				x->sse_retry_ms) == 0)
			return;
		answer_failure(t, j, -ECONNRESET, x->status,
			       "the response stream ended before the response");
		return;
	}
	if (x->body_len) {
		http_deliver(t, x->body, x->body_len);
		return;
	}
	if (j->id)
		answer_failure(t, j, -EPROTO, x->status,
			       "no response to a request");
}

/* One POST attempt (mcp_retry_attempt_fn). */
struct post_ctx {
	struct http_t *t;
	struct http_worker *w;
	struct http_job *j;
	struct http_xfer x; /* the last attempt's */
	bool legacy_switch; /* initialize got 400/404/405: try the old one */
};

static int post_attempt(void *opaque, size_t idx, const char *url,
			struct mcp_retry_outcome *o)
{
	struct post_ctx *pc = opaque;
	struct http_t *t = pc->t;
	struct http_xfer *x = &pc->x;
	const char *target = url;
	char legacy_url[HTTP_URL_MAX];
	int ret;

	(void)idx;
	pthread_mutex_lock(&t->mu);
	if (t->legacy) {
		snprintf(legacy_url, sizeof(legacy_url), "%s",
			 t->legacy_post_url);
		target = legacy_url;
	}
	pthread_mutex_unlock(&t->mu);

	http_xfer_reset(x);
	ret = http_xfer_init(x, t, pc->w->curl, HTTP_XFER_POST, pc->j);
	if (ret) {
		o->err = ret;
		return 1;
	}
	ret = http_xfer_perform(x, target, pc->j->body, pc->j->len, NULL);
	o->err = ret;
	o->status = x->status;
	o->body_sent = x->body_sent;
	o->retry_after_ms = x->retry_after_ms;
	if (ret)
		return 1;
	if (x->status >= 200 && x->status < 300)
		return 0;
	return 1;
}

/* Switches to the old HTTP+SSE transport; 0 when its endpoint is known. */
static int legacy_switch(struct http_t *t, const char *url)
{
	int ret;

	ret = http_legacy_start(t, url);
	if (ret)
		return ret;
	http_log(t, LG_LOG_INFO, "using the old HTTP+SSE transport");
	return 0;
}

/*
 * Did the server answer this request for a session it no longer has?
 * Sent with the current session id: a 404, or a 400 naming the session.
 * Sent with an id the transport has since dropped or replaced, or sent
 * without one because the session had already expired (another
 * exchange noticed first): any 400 or 404, since the request never
 * reached a session (server-everything then says "Server not
 * initialized").
 */
static bool is_session_error(struct http_t *t, struct post_ctx *pc)
{
	const struct http_xfer *x = &pc->x;
	unsigned gen;
	bool legacy;

	if (pc->j->is_initialize || (x->status != 400 && x->status != 404))
		return false;
	pthread_mutex_lock(&t->mu);
	gen = t->sess_gen;
	legacy = t->legacy;
	pthread_mutex_unlock(&t->mu);
	if (legacy)
		return false;
	if (x->sent_session && x->sent_gen == gen)
		return http_xfer_session_error(x);
	/* gen is 0 until a server gave us a session: a server without
	 * sessions never lands here. */
	return gen != 0;
}

static void run_job(struct http_t *t, struct http_worker *w, struct http_job *j)
{
	struct post_ctx pc = {.t = t, .w = w, .j = j};
	struct mcp_retry_outcome last;
	char why[256];
	int ret;

	ret = mcp_retry_run(&t->policy, &t->eps, &t->clk, j->idempotent,
			    post_attempt, &pc, &last);
	if (ret == 0) {
		http_post_done(t, &pc.x);
		goto out;
	}
	if (j->is_initialize && !last.err &&
	    (last.status == 400 || last.status == 404 || last.status == 405) &&
	    !t->no_legacy && !t->legacy && !t->session_id[0]) {
		size_t idx = mcp_endpoints_pick(&t->eps,
						t->clk.now_ms(t->clk.opaque));
		int lret = legacy_switch(t, t->eps.urls[idx]);

		if (lret == 0) {
			ret = mcp_retry_run(&t->policy, &t->eps, &t->clk, true,
					    post_attempt, &pc, &last);
			if (ret == 0) {
				http_post_done(t, &pc.x);
				goto out;
			}
		}
	}
	if (ret == -ECANCELED || t->stopping)
		goto out;
	if (!last.err && is_session_error(t, &pc)) {
		if (pc.x.sent_session)
			http_session_expire(t, pc.x.sent_gen);
		answer_failure(t, j, -ESTALE, last.status,
			       "the server ended the session");
		goto out;
	}
	if (last.err)
		http_xfer_why(&pc.x, ret, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "HTTP %ld%s%.120s", last.status,
			 pc.x.body && pc.x.body[0] ? ": " : "",
			 pc.x.body ? pc.x.body : "");
	answer_failure(t, j, ret, last.err ? 0 : last.status, why);
out:
	http_xfer_reset(&pc.x);
}

static void *worker_main(void *arg)
{
	struct http_worker *w = arg;
	struct http_t *t = w->t;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		struct http_job *j;

		while (!t->stopping && !t->qhead) {
			t->n_idle++;
			pthread_cond_wait(&t->cond, &t->mu);
			t->n_idle--;
		}
		if (t->stopping)
			break;
		j = t->qhead;
		t->qhead = j->next;
		if (!t->qhead)
			t->qtail = NULL;
		pthread_mutex_unlock(&t->mu);
		run_job(t, w, j);
		if (j->is_initialized_notif)
			http_get_stream_want(t);
		job_free(j);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

/* Parses enough of an outgoing message to route and retry it. */
static int job_create(const char *msg, size_t len, struct http_job **out,
		      char *err, size_t err_size)
{
	json_error_t jerr;
	json_t *root, *method, *id;
	struct http_job *j;

	root = json_loadb(msg, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root)) {
		snprintf(err, err_size, "not a JSON-RPC message: %s",
			 root ? "not an object" : jerr.text);
		json_decref(root);
		return -EINVAL;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		goto nomem;
	method = json_object_get(root, "method");
	id = json_object_get(root, "id");
	if (json_is_string(method)) {
		j->method = strdup(json_string_value(method));
		if (!j->method)
			goto nomem;
		if (id && !json_is_null(id))
			j->id = json_incref(id);
	}
	j->idempotent = mcp_retry_idempotent(j->method, j->id != NULL);
	j->is_initialize =
		j->id && j->method && strcmp(j->method, "initialize") == 0;
	j->is_initialized_notif =
		!j->id && j->method &&
		strcmp(j->method, "notifications/initialized") == 0;
	j->body = malloc(len + 1);
	if (!j->body)
		goto nomem;
	memcpy(j->body, msg, len);
	j->body[len] = '\0';
	j->len = len;
	json_decref(root);
	*out = j;
	return 0;
nomem:
	json_decref(root);
	job_free(j);
	snprintf(err, err_size, "out of memory");
	return -ENOMEM;
}

static int http_send(struct mcp_transport *base, const char *msg, size_t len,
		     char *err, size_t err_size)
{
	struct http_t *t = (struct http_t *)base;
	struct http_job *j;
	int ret;

	if (len > t->max_message) {
		snprintf(err, err_size, "message of %zu bytes over the limit",
			 len);
		return -EMSGSIZE;
	}
	ret = job_create(msg, len, &j, err, err_size);
	if (ret)
		return ret;
	pthread_mutex_lock(&t->mu);
	if (t->stopping || t->closed_sent) {
		pthread_mutex_unlock(&t->mu);
		job_free(j);
		snprintf(err, err_size, "transport closed");
		return -EPIPE;
	}
	if (t->qtail)
		t->qtail->next = j;
	else
		t->qhead = j;
	t->qtail = j;
	if (t->n_idle == 0 && t->n_workers < t->max_workers) {
		struct http_worker *w = &t->workers[t->n_workers];

		w->t = t;
		w->curl = curl_easy_init();
		if (w->curl &&
		    pthread_create(&w->thread, NULL, worker_main, w) == 0) {
			t->n_workers++;
		} else {
			if (w->curl)
				curl_easy_cleanup(w->curl);
			w->curl = NULL;
			if (t->n_workers == 0) {
				/* Nobody would run it. */
				t->qhead = t->qtail = NULL;
				pthread_mutex_unlock(&t->mu);
				job_free(j);
				snprintf(err, err_size,
					 "cannot start a worker");
				return -EAGAIN;
			}
		}
	}
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

static int http_start(struct mcp_transport *base,
		      const struct mcp_transport_events *ev, void *opaque,
		      char *err, size_t err_size)
{
	struct http_t *t = (struct http_t *)base;

	(void)err;
	(void)err_size;
	t->ev = *ev;
	t->opaque = opaque;
	return 0;
}

static void http_set_protocol_version(struct mcp_transport *base,
				      const char *version)
{
	struct http_t *t = (struct http_t *)base;

	pthread_mutex_lock(&t->mu);
	snprintf(t->proto_version, sizeof(t->proto_version), "%s",
		 version ? version : "");
	pthread_mutex_unlock(&t->mu);
}

const char *mcp_http_transport_kind(struct mcp_transport *base)
{
	struct http_t *t = (struct http_t *)base;
	bool legacy;

	pthread_mutex_lock(&t->mu);
	legacy = t->legacy;
	pthread_mutex_unlock(&t->mu);
	return legacy ? "sse" : "http";
}

static void http_destroy(struct mcp_transport *base)
{
	struct http_t *t = (struct http_t *)base;
	struct http_job *j;

	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stopping = true;
	http_abort_all_locked(t);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	for (unsigned i = 0; i < t->n_workers; i++)
		pthread_join(t->workers[i].thread, NULL);
	http_stream_join(t);
	while ((j = t->qhead)) {
		t->qhead = j->next;
		job_free(j);
	}
	if (t->session_id[0] && !t->legacy)
		http_delete_session(t);
	for (unsigned i = 0; i < t->n_workers; i++)
		curl_easy_cleanup(t->workers[i].curl);
	free(t->workers);
	http_easy_free(t);
	mcp_endpoints_destroy(&t->eps);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->deliver_mu);
	pthread_cond_destroy(&t->cond);
	free(t);
}

static const struct mcp_transport_ops http_ops = {
	.name = "http",
	.start = http_start,
	.send = http_send,
	.destroy = http_destroy,
	.set_protocol_version = http_set_protocol_version,
};

int mcp_http_transport_create(const struct mcp_http_opts *o,
			      struct mcp_transport **out, char *err,
			      size_t err_size)
{
	struct http_t *t;
	pthread_condattr_t ca;
	int ret;

	if (!o || !o->urls || o->n_urls == 0) {
		snprintf(err, err_size, "no URL");
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	t->base.ops = &http_ops;
	pthread_mutex_init(&t->mu, NULL);
	pthread_mutex_init(&t->deliver_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (o->retry)
		t->policy = *o->retry;
	else
		mcp_retry_policy_default(&t->policy);
	mcp_retry_policy_complete(&t->policy);
	if (o->clock) {
		t->clk = *o->clock;
	} else {
		t->clk = mcp_retry_clock_real;
		t->clk.sleep_ms = http_sleep_ms;
		t->clk.opaque = t;
	}
	t->connect_timeout_ms = o->connect_timeout_ms
					? o->connect_timeout_ms
					: MCP_HTTP_DEFAULT_CONNECT_TIMEOUT_MS;
	t->request_timeout_ms = o->request_timeout_ms
					? o->request_timeout_ms
					: MCP_HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
	t->max_message = o->max_message ? o->max_message : JSONRPC_MAX_MESSAGE;
	t->max_workers = o->max_concurrent ? o->max_concurrent
					   : MCP_HTTP_DEFAULT_MAX_CONCURRENT;
	t->sse_retry_ms = o->sse_retry_ms ? o->sse_retry_ms
					  : MCP_HTTP_DEFAULT_SSE_RETRY_MS;
	t->no_get = o->no_get_stream;
	t->no_legacy = o->no_legacy_fallback;
	t->workers = calloc(t->max_workers, sizeof(*t->workers));
	ret = t->workers ? 0 : -ENOMEM;
	if (!ret)
		ret = mcp_endpoints_init(&t->eps, o->urls, o->n_urls);
	if (ret) {
		snprintf(err, err_size, "out of memory");
		goto fail;
	}
	ret = http_easy_setup(t, o, err, err_size);
	if (ret)
		goto fail;
	*out = &t->base;
	return 0;
fail:
	http_easy_free(t);
	mcp_endpoints_destroy(&t->eps);
	free(t->workers);
	pthread_mutex_destroy(&t->mu);
	pthread_mutex_destroy(&t->deliver_mu);
	pthread_cond_destroy(&t->cond);
	free(t);
	return ret;
}
