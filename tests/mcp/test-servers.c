/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The client and the stdio transport against the real npm reference
 * servers (server-everything, server-filesystem, server-memory) and a few
 * shell "servers" that misbehave on purpose. After every test no server
 * process is left.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "mcp/client.h"
#include "mcp/stdio.h"
#include "npm-servers.h"

static char bin_dir[4096];

struct session {
	struct mcp_client *c;
	pid_t pid;
	pthread_mutex_t lock;
	int n_logs, n_list_changed;
};

static void on_note(void *opaque, const char *method, json_t *params)
{
	struct session *s = opaque;

	(void)params;
	pthread_mutex_lock(&s->lock);
	if (strcmp(method, "notifications/message") == 0)
		s->n_logs++;
	else if (strstr(method, "list_changed"))
		s->n_list_changed++;
	pthread_mutex_unlock(&s->lock);
}

static char *bin(const char *name)
{
	static char path[4200];

	snprintf(path, sizeof(path), "%s/%s", bin_dir, name);
	return path;
}

static void session_open(struct session *s, char *const *argv, char *const *env,
			 struct mcp_client_opts *o, bool init)
{
	struct mcp_stdio_opts so = {
		.argv = argv, .env = env, .shutdown_wait_ms = 500};
	struct mcp_client_opts def = {0};
	struct mcp_transport *t;
	struct mcp_error e = {0};
	char err[256];

	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	if (!o)
		o = &def;
	o->notification = on_note;
	o->opaque = s;
	if (mcp_stdio_transport_create(&so, &t, err, sizeof(err)) < 0)
		fail_msg("stdio: %s", err);
	s->pid = mcp_stdio_transport_pid(t);
	if (mcp_client_create(t, o, &s->c, err, sizeof(err)) < 0)
		fail_msg("client: %s", err);
	if (init && mcp_client_initialize(s->c, &e) < 0)
		fail_msg("initialize: %s", e.message);
}

/* Processes of group pgid that are not zombies (init reaps those). */
static int group_alive(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int alive = 0;

	while (d && (de = readdir(d))) {
		char path[300], buf[512], *rp, state;
		int pgrp = 0;
		FILE *f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && (rp = strrchr(buf, ')')) &&
		    sscanf(rp + 1, " %c %*d %d", &state, &pgrp) == 2 &&
		    pgrp == pgid && state != 'Z')
			alive++;
		fclose(f);
	}
	if (d)
		closedir(d);
	return alive;
}

/* Destroys the session; nothing of its process group may be left. */
static void session_close(struct session *s)
{
	mcp_client_destroy(s->c);
	/* SIGKILLed members may take a moment to turn into zombies. */
	for (int i = 0; i < 100 && group_alive(s->pid); i++)
		usleep(10000);
	assert_int_equal(group_alive(s->pid), 0);
	pthread_mutex_destroy(&s->lock);
}

static json_t *call(struct session *s, const char *tool, json_t *args,
		    const struct mcp_call_opts *co, int *rc)
{
	json_t *res = NULL;
	struct mcp_error e = {0};

	*rc = mcp_client_request(s->c, "tools/call",
				 json_pack("{s:s,s:o}", "name", tool,
					   "arguments",
					   args ? args : json_object()),
				 co, &res, &e);
	if (*rc < 0)
		print_message("%s: %d %s\n", tool, *rc, e.message);
	mcp_error_clear(&e);
	return res;
}

static json_t *call_ok(struct session *s, const char *tool, json_t *args)
{
	int rc;
	json_t *res = call(s, tool, args, NULL, &rc);

	assert_int_equal(rc, 0);
	assert_false(json_is_true(json_object_get(res, "isError")));
	return res;
}

static const char *first_text(json_t *res)
{
	return json_string_value(json_object_get(
		json_array_get(json_object_get(res, "content"), 0), "text"));
}

static json_t *find_by(json_t *arr, const char *key, const char *value)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, key)) ?: "",
			   value) == 0)
			return v;
	}
	return NULL;
}

static void test_everything_lists(void **state)
{
	char *argv[] = {bin("mcp-server-everything"), "stdio", NULL};
	struct session s;
	struct mcp_error e = {0};
	json_t *items, *res = NULL;

	(void)state;
	session_open(&s, argv, NULL, NULL, true);
	assert_string_equal(mcp_client_protocol_version(s.c),
			    MCP_PROTOCOL_LATEST);
	assert_non_null(mcp_client_instructions(s.c));
	assert_int_equal(
		mcp_client_list_all(s.c, "tools/list", "tools", &items, &e), 0);
	assert_true(json_array_size(items) >= 10);
	assert_non_null(find_by(items, "name", "echo"));
	assert_non_null(find_by(items, "name", "get-tiny-image"));
	json_decref(items);
	/* This server sends one page (multi-page lists: test-mcp-client). */
	assert_int_equal(mcp_client_list_all(s.c, "resources/list", "resources",
					     &items, &e),
			 0);
	assert_non_null(
		find_by(items, "uri",
			"demo://resource/static/document/architecture.md"));
	json_decref(items);
	assert_int_equal(mcp_client_list_all(s.c, "resources/templates/list",
					     "resourceTemplates", &items, &e),
			 0);
	assert_true(json_array_size(items) >= 1);
	json_decref(items);
	assert_int_equal(
		mcp_client_list_all(s.c, "prompts/list", "prompts", &items, &e),
		0);
	assert_non_null(find_by(items, "name", "simple-prompt"));
	json_decref(items);
	/* resources/read and prompts/get. */
	assert_int_equal(
		mcp_client_request(s.c, "prompts/get",
				   json_pack("{s:s}", "name", "simple-prompt"),
				   NULL, &res, &e),
		0);
	assert_true(json_array_size(json_object_get(res, "messages")) >= 1);
	json_decref(res);
	assert_int_equal(mcp_client_request(s.c, "ping", NULL, NULL, &res, &e),
			 0);
	json_decref(res);
	session_close(&s);
}

static bool json_contains(json_t *v, const char *needle)
{
	char *s = json_dumps(v, 0);
	bool found = s && strstr(s, needle);

	free(s);
	return found;
}

static const char *block_type(json_t *res, size_t i)
{
	return json_string_value(json_object_get(
		json_array_get(json_object_get(res, "content"), i), "type"));
}

static bool has_block(json_t *res, const char *type)
{
	for (size_t i = 0; i < json_array_size(json_object_get(res, "content"));
	     i++)
		if (strcmp(block_type(res, i), type) == 0)
			return true;
	return false;
}

static void test_everything_content(void **state)
{
	char *argv[] = {bin("mcp-server-everything"), "stdio", NULL};
	struct session s;
	json_t *res;
	int rc;

	(void)state;
	session_open(&s, argv, NULL, NULL, true);
	res = call_ok(&s, "echo", json_pack("{s:s}", "message", "héllo"));
	assert_non_null(strstr(first_text(res), "héllo"));
	json_decref(res);
	res = call_ok(&s, "get-sum", json_pack("{s:i,s:i}", "a", 2, "b", 40));
	assert_non_null(strstr(first_text(res), "42"));
	json_decref(res);
	res = call_ok(&s, "get-tiny-image", NULL);
	assert_true(has_block(res, "image"));
	json_decref(res);
	res = call_ok(&s, "get-resource-links", json_pack("{s:i}", "count", 2));
	assert_true(has_block(res, "resource_link"));
	json_decref(res);
	res = call_ok(&s, "get-resource-reference", NULL);
	assert_true(has_block(res, "resource"));
	json_decref(res);
	res = call_ok(&s, "get-structured-content",
		      json_pack("{s:s}", "location", "Chicago"));
	assert_true(json_is_number(json_object_get(
		json_object_get(res, "structuredContent"), "temperature")));
	json_decref(res);
	res = call_ok(&s, "get-annotated-message",
		      json_pack("{s:s,s:b}", "messageType", "error",
				"includeImage", 1));
	assert_non_null(json_object_get(
		json_array_get(json_object_get(res, "content"), 0),
		"annotations"));
	json_decref(res);
	/* Bad arguments: a tool error (isError), not a protocol error. */
	res = call(&s, "get-sum", json_pack("{s:s}", "a", "x"), NULL, &rc);
	assert_int_equal(rc, 0);
	assert_true(json_is_true(json_object_get(res, "isError")));
	json_decref(res);
	session_close(&s);
}

struct prog {
	int n;
	double last;
	bool increasing;
};

static void on_progress(void *opaque, double progress, double total,
			const char *message)
{
	struct prog *p = opaque;

	(void)total;
	(void)message;
	if (p->n && progress <= p->last)
		p->increasing = false;
	p->n++;
	p->last = progress;
}

static void test_everything_progress_cancel(void **state)
{
	char *argv[] = {bin("mcp-server-everything"), "stdio", NULL};
	struct prog p = {.increasing = true};
	struct mcp_call_opts co = {
		.progress = on_progress, .opaque = &p, .cancel_fd = -1};
	struct mcp_call_opts quick = {.timeout_ms = 300, .cancel_fd = -1};
	struct mcp_error e = {0};
	struct timespec t0, t1;
	struct session s;
	json_t *res;
	int rc;

	(void)state;
	session_open(&s, argv, NULL, NULL, true);
	res = call(&s, "trigger-long-running-operation",
		   json_pack("{s:i,s:i}", "duration", 1, "steps", 4), &co, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(p.n, 4);
	assert_true(p.increasing);
	json_decref(res);
	/* Timeout: -ETIMEDOUT, notifications/cancelled goes out; the
	 * session stays usable at once. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	res = call(&s, "trigger-long-running-operation",
		   json_pack("{s:i,s:i}", "duration", 20, "steps", 2), &quick,
		   &rc);
	assert_int_equal(rc, -ETIMEDOUT);
	assert_null(res);
	assert_int_equal(mcp_client_request(s.c, "ping", NULL, NULL, &res, &e),
			 0);
	json_decref(res);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	/* Logging: setLevel, then simulated messages arrive at once. */
	assert_int_equal(
		mcp_client_request(s.c, "logging/setLevel",
				   json_pack("{s:s}", "level", "debug"), NULL,
				   &res, &e),
		0);
	json_decref(res);
	res = call_ok(&s, "toggle-simulated-logging", NULL);
	json_decref(res);
	for (int i = 0; i < 200; i++) {
		int n;

		pthread_mutex_lock(&s.lock);
		n = s.n_logs;
		pthread_mutex_unlock(&s.lock);
		if (n)
			break;
		usleep(10000);
	}
	assert_true(s.n_logs >= 1);
	session_close(&s);
}

static void test_everything_peer_requests(void **state)
{
	char *argv[] = {bin("mcp-server-everything"), "stdio", NULL};
	struct mcp_client_opts o = {
		.roots = json_pack("[{s:s,s:s}]", "uri", "file:///lg-root",
				   "name", "lg"),
		.sampling = true,
		.elicit_declared = true,
		.elicit = MCP_ELICIT_CANCEL,
	};
	struct session s;
	json_t *res;
	int rc;

	(void)state;
	session_open(&s, argv, NULL, &o, true);
	res = call_ok(&s, "get-roots-list", NULL);
	assert_true(json_contains(res, "file:///lg-root"));
	json_decref(res);
	/* Sampling is declined: the tool reports the error it got. */
	res = call(&s, "trigger-sampling-request",
		   json_pack("{s:s}", "prompt", "hi"), NULL, &rc);
	if (rc == 0) {
		assert_true(json_is_true(json_object_get(res, "isError")));
	} else {
		assert_int_equal(rc, -EREMOTEIO);
	}
	json_decref(res);
	res = call_ok(&s, "trigger-elicitation-request", NULL);
	assert_true(json_contains(res, "cancel"));
	json_decref(res);
	session_close(&s);
	json_decref(o.roots);
}

static void test_filesystem(void **state)
{
	char dir[] = "/tmp/lg-mcp-fs-XXXXXX", path[256];
	char *argv[] = {bin("mcp-server-filesystem"), dir, NULL};
	struct session s;
	json_t *res;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/hello.txt", dir);
	f = fopen(path, "w");
	fputs("hello from luminaguard\n", f);
	fclose(f);
	session_open(&s, argv, NULL, NULL, true);
	res = call_ok(&s, "list_directory", json_pack("{s:s}", "path", dir));
	assert_non_null(strstr(first_text(res), "hello.txt"));
	json_decref(res);
	res = call_ok(&s, "read_text_file", json_pack("{s:s}", "path", path));
	assert_non_null(strstr(first_text(res), "hello from luminaguard"));
	json_decref(res);
	session_close(&s);
	unlink(path);
	rmdir(dir);
}

static void test_memory(void **state)
{
	char file[] = "/tmp/lg-mcp-mem-XXXXXX", envv[300];
	char *argv[] = {bin("mcp-server-memory"), NULL};
	char *env[] = {envv, NULL};
	struct session s;
	json_t *res;
	int fd;

	(void)state;
	fd = mkstemp(file);
	close(fd);
	unlink(file);
	snprintf(envv, sizeof(envv), "MEMORY_FILE_PATH=%s.jsonl", file);
	session_open(&s, argv, env, NULL, true);
	res = call_ok(&s, "create_entities",
		      json_pack("{s:[{s:s,s:s,s:[s]}]}", "entities", "name",
				"lgtest", "entityType", "project",
				"observations", "runs in micro-VMs"));
	json_decref(res);
	res = call_ok(&s, "open_nodes",
		      json_pack("{s:[s]}", "names", "lgtest"));
	assert_true(json_contains(res, "runs in micro-VMs"));
	json_decref(res);
	session_close(&s);
	snprintf(envv, sizeof(envv), "%s.jsonl", file);
	assert_int_equal(access(envv, F_OK), 0); /* env reached the server */
	unlink(envv);
}

static void test_crash_signal(void **state)
{
	char *argv[] = {bin("mcp-server-everything"), "stdio", NULL};
	struct mcp_error e = {0};
	struct session s;
	json_t *res = NULL;

	(void)state;
	session_open(&s, argv, NULL, NULL, true);
	kill(s.pid, SIGKILL);
	for (int i = 0; i < 500 && !mcp_client_closed_reason(s.c); i++)
		usleep(10000);
	assert_non_null(mcp_client_closed_reason(s.c));
	assert_non_null(strstr(mcp_client_closed_reason(s.c), "signal 9"));
	assert_int_equal(mcp_client_request(s.c, "ping", NULL, NULL, &res, &e),
			 -EPIPE);
	assert_non_null(strstr(e.message, "signal 9"));
	session_close(&s);
}

static void test_crash_status(void **state)
{
	char *argv[] = {"sh", "-c", "read line; echo bye >&2; exit 3", NULL};
	struct mcp_error e = {0};
	struct session s;

	(void)state;
	session_open(&s, argv, NULL, NULL, false);
	assert_int_equal(mcp_client_initialize(s.c, &e), -EPIPE);
	assert_non_null(strstr(e.message, "exited with status 3"));
	session_close(&s);
}

/* A server that ignores EOF and SIGTERM is killed; its child too. */
static void test_stubborn_server(void **state)
{
	char *argv[] = {"sh", "-c",
			"trap '' TERM; sleep 60 & while :; do sleep 1; done",
			NULL};
	struct timespec t0, t1;
	struct session s;

	(void)state;
	session_open(&s, argv, NULL, NULL, false);
	usleep(100000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	session_close(&s); /* checks the whole group is gone */
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3); /* 2 waits of 500 ms */
}

struct captured {
	pthread_mutex_t lock;
	char text[8192];
};

static void sink(void *opaque, enum lg_log_level level, const char *file,
		 int line, const char *msg)
{
	struct captured *c = opaque;
	size_t n;

	(void)level;
	(void)file;
	(void)line;
	pthread_mutex_lock(&c->lock);
	n = strlen(c->text);
	snprintf(c->text + n, sizeof(c->text) - n, "%s\n", msg);
	pthread_mutex_unlock(&c->lock);
}

/* cwd, stderr to the log, an over-long line dropped, the next kept. */
static void test_shell_server(void **state)
{
	char *argv[] = {"sh", "-c",
			"echo 'note on stderr' >&2; read line; "
			"head -c 3000 /dev/zero | tr '\\0' x; echo; "
			"printf "
			"'{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"cwd\":\"%"
			"s\"}}\\n' "
			"\"$PWD\"; sleep 5",
			NULL};
	struct mcp_stdio_opts so = {.name = "shelly",
				    .argv = argv,
				    .cwd = "/tmp",
				    .max_line = 1000,
				    .shutdown_wait_ms = 300};
	static struct captured cap = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct mcp_transport *t;
	struct mcp_client *c;
	struct mcp_error e = {0};
	json_t *res = NULL;
	char err[256];

	(void)state;
	lg_log_set_level(LG_LOG_DEBUG);
	lg_log_set_sink(sink, &cap);
	assert_int_equal(mcp_stdio_transport_create(&so, &t, err, sizeof(err)),
			 0);
	assert_int_equal(mcp_client_create(t, NULL, &c, err, sizeof(err)), 0);
	assert_int_equal(mcp_client_request(c, "x", NULL, NULL, &res, &e), 0);
	assert_string_equal(json_string_value(json_object_get(res, "cwd")),
			    "/tmp");
	json_decref(res);
	mcp_client_destroy(c);
	lg_log_set_sink(NULL, NULL);
	lg_log_set_level(LG_LOG_WARN);
	assert_non_null(strstr(cap.text, "mcp shelly: note on stderr"));
	assert_non_null(strstr(cap.text, "longer than 1000"));
}

static void test_cannot_run(void **state)
{
	char *argv[] = {"/nonexistent/mcp-server", NULL};
	struct mcp_stdio_opts so = {.argv = argv};
	struct mcp_transport *t;
	char err[256];

	(void)state;
	assert_int_equal(mcp_stdio_transport_create(&so, &t, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "cannot run /nonexistent/mcp-server"));
	so.argv = (char *[]){"true", NULL};
	so.cwd = "/nonexistent-dir";
	assert_int_equal(mcp_stdio_transport_create(&so, &t, err, sizeof(err)),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everything_lists),
		cmocka_unit_test(test_everything_content),
		cmocka_unit_test(test_everything_progress_cancel),
		cmocka_unit_test(test_everything_peer_requests),
		cmocka_unit_test(test_filesystem),
		cmocka_unit_test(test_memory),
		cmocka_unit_test(test_crash_signal),
		cmocka_unit_test(test_crash_status),
		cmocka_unit_test(test_stubborn_server),
		cmocka_unit_test(test_shell_server),
		cmocka_unit_test(test_cannot_run),
	};

	npm_servers_find_or_skip(bin_dir, sizeof(bin_dir));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
