/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Firecracker API client (hv/fc-client.h) at the transport level.
 *
 * The server here is a minimal libmicrohttpd server written for this
 * test, NOT a Firecracker implementation: it only answers with chosen
 * statuses and bodies (204, 200 JSON, 400 fault_message, a non-JSON 500,
 * an empty 400, oversized bodies with and without Content-Length), echoes
 * what it received, and can die in the middle of a request. Raw sockets
 * stand in for a server that never answers and one that answers garbage.
 * It checks the client's timeouts, error texts and limits, not API
 * semantics.
 *
 * With LG_LGVMM (the real lgvmm binary; meson sets it once lgvmm is
 * built) the client also talks to lgvmm's API: GET / before boot, 400
 * fault_messages for bad input and wrong state, GET /vm/config, and the
 * VMM going away. The whole backend path is in test-hv-fc.c.
 *
 * The server runs in a child process so that it can die; the test binary
 * also re-executes itself as a slowly starting or failing "VMM" for
 * lg_fc_client_wait_ready.
 */
#include "check.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "hv/fc-client.h"
#include "hv/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BIG_BODY (LG_FC_RESPONSE_MAX + 4096u)
#define LARGE_REQUEST 40000u

static char dir[256];

static void path_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* A bound, listening (backlog 8) Unix socket at path, or -1. */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 8) < 0) {
		perror(path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* --- the microhttpd server (child process) -------------------------- */

struct upload {
	char *data;
	size_t len;
};

/* What the last PUT/PATCH brought: GET /last returns it. */
static json_t *last_request;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status,
			     const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (len)
		MHD_add_response_header(r, "Content-Type", "application/json");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A chunked body (no Content-Length) of BIG_BODY bytes. */
static ssize_t big_chunk(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= BIG_BODY)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > BIG_BODY - pos)
		max = (size_t)(BIG_BODY - pos);
	memset(buf, 'x', max);
	return (ssize_t)max;
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url,
			     const char *method, struct upload *up)
{
	static const char fault[] = "{\"fault_message\": \"bad kernel\\u0001"
				    "path\"}";
	static const char html[] = "<html>oops\n</html>";
	struct MHD_Response *r;
	const char *v;
	char *dump;
	enum MHD_Result ret;

	if (!strcmp(url, "/die"))
		_exit(0); /* mid-request, no answer */
	if (!strcmp(url, "/fault"))
		return reply(c, 400, fault, strlen(fault));
	if (!strcmp(url, "/html"))
		return reply(c, 500, html, strlen(html));
	if (!strcmp(url, "/empty"))
		return reply(c, 400, "", 0);
	if (!strcmp(url, "/big")) {
		char *b = malloc(BIG_BODY);

		if (!b)
			return MHD_NO;
		memset(b, 'x', BIG_BODY);
		r = MHD_create_response_from_buffer(BIG_BODY, b,
						    MHD_RESPMEM_MUST_FREE);
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(url, "/big-chunked")) {
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
						      big_chunk, NULL, NULL);
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(url, "/") && !strcmp(method, "GET"))
		return reply(c, 200, "{\"state\": \"Running\"}", 20);
	if (!strcmp(url, "/last")) {
		dump = json_dumps(last_request, JSON_COMPACT);
		ret = reply(c, 200, dump ? dump : "{}",
			    dump ? strlen(dump) : 2);
		free(dump);
		return ret;
	}
	json_decref(last_request);
	v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
	last_request = json_pack("{s:s, s:s, s:s%, s:s, s:b}", "method", method,
				 "path", url, "body", up->data ? up->data : "",
				 up->len, "content_type", v ? v : "", "expect",
				 MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     "Expect") != NULL);
	return reply(c, 204, "", 0);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *data,
			      size_t *data_size, void **con_cls)
{
	struct upload *up = *con_cls;
	char *nd;

	(void)cls;
	(void)version;
	if (!up) {
		*con_cls = calloc(1, sizeof(*up));
		return *con_cls ? MHD_YES : MHD_NO;
	}
	if (*data_size) {
		nd = realloc(up->data, up->len + *data_size + 1);
		if (!nd)
			return MHD_NO;
		memcpy(nd + up->len, data, *data_size);
		up->data = nd;
		up->len += *data_size;
		up->data[up->len] = '\0';
		*data_size = 0;
		return MHD_YES;
	}
	return route(c, url, method, up);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct upload *up = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (up)
		free(up->data);
	free(up);
	*con_cls = NULL;
}

/* Forks the server on a socket at path; its pid, or -1. */
static pid_t server_start(const char *path)
{
	struct MHD_Daemon *d;
	sigset_t none;
	int fd = listen_at(path);
	pid_t pid;

	if (fd < 0)
		return -1;
	pid = fork();
	if (pid != 0) {
		close(fd);
		return pid;
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
		0, NULL, NULL, handle, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "MHD_start_daemon failed\n");
		_exit(1);
	}
	for (;;)
		pause();
}

static void server_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* --- raw sockets: silent and garbage servers ------------------------ */

struct garbage_server {
	int fd;
	const char *text;
};

static void *garbage_thread(void *arg)
{
	struct garbage_server *g = arg;
	char buf[4096];
	int c = accept(g->fd, NULL, NULL);

	if (c >= 0) {
		if (read(c, buf, sizeof(buf)) > 0 &&
		    write(c, g->text, strlen(g->text)) < 0)
			perror("garbage write");
		shutdown(c, SHUT_WR);
		/* Until the client closes its end. */
		while (read(c, buf, sizeof(buf)) > 0)
			;
		close(c);
	}
	return NULL;
}

/* --- tests ---------------------------------------------------------- */

static void test_answers(struct lg_fc_client *c)
{
	char err[1024], *resp = NULL, body[LARGE_REQUEST + 64];
	json_t *j;
	long status = -1;
	int ret;

	ret = lg_fc_client_put(c, "/ok", "{\"vcpu_count\":2}", &status, &resp,
			       err, sizeof(err));
	check(ret == 0 && status == 204 && resp && !resp[0],
	      "PUT answered 204: ret %d status %ld", ret, status);
	free(resp);
	resp = NULL;
	ret = lg_fc_client_get(c, "/last", &status, &resp, err, sizeof(err));
	j = ret == 0 ? json_loads(resp, 0, NULL) : NULL;
	check(j && !strcmp(json_string_value(json_object_get(j, "method")),
			   "PUT"),
	      "server saw PUT (%s)", resp ? resp : err);
	check(j && !strcmp(json_string_value(json_object_get(j, "body")),
			   "{\"vcpu_count\":2}"),
	      "server saw the body as sent");
	check(j && !strcmp(json_string_value(
				   json_object_get(j, "content_type")),
			   "application/json"),
	      "Content-Type: application/json");
	json_decref(j);
	free(resp);
	resp = NULL;

	ret = lg_fc_client_patch(c, "/vm", "{\"state\":\"Paused\"}", &status,
				 NULL, err, sizeof(err));
	check(ret == 0 && status == 204, "PATCH answered 204: %d", ret);
	ret = lg_fc_client_get(c, "/last", &status, &resp, err, sizeof(err));
	check(ret == 0 && strstr(resp, "\"method\":\"PATCH\"") &&
		      strstr(resp, "\"path\":\"/vm\""),
	      "server saw PATCH /vm (%s)", resp ? resp : err);
	free(resp);
	resp = NULL;

	/* 40 KB: no "Expect: 100-continue" round trip, body intact. */
	memset(body, 0, sizeof(body));
	body[0] = '"';
	memset(body + 1, 'a', LARGE_REQUEST - 2);
	body[LARGE_REQUEST - 1] = '"';
	ret = lg_fc_client_put(c, "/large", body, &status, NULL, err,
			       sizeof(err));
	check(ret == 0 && status == 204, "large PUT answered 204: %d %s", ret,
	      ret ? err : "");
	ret = lg_fc_client_get(c, "/last", &status, &resp, err, sizeof(err));
	j = ret == 0 ? json_loads(resp, 0, NULL) : NULL;
	check(j &&
		      strlen(json_string_value(json_object_get(j, "body"))) ==
			      LARGE_REQUEST &&
		      json_is_false(json_object_get(j, "expect")),
	      "large body arrived whole, without an Expect header");
	json_decref(j);
	free(resp);
	resp = NULL;

	ret = lg_fc_client_get(c, "/", &status, &resp, err, sizeof(err));
	check(ret == 0 && status == 200 && resp &&
		      !strcmp(resp, "{\"state\": \"Running\"}"),
	      "GET answered 200 with the JSON body");
	free(resp);
}

static void test_faults(struct lg_fc_client *c)
{
	char err[1024], *resp = NULL;
	long status = -1;
	int ret;

	ret = lg_fc_client_put(c, "/fault", "{}", &status, &resp, err,
			       sizeof(err));
	check(ret == -EREMOTEIO && status == 400, "400: ret %d status %ld", ret,
	      status);
	check(!strcmp(err, "lgvmm: PUT /fault: 400 bad kernel?path"),
	      "fault_message in the error, control byte cleaned: '%s'", err);
	check(resp && strstr(resp, "fault_message"),
	      "the error body is returned too");
	free(resp);
	resp = NULL;

	ret = lg_fc_client_put(c, "/html", "{}", &status, NULL, err,
			       sizeof(err));
	check(ret == -EREMOTEIO && status == 500 &&
		      !strcmp(err, "lgvmm: PUT /html: 500 <html>oops?</html>"),
	      "non-JSON error body quoted, cleaned: '%s'", err);
	ret = lg_fc_client_put(c, "/empty", NULL, &status, NULL, err,
			       sizeof(err));
	check(ret == -EREMOTEIO &&
		      !strcmp(err, "lgvmm: PUT /empty: 400 (empty body)"),
	      "empty error body: '%s'", err);

	ret = lg_fc_client_get(c, "/big", &status, &resp, err, sizeof(err));
	check(ret == -EMSGSIZE && !resp, "oversized body refused: %d '%s'", ret,
	      err);
	ret = lg_fc_client_get(c, "/big-chunked", &status, &resp, err,
			       sizeof(err));
	check(ret == -EMSGSIZE && !resp,
	      "oversized chunked body refused: %d '%s'", ret, err);
	ret = lg_fc_client_get(c, "/", &status, NULL, err, sizeof(err));
	check(ret == 0, "client still works after refusing a body");

	ret = lg_fc_client_put(c, "/a b", "{}", &status, NULL, err,
			       sizeof(err));
	check(ret == -EINVAL, "a path with a space is refused: %d", ret);
}

/*
 * A fresh connection that the server drops mid-request reads as "closed
 * without an answer"; a kept-alive connection to a server that is gone
 * is retried once by curl, which then finds nobody listening.
 */
static void test_server_dies(const char *sock)
{
	struct lg_fc_client *kept = NULL, *fresh = NULL;
	char err[1024];
	uint64_t t0;
	long status;
	pid_t pid = server_start(sock);
	int ret;

	if (!check(pid > 0, "second server started") ||
	    lg_fc_client_wait_ready("srv", sock, NULL,
				    lg_now_ns() + 5000000000ull, err,
				    sizeof(err)) < 0 ||
	    lg_fc_client_open("lgvmm", sock, 5000, &kept) < 0 ||
	    lg_fc_client_open("lgvmm", sock, 5000, &fresh) < 0) {
		lg_fc_client_close(kept);
		server_stop(pid);
		return;
	}
	ret = lg_fc_client_get(kept, "/", &status, NULL, err, sizeof(err));
	check(ret == 0, "server answers before it dies");
	t0 = lg_now_ns();
	ret = lg_fc_client_put(fresh, "/die", "{}", &status, NULL, err,
			       sizeof(err));
	check(ret == -ECONNRESET && status == 0 &&
		      !strcmp(err, "lgvmm: PUT /die: connection closed "
				   "without an answer"),
	      "server dying mid-request: %d '%s'", ret, err);
	check(lg_now_ns() - t0 < 2000000000ull,
	      "noticed at once, not after the 5 s timeout");
	waitpid(pid, NULL, 0);
	ret = lg_fc_client_get(kept, "/", &status, NULL, err, sizeof(err));
	check(ret == -ECONNREFUSED && strstr(err, "Connection refused"),
	      "kept-alive connection after the server is gone: %d '%s'", ret,
	      err);
	lg_fc_client_close(kept);
	lg_fc_client_close(fresh);
}

static void test_transport(void)
{
	struct garbage_server g = {.text = "HELLO\r\n\r\n"};
	struct lg_fc_client *c;
	char sock[300], err[1024];
	pthread_t th;
	uint64_t t0, ms;
	long status;
	int fd, ret;

	path_in_dir(sock, sizeof(sock), "missing.sock");
	if (lg_fc_client_open("lgvmm", sock, 1000, &c) < 0)
		return;
	ret = lg_fc_client_get(c, "/", &status, NULL, err, sizeof(err));
	check(ret == -ENOENT && strstr(err, "lgvmm: GET /: cannot connect"),
	      "no socket: %d '%s'", ret, err);
	lg_fc_client_close(c);

	/* The file of a socket nobody listens on any more. */
	path_in_dir(sock, sizeof(sock), "refused.sock");
	fd = listen_at(sock);
	close(fd);
	if (lg_fc_client_open("lgvmm", sock, 1000, &c) < 0)
		return;
	ret = lg_fc_client_get(c, "/", &status, NULL, err, sizeof(err));
	check(ret == -ECONNREFUSED, "nobody listening: %d '%s'", ret, err);
	lg_fc_client_close(c);

	/* Listening, never accepting: the kernel connects, no one answers. */
	path_in_dir(sock, sizeof(sock), "silent.sock");
	fd = listen_at(sock);
	if (fd < 0 || lg_fc_client_open("lgvmm", sock, 300, &c) < 0)
		return;
	t0 = lg_now_ns();
	ret = lg_fc_client_put(c, "/boot-source", "{}", &status, NULL, err,
			       sizeof(err));
	ms = (lg_now_ns() - t0) / 1000000;
	check(ret == -ETIMEDOUT &&
		      !strcmp(err, "lgvmm: PUT /boot-source: no answer within "
				   "300 ms"),
	      "silent server times out: %d '%s'", ret, err);
	check(ms >= 250 && ms < 2000, "after about 300 ms: %llu ms",
	      (unsigned long long)ms);
	lg_fc_client_close(c);
	close(fd);

	path_in_dir(sock, sizeof(sock), "garbage.sock");
	g.fd = listen_at(sock);
	if (g.fd < 0 || lg_fc_client_open("lgvmm", sock, 2000, &c) < 0)
		return;
	pthread_create(&th, NULL, garbage_thread, &g);
	ret = lg_fc_client_get(c, "/", &status, NULL, err, sizeof(err));
	check(ret == -EPROTO, "garbage answer is not HTTP: %d '%s'", ret, err);
	lg_fc_client_close(c);
	pthread_join(th, NULL);
	close(g.fd);
}

/* --- wait_ready against processes ----------------------------------- */

static char self[4096];

/* Runs this binary as a helper: argv after it, NULL-terminated. */
static int spawn_self(struct lg_proc *p, const char *a1, const char *a2,
		      const char *a3)
{
	char *argv[] = {self, (char *)a1, (char *)a2, (char *)a3, NULL};
	struct lg_proc_opts o = {.log_fd = STDERR_FILENO};
	char err[256];
	int ret = lg_proc_spawn(self, argv, &o, p, err, sizeof(err));

	if (ret < 0)
		printf("# spawn: %s\n", err);
	return ret;
}

static void test_wait_ready(void)
{
	struct lg_proc p;
	char sock[300], err[1024];
	uint64_t t0, ms;
	int ret, st;

	path_in_dir(sock, sizeof(sock), "late.sock");
	if (spawn_self(&p, "--listen-after", "150", sock) < 0)
		return;
	t0 = lg_now_ns();
	ret = lg_fc_client_wait_ready("lgvmm", sock, &p, t0 + 5000000000ull,
				      err, sizeof(err));
	ms = (lg_now_ns() - t0) / 1000000;
	check(ret == 0 && ms >= 140 && ms < 2000,
	      "socket that appears after 150 ms: ready after %llu ms (%d %s)",
	      (unsigned long long)ms, ret, ret ? err : "");
	lg_proc_kill(&p, &st);
	lg_proc_release(&p);

	if (spawn_self(&p, "--exit", "7", NULL) < 0)
		return;
	t0 = lg_now_ns();
	ret = lg_fc_client_wait_ready("lgvmm", sock, &p, t0 + 5000000000ull,
				      err, sizeof(err));
	ms = (lg_now_ns() - t0) / 1000000;
	check(ret == -ECHILD &&
		      !strcmp(err, "lgvmm exited with status 7 before its API "
				   "socket was ready"),
	      "process exiting: %d '%s'", ret, err);
	check(ms < 2000, "noticed at once: %llu ms", (unsigned long long)ms);
	check(lg_proc_reap(&p, 0, &st) == 1 && WEXITSTATUS(st) == 7,
	      "left unreaped for the caller");
	lg_proc_release(&p);

	if (spawn_self(&p, "--abort", NULL, NULL) < 0)
		return;
	ret = lg_fc_client_wait_ready("lgvmm", sock, &p,
				      lg_now_ns() + 5000000000ull, err,
				      sizeof(err));
	check(ret == -ECHILD && strstr(err, "killed by signal 6 (SIGABRT"),
	      "process killed by a signal: '%s'", err);
	lg_proc_reap(&p, 1000, &st);
	lg_proc_release(&p);

	path_in_dir(sock, sizeof(sock), "never.sock");
	if (spawn_self(&p, "--listen-after", "60000", sock) < 0)
		return;
	t0 = lg_now_ns();
	ret = lg_fc_client_wait_ready("lgvmm", sock, &p, t0 + 300000000ull, err,
				      sizeof(err));
	ms = (lg_now_ns() - t0) / 1000000;
	check(ret == -ETIMEDOUT &&
		      strstr(err, "lgvmm did not open its API socket"),
	      "deadline: %d '%s'", ret, err);
	check(ms >= 290 && ms < 1500, "at the deadline: %llu ms",
	      (unsigned long long)ms);
	lg_proc_kill(&p, &st);
	lg_proc_release(&p);
}

/* --- the real lgvmm's API -------------------------------------------- */

static bool fault_is(const char *err, const char *prefix)
{
	size_t n = strlen(prefix);

	/* A fault_message follows: non-empty, one line. */
	return !strncmp(err, prefix, n) && err[n] && !strchr(err, '\n');
}

static void lgvmm_requests(struct lg_fc_client *c)
{
	char err[1024], *resp = NULL;
	json_t *j;
	long status = 0;
	int ret;

	ret = lg_fc_client_get(c, "/", &status, &resp, err, sizeof(err));
	j = ret == 0 ? json_loads(resp, 0, NULL) : NULL;
	check(ret == 0 && status == 200 &&
		      !strcmp(json_string_value(json_object_get(j, "state"))
				      ?: "",
			      "Not started"),
	      "lgvmm GET /: %ld %s", status, ret ? err : resp);
	json_decref(j);
	free(resp);
	resp = NULL;

	ret = lg_fc_client_put(c, "/machine-config",
			       "{\"vcpu_count\": 0, \"mem_size_mib\": 64}",
			       &status, NULL, err, sizeof(err));
	check(ret == -EREMOTEIO && status == 400 &&
		      fault_is(err, "lgvmm: PUT /machine-config: 400 "),
	      "lgvmm rejects vcpu_count 0: '%s'", err);
	ret = lg_fc_client_put(c, "/machine-config", "{\"vcpu_count\": 1,",
			       &status, NULL, err, sizeof(err));
	check(ret == -EREMOTEIO && fault_is(err, "lgvmm: PUT /machine-config: "
						 "400 "),
	      "lgvmm rejects malformed JSON: '%s'", err);
	ret = lg_fc_client_put(c, "/boot-source",
			       "{\"kernel_image_path\": \"/nonexistent\"}",
			       &status, NULL, err, sizeof(err));
	check(ret == -EREMOTEIO && fault_is(err, "lgvmm: PUT /boot-source: "
						 "400 "),
	      "lgvmm rejects a missing kernel: '%s'", err);
	ret = lg_fc_client_patch(c, "/vm", "{\"state\": \"Paused\"}", &status,
				 NULL, err, sizeof(err));
	check(ret == -EREMOTEIO && fault_is(err, "lgvmm: PATCH /vm: 400 "),
	      "lgvmm refuses pause before boot: '%s'", err);
	ret = lg_fc_client_put(c, "/actions",
			       "{\"action_type\": \"InstanceStart\"}", &status,
			       NULL, err, sizeof(err));
	check(ret == -EREMOTEIO && fault_is(err, "lgvmm: PUT /actions: 400 "),
	      "lgvmm refuses InstanceStart without a kernel: '%s'", err);
	ret = lg_fc_client_put(c, "/machine-config",
			       "{\"vcpu_count\": 2, \"mem_size_mib\": 96}",
			       &status, NULL, err, sizeof(err));
	check(ret == 0 && status == 204, "lgvmm PUT /machine-config: %d %s",
	      ret, ret ? err : "");
	ret = lg_fc_client_get(c, "/vm/config", &status, &resp, err,
			       sizeof(err));
	j = ret == 0 ? json_loads(resp, 0, NULL) : NULL;
	check(ret == 0 && json_integer_value(json_object_get(
				  json_object_get(j, "machine-config"),
				  "mem_size_mib")) == 96,
	      "lgvmm GET /vm/config shows it: %s", ret ? err : resp);
	json_decref(j);
	free(resp);
}

static void test_lgvmm(void)
{
	const char *exe = getenv("LG_LGVMM");
	struct lg_fc_client *c = NULL;
	char sock[300], err[1024];
	char *argv[] = {(char *)exe, "--api-sock", sock,
			"--id",	     "fc-client",  NULL};
	struct lg_proc_opts o = {.log_fd = STDERR_FILENO};
	struct lg_proc p;
	uint64_t t0;
	long status;
	int ret, st;

	if (!exe || !*exe) {
		printf("skip - LG_LGVMM not set: lgvmm's API not checked\n");
		return;
	}
	path_in_dir(sock, sizeof(sock), "lgvmm.sock");
	t0 = lg_now_ns();
	if (lg_proc_spawn(exe, argv, &o, &p, err, sizeof(err)) < 0) {
		check(false, "spawn lgvmm: %s", err);
		return;
	}
	ret = lg_fc_client_wait_ready("lgvmm", sock, &p, t0 + 10000000000ull,
				      err, sizeof(err));
	if (check(ret == 0, "lgvmm API socket ready: %s", ret ? err : ""))
		printf("# lgvmm: exec to API socket ready: %.2f ms\n",
		       (double)(lg_now_ns() - t0) / 1e6);
	if (ret == 0 && lg_fc_client_open("lgvmm", sock, 5000, &c) == 0)
		lgvmm_requests(c);
	lg_proc_kill(&p, &st);
	lg_proc_release(&p);
	if (c) {
		ret = lg_fc_client_get(c, "/", &status, NULL, err, sizeof(err));
		check(ret == -ECONNREFUSED || ret == -ECONNRESET ||
			      ret == -ENOENT,
		      "lgvmm killed: the client says so: %d '%s'", ret, err);
	}
	lg_fc_client_close(c);
}

/* Helper modes of this binary. */
static int helper_main(int argc, char **argv)
{
	struct timespec ts;
	long ms;

	if (!strcmp(argv[1], "--exit") && argc == 3)
		return atoi(argv[2]);
	if (!strcmp(argv[1], "--abort"))
		abort();
	if (!strcmp(argv[1], "--listen-after") && argc == 4) {
		/* A VMM that takes this long to open its socket. */
		ms = atol(argv[2]);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000;
		nanosleep(&ts, NULL);
		if (listen_at(argv[3]) < 0)
			return 1;
		for (;;)
			pause();
	}
	return 2;
}

int main(int argc, char **argv)
{
	struct lg_fc_client *c = NULL;
	char sock[300], err[1024];
	pid_t server;

	if (argc > 1)
		return helper_main(argc, argv);
	if (readlink("/proc/self/exe", self, sizeof(self) - 1) < 0) {
		perror("readlink");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "%s/lg-fc-client.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	path_in_dir(sock, sizeof(sock), "api.sock");
	server = server_start(sock);
	if (check(server > 0, "server started") &&
	    check(lg_fc_client_wait_ready("srv", sock, NULL,
					  lg_now_ns() + 5000000000ull, err,
					  sizeof(err)) == 0,
		  "server socket ready") &&
	    check(lg_fc_client_open("lgvmm", sock, 5000, &c) == 0,
		  "client opened")) {
		test_answers(c);
		test_faults(c);
	}
	lg_fc_client_close(c);
	server_stop(server);
	path_in_dir(sock, sizeof(sock), "dies.sock");
	test_server_dies(sock);
	test_transport();
	test_wait_ready();
	test_lgvmm();

	if (lg_rm_rf(dir) < 0)
		printf("# could not remove %s\n", dir);
	printf("%s\n", failures ? "FAILED" : "PASSED");
	return failures ? 1 : 0;
}
