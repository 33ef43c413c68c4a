/* SPDX-License-Identifier: Apache-2.0 */
/* Host side of the agent channel: framing, handshake, file transfers. */
#include "agent/client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int lg_client_open(struct lg_client *c, int fd)
{
	int flags;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->next_stream = 1;
	c->dec = malloc(sizeof(*c->dec));
	if (!c->dec)
		return -ENOMEM;
	/* Non-blocking, so a guest that stops reading cannot hang us. */
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		free(c->dec);
		c->dec = NULL;
		return -errno;
	}
	lg_decoder_init(c->dec);
	return 0;
}

void lg_client_close(struct lg_client *c)
{
	free(c->dec);
	c->dec = NULL;
}

uint32_t lg_client_new_stream(struct lg_client *c)
{
	return c->next_stream++;
}

/* Waits until fd is writable; a peer that stops reading fails the send. */
static int wait_writable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int rc;

	do
		rc = poll(&p, 1, LG_CLIENT_SEND_TIMEOUT_MS);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

int lg_client_send(struct lg_client *c, uint8_t type, uint32_t stream,
		   const void *payload, size_t len)
{
	uint8_t hdr[LG_FRAME_HDR_SIZE];
	struct iovec iov[2] = {
		{.iov_base = hdr, .iov_len = sizeof(hdr)},
		{.iov_base = (void *)payload, .iov_len = len},
	};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	int rc = lg_frame_hdr_encode(hdr, type, stream, (uint32_t)len);

	while (rc == 0 && msg.msg_iovlen) {
		ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);

		if (n < 0 && errno == EAGAIN) {
			rc = wait_writable(c->fd);
			continue;
		}
		if (n < 0) {
			rc = errno == EINTR ? 0 : -errno;
			continue;
		}
		while (msg.msg_iovlen && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen) {
			msg.msg_iov->iov_base =
				(uint8_t *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return rc;
}

int lg_client_recv(struct lg_client *c, struct lg_frame *f, int timeout_ms)
{
	uint64_t deadline = lg_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		int rc = lg_decoder_next(c->dec, f);
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		int wait_ms = -1;

		if (rc != 0)
			return rc;
		if (timeout_ms >= 0) {
			uint64_t now = lg_now_ns();

			if (now >= deadline)
				return -ETIMEDOUT;
			wait_ms = (int)((deadline - now + 999999) / 1000000);
		}
		rc = poll(&p, 1, wait_ms);
		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc <= 0)
			continue;
		rc = lg_client_fill(c);
		if (rc < 0)
			return rc;
	}
}

int lg_client_fill(struct lg_client *c)
{
	size_t room;
	uint8_t *space = lg_decoder_space(c->dec, &room);
	ssize_t n = read(c->fd, space, room);

	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	lg_decoder_commit(c->dec, (size_t)n);
	return 0;
}

/* Reads TLV strings of a HELLO_OK into the client. */
static int hello_ok_parse(struct lg_client *c, const struct lg_frame *f)
{
	struct lg_tlv_reader r;
	const uint8_t *v;
	size_t vlen;
	uint16_t tag;
	uint32_t version = 0;
	int rc;

	lg_tlv_reader_init(&r, f->payload, f->len);
	while ((rc = lg_tlv_next(&r, &tag, &v, &vlen)) == 1) {
		char *dst = NULL;
		size_t cap = 0;

		if (tag == LG_TAG_VERSION && lg_tlv_u32(v, vlen, &version))
			return -EBADMSG;
		if (tag == LG_TAG_AGENT_VERSION) {
			dst = c->agent_version;
			cap = sizeof(c->agent_version);
		} else if (tag == LG_TAG_KERNEL) {
			dst = c->kernel;
			cap = sizeof(c->kernel);
		}
		if (dst) {
			size_t n = vlen < cap - 1 ? vlen : cap - 1;

			memcpy(dst, v, n);
			dst[n] = '\0';
		}
	}
	if (rc < 0)
		return rc;
	return version == LG_PROTO_VERSION ? 0 : -EPROTONOSUPPORT;
}

int lg_client_hello(struct lg_client *c, int timeout_ms, char *err,
		    size_t errlen)
{
	uint8_t buf[16];
	struct lg_tlv_writer w;
	struct lg_frame f;
	size_t len;
	int rc;

	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_u32(&w, LG_TAG_VERSION, LG_PROTO_VERSION);
	rc = lg_tlv_writer_finish(&w, &len);
	if (!rc)
		rc = lg_client_send(c, LG_MSG_HELLO, 0, buf, len);
	if (rc) {
		set_err(err, errlen, "sending hello to the guest agent: %s",
			strerror(-rc));
		return rc;
	}
	rc = lg_client_recv(c, &f, timeout_ms);
	if (rc == 1 && f.type == LG_MSG_HELLO_OK)
		rc = hello_ok_parse(c, &f);
	else if (rc == 1)
		rc = -EPROTO;
	if (rc == -ETIMEDOUT)
		set_err(err, errlen,
			"guest agent did not answer hello within %d ms",
			timeout_ms);
	else if (rc == -EPROTONOSUPPORT)
		set_err(err, errlen,
			"guest agent speaks another protocol "
			"version; rebuild the image");
	else if (rc)
		set_err(err, errlen, "guest agent handshake failed: %s",
			strerror(-rc));
	return rc;
}

/* Turns an ERROR frame into a message for the user. */
static int frame_error(const struct lg_frame *f, const char *what, char *err,
		       size_t errlen)
{
	uint32_t e = 0;
	char msg[256];

	if (lg_error_decode(f->payload, f->len, &e, msg, sizeof(msg)) < 0)
		snprintf(msg, sizeof(msg), "malformed error frame");
	set_err(err, errlen, "%s: %s", what, msg[0] ? msg : strerror((int)e));
	return e ? -(int)e : -EIO;
}

/* Waits for WINDOW credit on stream, or OK/ERROR ending the request. */
static int transfer_wait(struct lg_client *c, uint32_t stream, uint32_t *credit,
			 const char *what, char *err, size_t errlen)
{
	struct lg_frame f;
	int rc = lg_client_recv(c, &f, 30000);
	uint32_t add;

	if (rc < 0) {
		set_err(err, errlen, "%s: channel: %s", what, strerror(-rc));
		return rc;
	}
	if (f.stream != stream)
		return 0; /* nothing else runs during a transfer */
	if (f.type == LG_MSG_ERROR)
		return frame_error(&f, what, err, errlen);
	if (f.type == LG_MSG_WINDOW &&
	    lg_tlv_find_u32(f.payload, f.len, LG_TAG_CREDIT, &add) == 0) {
		*credit += add;
		return 0;
	}
	if (f.type == LG_MSG_OK)
		return 1;
	set_err(err, errlen, "%s: unexpected %s frame", what,
		lg_frame_type_name(f.type));
	return -EPROTO;
}

static int file_put_open(struct lg_client *c, uint32_t stream, mode_t mode,
			 const char *guest_path)
{
	uint8_t buf[LG_PATH_MAX + 32];
	struct lg_tlv_writer w;
	size_t len;
	int rc;

	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_str(&w, LG_TAG_PATH, guest_path);
	lg_tlv_put_u32(&w, LG_TAG_MODE, (uint32_t)(mode & 07777));
	rc = lg_tlv_writer_finish(&w, &len);
	return rc ? rc : lg_client_send(c, LG_MSG_FILE_PUT, stream, buf, len);
}

int lg_client_put_file(struct lg_client *c, int src_fd, mode_t mode,
		       const char *guest_path, char *err, size_t errlen)
{
	uint32_t stream = lg_client_new_stream(c), credit = LG_WINDOW_INITIAL;
	uint8_t *buf = malloc(LG_FRAME_MAX_PAYLOAD);
	char what[LG_PATH_MAX + 32];
	int rc;

	if (errlen)
		err[0] = '\0';
	snprintf(what, sizeof(what), "copy-in to %s", guest_path);
	rc = buf ? file_put_open(c, stream, mode, guest_path) : -ENOMEM;
	for (;;) {
		ssize_t n;

		while (rc == 0 && credit == 0)
			rc = transfer_wait(c, stream, &credit, what, err,
					   errlen);
		if (rc)
			break;
		n = read(src_fd, buf,
			 credit < LG_FRAME_MAX_PAYLOAD ? credit
						       : LG_FRAME_MAX_PAYLOAD);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			set_err(err, errlen, "%s: reading source: %s", what,
				strerror(errno));
			break;
		}
		if (n == 0) {
			rc = lg_client_send(c, LG_MSG_FILE_END, stream, NULL,
					    0);
			break;
		}
		rc = lg_client_send(c, LG_MSG_FILE_DATA, stream, buf,
				    (size_t)n);
		credit -= (uint32_t)n;
	}
	while (rc == 0)
		rc = transfer_wait(c, stream, &credit, what, err, errlen);
	free(buf);
	if (rc < 0 && errlen && !err[0])
		set_err(err, errlen, "%s: %s", what, strerror(-rc));
	return rc < 0 ? rc : 0;
}

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int lg_client_window(struct lg_client *c, uint32_t stream, uint32_t credit)
{
	uint8_t buf[16];
	struct lg_tlv_writer w;
	size_t len;

	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_u32(&w, LG_TAG_CREDIT, credit);
	if (lg_tlv_writer_finish(&w, &len))
		return -EMSGSIZE;
	return lg_client_send(c, LG_MSG_WINDOW, stream, buf, len);
}

/* One frame of a FILE_GET: 0 more to come, 1 done, <0 error. */
static int file_get_frame(struct lg_client *c, const struct lg_frame *f,
			  int dst_fd, mode_t *mode, const char *what, char *err,
			  size_t errlen)
{
	uint32_t m;
	int rc;

	switch (f->type) {
	case LG_MSG_FILE_DATA:
		rc = write_all(dst_fd, f->payload, f->len);
		if (rc) {
			set_err(err, errlen, "%s: writing: %s", what,
				strerror(-rc));
			return rc;
		}
		return lg_client_window(c, f->stream, f->len);
	case LG_MSG_FILE_END:
		if (lg_tlv_find_u32(f->payload, f->len, LG_TAG_MODE, &m) == 0)
			*mode = (mode_t)(m & 07777);
		return 1;
	case LG_MSG_ERROR:
		return frame_error(f, what, err, errlen);
	default:
		set_err(err, errlen, "%s: unexpected %s frame", what,
			lg_frame_type_name(f->type));
		return -EPROTO;
	}
}

int lg_client_get_file(struct lg_client *c, const char *guest_path, int dst_fd,
		       mode_t *mode, char *err, size_t errlen)
{
	uint32_t stream = lg_client_new_stream(c);
	uint8_t buf[LG_PATH_MAX + 16];
	char what[LG_PATH_MAX + 32];
	struct lg_tlv_writer w;
	struct lg_frame f;
	size_t len;
	int rc;

	snprintf(what, sizeof(what), "copy-out of %s", guest_path);
	*mode = 0644;
	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_str(&w, LG_TAG_PATH, guest_path);
	rc = lg_tlv_writer_finish(&w, &len);
	if (!rc)
		rc = lg_client_send(c, LG_MSG_FILE_GET, stream, buf, len);
	while (rc == 0) {
		rc = lg_client_recv(c, &f, 30000);
		if (rc < 0) {
			set_err(err, errlen, "%s: channel: %s", what,
				strerror(-rc));
			break;
		}
		rc = f.stream == stream ? file_get_frame(c, &f, dst_fd, mode,
							 what, err, errlen)
					: 0;
	}
	return rc < 0 ? rc : 0;
}

int lg_client_shutdown(struct lg_client *c, int timeout_ms)
{
	uint32_t stream = lg_client_new_stream(c);
	uint64_t deadline = lg_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct lg_frame f;
	int rc = lg_client_send(c, LG_MSG_SHUTDOWN, stream, NULL, 0);

	while (rc == 0) {
		uint64_t now = lg_now_ns();

		if (now >= deadline)
			return -ETIMEDOUT;
		rc = lg_client_recv(c, &f, (int)((deadline - now) / 1000000));
		if (rc == 1 && f.stream == stream)
			return f.type == LG_MSG_OK ? 0 : -EPROTO;
		rc = rc == 1 ? 0 : rc;
	}
	return rc;
}
