/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions: one per host connection. Input is decoded frame by frame and
 * dispatched to streams; output goes through a bounded queue that the
 * loop's idle hook writes without blocking. When the queue passes
 * OUTQ_HIGH the session stops reading input and streams stop producing
 * data until it drains below OUTQ_LOW, so a host that does not read can
 * never make the agent's memory grow.
 */
#include "session.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "loop.h"

#define SESSION_MAX 64u
#define SESSION_MAX_STREAMS 256u
/* How long a failed session may take to deliver its ERROR frame. */
#define SESSION_DRAIN_MS 2000u
#define MSG_MAX (LG_PATH_MAX + 256u)

struct session {
	struct watch w;
	struct session *next, *prev;
	struct lg_decoder *dec;
	struct bytebuf out;
	struct stream *streams;
	unsigned nstreams;
	bool is_socket;
	bool hello;	/* HELLO seen: other frames allowed */
	bool dirty;	/* output queued or state changed: flush */
	bool throttled; /* output queue passed OUTQ_HIGH */
	bool closing;	/* protocol error: deliver the ERROR, then end */
	bool ending;	/* teardown scheduled */
	struct timer drain_t, end_t;
	session_end_fn *on_end;
	void *ctx;
	struct grave grave;
};

static struct session *sessions;
static unsigned nsessions;

static void session_dispatch(struct session *s);

/* ---- streams ------------------------------------------------------ */

void stream_add(struct session *s, struct stream *st, uint32_t id,
		enum stream_kind kind)
{
	st->s = s;
	st->id = id;
	st->kind = kind;
	st->prev = NULL;
	st->next = s->streams;
	if (s->streams)
		s->streams->prev = st;
	s->streams = st;
	s->nstreams++;
}

void stream_remove(struct stream *st)
{
	struct session *s = st->s;

	if (st->prev)
		st->prev->next = st->next;
	else
		s->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	st->next = NULL;
	st->prev = NULL;
	s->nstreams--;
}

static struct stream *stream_find(struct session *s, uint32_t id)
{
	for (struct stream *st = s->streams; st; st = st->next)
		if (st->id == id)
			return st;
	return NULL;
}

/* Removes st from its session and frees it; an exec is killed. */
static void stream_destroy(struct stream *st)
{
	if (st->kind == STREAM_EXEC)
		exec_destroy(st);
	else
		file_destroy(st);
}

void stream_fail(struct stream *st, int err, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	session_send_error(st->s, st->id, err, "%s", msg);
	stream_destroy(st);
}

static void session_drop_streams(struct session *s)
{
	while (s->streams)
		stream_destroy(s->streams);
}

/* ---- output ------------------------------------------------------- */

bool session_can_send_data(const struct session *s)
{
	return !s->throttled && !s->closing && !s->ending;
}

uint8_t *session_frame_begin(struct session *s, size_t max_len)
{
	uint8_t *p;

	if (s->ending)
		return NULL;
	p = buf_reserve(&s->out, LG_FRAME_HDR_SIZE + max_len, OUTQ_MAX);
	if (!p) {
		agent_log("session output queue overflow; closing session");
		session_end(s);
		return NULL;
	}
	return p + LG_FRAME_HDR_SIZE;
}

void session_frame_end(struct session *s, uint8_t type, uint32_t stream,
		       size_t len)
{
	uint8_t *hdr = s->out.data + s->out.head + s->out.len;

	if (lg_frame_hdr_encode(hdr, type, stream, (uint32_t)len) < 0) {
		agent_log("internal: %zu-byte frame too large", len);
		session_end(s);
		return;
	}
	buf_commit(&s->out, LG_FRAME_HDR_SIZE + len);
	if (s->out.len >= OUTQ_HIGH)
		s->throttled = true;
	s->dirty = true;
}

void session_send(struct session *s, uint8_t type, uint32_t stream,
		  const void *payload, size_t len)
{
	uint8_t *p = session_frame_begin(s, len);

	if (!p)
		return;
	if (len)
		memcpy(p, payload, len);
	session_frame_end(s, type, stream, len);
}

void session_send_u32(struct session *s, uint8_t type, uint32_t stream,
		      uint16_t tag, uint32_t v)
{
	uint8_t buf[LG_TLV_U32_SIZE];

	session_send(s, type, stream, buf, lg_tlv_u32_payload(buf, tag, v));
}

void session_send_error(struct session *s, uint32_t stream, int err,
			const char *fmt, ...)
{
	char msg[MSG_MAX];
	uint8_t payload[MSG_MAX + 32];
	size_t len;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lg_error_encode(payload, sizeof(payload), (uint32_t)err, msg,
			    &len) == 0)
		session_send(s, LG_MSG_ERROR, stream, payload, len);
}

/* Writes as much of the queue as the peer takes now. 0 or -errno. */
static int session_write_out(struct session *s)
{
	while (s->out.len) {
		ssize_t n;

		if (s->is_socket)
			n = send(s->w.fd, buf_data(&s->out), s->out.len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		else
			n = write(s->w.fd, buf_data(&s->out), s->out.len);
		if (n > 0) {
			buf_consume(&s->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		return n < 0 ? -errno : -EIO;
	}
	return 0;
}

void session_flush_blocking(struct session *s, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;

	while (!s->ending && s->out.len) {
		struct pollfd pfd = {.fd = s->w.fd, .events = POLLOUT};
		uint64_t now = now_ms();

		if (session_write_out(s) < 0 || !s->out.len || now >= deadline)
			return;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return;
	}
}

/* ---- lifecycle ---------------------------------------------------- */

static void session_release(struct grave *g)
{
	free(container_of(g, struct session, grave));
}

static void session_teardown(struct timer *t)
{
	struct session *s = container_of(t, struct session, end_t);

	session_drop_streams(s);
	timer_cancel(&s->drain_t);
	watch_close(&s->w);
	if (s->prev)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	nsessions--;
	buf_free(&s->out);
	free(s->dec);
	s->dec = NULL;
	if (s->on_end)
		s->on_end(s->ctx);
	loop_defer_free(&s->grave, session_release);
}

void session_end(struct session *s)
{
	if (s->ending)
		return;
	s->ending = true;
	watch_set(&s->w, 0);
	timer_arm(&s->end_t, 0);
}

static void session_drain_expired(struct timer *t)
{
	session_end(container_of(t, struct session, drain_t));
}

void session_fail(struct session *s, int err, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	if (s->closing || s->ending)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	agent_log("closing session: %s", msg);
	session_send_error(s, 0, err, "%s", msg);
	s->closing = true;
	session_drop_streams(s);
	timer_arm(&s->drain_t, SESSION_DRAIN_MS);
	s->dirty = true;
}

void sessions_kill_all(void)
{
	for (struct session *s = sessions; s; s = s->next)
		session_drop_streams(s);
}

/* Output drained: let input and the streams produce again. */
static void session_resume(struct session *s)
{
	struct stream *st, *next;

	session_dispatch(s);
	for (st = s->streams; st; st = next) {
		next = st->next;
		if (st->kind == STREAM_EXEC)
			exec_resume(st);
		else
			file_resume(st);
	}
}

static void session_update_watch(struct session *s)
{
	uint32_t ev = 0;

	if (!s->throttled && !s->closing)
		ev |= EPOLLIN;
	if (s->out.len)
		ev |= EPOLLOUT;
	if (watch_set(&s->w, ev) < 0)
		session_end(s);
}

static void session_flush(struct session *s)
{
	int rc = session_write_out(s);

	if (rc < 0) {
		if (rc != -EPIPE && rc != -ECONNRESET)
			agent_log("session write: %s", strerror(-rc));
		session_end(s);
		return;
	}
	if (s->throttled && s->out.len < OUTQ_LOW) {
		s->throttled = false;
		session_resume(s);
	}
	if (s->ending)
		return;
	if (s->closing && s->out.len == 0) {
		session_end(s);
		return;
	}
	session_update_watch(s);
}

bool sessions_flush_dirty(void)
{
	bool more = false;

	for (struct session *s = sessions; s; s = s->next) {
		if (!s->dirty || s->ending)
			continue;
		s->dirty = false;
		session_flush(s);
		if (s->dirty && !s->ending)
			more = true;
	}
	return more;
}

/* ---- input -------------------------------------------------------- */

static void session_hello(struct session *s, const struct lg_frame *f)
{
	uint8_t buf[512];
	struct lg_tlv_writer w;
	struct utsname u;
	uint32_t ver;
	size_t len;
	int rc = lg_tlv_find_u32(f->payload, f->len, LG_TAG_VERSION, &ver);

	if (rc == -ENOENT) {
		session_fail(s, EPROTO, "HELLO without VERSION");
		return;
	}
	if (rc < 0) {
		session_fail(s, EBADMSG, "malformed HELLO payload");
		return;
	}
	if (ver != LG_PROTO_VERSION) {
		session_fail(s, EPROTO, "host speaks protocol %u, agent %u",
			     ver, LG_PROTO_VERSION);
		return;
	}
	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "unknown");
	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_u32(&w, LG_TAG_VERSION, LG_PROTO_VERSION);
	lg_tlv_put_str(&w, LG_TAG_AGENT_VERSION, AGENT_VERSION_STRING);
	lg_tlv_put_str(&w, LG_TAG_KERNEL, u.release);
	if (lg_tlv_writer_finish(&w, &len) < 0)
		return;
	s->hello = true;
	session_send(s, LG_MSG_HELLO_OK, f->stream, buf, len);
}

/* EXEC, FILE_PUT, FILE_GET: each opens a new stream. */
static void session_open_stream(struct session *s, const struct lg_frame *f)
{
	const char *name = lg_frame_type_name(f->type);
	struct stream *old;

	if (f->stream == 0) {
		session_send_error(s, 0, EINVAL, "%s needs a nonzero stream id",
				   name);
		return;
	}
	/* ERROR ends a stream, so the one already on this id goes too. */
	old = stream_find(s, f->stream);
	if (old) {
		stream_fail(old, EINVAL, "%s: stream %u is already in use",
			    name, f->stream);
		return;
	}
	if (s->nstreams >= SESSION_MAX_STREAMS) {
		session_send_error(s, f->stream, EMFILE,
				   "%s: too many open streams (%u)", name,
				   s->nstreams);
		return;
	}
	if (f->type == LG_MSG_EXEC)
		exec_start(s, f->stream, f->payload, f->len);
	else if (f->type == LG_MSG_FILE_PUT)
		file_put_start(s, f->stream, f->payload, f->len);
	else
		file_get_start(s, f->stream, f->payload, f->len);
}

static void session_stream_frame(struct session *s, const struct lg_frame *f)
{
	struct stream *st = stream_find(s, f->stream);

	if (!st) {
		/*
		 * STDIN, WINDOW, FILE_DATA... can cross the EXIT, ERROR or
		 * FILE_END that ended their stream: drop them. A SIGNAL is
		 * a request and gets an answer.
		 */
		if (f->type == LG_MSG_SIGNAL)
			session_send_error(s, f->stream, ESRCH,
					   "signal: no exec on stream %u",
					   f->stream);
		return;
	}
	if (st->kind == STREAM_EXEC)
		exec_frame(st, f);
	else
		file_frame(st, f);
}

static void session_handle(struct session *s, const struct lg_frame *f)
{
	if (!s->hello && f->type != LG_MSG_HELLO) {
		session_fail(s, EPROTO, "expected HELLO first, got %s",
			     lg_frame_type_name(f->type));
		return;
	}
	switch (f->type) {
	case LG_MSG_HELLO:
		session_hello(s, f);
		break;
	case LG_MSG_EXEC:
	case LG_MSG_FILE_PUT:
	case LG_MSG_FILE_GET:
		session_open_stream(s, f);
		break;
	case LG_MSG_STDIN:
	case LG_MSG_STDIN_CLOSE:
	case LG_MSG_SIGNAL:
	case LG_MSG_FILE_DATA:
	case LG_MSG_FILE_END:
	case LG_MSG_WINDOW:
		session_stream_frame(s, f);
		break;
	case LG_MSG_SHUTDOWN:
		session_send(s, LG_MSG_OK, f->stream, NULL, 0);
		agent_shutdown(s);
	default:
		session_fail(s, EPROTO, "unexpected %s frame from the host",
			     lg_frame_type_name(f->type));
		break;
	}
}

/* The decoder refused the bytes at its head; say which check failed. */
static void session_fail_decode(struct session *s, int rc)
{
	const uint8_t *h = s->dec->buf + s->dec->start;

	switch (rc) {
	case -EBADMSG:
		session_fail(s, EBADMSG, "bad frame magic 0x%02x%02x", h[1],
			     h[0]);
		break;
	case -EPROTONOSUPPORT:
		session_fail(s, EPROTO, "frame version %u, agent speaks %u",
			     h[2], LG_PROTO_VERSION);
		break;
	case -EMSGSIZE:
		session_fail(s, EBADMSG, "frame length over the %u-byte limit",
			     LG_FRAME_MAX_PAYLOAD);
		break;
	case -ENOMSG:
		session_fail(s, EPROTO, "unknown frame type 0x%02x", h[3]);
		break;
	default:
		session_fail(s, EPROTO, "undecodable input (%s)",
			     strerror(-rc));
		break;
	}
}

static void session_dispatch(struct session *s)
{
	struct lg_frame f;
	int rc;

	/* Throttled: frames stay in the decoder until output drains. */
	while (!s->throttled && !s->closing && !s->ending) {
		rc = lg_decoder_next(s->dec, &f);
		if (rc == 0)
			return;
		if (rc < 0) {
			session_fail_decode(s, rc);
			return;
		}
		session_handle(s, &f);
	}
}

static void session_read(struct session *s)
{
	size_t room;
	uint8_t *p = lg_decoder_space(s->dec, &room);
	ssize_t n;

	if (room == 0) {
		session_fail(s, EBADMSG, "input buffer full");
		return;
	}
	n = read(s->w.fd, p, room);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (errno != ECONNRESET)
			agent_log("session read: %s", strerror(errno));
		session_end(s);
		return;
	}
	if (n == 0) {
		session_end(s);
		return;
	}
	lg_decoder_commit(s->dec, (size_t)n);
	session_dispatch(s);
}

static void session_ready(struct watch *w, uint32_t events)
{
	struct session *s = container_of(w, struct session, w);

	if (s->ending)
		return;
	if (events & EPOLLERR) {
		session_end(s);
		return;
	}
	/*
	 * A virtio-serial port reports HUP once the host side is gone;
	 * a socket reports it with the last data, which is read first.
	 */
	if ((events & EPOLLHUP) && (!s->is_socket || !(events & EPOLLIN))) {
		session_end(s);
		return;
	}
	if ((events & EPOLLIN) && !s->throttled && !s->closing)
		session_read(s);
	s->dirty = true;
}

struct session *session_new(int fd, bool is_socket, session_end_fn *on_end,
			    void *ctx)
{
	struct session *s;

	if (nsessions >= SESSION_MAX) {
		agent_log("too many sessions (%u); refusing one", nsessions);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->dec = malloc(sizeof(*s->dec));
	if (!s->dec) {
		free(s);
		return NULL;
	}
	lg_decoder_init(s->dec);
	buf_init(&s->out);
	watch_init(&s->w, fd, session_ready);
	if (watch_set(&s->w, EPOLLIN) < 0) {
		free(s->dec);
		free(s);
		return NULL;
	}
	s->is_socket = is_socket;
	s->on_end = on_end;
	s->ctx = ctx;
	timer_init(&s->drain_t, session_drain_expired);
	timer_init(&s->end_t, session_teardown);
	s->next = sessions;
	if (sessions)
		sessions->prev = s;
	sessions = s;
	nsessions++;
	return s;
}
