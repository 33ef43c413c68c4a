/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Listening sockets: AF_VSOCK in the guest, AF_UNIX in --unix test mode.
 * Every accepted connection is a session of its own.
 */
#include "channel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "agent.h"
#include "loop.h"
#include "session.h"

#define LISTEN_BACKLOG 16
#define ACCEPT_BATCH 16
/* Out of fds or memory: stop accepting for a moment instead of spinning. */
#define ACCEPT_BACKOFF_MS 100

struct listener {
	struct watch w;
	struct timer backoff;
};

static struct listener vsock_l, unix_l;
static char *unix_path;

static void listener_resume(struct timer *t)
{
	struct listener *l = container_of(t, struct listener, backoff);

	watch_set(&l->w, EPOLLIN);
}

static void listener_ready(struct watch *w, uint32_t events)
{
	struct listener *l = container_of(w, struct listener, w);

	(void)events;
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(w->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			agent_log("accept: %s", strerror(errno));
			watch_set(w, 0);
			timer_arm(&l->backoff, ACCEPT_BACKOFF_MS);
			return;
		}
		if (!session_new(fd, true, NULL, NULL))
			close(fd);
	}
}

/* Binds and listens fd, then watches it; closes fd on failure. */
static int listener_start(struct listener *l, int fd,
			  const struct sockaddr *addr, socklen_t len)
{
	int err;

	if (bind(fd, addr, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		err = errno;
		close(fd);
		return -err;
	}
	watch_init(&l->w, fd, listener_ready);
	timer_init(&l->backoff, listener_resume);
	err = watch_set(&l->w, EPOLLIN);
	if (err < 0)
		watch_close(&l->w);
	return err;
}

int listener_start_vsock(void)
{
	struct sockaddr_vm addr = {
		.svm_family = AF_VSOCK,
		.svm_cid = VMADDR_CID_ANY,
		.svm_port = LG_AGENT_VSOCK_PORT,
	};
	int fd =
		socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	return listener_start(&vsock_l, fd, (const struct sockaddr *)&addr,
			      sizeof(addr));
}

int listener_start_unix(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	/* A socket left by an earlier run would make bind fail. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = listener_start(&unix_l, fd, (const struct sockaddr *)&addr,
			    sizeof(addr));
	if (rc == 0) {
		unix_path = strdup(path);
		if (!unix_path)
			agent_log("out of memory; %s stays behind", path);
	}
	return rc;
}

void listener_cleanup_unix(void)
{
	if (!unix_path)
		return;
	unlink(unix_path);
	free(unix_path);
	unix_path = NULL;
}
