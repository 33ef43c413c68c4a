/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MCP gateway (`luminaguard mcp serve`) against real upstreams:
 * server-everything, server-filesystem and a small sh server, driven by
 * our own client over stdio (the gateway runs as a child: this program
 * re-executed with --serve, which runs the CLI's cmd_mcp_serve) and over
 * Streamable HTTP (the gateway in-process on a loopback port), plus raw
 * HTTP checks (Origin, Host, bearer token, sessions), the session core
 * on its own, sandbox_exec and a sandboxed upstream in real VMs when a
 * guest image and QEMU exist. Output is TAP-like; exit 77 skips.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cmd-mcp-serve.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "config.h"
#include "image/image.h"
#include "mcp/client.h"
#include "mcp/gateway-internal.h"
#include "mcp/gateway.h"
#include "mcp/http.h"
#include "mcp/jsonrpc.h"
#include "mcp/mcp-config.h"
#include "mcp/serve.h"
#include "mcp/server.h"
#include "mcp/stdio.h"
#include "npm-servers.h"

static int failures, checks;
static char bin_dir[4096], work[4096], self_path[4096];
static bool have_vm;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		checks++;                                                      \
		if (cond) {                                                    \
			printf("ok %d - ", checks);                            \
		} else {                                                       \
			failures++;                                            \
			printf("not ok %d - ", checks);                        \
		}                                                              \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		fflush(stdout);                                                \
	} while (0)

static bool required(const char *var)
{
	const char *v = getenv(var);

	return v && strcmp(v, "1") == 0;
}

static void servers_find(void)
{
	if (npm_servers_find(bin_dir, sizeof(bin_dir), false) == 0)
		return;
	printf("# npm MCP servers not available (%s)\n",
	       bin_dir[0] ? bin_dir : "setup-servers.sh failed");
	exit(required("LG_REQUIRE_MCP") ? 1 : 77);
}

/* A guest image and QEMU: the sandbox parts run, else they are skipped. */
static void vm_find(void)
{
	struct lg_image img;
	char err[512];

	have_vm = lg_image_default(&img, err, sizeof(err)) == 0 &&
		  system("command -v qemu-system-x86_64 >/dev/null") == 0;
	if (!have_vm) {
		printf("# no guest image or QEMU: sandbox checks skipped "
		       "(%s)\n",
		       err);
		if (required("LG_REQUIRE_IMAGE")) {
			printf("not ok - LG_REQUIRE_IMAGE=1 and no VM\n");
			exit(1);
		}
	}
}

/* ---- the session core on its own ---- */

struct capture {
	pthread_mutex_t lock;
	json_t *msgs;
};

static int capture_send(void *opaque, json_t *msg, const json_t *related)
{
	struct capture *c = opaque;

	(void)related;
	pthread_mutex_lock(&c->lock);
	json_array_append(c->msgs, msg);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static json_t *five_items(void *opaque, const char *key)
{
	(void)opaque;
	if (strcmp(key, "tools") != 0)
		return NULL;
	return json_pack("[{s:s},{s:s},{s:s},{s:s},{s:s}]", "name", "a", "name",
			 "b", "name", "c", "name", "d", "name", "e");
}

static int slow_request(void *opaque, struct mcp_req *req, const char *method,
			json_t *params, json_t **result,
			struct mcp_server_error *e)
{
	uint64_t v;

	(void)opaque;
	(void)params;
	if (strcmp(method, "slow") != 0) {
		e->code = JSONRPC_METHOD_NOT_FOUND;
		snprintf(e->message, sizeof(e->message), "no");
		return -ENOSYS;
	}
	/* Waits for the cancellation, at most 5 s. */
	for (int i = 0; i < 500; i++) {
		if (read(req->cancel_fd, &v, sizeof(v)) == sizeof(v))
			return -ECANCELED;
		usleep(10000);
	}
	*result = json_object();
	return 0;
}

static json_t *last_msg(struct capture *c)
{
	json_t *m;

	pthread_mutex_lock(&c->lock);
	m = json_incref(json_array_get(c->msgs, json_array_size(c->msgs) - 1));
	pthread_mutex_unlock(&c->lock);
	return m;
}

/* The message answering id (integer), waiting up to 3 s for a worker. */
static json_t *msg_for(struct capture *c, json_int_t id)
{
	for (int i = 0; i < 300; i++) {
		size_t k;
		json_t *m;

		pthread_mutex_lock(&c->lock);
		json_array_foreach(c->msgs, k, m)
		{
			if (json_integer_value(json_object_get(m, "id")) ==
			    id) {
				json_incref(m);
				pthread_mutex_unlock(&c->lock);
				return m;
			}
		}
		pthread_mutex_unlock(&c->lock);
		usleep(10000);
	}
	return NULL;
}

static json_int_t err_code(json_t *m)
{
	return json_integer_value(
		json_object_get(json_object_get(m, "error"), "code"));
}

static void feed(struct mcp_session *s, const char *msg)
{
	mcp_session_receive(s, msg, strlen(msg));
}

static void test_session_core(void)
{
	struct mcp_server_info info = {
		.name = "t", .version = "1", .logging = true, .page_size = 2};
	struct mcp_server_handlers h = {.list = five_items,
					.request = slow_request};
	struct capture cap = {.msgs = json_array()};
	struct mcp_session *s;
	json_t *m;
	uint64_t t0;

	pthread_mutex_init(&cap.lock, NULL);
	s = mcp_session_new(&info, &h, NULL, capture_send, &cap);
	feed(s, "{not json");
	m = last_msg(&cap);
	CHECK(err_code(m) == JSONRPC_PARSE_ERROR &&
		      json_is_null(json_object_get(m, "id")),
	      "session: malformed JSON gets -32700 with a null id");
	json_decref(m);
	feed(s, "{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"x\"}");
	m = last_msg(&cap);
	CHECK(err_code(m) == JSONRPC_INVALID_REQUEST,
	      "session: a non-2.0 message gets -32600");
	json_decref(m);
	feed(s, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
	m = last_msg(&cap);
	CHECK(err_code(m) == JSONRPC_INVALID_REQUEST,
	      "session: tools/list before initialize is refused");
	json_decref(m);
	feed(s, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\","
		"\"params\":{\"protocolVersion\":\"2024-01-01\"}}");
	m = last_msg(&cap);
	CHECK(strcmp(json_string_value(json_object_get(
			     json_object_get(m, "result"), "protocolVersion"))
			     ?: "",
		     "2025-11-25") == 0,
	      "session: an unknown version is answered with our latest");
	json_decref(m);
	feed(s, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}");
	m = last_msg(&cap);
	CHECK(json_array_size(json_object_get(json_object_get(m, "result"),
					      "tools")) == 2 &&
		      json_object_get(json_object_get(m, "result"),
				      "nextCursor"),
	      "session: lists are paginated (2 of 5 and a cursor)");
	json_decref(m);
	feed(s, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\","
		"\"params\":{\"cursor\":\"lg:4\"}}");
	m = last_msg(&cap);
	CHECK(json_array_size(json_object_get(json_object_get(m, "result"),
					      "tools")) == 1 &&
		      !json_object_get(json_object_get(m, "result"),
				       "nextCursor"),
	      "session: the last page has no nextCursor");
	json_decref(m);
	feed(s, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\","
		"\"params\":{\"cursor\":\"bogus\"}}");
	m = last_msg(&cap);
	CHECK(err_code(m) == JSONRPC_INVALID_PARAMS,
	      "session: an invalid cursor gets -32602");
	json_decref(m);
	feed(s, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"nope\"}");
	m = msg_for(&cap, 6);
	CHECK(err_code(m) == JSONRPC_METHOD_NOT_FOUND,
	      "session: unknown method gets -32601");
	json_decref(m);
	/* A cancelled request is not answered; the session goes on. */
	t0 = lg_now_ns();
	feed(s, "{\"jsonrpc\":\"2.0\",\"id\":\"slow1\",\"method\":\"slow\"}");
	feed(s, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\","
		"\"params\":{\"requestId\":\"slow1\"}}");
	feed(s, "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"ping\"}");
	m = last_msg(&cap);
	CHECK(json_integer_value(json_object_get(m, "id")) == 8,
	      "session: ping answered while a request runs");
	json_decref(m);
	mcp_session_free(s);
	m = last_msg(&cap);
	CHECK(json_integer_value(json_object_get(m, "id")) == 8 &&
		      lg_now_ns() - t0 < 3000000000ull,
	      "session: the cancelled request stopped and got no response "
	      "(last: %s)",
	      json_string_value(json_object_get(m, "id")) ?: "ping");
	json_decref(m);
	json_decref(cap.msgs);
	pthread_mutex_destroy(&cap.lock);
}

/* ---- helpers for the client side ---- */

static json_t *call(struct mcp_client *c, const char *tool, json_t *args,
		    int *rc_out, struct mcp_error *e_out)
{
	struct mcp_call_opts co = {.cancel_fd = -1};
	struct mcp_error e = {0};
	json_t *r = NULL;
	int rc;

	rc = mcp_client_request(c, "tools/call",
				json_pack("{s:s, s:o}", "name", tool,
					  "arguments",
					  args ? args : json_object()),
				&co, &r, &e);
	if (rc_out)
		*rc_out = rc;
	if (e_out)
		*e_out = e;
	else
		mcp_error_clear(&e);
	return r;
}

static bool has_content(json_t *r, const char *type)
{
	size_t i;
	json_t *b;

	json_array_foreach(
		json_object_get(r, "content"), i,
		b) if (strcmp(json_string_value(json_object_get(b, "type"))
				      ?: "",
			      type) == 0) return true;
	return false;
}

static const char *first_text(json_t *r)
{
	size_t i;
	json_t *b;

	json_array_foreach(json_object_get(r, "content"), i, b) if (
		json_string_value(json_object_get(
			b,
			"text"))) return json_string_value(json_object_get(b,
									   "tex"
									   "t"));
	return "";
}

static bool list_has(json_t *items, const char *name)
{
	size_t i;
	json_t *it;

	json_array_foreach(
		items, i,
		it) if (strcmp(json_string_value(json_object_get(it, "name"))
				       ?: "",
			       name) == 0) return true;
	return false;
}

static size_t list_count_prefix(json_t *items, const char *prefix)
{
	size_t i, n = 0;
	json_t *it;

	json_array_foreach(
		items, i,
		it) if (strncmp(json_string_value(json_object_get(it, "name"))
					?: "",
				prefix, strlen(prefix)) == 0) n++;
	return n;
}

static json_t *tools(struct mcp_client *c)
{
	struct mcp_error e = {0};
	json_t *items = NULL;

	if (mcp_client_list_all(c, "tools/list", "tools", &items, &e) < 0)
		printf("# tools/list: %s\n", e.message);
	mcp_error_clear(&e);
	return items ? items : json_array();
}

struct progress_count {
	int n;
	double last;
};

static void count_progress(void *opaque, double progress, double total,
			   const char *message)
{
	struct progress_count *p = opaque;

	(void)total;
	(void)message;
	p->n++;
	p->last = progress;
}

struct delayed {
	int fd;
	unsigned ms;
};

static void *poke_later(void *arg)
{
	struct delayed *d = arg;
	uint64_t one = 1;

	usleep(d->ms * 1000u);
	if (write(d->fd, &one, sizeof(one)) < 0)
		perror("eventfd");
	return NULL;
}

static void check_progress_cancel(struct mcp_client *c, const char *how)
{
	struct progress_count pc = {0};
	struct mcp_call_opts co = {
		.progress = count_progress, .opaque = &pc, .cancel_fd = -1};
	struct delayed d = {.fd = eventfd(0, EFD_CLOEXEC), .ms = 1500};
	struct mcp_error e = {0};
	json_t *r = NULL;
	pthread_t t;
	uint64_t t0;
	int rc;

	rc = mcp_client_request(
		c, "tools/call",
		json_pack("{s:s, s:{s:i, s:i}}", "name",
			  "everything__trigger-long-running-operation",
			  "arguments", "duration", 2, "steps", 4),
		&co, &r, &e);
	CHECK(rc == 0 && pc.n >= 2 && pc.last >= 2,
	      "%s: progress forwarded (%d notifications, last %.0f)", how, pc.n,
	      pc.last);
	json_decref(r);
	r = NULL;
	mcp_error_clear(&e);

	co.progress = NULL;
	co.cancel_fd = d.fd;
	pthread_create(&t, NULL, poke_later, &d);
	t0 = lg_now_ns();
	rc = mcp_client_request(
		c, "tools/call",
		json_pack("{s:s, s:{s:i, s:i}}", "name",
			  "everything__trigger-long-running-operation",
			  "arguments", "duration", 30, "steps", 30),
		&co, &r, &e);
	pthread_join(t, NULL);
	CHECK(rc == -ECANCELED && lg_now_ns() - t0 < 10000000000ull,
	      "%s: a 30 s call cancelled after 1.5 s (rc %d, %.1f s)", how, rc,
	      (double)(lg_now_ns() - t0) / 1e9);
	json_decref(r);
	mcp_error_clear(&e);
	close(d.fd);
	r = call(c, "everything__echo",
		 json_pack("{s:s}", "message", "after cancel"), &rc, NULL);
	CHECK(rc == 0 && strstr(first_text(r), "after cancel"),
	      "%s: the gateway still answers after a cancellation", how);
	json_decref(r);
}

/* ---- server->client requests, restart, approval, HTTP upstream ---- */

static bool is_error(json_t *r)
{
	return json_is_true(json_object_get(r, "isError"));
}

/* Our client's policy answers the upstream's requests via the gateway. */
static void check_peer_requests(struct mcp_client *c, const char *how,
				bool sampling)
{
	json_t *r;
	int rc;

	r = call(c, "everything__trigger-elicitation-request", NULL, &rc, NULL);
	CHECK(rc == 0 && !is_error(r) &&
		      strstr(first_text(r), "User declined to provide"),
	      "%s: elicitation/create from the upstream answered by our "
	      "client's policy (%s)",
	      how, rc ? "error" : first_text(r));
	json_decref(r);
	r = call(c, "everything__trigger-sampling-request",
		 json_pack("{s:s}", "prompt", "hi"), &rc, NULL);
	if (sampling)
		CHECK(rc == 0 && is_error(r) &&
			      strstr(first_text(r), "declined by the client"),
		      "%s: sampling/createMessage relayed; our client's "
		      "refusal reaches the upstream (%s)",
		      how, rc ? "error" : first_text(r));
	else
		CHECK(rc == 0 && is_error(r) &&
			      strstr(first_text(r), "no client of the gateway "
						    "supports sampling"),
		      "%s: sampling/createMessage refused for a client "
		      "without the capability (%s)",
		      how, rc ? "error" : first_text(r));
	json_decref(r);
}

static void check_restart(struct mcp_client *c)
{
	struct mcp_error e = {0};
	json_t *r;
	int rc;

	r = call(c, "shy2__info", NULL, &rc, NULL);
	CHECK(rc == 0 && strstr(first_text(r), "pid="),
	      "restart: shy2 answers (%s)", rc ? "error" : first_text(r));
	json_decref(r);
	r = call(c, "shy2__crash", NULL, &rc, &e);
	CHECK(rc == -EREMOTEIO, "restart: shy2 crashes (%s)", e.message);
	mcp_error_clear(&e);
	json_decref(r);
	r = call(c, "shy2__echo", json_pack("{s:s}", "text", "again"), &rc, &e);
	CHECK(rc == 0 && strstr(first_text(r), "echo: again"),
	      "restart: \"restart\": true starts it again for the next call "
	      "(%s)",
	      rc ? e.message : first_text(r));
	mcp_error_clear(&e);
	json_decref(r);
}

static int denials;

static int deny_create(const struct gateway_call *call, char *why,
		       size_t why_len)
{
	if (call->server && strcmp(call->tool, "create_entities") == 0) {
		denials++;
		snprintf(why, why_len, "denied by the test policy");
		return -EPERM;
	}
	return gateway_approve(call, why, why_len);
}

static void check_denial(struct gateway *g, struct mcp_client *c)
{
	json_t *r;
	int rc;

	gateway_set_approver(g, deny_create);
	r = call(c, "mem__create_entities",
		 json_pack("{s:[{s:s, s:s, s:[]}]}", "entities", "name",
			   "denied-entity", "entityType", "t", "observations"),
		 &rc, NULL);
	CHECK(rc == 0 && is_error(r) && denials == 1 &&
		      strcmp(first_text(r), "denied by the test policy") == 0,
	      "approval: a denial is a tool result with isError and the "
	      "reason");
	json_decref(r);
	r = call(c, "mem__read_graph", NULL, &rc, NULL);
	CHECK(rc == 0 && !strstr(first_text(r), "denied-entity"),
	      "approval: the denied call never reached the upstream");
	json_decref(r);
	gateway_set_approver(g, NULL);
	r = call(c, "mem__create_entities",
		 json_pack("{s:[{s:s, s:s, s:[]}]}", "entities", "name",
			   "allowed-entity", "entityType", "t", "observations"),
		 &rc, NULL);
	json_decref(r);
	r = call(c, "mem__read_graph", NULL, &rc, NULL);
	CHECK(rc == 0 && strstr(first_text(r), "allowed-entity") &&
		      denials == 1,
	      "approval: the default hook allows and forwards");
	json_decref(r);
}

static void check_http_upstream(struct mcp_client *c)
{
	struct progress_count pc = {0};
	struct mcp_call_opts co = {
		.progress = count_progress, .opaque = &pc, .cancel_fd = -1};
	struct mcp_error e = {0};
	json_t *l, *r = NULL;
	int rc;

	l = tools(c);
	CHECK(list_has(l, "evh__echo") && list_count_prefix(l, "evh__") >= 10,
	      "http upstream: its tools listed (%zu)",
	      list_count_prefix(l, "evh__"));
	json_decref(l);
	r = call(c, "evh__echo", json_pack("{s:s}", "message", "over http"),
		 &rc, NULL);
	CHECK(rc == 0 && strstr(first_text(r), "over http"),
	      "http upstream: a call forwarded over Streamable HTTP");
	json_decref(r);
	r = NULL;
	rc = mcp_client_request(c, "tools/call",
				json_pack("{s:s, s:{s:i, s:i}}", "name",
					  "evh__trigger-long-running-operation",
					  "arguments", "duration", 2, "steps",
					  4),
				&co, &r, &e);
	CHECK(rc == 0 && pc.n >= 2,
	      "http upstream: progress flows back (%d notifications)", pc.n);
	json_decref(r);
	mcp_error_clear(&e);
}

static int list_changed;

static void count_list_changed(void *opaque, const char *method, json_t *params)
{
	(void)opaque;
	(void)params;
	if (strcmp(method, "notifications/tools/list_changed") == 0)
		__atomic_add_fetch(&list_changed, 1, __ATOMIC_SEQ_CST);
}

static void check_list_changed_get(struct mcp_client *c)
{
	json_t *r;
	int rc;

	list_changed = 0;
	r = call(c, "shy__crash", NULL, &rc, NULL);
	json_decref(r);
	for (int i = 0;
	     i < 50 && !__atomic_load_n(&list_changed, __ATOMIC_SEQ_CST); i++)
		usleep(100000);
	CHECK(list_changed > 0,
	      "http: tools/list_changed (no request's) reaches the client "
	      "on its GET stream");
}

/* ---- the gateway over stdio ---- */

static void write_config(const char *path, bool with_vm)
{
	char src[4200], root[4200];
	json_t *servers, *cfg;

	snprintf(src, sizeof(src), "%s/tests/mcp/sh-mcp-server.sh",
		 LG_SOURCE_DIR);
	snprintf(root, sizeof(root), "%s/root", work);
	lg_mkdir_p(root, 0700);
	servers = json_pack("{s:{s:[s+,s]}, s:{s:[s+,s]}, s:{s:[s,s]}}",
			    "everything", "command", bin_dir,
			    "/mcp-server-everything", "stdio", "fs", "command",
			    bin_dir, "/mcp-server-filesystem", root, "shy",
			    "command", "/bin/sh", src);
	if (with_vm)
		json_object_set_new(servers, "vmsh",
				    json_pack("{s:[s,s], s:b, s:{s:s}}",
					      "command", "/bin/sh",
					      "/srv/mcp.sh", "sandbox", 1,
					      "copy_in", src, "/srv/mcp.sh"));
	json_object_set_new(servers, "shy2",
			    json_pack("{s:[s,s], s:b}", "command", "/bin/sh",
				      src, "restart", 1));
	cfg = json_pack("{s:{s:o, s:{s:i}}}", "mcp", "servers", servers,
			"gateway", "page_size", 7);
	json_dump_file(cfg, path, JSON_INDENT(1));
	json_decref(cfg);
}

static void check_content_types(struct mcp_client *c, const char *how)
{
	json_t *r;
	int rc;

	r = call(c, "everything__echo", json_pack("{s:s}", "message", "hi gw"),
		 &rc, NULL);
	CHECK(rc == 0 && strstr(first_text(r), "hi gw"),
	      "%s: everything__echo forwarded (text)", how);
	json_decref(r);
	r = call(c, "everything__get-tiny-image", NULL, &rc, NULL);
	CHECK(rc == 0 && has_content(r, "image"), "%s: image content", how);
	json_decref(r);
	r = call(c, "everything__get-resource-links",
		 json_pack("{s:i}", "count", 2), &rc, NULL);
	CHECK(rc == 0 && has_content(r, "resource_link"),
	      "%s: resource_link content", how);
	json_decref(r);
	r = call(c, "everything__get-resource-reference", NULL, &rc, NULL);
	CHECK(rc == 0 && has_content(r, "resource"),
	      "%s: embedded resource content", how);
	json_decref(r);
	r = call(c, "everything__get-structured-content",
		 json_pack("{s:s}", "location", "Chicago"), &rc, NULL);
	CHECK(rc == 0 &&
		      json_is_object(json_object_get(r, "structuredContent")),
	      "%s: structuredContent", how);
	json_decref(r);
}

static void check_resources_prompts(struct mcp_client *c)
{
	struct mcp_call_opts co = {.cancel_fd = -1};
	struct mcp_error e = {0};
	json_t *items = NULL, *r = NULL;
	const char *uri = NULL;
	size_t i;
	json_t *it;
	int rc;

	mcp_client_list_all(c, "resources/list", "resources", &items, &e);
	mcp_error_clear(&e);
	json_array_foreach(
		items, i,
		it) if (strncmp(json_string_value(json_object_get(it, "name"))
					?: "",
				"everything__", 12) == 0)
	{
		uri = json_string_value(json_object_get(it, "uri"));
		break;
	}
	CHECK(uri != NULL, "resources/list aggregated and namespaced (%zu)",
	      json_array_size(items));
	if (uri) {
		rc = mcp_client_request(c, "resources/read",
					json_pack("{s:s}", "uri", uri), &co, &r,
					&e);
		CHECK(rc == 0 &&
			      json_array_size(json_object_get(r, "contents")),
		      "resources/read %s routed to its server", uri);
		json_decref(r);
		r = NULL;
		mcp_error_clear(&e);
	}
	json_decref(items);
	items = NULL;
	mcp_client_list_all(c, "resources/templates/list", "resourceTemplates",
			    &items, &e);
	mcp_error_clear(&e);
	CHECK(list_count_prefix(items, "everything__") > 0,
	      "resources/templates/list aggregated");
	json_decref(items);
	items = NULL;
	mcp_client_list_all(c, "prompts/list", "prompts", &items, &e);
	mcp_error_clear(&e);
	CHECK(list_has(items, "everything__simple-prompt"),
	      "prompts/list aggregated and namespaced");
	json_decref(items);
	rc = mcp_client_request(
		c, "prompts/get",
		json_pack("{s:s}", "name", "everything__simple-prompt"), &co,
		&r, &e);
	CHECK(rc == 0 && json_array_size(json_object_get(r, "messages")),
	      "prompts/get routed");
	json_decref(r);
	mcp_error_clear(&e);
}

static void check_filesystem(struct mcp_client *c)
{
	char path[4200];
	json_t *r;
	int rc;

	snprintf(path, sizeof(path), "%s/root/note.txt", work);
	r = call(c, "fs__write_file",
		 json_pack("{s:s, s:s}", "path", path, "content",
			   "written through the gateway"),
		 &rc, NULL);
	CHECK(rc == 0 && !json_is_true(json_object_get(r, "isError")),
	      "fs__write_file forwarded");
	json_decref(r);
	r = call(c, "fs__read_text_file", json_pack("{s:s}", "path", path), &rc,
		 NULL);
	CHECK(rc == 0 && strstr(first_text(r), "written through the gateway"),
	      "fs__read_text_file reads it back");
	json_decref(r);
}

static void check_crash(struct mcp_client *c)
{
	struct mcp_error e = {0};
	json_t *r, *l;
	int rc;

	r = call(c, "shy__echo", json_pack("{s:s}", "text", "sh says hi"), &rc,
		 NULL);
	CHECK(rc == 0 && strstr(first_text(r), "echo: sh says hi"),
	      "shy__echo (the sh server) forwarded");
	json_decref(r);
	r = call(c, "shy__crash", NULL, &rc, &e);
	CHECK(rc == -EREMOTEIO && e.code != 0,
	      "a crashing upstream gives an error, not a dead gateway (%s)",
	      e.message);
	mcp_error_clear(&e);
	json_decref(r);
	l = tools(c);
	CHECK(list_count_prefix(l, "shy__") == 0 &&
		      list_has(l, "everything__echo"),
	      "the crashed server's tools are gone, the others remain");
	json_decref(l);
	r = call(c, "nosuch__tool", NULL, &rc, &e);
	CHECK(rc == -EREMOTEIO && e.code == JSONRPC_INVALID_PARAMS,
	      "unknown tool gets -32602");
	mcp_error_clear(&e);
	json_decref(r);
}

static void check_sandbox_exec(struct mcp_client *c)
{
	char *b64in = b64_encode("hello from the host\n", 20);
	json_t *r, *sc, *b;
	const char *blob = NULL;
	void *dec = NULL;
	size_t len = 0, i;
	uint64_t t0 = lg_now_ns();
	int rc;

	r = call(c, "sandbox_exec",
		 json_pack("{s:s, s:{s:s}, s:[s], s:s}", "script",
			   "echo out; echo err >&2; tr a-z A-Z < /tmp/in.txt "
			   "> /tmp/out.txt; cat; exit 3",
			   "files_in", "/tmp/in.txt", b64in, "files_out",
			   "/tmp/out.txt", "stdin", "from stdin\n"),
		 &rc, NULL);
	sc = json_object_get(r, "structuredContent");
	json_array_foreach(json_object_get(r, "content"), i,
			   b) if (json_object_get(b, "resource")) blob =
		json_string_value(json_object_get(
			json_object_get(b, "resource"), "blob"));
	if (blob)
		b64_decode(blob, &dec, &len);
	CHECK(rc == 0 &&
		      json_integer_value(json_object_get(sc, "exit_code")) ==
			      3 &&
		      strcmp(json_string_value(json_object_get(sc, "stdout"))
				     ?: "",
			     "out\nfrom stdin\n") == 0 &&
		      strcmp(json_string_value(json_object_get(sc, "stderr"))
				     ?: "",
			     "err\n") == 0 &&
		      json_is_true(json_object_get(r, "isError")),
	      "sandbox_exec: script, stdin, stdout, stderr, exit code 3 "
	      "(%.1f s)",
	      (double)(lg_now_ns() - t0) / 1e9);
	CHECK(dec && len == 20 && memcmp(dec, "HELLO FROM THE HOST\n", 20) == 0,
	      "sandbox_exec: files_in went in, files_out came back");
	free(dec);
	free(b64in);
	json_decref(r);
	r = call(c, "sandbox_exec",
		 json_pack("{s:[s,s]}", "command", "/nonexistent", "x"), &rc,
		 NULL);
	CHECK(rc == 0 && json_is_true(json_object_get(r, "isError")) &&
		      strstr(first_text(r), "did not start"),
	      "sandbox_exec: a missing command is a tool error");
	json_decref(r);
}

static void check_sandboxed_upstream(struct mcp_client *c)
{
	struct utsname u;
	json_t *r;
	int rc;

	uname(&u);
	r = call(c, "vmsh__info", NULL, &rc, NULL);
	CHECK(rc == 0 && strstr(first_text(r), "kernel=") &&
		      !strstr(first_text(r), u.release),
	      "sandboxed upstream runs in the VM: %s", first_text(r));
	json_decref(r);
	r = call(c, "vmsh__echo", json_pack("{s:s}", "text", "via vsock"), &rc,
		 NULL);
	CHECK(rc == 0 && strstr(first_text(r), "echo: via vsock"),
	      "sandboxed upstream answers over the agent channel");
	json_decref(r);
}

static void test_stdio_gateway(void)
{
	char cfgpath[4200], err[512];
	char *argv[] = {self_path, "--serve", "--config",
			cfgpath,   "--stdio", NULL};
	struct mcp_stdio_opts so = {.name = "gateway", .argv = argv};
	/* Declares sampling and elicitation: the upstreams' requests for
	 * them come to this client's policy through the gateway. */
	struct mcp_client_opts co = {.timeout_ms = 120000,
				     .sampling = true,
				     .elicit_declared = true,
				     .elicit = MCP_ELICIT_ACCEPT_DEFAULTS};
	struct mcp_transport *t;
	struct mcp_client *c;
	struct mcp_error e = {0};
	json_t *l;
	int rc;

	snprintf(cfgpath, sizeof(cfgpath), "%s/config.json", work);
	write_config(cfgpath, have_vm);
	rc = mcp_stdio_transport_create(&so, &t, err, sizeof(err));
	CHECK(rc == 0, "stdio: gateway started (%s)", rc ? err : "ok");
	if (rc)
		return;
	rc = mcp_client_create(t, &co, &c, err, sizeof(err));
	if (!rc)
		rc = mcp_client_initialize(c, &e);
	CHECK(rc == 0 &&
		      strcmp(mcp_client_protocol_version(c), "2025-11-25") == 0,
	      "stdio: initialize (%s)", rc ? e.message : "2025-11-25");
	mcp_error_clear(&e);
	if (rc) {
		mcp_client_destroy(c);
		return;
	}
	l = tools(c);
	CHECK(list_has(l, "everything__echo") &&
		      list_has(l, "fs__read_text_file") &&
		      list_has(l, "shy__echo") && list_has(l, "sandbox_exec") &&
		      list_count_prefix(l, "everything__") >= 10 &&
		      json_array_size(l) > 7,
	      "stdio: tools of 3 servers, namespaced, over %zu-item pages "
	      "(%zu tools)",
	      (size_t)7, json_array_size(l));
	json_decref(l);
	check_content_types(c, "stdio");
	check_filesystem(c);
	check_resources_prompts(c);
	check_progress_cancel(c, "stdio");
	check_peer_requests(c, "stdio", true);
	check_restart(c);
	if (have_vm) {
		check_sandbox_exec(c);
		check_sandboxed_upstream(c);
	}
	check_crash(c);
	mcp_client_destroy(c);
}

/* Roots our client offers reach an upstream through the gateway: its
 * roots/list is relayed to us and server-everything's get-roots-list
 * shows what we answered. */
static void test_stdio_roots(void)
{
	char cfgpath[4200], err[512];
	char *argv[] = {self_path, "--serve", "--config",
			cfgpath,   "--stdio", NULL};
	struct mcp_stdio_opts so = {.name = "gateway", .argv = argv};
	struct mcp_client_opts co = {.timeout_ms = 60000};
	struct mcp_transport *t;
	struct mcp_client *c = NULL;
	struct mcp_error e = {0};
	const char *text;
	json_t *cfg, *l, *r;
	int rc;

	snprintf(cfgpath, sizeof(cfgpath), "%s/roots.json", work);
	cfg = json_pack("{s:{s:{s:{s:[s+,s]}}}}", "mcp", "servers",
			"everything", "command", bin_dir,
			"/mcp-server-everything", "stdio");
	json_dump_file(cfg, cfgpath, JSON_INDENT(1));
	json_decref(cfg);
	co.roots = json_pack(
		"[{s:s, s:s}, {s:s, s:s}]", "uri",
		"file:///lg-roots/alpha-7f3c", "name", "lg-alpha-root", "uri",
		"file:///lg-roots/beta-91d2", "name", "lg-beta-root");
	rc = mcp_stdio_transport_create(&so, &t, err, sizeof(err));
	CHECK(rc == 0, "roots: gateway started (%s)", rc ? err : "ok");
	if (rc) {
		json_decref(co.roots);
		return;
	}
	rc = mcp_client_create(t, &co, &c, err, sizeof(err));
	if (!rc)
		rc = mcp_client_initialize(c, &e);
	CHECK(rc == 0, "roots: initialize (%s)", rc ? e.message : "ok");
	mcp_error_clear(&e);
	if (!rc) {
		l = tools(c);
		CHECK(list_has(l, "everything__get-roots-list"),
		      "roots: the gateway declares roots upstream, so "
		      "everything__get-roots-list is listed");
		json_decref(l);
		r = call(c, "everything__get-roots-list", NULL, &rc, &e);
		text = rc ? e.message : first_text(r);
		CHECK(rc == 0 && !is_error(r) && strstr(text, "(2 total)") &&
			      strstr(text, "lg-alpha-root") &&
			      strstr(text, "file:///lg-roots/alpha-7f3c") &&
			      strstr(text, "lg-beta-root") &&
			      strstr(text, "file:///lg-roots/beta-91d2"),
		      "roots: our client's 2 roots reach the upstream via "
		      "the gateway (%.200s)",
		      text);
		mcp_error_clear(&e);
		json_decref(r);
	}
	if (c)
		mcp_client_destroy(c);
	json_decref(co.roots);
}

/* ---- the gateway over HTTP, and raw HTTP checks ---- */

struct resp {
	long status;
	char body[8192];
	size_t len;
	char sid[128];
};

static size_t body_cb(char *p, size_t sz, size_t n, void *opaque)
{
	struct resp *r = opaque;
	size_t k = sz * n, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, p, k < room ? k : room);
	r->len += k < room ? k : room;
	r->body[r->len] = '\0';
	return k;
}

static size_t header_cb(char *p, size_t sz, size_t n, void *opaque)
{
	struct resp *r = opaque;
	size_t k = sz * n;

	if (k > 16 && strncasecmp(p, "mcp-session-id:", 15) == 0) {
		snprintf(r->sid, sizeof(r->sid), "%.*s", (int)(k - 15), p + 15);
		r->sid[strcspn(r->sid, "\r\n")] = '\0';
		memmove(r->sid, r->sid + strspn(r->sid, " "),
			strlen(r->sid + strspn(r->sid, " ")) + 1);
	}
	return k;
}

static const char init_body[] =
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
	"{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
	"\"clientInfo\":{\"name\":\"raw\",\"version\":\"1\"}}}";

static struct resp http_raw(const char *method, unsigned port,
			    const char *host_ip, const char *body,
			    const char *const *headers)
{
	struct resp r = {0};
	struct curl_slist *hl = NULL;
	char url[256];
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "http://%s:%u/mcp", host_ip, port);
	hl = curl_slist_append(hl, "Content-Type: application/json");
	hl = curl_slist_append(hl,
			       "Accept: application/json, text/event-stream");
	for (size_t i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, body_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return r;
}

static void check_raw_http(unsigned port)
{
	const char *evil[] = {"Origin: http://evil.example", NULL};
	const char *local_origin[] = {"Origin: http://localhost:5173", NULL};
	const char *evil_host[] = {"Host: evil.example", NULL};
	const char *bogus[] = {"Mcp-Session-Id: 0123456789abcdef", NULL};
	char sidh[200],
		*hs[3] = {sidh, "MCP-Protocol-Version: 2025-06-18", NULL};
	struct resp r;

	r = http_raw("POST", port, "127.0.0.1", init_body, evil);
	CHECK(r.status == 403, "http: foreign Origin refused (%ld)", r.status);
	r = http_raw("POST", port, "127.0.0.1", init_body, evil_host);
	CHECK(r.status == 403, "http: rebinding Host refused (%ld)", r.status);
	r = http_raw("POST", port, "127.0.0.1", init_body, local_origin);
	CHECK(r.status == 200 && strlen(r.sid) >= 32 &&
		      strstr(r.body, "\"2025-06-18\""),
	      "http: initialize from a localhost Origin: 200, session id, "
	      "version echoed");
	snprintf(sidh, sizeof(sidh), "Mcp-Session-Id: %s", r.sid);
	r = http_raw("POST", port, "127.0.0.1",
		     "{\"jsonrpc\":\"2.0\",\"method\":"
		     "\"notifications/initialized\"}",
		     (const char *const *)hs);
	CHECK(r.status == 202, "http: notification gets 202 (%ld)", r.status);
	r = http_raw("POST", port, "127.0.0.1",
		     "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}",
		     (const char *const *)hs);
	CHECK(r.status == 200 && strstr(r.body, "\"result\""),
	      "http: ping in the session");
	r = http_raw("POST", port, "127.0.0.1", "{not json",
		     (const char *const *)hs);
	CHECK(r.status == 400 && strstr(r.body, "-32700"),
	      "http: malformed body: 400 with -32700");
	r = http_raw("POST", port, "127.0.0.1",
		     "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}",
		     bogus);
	CHECK(r.status == 404, "http: unknown session: 404 (%ld)", r.status);
	r = http_raw("POST", port, "127.0.0.1",
		     "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}",
		     NULL);
	CHECK(r.status == 400, "http: no session header: 400 (%ld)", r.status);
	r = http_raw("PUT", port, "127.0.0.1", NULL, (const char *const *)hs);
	CHECK(r.status == 405, "http: PUT: 405 (%ld)", r.status);
	r = http_raw("DELETE", port, "127.0.0.1", NULL,
		     (const char *const *)hs);
	CHECK(r.status == 200, "http: DELETE ends the session (%ld)", r.status);
	r = http_raw("POST", port, "127.0.0.1",
		     "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}",
		     (const char *const *)hs);
	CHECK(r.status == 404, "http: the deleted session is gone: 404");
}

static void check_token(const struct mcp_serve_factory *f)
{
	struct mcp_http_serve_opts o = {.addr = "127.0.0.2:0"};
	const char *none[] = {NULL};
	const char *wrong[] = {"Authorization: Bearer nope", NULL};
	const char *right[] = {"Authorization: Bearer tok-0123456789", NULL};
	struct mcp_http_server *hs;
	char err[512];
	struct resp r;
	int rc;

	rc = mcp_http_server_start(&o, f, &hs, err, sizeof(err));
	CHECK(rc == -EACCES, "http: no token, not loopback: refused to start");
	if (!rc)
		mcp_http_server_stop(hs);
	o.token = "tok-0123456789";
	rc = mcp_http_server_start(&o, f, &hs, err, sizeof(err));
	CHECK(rc == 0, "http: 127.0.0.2 with a token (%s)", rc ? err : "ok");
	if (rc)
		return;
	r = http_raw("POST", mcp_http_server_port(hs), "127.0.0.2", init_body,
		     none);
	CHECK(r.status == 401, "http: no bearer token: 401 (%ld)", r.status);
	r = http_raw("POST", mcp_http_server_port(hs), "127.0.0.2", init_body,
		     wrong);
	CHECK(r.status == 401, "http: wrong bearer token: 401 (%ld)", r.status);
	r = http_raw("POST", mcp_http_server_port(hs), "127.0.0.2", init_body,
		     right);
	CHECK(r.status == 200 && r.sid[0], "http: right token: 200 (%ld)",
	      r.status);
	mcp_http_server_stop(hs);
}

/* ---- the gateway's config keys, as the CLI loads them ---- */

static int config_try(const char *dir, const char *text, char *err,
		      size_t errlen)
{
	char path[4200];
	struct mcp_config mcp;
	struct gateway_config gc;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/cfg.json", dir);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	rc = gateway_config_load(path, &mcp, &gc, err, errlen);
	if (rc == 0) {
		gateway_config_free(&gc);
		mcp_config_free(&mcp);
	}
	return rc;
}

static void test_config_keys(void)
{
	char dir[] = "/tmp/lg-gw-cfg.XXXXXX", err[512];
	int rc;

	if (!mkdtemp(dir))
		return;
	rc = config_try(dir,
			"{\"mcp\":{\"gateway\":{\"page_size\":5},\"servers\":"
			"{\"v\":{\"command\":[\"/bin/sh\"],\"sandbox\":true,"
			"\"copy_in\":{\"/etc/hostname\":\"/x\"}}}}}",
			err, sizeof(err));
	CHECK(rc == 0, "config: \"gateway\" and \"copy_in\" accepted (%s)",
	      rc ? err : "ok");
	rc = config_try(dir, "{\"mcp\":{\"gateway\":{\"pagesize\":5}}}", err,
			sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "mcp.gateway.pagesize"),
	      "config: a typo inside \"gateway\" is still an error (%s)", err);
	rc = config_try(dir,
			"{\"mcp\":{\"servers\":{\"v\":{\"command\":[\"x\"],"
			"\"copy_in\":{\"/a\":\"/b\"}}}}}",
			err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "mcp.servers.v.copy_in"),
	      "config: copy_in without sandbox refused (%s)", err);
	rc = config_try(dir,
			"{\"mcp\":{\"servers\":{\"v\":{\"command\":[\"x\"],"
			"\"copy_ins\":{}}}}}",
			err, sizeof(err));
	CHECK(rc == -EINVAL && strstr(err, "copy_ins"),
	      "config: other unknown server keys still refused (%s)", err);
	lg_rm_rf(dir);
}

/* ---- stdio: an overlong line ---- */

struct serve_args {
	struct mcp_serve_factory f;
	int in, out;
};

static void *serve_thread(void *arg)
{
	struct serve_args *a = arg;

	mcp_serve_stdio(&a->f, a->in, a->out, -1);
	close(a->out);
	return NULL;
}

static void *write_big(void *arg)
{
	int fd = *(int *)arg;
	size_t n = (4u << 20) + 4096;
	char *big = malloc(n);
	static const char init[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
		"\"params\":{\"protocolVersion\":\"2025-11-25\"}}\n";
	static const char ping[] =
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n";

	if (lg_write_all(fd, init, sizeof(init) - 1) < 0 || !big)
		goto out;
	memset(big, 'x', n);
	big[0] = '"';
	big[n - 1] = '\n';
	if (lg_write_all(fd, big, n) < 0)
		goto out;
	lg_write_all(fd, ping, sizeof(ping) - 1);
out:
	free(big);
	close(fd);
	return NULL;
}

static void test_stdio_long_line(void)
{
	struct mcp_server_info info = {.name = "t", .version = "1"};
	struct mcp_server_handlers h = {.list = five_items,
					.request = slow_request};
	struct serve_args a = {.f = {.info = &info, .h = &h}};
	int pin[2], pout[2], wfd;
	pthread_t ts, tw;
	char buf[65536];
	size_t len = 0;
	ssize_t n;

	if (pipe(pin) || pipe(pout))
		return;
	a.in = pin[0];
	a.out = pout[1];
	wfd = pin[1];
	pthread_create(&ts, NULL, serve_thread, &a);
	pthread_create(&tw, NULL, write_big, &wfd);
	while (len < sizeof(buf) - 1 &&
	       (n = read(pout[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	pthread_join(tw, NULL);
	pthread_join(ts, NULL);
	close(pin[0]);
	close(pout[0]);
	CHECK(strstr(buf, "-32600") && strstr(buf, "\"id\":2,\"result\""),
	      "stdio: a line over 4 MiB gets -32600, the next ping is "
	      "answered");
}

/* ---- the HTTP GET stream, on a session core ---- */

static struct mcp_session *get_sess;

static void get_attached(void *opaque, struct mcp_session *s)
{
	(void)opaque;
	get_sess = s;
}

static void get_detached(void *opaque, struct mcp_session *s)
{
	(void)opaque;
	if (get_sess == s)
		get_sess = NULL;
}

struct sse_get {
	unsigned port;
	const char *sid, *last, *accept;
	int stop_after; /* data events; 0: never */
	long timeout_ms;
	char body[1 << 16];
	size_t len;
	int events;
	CURLcode rc;
	long status;
	uint64_t took_ns;
};

static size_t sse_body(char *p, size_t sz, size_t n, void *opaque)
{
	struct sse_get *g = opaque;
	size_t k = sz * n, room = sizeof(g->body) - 1 - g->len;

	memcpy(g->body + g->len, p, k < room ? k : room);
	g->len += k < room ? k : room;
	g->body[g->len] = '\0';
	g->events = 0;
	for (const char *q = g->body; (q = strstr(q, "\ndata: ")); q++)
		g->events++;
	if (!strncmp(g->body, "data: ", 6))
		g->events++;
	return g->stop_after && g->events >= g->stop_after ? 0 : k;
}

static void *sse_get_run(void *arg)
{
	struct sse_get *g = arg;
	struct curl_slist *hl = NULL;
	char url[128], h1[200], h2[200], h3[200];
	CURL *c = curl_easy_init();
	uint64_t t0 = lg_now_ns();

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", g->port);
	snprintf(h1, sizeof(h1), "Accept: %s",
		 g->accept ? g->accept : "text/event-stream");
	snprintf(h2, sizeof(h2), "Mcp-Session-Id: %s", g->sid);
	hl = curl_slist_append(hl, h1);
	hl = curl_slist_append(hl, h2);
	if (g->last) {
		snprintf(h3, sizeof(h3), "Last-Event-ID: %s", g->last);
		hl = curl_slist_append(hl, h3);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, g->timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	g->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g->status);
	g->took_ns = lg_now_ns() - t0;
	curl_slist_free_all(hl);
	curl_easy_cleanup(c);
	return NULL;
}

static void inject(int n, int from)
{
	for (int i = 0; i < n; i++)
		mcp_session_notify(get_sess, "notifications/message",
				   json_pack("{s:s, s:i}", "level", "info",
					     "data", from + i),
				   NULL);
}

static void test_get_stream(void)
{
	struct mcp_server_info info = {.name = "t", .version = "1"};
	struct mcp_server_handlers h = {.list = five_items,
					.request = slow_request};
	struct mcp_serve_factory f = {.info = &info,
				      .h = &h,
				      .attached = get_attached,
				      .detached = get_detached};
	struct mcp_http_serve_opts o = {.addr = "127.0.0.1:0",
					.keepalive_ms = 200};
	struct mcp_http_server *hs;
	static struct sse_get g, g2;
	char err[512], sidh[200], sid[128];
	const char *hdr[2] = {sidh, NULL};
	pthread_t t;
	struct resp r;
	unsigned port;

	if (mcp_http_server_start(&o, &f, &hs, err, sizeof(err)) < 0) {
		CHECK(0, "get: server (%s)", err);
		return;
	}
	port = mcp_http_server_port(hs);
	r = http_raw("POST", port, "127.0.0.1", init_body, NULL);
	snprintf(sid, sizeof(sid), "%s", r.sid);
	snprintf(sidh, sizeof(sidh), "Mcp-Session-Id: %s", sid);
	CHECK(r.status == 200 && get_sess, "get: a session");
	if (!get_sess)
		goto out;
	inject(3, 1);
	g = (struct sse_get){
		.port = port, .sid = sid, .stop_after = 3, .timeout_ms = 5000};
	sse_get_run(&g);
	CHECK(g.status == 200 && g.events == 3 &&
		      strstr(g.body, "retry: 2000") &&
		      strstr(g.body, "id: g-1\n") &&
		      strstr(g.body, "id: g-3\n") &&
		      strstr(g.body, "id: g-1\n") < strstr(g.body, "id: g-3\n"),
	      "get: messages of no request arrive on GET, ids g-1..g-3, "
	      "retry field (%ld, %d events)",
	      g.status, g.events);
	inject(2, 4);
	g = (struct sse_get){.port = port,
			     .sid = sid,
			     .last = "g-1",
			     .stop_after = 4,
			     .timeout_ms = 5000};
	sse_get_run(&g);
	CHECK(g.events == 4 && strstr(g.body, "id: g-2\n") &&
		      strstr(g.body, "id: g-5\n") &&
		      !strstr(g.body, "id: g-1\n"),
	      "get: Last-Event-ID g-1 replays g-2..g-5 (%d events)", g.events);
	g = (struct sse_get){.port = port,
			     .sid = sid,
			     .last = "g-5",
			     .stop_after = 1,
			     .timeout_ms = 700};
	sse_get_run(&g);
	CHECK(g.rc == CURLE_OPERATION_TIMEDOUT && g.events == 0 &&
		      strstr(g.body, ": keep-alive\n\n"),
	      "get: an idle stream gets keep-alive comments");
	g = (struct sse_get){.port = port,
			     .sid = sid,
			     .accept = "application/json",
			     .timeout_ms = 2000};
	sse_get_run(&g);
	CHECK(g.status == 406,
	      "get: without Accept text/event-stream: 406 "
	      "(%ld)",
	      g.status);
	g = (struct sse_get){
		.port = port, .sid = "0123abcd", .timeout_ms = 2000};
	sse_get_run(&g);
	CHECK(g.status == 404, "get: unknown session: 404 (%ld)", g.status);
	/* A second GET replaces the first, which ends. */
	g = (struct sse_get){
		.port = port, .sid = sid, .last = "g-5", .timeout_ms = 10000};
	pthread_create(&t, NULL, sse_get_run, &g);
	usleep(300000);
	g2 = (struct sse_get){.port = port,
			      .sid = sid,
			      .last = "g-5",
			      .stop_after = 1,
			      .timeout_ms = 5000};
	inject(1, 6);
	sse_get_run(&g2);
	pthread_join(t, NULL);
	CHECK(g.rc == CURLE_OK && g.took_ns < 3000000000ull && g2.events == 1 &&
		      strstr(g2.body, "id: g-6\n"),
	      "get: a new GET replaces the old stream, which ends (%.1f s) "
	      "and the new one gets g-6",
	      (double)g.took_ns / 1e9);
	/* Bounded: 300 more events keep only the newest 256. */
	inject(300, 7);
	g = (struct sse_get){.port = port,
			     .sid = sid,
			     .last = "g-6",
			     .stop_after = 300,
			     .timeout_ms = 1500};
	sse_get_run(&g);
	CHECK(g.events == (int)MCP_SERVE_GET_EVENTS &&
		      strstr(g.body, "id: g-51\n") &&
		      !strstr(g.body, "id: g-50\n") &&
		      strstr(g.body, "id: g-306\n"),
	      "get: a session keeps the newest %u events (%d replayed)",
	      MCP_SERVE_GET_EVENTS, g.events);
	/* DELETE ends the open stream. */
	g = (struct sse_get){.port = port, .sid = sid, .timeout_ms = 10000};
	pthread_create(&t, NULL, sse_get_run, &g);
	usleep(300000);
	r = http_raw("DELETE", port, "127.0.0.1", NULL, hdr);
	pthread_join(t, NULL);
	CHECK(r.status == 200 && g.rc == CURLE_OK && g.took_ns < 3000000000ull,
	      "get: DELETE ends the session's stream (%.1f s)",
	      (double)g.took_ns / 1e9);
	/* The server's stop ends a stream too. */
	r = http_raw("POST", port, "127.0.0.1", init_body, NULL);
	g = (struct sse_get){.port = port, .sid = r.sid, .timeout_ms = 10000};
	snprintf(sid, sizeof(sid), "%s", r.sid);
	g.sid = sid;
	pthread_create(&t, NULL, sse_get_run, &g);
	usleep(300000);
out:
	mcp_http_server_stop(hs);
	if (get_sess == NULL && g.sid == sid) {
		pthread_join(t, NULL);
		/* Ended, not timed out (the daemon's stop may cut the
		 * last chunk: curl 18 is fine). */
		CHECK(g.rc != CURLE_OPERATION_TIMEDOUT &&
			      g.took_ns < 3000000000ull,
		      "get: stopping the server ends its streams (%.1f s, "
		      "curl %d)",
		      (double)g.took_ns / 1e9, (int)g.rc);
	}
}

static void test_http_gateway(void)
{
	char err[512], url[128], evh_url[128], shsrc[4200], memfile[4200];
	/* server-everything streamableHttp on a free loopback port. */
	struct npm_server evh = {0};
	int evh_rc = npm_everything_start(&evh, bin_dir, "streamableHttp");
	json_t *section;
	struct mcp_config mcp = {0};
	struct gateway_config gc;
	bool gc_ok = false;
	struct gateway *g = NULL;
	struct mcp_http_serve_opts o = {.addr = "127.0.0.1:0"};
	struct mcp_http_server *hs = NULL;
	const char *urls[1] = {url};
	struct mcp_http_opts ho = {.urls = urls, .n_urls = 1};
	/* Elicitation declared, sampling not; GET stream notifications
	 * counted. */
	struct mcp_client_opts co = {.timeout_ms = 60000,
				     .elicit_declared = true,
				     .elicit = MCP_ELICIT_ACCEPT_DEFAULTS,
				     .notification = count_list_changed};
	struct mcp_transport *t;
	struct mcp_client *c;
	struct mcp_error e = {0};
	json_t *l;
	int rc;

	snprintf(evh_url, sizeof(evh_url), "http://127.0.0.1:%u/mcp", evh.port);
	snprintf(shsrc, sizeof(shsrc), "%s/tests/mcp/sh-mcp-server.sh",
		 LG_SOURCE_DIR);
	snprintf(memfile, sizeof(memfile), "%s/memory.jsonl", work);
	section = json_pack(
		"{s:{s:{s:[s+,s]}, s:{s:s}, s:{s:[s,s]}, s:{s:[s+], s:{s:s}}}}",
		"servers", "everything", "command", bin_dir,
		"/mcp-server-everything", "stdio", "evh", "url", evh_url, "shy",
		"command", "/bin/sh", shsrc, "mem", "command", bin_dir,
		"/mcp-server-memory", "env", "MEMORY_FILE_PATH", memfile);
	CHECK(evh_rc == 0,
	      "http upstream: server-everything streamableHttp on "
	      "port %u",
	      evh.port);
	rc = mcp_config_parse(section, &mcp, err, sizeof(err));
	if (!rc)
		rc = gateway_config_parse(section, &mcp, &gc, err, sizeof(err));
	json_decref(section);
	gc_ok = rc == 0;
	if (!rc)
		rc = gateway_create(&mcp, &gc, &g, err, sizeof(err));
	if (!rc)
		rc = mcp_http_server_start(&o, gateway_factory(g), &hs, err,
					   sizeof(err));
	CHECK(rc == 0, "http: gateway listening (%s)", rc ? err : "ok");
	if (rc)
		goto out;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp",
		 mcp_http_server_port(hs));
	rc = mcp_http_transport_create(&ho, &t, err, sizeof(err));
	if (!rc)
		rc = mcp_client_create(t, &co, &c, err, sizeof(err));
	if (!rc) {
		rc = mcp_client_initialize(c, &e);
		CHECK(rc == 0, "http: our client initializes (%s)",
		      rc ? e.message : mcp_client_protocol_version(c));
		mcp_error_clear(&e);
		if (!rc) {
			l = tools(c);
			CHECK(list_has(l, "everything__echo") &&
				      list_has(l, "sandbox_exec"),
			      "http: aggregated tools/list (%zu)",
			      json_array_size(l));
			json_decref(l);
			check_content_types(c, "http");
			check_progress_cancel(c, "http");
			check_peer_requests(c, "http", false);
			check_denial(g, c);
			check_http_upstream(c);
			check_list_changed_get(c);
		}
		mcp_client_destroy(c);
	} else {
		CHECK(0, "http: client: %s", err);
	}
	check_raw_http(mcp_http_server_port(hs));
	check_token(gateway_factory(g));
out:
	mcp_http_server_stop(hs);
	gateway_destroy(g);
	npm_server_stop(&evh);
	if (gc_ok)
		gateway_config_free(&gc);
	mcp_config_free(&mcp);
}

/* Nothing of ours may outlive the tests: no child, no VM directory. */
static void check_nothing_left(void)
{
	char run[4200], path[300], buf[512];
	int children = 0, entries = 0;
	struct dirent *d;
	DIR *dir;

	usleep(300000);
	dir = opendir("/proc");
	while (dir && (d = readdir(dir))) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			char *p = strrchr(buf, ')');
			int ppid = 0;

			if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 &&
			    ppid == getpid())
				children++;
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
	snprintf(run, sizeof(run), "%s/run", work);
	dir = opendir(run);
	while (dir && (d = readdir(dir)))
		if (d->d_name[0] != '.')
			entries++;
	if (dir)
		closedir(dir);
	CHECK(children == 0 && entries == 0,
	      "nothing left behind (%d child processes, %d VM dirs)", children,
	      entries);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/lg-gw-test.XXXXXX", run[4200];

	if (argc > 1 && strcmp(argv[1], "--serve") == 0)
		return cmd_mcp_serve(argc - 1, argv + 1);
	signal(SIGPIPE, SIG_IGN);
	if (readlink("/proc/self/exe", self_path, sizeof(self_path) - 1) < 0)
		return 1;
	if (!getenv("LUMINAGUARD_LOG"))
		lg_log_set_level(LG_LOG_WARN);
	test_session_core();
	test_config_keys();
	test_stdio_long_line();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_get_stream();
	servers_find();
	if (!mkdtemp(tmpl))
		return 1;
	snprintf(work, sizeof(work), "%s", tmpl);
	snprintf(run, sizeof(run), "%s/run", work);
	lg_mkdir_p(run, 0700);
	setenv("LUMINAGUARD_RUNTIME_DIR", run, 1);
	vm_find();
	test_stdio_gateway();
	test_stdio_roots();
	test_http_gateway();
	check_nothing_left();
	curl_global_cleanup();
	lg_rm_rf(work);
	printf("1..%d\n", checks);
	return failures ? 1 : 0;
}
