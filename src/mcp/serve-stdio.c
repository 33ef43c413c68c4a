/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One MCP session over our own stdin/stdout: a message a line
 * (ANCHORS.md C.3). An overlong line is answered with an error and
 * skipped up to its newline; the session goes on.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/serve.h"

struct stdio_out {
	pthread_mutex_t lock;
	int fd;
	bool broken;
};

static int stdio_send(void *opaque, json_t *msg, const json_t *related)
{
	struct stdio_out *o = opaque;
	size_t len;
	char *s = jsonrpc_dump(msg, &len);
	int rc;

	(void)related;
	if (!s)
		return -ENOMEM;
	pthread_mutex_lock(&o->lock);
	if (o->broken) {
		rc = -EPIPE;
	} else {
		s[len] = '\n'; /* jsonrpc_dump leaves room for the NUL */
		rc = lg_write_all(o->fd, s, len + 1);
		if (rc < 0)
			o->broken = true;
	}
	pthread_mutex_unlock(&o->lock);
	free(s);
	return rc;
}

static void line_too_long(struct mcp_session *s)
{
	static const char msg[] = "{\"jsonrpc\":\"2.0\"}";

	/* An id-less invalid message makes the session answer -32600. */
	lg_warn("mcp serve: dropping a line over %u bytes", MCP_SERVE_MAX_BODY);
	mcp_session_receive(s, msg, sizeof(msg) - 1);
}

/* Hands every complete line in buf[0..*len) to the session. */
static void lines_deliver(struct mcp_session *s, char *buf, size_t *len,
			  bool *skipping)
{
	size_t start = 0;

	for (size_t i = 0; i < *len; i++) {
		if (buf[i] != '\n')
			continue;
		if (*skipping)
			*skipping = false;
		else if (i - start > MCP_SERVE_MAX_BODY)
			/* Complete in the buffer, but over the limit all
			 * the same (the buffer has room past it). */
			line_too_long(s);
		else if (i > start)
			mcp_session_receive(s, buf + start, i - start);
		start = i + 1;
	}
	memmove(buf, buf + start, *len - start);
	*len -= start;
	if (*len >= MCP_SERVE_MAX_BODY) {
		if (!*skipping)
			line_too_long(s);
		*skipping = true;
		*len = 0;
	}
}

int mcp_serve_stdio(const struct mcp_serve_factory *f, int in_fd, int out_fd,
		    int stop_fd)
{
	struct stdio_out out = {.fd = out_fd};
	struct mcp_session *s;
	bool skipping = false;
	size_t len = 0;
	char *buf;
	int rc = 0;

	buf = malloc(MCP_SERVE_MAX_BODY + 65536);
	if (!buf)
		return -ENOMEM;
	pthread_mutex_init(&out.lock, NULL);
	s = mcp_session_new(f->info, f->h, f->opaque, stdio_send, &out);
	if (!s) {
		free(buf);
		pthread_mutex_destroy(&out.lock);
		return -ENOMEM;
	}
	if (f->attached)
		f->attached(f->opaque, s);
	for (;;) {
		struct pollfd p[2] = {{.fd = in_fd, .events = POLLIN},
				      {.fd = stop_fd, .events = POLLIN}};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (p[1].revents)
			break;
		n = read(in_fd, buf + len, MCP_SERVE_MAX_BODY + 65536 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
		lines_deliver(s, buf, &len, &skipping);
	}
	/* A last line without its newline still counts. */
	if (!rc && len && !skipping)
		mcp_session_receive(s, buf, len);
	if (f->detached)
		f->detached(f->opaque, s);
	mcp_session_free(s);
	pthread_mutex_destroy(&out.lock);
	free(buf);
	return rc;
}
