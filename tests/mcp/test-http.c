// SPDX-License-Identifier: Apache-2.0
/*
 * The Streamable HTTP transport against tests/mcp/fault-server.c: what it
 * sends (headers, session, protocol version), what it delivers (JSON, SSE
 * in order), retries with measured backoff, the no-retry cases, round
 * robin and failover, session expiry, GET stream reconnect and POST
 * stream resume with Last-Event-ID, redaction, 16 requests at once, and
 * the old HTTP+SSE fallback.
 */
#include "fault-server.h"
#include "mcp/http.h"

#include "common/log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define MAX_MSGS 256

struct sink {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	char *msgs[MAX_MSGS];
	size_t n;
	bool closed;
	int closed_err;
	int expired;
};

static void on_message(void *opaque, const char *msg, size_t len)
{
	struct sink *s = opaque;

	pthread_mutex_lock(&s->mu);
	if (s->n < MAX_MSGS)
		s->msgs[s->n++] = strndup(msg, len);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

static void on_closed(void *opaque, int err, const char *why)
{
	struct sink *s = opaque;

	(void)why;
	pthread_mutex_lock(&s->mu);
	s->closed = true;
	s->closed_err = err;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

static void on_expired(void *opaque)
{
	struct sink *s = opaque;

	pthread_mutex_lock(&s->mu);
	s->expired++;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

static void sink_init(struct sink *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
}

static void sink_free(struct sink *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->msgs[i]);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
}

/* Waits until the sink holds n messages (or closed/expired counts). */
static bool sink_wait(struct sink *s, size_t n, unsigned timeout_ms)
{
	uint64_t end = fault_now_ms() + timeout_ms;
	bool ok;

	pthread_mutex_lock(&s->mu);
	while (s->n < n && fault_now_ms() < end) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20000000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->cond, &s->mu, &ts);
	}
	ok = s->n >= n;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* The message with this id (a response), parsed; NULL if none. */
static json_t *sink_response(struct sink *s, int id)
{
	json_t *found = NULL;

	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n && !found; i++) {
		json_t *m = json_loads(s->msgs[i], 0, NULL);

		if (m && json_integer_value(json_object_get(m, "id")) == id &&
		    !json_object_get(m, "method"))
			found = m;
		else
			json_decref(m);
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

static json_t *wait_response(struct sink *s, int id, unsigned timeout_ms)
{
	uint64_t end = fault_now_ms() + timeout_ms;
	json_t *r;

	while (!(r = sink_response(s, id)) && fault_now_ms() < end)
		sink_wait(s, s->n + 1, 50);
	return r;
}

static const struct mcp_transport_events events = {
	.message = on_message,
	.closed = on_closed,
	.session_expired = on_expired,
};

static struct mcp_retry_policy fast_policy(void)
{
	struct mcp_retry_policy p;

	mcp_retry_policy_default(&p);
	p.initial_ms = 200;
	p.jitter = 0;
	p.deadline_ms = 20000;
	p.cooldown_ms = 60000;
	return p;
}

static struct mcp_transport *mk(const char *const *urls, size_t n,
				struct mcp_http_opts *extra, struct sink *s)
{
	static struct mcp_retry_policy pol;
	struct mcp_http_opts o = {0};
	struct mcp_transport *t = NULL;
	char err[256];

	if (extra)
		o = *extra;
	o.urls = urls;
	o.n_urls = n;
	if (!o.retry) {
		pol = fast_policy();
		o.retry = &pol;
	}
	if (!o.sse_retry_ms)
		o.sse_retry_ms = 100;
	assert_int_equal(mcp_http_transport_create(&o, &t, err, sizeof(err)),
			 0);
	assert_int_equal(t->ops->start(t, &events, s, err, sizeof(err)), 0);
	return t;
}

static void send_str(struct mcp_transport *t, const char *msg)
{
	char err[256];

	assert_int_equal(t->ops->send(t, msg, strlen(msg), err, sizeof(err)),
			 0);
}

static void send_req(struct mcp_transport *t, int id, const char *method)
{
	char buf[256];

	snprintf(buf, sizeof(buf),
		 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"}", id,
		 method);
	send_str(t, buf);
}

static const char init_msg[] =
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
	"{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
	"\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
static const char initialized_msg[] =
	"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}";

/* A transport error response: its HTTP status and errno. */
static void check_transport_error(json_t *r, int status, int err)
{
	json_t *e = json_object_get(r, "error");

	assert_non_null(e);
	assert_int_equal(json_integer_value(json_object_get(e, "code")),
			 MCP_HTTP_ERROR_TRANSPORT);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(e, "data"), "status")),
			 status);
	if (err)
		assert_int_equal(json_integer_value(json_object_get(
					 json_object_get(e, "data"), "errno")),
				 err);
}

static size_t count_method(struct fault_server *srv, const char *http,
			   const char *rpc)
{
	struct fault_req r[64];
	size_t n = fault_requests(srv, r, 64), c = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].method, http) == 0 &&
		    (!rpc || strcmp(r[i].rpc_method, rpc) == 0))
			c++;
	return c;
}

static void test_session_and_headers(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_req r[32];
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	json_t *resp;
	size_t n;

	(void)state;
	sink_init(&s);
	fault_set_session(srv, "sess-A1");
	fault_server_url(srv, url, sizeof(url));
	t = mk(urls, 1, NULL, &s);
	send_str(t, init_msg);
	resp = wait_response(&s, 1, 5000);
	assert_non_null(resp);
	assert_string_equal(
		json_string_value(json_object_get(
			json_object_get(resp, "result"), "protocolVersion")),
		"2025-11-25");
	json_decref(resp);
	t->ops->set_protocol_version(t, "2025-11-25");
	send_str(t, initialized_msg);
	send_req(t, 2, "tools/list");
	resp = wait_response(&s, 2, 5000);
	assert_non_null(resp);
	assert_non_null(json_object_get(resp, "result"));
	json_decref(resp);
	/* The GET stream is tried after initialized; this server: 405. */
	for (int i = 0; i < 100 && count_method(srv, "GET", NULL) == 0; i++)
		usleep(20000);
	t->ops->destroy(t);

	n = fault_requests(srv, r, 32);
	assert_true(n >= 5);
	assert_string_equal(r[0].method, "POST");
	assert_string_equal(r[0].rpc_method, "initialize");
	assert_string_equal(r[0].accept, "application/json, text/event-stream");
	assert_string_equal(r[0].ctype, "application/json");
	assert_string_equal(r[0].session, "");
	assert_string_equal(r[0].proto, "");
	for (size_t i = 1; i < n; i++) {
		assert_string_equal(r[i].session, "sess-A1");
		assert_string_equal(r[i].proto, "2025-11-25");
		if (strcmp(r[i].method, "GET") == 0)
			assert_string_equal(r[i].accept, "text/event-stream");
	}
	assert_int_equal(count_method(srv, "GET", NULL), 1); /* 405: once */
	assert_string_equal(r[n - 1].method, "DELETE");
	fault_server_stop(srv);
	sink_free(&s);
}

static void test_sse_response_in_order(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step st = {
		.action = FAULT_SSE,
		.retry_ms = -1,
		.events = "{\"jsonrpc\":\"2.0\",\"method\":\"n/one\"}\n"
			  "{\"jsonrpc\":\"2.0\",\"method\":\"n/two\"}",
	};
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;

	(void)state;
	sink_init(&s);
	fault_server_url(srv, url, sizeof(url));
	fault_push_post(srv, &st);
	t = mk(urls, 1, NULL, &s);
	send_req(t, 7, "tools/call");
	assert_true(sink_wait(&s, 3, 5000));
	assert_non_null(strstr(s.msgs[0], "n/one"));
	assert_non_null(strstr(s.msgs[1], "n/two"));
	assert_non_null(strstr(s.msgs[2], "\"id\":7"));
	t->ops->destroy(t);
	assert_int_equal(s.n, 3); /* the priming event is not a message */
	fault_server_stop(srv);
	sink_free(&s);
}

static void test_backoff_measured(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step st = {.action = FAULT_STATUS, .status = 503};
	struct fault_req r[8];
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	const unsigned want[] = {200, 400, 800};
	json_t *resp;

	(void)state;
	sink_init(&s);
	fault_server_url(srv, url, sizeof(url));
	for (int i = 0; i < 3; i++)
		fault_push_post(srv, &st);
	t = mk(urls, 1, NULL, &s);
	send_req(t, 3, "tools/list");
	resp = wait_response(&s, 3, 10000);
	assert_non_null(resp);
	assert_non_null(json_object_get(resp, "result"));
	json_decref(resp);
	assert_int_equal(fault_requests(srv, r, 8), 4);
	for (int i = 0; i < 3; i++) {
		uint64_t gap = r[i + 1].t_ms - r[i].t_ms;

		print_message("backoff %d: want %u ms, measured %llu ms\n", i,
			      want[i], (unsigned long long)gap);
		assert_true(gap + 5 >= want[i]);
		assert_true(gap <= want[i] + 250);
	}
	t->ops->destroy(t);
	fault_server_stop(srv);
	sink_free(&s);
}

static void test_retry_after(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step st = {
		.action = FAULT_STATUS, .status = 429, .retry_after = "1"};
	struct fault_req r[8];
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	json_t *resp;
	uint64_t gap;

	(void)state;
	sink_init(&s);
	fault_server_url(srv, url, sizeof(url));
	fault_push_post(srv, &st);
	t = mk(urls, 1, NULL, &s);
	send_req(t, 4, "tools/call"); /* 429 is retried even for a call */
	resp = wait_response(&s, 4, 10000);
	assert_non_null(resp);
	assert_non_null(json_object_get(resp, "result"));
	json_decref(resp);
	assert_int_equal(fault_requests(srv, r, 8), 2);
	gap = r[1].t_ms - r[0].t_ms;
	print_message("Retry-After 1: measured %llu ms\n",
		      (unsigned long long)gap);
	assert_true(gap >= 995 && gap <= 1400);
	t->ops->destroy(t);
	fault_server_stop(srv);
	sink_free(&s);
}

static void test_no_retry(void **state)
{
	const int codes[] = {400, 401, 403, 404};
	const int errs[] = {-EINVAL, -EACCES, -EPERM, -ENOENT};

	(void)state;
	for (size_t i = 0; i < 4; i++) {
		struct fault_server *srv = fault_server_start(0);
		struct fault_step st = {.action = FAULT_STATUS,
					.status = codes[i],
					.body = "no"};
		struct sink s;
		char url[128];
		const char *urls[] = {url};
		struct mcp_transport *t;
		json_t *resp;

		sink_init(&s);
		fault_server_url(srv, url, sizeof(url));
		fault_push_post(srv, &st);
		t = mk(urls, 1, NULL, &s);
		send_req(t, 5, "tools/list");
		resp = wait_response(&s, 5, 5000);
		assert_non_null(resp);
		check_transport_error(resp, codes[i], errs[i]);
		json_decref(resp);
		usleep(300000); /* a retry would come after 200 ms */
		assert_int_equal(fault_request_count(srv), 1);
		t->ops->destroy(t);
		fault_server_stop(srv);
		sink_free(&s);
	}
}

static void test_call_not_retried_after_send(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step drop = {.action = FAULT_DROP};
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	json_t *resp;

	(void)state;
	sink_init(&s);
	fault_server_url(srv, url, sizeof(url));
	fault_push_post(srv, &drop);
	t = mk(urls, 1, NULL, &s);
	send_req(t, 6, "tools/call");
	resp = wait_response(&s, 6, 5000);
	assert_non_null(resp);
	check_transport_error(resp, 0, -ECONNRESET);
	json_decref(resp);
	usleep(400000);
	assert_int_equal(count_method(srv, "POST", "tools/call"), 1);
	/* The same fault on an idempotent request: retried, answered. */
	fault_push_post(srv, &drop);
	send_req(t, 8, "ping");
	resp = wait_response(&s, 8, 5000);
	assert_non_null(resp);
	assert_non_null(json_object_get(resp, "result"));
	json_decref(resp);
	assert_int_equal(count_method(srv, "POST", "ping"), 2);
	t->ops->destroy(t);
	fault_server_stop(srv);
	sink_free(&s);
}

static void test_round_robin_failover(void **state)
{
	struct fault_server *a = fault_server_start(0);
	struct fault_server *b = fault_server_start(0);
	struct fault_step st = {.action = FAULT_STATUS, .status = 503};
	struct sink s;
	char ua[128], ub[128], ud[128];
	const char *urls[] = {ua, ub};
	struct mcp_transport *t;
	uint64_t t0;

	(void)state;
	sink_init(&s);
	fault_server_url(a, ua, sizeof(ua));
	fault_server_url(b, ub, sizeof(ub));
	t = mk(urls, 2, NULL, &s);
	/* One at a time: strictly alternating. */
	for (int i = 0; i < 4; i++) {
		send_req(t, 10 + i, "ping");
		json_decref(wait_response(&s, 10 + i, 5000));
	}
	assert_int_equal(fault_request_count(a), 2);
	assert_int_equal(fault_request_count(b), 2);
	/* a fails (503): failover to b at once; a rests (60 s cool-down). */
	fault_push_post(a, &st);
	t0 = fault_now_ms();
	for (int i = 0; i < 4; i++) {
		json_t *r;

		send_req(t, 20 + i, "ping");
		r = wait_response(&s, 20 + i, 5000);
		assert_non_null(r);
		assert_non_null(json_object_get(r, "result"));
		json_decref(r);
	}
	print_message("failover: 4 pings in %llu ms\n",
		      (unsigned long long)(fault_now_ms() - t0));
	assert_true(fault_now_ms() - t0 < 190); /* no backoff wait */
	assert_int_equal(fault_request_count(a), 3);
	assert_int_equal(fault_request_count(b), 6);
	t->ops->destroy(t);

	/* A dead endpoint (connection refused) first in the list. */
	snprintf(ud, sizeof(ud), "http://127.0.0.1:%u/mcp", fault_dead_port());
	urls[0] = ud;
	t = mk(urls, 2, NULL, &s);
	t0 = fault_now_ms();
	for (int i = 0; i < 3; i++) {
		send_req(t, 30 + i, "tools/call"); /* not sent: retried */
		json_decref(wait_response(&s, 30 + i, 5000));
	}
	assert_true(fault_now_ms() - t0 < 190);
	assert_int_equal(count_method(b, "POST", "tools/call"), 3);
	t->ops->destroy(t);
	fault_server_stop(a);
	fault_server_stop(b);
	sink_free(&s);
}

static void test_timeout_retried(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step st = {.action = FAULT_DELAY, .delay_ms = 4000};
	struct mcp_http_opts o = {.request_timeout_ms = 1000};
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	json_t *resp;
	uint64_t t0 = fault_now_ms(), el;

	(void)state;
	sink_init(&s);
	fault_server_url(srv, url, sizeof(url));
	fault_push_post(srv, &st);
	t = mk(urls, 1, &o, &s);
	send_req(t, 40, "resources/read");
	resp = wait_response(&s, 40, 8000);
	el = fault_now_ms() - t0;
	print_message("timeout 1 s + backoff 200 ms: answered after %llu ms\n",
		      (unsigned long long)el);
	assert_non_null(resp);
	assert_non_null(json_object_get(resp, "result"));
	json_decref(resp);
	assert_int_equal(count_method(srv, "POST", NULL), 2);
	assert_true(el >= 1200 && el < 3500);
	t->ops->destroy(t);
	fault_server_stop(srv);
	sink_free(&s);
}

static void test_session_expiry(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_req r[32];
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	json_t *resp;
	size_t n;

	(void)state;
	sink_init(&s);
	fault_set_session(srv, "S");
	fault_server_url(srv, url, sizeof(url));
	t = mk(urls, 1, &(struct mcp_http_opts){.no_get_stream = true}, &s);
	send_str(t, init_msg);
	json_decref(wait_response(&s, 1, 5000));
	fault_expire_session(srv);
	send_req(t, 50, "tools/list");
	resp = wait_response(&s, 50, 5000);
	assert_non_null(resp);
	check_transport_error(resp, 404, -ESTALE);
	json_decref(resp);
	assert_int_equal(s.expired, 1);
	assert_false(s.closed);
	/* Re-initialize: without the old id; the new one is used after. */
	send_str(t,
		 "{\"jsonrpc\":\"2.0\",\"id\":51,\"method\":\"initialize\"}");
	json_decref(wait_response(&s, 51, 5000));
	send_req(t, 52, "tools/list");
	resp = wait_response(&s, 52, 5000);
	assert_non_null(json_object_get(resp, "result"));
	json_decref(resp);
	n = fault_requests(srv, r, 32);
	assert_int_equal(n, 4);
	assert_string_equal(r[1].session, "S");
	assert_string_equal(r[2].rpc_method, "initialize");
	assert_string_equal(r[2].session, "");
	assert_string_equal(r[3].session, "S-1");
	t->ops->destroy(t);
	fault_server_stop(srv);
	sink_free(&s);
}

static void closed_only(void *opaque, int err, const char *why)
{
	on_closed(opaque, err, why);
}

static void test_session_expiry_closed(void **state)
{
	const struct mcp_transport_events ev = {.message = on_message,
						.closed = closed_only};
	struct fault_server *srv = fault_server_start(0);
	struct mcp_retry_policy pol = fast_policy();
	struct mcp_http_opts o = {.no_get_stream = true, .retry = &pol};
	struct mcp_transport *t;
	struct sink s;
	char url[128], err[128];
	const char *urls[] = {url};

	(void)state;
	sink_init(&s);
	fault_set_session(srv, "S");
	fault_server_url(srv, url, sizeof(url));
	o.urls = urls;
	o.n_urls = 1;
	assert_int_equal(mcp_http_transport_create(&o, &t, err, sizeof(err)),
			 0);
	assert_int_equal(t->ops->start(t, &ev, &s, err, sizeof(err)), 0);
	send_str(t, init_msg);
	json_decref(wait_response(&s, 1, 5000));
	/* server-everything's answer to a lost session: 400, not 404. */
	fault_set_session(srv, "T");
	fault_push_post(
		srv, &(struct fault_step){.action = FAULT_STATUS,
					  .status = 400,
					  .body = "{\"jsonrpc\":\"2.0\","
						  "\"error\":{\"code\":-32000,"
						  "\"message\":\"Bad Request: "
						  "No valid session ID "
						  "provided\"},\"id\":null}"});
	send_req(t, 60, "tools/list");
	json_decref(wait_response(&s, 60, 5000));
	assert_true(s.closed);
	assert_int_equal(s.closed_err, -ESTALE);
	t->ops->destroy(t);
	fault_server_stop(srv);
	sink_free(&s);
}

static void test_get_stream_reconnect(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step g1 = {
		.action = FAULT_GET_SSE,
		.events = "{\"jsonrpc\":\"2.0\",\"method\":\"n/a\"}",
		.id_prefix = "g",
		.retry_ms = 300,
	};
	struct fault_step g2 = {
		.action = FAULT_GET_SSE,
		.events = "{\"jsonrpc\":\"2.0\",\"method\":\"n/b\"}",
		.id_prefix = "h",
		.retry_ms = -1,
		.hold = true,
	};
	struct fault_req r[16];
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	size_t n, gets[2], k = 0;

	(void)state;
	sink_init(&s);
	fault_set_session(srv, "S");
	fault_server_url(srv, url, sizeof(url));
	fault_push_get(srv, &g1);
	fault_push_get(srv, &g2);
	t = mk(urls, 1, NULL, &s);
	send_str(t, init_msg);
	json_decref(wait_response(&s, 1, 5000));
	send_str(t, initialized_msg);
	assert_true(sink_wait(&s, 3, 5000));
	assert_non_null(strstr(s.msgs[1], "n/a"));
	assert_non_null(strstr(s.msgs[2], "n/b"));
	/* A message pushed while the stream is open. */
	fault_send_on_get(srv, "{\"jsonrpc\":\"2.0\",\"method\":\"n/c\"}");
	assert_true(sink_wait(&s, 4, 5000));
	assert_non_null(strstr(s.msgs[3], "n/c"));
	t->ops->destroy(t);
	n = fault_requests(srv, r, 16);
	for (size_t i = 0; i < n && k < 2; i++)
		if (strcmp(r[i].method, "GET") == 0)
			gets[k++] = i;
	assert_int_equal(k, 2);
	assert_string_equal(r[gets[0]].last_event_id, "");
	assert_string_equal(r[gets[1]].last_event_id, "g-1");
	print_message("GET reconnect after retry 300: %llu ms\n",
		      (unsigned long long)(r[gets[1]].t_ms - r[gets[0]].t_ms));
	assert_true(r[gets[1]].t_ms - r[gets[0]].t_ms >= 295);
	assert_true(r[gets[1]].t_ms - r[gets[0]].t_ms < 900);
	fault_server_stop(srv);
	sink_free(&s);
}

static void test_post_stream_resume(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step cut = {
		.action = FAULT_SSE_CUT, .retry_ms = 100, .id_prefix = "r"};
	struct fault_req r[16];
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	json_t *resp;
	size_t n;

	(void)state;
	sink_init(&s);
	fault_server_url(srv, url, sizeof(url));
	fault_push_post(srv, &cut);
	t = mk(urls, 1, NULL, &s);
	send_req(t, 70, "tools/call");
	resp = wait_response(&s, 70, 5000);
	assert_non_null(resp);
	assert_non_null(json_object_get(resp, "result"));
	json_decref(resp);
	n = fault_requests(srv, r, 16);
	assert_int_equal(n, 2); /* the POST once, then the resuming GET */
	assert_string_equal(r[1].method, "GET");
	assert_string_equal(r[1].last_event_id, "r-0");
	assert_true(r[1].t_ms - r[0].t_ms >= 95);
	t->ops->destroy(t);
	fault_server_stop(srv);
	sink_free(&s);
}

static char logbuf[65536];
static size_t loglen;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_sink(void *opaque, enum lg_log_level level, const char *file,
		     int line, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)file;
	(void)line;
	pthread_mutex_lock(&log_mu);
	loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen,
				   "%s\n", msg);
	if (loglen >= sizeof(logbuf))
		loglen = sizeof(logbuf) - 1;
	pthread_mutex_unlock(&log_mu);
}

static void test_redaction(void **state)
{
	static const char secret[] = "s3cr3t-t0ken-value";
	struct fault_server *srv = fault_server_start(0);
	const struct mcp_http_header hdrs[] = {
		{.name = "X-Test-Token", .value_env = "LG_TEST_MCP_TOKEN"},
		{.name = "Authorization", .value = "Bearer another-secret-42"},
	};
	struct mcp_http_opts o = {.headers = hdrs, .n_headers = 2};
	struct fault_step st = {.action = FAULT_STATUS,
				.status = 401,
				.body = "bad token s3cr3t-t0ken-value"};
	struct fault_req r[4];
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	json_t *resp;

	(void)state;
	setenv("LG_TEST_MCP_TOKEN", secret, 1);
	sink_init(&s);
	fault_server_url(srv, url, sizeof(url));
	fault_push_post(srv, &st);
	loglen = 0;
	lg_log_set_sink(log_sink, NULL);
	lg_log_set_level(LG_LOG_DEBUG);
	t = mk(urls, 1, &o, &s);
	send_req(t, 80, "tools/list");
	resp = wait_response(&s, 80, 5000);
	send_req(t, 81, "ping");
	json_decref(wait_response(&s, 81, 5000));
	t->ops->destroy(t);
	lg_log_set_sink(NULL, NULL);
	lg_log_set_level(LG_LOG_WARN);
	assert_non_null(resp);
	check_transport_error(resp, 401, -EACCES);
	/* The server got the values; no log line and no error has them. */
	assert_int_equal(fault_requests(srv, r, 4), 2);
	assert_string_equal(r[0].custom, secret);
	assert_string_equal(r[0].auth, "Bearer another-secret-42");
	{
		char *dump = json_dumps(resp, 0);

		assert_null(strstr(dump, secret));
		free(dump);
	}
	assert_non_null(strstr(logbuf, "X-Test-Token: [REDACTED]"));
	assert_non_null(strstr(logbuf, "Authorization: [REDACTED]"));
	assert_null(strstr(logbuf, secret));
	assert_null(strstr(logbuf, "another-secret-42"));
	json_decref(resp);
	fault_server_stop(srv);
	sink_free(&s);
}

struct sender {
	struct mcp_transport *t;
	int id;
};

static void *send_thread(void *arg)
{
	struct sender *sd = arg;

	send_req(sd->t, sd->id, "tools/call");
	return NULL;
}

static void test_concurrent_16(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step st = {.action = FAULT_DELAY, .delay_ms = 500};
	struct sender sd[16];
	pthread_t th[16];
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	uint64_t t0, el;

	(void)state;
	sink_init(&s);
	fault_server_url(srv, url, sizeof(url));
	for (int i = 0; i < 16; i++)
		fault_push_post(srv, &st);
	t = mk(urls, 1, NULL, &s);
	t0 = fault_now_ms();
	for (int i = 0; i < 16; i++) {
		sd[i] = (struct sender){t, 100 + i};
		assert_int_equal(
			pthread_create(&th[i], NULL, send_thread, &sd[i]), 0);
	}
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	assert_true(sink_wait(&s, 16, 10000));
	el = fault_now_ms() - t0;
	print_message("16 requests of 500 ms each: %llu ms, %u at once\n",
		      (unsigned long long)el, fault_max_concurrent(srv));
	for (int i = 0; i < 16; i++)
		json_decref(sink_response(&s, 100 + i)); /* each one there */
	for (int i = 0; i < 16; i++) {
		json_t *r = sink_response(&s, 100 + i);

		assert_non_null(r);
		json_decref(r);
	}
	assert_int_equal(fault_max_concurrent(srv), 16);
	assert_true(el < 1500);
	t->ops->destroy(t);
	fault_server_stop(srv);
	sink_free(&s);
}

static void test_legacy_fallback(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_req r[16];
	struct sink s;
	char url[128];
	const char *urls[] = {url};
	struct mcp_transport *t;
	json_t *resp;
	size_t n;

	(void)state;
	sink_init(&s);
	fault_set_legacy(srv, true);
	fault_server_url(srv, url, sizeof(url));
	t = mk(urls, 1, NULL, &s);
	send_str(t, init_msg);
	resp = wait_response(&s, 1, 5000);
	assert_non_null(resp);
	assert_non_null(json_object_get(resp, "result"));
	json_decref(resp);
	assert_string_equal(mcp_http_transport_kind(t), "sse");
	send_str(t, initialized_msg);
	send_req(t, 2, "tools/list");
	resp = wait_response(&s, 2, 5000);
	assert_non_null(resp);
	json_decref(resp);
	t->ops->destroy(t);
	n = fault_requests(srv, r, 16);
	assert_true(n >= 5);
	assert_string_equal(r[0].method, "POST");
	assert_string_equal(r[0].path, "/mcp");
	assert_string_equal(r[1].method, "GET");
	assert_string_equal(r[2].path, "/message");
	assert_int_equal(count_method(srv, "DELETE", NULL), 0);
	fault_server_stop(srv);
	sink_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_and_headers),
		cmocka_unit_test(test_sse_response_in_order),
		cmocka_unit_test(test_backoff_measured),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_no_retry),
		cmocka_unit_test(test_call_not_retried_after_send),
		cmocka_unit_test(test_round_robin_failover),
		cmocka_unit_test(test_timeout_retried),
		cmocka_unit_test(test_session_expiry),
		cmocka_unit_test(test_session_expiry_closed),
		cmocka_unit_test(test_get_stream_reconnect),
		cmocka_unit_test(test_post_stream_resume),
		cmocka_unit_test(test_redaction),
		cmocka_unit_test(test_concurrent_16),
		cmocka_unit_test(test_legacy_fallback),
	};

	lg_log_set_level(LG_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
