/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host end of tests/vmm/guest/vsock.c, over Firecracker's Unix
 * socket protocol (ANCHORS.md A.7), the same for the harness's device
 * and for the lgvmm executable's:
 * 1. connect to uds_path, "CONNECT 1234\n", expect "OK <port>\n" (the
 *    first host-side port Firecracker hands out is 2^30), stream
 *    HOST_BYTES of k * 7 + 3, read the guest's "pong 20000\n", close;
 * 2. accept the guest's connection on "<uds_path>_5000", read
 *    GUEST_BYTES of k * 11 + 5, answer "hello guest\n", see EOF after
 *    the guest's shutdown.
 * (3. nothing listens on "<uds_path>_5001": the device refuses.)
 */
#include "xcheck.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PEER_TIMEOUT_MS 8000
/* lgvmm binds uds_path while it boots: how long to keep trying. */
#define CONNECT_TRIES 1000
#define CONNECT_RETRY_NS 10000000L
#define HOST_BYTES 20000u
#define GUEST_BYTES 100000u
#define FIRST_HOST_PORT "OK 1073741824\n"

struct xcheck_vsock_peer {
	char uds[108];
	char uds_5000[108];
	int listen_fd;
	pthread_t thread;
	/* Results, read after join. */
	char ok_line[32];
	char pong[32];
	bool guest_pattern_ok;
	uint32_t guest_bytes;
	bool eof_after_shutdown;
	const char *error;
};

/* Waits for events on fd; false on timeout or error. */
static bool wait_fd(int fd, short events, int ms)
{
	struct pollfd p = {.fd = fd, .events = events};

	return poll(&p, 1, ms) == 1 && (p.revents & (events | POLLHUP));
}

static bool read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		if (!wait_fd(fd, POLLIN, PEER_TIMEOUT_MS) ||
		    read(fd, buf + n, 1) != 1)
			break;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return n && buf[n - 1] == '\n';
}

static bool write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n;

		if (!wait_fd(fd, POLLOUT, PEER_TIMEOUT_MS))
			return false;
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* A connected socket to path, retrying while it is not there yet. */
static int connect_retrying(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	const struct timespec pause = {0, CONNECT_RETRY_NS};
	int i, fd;

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	for (i = 0; i < CONNECT_TRIES; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return fd;
		close(fd);
		if (errno != ENOENT && errno != ECONNREFUSED)
			return -1;
		nanosleep(&pause, NULL);
	}
	return -1;
}

/* 1. host -> guest through uds_path and CONNECT. */
static void host_to_guest(struct xcheck_vsock_peer *p)
{
	uint8_t buf[4096];
	uint32_t k, i, n;
	int fd = connect_retrying(p->uds);

	if (fd < 0) {
		p->error = "connect to uds_path";
		return;
	}
	if (!write_all(fd, "CONNECT 1234\n", 13)) {
		p->error = "send CONNECT";
		goto out;
	}
	if (!read_line(fd, p->ok_line, sizeof(p->ok_line))) {
		p->error = "read the OK line";
		goto out;
	}
	for (k = 0; k < HOST_BYTES; k += n) {
		n = HOST_BYTES - k < sizeof(buf) ? HOST_BYTES - k : sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = (uint8_t)((k + i) * 7 + 3);
		if (!write_all(fd, buf, n)) {
			p->error = "stream to the guest";
			goto out;
		}
	}
	if (!read_line(fd, p->pong, sizeof(p->pong)))
		p->error = "read the guest's reply";
out:
	close(fd);
}

/* 2. guest -> host: the guest connects to <uds_path>_5000. */
static void guest_to_host(struct xcheck_vsock_peer *p)
{
	uint8_t buf[4096];
	uint32_t got = 0;
	ssize_t n, i;
	int conn;

	if (!wait_fd(p->listen_fd, POLLIN, PEER_TIMEOUT_MS) ||
	    (conn = accept(p->listen_fd, NULL, NULL)) < 0) {
		p->error = "accept the guest's connection";
		return;
	}
	p->guest_pattern_ok = true;
	while (got < GUEST_BYTES) {
		if (!wait_fd(conn, POLLIN, PEER_TIMEOUT_MS))
			break;
		n = read(conn, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (i = 0; i < n; i++)
			if (buf[i] != (uint8_t)((got + (uint32_t)i) * 11 + 5))
				p->guest_pattern_ok = false;
		got += (uint32_t)n;
	}
	p->guest_bytes = got;
	if (got != GUEST_BYTES || !write_all(conn, "hello guest\n", 12)) {
		p->error = "stream from the guest";
		goto out;
	}
	/* The guest shuts down: the device closes our end. */
	p->eof_after_shutdown = wait_fd(conn, POLLIN, PEER_TIMEOUT_MS) &&
				read(conn, buf, sizeof(buf)) == 0;
out:
	close(conn);
}

static void *peer_main(void *arg)
{
	struct xcheck_vsock_peer *p = arg;

	host_to_guest(p);
	if (!p->error)
		guest_to_host(p);
	return NULL;
}

int xcheck_vsock_peer_start(const char *uds_path,
			    struct xcheck_vsock_peer **out)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct xcheck_vsock_peer *p;
	int err;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	if ((size_t)snprintf(p->uds, sizeof(p->uds), "%s", uds_path) >=
		    sizeof(p->uds) ||
	    (size_t)snprintf(p->uds_5000, sizeof(p->uds_5000), "%s_5000",
			     uds_path) >= sizeof(p->uds_5000)) {
		free(p);
		return -ENAMETOOLONG;
	}
	p->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->listen_fd < 0) {
		err = -errno;
		free(p);
		return err;
	}
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", p->uds_5000);
	if (bind(p->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(p->listen_fd, 4) < 0) {
		err = -errno;
		goto fail;
	}
	err = pthread_create(&p->thread, NULL, peer_main, p);
	if (err) {
		err = -err;
		unlink(p->uds_5000);
		goto fail;
	}
	*out = p;
	return 0;
fail:
	close(p->listen_fd);
	free(p);
	return err;
}

int xcheck_vsock_peer_finish(struct xcheck_vsock_peer *p, const char *who)
{
	int bad = 0;

	if (!p)
		return -EINVAL;
	pthread_join(p->thread, NULL);
	close(p->listen_fd);
	unlink(p->uds_5000);
	printf("vsock host side (%s): OK line \"%.*s\", guest reply \"%.*s\", "
	       "%u bytes from the guest (pattern %s), EOF after its "
	       "shutdown: %s\n",
	       who, (int)strcspn(p->ok_line, "\n"), p->ok_line,
	       (int)strcspn(p->pong, "\n"), p->pong, p->guest_bytes,
	       p->guest_pattern_ok ? "ok" : "wrong",
	       p->eof_after_shutdown ? "yes" : "no");
	if (p->error) {
		fprintf(stderr, "vsock host side (%s): %s failed\n", who,
			p->error);
		bad = 1;
	}
	if (strcmp(p->ok_line, FIRST_HOST_PORT) != 0 ||
	    strcmp(p->pong, "pong 20000\n") != 0 ||
	    p->guest_bytes != GUEST_BYTES || !p->guest_pattern_ok ||
	    !p->eof_after_shutdown)
		bad = 1;
	free(p);
	return bad ? -EPROTO : 0;
}
