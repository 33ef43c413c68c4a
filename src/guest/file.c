/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File transfer streams. FILE_PUT writes into a temporary file next to
 * PATH and renames it over PATH only after FILE_END and fsync, so PATH
 * never holds a partial file. FILE_GET sends a regular file in FILE_DATA
 * frames within the host's credit, then FILE_END with its mode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "loop.h"
#include "session.h"

#define FILE_CREDIT_MAX (UINT64_C(1) << 40)
#define PUT_DEFAULT_MODE 0644u

struct xfer {
	struct stream st;
	int fd;
	char *path;
	char *tmp;	 /* PUT: temporary file, removed unless renamed */
	uint32_t mode;	 /* PUT: mode to give PATH; GET: mode of PATH */
	uint64_t credit; /* GET: bytes the host accepts now */
	struct grave grave;
};

static struct xfer *xfer_of(struct stream *st)
{
	return container_of(st, struct xfer, st);
}

static void xfer_release(struct grave *g)
{
	struct xfer *x = container_of(g, struct xfer, grave);

	free(x->path);
	free(x->tmp);
	free(x);
}

void file_destroy(struct stream *st)
{
	struct xfer *x = xfer_of(st);

	if (x->fd >= 0)
		close(x->fd);
	x->fd = -1;
	if (x->tmp && unlink(x->tmp) < 0)
		agent_log("unlink %s: %s", x->tmp, strerror(errno));
	stream_remove(st);
	loop_defer_free(&x->grave, xfer_release);
}

/* PATH (required, absolute) and MODE (optional) from a request. */
static int xfer_parse(const uint8_t *p, size_t len, char **path, uint32_t *mode)
{
	struct lg_tlv_reader r;
	const uint8_t *v;
	size_t vlen;
	uint16_t tag;
	int rc;

	*path = NULL;
	lg_tlv_reader_init(&r, p, len);
	while ((rc = lg_tlv_next(&r, &tag, &v, &vlen)) == 1) {
		if (tag == LG_TAG_PATH && !*path)
			rc = lg_tlv_strdup(v, vlen, path);
		else if (tag == LG_TAG_PATH)
			rc = -EBADMSG;
		else if (tag == LG_TAG_MODE)
			rc = lg_tlv_u32(v, vlen, mode);
		if (rc < 0)
			break;
	}
	if (rc < 0) {
		free(*path);
		*path = NULL;
	}
	return rc;
}

/* Checks a parsed request; sends ERROR and returns false if unusable. */
static bool xfer_check(struct session *s, uint32_t id, const char *what,
		       const char *path)
{
	if (!path) {
		session_send_error(s, id, EINVAL, "%s: no PATH", what);
		return false;
	}
	if (strlen(path) >= LG_PATH_MAX) {
		session_send_error(s, id, ENAMETOOLONG, "%s: path too long",
				   what);
		return false;
	}
	if (path[0] != '/') {
		session_send_error(s, id, EINVAL, "%s %s: path is not absolute",
				   what, path);
		return false;
	}
	return true;
}

static struct xfer *xfer_new(struct session *s, uint32_t id,
			     enum stream_kind kind, char *path, int fd)
{
	struct xfer *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->fd = fd;
	x->path = path;
	stream_add(s, &x->st, id, kind);
	return x;
}

/* ---- FILE_PUT ----------------------------------------------------- */

static int mkdir_parents(const char *path)
{
	char buf[LG_PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* "<dir>/.<name>.lgtmp-XXXXXX": same directory, so rename is atomic. */
static int put_tmp_name(const char *path, char **out)
{
	const char *slash = strrchr(path, '/');
	char buf[LG_PATH_MAX];
	int n;

	if (!slash[1])
		return -EISDIR;
	n = snprintf(buf, sizeof(buf), "%.*s/.%s.lgtmp-XXXXXX",
		     (int)(slash - path), path, slash + 1);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

static int put_open(struct xfer *x)
{
	int rc = put_tmp_name(x->path, &x->tmp);

	if (rc == 0)
		rc = mkdir_parents(x->path);
	if (rc < 0) {
		free(x->tmp); /* nothing was created under that name */
		x->tmp = NULL;
		return rc;
	}
	x->fd = mkostemp(x->tmp, O_CLOEXEC);
	if (x->fd >= 0)
		return 0;
	rc = -errno;
	free(x->tmp); /* nothing was created */
	x->tmp = NULL;
	return rc;
}

void file_put_start(struct session *s, uint32_t id, const uint8_t *p,
		    size_t len)
{
	uint32_t mode = PUT_DEFAULT_MODE;
	struct xfer *x;
	char *path;
	int rc;

	if (xfer_parse(p, len, &path, &mode) < 0) {
		session_fail(s, EBADMSG, "malformed FILE_PUT on stream %u", id);
		return;
	}
	if (!xfer_check(s, id, "put", path)) {
		free(path);
		return;
	}
	if (mode & ~07777u) {
		session_send_error(s, id, EINVAL, "put %s: bad mode %#o", path,
				   mode);
		free(path);
		return;
	}
	x = xfer_new(s, id, STREAM_PUT, path, -1);
	if (!x) {
		session_send_error(s, id, ENOMEM, "put: out of memory");
		free(path);
		return;
	}
	x->mode = mode;
	rc = put_open(x);
	if (rc < 0)
		stream_fail(&x->st, -rc, "put %s: %s", x->path, strerror(-rc));
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void put_data(struct xfer *x, const struct lg_frame *f)
{
	int rc = write_all(x->fd, f->payload, f->len);

	if (rc < 0) {
		stream_fail(&x->st, -rc, "put %s: %s", x->path, strerror(-rc));
		return;
	}
	/* Written synchronously, so the credit comes straight back. */
	if (f->len)
		session_send_u32(x->st.s, LG_MSG_WINDOW, x->st.id,
				 LG_TAG_CREDIT, f->len);
}

/* Best effort: the rename itself survives a crash only after this. */
static void fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[LG_PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%.*s",
		 slash == path ? 1 : (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	fsync(fd);
	close(fd);
}

static int put_commit(struct xfer *x)
{
	int fd = x->fd;

	x->fd = -1;
	if (fsync(fd) < 0 || fchmod(fd, x->mode) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	if (close(fd) < 0 || rename(x->tmp, x->path) < 0)
		return -errno;
	free(x->tmp);
	x->tmp = NULL;
	fsync_parent(x->path);
	return 0;
}

static void put_end(struct xfer *x)
{
	int rc = put_commit(x);

	if (rc < 0) {
		stream_fail(&x->st, -rc, "put %s: %s", x->path, strerror(-rc));
		return;
	}
	session_send(x->st.s, LG_MSG_OK, x->st.id, NULL, 0);
	file_destroy(&x->st);
}

/* ---- FILE_GET ----------------------------------------------------- */

/* 0 for a regular file, else the errno FILE_GET answers for its type. */
static int get_type_err(mode_t m)
{
	if (S_ISREG(m))
		return 0;
	if (S_ISDIR(m))
		return EISDIR;
	/* What open(2) says for a socket. */
	if (S_ISSOCK(m))
		return ENXIO;
	return EINVAL;
}

/*
 * Opens PATH (following symlinks) for reading, but only if it is a regular
 * file: the type is checked on an O_PATH fd first, so a device or FIFO is
 * never really opened (no driver open side effects, no blocking). The
 * checked inode is then reopened through /proc/self/fd; without /proc, the
 * path is opened again and must still name the same regular file.
 */
static int get_open(const char *path, uint32_t *mode)
{
	const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
	struct stat st, st2;
	char proc[64];
	int pfd, fd, err;

	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0)
		err = errno;
	else
		err = get_type_err(st.st_mode);
	if (err) {
		close(pfd);
		return -err;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, flags);
	if (fd < 0 && errno == ENOENT) {
		/* No /proc: the path again, checked against what we saw. */
		fd = open(path, flags);
		if (fd >= 0 &&
		    (fstat(fd, &st2) < 0 || st2.st_dev != st.st_dev ||
		     st2.st_ino != st.st_ino)) {
			close(fd);
			fd = -1;
			errno = EAGAIN;
		}
	}
	err = errno;
	close(pfd);
	if (fd < 0)
		return -err;
	*mode = st.st_mode & 07777u;
	return fd;
}

/* Sends what the credit and the output queue allow; FILE_END at EOF. */
static void get_pump(struct xfer *x)
{
	struct session *s = x->st.s;

	while (x->credit > 0 && session_can_send_data(s)) {
		size_t n = x->credit < LG_FRAME_MAX_PAYLOAD
				   ? x->credit
				   : LG_FRAME_MAX_PAYLOAD;
		uint8_t *p = session_frame_begin(s, n);
		ssize_t r;

		if (!p)
			return;
		r = read(x->fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			stream_fail(&x->st, errno, "get %s: %s", x->path,
				    strerror(errno));
			return;
		}
		if (r == 0) {
			session_send_u32(s, LG_MSG_FILE_END, x->st.id,
					 LG_TAG_MODE, x->mode);
			file_destroy(&x->st);
			return;
		}
		session_frame_end(s, LG_MSG_FILE_DATA, x->st.id, (size_t)r);
		x->credit -= (uint64_t)r;
	}
}

void file_get_start(struct session *s, uint32_t id, const uint8_t *p,
		    size_t len)
{
	uint32_t mode = 0;
	struct xfer *x;
	char *path;
	int fd;

	if (xfer_parse(p, len, &path, &mode) < 0) {
		session_fail(s, EBADMSG, "malformed FILE_GET on stream %u", id);
		return;
	}
	if (!xfer_check(s, id, "get", path)) {
		free(path);
		return;
	}
	fd = get_open(path, &mode);
	if (fd < 0) {
		session_send_error(s, id, -fd, "get %s: %s", path,
				   strerror(-fd));
		free(path);
		return;
	}
	x = xfer_new(s, id, STREAM_GET, path, fd);
	if (!x) {
		session_send_error(s, id, ENOMEM, "get: out of memory");
		close(fd);
		free(path);
		return;
	}
	x->mode = mode;
	x->credit = LG_WINDOW_INITIAL;
	get_pump(x);
}

static void get_window(struct xfer *x, const struct lg_frame *f)
{
	uint32_t credit;

	if (lg_tlv_find_u32(f->payload, f->len, LG_TAG_CREDIT, &credit) < 0) {
		session_fail(x->st.s, EBADMSG, "WINDOW without a valid CREDIT");
		return;
	}
	x->credit += credit;
	if (x->credit > FILE_CREDIT_MAX)
		x->credit = FILE_CREDIT_MAX;
	get_pump(x);
}

/* ---- dispatch ----------------------------------------------------- */

void file_resume(struct stream *st)
{
	if (st->kind == STREAM_GET)
		get_pump(xfer_of(st));
}

void file_frame(struct stream *st, const struct lg_frame *f)
{
	struct xfer *x = xfer_of(st);

	if (st->kind == STREAM_PUT && f->type == LG_MSG_FILE_DATA)
		put_data(x, f);
	else if (st->kind == STREAM_PUT && f->type == LG_MSG_FILE_END)
		put_end(x);
	else if (st->kind == STREAM_GET && f->type == LG_MSG_WINDOW)
		get_window(x, f);
	else /* e.g. WINDOW on a FILE_PUT: no data flows to the host there */
		stream_fail(st, EPROTO, "%s on %s stream %u",
			    lg_frame_type_name(f->type),
			    st->kind == STREAM_PUT ? "FILE_PUT" : "FILE_GET",
			    st->id);
}
