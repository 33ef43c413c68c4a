/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client session against a scripted fake transport: the test plays
 * the server, thread by thread and message by message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake-transport.h"
#include "mcp/client.h"
#include "mcp/jsonrpc.h"

struct call {
	struct mcp_client *c;
	const char *method;
	json_t *params;
	struct mcp_call_opts co;
	bool use_co;
	int rc;
	json_t *result;
	struct mcp_error e;
	pthread_t th;
};

static void *call_main(void *arg)
{
	struct call *k = arg;

	k->rc = mcp_client_request(k->c, k->method, k->params,
				   k->use_co ? &k->co : NULL, &k->result,
				   &k->e);
	return NULL;
}

static void call_start(struct call *k)
{
	assert_int_equal(pthread_create(&k->th, NULL, call_main, k), 0);
}

static void call_join(struct call *k)
{
	pthread_join(k->th, NULL);
}

static void call_free(struct call *k)
{
	json_decref(k->result);
	mcp_error_clear(&k->e);
}

static int64_t msg_id(json_t *m)
{
	assert_true(json_is_integer(json_object_get(m, "id")));
	return json_integer_value(json_object_get(m, "id"));
}

static struct mcp_client *client_new(struct fake **f,
				     const struct mcp_client_opts *o)
{
	struct mcp_client *c;
	char err[256];

	*f = fake_new(NULL);
	assert_int_equal(
		mcp_client_create(&(*f)->base, o, &c, err, sizeof(err)), 0);
	return c;
}

struct init_run {
	struct mcp_client *c;
	struct mcp_error e;
	int rc;
};

static void *init_main(void *arg)
{
	struct init_run *r = arg;

	r->rc = mcp_client_initialize(r->c, &r->e);
	return NULL;
}

static void test_initialize(void **state)
{
	struct mcp_client_opts o = {.sampling = true,
				    .elicit_declared = true,
				    .roots = json_pack("[]")};
	struct init_run r = {0};
	pthread_t th;
	struct fake *f;
	json_t *m, *p;

	(void)state;
	r.c = client_new(&f, &o);
	json_decref(o.roots);
	pthread_create(&th, NULL, init_main, &r);
	m = fake_expect(f, "initialize");
	assert_non_null(m);
	p = json_object_get(m, "params");
	assert_string_equal(
		json_string_value(json_object_get(p, "protocolVersion")),
		MCP_PROTOCOL_LATEST);
	assert_non_null(json_object_get(json_object_get(p, "capabilities"),
					"sampling"));
	assert_non_null(
		json_object_get(json_object_get(p, "capabilities"), "roots"));
	assert_non_null(json_object_get(json_object_get(p, "capabilities"),
					"elicitation"));
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(p, "clientInfo"), "name")),
			    "luminaguard");
	/* The server answers an older version we also speak. */
	fake_deliverf(
		f,
		"{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{"
		"\"protocolVersion\":\"2025-06-18\",\"capabilities\":{"
		"\"tools\":{}},\"serverInfo\":{\"name\":\"s\",\"version\":"
		"\"1\"},\"instructions\":\"be nice\"}}",
		(long long)msg_id(m));
	json_decref(m);
	m = fake_expect(f, "notifications/initialized");
	assert_non_null(m);
	json_decref(m);
	pthread_join(th, NULL);
	assert_int_equal(r.rc, 0);
	assert_string_equal(mcp_client_protocol_version(r.c), "2025-06-18");
	assert_string_equal(mcp_client_instructions(r.c), "be nice");
	assert_non_null(
		json_object_get(mcp_client_server_capabilities(r.c), "tools"));
	assert_string_equal(json_string_value(json_object_get(
				    mcp_client_server_info(r.c), "name")),
			    "s");
	assert_null(mcp_client_closed_reason(r.c));
	mcp_client_destroy(r.c);
}

static void test_version_unsupported(void **state)
{
	struct init_run r = {0};
	json_t *m, *res = NULL;
	struct mcp_error e = {0};
	pthread_t th;
	struct fake *f;

	(void)state;
	r.c = client_new(&f, NULL);
	pthread_create(&th, NULL, init_main, &r);
	m = fake_expect(f, "initialize");
	fake_deliverf(f,
		      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{"
		      "\"protocolVersion\":\"2024-11-05\",\"capabilities\":{},"
		      "\"serverInfo\":{\"name\":\"old\",\"version\":\"1\"}}}",
		      (long long)msg_id(m));
	json_decref(m);
	pthread_join(th, NULL);
	assert_int_equal(r.rc, -EPROTONOSUPPORT);
	assert_non_null(strstr(r.e.message, "2024-11-05"));
	assert_non_null(strstr(r.e.message, MCP_PROTOCOL_LATEST));
	/* No initialized was sent and the session is over. */
	assert_int_equal(fake_pending(f, 50), 0);
	assert_non_null(mcp_client_closed_reason(r.c));
	assert_int_equal(mcp_client_request(r.c, "ping", NULL, NULL, &res, &e),
			 -EPIPE);
	mcp_error_clear(&e);
	mcp_error_clear(&r.e);
	mcp_client_destroy(r.c);
}

#define N_THREADS 8

static void test_concurrent(void **state)
{
	struct call k[N_THREADS] = {0};
	json_t *reqs[N_THREADS];
	struct mcp_client *c;
	struct fake *f;

	(void)state;
	c = client_new(&f, NULL);
	for (int i = 0; i < N_THREADS; i++) {
		k[i].c = c;
		k[i].method = "echo";
		k[i].params = json_pack("{s:i}", "n", i);
		call_start(&k[i]);
	}
	for (int i = 0; i < N_THREADS; i++) {
		reqs[i] = fake_expect(f, "echo");
		assert_non_null(reqs[i]);
	}
	/* Ids are unique, integers from 1. */
	for (int i = 0; i < N_THREADS; i++) {
		assert_true(msg_id(reqs[i]) >= 1 &&
			    msg_id(reqs[i]) <= N_THREADS);
		for (int j = 0; j < i; j++)
			assert_int_not_equal(msg_id(reqs[i]), msg_id(reqs[j]));
	}
	/* Answer in reverse order: each caller gets its own result. */
	for (int i = N_THREADS - 1; i >= 0; i--) {
		json_t *p = json_object_get(reqs[i], "params");

		fake_deliverf(
			f,
			"{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{"
			"\"n\":%lld}}",
			(long long)msg_id(reqs[i]),
			(long long)json_integer_value(json_object_get(p, "n")));
		json_decref(reqs[i]);
	}
	for (int i = 0; i < N_THREADS; i++) {
		call_join(&k[i]);
		assert_int_equal(k[i].rc, 0);
		assert_int_equal(
			json_integer_value(json_object_get(k[i].result, "n")),
			i);
		call_free(&k[i]);
	}
	mcp_client_destroy(c);
}

static void test_timeout_cancelled(void **state)
{
	struct call k = {.method = "slow",
			 .use_co = true,
			 .co = {.timeout_ms = 100, .cancel_fd = -1}};
	struct mcp_client *c;
	json_t *req, *n, *p;
	struct fake *f;
	int64_t id;

	(void)state;
	c = client_new(&f, NULL);
	k.c = c;
	call_start(&k);
	req = fake_expect(f, "slow");
	id = msg_id(req);
	call_join(&k);
	assert_int_equal(k.rc, -ETIMEDOUT);
	n = fake_expect(f, "notifications/cancelled");
	assert_non_null(n);
	p = json_object_get(n, "params");
	assert_int_equal(json_integer_value(json_object_get(p, "requestId")),
			 id);
	assert_string_equal(json_string_value(json_object_get(p, "reason")),
			    "timeout");
	json_decref(n);
	json_decref(req);
	/* The late response is dropped; the session goes on. */
	fake_deliverf(f, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}",
		      (long long)id);
	call_free(&k);
	memset(&k, 0, sizeof(k));
	k.c = c;
	k.method = "next";
	call_start(&k);
	req = fake_expect(f, "next");
	assert_int_not_equal(msg_id(req), id);
	fake_deliverf(f,
		      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"ok\":1}}",
		      (long long)msg_id(req));
	call_join(&k);
	assert_int_equal(k.rc, 0);
	assert_non_null(json_object_get(k.result, "ok"));
	json_decref(req);
	call_free(&k);
	mcp_client_destroy(c);
}

static void test_cancel_fd(void **state)
{
	struct call k = {.method = "slow", .use_co = true};
	struct mcp_client *c;
	json_t *req, *n;
	struct fake *f;
	int pfd[2];

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	k.co.cancel_fd = pfd[0];
	c = client_new(&f, NULL);
	k.c = c;
	call_start(&k);
	req = fake_expect(f, "slow");
	assert_int_equal(write(pfd[1], "x", 1), 1);
	call_join(&k);
	assert_int_equal(k.rc, -ECANCELED);
	n = fake_expect(f, "notifications/cancelled");
	assert_non_null(n);
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(n, "params"), "requestId")),
			 msg_id(req));
	json_decref(n);
	json_decref(req);
	call_free(&k);
	close(pfd[0]);
	close(pfd[1]);
	mcp_client_destroy(c);
}

struct progress_log {
	int calls;
	double last, total;
	char msg[64];
};

static void progress_cb(void *opaque, double progress, double total,
			const char *message)
{
	struct progress_log *l = opaque;

	l->calls++;
	l->last = progress;
	l->total = total;
	snprintf(l->msg, sizeof(l->msg), "%s", message ? message : "");
}

struct notes {
	int n;
	char last[64];
};

static void note_cb(void *opaque, const char *method, json_t *params)
{
	struct notes *n = opaque;

	(void)params;
	n->n++;
	snprintf(n->last, sizeof(n->last), "%s", method);
}

static void test_progress(void **state)
{
	struct progress_log la = {0}, lb = {0};
	struct notes notes = {0};
	struct mcp_client_opts o = {.notification = note_cb, .opaque = &notes};
	struct call a = {.method = "long",
			 .use_co = true,
			 .co = {.progress = progress_cb,
				.opaque = &la,
				.cancel_fd = -1}};
	struct call b = a;
	const char *ta, *tb;
	struct mcp_client *c;
	json_t *ra, *rb;
	struct fake *f;

	(void)state;
	b.co.opaque = &lb;
	c = client_new(&f, &o);
	a.c = b.c = c;
	a.params = json_pack("{s:i}", "x", 1);
	call_start(&a);
	ra = fake_expect(f, "long");
	call_start(&b);
	rb = fake_expect(f, "long");
	ta = json_string_value(json_object_get(
		json_object_get(json_object_get(ra, "params"), "_meta"),
		"progressToken"));
	tb = json_string_value(json_object_get(
		json_object_get(json_object_get(rb, "params"), "_meta"),
		"progressToken"));
	assert_non_null(ta);
	assert_non_null(tb);
	assert_string_not_equal(ta, tb);
	/* The caller's params are kept next to _meta. */
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(ra, "params"), "x")),
			 1);
	fake_deliverf(
		f,
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
		"\"params\":{\"progressToken\":\"%s\",\"progress\":1,"
		"\"total\":4,\"message\":\"a1\"}}",
		ta);
	fake_deliverf(
		f,
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
		"\"params\":{\"progressToken\":\"%s\",\"progress\":2.5}}",
		tb);
	fake_deliverf(
		f,
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
		"\"params\":{\"progressToken\":\"%s\",\"progress\":3,"
		"\"total\":4}}",
		ta);
	/* A token nobody sent and a logging message. */
	fake_deliver(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
			"progress\",\"params\":{\"progressToken\":\"zz\","
			"\"progress\":9}}");
	fake_deliver(f, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
			"message\",\"params\":{\"level\":\"info\",\"data\":"
			"\"hi\"}}");
	fake_deliverf(f, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}",
		      (long long)msg_id(ra));
	fake_deliverf(f, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}",
		      (long long)msg_id(rb));
	call_join(&a);
	call_join(&b);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(la.calls, 2);
	assert_true(la.last == 3 && la.total == 4);
	assert_string_equal(la.msg, "");
	assert_int_equal(lb.calls, 1);
	assert_true(lb.last == 2.5);
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.last, "notifications/message");
	/* Progress after completion reaches nobody. */
	fake_deliverf(
		f,
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
		"\"params\":{\"progressToken\":\"%s\",\"progress\":4}}",
		ta);
	assert_int_equal(la.calls, 2);
	json_decref(ra);
	json_decref(rb);
	call_free(&a);
	call_free(&b);
	mcp_client_destroy(c);
}

/* Sends a server request and returns the client's answer. */
static json_t *ask(struct fake *f, const char *req)
{
	json_t *m;

	fake_deliver(f, req);
	m = fake_expect(f, NULL);
	assert_non_null(m);
	return m;
}

static int64_t error_code(json_t *m)
{
	json_t *e = json_object_get(m, "error");

	assert_non_null(e);
	return json_integer_value(json_object_get(e, "code"));
}

static const char *action(json_t *m)
{
	return json_string_value(
		json_object_get(json_object_get(m, "result"), "action"));
}

#define ELICIT_FORM                                                            \
	"{\"jsonrpc\":\"2.0\",\"id\":\"e1\",\"method\":\"elicitation/"         \
	"create\","                                                            \
	"\"params\":{\"message\":\"m\",\"requestedSchema\":{\"type\":"         \
	"\"object\",\"properties\":{\"name\":{\"type\":\"string\","            \
	"\"default\":"                                                         \
	"\"Bob\"},\"age\":{\"type\":\"integer\",\"default\":7},\"ok\":{"       \
	"\"type\":\"boolean\",\"default\":true},\"color\":{\"type\":"          \
	"\"string\"}},\"required\":[\"name\"]}}}"

static void test_server_requests(void **state)
{
	struct mcp_client_opts o = {
		.roots = json_pack("[{s:s,s:s}]", "uri", "file:///tmp", "name",
				   "tmp"),
		.sampling = true,
		.elicit_declared = true,
		.elicit = MCP_ELICIT_ACCEPT_DEFAULTS,
	};
	struct mcp_client *c, *c2;
	json_t *m, *content;
	struct fake *f, *f2;

	(void)state;
	c = client_new(&f, &o);
	m = ask(f, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}");
	assert_int_equal(json_integer_value(json_object_get(m, "id")), 5);
	assert_int_equal(json_object_size(json_object_get(m, "result")), 0);
	json_decref(m);
	m = ask(f, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"roots/list\"}");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(
				json_object_get(json_object_get(m, "result"),
						"roots"),
				0),
			"uri")),
		"file:///tmp");
	json_decref(m);
	m = ask(f, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"sampling/"
		   "createMessage\",\"params\":{\"messages\":[]}}");
	assert_int_equal(error_code(m), -1);
	json_decref(m);
	m = ask(f, ELICIT_FORM);
	assert_string_equal(json_string_value(json_object_get(m, "id")), "e1");
	assert_string_equal(action(m), "accept");
	content = json_object_get(json_object_get(m, "result"), "content");
	assert_string_equal(json_string_value(json_object_get(content, "name")),
			    "Bob");
	assert_int_equal(json_integer_value(json_object_get(content, "age")),
			 7);
	assert_true(json_is_true(json_object_get(content, "ok")));
	assert_null(json_object_get(content, "color")); /* no default */
	json_decref(m);
	/* A required field without a default: the form cannot be sent. */
	m = ask(f, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"elicitation/"
		   "create\",\"params\":{\"message\":\"m\",\"requestedSchema\":"
		   "{\"type\":\"object\",\"properties\":{\"x\":{\"type\":"
		   "\"string\"}},\"required\":[\"x\"]}}}");
	assert_string_equal(action(m), "decline");
	json_decref(m);
	/* URL mode is never accepted on the user's behalf. */
	m = ask(f, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"elicitation/"
		   "create\",\"params\":{\"mode\":\"url\",\"message\":\"m\","
		   "\"url\":\"https://x\",\"elicitationId\":\"u\"}}");
	assert_string_equal(action(m), "decline");
	json_decref(m);
	m = ask(f, "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"no/such\"}");
	assert_int_equal(error_code(m), JSONRPC_METHOD_NOT_FOUND);
	json_decref(m);
	mcp_client_destroy(c);
	json_decref(o.roots);

	/* Nothing declared: roots, sampling, elicitation are refused. */
	c2 = client_new(&f2, NULL);
	m = ask(f2, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"roots/list\"}");
	assert_int_equal(error_code(m), JSONRPC_METHOD_NOT_FOUND);
	json_decref(m);
	m = ask(f2, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"sampling/"
		    "createMessage\",\"params\":{}}");
	assert_int_equal(error_code(m), JSONRPC_METHOD_NOT_FOUND);
	json_decref(m);
	m = ask(f2, ELICIT_FORM);
	assert_int_equal(error_code(m), JSONRPC_METHOD_NOT_FOUND);
	json_decref(m);
	mcp_client_destroy(c2);
}

static void test_elicit_policies(void **state)
{
	enum mcp_elicit_policy pol[] = {MCP_ELICIT_DECLINE, MCP_ELICIT_CANCEL};
	const char *want[] = {"decline", "cancel"};

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct mcp_client_opts o = {.elicit_declared = true,
					    .elicit = pol[i]};
		struct mcp_client *c;
		struct fake *f;
		json_t *m;

		c = client_new(&f, &o);
		m = ask(f, ELICIT_FORM);
		assert_string_equal(action(m), want[i]);
		assert_null(json_object_get(json_object_get(m, "result"),
					    "content"));
		json_decref(m);
		mcp_client_destroy(c);
	}
}

static void test_malformed_and_unknown(void **state)
{
	static const char *const junk[] = {
		"not json",
		"[{\"jsonrpc\":\"2.0\",\"method\":\"m\"}]",
		"{\"jsonrpc\":\"2.0\",\"id\":777,\"result\":{}}", /* unknown */
		"{\"jsonrpc\":\"2.0\",\"id\":\"str\",\"result\":{}}",
		"{\"jsonrpc\":\"1.0\",\"method\":\"x\"}",
		"{}",
		"\"\\u00",
	};
	struct call k = {.method = "m"};
	struct mcp_client *c;
	struct fake *f;
	json_t *req;

	(void)state;
	c = client_new(&f, NULL);
	k.c = c;
	call_start(&k);
	req = fake_expect(f, "m");
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		fake_deliver(f, junk[i]);
	/* None of it was answered, and the request is still waiting. */
	assert_int_equal(fake_pending(f, 50), 0);
	/* A malformed response that names our id fails it at once. */
	fake_deliverf(f,
		      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{},"
		      "\"error\":{\"code\":1,\"message\":\"x\"}}",
		      (long long)msg_id(req));
	call_join(&k);
	assert_int_equal(k.rc, -EBADMSG);
	json_decref(req);
	call_free(&k);
	/* The session survived all of it; a server error comes back. */
	memset(&k, 0, sizeof(k));
	k.c = c;
	k.method = "m2";
	call_start(&k);
	req = fake_expect(f, "m2");
	fake_deliverf(f,
		      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":"
		      "-32602,\"message\":\"bad args\",\"data\":{\"k\":1}}}",
		      (long long)msg_id(req));
	call_join(&k);
	assert_int_equal(k.rc, -EREMOTEIO);
	assert_int_equal(k.e.code, -32602);
	assert_string_equal(k.e.message, "bad args");
	assert_non_null(json_object_get(k.e.data, "k"));
	json_decref(req);
	call_free(&k);
	mcp_client_destroy(c);
}

struct list_run {
	struct mcp_client *c;
	json_t *items;
	struct mcp_error e;
	int rc;
};

static void *list_main(void *arg)
{
	struct list_run *r = arg;

	r->rc = mcp_client_list_all(r->c, "tools/list", "tools", &r->items,
				    &r->e);
	return NULL;
}

/* Answers one tools/list page; returns the cursor the client sent. */
static char *page_answer(struct fake *f, const char *tools, const char *next)
{
	json_t *req = fake_expect(f, "tools/list");
	const char *cur;
	char *sent;

	assert_non_null(req);
	cur = json_string_value(
		json_object_get(json_object_get(req, "params"), "cursor"));
	sent = strdup(cur ? cur : "");
	if (next)
		fake_deliverf(f,
			      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{"
			      "\"tools\":[%s],\"nextCursor\":\"%s\"}}",
			      (long long)msg_id(req), tools, next);
	else
		fake_deliverf(f,
			      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{"
			      "\"tools\":[%s]}}",
			      (long long)msg_id(req), tools);
	json_decref(req);
	return sent;
}

static void test_pagination(void **state)
{
	struct list_run r = {0};
	pthread_t th;
	struct fake *f;
	char *cur;

	(void)state;
	r.c = client_new(&f, NULL);
	pthread_create(&th, NULL, list_main, &r);
	cur = page_answer(f, "{\"name\":\"a\"},{\"name\":\"b\"}", "p2");
	assert_string_equal(cur, "");
	free(cur);
	cur = page_answer(f, "{\"name\":\"c\"}", "p3");
	assert_string_equal(cur, "p2");
	free(cur);
	cur = page_answer(f, "", NULL);
	assert_string_equal(cur, "p3");
	free(cur);
	pthread_join(th, NULL);
	assert_int_equal(r.rc, 0);
	assert_int_equal(json_array_size(r.items), 3);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(r.items, 2), "name")),
			    "c");
	json_decref(r.items);

	/* A server that hands back an earlier cursor is stopped. */
	memset(&r.e, 0, sizeof(r.e));
	r.items = NULL;
	pthread_create(&th, NULL, list_main, &r);
	free(page_answer(f, "{\"name\":\"a\"}", "x"));
	free(page_answer(f, "{\"name\":\"b\"}", "y"));
	free(page_answer(f, "{\"name\":\"c\"}", "x"));
	pthread_join(th, NULL);
	assert_int_equal(r.rc, -ELOOP);
	assert_null(r.items);
	assert_non_null(strstr(r.e.message, "repeated"));
	mcp_error_clear(&r.e);

	/* A page without the array is a protocol error. */
	pthread_create(&th, NULL, list_main, &r);
	{
		json_t *req = fake_expect(f, "tools/list");

		fake_deliverf(f,
			      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{"
			      "\"tools\":{}}}",
			      (long long)msg_id(req));
		json_decref(req);
	}
	pthread_join(th, NULL);
	assert_int_equal(r.rc, -EPROTO);
	mcp_error_clear(&r.e);
	mcp_client_destroy(r.c);
}

static void test_transport_closed(void **state)
{
	struct call k = {.method = "m"};
	struct mcp_client *c;
	struct fake *f;
	json_t *req, *res = NULL;
	struct mcp_error e = {0};
	int destroyed = 0;
	char err[128];

	(void)state;
	f = fake_new(&destroyed);
	assert_int_equal(
		mcp_client_create(&f->base, NULL, &c, err, sizeof(err)), 0);
	k.c = c;
	call_start(&k);
	req = fake_expect(f, "m");
	fake_close(f, -ECONNRESET, "server 'x' exited with status 3");
	call_join(&k);
	assert_int_equal(k.rc, -EPIPE);
	assert_non_null(strstr(k.e.message, "status 3"));
	assert_non_null(strstr(mcp_client_closed_reason(c), "status 3"));
	assert_int_equal(mcp_client_request(c, "m", NULL, NULL, &res, &e),
			 -EPIPE);
	mcp_error_clear(&e);
	json_decref(req);
	call_free(&k);
	mcp_client_destroy(c);
	assert_int_equal(destroyed, 1);
}

/* Answers the initialize the client sends, and takes its initialized. */
static void init_answer(struct fake *f)
{
	json_t *m = fake_expect(f, "initialize");

	assert_non_null(m);
	fake_deliverf(f,
		      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{"
		      "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
		      "\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"}}}",
		      (long long)msg_id(m));
	json_decref(m);
	m = fake_expect(f, "notifications/initialized");
	assert_non_null(m);
	json_decref(m);
}

/* HTTP: the server forgot the session; initialize again and resend. */
static void test_session_expired(void **state)
{
	struct init_run r = {0};
	struct call k = {.method = "tools/list"};
	pthread_t th;
	struct fake *f;
	json_t *req;

	(void)state;
	r.c = client_new(&f, NULL);
	pthread_create(&th, NULL, init_main, &r);
	init_answer(f);
	pthread_join(th, NULL);
	assert_int_equal(r.rc, 0);
	k.c = r.c;
	k.params = json_pack("{s:s}", "cursor", "c1");
	call_start(&k);
	req = fake_expect(f, "tools/list");
	f->ev->session_expired(f->opaque);
	fake_deliverf(f,
		      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":"
		      "-32000,\"message\":\"gone\",\"data\":{\"transport\":"
		      "\"http\",\"errno\":%d,\"status\":404}}}",
		      (long long)msg_id(req), -ESTALE);
	json_decref(req);
	init_answer(f);
	req = fake_expect(f, "tools/list");
	assert_non_null(req);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(req, "params"), "cursor")),
			    "c1");
	fake_deliverf(f,
		      "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{"
		      "\"tools\":[]}}",
		      (long long)msg_id(req));
	call_join(&k);
	assert_int_equal(k.rc, 0);
	json_decref(req);
	call_free(&k);
	mcp_client_destroy(r.c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initialize),
		cmocka_unit_test(test_version_unsupported),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_timeout_cancelled),
		cmocka_unit_test(test_cancel_fd),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_server_requests),
		cmocka_unit_test(test_elicit_policies),
		cmocka_unit_test(test_malformed_and_unknown),
		cmocka_unit_test(test_pagination),
		cmocka_unit_test(test_transport_closed),
		cmocka_unit_test(test_session_expired),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
