/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host-side tests of lg-agent: start `lg-agent --unix SOCKET` in a temporary
 * directory and drive it over the real protocol with the client in
 * client.c. No VM is needed.
 *
 * usage: agent-test [LG_AGENT [TEST...]]
 *   LG_AGENT defaults to $LG_TEST_AGENT (neither: skip); TESTs run only
 *   the tests of those names.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

#define RECV_MS 20000
#define MAX_STREAMS 64u
#define BIG_OUTPUT (10u * 1024u * 1024u)
#define STDIN_SIZE (1024u * 1024u)
#define FILE_SIZE (1024u * 1024u)
#define SKIP_EXIT 77

static int failures;
static const char *current_test = "setup";
static char tmpdir[128];
static char sock_path[192];
static pid_t agent_pid;

static bool check(bool ok, const char *file, int line, const char *expr,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static bool check(bool ok, const char *file, int line, const char *expr,
		  const char *fmt, ...)
{
	va_list ap;

	if (ok)
		return true;
	failures++;
	fprintf(stderr, "FAIL [%s] %s:%d: %s: ", current_test, file, line,
		expr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return false;
}

#define CHECK(cond, ...) check((cond), __FILE__, __LINE__, #cond, __VA_ARGS__)
/* For checks later steps depend on: stop the test function there. */
#define REQUIRE(cond, ...)                                                     \
	do {                                                                   \
		if (!CHECK(cond, __VA_ARGS__))                                 \
			goto out;                                              \
	} while (0)

/* ---- per-stream bookkeeping ---------------------------------------- */

struct dbuf {
	uint8_t *p;
	size_t len, cap;
};

static void dbuf_add(struct dbuf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 4096;

		while (ncap < b->len + n + 1)
			ncap *= 2;
		b->p = realloc(b->p, ncap);
		if (!b->p) {
			perror("realloc");
			exit(2);
		}
		b->cap = ncap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static bool dbuf_eq(const struct dbuf *b, const char *s)
{
	return b->len == strlen(s) && (!b->len || memcmp(b->p, s, b->len) == 0);
}

static const char *dbuf_str(const struct dbuf *b)
{
	return b->p ? (const char *)b->p : "";
}

struct result {
	bool started, done, exited, errored, ok, file_end;
	bool has_code, has_signal;
	bool discard; /* count data bytes but do not keep them */
	uint32_t pid, code, signo, err, mode;
	char msg[512];
	struct dbuf out, err_out;
	uint64_t data_rx;   /* STDOUT + STDERR + FILE_DATA bytes */
	uint64_t credit;    /* STDIN / FILE_DATA bytes we may still send */
	uint64_t window_in; /* sum of the agent's WINDOW credits */
	unsigned after_done;
	unsigned hello_ok;
};

struct conn {
	struct client *c;
	bool grant;	    /* return credit for every data frame */
	int grant_delay_ms; /* ... this long after it arrived */
	unsigned unexpected;
	struct result r[MAX_STREAMS];
};

static void conn_close(struct conn *k)
{
	if (!k)
		return;
	for (unsigned i = 0; i < MAX_STREAMS; i++) {
		free(k->r[i].out.p);
		free(k->r[i].err_out.p);
	}
	client_free(k->c);
	free(k);
}

static void handle_data(struct conn *k, struct result *r, struct dbuf *b,
			const struct msg *m)
{
	if (!r->discard)
		dbuf_add(b, m->data, m->len);
	r->data_rx += m->len;
	if (!k->grant || !m->len)
		return;
	if (k->grant_delay_ms)
		usleep((useconds_t)k->grant_delay_ms * 1000u);
	client_send_u32(k->c, LG_MSG_WINDOW, m->stream, LG_TAG_CREDIT, m->len);
}

static void handle_end(struct result *r, const struct msg *m)
{
	r->done = true;
	if (m->type == LG_MSG_EXIT) {
		r->exited = true;
		r->has_code = msg_u32(m, LG_TAG_EXIT_CODE, &r->code) == 0;
		r->has_signal = msg_u32(m, LG_TAG_EXIT_SIGNAL, &r->signo) == 0;
	} else if (m->type == LG_MSG_ERROR) {
		r->errored = true;
		lg_error_decode(m->data, m->len, &r->err, r->msg,
				sizeof(r->msg));
	} else if (m->type == LG_MSG_FILE_END) {
		r->file_end = true;
		msg_u32(m, LG_TAG_MODE, &r->mode);
	} else {
		r->ok = true;
	}
}

/* Receives one frame and books it on its stream. Returns RECV_*. */
static int pump(struct conn *k, int timeout_ms)
{
	struct result *r;
	struct msg m;
	uint32_t v;
	int rc = client_recv(k->c, &m, timeout_ms);

	if (rc != RECV_MSG)
		return rc;
	if (m.stream >= MAX_STREAMS) {
		k->unexpected++;
		msg_free(&m);
		return rc;
	}
	r = &k->r[m.stream];
	if (r->done)
		r->after_done++;
	switch (m.type) {
	case LG_MSG_HELLO_OK:
		r->hello_ok++;
		break;
	case LG_MSG_STARTED:
		r->started = msg_u32(&m, LG_TAG_PID, &r->pid) == 0;
		break;
	case LG_MSG_STDOUT:
	case LG_MSG_FILE_DATA:
		handle_data(k, r, &r->out, &m);
		break;
	case LG_MSG_STDERR:
		handle_data(k, r, &r->err_out, &m);
		break;
	case LG_MSG_WINDOW:
		if (msg_u32(&m, LG_TAG_CREDIT, &v) == 0) {
			r->credit += v;
			r->window_in += v;
		}
		break;
	case LG_MSG_EXIT:
	case LG_MSG_ERROR:
	case LG_MSG_OK:
	case LG_MSG_FILE_END:
		handle_end(r, &m);
		break;
	default:
		k->unexpected++;
		break;
	}
	msg_free(&m);
	return rc;
}

static bool wait_done(struct conn *k, uint32_t stream, int timeout_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;

	while (!k->r[stream].done) {
		uint64_t now = mono_ms();

		if (now >= deadline ||
		    pump(k, (int)(deadline - now)) != RECV_MSG)
			return false;
	}
	return true;
}

static bool wait_started(struct conn *k, uint32_t stream)
{
	uint64_t deadline = mono_ms() + RECV_MS;

	while (!k->r[stream].started && !k->r[stream].done) {
		uint64_t now = mono_ms();

		if (now >= deadline ||
		    pump(k, (int)(deadline - now)) != RECV_MSG)
			return false;
	}
	return k->r[stream].started;
}

static size_t frame(uint8_t *buf, uint8_t type, uint32_t stream, const void *p,
		    uint32_t len)
{
	lg_frame_hdr_encode(buf, type, stream, len);
	if (len)
		memcpy(buf + LG_FRAME_HDR_SIZE, p, len);
	return LG_FRAME_HDR_SIZE + len;
}

static bool send_hello(struct client *c)
{
	return client_send_u32(c, LG_MSG_HELLO, 0, LG_TAG_VERSION,
			       LG_PROTO_VERSION) == 0;
}

/* HELLO round trip: everything the agent sent before is now booked. */
static bool sync_ping(struct conn *k)
{
	unsigned before = k->r[0].hello_ok;
	uint64_t deadline = mono_ms() + RECV_MS;

	if (!send_hello(k->c))
		return false;
	while (k->r[0].hello_ok == before) {
		uint64_t now = mono_ms();

		if (now >= deadline ||
		    pump(k, (int)(deadline - now)) != RECV_MSG)
			return false;
	}
	return true;
}

static struct conn *conn_open(bool grant)
{
	struct conn *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->grant = grant;
	k->c = client_connect(sock_path);
	if (!CHECK(k->c != NULL, "connect %s: %s", sock_path,
		   strerror(errno)) ||
	    !CHECK(sync_ping(k), "no HELLO_OK")) {
		conn_close(k);
		return NULL;
	}
	return k;
}

struct exec_opts {
	const char *const *env;
	const char *cwd;
	bool with_stdin;
	uint32_t timeout_ms;
};

static size_t count(const char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

static bool exec_send(struct conn *k, uint32_t stream, const char *const *argv,
		      const struct exec_opts *o)
{
	static const struct exec_opts none;
	struct lg_exec_req req = {0};
	uint8_t *buf = malloc(LG_FRAME_MAX_PAYLOAD);
	size_t len;
	bool ok;

	if (!o)
		o = &none;
	req.argv = (char **)argv;
	req.argc = count(argv);
	req.envp = (char **)o->env;
	req.envc = count(o->env);
	req.cwd = (char *)o->cwd;
	req.stdin_attached = o->with_stdin;
	req.timeout_ms = o->timeout_ms;
	ok = buf &&
	     lg_exec_req_encode(&req, buf, LG_FRAME_MAX_PAYLOAD, &len) == 0 &&
	     client_send(k->c, LG_MSG_EXEC, stream, buf, len) == 0;
	free(buf);
	k->r[stream].credit = LG_WINDOW_INITIAL;
	return ok;
}

static bool run(struct conn *k, uint32_t stream, const char *const *argv,
		const struct exec_opts *o)
{
	return exec_send(k, stream, argv, o) && wait_done(k, stream, RECV_MS);
}

/* Sends len bytes as STDIN or FILE_DATA frames within the credit. */
static bool send_within_credit(struct conn *k, uint32_t stream, uint8_t type,
			       const uint8_t *p, size_t len)
{
	struct result *r = &k->r[stream];

	while (len) {
		size_t n =
			len < LG_FRAME_MAX_PAYLOAD ? len : LG_FRAME_MAX_PAYLOAD;

		while (r->credit == 0)
			if (r->done || pump(k, RECV_MS) != RECV_MSG)
				return false;
		if (n > r->credit)
			n = (size_t)r->credit;
		if (client_send(k->c, type, stream, p, n) < 0)
			return false;
		r->credit -= n;
		p += n;
		len -= n;
	}
	return true;
}

static bool agent_alive(void)
{
	return agent_pid > 0 && waitpid(agent_pid, NULL, WNOHANG) == 0;
}

static long agent_rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)agent_pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Waits until pid is gone (reaped); the agent reaps its children. */
static bool pid_gone(pid_t pid, int timeout_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;

	while (mono_ms() < deadline) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		usleep(20000);
	}
	return false;
}

/*
 * Waits until pid is dead, reaped or not: once the agent exited, its
 * orphans are reaped by whoever is init, maybe late.
 */
static bool pid_dead(pid_t pid, int timeout_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
	char path[64], buf[256], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	while (mono_ms() < deadline) {
		FILE *f = fopen(path, "r");
		bool zombie = false;

		if (!f)
			return true;
		if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
			zombie = p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
		fclose(f);
		if (zombie)
			return true;
		usleep(20000);
	}
	return false;
}

/* Waits until process group pgid has no member left (zombies count). */
static bool pgrp_gone(pid_t pgid, int timeout_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;

	while (mono_ms() < deadline) {
		if (kill(-pgid, 0) < 0 && errno == ESRCH)
			return true;
		usleep(20000);
	}
	return false;
}

/* The pid a shell wrote to path, or 0. */
static pid_t read_pid_file(const char *path, int timeout_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
	long pid = 0;

	do {
		FILE *f = fopen(path, "r");

		if (f) {
			if (fscanf(f, "%ld", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid > 0)
			return (pid_t)pid;
		usleep(20000);
	} while (mono_ms() < deadline);
	return 0;
}

/* Kills the process group a test left behind; false if it lives on. */
static bool kill_pgrp(pid_t pgid)
{
	if (pgid <= 0)
		return true;
	kill(-pgid, SIGKILL);
	return pgrp_gone(pgid, 5000);
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1u;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
}

/* ---- tests ---------------------------------------------------------- */

static void test_hello(void)
{
	struct client *c = client_connect(sock_path);
	char agent[64] = "", kernel[128] = "";
	struct utsname u;
	struct msg m = {0};
	uint32_t ver = 0;

	REQUIRE(c != NULL, "connect: %s", strerror(errno));
	REQUIRE(send_hello(c), "send HELLO");
	REQUIRE(client_recv(c, &m, RECV_MS) == RECV_MSG, "no answer to HELLO");
	CHECK(m.type == LG_MSG_HELLO_OK, "got %s", lg_frame_type_name(m.type));
	CHECK(m.stream == 0, "stream %u", m.stream);
	CHECK(msg_u32(&m, LG_TAG_VERSION, &ver) == 0 && ver == LG_PROTO_VERSION,
	      "VERSION %u", ver);
	CHECK(msg_str(&m, LG_TAG_AGENT_VERSION, agent, sizeof(agent)) == 0 &&
		      strcmp(agent, "lg-agent 0.1.0") == 0,
	      "AGENT_VERSION '%s'", agent);
	uname(&u);
	CHECK(msg_str(&m, LG_TAG_KERNEL, kernel, sizeof(kernel)) == 0 &&
		      strcmp(kernel, u.release) == 0,
	      "KERNEL '%s', uname says '%s'", kernel, u.release);
out:
	msg_free(&m);
	client_free(c);
}

static void test_exec_status(void)
{
	static const char *const echo[] = {
		"sh", "-c", "echo out; echo err >&2; exit 42", NULL};
	static const char *const killed[] = {"sh", "-c", "kill -9 $$", NULL};
	struct conn *k = conn_open(true);
	struct result *r;

	REQUIRE(k, "session");
	REQUIRE(run(k, 1, echo, NULL), "exec did not finish");
	r = &k->r[1];
	CHECK(r->started && r->pid > 0, "STARTED pid %u", r->pid);
	CHECK(r->exited && r->has_code && r->code == 42, "exit code %u",
	      r->code);
	CHECK(!r->has_signal, "EXIT_SIGNAL %u", r->signo);
	CHECK(dbuf_eq(&r->out, "out\n"), "stdout '%s'", dbuf_str(&r->out));
	CHECK(dbuf_eq(&r->err_out, "err\n"), "stderr '%s'",
	      dbuf_str(&r->err_out));
	REQUIRE(sync_ping(k), "ping");
	CHECK(r->after_done == 0, "%u frames after EXIT", r->after_done);

	REQUIRE(run(k, 2, killed, NULL), "exec did not finish");
	r = &k->r[2];
	CHECK(r->exited && r->has_signal && r->signo == 9,
	      "exited %d signal %u", r->exited, r->signo);
	CHECK(!r->has_code, "EXIT_CODE %u beside EXIT_SIGNAL", r->code);
out:
	conn_close(k);
}

static void test_exec_failures(void)
{
	static const char *const missing[] = {"lg-no-such-command-xyz", NULL};
	static const char *const noexec[] = {"/etc/passwd", NULL};
	static const char *const truecmd[] = {"true", NULL};
	static const char *const badenv[] = {"NOEQUALS", NULL};
	struct exec_opts badcwd = {.cwd = "/nonexistent-lg-dir"};
	struct exec_opts envopt = {.env = badenv};
	struct conn *k = conn_open(true);
	struct result *r;

	REQUIRE(k, "session");
	REQUIRE(run(k, 1, missing, NULL), "no answer");
	r = &k->r[1];
	CHECK(r->errored && r->err == ENOENT, "err %u '%s'", r->err, r->msg);
	CHECK(strstr(r->msg, "exec lg-no-such-command-xyz") != NULL,
	      "message '%s'", r->msg);
	CHECK(!r->started, "STARTED sent for a failed exec");

	REQUIRE(run(k, 2, noexec, NULL), "no answer");
	CHECK(k->r[2].errored && k->r[2].err == EACCES, "err %u '%s'",
	      k->r[2].err, k->r[2].msg);

	REQUIRE(run(k, 3, truecmd, &badcwd), "no answer");
	r = &k->r[3];
	CHECK(r->errored && r->err == ENOENT, "err %u", r->err);
	CHECK(strstr(r->msg, "/nonexistent-lg-dir") != NULL, "message '%s'",
	      r->msg);

	REQUIRE(run(k, 4, truecmd, &envopt), "no answer");
	CHECK(k->r[4].errored && k->r[4].err == EINVAL, "err %u", k->r[4].err);
	CHECK(sync_ping(k), "session died after failed execs");
out:
	conn_close(k);
}

static void test_exec_env(void)
{
	static const char *const argv[] = {
		"sh", "-c",
		"printf '%s:%s:%s:%s:%s' \"$FOO\" \"$TERM\" \"$HOME\" "
		"\"$(pwd)\" \"$PATH\"",
		NULL};
	static const char *const env[] = {"FOO=bar", "HOME=/tmp", NULL};
	struct exec_opts o = {.env = env, .cwd = tmpdir};
	struct conn *k = conn_open(true);
	char want[512];

	REQUIRE(k, "session");
	REQUIRE(run(k, 1, argv, &o), "no answer");
	snprintf(
		want, sizeof(want), "bar:linux:/tmp:%s:%s", tmpdir,
		"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	CHECK(dbuf_eq(&k->r[1].out, want), "got '%s', want '%s'",
	      dbuf_str(&k->r[1].out), want);
	CHECK(k->r[1].exited && k->r[1].code == 0, "exit %u", k->r[1].code);
out:
	conn_close(k);
}

static void test_exec_user(void)
{
	static const char *const argv[] = {"sh", "-c", "id -u; id -g", NULL};
	struct conn *k = conn_open(true);
	struct lg_exec_req req = {
		.argv = (char **)argv, .argc = 3, .uid = 65534, .gid = 65533};
	uint8_t buf[256];
	size_t len;

	REQUIRE(k, "session");
	REQUIRE(lg_exec_req_encode(&req, buf, sizeof(buf), &len) == 0 &&
			client_send(k->c, LG_MSG_EXEC, 1, buf, len) == 0,
		"EXEC");
	REQUIRE(wait_done(k, 1, RECV_MS), "no answer");
	if (geteuid() == 0)
		CHECK(dbuf_eq(&k->r[1].out, "65534\n65533\n"),
		      "stdout '%s' err '%s'", dbuf_str(&k->r[1].out),
		      k->r[1].msg);
	else /* the agent cannot switch users: it must say so */
		CHECK(k->r[1].errored && k->r[1].err == EPERM, "err %u '%s'",
		      k->r[1].err, k->r[1].msg);
out:
	conn_close(k);
}

static void test_stdin(void)
{
	static const char *const cat[] = {"cat", NULL};
	struct exec_opts o = {.with_stdin = true};
	uint8_t *data = malloc(STDIN_SIZE);
	struct conn *k = conn_open(true);
	struct result *r;

	REQUIRE(k && data, "session");
	fill_pattern(data, STDIN_SIZE, 1);
	REQUIRE(exec_send(k, 1, cat, &o), "send EXEC");
	r = &k->r[1];
	REQUIRE(send_within_credit(k, 1, LG_MSG_STDIN, data, STDIN_SIZE),
		"stdin stalled after %llu bytes of credit",
		(unsigned long long)r->window_in);
	REQUIRE(client_send(k->c, LG_MSG_STDIN_CLOSE, 1, NULL, 0) == 0,
		"STDIN_CLOSE");
	REQUIRE(wait_done(k, 1, RECV_MS), "cat did not finish");
	CHECK(r->exited && r->code == 0, "exit %u err '%s'", r->code, r->msg);
	CHECK(r->out.len == STDIN_SIZE &&
		      memcmp(r->out.p, data, STDIN_SIZE) == 0,
	      "echoed %zu bytes, want %u identical", r->out.len, STDIN_SIZE);
	CHECK(r->window_in == STDIN_SIZE, "agent acknowledged %llu bytes",
	      (unsigned long long)r->window_in);
out:
	free(data);
	conn_close(k);
}

static void test_stdin_errors(void)
{
	static const char *const sleeper[] = {"sleep", "5", NULL};
	struct exec_opts o = {.with_stdin = true};
	uint8_t *chunk = calloc(1, LG_FRAME_MAX_PAYLOAD);
	struct conn *k = conn_open(true);

	REQUIRE(k && chunk, "session");
	/* Nobody reads: 1 MiB is far beyond window + pipe buffer. */
	REQUIRE(exec_send(k, 1, sleeper, &o), "send EXEC");
	for (int i = 0; i < 16; i++)
		client_send(k->c, LG_MSG_STDIN, 1, chunk, LG_FRAME_MAX_PAYLOAD);
	REQUIRE(wait_done(k, 1, RECV_MS), "no answer");
	CHECK(k->r[1].errored && k->r[1].err == EPROTO,
	      "exceeding the stdin window: err %u '%s'", k->r[1].err,
	      k->r[1].msg);

	REQUIRE(exec_send(k, 2, sleeper, NULL), "send EXEC");
	client_send(k->c, LG_MSG_STDIN, 2, "x", 1);
	REQUIRE(wait_done(k, 2, RECV_MS), "no answer");
	CHECK(k->r[2].errored && k->r[2].err == EBADF,
	      "STDIN without stdin attached: err %u", k->r[2].err);
	CHECK(k->r[2].pid == 0 || pid_gone((pid_t)k->r[2].pid, 5000),
	      "exec not killed after ERROR");
out:
	free(chunk);
	conn_close(k);
}

static void test_big_output(void)
{
	static const char *const argv[] = {"sh", "-c",
					   "head -c 10485760 /dev/zero", NULL};
	struct conn *k = conn_open(false);
	long rss0, rss1;
	struct result *r;
	bool zeros = true;

	REQUIRE(k, "session");
	r = &k->r[1];
	rss0 = agent_rss_kb();
	REQUIRE(exec_send(k, 1, argv, NULL), "send EXEC");
	while (r->data_rx < LG_WINDOW_INITIAL && !r->done)
		if (pump(k, RECV_MS) != RECV_MSG)
			break;
	CHECK(r->data_rx == LG_WINDOW_INITIAL,
	      "%llu bytes before any WINDOW, window is %u",
	      (unsigned long long)r->data_rx, LG_WINDOW_INITIAL);
	/* Withholding credit: nothing more may come. */
	CHECK(pump(k, 700) == RECV_TIMEOUT && r->data_rx <= LG_WINDOW_INITIAL,
	      "agent went past the window: %llu bytes",
	      (unsigned long long)r->data_rx);
	rss1 = agent_rss_kb();
	CHECK(rss0 > 0 && rss1 > 0 && rss1 - rss0 < 16 * 1024,
	      "agent RSS grew from %ld to %ld kB while stalled", rss0, rss1);

	/* A partial grant is honoured exactly. */
	client_send_u32(k->c, LG_MSG_WINDOW, 1, LG_TAG_CREDIT, 100000);
	while (r->data_rx < LG_WINDOW_INITIAL + 100000u && !r->done)
		if (pump(k, RECV_MS) != RECV_MSG)
			break;
	CHECK(pump(k, 500) == RECV_TIMEOUT &&
		      r->data_rx == LG_WINDOW_INITIAL + 100000u,
	      "after a 100000-byte grant: %llu bytes",
	      (unsigned long long)r->data_rx);

	k->grant = true;
	client_send_u32(k->c, LG_MSG_WINDOW, 1, LG_TAG_CREDIT,
			LG_WINDOW_INITIAL);
	REQUIRE(wait_done(k, 1, 60000), "10 MB did not arrive (%llu bytes)",
		(unsigned long long)r->data_rx);
	CHECK(r->exited && r->code == 0, "exit %u", r->code);
	CHECK(r->out.len == BIG_OUTPUT, "%zu bytes, want %u", r->out.len,
	      BIG_OUTPUT);
	for (size_t i = 0; i < r->out.len && zeros; i++)
		zeros = r->out.p[i] == 0;
	CHECK(zeros, "output corrupted");
out:
	conn_close(k);
}

/* Huge credit but the host does not read: the agent's queue bound holds. */
static void test_throttle(void)
{
	static const char *const argv[] = {"sh", "-c",
					   "head -c 10485760 /dev/zero", NULL};
	struct conn *k = conn_open(false);
	long rss0, rss1;
	struct result *r;

	REQUIRE(k, "session");
	r = &k->r[1];
	rss0 = agent_rss_kb();
	REQUIRE(exec_send(k, 1, argv, NULL), "send EXEC");
	client_send_u32(k->c, LG_MSG_WINDOW, 1, LG_TAG_CREDIT, 0x7fffffffu);
	usleep(1000 * 1000);
	rss1 = agent_rss_kb();
	CHECK(rss0 > 0 && rss1 > 0 && rss1 - rss0 < 6 * 1024,
	      "agent RSS grew from %ld to %ld kB with an unread peer", rss0,
	      rss1);
	REQUIRE(wait_done(k, 1, 60000), "output did not arrive (%llu bytes)",
		(unsigned long long)r->data_rx);
	CHECK(r->exited && r->code == 0, "exit %u err '%s'", r->code, r->msg);
	CHECK(r->out.len == BIG_OUTPUT, "%zu bytes, want %u", r->out.len,
	      BIG_OUTPUT);
out:
	conn_close(k);
}

/*
 * A host that floods requests without reading: the agent must stop
 * reading input while its output queue is full (12 MB of HELLO_OK would
 * pass OUTQ_MAX), then answer every request once the host reads.
 */
static void test_input_backpressure(void)
{
	enum { FLOOD = 200000 };
	size_t one = LG_FRAME_HDR_SIZE + 10, len = one * FLOOD;
	uint8_t *buf = malloc(len), tlv[16];
	struct conn *k = conn_open(false);
	struct lg_tlv_writer w;
	long rss0, rss1;
	pid_t writer = -1;
	size_t tlen;
	int status = -1;

	REQUIRE(k && buf, "session");
	lg_tlv_writer_init(&w, tlv, sizeof(tlv));
	lg_tlv_put_u32(&w, LG_TAG_VERSION, LG_PROTO_VERSION);
	REQUIRE(lg_tlv_writer_finish(&w, &tlen) == 0 && tlen == 10, "TLV");
	for (size_t i = 0; i < FLOOD; i++)
		frame(buf + i * one, LG_MSG_HELLO, 0, tlv, 10);
	rss0 = agent_rss_kb();
	writer = fork();
	REQUIRE(writer >= 0, "fork");
	if (writer == 0)
		_exit(client_send_raw(k->c, buf, len) == 0 ? 0 : 1);
	usleep(1000 * 1000);
	rss1 = agent_rss_kb();
	CHECK(rss0 > 0 && rss1 > 0 && rss1 - rss0 < 6 * 1024,
	      "agent RSS grew from %ld to %ld kB under a request flood", rss0,
	      rss1);
	while (k->r[0].hello_ok < FLOOD)
		if (pump(k, RECV_MS) != RECV_MSG)
			break;
	CHECK(k->r[0].hello_ok == FLOOD && k->unexpected == 0 &&
		      !k->r[0].errored,
	      "%u of %d HELLO_OK, err %u '%s'", k->r[0].hello_ok, FLOOD,
	      k->r[0].err, k->r[0].msg);
out:
	if (writer > 0) {
		waitpid(writer, &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "writer status %#x", status);
	}
	free(buf);
	conn_close(k);
}

static void test_concurrent(void)
{
	static const char *const reader[] = {"sh", "-c", "read x; echo got-$x",
					     NULL};
	static const char *const echo[] = {"sh", "-c", "echo B", NULL};
	struct exec_opts o = {.with_stdin = true};
	struct conn *k = conn_open(true);

	REQUIRE(k, "session");
	REQUIRE(exec_send(k, 1, reader, &o), "EXEC 1");
	REQUIRE(wait_started(k, 1), "exec 1 not started");
	/* 2 runs to completion while 1 is blocked reading its stdin. */
	REQUIRE(run(k, 2, echo, NULL), "exec 2 did not finish");
	CHECK(dbuf_eq(&k->r[2].out, "B\n") && k->r[2].code == 0,
	      "exec 2: '%s' exit %u", dbuf_str(&k->r[2].out), k->r[2].code);
	CHECK(!k->r[1].done, "exec 1 finished early");
	client_send(k->c, LG_MSG_STDIN, 1, "x\n", 2);
	client_send(k->c, LG_MSG_STDIN_CLOSE, 1, NULL, 0);
	REQUIRE(wait_done(k, 1, RECV_MS), "exec 1 did not finish");
	CHECK(dbuf_eq(&k->r[1].out, "got-x\n") && k->r[1].code == 0,
	      "exec 1: '%s' exit %u", dbuf_str(&k->r[1].out), k->r[1].code);
out:
	conn_close(k);
}

static bool send_path_req(struct conn *k, uint8_t type, uint32_t stream,
			  const char *path, int mode)
{
	uint8_t buf[4200];
	struct lg_tlv_writer w;
	size_t len;

	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_str(&w, LG_TAG_PATH, path);
	if (mode >= 0)
		lg_tlv_put_u32(&w, LG_TAG_MODE, (uint32_t)mode);
	k->r[stream].credit = LG_WINDOW_INITIAL;
	return lg_tlv_writer_finish(&w, &len) == 0 &&
	       client_send(k->c, type, stream, buf, len) == 0;
}

static bool file_matches(const char *path, const uint8_t *data, size_t n)
{
	uint8_t *got = malloc(n + 1);
	FILE *f = fopen(path, "rb");
	bool ok = got && f && fread(got, 1, n + 1, f) == n &&
		  memcmp(got, data, n) == 0;

	if (f)
		fclose(f);
	free(got);
	return ok;
}

static void test_file_put(struct conn *k, const char *path, const uint8_t *data)
{
	struct stat st = {0};
	int rc;

	REQUIRE(send_path_req(k, LG_MSG_FILE_PUT, 1, path, 0640), "FILE_PUT");
	REQUIRE(send_within_credit(k, 1, LG_MSG_FILE_DATA, data, FILE_SIZE),
		"FILE_DATA stalled: %s", k->r[1].msg);
	REQUIRE(client_send(k->c, LG_MSG_FILE_END, 1, NULL, 0) == 0,
		"FILE_END");
	REQUIRE(wait_done(k, 1, RECV_MS), "no answer to FILE_END");
	CHECK(k->r[1].ok, "put failed: err %u '%s'", k->r[1].err, k->r[1].msg);
	CHECK(file_matches(path, data, FILE_SIZE), "%s differs", path);
	rc = stat(path, &st);
	CHECK(rc == 0 && (st.st_mode & 07777) == 0640, "stat %d mode %o", rc,
	      (unsigned)(st.st_mode & 07777));
out:;
}

static void test_file_get(struct conn *k, const char *path, const uint8_t *data)
{
	struct result *r = &k->r[2];

	k->grant = false;
	REQUIRE(send_path_req(k, LG_MSG_FILE_GET, 2, path, -1), "FILE_GET");
	while (r->data_rx < LG_WINDOW_INITIAL && !r->done)
		if (pump(k, RECV_MS) != RECV_MSG)
			break;
	CHECK(pump(k, 500) == RECV_TIMEOUT && r->data_rx == LG_WINDOW_INITIAL,
	      "FILE_GET sent %llu bytes without credit",
	      (unsigned long long)r->data_rx);
	k->grant = true;
	client_send_u32(k->c, LG_MSG_WINDOW, 2, LG_TAG_CREDIT,
			LG_WINDOW_INITIAL);
	REQUIRE(wait_done(k, 2, RECV_MS), "FILE_GET did not finish");
	CHECK(r->file_end && r->mode == 0640, "FILE_END %d mode %o",
	      r->file_end, r->mode);
	CHECK(r->out.len == FILE_SIZE && memcmp(r->out.p, data, FILE_SIZE) == 0,
	      "got %zu bytes, want %u identical", r->out.len, FILE_SIZE);
out:;
}

static void test_files(void)
{
	uint8_t *data = malloc(FILE_SIZE);
	struct conn *k = conn_open(true);
	char path[256], bad[300];

	REQUIRE(k && data, "session");
	fill_pattern(data, FILE_SIZE, 7);
	snprintf(path, sizeof(path), "%s/put/a/b/file.bin", tmpdir);
	test_file_put(k, path, data);
	test_file_get(k, path, data);

	snprintf(bad, sizeof(bad), "%s/put", tmpdir);
	REQUIRE(send_path_req(k, LG_MSG_FILE_GET, 3, bad, -1), "FILE_GET");
	REQUIRE(wait_done(k, 3, RECV_MS), "no answer");
	CHECK(k->r[3].errored && k->r[3].err == EISDIR, "dir: err %u",
	      k->r[3].err);
	REQUIRE(send_path_req(k, LG_MSG_FILE_GET, 4, "/nonexistent-lg", -1),
		"FILE_GET");
	REQUIRE(wait_done(k, 4, RECV_MS), "no answer");
	CHECK(k->r[4].errored && k->r[4].err == ENOENT, "missing: err %u",
	      k->r[4].err);
	CHECK(strstr(k->r[4].msg, "/nonexistent-lg") != NULL, "message '%s'",
	      k->r[4].msg);
	REQUIRE(send_path_req(k, LG_MSG_FILE_PUT, 5, "relative", 0644), "PUT");
	REQUIRE(wait_done(k, 5, RECV_MS), "no answer");
	CHECK(k->r[5].errored && k->r[5].err == EINVAL, "relative: err %u",
	      k->r[5].err);
	/* A regular file in the way of the parent directories. */
	snprintf(bad, sizeof(bad), "%s/x", path);
	REQUIRE(send_path_req(k, LG_MSG_FILE_PUT, 6, bad, 0644), "PUT");
	REQUIRE(wait_done(k, 6, RECV_MS), "no answer");
	CHECK(k->r[6].errored && k->r[6].err == ENOTDIR, "ENOTDIR: err %u",
	      k->r[6].err);
out:
	free(data);
	conn_close(k);
}

/* FILE_GET checks the type first: a FIFO or device is never opened. */
static void test_file_get_types(void)
{
	struct conn *k = conn_open(true);
	char fifo[256], target[256], link[256], dangling[256];
	pid_t writer = -1;
	uint64_t t0;
	FILE *f;
	int status;

	REQUIRE(k, "session");
	snprintf(fifo, sizeof(fifo), "%s/fifo", tmpdir);
	REQUIRE(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
	/* Blocks in open() until someone opens the FIFO for reading. */
	writer = fork();
	REQUIRE(writer >= 0, "fork: %s", strerror(errno));
	if (writer == 0)
		_exit(open(fifo, O_WRONLY) >= 0 ? 0 : 1);
	usleep(200000);
	t0 = mono_ms();
	REQUIRE(send_path_req(k, LG_MSG_FILE_GET, 1, fifo, -1), "FILE_GET");
	REQUIRE(wait_done(k, 1, 3000), "FILE_GET of a FIFO hangs");
	CHECK(k->r[1].errored && k->r[1].err == EINVAL, "FIFO: err %u '%s'",
	      k->r[1].err, k->r[1].msg);
	CHECK(mono_ms() - t0 < 1000, "FIFO: answered after %llu ms",
	      (unsigned long long)(mono_ms() - t0));
	usleep(200000);
	CHECK(waitpid(writer, &status, WNOHANG) == 0,
	      "the agent opened the FIFO");

	REQUIRE(send_path_req(k, LG_MSG_FILE_GET, 2, "/dev/null", -1), "GET");
	REQUIRE(wait_done(k, 2, RECV_MS), "no answer");
	CHECK(k->r[2].errored && k->r[2].err == EINVAL, "device: err %u",
	      k->r[2].err);
	REQUIRE(send_path_req(k, LG_MSG_FILE_GET, 3, sock_path, -1), "GET");
	REQUIRE(wait_done(k, 3, RECV_MS), "no answer");
	CHECK(k->r[3].errored && k->r[3].err == ENXIO, "socket: err %u",
	      k->r[3].err);

	/* Symlinks are followed, as open(2) does. */
	snprintf(target, sizeof(target), "%s/target", tmpdir);
	snprintf(link, sizeof(link), "%s/link", tmpdir);
	snprintf(dangling, sizeof(dangling), "%s/dangling", tmpdir);
	f = fopen(target, "w");
	REQUIRE(f && fputs("hello\n", f) >= 0 && fclose(f) == 0, "write %s",
		target);
	REQUIRE(chmod(target, 0604) == 0 && symlink(target, link) == 0 &&
			symlink("nonexistent", dangling) == 0,
		"symlink: %s", strerror(errno));
	REQUIRE(send_path_req(k, LG_MSG_FILE_GET, 4, link, -1), "GET");
	REQUIRE(wait_done(k, 4, RECV_MS), "no answer");
	CHECK(k->r[4].file_end && k->r[4].mode == 0604 &&
		      dbuf_eq(&k->r[4].out, "hello\n"),
	      "symlink: end %d mode %o '%s' err %u", k->r[4].file_end,
	      k->r[4].mode, dbuf_str(&k->r[4].out), k->r[4].err);
	REQUIRE(send_path_req(k, LG_MSG_FILE_GET, 5, dangling, -1), "GET");
	REQUIRE(wait_done(k, 5, RECV_MS), "no answer");
	CHECK(k->r[5].errored && k->r[5].err == ENOENT,
	      "dangling symlink: err %u", k->r[5].err);
out:
	if (writer > 0) {
		kill(writer, SIGKILL);
		waitpid(writer, NULL, 0);
	}
	conn_close(k);
}

/* True if dir holds a FILE_PUT temporary file. */
static bool has_tmp_file(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;

	while (d && (de = readdir(d)))
		found |= strstr(de->d_name, ".lgtmp-") != NULL;
	if (d)
		closedir(d);
	return found;
}

/* WINDOW does not belong on a FILE_PUT (no data flows to the host). */
static void test_file_put_window(void)
{
	struct conn *k = conn_open(true);
	char dir[256], path[300];

	REQUIRE(k, "session");
	snprintf(dir, sizeof(dir), "%s/putwin", tmpdir);
	snprintf(path, sizeof(path), "%s/f", dir);
	REQUIRE(send_path_req(k, LG_MSG_FILE_PUT, 1, path, 0644), "PUT");
	REQUIRE(client_send(k->c, LG_MSG_FILE_DATA, 1, "abc", 3) == 0 &&
			client_send_u32(k->c, LG_MSG_WINDOW, 1, LG_TAG_CREDIT,
					100) == 0 &&
			client_send(k->c, LG_MSG_FILE_END, 1, NULL, 0) == 0,
		"send");
	REQUIRE(wait_done(k, 1, RECV_MS), "no answer");
	CHECK(k->r[1].errored && k->r[1].err == EPROTO, "ok %d err %u '%s'",
	      k->r[1].ok, k->r[1].err, k->r[1].msg);
	CHECK(sync_ping(k) && k->r[1].after_done == 0 && !k->r[0].errored,
	      "%u frames after ERROR", k->r[1].after_done);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT, "%s was created",
	      path);
	CHECK(!has_tmp_file(dir), "temporary file left in %s", dir);
out:
	conn_close(k);
}

static void test_signal(void)
{
	static const char *const sleeper[] = {"sleep", "100", NULL};
	struct conn *k = conn_open(true);
	struct result *r;

	REQUIRE(k, "session");
	r = &k->r[1];
	REQUIRE(exec_send(k, 1, sleeper, NULL), "EXEC");
	REQUIRE(wait_started(k, 1), "not started: '%s'", r->msg);
	client_send_u32(k->c, LG_MSG_SIGNAL, 1, LG_TAG_SIGNO, SIGTERM);
	REQUIRE(wait_done(k, 1, RECV_MS), "SIGTERM did not end sleep");
	CHECK(r->exited && r->has_signal && r->signo == SIGTERM,
	      "signal %u code %u", r->signo, r->code);

	client_send_u32(k->c, LG_MSG_SIGNAL, 40, LG_TAG_SIGNO, SIGTERM);
	REQUIRE(wait_done(k, 40, RECV_MS), "no answer");
	CHECK(k->r[40].errored && k->r[40].err == ESRCH, "err %u",
	      k->r[40].err);
out:
	conn_close(k);
}

static void test_timeout(void)
{
	static const char *const sleeper[] = {"sleep", "100", NULL};
	struct exec_opts o = {.timeout_ms = 300};
	struct conn *k = conn_open(true);
	uint64_t t0 = mono_ms(), dt;

	REQUIRE(k, "session");
	REQUIRE(run(k, 1, sleeper, &o), "timeout did not end sleep");
	dt = mono_ms() - t0;
	CHECK(k->r[1].exited && k->r[1].has_signal && k->r[1].signo == 9,
	      "signal %u", k->r[1].signo);
	CHECK(dt >= 250 && dt < 5000, "took %llu ms", (unsigned long long)dt);
out:
	conn_close(k);
}

static void test_output_after_exit(void)
{
	static const char *const late[] = {
		"sh", "-c", "echo a; (sleep 0.5; echo late) & exit 3", NULL};
	static const char *const escaped[] = {"sh", "-c",
					      "setsid sleep 6 & echo x", NULL};
	struct conn *k = conn_open(true);
	uint64_t t0, dt;

	REQUIRE(k, "session");
	/* A background process of the group still writes: wait for it. */
	REQUIRE(run(k, 1, late, NULL), "no EXIT");
	CHECK(dbuf_eq(&k->r[1].out, "a\nlate\n"), "stdout '%s'",
	      dbuf_str(&k->r[1].out));
	CHECK(k->r[1].has_code && k->r[1].code == 3, "exit %u", k->r[1].code);

	/* One that left the group holds the pipe: EXIT comes anyway. */
	t0 = mono_ms();
	REQUIRE(run(k, 2, escaped, NULL), "no EXIT");
	dt = mono_ms() - t0;
	CHECK(dbuf_eq(&k->r[2].out, "x\n") && k->r[2].code == 0,
	      "stdout '%s' exit %u", dbuf_str(&k->r[2].out), k->r[2].code);
	CHECK(dt >= 1500 && dt < 5500, "EXIT after %llu ms",
	      (unsigned long long)dt);
out:
	conn_close(k);
}

/*
 * A process that left the exec's group keeps writing, and the host grants
 * credit steadily but a little late, so the exec is out of credit most of
 * the time: once the group is gone, EXIT must still come after about 2 s.
 */
static void test_linger_busy_writer(void)
{
	char script[512], pidfile[256];
	const char *const argv[] = {"sh", "-c", script, NULL};
	struct conn *k = conn_open(true);
	struct result *r;
	pid_t holder = 0;
	uint64_t t0, dt;

	snprintf(pidfile, sizeof(pidfile), "%s/busy.pid", tmpdir);
	/* timeout: a safety net should the test die before its cleanup. */
	snprintf(script, sizeof(script),
		 "setsid sh -c 'echo $$ >%s; exec timeout 20 yes' & exit 0",
		 pidfile);
	REQUIRE(k, "session");
	k->grant_delay_ms = 10;
	r = &k->r[1];
	r->discard = true;
	t0 = mono_ms();
	REQUIRE(exec_send(k, 1, argv, NULL), "EXEC");
	wait_done(k, 1, 10000);
	dt = mono_ms() - t0;
	REQUIRE(r->done, "no EXIT after %llu ms (%llu bytes of output)",
		(unsigned long long)dt, (unsigned long long)r->data_rx);
	CHECK(r->exited && r->has_code && r->code == 0, "exit %u err '%s'",
	      r->code, r->msg);
	CHECK(dt >= 1500 && dt < 8000, "EXIT after %llu ms",
	      (unsigned long long)dt);
	CHECK(r->data_rx > LG_WINDOW_INITIAL, "only %llu bytes of output",
	      (unsigned long long)r->data_rx);
	k->grant_delay_ms = 0;
	CHECK(sync_ping(k) && r->after_done == 0, "%u frames after EXIT",
	      r->after_done);
out:
	/* Nothing of the agent's kills it: the exec is over. */
	holder = read_pid_file(pidfile, 2000);
	CHECK(holder > 0, "the writer's pid never showed up");
	CHECK(kill_pgrp(holder), "the writer (group %d) survived", (int)holder);
	conn_close(k);
}

/* clone3(2) arguments up to set_tid_size (CLONE_ARGS_SIZE_VER1). */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal;
	uint64_t stack, stack_size, tls, set_tid, set_tid_size;
};

/*
 * A child with pid `want` (needs CAP_SYS_ADMIN) that leads a new session
 * and process group, so its pgid is `want` too, and waits to be killed.
 * Its pid, or -errno.
 */
static pid_t spawn_with_pid(pid_t want)
{
	pid_t tid = want;
	struct clone3_args a = {
		.exit_signal = SIGCHLD,
		.set_tid = (uint64_t)(uintptr_t)&tid,
		.set_tid_size = 1,
	};
	uint64_t deadline;
	long rc = syscall(SYS_clone3, &a, sizeof(a));

	if (rc < 0)
		return -errno;
	if (rc == 0) {
		/* No exec here: drop the test's sockets, or sessions stay. */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		setsid();
		for (;;)
			pause();
	}
	deadline = mono_ms() + 5000;
	while (getpgid((pid_t)rc) != (pid_t)rc && mono_ms() < deadline)
		usleep(1000);
	return (pid_t)rc;
}

/*
 * The exec's child is reaped and its process group is empty while EXIT is
 * still pending (a holder that escaped with setsid keeps stdout open).
 * Then an unrelated group takes over the pgid: neither SIGNAL
 * (by_signal) nor the end of the session may touch it, and EXIT comes.
 */
static void check_reused_pgid(bool by_signal)
{
	char script[512], pidfile[256];
	const char *const argv[] = {"sh", "-c", script, NULL};
	struct conn *k = conn_open(true);
	pid_t pid, holder = 0, other = 0;
	struct result *r;
	int status;

	snprintf(pidfile, sizeof(pidfile), "%s/holder-%d.pid", tmpdir,
		 by_signal);
	snprintf(script, sizeof(script),
		 "setsid sh -c 'echo $$ >%s; exec sleep 30' & exit 0", pidfile);
	REQUIRE(k, "session");
	r = &k->r[1];
	REQUIRE(exec_send(k, 1, argv, NULL) && wait_started(k, 1),
		"not started: '%s'", r->msg);
	pid = (pid_t)r->pid;
	REQUIRE(pgrp_gone(pid, 5000), "group %d not empty", (int)pid);
	/* The agent looks every 100 ms; give it time to see it empty. */
	usleep(300000);
	REQUIRE(!r->done, "EXIT before the test was ready");
	other = spawn_with_pid(pid);
	if (other < 0) {
		printf("     (pgid reuse not tested: clone3 pid %d: %s)\n",
		       (int)pid, strerror(-other));
		other = 0;
		goto out;
	}
	if (by_signal) {
		client_send_u32(k->c, LG_MSG_SIGNAL, 1, LG_TAG_SIGNO, SIGTERM);
		REQUIRE(sync_ping(k), "ping");
		usleep(100000);
		CHECK(waitpid(other, &status, WNOHANG) == 0,
		      "SIGNAL hit the group that reused pgid %d", (int)pid);
		CHECK(!r->errored, "SIGNAL answered: err %u '%s'", r->err,
		      r->msg);
		CHECK(wait_done(k, 1, 5000) && r->exited && r->code == 0,
		      "no EXIT while pgid %d belongs to another group",
		      (int)pid);
	} else {
		conn_close(k);
		k = NULL;
		usleep(300000);
		CHECK(waitpid(other, &status, WNOHANG) == 0,
		      "the session's end killed the group that reused pgid %d",
		      (int)pid);
	}
out:
	if (other > 0) {
		kill(other, SIGKILL);
		waitpid(other, &status, 0);
	}
	holder = read_pid_file(pidfile, 2000);
	CHECK(kill_pgrp(holder), "holder group %d survived", (int)holder);
	conn_close(k);
}

static void test_reused_pgid(void)
{
	check_reused_pgid(true);
	check_reused_pgid(false);
}

static void test_session_end_kills(void)
{
	static const char *const sleeper[] = {"sleep", "100", NULL};
	struct conn *k = conn_open(true);
	pid_t pid;

	REQUIRE(k, "session");
	REQUIRE(exec_send(k, 1, sleeper, NULL), "EXEC");
	REQUIRE(wait_started(k, 1), "not started");
	pid = (pid_t)k->r[1].pid;
	conn_close(k);
	k = NULL;
	CHECK(pid_gone(pid, 5000), "exec %d survived its session", (int)pid);
out:
	conn_close(k);
}

static void test_stream_ids(void)
{
	static const char *const sleeper[] = {"sleep", "100", NULL};
	static const char *const truecmd[] = {"true", NULL};
	struct conn *k = conn_open(true);
	pid_t pid;

	REQUIRE(k, "session");
	REQUIRE(exec_send(k, 0, truecmd, NULL), "EXEC");
	REQUIRE(wait_done(k, 0, RECV_MS), "no answer");
	CHECK(k->r[0].errored && k->r[0].err == EINVAL, "stream 0: err %u",
	      k->r[0].err);

	REQUIRE(exec_send(k, 3, sleeper, NULL), "EXEC");
	REQUIRE(wait_started(k, 3), "not started");
	pid = (pid_t)k->r[3].pid;
	REQUIRE(exec_send(k, 3, truecmd, NULL), "EXEC");
	REQUIRE(wait_done(k, 3, RECV_MS), "no answer");
	CHECK(k->r[3].errored && k->r[3].err == EINVAL, "dup: err %u",
	      k->r[3].err);
	CHECK(pid_gone(pid, 5000), "exec on a reused id not killed");
	CHECK(sync_ping(k) && k->r[3].after_done == 0, "%u frames after ERROR",
	      k->r[3].after_done);
out:
	conn_close(k);
}

/* Connects, optionally says HELLO, sends raw bytes; expects ERROR+close. */
static void expect_rejected(const char *what, bool hello, const void *bytes,
			    size_t len, uint32_t want_err)
{
	struct client *c = client_connect(sock_path);
	struct msg m = {0};
	uint32_t err = 0;
	char text[256] = "";
	int rc;

	REQUIRE(c, "%s: connect", what);
	if (hello) {
		REQUIRE(send_hello(c) &&
				client_recv(c, &m, RECV_MS) == RECV_MSG &&
				m.type == LG_MSG_HELLO_OK,
			"%s: HELLO", what);
		msg_free(&m);
	}
	client_send_raw(c, bytes, len);
	rc = client_recv(c, &m, RECV_MS);
	REQUIRE(rc == RECV_MSG, "%s: no ERROR frame (rc %d)", what, rc);
	lg_error_decode(m.data, m.len, &err, text, sizeof(text));
	CHECK(m.type == LG_MSG_ERROR && m.stream == 0 && err == want_err,
	      "%s: got %s on stream %u, errno %u '%s'", what,
	      lg_frame_type_name(m.type), m.stream, err, text);
	CHECK(text[0] != '\0', "%s: ERROR without a message", what);
	msg_free(&m);
	/* At once, not when the 2 s drain timeout gives up on us. */
	rc = client_recv(c, &m, 1000);
	CHECK(rc == RECV_EOF, "%s: session not closed (rc %d)", what, rc);
out:
	msg_free(&m);
	client_free(c);
}

static void test_malformed(void)
{
	static const char *const echo[] = {"echo", "alive", NULL};
	uint8_t buf[64], tlv[] = {10, 0, 50, 0, 0, 0, 's', 'h'};
	struct conn *k = conn_open(true);
	size_t n;

	REQUIRE(k, "session");
	expect_rejected("garbage magic", true, "GARBAGE-GARBAGE!", 16, EBADMSG);
	n = frame(buf, LG_MSG_EXEC, 1, NULL, 0);
	buf[8] = 0xff; /* length 0xff000000 */
	buf[11] = 0xff;
	expect_rejected("oversized length", true, buf, n, EBADMSG);
	n = frame(buf, LG_MSG_HELLO, 0, NULL, 0);
	buf[3] = 0x55;
	expect_rejected("unknown type", true, buf, n, EPROTO);
	n = frame(buf, LG_MSG_HELLO, 0, NULL, 0);
	buf[2] = LG_PROTO_VERSION + 1;
	expect_rejected("bad version", false, buf, n, EPROTO);
	n = frame(buf, LG_MSG_EXEC, 1, tlv, sizeof(tlv));
	expect_rejected("truncated TLV", true, buf, n, EBADMSG);
	n = frame(buf, LG_MSG_EXEC, 1, NULL, 0);
	expect_rejected("EXEC before HELLO", false, buf, n, EPROTO);
	n = frame(buf, LG_MSG_STDOUT, 1, "x", 1);
	expect_rejected("guest frame from host", true, buf, n, EPROTO);

	/* The other session lives on. */
	REQUIRE(run(k, 1, echo, NULL), "exec on the good session");
	CHECK(dbuf_eq(&k->r[1].out, "alive\n"), "stdout '%s'",
	      dbuf_str(&k->r[1].out));
out:
	conn_close(k);
}

/*
 * As the host's client does it: SHUTDOWN on a fresh stream id right after
 * an exec ended (its WINDOW frames still crossing the EXIT).
 */
static void test_shutdown(void)
{
	static const char *const sleeper[] = {"sleep", "100", NULL};
	static const char *const echo[] = {"echo", "bye", NULL};
	struct conn *k = conn_open(true);
	uint64_t deadline = mono_ms() + 10000;
	int status = -1;
	pid_t w = 0, pid;

	REQUIRE(k, "session");
	REQUIRE(exec_send(k, 1, sleeper, NULL) && wait_started(k, 1), "exec");
	pid = (pid_t)k->r[1].pid;
	REQUIRE(run(k, 2, echo, NULL) && k->r[2].exited, "exec 2");
	REQUIRE(client_send(k->c, LG_MSG_SHUTDOWN, 3, NULL, 0) == 0,
		"SHUTDOWN");
	REQUIRE(wait_done(k, 3, RECV_MS), "no answer to SHUTDOWN");
	CHECK(k->r[3].ok, "SHUTDOWN answered with err %u '%s'", k->r[3].err,
	      k->r[3].msg);
	CHECK(!k->r[0].errored && !k->r[1].done && k->r[2].after_done == 0,
	      "session error %u '%s'", k->r[0].err, k->r[0].msg);
	while (mono_ms() < deadline &&
	       (w = waitpid(agent_pid, &status, WNOHANG)) == 0)
		usleep(20000);
	REQUIRE(w == agent_pid, "agent still running after SHUTDOWN");
	agent_pid = 0;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "agent ended with status %#x", status);
	CHECK(pid_dead(pid, 5000), "exec %d survived SHUTDOWN", (int)pid);
	CHECK(access(sock_path, F_OK) < 0, "socket %s left behind", sock_path);
out:
	conn_close(k);
}

/* ---- driver --------------------------------------------------------- */

static bool selected(const char *name, int argc, char **argv)
{
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return true;
	return argc <= 2;
}

static bool start_agent(const char *agent)
{
	for (int i = 0; i < 100; i++) {
		struct client *c;

		if (i == 0) {
			agent_pid = fork();
			if (agent_pid < 0)
				return false;
			if (agent_pid == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				execl(agent, agent, "--unix", sock_path,
				      (char *)NULL);
				perror(agent);
				_exit(127);
			}
		}
		usleep(50000);
		if (!agent_alive())
			return false;
		c = client_connect(sock_path);
		if (c) {
			client_free(c);
			return true;
		}
	}
	return false;
}

static void stop_agent(void)
{
	if (agent_pid <= 0)
		return;
	kill(agent_pid, SIGTERM);
	waitpid(agent_pid, NULL, 0);
	agent_pid = 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{"hello", test_hello},
	{"exec-status", test_exec_status},
	{"exec-failures", test_exec_failures},
	{"exec-env", test_exec_env},
	{"exec-user", test_exec_user},
	{"stdin", test_stdin},
	{"stdin-errors", test_stdin_errors},
	{"big-output", test_big_output},
	{"throttle", test_throttle},
	{"input-backpressure", test_input_backpressure},
	{"concurrent", test_concurrent},
	{"files", test_files},
	{"file-get-types", test_file_get_types},
	{"file-put-window", test_file_put_window},
	{"signal", test_signal},
	{"timeout", test_timeout},
	{"output-after-exit", test_output_after_exit},
	{"linger-busy-writer", test_linger_busy_writer},
	{"reused-pgid", test_reused_pgid},
	{"session-end-kills", test_session_end_kills},
	{"stream-ids", test_stream_ids},
	{"malformed", test_malformed},
	{"shutdown", test_shutdown}, /* last: the agent exits */
};

int main(int argc, char **argv)
{
	const char *agent = argc > 1 ? argv[1] : getenv("LG_TEST_AGENT");
	const char *base = getenv("TMPDIR");

	if (!agent || !agent[0]) {
		printf("SKIP: no lg-agent (argument or $LG_TEST_AGENT)\n");
		return SKIP_EXIT;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmpdir, sizeof(tmpdir), "%s/lg-agent-test.XXXXXX",
		 base && base[0] ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(sock_path, sizeof(sock_path), "%s/agent.sock", tmpdir);
	if (!CHECK(start_agent(agent), "%s --unix %s did not come up", agent,
		   sock_path)) {
		stop_agent();
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		return 1;
	}
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		int before = failures;
		uint64_t t0 = mono_ms();

		if (!selected(tests[i].name, argc, argv))
			continue;
		current_test = tests[i].name;
		tests[i].fn();
		if (i + 1 < sizeof(tests) / sizeof(tests[0]))
			CHECK(agent_alive(), "the agent died");
		printf("%-4s %s (%llu ms)\n",
		       failures == before ? "ok" : "FAIL", tests[i].name,
		       (unsigned long long)(mono_ms() - t0));
		fflush(stdout);
	}
	stop_agent();
	nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}
