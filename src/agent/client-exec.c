/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host side of one EXEC: streams the guest command's stdout/stderr to local
 * fds, forwards stdin within the agent's credit, and enforces the deadline
 * and the caller's interrupts.
 *
 * Nothing here may block: a local reader that stalls, or a guest that
 * stops, must not keep --timeout or Ctrl-C from working. Guest output is
 * therefore held (one frame at most) until the local fd is writable, and
 * the channel is not read meanwhile; the credit window bounds the rest.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/client.h"
#include "common/log.h"

/* After forwarding an interrupt, how long the command gets to exit. */
#define INTERRUPT_GRACE_MS 2000
/* Writes of at most this size never block once poll says POLLOUT. */
#define OUTPUT_CHUNK 4096

struct pending_output {
	uint8_t *buf; /* one frame's payload */
	size_t len, off;
	bool is_out; /* stdout, else stderr */
};

struct exec_state {
	struct lg_client *c;
	const struct lg_exec_io *io;
	struct lg_exec_result *res;
	uint32_t stream;
	bool started, stdin_open, out_ok, err_ok;
	uint32_t stdin_credit;	 /* bytes of stdin the agent accepts */
	uint32_t out_allowed;	 /* bytes of output the agent may still send */
	uint64_t deadline;	 /* 0: none */
	uint64_t grace_deadline; /* 0: no interrupt pending */
	struct pending_output pend;
	uint8_t *buf;
};

enum { STEP_CONTINUE = 0, STEP_DONE = 1 };

static int send_exec(struct exec_state *s, const struct lg_exec_req *req)
{
	size_t len;
	int rc = lg_exec_req_encode(req, s->buf, LG_FRAME_MAX_PAYLOAD, &len);

	if (rc) {
		snprintf(s->res->msg, sizeof(s->res->msg),
			 "command line and environment too large for one "
			 "request (%u bytes max)",
			 LG_FRAME_MAX_PAYLOAD);
		return rc;
	}
	return lg_client_send(s->c, LG_MSG_EXEC, s->stream, s->buf, len);
}

static int send_signal(struct exec_state *s, int sig)
{
	return lg_client_send_u32(s->c, LG_MSG_SIGNAL, s->stream, LG_TAG_SIGNO,
				  (uint32_t)sig);
}

static int protocol_error(struct exec_state *s, const char *what)
{
	snprintf(s->res->msg, sizeof(s->res->msg), "guest agent %s", what);
	return -EPROTO;
}

/* Output is acknowledged once written (or discarded) locally. */
static int output_done(struct exec_state *s)
{
	uint32_t n = (uint32_t)s->pend.len;

	s->pend.len = s->pend.off = 0;
	s->out_allowed += n;
	return lg_client_window(s->c, s->stream, n);
}

static int on_output(struct exec_state *s, const struct lg_frame *f)
{
	bool is_out = f->type == LG_MSG_STDOUT;

	if (f->len > s->out_allowed)
		return protocol_error(s, "sent more output than it was "
					 "granted");
	s->out_allowed -= f->len;
	memcpy(s->pend.buf, f->payload, f->len);
	s->pend.len = f->len;
	s->pend.is_out = is_out;
	if (!(is_out ? s->out_ok : s->err_ok) || f->len == 0)
		return output_done(s); /* discarded */
	return STEP_CONTINUE;
}

/* One chunk of pending output; a closed local pipe discards the rest. */
static int output_write(struct exec_state *s)
{
	struct pending_output *p = &s->pend;
	bool *ok = p->is_out ? &s->out_ok : &s->err_ok;
	size_t n = p->len - p->off;
	ssize_t w;

	w = write(p->is_out ? s->io->out_fd : s->io->err_fd, p->buf + p->off,
		  n < OUTPUT_CHUNK ? n : OUTPUT_CHUNK);
	if (w < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (w < 0) {
		lg_debug("guest %s discarded: %s",
			 p->is_out ? "stdout" : "stderr", strerror(errno));
		*ok = false;
		/* As in a local pipeline: the writer gets SIGPIPE. */
		if (errno == EPIPE && send_signal(s, SIGPIPE) < 0)
			return -EIO;
		return output_done(s);
	}
	p->off += (size_t)w;
	return p->off == p->len ? output_done(s) : 0;
}

static int on_exit_frame(struct exec_state *s, const struct lg_frame *f)
{
	uint32_t v;

	s->res->t_exited = lg_now_ns();
	if (lg_tlv_find_u32(f->payload, f->len, LG_TAG_EXIT_SIGNAL, &v) == 0) {
		s->res->outcome = LG_EXEC_SIGNALED;
		s->res->sig = (int)(v & 0x7f);
	} else if (lg_tlv_find_u32(f->payload, f->len, LG_TAG_EXIT_CODE, &v) ==
		   0) {
		s->res->outcome = LG_EXEC_EXITED;
		s->res->code = (int)(v & 0xff);
	} else {
		return protocol_error(s, "sent an EXIT without a status");
	}
	return STEP_DONE;
}

static int on_error_frame(struct exec_state *s, const struct lg_frame *f)
{
	uint32_t e = 0;

	if (lg_error_decode(f->payload, f->len, &e, s->res->msg,
			    sizeof(s->res->msg)) < 0)
		return protocol_error(s, "sent a malformed ERROR");
	s->res->err = lg_errno_from_peer(e);
	s->res->outcome =
		s->started ? LG_EXEC_CHANNEL_LOST : LG_EXEC_NOT_STARTED;
	return STEP_DONE;
}

/* --timeout counts from the command's start; a repeat changes nothing. */
static void on_started(struct exec_state *s)
{
	if (s->started)
		return;
	s->started = true;
	s->res->t_started = lg_now_ns();
	if (s->io->timeout_ms)
		s->deadline = s->res->t_started +
			      (uint64_t)s->io->timeout_ms * 1000000ull;
}

static int on_frame(struct exec_state *s, const struct lg_frame *f)
{
	uint32_t credit;

	if (f->stream == 0 && f->type == LG_MSG_ERROR) {
		on_error_frame(s, f);
		s->res->outcome = LG_EXEC_CHANNEL_LOST;
		return STEP_DONE;
	}
	if (f->stream != s->stream)
		return STEP_CONTINUE;
	switch (f->type) {
	case LG_MSG_STARTED:
		on_started(s);
		return STEP_CONTINUE;
	case LG_MSG_STDOUT:
	case LG_MSG_STDERR:
		return on_output(s, f);
	case LG_MSG_WINDOW:
		if (lg_tlv_find_u32(f->payload, f->len, LG_TAG_CREDIT,
				    &credit) == 0)
			s->stdin_credit =
				lg_credit_add(s->stdin_credit, credit);
		return STEP_CONTINUE;
	case LG_MSG_EXIT:
		return on_exit_frame(s, f);
	case LG_MSG_ERROR:
		return on_error_frame(s, f);
	default:
		lg_debug("ignoring %s frame on exec stream",
			 lg_frame_type_name(f->type));
		return STEP_CONTINUE;
	}
}

static int forward_stdin(struct exec_state *s)
{
	size_t want = s->stdin_credit < LG_FRAME_MAX_PAYLOAD
			      ? s->stdin_credit
			      : LG_FRAME_MAX_PAYLOAD;
	ssize_t n = read(s->io->in_fd, s->buf, want);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		if (n < 0)
			lg_warn("reading stdin: %s; closing the guest's stdin",
				strerror(errno));
		s->stdin_open = false;
		return lg_client_send(s->c, LG_MSG_STDIN_CLOSE, s->stream, NULL,
				      0);
	}
	s->stdin_credit -= (uint32_t)n;
	return lg_client_send(s->c, LG_MSG_STDIN, s->stream, s->buf, (size_t)n);
}

/* First interrupt: forward it to the command; second: give up now. */
static int on_cancel(struct exec_state *s)
{
	struct signalfd_siginfo si;
	ssize_t n = read(s->io->cancel_fd, &si, sizeof(si));

	if (n != (ssize_t)sizeof(si))
		return 0;
	s->res->sig = (int)si.ssi_signo;
	if (s->grace_deadline || !s->started) {
		s->res->outcome = LG_EXEC_INTERRUPTED;
		return STEP_DONE;
	}
	lg_info("forwarding %s to the guest command",
		strsignal((int)si.ssi_signo));
	s->grace_deadline = lg_now_ns() + INTERRUPT_GRACE_MS * 1000000ull;
	return send_signal(s, (int)si.ssi_signo);
}

static int poll_timeout(const struct exec_state *s)
{
	uint64_t next = s->deadline;

	if (s->grace_deadline && (!next || s->grace_deadline < next))
		next = s->grace_deadline;
	return next ? lg_ms_until(next) : -1;
}

/* Deadlines: the timeout ends the exec; the grace period too. */
static int check_deadlines(struct exec_state *s)
{
	uint64_t now = lg_now_ns();

	if (s->deadline && now >= s->deadline) {
		s->res->outcome = LG_EXEC_TIMED_OUT;
		return STEP_DONE;
	}
	if (s->grace_deadline && now >= s->grace_deadline) {
		s->res->outcome = LG_EXEC_INTERRUPTED;
		return STEP_DONE;
	}
	return STEP_CONTINUE;
}

/* Handles buffered frames until one must wait for a local write. */
static int drain_frames(struct exec_state *s)
{
	struct lg_frame f;
	int rc;

	while (!s->pend.len && (rc = lg_decoder_next(s->c->dec, &f)) == 1) {
		rc = on_frame(s, &f);
		if (rc != STEP_CONTINUE)
			return rc;
	}
	return s->pend.len ? STEP_CONTINUE : rc;
}

static int exec_step(struct exec_state *s)
{
	struct pollfd p[4] = {
		{.fd = s->pend.len ? -1 : s->c->fd, .events = POLLIN},
		{.fd = -1, .events = POLLIN},
		{.fd = s->io->cancel_fd, .events = POLLIN},
		{.fd = -1, .events = POLLOUT},
	};
	int rc;

	if (s->started && s->stdin_open && s->stdin_credit)
		p[1].fd = s->io->in_fd;
	if (s->pend.len)
		p[3].fd = s->pend.is_out ? s->io->out_fd : s->io->err_fd;
	rc = poll(p, 4, poll_timeout(s));
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
	if (p[2].revents & POLLIN) {
		rc = on_cancel(s);
		if (rc)
			return rc;
	}
	if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
		rc = forward_stdin(s);
		if (rc)
			return rc;
	}
	if (p[3].revents) {
		rc = output_write(s);
		if (!rc)
			rc = drain_frames(s);
		if (rc)
			return rc;
	}
	if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
		rc = lg_client_fill(s->c);
		if (!rc)
			rc = drain_frames(s);
		if (rc)
			return rc;
	}
	return check_deadlines(s);
}

static void exec_failed(struct exec_state *s, int rc)
{
	/* The channel broke: the caller asks the VM why. */
	s->res->outcome = LG_EXEC_CHANNEL_LOST;
	s->res->err = -rc;
	if (s->res->msg[0])
		return;
	if (rc == -ECONNRESET)
		snprintf(s->res->msg, sizeof(s->res->msg),
			 "guest agent closed the channel");
	else
		snprintf(s->res->msg, sizeof(s->res->msg), "agent channel: %s",
			 strerror(-rc));
}

int lg_client_exec(struct lg_client *c, const struct lg_exec_req *req,
		   const struct lg_exec_io *io, struct lg_exec_result *res)
{
	struct exec_state s = {
		.c = c,
		.io = io,
		.res = res,
		.stream = lg_client_new_stream(c),
		.stdin_open = io->in_fd >= 0,
		.out_ok = true,
		.err_ok = true,
		.stdin_credit = LG_WINDOW_INITIAL,
		.out_allowed = LG_WINDOW_INITIAL,
	};
	int rc;

	memset(res, 0, sizeof(*res));
	s.buf = malloc(LG_FRAME_MAX_PAYLOAD);
	s.pend.buf = malloc(LG_FRAME_MAX_PAYLOAD);
	rc = s.buf && s.pend.buf ? send_exec(&s, req) : -ENOMEM;
	/* Until STARTED, the timeout also bounds a guest that never starts. */
	if (!rc && io->timeout_ms)
		s.deadline =
			lg_now_ns() + (uint64_t)io->timeout_ms * 1000000ull;
	if (!rc)
		rc = drain_frames(&s);
	while (rc == STEP_CONTINUE)
		rc = exec_step(&s);
	free(s.buf);
	free(s.pend.buf);
	if (rc < 0 && rc != -E2BIG && rc != -EMSGSIZE && rc != -ENOMEM) {
		exec_failed(&s, rc);
		return 0;
	}
	return rc < 0 ? rc : 0;
}
