/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host-initiated vsock handshake of Firecracker (docs/vsock.md). A
 * guest still booting has no listener on the port: the VMM then closes
 * our connection (or, before the guest driver is up, lets it wait until
 * its connect timeout), so every attempt is bounded and retried until the
 * caller's deadline. The reply is read one byte at a time so that nothing
 * after its newline is taken from the stream the agent protocol uses.
 */
#include "hv/fc-vsock.h"
#include "hv/errmsg.h"
#include "hv/fc-proc.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define ATTEMPT_DEFAULT_MS 3000u
#define BACKOFF_FIRST_MS 5u
#define BACKOFF_MAX_MS 100u
/* Without a pidfd the VMM's exit is looked for this often. */
#define PROC_POLL_MS 50

/* One attempt's outcome besides success and fatal errors. */
#define RETRY 1

static uint64_t ms_from_now(unsigned ms)
{
	return lg_now_ns() + (uint64_t)ms * 1000000ull;
}

static int min_ms(int a, int b)
{
	return a < b ? a : b;
}

/*
 * Waits until fd is readable (fd -1: just waits), at most until until_ns.
 * Returns 1 readable, 0 until_ns passed, -ETIMEDOUT the overall deadline
 * passed, -ECANCELED, -ECHILD (VMM exited), or -errno.
 */
static int wait_for(int fd, const struct lg_fc_vsock_wait *w, uint64_t until_ns)
{
	struct pollfd p[3];
	int n = 0, i_fd = -1, i_cancel = -1, i_proc = -1, ms, r;

	if (fd >= 0) {
		i_fd = n;
		p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
	}
	if (w->cancel_fd > 0) {
		i_cancel = n;
		p[n++] = (struct pollfd){.fd = w->cancel_fd, .events = POLLIN};
	}
	if (w->proc && w->proc->pidfd >= 0) {
		i_proc = n;
		p[n++] =
			(struct pollfd){.fd = w->proc->pidfd, .events = POLLIN};
	}
	for (;;) {
		if (lg_fc_proc_exited(w->proc, 0, NULL))
			return -ECHILD;
		ms = min_ms(lg_ms_until(w->deadline_ns), lg_ms_until(until_ns));
		if (w->proc && w->proc->pidfd < 0)
			ms = min_ms(ms, PROC_POLL_MS);
		r = poll(p, (nfds_t)n, ms);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (i_cancel >= 0 && p[i_cancel].revents)
			return -ECANCELED;
		if (i_proc >= 0 && p[i_proc].revents &&
		    lg_fc_proc_exited(w->proc, 0, NULL))
			return -ECHILD;
		if (i_fd >= 0 && p[i_fd].revents)
			return 1;
		if (lg_ms_until(w->deadline_ns) == 0)
			return -ETIMEDOUT;
		if (lg_ms_until(until_ns) == 0)
			return 0;
	}
}

/* "OK <u32>" exactly. */
static bool reply_ok(const char *line)
{
	unsigned long v;
	char *end;

	if (strncmp(line, "OK ", 3) != 0 || line[3] < '0' || line[3] > '9')
		return false;
	errno = 0;
	v = strtoul(line + 3, &end, 10);
	return !errno && !*end && v <= 0xffffffffu;
}

/*
 * Reads the reply line. Returns 0 (line in buf, without its newline),
 * RETRY (closed, reset, or no reply before until_ns), or -errno.
 */
static int read_reply(int fd, const struct lg_fc_vsock_wait *w,
		      uint64_t until_ns, char *buf, size_t len, char *err,
		      size_t errlen)
{
	size_t used = 0;
	ssize_t n;
	char ch;
	int r;

	for (;;) {
		n = recv(fd, &ch, 1, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return RETRY; /* nobody listens in the guest (yet) */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return lg_hv_syserr(err, errlen, "vsock: recv");
		if (n < 0) {
			r = wait_for(fd, w, until_ns);
			if (r == 0)
				return RETRY;
			if (r < 0)
				return r;
			continue;
		}
		if (ch == '\n') {
			buf[used] = '\0';
			return 0;
		}
		if (used + 1 >= len) {
			buf[used] = '\0';
			return -EMSGSIZE;
		}
		buf[used++] = ch;
	}
}

/* Control and non-ASCII bytes of s become '?', for messages. */
static void clean(char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
	}
}

static int set_blocking(int fd, char *err, size_t errlen)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
		return lg_hv_syserr(err, errlen, "vsock: fcntl");
	return 0;
}

/* One connection and handshake: 0 (fd in *out), RETRY, or -errno. */
static int attempt(const struct sockaddr_un *sa, unsigned port,
		   const struct lg_fc_vsock_wait *w, int *out, char *err,
		   size_t errlen)
{
	char req[32], reply[LG_FC_VSOCK_REPLY_MAX];
	unsigned ms = w->attempt_ms ? w->attempt_ms : ATTEMPT_DEFAULT_MS;
	int fd, n, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return lg_hv_syserr(err, errlen, "vsock: socket");
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		ret = errno == ENOENT || errno == ECONNREFUSED ||
				      errno == EAGAIN
			      ? RETRY
			      : lg_hv_syserr(err, errlen, "vsock: connect %s",
					     sa->sun_path);
		close(fd);
		return ret;
	}
	n = snprintf(req, sizeof(req), "CONNECT %u\n", port);
	/* A fresh socket's buffer takes these few bytes at once. */
	if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		close(fd);
		return RETRY; /* the VMM closed it already */
	}
	ret = read_reply(fd, w, ms_from_now(ms), reply, sizeof(reply), err,
			 errlen);
	if (ret == 0 && !reply_ok(reply))
		ret = -EPROTO;
	if (ret == -EPROTO || ret == -EMSGSIZE) {
		clean(reply);
		snprintf(err, errlen,
			 "vsock %s: unexpected reply to CONNECT %u: \"%s%s\"",
			 sa->sun_path, port, reply,
			 ret == -EMSGSIZE ? "..." : "");
		ret = -EPROTO;
	}
	if (ret == 0)
		ret = set_blocking(fd, err, errlen);
	if (ret == 0)
		*out = fd;
	else
		close(fd);
	return ret;
}

int lg_fc_vsock_connect(const char *uds_path, unsigned port,
			const struct lg_fc_vsock_wait *w, int *fd, char *err,
			size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t start = lg_now_ns();
	unsigned backoff = BACKOFF_FIRST_MS, attempts = 0;
	int ret;

	*fd = -1;
	if (strlen(uds_path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "vsock socket path too long: %s",
			 uds_path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, uds_path, strlen(uds_path) + 1);
	for (;;) {
		attempts++;
		ret = attempt(&sa, port, w, fd, err, errlen);
		if (ret != RETRY)
			break;
		ret = wait_for(-1, w, ms_from_now(backoff));
		if (ret < 0)
			break;
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
						       : backoff * 2;
	}
	if (ret == -ETIMEDOUT)
		snprintf(err, errlen,
			 "no answer from guest vsock port %u through %s "
			 "within %llu ms (%u attempts)",
			 port, uds_path,
			 (unsigned long long)((lg_now_ns() - start) /
					      1000000ull),
			 attempts);
	else if (ret == -ECANCELED)
		snprintf(err, errlen,
			 "cancelled while connecting to guest "
			 "vsock port %u",
			 port);
	else if (ret == -ECHILD)
		snprintf(err, errlen,
			 "the VMM exited while connecting to guest vsock port "
			 "%u",
			 port);
	return ret;
}
