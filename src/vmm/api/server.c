// SPDX-License-Identifier: Apache-2.0
/*
 * HTTP/1.1 on a Unix socket with libmicrohttpd: one internal polling
 * thread, keep-alive, and request bodies bounded while they arrive (a
 * body over the limit is answered at once and never buffered).
 */
#include "vmm/api/api.h"

#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define CONNECTION_LIMIT 32u
#define LISTEN_BACKLOG 16

struct api_server {
	struct MHD_Daemon *daemon;
	struct api *api;
	size_t max_payload;
	char *path;
};

/* One request's body as it arrives. */
struct request_ctx {
	char *buf;
	size_t len;
	size_t cap;
	bool rejected; /* over the limit: the rest is discarded */
	bool answered; /* the limit fault is queued */
};

static enum MHD_Result queue_reply(struct MHD_Connection *conn, int status,
				   const char *body, bool deprecated)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = body ? strlen(body) : 0;

	resp = MHD_create_response_from_buffer(len, (void *)body,
					       MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_SERVER, "lgvmm");
	if (body)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/json");
	if (deprecated)
		MHD_add_response_header(resp, "Deprecation", "true");
	ret = MHD_queue_response(conn, (unsigned int)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_too_large(struct api_server *srv,
				       struct MHD_Connection *conn,
				       struct request_ctx *rc,
				       unsigned long long size)
{
	char body[256];
	enum MHD_Result ret;

	rc->rejected = true;
	free(rc->buf);
	rc->buf = NULL;
	rc->len = rc->cap = 0;
	if (size)
		snprintf(body, sizeof(body),
			 "{\"fault_message\":\"Request payload with size %llu "
			 "is larger than the limit of %zu allowed by "
			 "server.\"}",
			 size, srv->max_payload);
	else
		snprintf(body, sizeof(body),
			 "{\"fault_message\":\"Request payload is larger than "
			 "the limit of %zu allowed by server.\"}",
			 srv->max_payload);
	ret = queue_reply(conn, 400, body, false);
	rc->answered = ret == MHD_YES;
	return ret;
}

/* Content-Length as MHD validated it; 0 when absent. */
static unsigned long long content_length(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(
		conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;
	char *end;

	if (!v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v)
		return ULLONG_MAX;
	return n;
}

static int body_append(struct request_ctx *rc, const char *data, size_t n)
{
	if (rc->len + n > rc->cap) {
		size_t cap = rc->cap ? rc->cap : 1024;
		char *p;

		while (cap < rc->len + n)
			cap *= 2;
		p = realloc(rc->buf, cap);
		if (!p)
			return -ENOMEM;
		rc->buf = p;
		rc->cap = cap;
	}
	memcpy(rc->buf + rc->len, data, n);
	rc->len += n;
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_size, void **req_cls)
{
	struct api_server *srv = cls;
	struct request_ctx *rc = *req_cls;
	struct api_response resp;
	unsigned long long declared;
	enum MHD_Result ret;

	(void)version;
	if (!rc) {
		/* Headers only: refuse a declared oversize body right away. */
		rc = calloc(1, sizeof(*rc));
		if (!rc)
			return MHD_NO;
		*req_cls = rc;
		declared = content_length(conn);
		if (declared > srv->max_payload)
			return reply_too_large(srv, conn, rc, declared);
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (rc->rejected)
			return MHD_YES;
		/*
		 * Chunked bodies have no declared length. libmicrohttpd
		 * takes no response while a body arrives, so the rest is
		 * read and dropped, and the fault sent at its end.
		 */
		if (rc->len + n > srv->max_payload) {
			rc->rejected = true;
			free(rc->buf);
			rc->buf = NULL;
			rc->len = rc->cap = 0;
			return MHD_YES;
		}
		return body_append(rc, upload_data, n) ? MHD_NO : MHD_YES;
	}
	if (rc->rejected)
		return rc->answered ? MHD_YES
				    : reply_too_large(srv, conn, rc, 0);
	if (api_handle(srv->api, method, url, rc->buf, rc->len, &resp))
		return MHD_NO;
	ret = queue_reply(conn, resp.status, resp.body, resp.deprecated);
	api_response_free(&resp);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode code)
{
	struct request_ctx *rc = *req_cls;

	(void)cls;
	(void)conn;
	(void)code;
	if (!rc)
		return;
	free(rc->buf);
	free(rc);
	*req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	lg_debug("api server: %s", msg);
}

/*
 * A socket file already at path: a live server's is refused (-EADDRINUSE),
 * a stale one removed, any other kind of file refused (-EEXIST).
 */
static int clear_path(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (ret == 0)
		return -EADDRINUSE;
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ret = clear_path(path, &sa);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* Not listening yet, so nobody connects before the mode is set. */
	if (chmod(path, 0600) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		close(fd);
		unlink(path);
		return ret;
	}
	return fd;
}

int api_server_start(struct api *api, const char *sock_path, size_t max_payload,
		     struct api_server **out)
{
	struct api_server *srv;
	struct stat st;
	int fd, ret;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->api = api;
	srv->max_payload = max_payload ? max_payload : API_DEFAULT_MAX_PAYLOAD;
	api_set_max_payload(api, srv->max_payload);
	srv->path = strdup(sock_path);
	if (!srv->path) {
		free(srv);
		return -ENOMEM;
	}
	fd = listen_unix(sock_path);
	if (fd < 0) {
		free(srv->path);
		free(srv);
		return fd;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		unlink(sock_path);
		free(srv->path);
		free(srv);
		return ret;
	}
	srv->daemon = MHD_start_daemon(
		MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
		CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT, 0u,
		MHD_OPTION_END);
	if (!srv->daemon) {
		struct stat now;

		/* Close it unless MHD did (same fd, same socket inode). */
		if (fstat(fd, &now) == 0 && now.st_ino == st.st_ino &&
		    now.st_dev == st.st_dev)
			close(fd);
		unlink(sock_path);
		free(srv->path);
		free(srv);
		return -EIO;
	}
	*out = srv;
	return 0;
}

void api_server_stop(struct api_server *srv)
{
	if (!srv)
		return;
	/* Closes the listening socket and every connection. */
	MHD_stop_daemon(srv->daemon);
	unlink(srv->path);
	free(srv->path);
	free(srv);
}
