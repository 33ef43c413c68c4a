/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host side of the agent channel: framing, handshake, file transfers.
 * The guest is not trusted: every wait has a deadline or the caller's
 * cancel fd, credit it grants is capped, and data it sends beyond what we
 * granted is a protocol error.
 */
#include "agent/client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"

/* A transfer that sees no frame of its own for this long has failed. */
#define TRANSFER_IDLE_MS 30000

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
	c->cancel_fd = -1;
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

uint32_t lg_credit_add(uint32_t credit, uint32_t add)
{
	uint64_t sum = (uint64_t)credit + add;

	return sum > LG_WINDOW_INITIAL ? LG_WINDOW_INITIAL : (uint32_t)sum;
}

int lg_errno_from_peer(uint32_t e)
{
	return e >= 1 && e < 4096 ? (int)e : EIO;
}

/*
 * Waits for events on the channel, or until timeout_ms (-1: none).
 * -ECANCELED when the cancel fd became readable first.
 */
static int channel_wait(struct lg_client *c, short events, int timeout_ms)
{
	struct pollfd p[2] = {
		{.fd = c->fd, .events = events},
		{.fd = c->cancel_fd, .events = POLLIN},
	};
	int rc;

	do
		rc = poll(p, 2, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	if (p[1].revents & POLLIN)
		return -ECANCELED;
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
			/* A peer that stops reading fails the send. */
			rc = channel_wait(c, POLLOUT,
					  LG_CLIENT_SEND_TIMEOUT_MS);
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

int lg_client_send_u32(struct lg_client *c, uint8_t type, uint32_t stream,
		       uint16_t tag, uint32_t v)
{
	uint8_t buf[LG_TLV_U32_SIZE];

	return lg_client_send(c, type, stream, buf,
			      lg_tlv_u32_payload(buf, tag, v));
}

int lg_client_window(struct lg_client *c, uint32_t stream, uint32_t credit)
{
	return lg_client_send_u32(c, LG_MSG_WINDOW, stream, LG_TAG_CREDIT,
				  credit);
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

int lg_client_recv(struct lg_client *c, struct lg_frame *f, int timeout_ms)
{
	uint64_t deadline = lg_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	for (;;) {
		int rc = lg_decoder_next(c->dec, f);

		if (rc != 0)
			return rc;
		if (timeout_ms >= 0 && lg_now_ns() >= deadline)
			return -ETIMEDOUT;
		rc = channel_wait(c, POLLIN,
				  timeout_ms >= 0 ? lg_ms_until(deadline) : -1);
		if (rc == 0)
			rc = lg_client_fill(c);
		if (rc < 0 && rc != -ETIMEDOUT)
			return rc;
	}
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
	struct lg_frame f;
	int rc = lg_client_send_u32(c, LG_MSG_HELLO, 0, LG_TAG_VERSION,
				    LG_PROTO_VERSION);

	if (rc == 0)
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

/* Turns an ERROR frame into a message for the user and a negative errno. */
static int frame_error(const struct lg_frame *f, const char *what, char *err,
		       size_t errlen)
{
	uint32_t e = 0;
	char msg[256];

	if (lg_error_decode(f->payload, f->len, &e, msg, sizeof(msg)) < 0)
		snprintf(msg, sizeof(msg), "malformed error frame");
	set_err(err, errlen, "%s: %s", what,
		msg[0] ? msg : strerror(lg_errno_from_peer(e)));
	return -lg_errno_from_peer(e);
}

/* Next frame of stream; frames of other streams are dropped. */
static int transfer_recv(struct lg_client *c, uint32_t stream,
			 struct lg_frame *f, const char *what, char *err,
			 size_t errlen)
{
	uint64_t deadline = lg_now_ns() + TRANSFER_IDLE_MS * 1000000ull;
	int rc;

	do
		rc = lg_client_recv(c, f, lg_ms_until(deadline));
	while (rc == 1 && f->stream != stream);
	if (rc < 0)
		set_err(err, errlen, "%s: %s", what,
			rc == -ECANCELED ? "interrupted" : strerror(-rc));
	return rc;
}

/* Waits for WINDOW credit on stream, or OK/ERROR ending the request. */
static int transfer_wait(struct lg_client *c, uint32_t stream, uint32_t *credit,
			 const char *what, char *err, size_t errlen)
{
	struct lg_frame f;
	int rc = transfer_recv(c, stream, &f, what, err, errlen);
	uint32_t add;

	if (rc < 0)
		return rc;
	if (f.type == LG_MSG_ERROR)
		return frame_error(&f, what, err, errlen);
	if (f.type == LG_MSG_WINDOW &&
	    lg_tlv_find_u32(f.payload, f.len, LG_TAG_CREDIT, &add) == 0) {
		*credit = lg_credit_add(*credit, add);
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

/* Sends src_fd's contents within the agent's credit; 0 at the end. */
static int file_put_data(struct lg_client *c, uint32_t stream, int src_fd,
			 const char *what, char *err, size_t errlen)
{
	uint32_t credit = LG_WINDOW_INITIAL;
	uint8_t *buf = malloc(LG_FRAME_MAX_PAYLOAD);
	int rc = buf ? 0 : -ENOMEM;

	while (rc == 0) {
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
		} else if (n == 0) {
			break;
		} else {
			rc = lg_client_send(c, LG_MSG_FILE_DATA, stream, buf,
					    (size_t)n);
			credit -= (uint32_t)n;
		}
	}
	free(buf);
	return rc < 0 ? rc : 0;
}

int lg_client_put_file(struct lg_client *c, int src_fd, mode_t mode,
		       const char *guest_path, char *err, size_t errlen)
{
	uint32_t stream = lg_client_new_stream(c), credit = 0;
	char what[LG_PATH_MAX + 32];
	int rc;

	if (errlen)
		err[0] = '\0';
	snprintf(what, sizeof(what), "copy-in to %s", guest_path);
	rc = file_put_open(c, stream, mode, guest_path);
	if (!rc)
		rc = file_put_data(c, stream, src_fd, what, err, errlen);
	if (!rc)
		rc = lg_client_send(c, LG_MSG_FILE_END, stream, NULL, 0);
	while (rc == 0)
		rc = transfer_wait(c, stream, &credit, what, err, errlen);
	if (rc < 0 && errlen && !err[0])
		set_err(err, errlen, "%s: %s", what, strerror(-rc));
	return rc < 0 ? rc : 0;
}

/* One frame of a FILE_GET: 0 more to come, 1 done, <0 error. */
static int file_get_frame(struct lg_client *c, const struct lg_frame *f,
			  struct lg_file_get *g, const char *what, char *err,
			  size_t errlen)
{
	uint32_t m;
	int rc;

	switch (f->type) {
	case LG_MSG_FILE_DATA:
		if (f->len > g->allowed ||
		    f->len > g->max_bytes - g->received) {
			set_err(err, errlen, "%s: %s", what,
				f->len > g->allowed
					? "guest sent more than it was granted"
					: "file larger than the copy limit");
			return f->len > g->allowed ? -EPROTO : -EFBIG;
		}
		rc = lg_write_all(g->dst_fd, f->payload, f->len);
		if (rc) {
			set_err(err, errlen, "%s: writing: %s", what,
				strerror(-rc));
			return rc;
		}
		g->received += f->len;
		g->allowed -= f->len;
		rc = lg_client_window(c, f->stream, f->len);
		if (rc == 0)
			g->allowed += f->len;
		return rc;
	case LG_MSG_FILE_END:
		if (lg_tlv_find_u32(f->payload, f->len, LG_TAG_MODE, &m) == 0)
			g->mode = (mode_t)(m & 07777);
		return 1;
	case LG_MSG_ERROR:
		return frame_error(f, what, err, errlen);
	default:
		set_err(err, errlen, "%s: unexpected %s frame", what,
			lg_frame_type_name(f->type));
		return -EPROTO;
	}
}

int lg_client_get_file(struct lg_client *c, const char *guest_path,
		       struct lg_file_get *g, char *err, size_t errlen)
{
	uint32_t stream = lg_client_new_stream(c);
	uint8_t buf[LG_PATH_MAX + 16];
	char what[LG_PATH_MAX + 32];
	struct lg_tlv_writer w;
	struct lg_frame f;
	size_t len;
	int rc;

	if (errlen)
		err[0] = '\0';
	snprintf(what, sizeof(what), "copy-out of %s", guest_path);
	g->mode = 0644;
	g->received = 0;
	g->allowed = LG_WINDOW_INITIAL;
	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_str(&w, LG_TAG_PATH, guest_path);
	rc = lg_tlv_writer_finish(&w, &len);
	if (!rc)
		rc = lg_client_send(c, LG_MSG_FILE_GET, stream, buf, len);
	while (rc == 0) {
		rc = transfer_recv(c, stream, &f, what, err, errlen);
		if (rc == 1)
			rc = file_get_frame(c, &f, g, what, err, errlen);
	}
	if (rc < 0 && errlen && !err[0])
		set_err(err, errlen, "%s: %s", what, strerror(-rc));
	return rc < 0 ? rc : 0;
}

int lg_client_shutdown(struct lg_client *c, int timeout_ms)
{
	uint32_t stream = lg_client_new_stream(c);
	uint64_t deadline = lg_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct lg_frame f;
	int rc = lg_client_send(c, LG_MSG_SHUTDOWN, stream, NULL, 0);

	while (rc == 0) {
		rc = lg_client_recv(c, &f, lg_ms_until(deadline));
		if (rc == 1 && f.stream == stream)
			return f.type == LG_MSG_OK ? 0 : -EPROTO;
		rc = rc == 1 ? 0 : rc;
	}
	return rc;
}
