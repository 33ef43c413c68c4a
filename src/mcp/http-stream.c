// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP transport's GET streams: the stream of server-initiated
 * messages (reconnected after the SSE retry time with Last-Event-ID), a
 * POST stream resumed after it broke, and the old HTTP+SSE transport
 * whose one stream carries every message from the server.
 */
#include "mcp/http-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Is msg the response to the request j? */
static bool answers(const struct http_job *j, const char *data, size_t len)
{
	json_t *root, *id;
	bool yes = false;

	if (!j || !j->id)
		return false;
	root = json_loadb(data, len, 0, NULL);
	if (!root)
		return false;
	id = json_object_get(root, "id");
	if (id && json_equal(id, j->id) &&
	    (json_object_get(root, "result") || json_object_get(root, "error")))
		yes = true;
	json_decref(root);
	return yes;
}

/* The old transport's endpoint: resolved against the stream's URL and
 * accepted only on the same origin (our headers go there). */
static int take_endpoint(struct http_xfer *x, const char *data)
{
	struct http_t *t = x->t;
	CURLU *base = curl_url(), *rel = curl_url();
	char *url = NULL;
	const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST,
				   CURLUPART_PORT};
	int ret = -EPROTO;

	if (!base || !rel)
		goto out;
	if (curl_url_set(base, CURLUPART_URL, x->url, 0) != CURLUE_OK ||
	    curl_url_set(rel, CURLUPART_URL, x->url, 0) != CURLUE_OK ||
	    curl_url_set(rel, CURLUPART_URL, data, 0) != CURLUE_OK)
		goto out;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		char *a = NULL, *b = NULL;
		bool same;

		curl_url_get(base, parts[i], &a, CURLU_DEFAULT_PORT);
		curl_url_get(rel, parts[i], &b, CURLU_DEFAULT_PORT);
		same = a && b && strcasecmp(a, b) == 0;
		curl_free(a);
		curl_free(b);
		if (!same) {
			http_log(t, LG_LOG_WARN,
				 "endpoint event names another origin: "
				 "refused");
			goto out;
		}
	}
	if (curl_url_get(rel, CURLUPART_URL, &url, 0) != CURLUE_OK ||
	    strlen(url) >= HTTP_URL_MAX)
		goto out;
	pthread_mutex_lock(&t->mu);
	snprintf(t->legacy_post_url, sizeof(t->legacy_post_url), "%s", url);
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	ret = 0;
out:
	curl_free(url);
	curl_url_cleanup(base);
	curl_url_cleanup(rel);
	return ret;
}

int http_sse_event(void *opaque, const char *type, const char *data, size_t len,
		   const char *last_id)
{
	struct http_xfer *x = opaque;

	(void)last_id;
	if (x->kind == HTTP_XFER_LEGACY_GET && strcmp(type, "endpoint") == 0) {
		take_endpoint(x, data);
		return 0;
	}
	/* Empty data: the priming event of a resumable stream. */
	if (strcmp(type, "message") != 0 || len == 0)
		return 0;
	if (answers(x->job, data, len))
		x->got_response = true;
	http_deliver(x->t, data, len);
	return 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* The server-initiated stream, until the session changes or it ends. */
static void *get_main(void *arg)
{
	struct http_t *t = arg;
	CURL *c = curl_easy_init();
	char last_id[SSE_MAX_ID + 1] = "";
	unsigned failures = 0, gen;
	uint64_t fail_start = 0, retry_ms = t->sse_retry_ms;

	pthread_mutex_lock(&t->mu);
	gen = t->get_gen;
	pthread_mutex_unlock(&t->mu);
	while (c) {
		struct http_xfer x;
		uint64_t delay, now;
		bool stop;
		int ret;
		size_t idx;

		pthread_mutex_lock(&t->mu);
		stop = t->stopping || gen != t->sess_gen;
		pthread_mutex_unlock(&t->mu);
		if (stop)
			break;
		idx = mcp_endpoints_pick(&t->eps, t->clk.now_ms(t->clk.opaque));
		http_xfer_init(&x, t, c, HTTP_XFER_GET, NULL);
		ret = http_xfer_perform(&x, t->eps.urls[idx], NULL, 0, last_id);
		if (x.sse_inited && sse_last_id(&x.sse)[0])
			snprintf(last_id, sizeof(last_id), "%s",
				 sse_last_id(&x.sse));
		if (x.sse_retry_ms >= 0)
			retry_ms = (uint64_t)x.sse_retry_ms;
		http_xfer_reset(&x);
		if (ret == -ECANCELED)
			break;
		if (ret == 0 && x.status == 405) {
			http_log(t, LG_LOG_DEBUG,
				 "the server offers no GET "
				 "stream");
			break;
		}
		if (ret == 0 && http_xfer_session_error(&x)) {
			http_session_expire(t, gen);
			break;
		}
		if (ret == 0 && (x.status == 401 || x.status == 403)) {
			http_log(t, LG_LOG_WARN, "GET stream refused: HTTP %ld",
				 x.status);
			break;
		}
		now = t->clk.now_ms(t->clk.opaque);
		if (ret == 0 && x.is_sse) {
			failures = 0;
			delay = retry_ms; /* ended: reconnect after retry */
		} else {
			if (failures == 0)
				fail_start = now;
			delay = max_u64(
				retry_ms,
				mcp_retry_backoff(&t->policy, failures++,
						  t->clk.rand(t->clk.opaque)));
			if (now + delay - fail_start > t->policy.deadline_ms) {
				http_log(t, LG_LOG_WARN,
					 "GET stream given up after %u "
					 "failures",
					 failures);
				break;
			}
		}
		if (http_wait_ms(t, delay))
			break;
	}
	if (c)
		curl_easy_cleanup(c);
	pthread_mutex_lock(&t->mu);
	t->get_thread_done = true;
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

void http_get_stream_want(struct http_t *t)
{
	pthread_t old;
	bool join = false;

	pthread_mutex_lock(&t->mu);
	if (t->no_get || t->legacy || t->stopping || !t->session_id[0]) {
		/* Without a session a GET stream is still allowed. */
		if (t->no_get || t->legacy || t->stopping) {
			pthread_mutex_unlock(&t->mu);
			return;
		}
	}
	if (t->get_thread_live && !t->get_thread_done &&
	    t->get_gen == t->sess_gen) {
		pthread_mutex_unlock(&t->mu);
		return; /* already running for this session */
	}
	if (t->get_thread_live) {
		old = t->get_thread;
		join = true;
		t->get_thread_live = false;
	}
	pthread_mutex_unlock(&t->mu);
	if (join)
		pthread_join(old, NULL); /* stale: it stops on its own */
	pthread_mutex_lock(&t->mu);
	if (!t->stopping && !t->get_thread_live) {
		t->get_gen = t->sess_gen;
		t->get_thread_done = false;
		t->get_wanted = true;
		if (pthread_create(&t->get_thread, NULL, get_main, t) == 0)
			t->get_thread_live = true;
		else
			http_log(t, LG_LOG_WARN, "cannot start the GET stream");
	}
	pthread_mutex_unlock(&t->mu);
}

void http_stream_join(struct http_t *t)
{
	if (t->get_thread_live)
		pthread_join(t->get_thread, NULL);
	t->get_thread_live = false;
	if (t->legacy_thread_live)
		pthread_join(t->legacy_thread, NULL);
	t->legacy_thread_live = false;
}

int http_resume(struct http_t *t, CURL *curl, struct http_job *j,
		const char *url, const char *last_id, long long retry_ms)
{
	char id[SSE_MAX_ID + 1];
	uint64_t start = t->clk.now_ms(t->clk.opaque);
	uint64_t wait = retry_ms >= 0 ? (uint64_t)retry_ms : t->sse_retry_ms;
	char u[HTTP_URL_MAX];
	unsigned n = 0;

	snprintf(id, sizeof(id), "%s", last_id);
	snprintf(u, sizeof(u), "%s", url);
	for (;;) {
		struct http_xfer x;
		int ret;
		bool got;

		if (t->clk.now_ms(t->clk.opaque) + wait - start >
			    t->policy.deadline_ms ||
		    (t->policy.max_attempts && n >= t->policy.max_attempts))
			return -ETIMEDOUT;
		if (wait && http_wait_ms(t, wait))
			return -ECANCELED;
		http_log(t, LG_LOG_DEBUG, "resuming %s with Last-Event-ID",
			 j->method);
		http_xfer_init(&x, t, curl, HTTP_XFER_RESUME, j);
		ret = http_xfer_perform(&x, u, NULL, 0, id);
		n++;
		got = x.got_response;
		if (x.sse_inited && sse_last_id(&x.sse)[0])
			snprintf(id, sizeof(id), "%s", sse_last_id(&x.sse));
		if (x.sse_retry_ms >= 0)
			wait = (uint64_t)x.sse_retry_ms;
		http_xfer_reset(&x);
		if (got)
			return 0;
		if (ret == -ECANCELED)
			return ret;
		if (ret == 0 &&
		    (x.status == 404 || x.status == 405 || x.status == 400 ||
		     x.status == 401 || x.status == 403))
			return -ENOENT;
		if (wait == 0)
			wait = mcp_retry_backoff(&t->policy, n - 1,
						 t->clk.rand(t->clk.opaque));
	}
}

/* The old transport's stream: endpoint first, then every message. */
static void *legacy_main(void *arg)
{
	struct http_t *t = arg;
	CURL *c = curl_easy_init();
	struct http_xfer x;
	bool had_endpoint;
	int ret = -ENOMEM;

	if (c) {
		http_xfer_init(&x, t, c, HTTP_XFER_LEGACY_GET, NULL);
		ret = http_xfer_perform(&x, t->legacy_get_url, NULL, 0, NULL);
		if (ret == 0 && !x.is_sse)
			ret = x.status >= 400 ? -EPROTO : -EBADMSG;
		http_xfer_reset(&x);
		curl_easy_cleanup(c);
	}
	pthread_mutex_lock(&t->mu);
	had_endpoint = t->legacy_post_url[0] != '\0';
	t->legacy_done = true;
	t->legacy_err = ret ? ret : -EPIPE;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->mu);
	if (had_endpoint && ret != -ECANCELED)
		http_report_closed(t, -EPIPE, "the SSE stream ended");
	return NULL;
}

int http_legacy_start(struct http_t *t, const char *url)
{
	struct timespec ts;
	int ret = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(t->connect_timeout_ms / 1000) + 30;
	pthread_mutex_lock(&t->mu);
	if (t->legacy_thread_live) {
		pthread_mutex_unlock(&t->mu);
		return -EALREADY;
	}
	snprintf(t->legacy_get_url, sizeof(t->legacy_get_url), "%s", url);
	t->legacy_post_url[0] = '\0';
	t->legacy_done = false;
	if (pthread_create(&t->legacy_thread, NULL, legacy_main, t)) {
		pthread_mutex_unlock(&t->mu);
		return -EAGAIN;
	}
	t->legacy_thread_live = true;
	while (!t->legacy_post_url[0] && !t->legacy_done && !t->stopping) {
		if (pthread_cond_timedwait(&t->cond, &t->mu, &ts) ==
		    ETIMEDOUT) {
			ret = -ETIMEDOUT;
			break;
		}
	}
	if (t->legacy_post_url[0]) {
		t->legacy = true;
		ret = 0;
	} else if (!ret) {
		ret = t->stopping ? -ECANCELED : t->legacy_err;
	}
	pthread_mutex_unlock(&t->mu);
	return ret;
}
