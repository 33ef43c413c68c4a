/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stdio transport: one reader thread polls the server's stdout, its
 * stderr and its pidfd. It never reaps: it reads the exit status with
 * WNOWAIT, so destroy() is the one place that signals and reaps, and a
 * process group id is never signalled after its leader was reaped.
 */
#include "mcp/stdio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/stdio-child.h"

#define STDERR_LINE_MAX 4096u

struct linebuf {
	char *buf;
	size_t len, cap, max;
	bool discarding; /* in an over-long line: skip to its newline */
	bool split;	 /* over-long lines are cut, not dropped (stderr) */
};

struct stdio_transport {
	struct mcp_transport base;
	struct stdio_child ch;
	char name[64];
	unsigned int wait_ms, write_ms;
	pthread_mutex_t write_lock;
	pthread_t reader;
	bool reader_started;
	int wake; /* eventfd: destroy() stops the reader */
	bool stopping;
	const struct mcp_transport_events *ev;
	void *opaque;
	struct linebuf out, err;
};

static struct stdio_transport *to_stdio(struct mcp_transport *t)
{
	return (struct stdio_transport *)t;
}

/* Appends data; calls fn for each complete line. */
static void linebuf_feed(struct linebuf *lb, const char *data, size_t n,
			 void (*fn)(struct stdio_transport *, char *, size_t),
			 struct stdio_transport *s, const char *what)
{
	while (n) {
		const char *nl = memchr(data, '\n', n);
		size_t chunk = nl ? (size_t)(nl - data) : n;

		if (lb->split && lb->len + chunk > lb->max) {
			size_t take = lb->max - lb->len;

			memcpy(lb->buf + lb->len, data, take);
			lb->buf[lb->max] = '\0';
			fn(s, lb->buf, lb->max);
			lb->len = 0;
			data += take;
			n -= take;
			continue;
		}
		if (!lb->discarding && lb->len + chunk > lb->max) {
			lg_warn("mcp %s: dropping a %s line longer than %zu "
				"bytes",
				s->name, what, lb->max);
			lb->discarding = true;
			lb->len = 0;
		}
		if (!lb->discarding) {
			if (lb->len + chunk + 1 > lb->cap) {
				size_t cap = lb->cap ? lb->cap : 4096;
				char *nb;

				while (cap < lb->len + chunk + 1)
					cap *= 2;
				nb = realloc(lb->buf, cap);
				if (!nb) {
					lg_warn("mcp %s: out of memory for a "
						"line",
						s->name);
					lb->discarding = true;
					lb->len = 0;
					goto next;
				}
				lb->buf = nb;
				lb->cap = cap;
			}
			memcpy(lb->buf + lb->len, data, chunk);
			lb->len += chunk;
		}
	next:
		if (!nl)
			return;
		if (!lb->discarding) {
			lb->buf[lb->len] = '\0';
			fn(s, lb->buf, lb->len);
		}
		lb->discarding = false;
		lb->len = 0;
		data = nl + 1;
		n -= chunk + 1;
	}
}

static void stdout_line(struct stdio_transport *s, char *line, size_t len)
{
	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
		       line[len - 1] == '\t'))
		len--;
	if (len)
		s->ev->message(s->opaque, line, len);
}

static void stderr_line(struct stdio_transport *s, char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	lg_debug("mcp %s: %s", s->name, line);
}

/* Feeds what fd has; 1 data, 0 EOF, -EAGAIN nothing now, -errno. */
static int fd_pump(struct stdio_transport *s, int fd, struct linebuf *lb,
		   void (*fn)(struct stdio_transport *, char *, size_t),
		   const char *what)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n < 0)
		return errno == EINTR ? 1 : -errno;
	if (n == 0) {
		/* A last line without its newline still counts. */
		if (lb->len && !lb->discarding)
			linebuf_feed(lb, "\n", 1, fn, s, what);
		return 0;
	}
	linebuf_feed(lb, buf, (size_t)n, fn, s, what);
	return 1;
}

/* Reads the exit status without reaping; false while it runs. */
static bool child_status(struct stdio_transport *s, char *why, size_t n,
			 int *err)
{
	siginfo_t si = {0};

	if (waitid(P_PID, (id_t)s->ch.pid, &si, WEXITED | WNOHANG | WNOWAIT) <
		    0 ||
	    si.si_pid == 0)
		return false;
	if (si.si_code == CLD_EXITED) {
		snprintf(why, n, "server '%s' exited with status %d", s->name,
			 si.si_status);
		*err = si.si_status ? -ECONNRESET : 0;
	} else {
		snprintf(why, n, "server '%s' was killed by signal %d (%s)",
			 s->name, si.si_status, strsignal(si.si_status));
		*err = -ECONNRESET;
	}
	return true;
}

/* Whatever is left in the pipes now, without blocking. */
static void pipes_drain(struct stdio_transport *s, bool out_open, bool err_open)
{
	fcntl(s->ch.out, F_SETFL, O_NONBLOCK);
	fcntl(s->ch.err, F_SETFL, O_NONBLOCK);
	while (out_open &&
	       fd_pump(s, s->ch.out, &s->out, stdout_line, "stdout") > 0)
		;
	while (err_open &&
	       fd_pump(s, s->ch.err, &s->err, stderr_line, "stderr") > 0)
		;
}

static void *reader_main(void *arg)
{
	struct stdio_transport *s = arg;
	bool out_open = true, err_open = true, exited = false;
	char why[256] = "";
	int err = 0;
	struct timespec eof_at = {0};

	for (;;) {
		struct pollfd fds[4] = {
			{.fd = s->wake, .events = POLLIN},
			{.fd = out_open ? s->ch.out : -1, .events = POLLIN},
			{.fd = err_open ? s->ch.err : -1, .events = POLLIN},
			{.fd = s->ch.pidfd, .events = POLLIN},
		};
		int timeout = -1;

		if (!out_open) {
			/* Closed stdout: give the process the shutdown wait
			 * to exit, so the report can say how it ended. */
			struct timespec now;
			long ms;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (now.tv_sec - eof_at.tv_sec) * 1000 +
			     (now.tv_nsec - eof_at.tv_nsec) / 1000000;
			if (ms >= (long)s->wait_ms)
				break;
			timeout = (int)(s->wait_ms - ms);
		}
		if (poll(fds, 4, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents)
			return NULL; /* destroy(): no callbacks */
		if (fds[1].revents && fd_pump(s, s->ch.out, &s->out,
					      stdout_line, "stdout") <= 0) {
			out_open = false;
			clock_gettime(CLOCK_MONOTONIC, &eof_at);
		}
		if (fds[2].revents &&
		    fd_pump(s, s->ch.err, &s->err, stderr_line, "stderr") <= 0)
			err_open = false;
		if (fds[3].revents) {
			exited = true;
			break;
		}
	}
	if (exited)
		pipes_drain(s, out_open, err_open);
	if (!child_status(s, why, sizeof(why), &err))
		snprintf(why, sizeof(why), "server '%s' closed its stdout",
			 s->name);
	if (!__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE))
		s->ev->closed(s->opaque, err, why);
	return NULL;
}

static int stdio_start(struct mcp_transport *t,
		       const struct mcp_transport_events *ev, void *opaque,
		       char *err, size_t err_size)
{
	struct stdio_transport *s = to_stdio(t);
	int rc;

	s->ev = ev;
	s->opaque = opaque;
	rc = pthread_create(&s->reader, NULL, reader_main, s);
	if (rc) {
		snprintf(err, err_size, "pthread_create: %s", strerror(rc));
		return -rc;
	}
	s->reader_started = true;
	return 0;
}

/* Writes all of iov, waiting at most write_ms for the server to read. */
static int write_all(struct stdio_transport *s, struct iovec *iov, int n)
{
	while (n) {
		struct pollfd pfd = {.fd = s->ch.in, .events = POLLOUT};
		ssize_t w = writev(s->ch.in, iov, n);

		if (w < 0 && errno == EAGAIN) {
			int r = poll(&pfd, 1, (int)s->write_ms);

			if (r == 0)
				return -ETIMEDOUT;
			if (r < 0 && errno != EINTR)
				return -errno;
			continue;
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int stdio_send(struct mcp_transport *t, const char *msg, size_t len,
		      char *err, size_t err_size)
{
	struct stdio_transport *s = to_stdio(t);
	struct iovec iov[2] = {
		{.iov_base = (void *)msg, .iov_len = len},
		{.iov_base = "\n", .iov_len = 1},
	};
	struct timespec zero = {0};
	sigset_t pipe_set, old;
	int rc;

	if (memchr(msg, '\n', len)) {
		snprintf(err, err_size, "a message with a newline in it");
		return -EINVAL;
	}
	/* A server gone away must be an EPIPE here, not a dead process. */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	pthread_mutex_lock(&s->write_lock);
	rc = s->ch.in >= 0 ? write_all(s, iov, 2) : -EPIPE;
	pthread_mutex_unlock(&s->write_lock);
	if (rc == -EPIPE && !sigismember(&old, SIGPIPE))
		sigtimedwait(&pipe_set, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0)
		snprintf(err, err_size, "writing to server '%s': %s", s->name,
			 strerror(-rc));
	return rc;
}

static bool exited_within(struct stdio_transport *s, unsigned int ms)
{
	struct pollfd pfd = {.fd = s->ch.pidfd, .events = POLLIN};
	int r;

	do
		r = poll(&pfd, 1, (int)ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* Close stdin, wait, SIGTERM, wait, SIGKILL; then reap. */
static void child_stop(struct stdio_transport *s)
{
	pthread_mutex_lock(&s->write_lock);
	close(s->ch.in);
	s->ch.in = -1;
	pthread_mutex_unlock(&s->write_lock);
	if (!exited_within(s, s->wait_ms)) {
		lg_debug("mcp %s: still running after stdin closed: SIGTERM",
			 s->name);
		kill(-s->ch.pid, SIGTERM);
		if (!exited_within(s, s->wait_ms)) {
			lg_debug("mcp %s: still running: SIGKILL", s->name);
			kill(-s->ch.pid, SIGKILL);
		}
	}
	/* The leader is a zombie until reaped, so its group id is still
	 * ours: sweep anything it left behind in the group. */
	kill(-s->ch.pid, SIGKILL);
	while (waitpid(s->ch.pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void stdio_destroy(struct mcp_transport *t)
{
	struct stdio_transport *s = to_stdio(t);
	uint64_t one = 1;

	__atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE);
	child_stop(s);
	if (s->reader_started) {
		if (write(s->wake, &one, sizeof(one)) < 0)
			lg_debug("mcp %s: wake: %s", s->name, strerror(errno));
		pthread_join(s->reader, NULL);
	}
	close(s->ch.out);
	close(s->ch.err);
	close(s->ch.pidfd);
	close(s->wake);
	pthread_mutex_destroy(&s->write_lock);
	free(s->out.buf);
	free(s->err.buf);
	free(s);
}

static const struct mcp_transport_ops stdio_ops = {
	.name = "stdio",
	.start = stdio_start,
	.send = stdio_send,
	.destroy = stdio_destroy,
};

int mcp_stdio_transport_create(const struct mcp_stdio_opts *o,
			       struct mcp_transport **out, char *err,
			       size_t err_size)
{
	struct stdio_transport *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	s->base.ops = &stdio_ops;
	snprintf(s->name, sizeof(s->name), "%s",
		 o->name ? o->name
			 : (o->argv && o->argv[0] ? o->argv[0] : "?"));
	s->wait_ms = o->shutdown_wait_ms ? o->shutdown_wait_ms
					 : MCP_STDIO_SHUTDOWN_WAIT_MS;
	s->write_ms = o->write_timeout_ms ? o->write_timeout_ms
					  : MCP_STDIO_WRITE_TIMEOUT_MS;
	s->out.max = o->max_line && o->max_line < JSONRPC_MAX_MESSAGE
			     ? o->max_line
			     : JSONRPC_MAX_MESSAGE;
	s->err.max = STDERR_LINE_MAX;
	s->err.split = true;
	s->err.buf = malloc(STDERR_LINE_MAX + 1);
	s->err.cap = STDERR_LINE_MAX + 1;
	s->wake = eventfd(0, EFD_CLOEXEC);
	if (s->wake < 0 || !s->err.buf) {
		rc = s->wake < 0 ? -errno : -ENOMEM;
		snprintf(err, err_size, "eventfd: %s", strerror(-rc));
		if (s->wake >= 0)
			close(s->wake);
		free(s->err.buf);
		free(s);
		return rc;
	}
	rc = stdio_child_spawn(o, &s->ch, err, err_size);
	if (rc < 0) {
		close(s->wake);
		free(s->err.buf);
		free(s);
		return rc;
	}
	fcntl(s->ch.in, F_SETFL, O_NONBLOCK);
	pthread_mutex_init(&s->write_lock, NULL);
	lg_debug("mcp %s: started pid %d", s->name, (int)s->ch.pid);
	*out = &s->base;
	return 0;
}

pid_t mcp_stdio_transport_pid(const struct mcp_transport *t)
{
	return ((const struct stdio_transport *)t)->ch.pid;
}
