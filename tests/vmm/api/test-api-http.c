// SPDX-License-Identifier: Apache-2.0
/*
 * The API's HTTP server on a real Unix socket, driven by a minimal
 * hand-written client: keep-alive and pipelining, bodies split across
 * writes, the payload limit (declared and chunked), clients that vanish
 * mid-body, the socket file's life cycle, and no leaked descriptors.
 */
#include "rec-ops.h"

#include "vmm/api/api.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define IO_TIMEOUT_MS 5000

static char dir[64], sock_path[128], kernel[128];
static struct api *api;
static struct api_server *srv;
static struct rec rec;

struct conn {
	int fd;
	char buf[1 << 17];
	size_t len;
};

struct reply {
	int status;
	char headers[4096];
	char body[8192];
	size_t body_len;
};

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the DIR's own */
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int group_setup(void **state)
{
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/lg-api-http.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	fd = open(kernel, O_WRONLY | O_CREAT, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	rec_init(&rec);
	if (api_create(&rec_ops, &rec, "http-test", &api))
		return -1;
	return api_server_start(api, sock_path, 0, &srv);
}

static int teardown(void **state)
{
	(void)state;
	api_server_stop(srv);
	srv = NULL;
	api_destroy(api);
	api = NULL;
	rec_free(&rec);
	return 0;
}

static void conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	c->len = 0;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void send_all(struct conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		assert_true(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

static void send_str(struct conn *c, const char *s)
{
	send_all(c, s, strlen(s));
}

/* More bytes into c->buf; 0 on EOF, -1 on timeout or error. */
static ssize_t conn_fill(struct conn *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	ssize_t n;

	if (c->len == sizeof(c->buf))
		return -1;
	if (poll(&p, 1, IO_TIMEOUT_MS) != 1)
		return -1;
	n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0)
		return errno == ECONNRESET ? 0 : -1;
	c->len += (size_t)n;
	return n;
}

static const char *header_value(const char *headers, const char *name)
{
	const char *p = headers;
	size_t n = strlen(name);

	while ((p = strchr(p, '\n'))) {
		p++;
		if (!strncasecmp(p, name, n) && p[n] == ':')
			return p + n + 1 + strspn(p + n + 1, " ");
	}
	return NULL;
}

/* Reads one response (skipping 1xx); 0, or -1 if none came. */
static int read_reply(struct conn *c, struct reply *r)
{
	char *end;
	const char *cl;
	size_t hlen, blen;

	memset(r, 0, sizeof(*r));
	for (;;) {
		c->buf[c->len < sizeof(c->buf) ? c->len : 0] = '\0';
		end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
		if (end)
			break;
		if (conn_fill(c) <= 0)
			return -1;
	}
	hlen = (size_t)(end - c->buf) + 4;
	assert_true(hlen < sizeof(r->headers));
	memcpy(r->headers, c->buf, hlen);
	r->headers[hlen] = '\0';
	assert_int_equal(sscanf(r->headers, "HTTP/1.1 %d", &r->status), 1);
	cl = header_value(r->headers, "Content-Length");
	blen = cl ? strtoul(cl, NULL, 10) : 0;
	assert_true(blen < sizeof(r->body));
	while (c->len < hlen + blen)
		if (conn_fill(c) <= 0)
			return -1;
	memcpy(r->body, c->buf + hlen, blen);
	r->body[blen] = '\0';
	r->body_len = blen;
	memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
	c->len -= hlen + blen;
	if (r->status >= 100 && r->status < 200)
		return read_reply(c, r);
	return 0;
}

/* The server closed the connection (EOF within the timeout). */
static bool conn_closed_by_server(struct conn *c)
{
	for (;;) {
		ssize_t n = conn_fill(c);

		if (n == 0)
			return true;
		if (n < 0)
			return false;
		c->len = 0; /* discard anything else */
	}
}

/* One send, so that a server that answers early finds it all queued. */
static void send_request(struct conn *c, const char *method, const char *path,
			 const char *body)
{
	size_t cap = 512 + (body ? strlen(body) : 0);
	char *req = malloc(cap);
	int n;

	assert_non_null(req);
	if (body)
		n = snprintf(req, cap,
			     "%s %s HTTP/1.1\r\nHost: localhost\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n%s",
			     method, path, strlen(body), body);
	else
		n = snprintf(req, cap,
			     "%s %s HTTP/1.1\r\nHost: localhost\r\n\r\n",
			     method, path);
	assert_true(n > 0 && (size_t)n < cap);
	send_all(c, req, (size_t)n);
	free(req);
}

static void roundtrip(struct conn *c, const char *method, const char *path,
		      const char *body, int status, struct reply *r)
{
	send_request(c, method, path, body);
	assert_int_equal(read_reply(c, r), 0);
	if (r->status != status)
		print_error("%s %s: %d %s (want %d)\n", method, path, r->status,
			    r->body, status);
	assert_int_equal(r->status, status);
}

/* ------------------------------------------------------------------ */

static void test_keepalive(void **state)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct reply r;
	char body[256];

	(void)state;
	assert_non_null(c);
	conn_open(c, sock_path);
	roundtrip(c, "GET", "/", NULL, 200, &r);
	assert_non_null(strstr(r.body, "\"Not started\""));
	assert_non_null(strstr(header_value(r.headers, "Content-Type"),
			       "application/json"));
	roundtrip(c, "PUT", "/machine-config",
		  "{\"vcpu_count\":2,\"mem_size_mib\":256}", 204, &r);
	assert_int_equal(r.body_len, 0);
	roundtrip(c, "GET", "/machine-config", NULL, 200, &r);
	assert_non_null(strstr(r.body, "\"vcpu_count\":2"));
	roundtrip(c, "PUT", "/boot-source", "{", 400, &r);
	assert_non_null(strstr(r.body, "fault_message"));
	roundtrip(c, "DELETE", "/", NULL, 400, &r);
	assert_non_null(
		strstr(r.body, "Invalid request method and/or path: DELETE"));
	snprintf(body, sizeof(body), "{\"kernel_image_path\":\"%s\"}", kernel);
	roundtrip(c, "PUT", "/boot-source", body, 204, &r);
	roundtrip(c, "PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
		  204, &r);
	roundtrip(c, "GET", "/", NULL, 200, &r);
	assert_non_null(strstr(r.body, "\"Running\""));
	assert_int_equal(rec.calls[REC_START], 1);
	conn_close(c);
	free(c);
}

static void test_pipelined(void **state)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct reply r;

	(void)state;
	assert_non_null(c);
	conn_open(c, sock_path);
	send_str(c, "GET /version HTTP/1.1\r\nHost: x\r\n\r\n"
		    "PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 33\r\n\r\n"
		    "{\"vcpu_count\":4,\"mem_size_mib\":8}"
		    "GET /machine-config HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(read_reply(c, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "firecracker_version"));
	assert_int_equal(read_reply(c, &r), 0);
	assert_int_equal(r.status, 204);
	assert_int_equal(read_reply(c, &r), 0);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"vcpu_count\":4"));
	conn_close(c);
	free(c);
}

static void test_split_request(void **state)
{
	struct conn *c = calloc(1, sizeof(*c));
	const char *req = "PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
			  "Content-Length: 35\r\n\r\n"
			  "{\"vcpu_count\":6,\"mem_size_mib\":100}";
	size_t i, n, len = strlen(req);
	struct reply r;

	(void)state;
	assert_non_null(c);
	conn_open(c, sock_path);
	/* Separate writes, with pauses so the server sees the pieces. */
	for (i = 0; i < len; i += n) {
		n = len - i < 7 ? len - i : 7;
		send_all(c, req + i, n);
		pause_ms(2);
	}
	assert_int_equal(read_reply(c, &r), 0);
	assert_int_equal(r.status, 204);
	roundtrip(c, "GET", "/machine-config", NULL, 200, &r);
	assert_non_null(strstr(r.body, "\"vcpu_count\":6"));
	assert_non_null(strstr(r.body, "\"mem_size_mib\":100"));
	conn_close(c);
	free(c);
}

static void test_over_limit_declared(void **state)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct reply r;

	(void)state;
	assert_non_null(c);
	conn_open(c, sock_path);
	/* As curl sends a large body: it waits for 100 Continue. */
	send_str(c, "PUT /boot-source HTTP/1.1\r\nHost: x\r\n"
		    "Expect: 100-continue\r\n"
		    "Content-Length: 60000\r\n\r\n");
	assert_int_equal(read_reply(c, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body,
			       "Request payload with size 60000 is larger "
			       "than the limit of 51200 allowed by server."));
	/* The unread body cannot be skipped: the server hangs up. */
	assert_true(conn_closed_by_server(c));
	conn_close(c);

	/* Without Expect, with some of the body already sent. */
	conn_open(c, sock_path);
	send_str(c, "PUT /boot-source HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 51201\r\n\r\n{\"kernel_image_path\":");
	assert_int_equal(read_reply(c, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "size 51201"));
	assert_true(conn_closed_by_server(c));
	conn_close(c);
	free(c);
	assert_int_equal(rec.calls[REC_START], 0);
}

static void test_at_limit(void **state)
{
	struct conn *c = calloc(1, sizeof(*c));
	char *body = malloc(API_DEFAULT_MAX_PAYLOAD + 1);
	struct reply r;
	int n;

	(void)state;
	assert_non_null(c);
	assert_non_null(body);
	n = snprintf(body, API_DEFAULT_MAX_PAYLOAD + 1,
		     "{\"kernel_image_path\":\"%s\"", kernel);
	memset(body + n, ' ', API_DEFAULT_MAX_PAYLOAD - (size_t)n - 1);
	body[API_DEFAULT_MAX_PAYLOAD - 1] = '}';
	body[API_DEFAULT_MAX_PAYLOAD] = '\0';
	conn_open(c, sock_path);
	roundtrip(c, "PUT", "/boot-source", body, 204, &r);
	roundtrip(c, "GET", "/", NULL, 200, &r);
	conn_close(c);
	free(body);
	free(c);
}

static void send_chunked(struct conn *c, size_t total, size_t piece)
{
	char head[32], *data = malloc(piece);

	assert_non_null(data);
	memset(data, ' ', piece);
	send_str(c, "PUT /boot-source HTTP/1.1\r\nHost: x\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n");
	while (total) {
		size_t n = total < piece ? total : piece;

		snprintf(head, sizeof(head), "%zx\r\n", n);
		send_str(c, head);
		send_all(c, data, n);
		send_str(c, "\r\n");
		total -= n;
	}
	send_str(c, "0\r\n\r\n");
	free(data);
}

static void test_over_limit_chunked(void **state)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct reply r;

	(void)state;
	assert_non_null(c);
	/* A small chunked body is fine (and then parsed: it is blank). */
	conn_open(c, sock_path);
	send_chunked(c, 100, 30);
	assert_int_equal(read_reply(c, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "deserializing"));
	conn_close(c);
	/* Over the limit: answered with the limit, never buffered. */
	conn_open(c, sock_path);
	send_chunked(c, API_DEFAULT_MAX_PAYLOAD + 4096, 4096);
	assert_int_equal(read_reply(c, &r), 0);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "larger than the limit of 51200"));
	conn_close(c);
	/* The server is fine afterwards. */
	conn_open(c, sock_path);
	roundtrip(c, "GET", "/", NULL, 200, &r);
	conn_close(c);
	free(c);
}

static void test_disconnect_mid_body(void **state)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct reply r;
	int i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < 20; i++) {
		conn_open(c, sock_path);
		send_str(c, "PUT /machine-config HTTP/1.1\r\nHost: x\r\n"
			    "Content-Length: 1000\r\n\r\n{\"vcpu_count\":");
		conn_close(c);
	}
	/* Half a request line, then gone. */
	conn_open(c, sock_path);
	send_str(c, "GET /vers");
	conn_close(c);
	conn_open(c, sock_path);
	roundtrip(c, "GET", "/machine-config", NULL, 200, &r);
	/* Nothing of the cut bodies was applied. */
	assert_non_null(strstr(r.body, "\"vcpu_count\":1"));
	conn_close(c);
	free(c);
}

static void test_bad_http(void **state)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct reply r;

	(void)state;
	assert_non_null(c);
	conn_open(c, sock_path);
	send_str(c, "HELLO\r\n\r\n");
	/* libmicrohttpd answers or hangs up; either way the server lives. */
	if (read_reply(c, &r) == 0)
		assert_true(r.status >= 400);
	conn_close(c);
	conn_open(c, sock_path);
	send_str(c, "PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n");
	if (read_reply(c, &r) == 0)
		assert_int_equal(r.status, 400);
	conn_close(c);
	conn_open(c, sock_path);
	roundtrip(c, "GET", "/", NULL, 200, &r);
	conn_close(c);
	free(c);
}

static void test_deprecation_header(void **state)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct reply r;

	(void)state;
	assert_non_null(c);
	conn_open(c, sock_path);
	roundtrip(c, "PUT", "/snapshot/load",
		  "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}", 204, &r);
	assert_non_null(header_value(r.headers, "Deprecation"));
	conn_close(c);
	free(c);
}

static void test_socket_file(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct api_server *other = NULL;
	char path[160], longp[200];
	struct reply r;
	struct conn *c = calloc(1, sizeof(*c));
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(c);
	/* The running server's socket: mode 0600, and not stolen. */
	assert_int_equal(lstat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(api_server_start(api, sock_path, 0, &other),
			 -EADDRINUSE);
	assert_null(other);

	/* A stale socket (nobody listening) is replaced. */
	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(api_server_start(api, path, 0, &other), 0);
	conn_open(c, path);
	roundtrip(c, "GET", "/version", NULL, 200, &r);
	conn_close(c);
	/* Stopping removes it. */
	api_server_stop(other);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);

	/* A regular file there is refused and left alone. */
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(api_server_start(api, path, 0, &other), -EEXIST);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 4);

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(api_server_start(api, longp, 0, &other),
			 -ENAMETOOLONG);
	free(c);
}

static void test_custom_limit_and_fds(void **state)
{
	struct api_server *small = NULL;
	struct conn *c = calloc(1, sizeof(*c));
	char path[160];
	struct reply r;
	int before, i;

	(void)state;
	assert_non_null(c);
	/* Stop the fixture's server so its connections do not count. */
	api_server_stop(srv);
	srv = NULL;
	before = count_fds();
	snprintf(path, sizeof(path), "%s/small.sock", dir);
	assert_int_equal(api_server_start(api, path, 64, &small), 0);
	for (i = 0; i < 5; i++) {
		conn_open(c, path);
		roundtrip(c, "PUT", "/machine-config",
			  "{\"vcpu_count\":1,\"mem_size_mib\":1}", 204, &r);
		roundtrip(c, "PUT", "/machine-config",
			  "{\"vcpu_count\":1,\"mem_size_mib\":1,"
			  "\"smt\":false,\"track_dirty_pages\":false}",
			  400, &r);
		assert_non_null(strstr(r.body, "limit of 64"));
		conn_close(c);
	}
	/* One left open: stopping closes it too. */
	conn_open(c, path);
	roundtrip(c, "GET", "/", NULL, 200, &r);
	api_server_stop(small);
	assert_true(conn_closed_by_server(c));
	conn_close(c);
	assert_int_equal(count_fds(), before);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_keepalive),
		T(test_pipelined),
		T(test_split_request),
		T(test_over_limit_declared),
		T(test_at_limit),
		T(test_over_limit_chunked),
		T(test_disconnect_mid_body),
		T(test_bad_http),
		T(test_deprecation_header),
		T(test_socket_file),
		T(test_custom_limit_and_fds),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
