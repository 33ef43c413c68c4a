/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of the vsock handshake (hv/fc-vsock.h): retries, bounds,
 * timeouts, cancellation and what is left in the stream afterwards.
 *
 * The peer is a Unix socket served by a thread of this test that plays
 * the VMM's side as Firecracker documents it (docs/vsock.md): it reads
 * "CONNECT <port>\n" and either closes the connection (no guest listener
 * yet), stays silent (connection pending) or answers. It is not a VMM;
 * the same code runs against lgvmm's real vsock device in test-hv-fc.c.
 */
#include "check.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "hv/fc-vsock.h"
#include "hv/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PORT 5123u

static char dir[256];

struct peer {
	char path[300];
	int listen_fd;
	unsigned bind_after_ms; /* the socket appears late */
	unsigned refuse_first;	/* close this many connections first */
	bool silent;		/* never answer */
	const char *answer;	/* written after the CONNECT line */
	/* Filled in by the peer. */
	_Atomic unsigned connections;
	char request[64];
	pthread_t thread;
	int stop_fd; /* eventfd: end the peer */
};

static int peer_listen(struct peer *p)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(p->path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "socket path too long: %s\n", p->path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memcpy(sa.sun_path, p->path, strlen(p->path) + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0) {
		perror(p->path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads the request line (up to '\n') as the VMM does. */
static void read_request(struct peer *p, int c)
{
	size_t n = 0;
	char ch;

	while (n + 1 < sizeof(p->request) && read(c, &ch, 1) == 1) {
		p->request[n++] = ch;
		if (ch == '\n')
			break;
	}
	p->request[n] = '\0';
}

static bool stopped(struct peer *p, int timeout_ms)
{
	struct pollfd pfd = {.fd = p->stop_fd, .events = POLLIN};

	return poll(&pfd, 1, timeout_ms) == 1;
}

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	struct pollfd pfd[2];
	int c;

	if (p->bind_after_ms && stopped(p, (int)p->bind_after_ms))
		return NULL;
	p->listen_fd = peer_listen(p);
	if (p->listen_fd < 0)
		return NULL;
	for (;;) {
		pfd[0] = (struct pollfd){.fd = p->listen_fd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = p->stop_fd, .events = POLLIN};
		if (poll(pfd, 2, -1) < 0 || pfd[1].revents)
			break;
		c = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		p->connections++;
		read_request(p, c);
		if (p->connections <= p->refuse_first) {
			close(c); /* as the VMM does when the guest resets */
			continue;
		}
		if (!p->silent && p->answer &&
		    write(c, p->answer, strlen(p->answer)) < 0)
			perror("peer write");
		/* Keep the connection until the test ends the peer. */
		stopped(p, -1);
		close(c);
		break;
	}
	close(p->listen_fd);
	return NULL;
}

static void peer_start(struct peer *p, const char *name)
{
	snprintf(p->path, sizeof(p->path), "%s/%s", dir, name);
	p->stop_fd = eventfd(0, EFD_CLOEXEC);
	pthread_create(&p->thread, NULL, peer_main, p);
}

static void peer_stop(struct peer *p)
{
	uint64_t one = 1;

	if (write(p->stop_fd, &one, sizeof(one)) < 0)
		perror("eventfd");
	pthread_join(p->thread, NULL);
	close(p->stop_fd);
	unlink(p->path);
}

static struct lg_fc_vsock_wait wait_ms(unsigned ms)
{
	return (struct lg_fc_vsock_wait){
		.deadline_ns = lg_now_ns() + (uint64_t)ms * 1000000ull,
		.cancel_fd = -1,
	};
}

static void test_ok(void)
{
	struct peer p = {.answer = "OK 1073741824\nfrom-guest"};
	struct lg_fc_vsock_wait w = wait_ms(5000);
	char err[512], buf[32] = {0};
	int fd, ret;
	ssize_t n;

	peer_start(&p, "ok.sock");
	ret = lg_fc_vsock_connect(p.path, PORT, &w, &fd, err, sizeof(err));
	check(ret == 0, "handshake: %d %s", ret, ret ? err : "");
	check(!strcmp(p.request, "CONNECT 5123\n"), "request line: '%s'",
	      p.request);
	if (ret == 0) {
		check(!(fcntl(fd, F_GETFL) & O_NONBLOCK), "fd is blocking");
		n = read(fd, buf, sizeof(buf) - 1);
		check(n == 10 && !strcmp(buf, "from-guest"),
		      "bytes after the reply line are left in the stream: '%s'",
		      buf);
		close(fd);
	}
	peer_stop(&p);
}

static void test_retries(void)
{
	struct peer p = {
		.answer = "OK 7\n", .refuse_first = 3, .bind_after_ms = 150};
	struct lg_fc_vsock_wait w = wait_ms(5000);
	uint64_t t0 = lg_now_ns();
	char err[512];
	int fd, ret;

	peer_start(&p, "late.sock");
	ret = lg_fc_vsock_connect(p.path, PORT, &w, &fd, err, sizeof(err));
	check(ret == 0 && p.connections == 4,
	      "socket missing for 150 ms, then 3 closed connections, then OK: "
	      "%d after %u connections",
	      ret, p.connections);
	check(lg_now_ns() - t0 < 2000000000ull, "retried promptly");
	if (ret == 0)
		close(fd);
	peer_stop(&p);
}

static void test_bad_replies(void)
{
	static const struct {
		const char *answer, *want;
	} cases[] = {
		{"NOPE\n", "\"NOPE\""},
		{"OK\x01\n", "\"OK?\""},
		{"OK 99999999999\n", "\"OK 99999999999\""},
		{"OK 12x\n", "\"OK 12x\""},
		{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		 "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...\""},
	};
	char err[512];
	int fd, ret;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct peer p = {.answer = cases[i].answer};
		struct lg_fc_vsock_wait w = wait_ms(3000);
		uint64_t t0 = lg_now_ns();

		peer_start(&p, "bad.sock");
		ret = lg_fc_vsock_connect(p.path, PORT, &w, &fd, err,
					  sizeof(err));
		check(ret == -EPROTO && strstr(err, "unexpected reply") &&
			      strstr(err, cases[i].want) &&
			      lg_now_ns() - t0 < 1000000000ull,
		      "bad reply %zu refused at once: %d '%s'", i, ret, err);
		if (ret == 0)
			close(fd);
		peer_stop(&p);
	}
}

static void test_silent(void)
{
	struct peer p = {.silent = true};
	struct lg_fc_vsock_wait w = wait_ms(700);
	uint64_t t0 = lg_now_ns(), ms;
	char err[512];
	int fd, ret;

	w.attempt_ms = 200;
	peer_start(&p, "silent.sock");
	ret = lg_fc_vsock_connect(p.path, PORT, &w, &fd, err, sizeof(err));
	ms = (lg_now_ns() - t0) / 1000000;
	check(ret == -ETIMEDOUT && strstr(err, "no answer from guest vsock "
					       "port 5123"),
	      "silent peer: %d '%s'", ret, err);
	check(ms >= 690 && ms < 1500, "gave up at the deadline: %llu ms",
	      (unsigned long long)ms);
	peer_stop(&p);

	/* Nothing there at all. */
	snprintf(p.path, sizeof(p.path), "%s/none.sock", dir);
	w = wait_ms(200);
	ret = lg_fc_vsock_connect(p.path, PORT, &w, &fd, err, sizeof(err));
	check(ret == -ETIMEDOUT, "missing socket until the deadline: %d", ret);
}

static void test_cancel_and_exit(void)
{
	struct peer p = {.silent = true};
	struct lg_fc_vsock_wait w = wait_ms(5000);
	struct lg_proc proc;
	struct lg_proc_opts o = {.log_fd = STDERR_FILENO};
	char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
	uint64_t one = 1, t0;
	char err[512];
	int fd, ret, st;

	peer_start(&p, "cancel.sock");
	w.cancel_fd = eventfd(0, EFD_CLOEXEC);
	if (write(w.cancel_fd, &one, sizeof(one)) < 0)
		perror("eventfd");
	t0 = lg_now_ns();
	ret = lg_fc_vsock_connect(p.path, PORT, &w, &fd, err, sizeof(err));
	check(ret == -ECANCELED && lg_now_ns() - t0 < 1000000000ull,
	      "cancel_fd readable: %d '%s'", ret, err);
	close(w.cancel_fd);

	w = wait_ms(5000);
	if (lg_proc_spawn(argv[0], argv, &o, &proc, err, sizeof(err)) < 0) {
		check(false, "spawn: %s", err);
		peer_stop(&p);
		return;
	}
	w.proc = &proc;
	t0 = lg_now_ns();
	ret = lg_fc_vsock_connect(p.path, PORT, &w, &fd, err, sizeof(err));
	check(ret == -ECHILD && lg_now_ns() - t0 < 2000000000ull,
	      "VMM exit ends the wait: %d '%s'", ret, err);
	check(lg_proc_reap(&proc, 1000, &st) == 1,
	      "VMM left for its owner to reap");
	lg_proc_release(&proc);
	peer_stop(&p);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "%s/lg-fc-vsock.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_ok();
	test_retries();
	test_bad_replies();
	test_silent();
	test_cancel_and_exit();
	if (lg_rm_rf(dir) < 0)
		printf("# could not remove %s\n", dir);
	printf("%s\n", failures ? "FAILED" : "PASSED");
	return failures ? 1 : 0;
}
