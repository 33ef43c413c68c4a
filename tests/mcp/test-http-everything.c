// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP transport against the real server-everything: its
 * streamableHttp mode on a free loopback port (initialize, tools/list,
 * tools/call echo, a long-running call with progress over SSE, logging
 * notifications on the GET stream, DELETE at the end) and its sse mode
 * (the old HTTP+SSE fallback); through the client session, a server
 * restarted on the same port (its sessions gone) answers the old session
 * with 400 and the client initializes again and goes on. Each server is
 * started here and killed with its process group afterwards.
 */
#include "mcp/client.h"
#include "mcp/http.h"

#include "common/log.h"

#include "npm-servers.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char bin_dir[4096];

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* On port, or on a free one when 0; its output into srv->log. */
static void server_start_on(struct npm_server *s, const char *mode,
			    unsigned short on)
{
	s->port = on ? on : npm_free_port();
	assert_true(s->port != 0);
	snprintf(s->log, sizeof(s->log), "/tmp/lg-mcp-everything-%d-%u.log",
		 (int)getpid(), s->port);
	assert_int_equal(npm_everything_start(s, bin_dir, mode), 0);
}

static void server_start(struct npm_server *s, const char *mode)
{
	server_start_on(s, mode, 0);
}

static bool log_has(const struct npm_server *s, const char *what)
{
	FILE *f = fopen(s->log, "r");
	char line[1024];
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return found;
}

struct sink {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	json_t *msgs; /* array */
};

static void on_message(void *opaque, const char *msg, size_t len)
{
	struct sink *s = opaque;
	json_t *m = json_loadb(msg, len, 0, NULL);

	pthread_mutex_lock(&s->mu);
	if (m)
		json_array_append_new(s->msgs, m);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

static void on_closed(void *opaque, int err, const char *why)
{
	(void)opaque;
	(void)err;
	(void)why;
}

static const struct mcp_transport_events events = {
	.message = on_message,
	.closed = on_closed,
};

/* The first message matching: response to id (id >= 0) or method. */
static json_t *wait_for(struct sink *s, int id, const char *method,
			unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	json_t *found = NULL;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		size_t i;
		json_t *m;

		json_array_foreach(s->msgs, i, m)
		{
			const char *mm =
				json_string_value(json_object_get(m, "method"));

			if (id >= 0 && !mm &&
			    json_integer_value(json_object_get(m, "id")) == id)
				found = m;
			if (!found && method && mm && strcmp(mm, method) == 0)
				found = m;
			if (found)
				break;
		}
		if (found || now_ms() >= end)
			break;
		{
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50000000;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->cond, &s->mu, &ts);
		}
	}
	json_incref(found);
	pthread_mutex_unlock(&s->mu);
	return found;
}

static void send_json(struct mcp_transport *t, json_t *m)
{
	char err[256], *s = json_dumps(m, JSON_COMPACT);

	assert_non_null(s);
	assert_int_equal(t->ops->send(t, s, strlen(s), err, sizeof(err)), 0);
	free(s);
	json_decref(m);
}

static void request(struct mcp_transport *t, int id, const char *method,
		    json_t *params)
{
	send_json(t, json_pack("{s:s, s:i, s:s, s:o}", "jsonrpc", "2.0", "id",
			       id, "method", method, "params",
			       params ? params : json_object()));
}

static struct mcp_transport *connect_and_init(const char *url, struct sink *s)
{
	const char *urls[] = {url};
	struct mcp_http_opts o = {.urls = urls, .n_urls = 1};
	struct mcp_transport *t;
	char err[256];
	json_t *r;

	assert_int_equal(mcp_http_transport_create(&o, &t, err, sizeof(err)),
			 0);
	assert_int_equal(t->ops->start(t, &events, s, err, sizeof(err)), 0);
	request(t, 1, "initialize",
		json_pack("{s:s, s:{}, s:{s:s, s:s}}", "protocolVersion",
			  "2025-11-25", "capabilities", "clientInfo", "name",
			  "lg-test", "version", "1"));
	r = wait_for(s, 1, NULL, 15000);
	assert_non_null(r);
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(r, "result"),
						  "protocolVersion")),
		"2025-11-25");
	json_decref(r);
	t->ops->set_protocol_version(t, "2025-11-25");
	send_json(t, json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method",
			       "notifications/initialized"));
	return t;
}

static bool has_tool(json_t *list, const char *name)
{
	size_t i;
	json_t *tool;

	json_array_foreach(
		json_object_get(json_object_get(list, "result"), "tools"), i,
		tool)
	{
		if (strcmp(json_string_value(json_object_get(tool, "name")),
			   name) == 0)
			return true;
	}
	return false;
}

static void test_streamable_http(void **state)
{
	struct npm_server srv;
	struct sink s = {.msgs = json_array()};
	struct mcp_transport *t;
	char url[128];
	json_t *r, *content;
	size_t progress = 0, i;
	json_t *m;

	(void)state;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cond, NULL);
	server_start(&srv, "streamableHttp");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", srv.port);
	t = connect_and_init(url, &s);
	assert_string_equal(mcp_http_transport_kind(t), "http");

	request(t, 2, "tools/list", NULL);
	r = wait_for(&s, 2, NULL, 10000);
	assert_non_null(r);
	assert_true(has_tool(r, "echo"));
	assert_true(has_tool(r, "trigger-long-running-operation"));
	json_decref(r);

	request(t, 3, "tools/call",
		json_pack("{s:s, s:{s:s}}", "name", "echo", "arguments",
			  "message", "hi there"));
	r = wait_for(&s, 3, NULL, 10000);
	assert_non_null(r);
	content = json_array_get(
		json_object_get(json_object_get(r, "result"), "content"), 0);
	assert_non_null(
		strstr(json_string_value(json_object_get(content, "text")),
		       "hi there"));
	json_decref(r);

	/* Progress over the POST's SSE stream, before the response. */
	request(t, 4, "tools/call",
		json_pack("{s:s, s:{s:i, s:i}, s:{s:s}}", "name",
			  "trigger-long-running-operation", "arguments",
			  "duration", 2, "steps", 4, "_meta", "progressToken",
			  "tok-4"));
	r = wait_for(&s, 4, NULL, 20000);
	assert_non_null(r);
	assert_null(json_object_get(r, "error"));
	json_decref(r);
	pthread_mutex_lock(&s.mu);
	json_array_foreach(s.msgs, i, m)
	{
		const char *mm =
			json_string_value(json_object_get(m, "method"));

		if (mm && strcmp(mm, "notifications/progress") == 0)
			progress++;
	}
	pthread_mutex_unlock(&s.mu);
	print_message("progress notifications: %zu\n", progress);
	assert_true(progress >= 3);

	/* Logging messages not tied to a request: the GET stream. */
	request(t, 5, "logging/setLevel", json_pack("{s:s}", "level", "debug"));
	json_decref(wait_for(&s, 5, NULL, 10000));
	for (int k = 0; k < 100 && !log_has(&srv, "Establishing new SSE"); k++)
		usleep(50000);
	assert_true(log_has(&srv, "Establishing new SSE stream"));
	request(t, 6, "tools/call",
		json_pack("{s:s, s:{}}", "name", "toggle-simulated-logging",
			  "arguments"));
	json_decref(wait_for(&s, 6, NULL, 10000));
	r = wait_for(&s, -1, "notifications/message", 12000);
	assert_non_null(r);
	json_decref(r);

	t->ops->destroy(t);
	for (int k = 0; k < 40 && !log_has(&srv, "session termination"); k++)
		usleep(50000);
	assert_true(log_has(&srv, "Received session termination request"));
	npm_server_stop(&srv);
	unlink(srv.log);
	json_decref(s.msgs);
}

/* The id of the n-th "Session initialized with ID: X" (from 0) in the
 * server's log, or "" ; returns how many there are. */
static int log_session(const struct npm_server *s, int n, char *id, size_t size)
{
	static const char tag[] = "Session initialized with ID: ";
	FILE *f = fopen(s->log, "r");
	char line[1024];
	int k = 0;

	id[0] = '\0';
	while (f && fgets(line, sizeof(line), f)) {
		char *p = strstr(line, tag);

		if (!p)
			continue;
		if (k++ == n) {
			snprintf(id, size, "%s", p + strlen(tag));
			id[strcspn(id, "\r\n")] = '\0';
		}
	}
	if (f)
		fclose(f);
	return k;
}

static void echo_ok(struct mcp_client *c, const char *msg)
{
	struct mcp_error e = {0};
	json_t *res = NULL;
	int rc;

	rc = mcp_client_request(c, "tools/call",
				json_pack("{s:s, s:{s:s}}", "name", "echo",
					  "arguments", "message", msg),
				NULL, &res, &e);
	if (rc)
		print_message("echo: %s\n", e.message);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(
		json_string_value(json_object_get(
			json_array_get(json_object_get(res, "content"), 0),
			"text")),
		msg));
	json_decref(res);
	mcp_error_clear(&e);
}

static void test_resume_after_restart(void **state)
{
	struct mcp_retry_policy pol;
	struct npm_server srv;
	struct mcp_client *c;
	struct mcp_transport *t;
	struct mcp_error e = {0};
	char url[128], err[256], first[128], second[128];
	const char *urls[] = {url};
	struct mcp_http_opts o = {.urls = urls, .n_urls = 1, .retry = &pol};
	struct mcp_client_opts co = {.timeout_ms = 30000};
	unsigned short port;

	(void)state;
	mcp_retry_policy_default(&pol);
	pol.initial_ms = 200;
	server_start(&srv, "streamableHttp");
	port = srv.port;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", port);
	assert_int_equal(mcp_http_transport_create(&o, &t, err, sizeof(err)),
			 0);
	assert_int_equal(mcp_client_create(t, &co, &c, err, sizeof(err)), 0);
	assert_int_equal(mcp_client_initialize(c, &e), 0);
	echo_ok(c, "before the restart");
	assert_int_equal(log_session(&srv, 0, first, sizeof(first)), 1);
	assert_true(first[0]);

	/* Killed and started again on the same port: no sessions. */
	npm_server_stop(&srv);
	server_start_on(&srv, "streamableHttp", port);
	echo_ok(c, "after the restart");
	/* The new server saw a new initialize, and gave a new id. */
	assert_int_equal(log_session(&srv, 0, second, sizeof(second)), 1);
	print_message("session %s, after the restart %s\n", first, second);
	assert_true(second[0]);
	assert_string_not_equal(first, second);
	assert_null(mcp_client_closed_reason(c));
	echo_ok(c, "and after that");
	assert_int_equal(log_session(&srv, 0, second, sizeof(second)), 1);
	mcp_client_destroy(c);
	npm_server_stop(&srv);
	unlink(srv.log);
}

static void test_sse_fallback(void **state)
{
	struct npm_server srv;
	struct sink s = {.msgs = json_array()};
	struct mcp_transport *t;
	char url[128];
	json_t *r;

	(void)state;
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cond, NULL);
	server_start(&srv, "sse");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/sse", srv.port);
	t = connect_and_init(url, &s);
	assert_string_equal(mcp_http_transport_kind(t), "sse");
	request(t, 2, "tools/call",
		json_pack("{s:s, s:{s:s}}", "name", "echo", "arguments",
			  "message", "via sse"));
	r = wait_for(&s, 2, NULL, 10000);
	assert_non_null(r);
	{
		char *dump = json_dumps(r, 0);

		assert_non_null(strstr(dump, "via sse"));
		free(dump);
	}
	json_decref(r);
	t->ops->destroy(t);
	npm_server_stop(&srv);
	unlink(srv.log);
	json_decref(s.msgs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streamable_http),
		cmocka_unit_test(test_sse_fallback),
		cmocka_unit_test(test_resume_after_restart),
	};

	npm_servers_find_or_skip(bin_dir, sizeof(bin_dir));
	lg_log_set_level(LG_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
