/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exec streams: a child in its own session and process group, with
 * stdout and stderr pipes (and a stdin pipe when asked for). Output is
 * read only within the host's credit, so a child writing without end
 * blocks on its full pipe instead of growing the agent. EXIT is sent only
 * after the child was reaped and both pipes reached EOF: output always
 * precedes EXIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "buf.h"
#include "loop.h"
#include "session.h"
#include "spawn.h"

/* How often to look for a gone process group while pipes stay open. */
#define EXEC_LINGER_TICK_MS 100u
/*
 * A pipe held by a process that left the group: EXIT after this long of
 * output able to flow once the group is gone.
 */
#define EXEC_LINGER_MS 2000u
/* Credit is a sum of u32 grants; capped far below overflow. */
#define EXEC_CREDIT_MAX (UINT64_C(1) << 40)

enum { OUT_STDOUT, OUT_STDERR };

struct exec {
	struct stream st;
	struct exec *pnext, *pprev; /* all live execs, looked up by pid */
	pid_t pid;		    /* 0 until forked */
	uint32_t uid, gid, timeout_ms;
	struct watch status_w;
	struct watch out_w[2];
	struct watch in_w;
	struct bytebuf inq;
	uint64_t out_credit; /* STDOUT+STDERR bytes the host accepts now */
	uint32_t in_unacked; /* STDIN bytes taken but not yet WINDOWed */
	bool started, reaped;
	/*
	 * Reaped and its process group seen empty: the pgid is free for
	 * reuse by an unrelated group, so it is never signalled again.
	 */
	bool group_gone;
	bool stdin_attached, stdin_close, stdin_broken;
	/* Output could flow at some point since the last linger tick. */
	bool out_flowed;
	int wstatus;
	uint64_t linger_at; /* last linger tick (or the reap) */
	uint64_t linger_ms; /* time output could flow since the group went */
	struct timer timeout_t, linger_t;
	char *argv0, *cwd;
	struct grave grave;
};

static struct exec *execs;

static struct exec *exec_of(struct stream *st)
{
	return container_of(st, struct exec, st);
}

/*
 * Once the child is reaped, an empty process group is gone for good: no
 * process can join it, and its pgid may be handed to a new group.
 */
static bool exec_group_gone(struct exec *e)
{
	if (!e->group_gone && e->reaped && kill(-e->pid, 0) < 0 &&
	    errno == ESRCH)
		e->group_gone = true;
	return e->group_gone;
}

/* kill() the exec's process group; before setsid() only the child. */
static int exec_kill(struct exec *e, int sig)
{
	int err;

	/* pid 0 would make kill() hit the agent's own process group. */
	if (e->pid <= 0 || e->group_gone)
		return -ESRCH;
	if (kill(-e->pid, sig) == 0)
		return 0;
	err = errno;
	if (e->reaped) {
		if (err == ESRCH)
			e->group_gone = true;
		return -err;
	}
	/* Not reaped: the child holds its pid, so this cannot hit another. */
	if (kill(e->pid, sig) == 0)
		return 0;
	return -errno;
}

static void exec_release(struct grave *g)
{
	struct exec *e = container_of(g, struct exec, grave);

	free(e->argv0);
	free(e->cwd);
	free(e);
}

/* Drops every resource of e; the child, if any, is left alone. */
static void exec_free(struct exec *e)
{
	timer_cancel(&e->timeout_t);
	timer_cancel(&e->linger_t);
	watch_close(&e->status_w);
	watch_close(&e->out_w[OUT_STDOUT]);
	watch_close(&e->out_w[OUT_STDERR]);
	watch_close(&e->in_w);
	buf_free(&e->inq);
	if (e->pprev)
		e->pprev->pnext = e->pnext;
	else
		execs = e->pnext;
	if (e->pnext)
		e->pnext->pprev = e->pprev;
	stream_remove(&e->st);
	loop_defer_free(&e->grave, exec_release);
}

/* Stream aborted (ERROR sent, session gone, SHUTDOWN): kill it all. */
void exec_destroy(struct stream *st)
{
	struct exec *e = exec_of(st);

	exec_kill(e, SIGKILL);
	exec_free(e);
}

/* Sends EXIT and frees e once nothing more can precede it. */
static bool exec_maybe_finish(struct exec *e)
{
	struct session *s = e->st.s;

	if (!e->started || !e->reaped || watch_is_open(&e->out_w[OUT_STDOUT]) ||
	    watch_is_open(&e->out_w[OUT_STDERR]))
		return false;
	if (WIFSIGNALED(e->wstatus))
		session_send_u32(s, LG_MSG_EXIT, e->st.id, LG_TAG_EXIT_SIGNAL,
				 (uint32_t)WTERMSIG(e->wstatus));
	else
		session_send_u32(s, LG_MSG_EXIT, e->st.id, LG_TAG_EXIT_CODE,
				 (uint32_t)WEXITSTATUS(e->wstatus));
	exec_free(e);
	return true;
}

/* ---- stdin -------------------------------------------------------- */

static void exec_stdin_ack(struct exec *e, size_t n)
{
	if (!n)
		return;
	e->in_unacked -= (uint32_t)n;
	session_send_u32(e->st.s, LG_MSG_WINDOW, e->st.id, LG_TAG_CREDIT,
			 (uint32_t)n);
}

/*
 * The child closed its stdin. Queued and later bytes are dropped, but
 * still acknowledged, so a host writing stdin never stalls on credit.
 */
static void exec_stdin_broken(struct exec *e)
{
	size_t dropped = e->inq.len;

	e->stdin_broken = true;
	watch_close(&e->in_w);
	buf_free(&e->inq);
	exec_stdin_ack(e, dropped);
}

static void exec_update_polling(struct exec *e);

static void exec_stdin_flush(struct exec *e)
{
	size_t done = 0;

	while (e->inq.len) {
		ssize_t n = write(e->in_w.fd, buf_data(&e->inq), e->inq.len);

		if (n > 0) {
			buf_consume(&e->inq, (size_t)n);
			done += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			break;
		} else {
			exec_stdin_ack(e, done);
			exec_stdin_broken(e);
			return;
		}
	}
	exec_stdin_ack(e, done);
	if (!e->inq.len && e->stdin_close)
		watch_close(&e->in_w);
	exec_update_polling(e);
}

static void exec_stdin_ready(struct watch *w, uint32_t events)
{
	struct exec *e = container_of(w, struct exec, in_w);

	/* EPOLLERR on a pipe's write end: the reader is gone. */
	if (events & EPOLLERR)
		exec_stdin_broken(e);
	else
		exec_stdin_flush(e);
}

static void exec_stdin_data(struct exec *e, const struct lg_frame *f)
{
	if (!e->stdin_attached) {
		stream_fail(&e->st, EBADF, "stdin of stream %u is not attached",
			    e->st.id);
		return;
	}
	if (e->stdin_close) {
		stream_fail(&e->st, EPROTO, "STDIN after STDIN_CLOSE");
		return;
	}
	if (f->len > LG_WINDOW_INITIAL - e->in_unacked) {
		stream_fail(&e->st, EPROTO, "STDIN beyond the %u-byte window",
			    LG_WINDOW_INITIAL);
		return;
	}
	e->in_unacked += f->len;
	if (e->stdin_broken) {
		exec_stdin_ack(e, f->len);
		return;
	}
	/* Bounded by the window checked above. */
	if (buf_append(&e->inq, f->payload, f->len, LG_WINDOW_INITIAL) < 0) {
		stream_fail(&e->st, ENOMEM, "stdin queue: out of memory");
		return;
	}
	exec_stdin_flush(e);
}

static void exec_stdin_close(struct exec *e)
{
	if (!e->stdin_attached || e->stdin_close)
		return;
	e->stdin_close = true;
	/* With data still queued, exec_stdin_flush closes it later. */
	if (!e->inq.len)
		watch_close(&e->in_w);
}

/* ---- output ------------------------------------------------------- */

/* Output may not be read now: no credit, or the session is throttled. */
static bool exec_out_blocked(const struct exec *e)
{
	return !e->started || e->out_credit == 0 ||
	       !session_can_send_data(e->st.s);
}

/* Read a pipe only with credit and room: real backpressure. */
static void exec_update_polling(struct exec *e)
{
	bool out_ok = !exec_out_blocked(e);

	if (out_ok)
		e->out_flowed = true;
	for (int i = OUT_STDOUT; i <= OUT_STDERR; i++) {
		if (watch_set(&e->out_w[i], out_ok ? EPOLLIN : 0) < 0) {
			/* Cannot watch it: end the exec rather than hang. */
			watch_close(&e->out_w[i]);
			exec_kill(e, SIGKILL);
		}
	}
	if (watch_set(&e->in_w, e->inq.len ? EPOLLOUT : 0) < 0)
		exec_stdin_broken(e);
}

void exec_resume(struct stream *st)
{
	exec_update_polling(exec_of(st));
}

static void exec_read_output(struct exec *e, int which)
{
	struct session *s = e->st.s;
	size_t n = e->out_credit < LG_FRAME_MAX_PAYLOAD ? e->out_credit
							: LG_FRAME_MAX_PAYLOAD;
	uint8_t *p;
	ssize_t r;

	if (!e->started || n == 0 || !session_can_send_data(s)) {
		exec_update_polling(e);
		return;
	}
	p = session_frame_begin(s, n);
	if (!p)
		return;
	r = read(e->out_w[which].fd, p, n);
	if (r > 0) {
		session_frame_end(
			s, which == OUT_STDOUT ? LG_MSG_STDOUT : LG_MSG_STDERR,
			e->st.id, (size_t)r);
		e->out_credit -= (uint64_t)r;
	} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
		watch_close(&e->out_w[which]);
	}
	if (!exec_maybe_finish(e))
		exec_update_polling(e);
}

static void exec_stdout_ready(struct watch *w, uint32_t events)
{
	(void)events;
	exec_read_output(container_of(w, struct exec, out_w[OUT_STDOUT]),
			 OUT_STDOUT);
}

static void exec_stderr_ready(struct watch *w, uint32_t events)
{
	(void)events;
	exec_read_output(container_of(w, struct exec, out_w[OUT_STDERR]),
			 OUT_STDERR);
}

/* ---- lifecycle ---------------------------------------------------- */

static void exec_spawn_failed(struct exec *e, const struct spawn_status *st)
{
	int err = st->err;

	switch (st->stage) {
	case SPAWN_CHDIR:
		stream_fail(&e->st, err, "chdir %s: %s", e->cwd ? e->cwd : "/",
			    strerror(err));
		break;
	case SPAWN_SETUID:
		stream_fail(&e->st, err, "setuid %u: %s", e->uid,
			    strerror(err));
		break;
	case SPAWN_SETGID:
	case SPAWN_SETGROUPS:
		stream_fail(&e->st, err, "setgid %u: %s", e->gid,
			    strerror(err));
		break;
	default:
		stream_fail(&e->st, err, "exec %s: %s", e->argv0,
			    strerror(err));
		break;
	}
}

/* The status pipe: EOF means execvp succeeded, data means it failed. */
static void exec_status_ready(struct watch *w, uint32_t events)
{
	struct exec *e = container_of(w, struct exec, status_w);
	struct spawn_status st = {.stage = SPAWN_EXEC, .err = EIO};
	ssize_t r = read(w->fd, &st, sizeof(st));

	(void)events;
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r < 0)
		st.err = errno;
	watch_close(w);
	if (r != 0) {
		exec_spawn_failed(e, &st);
		return;
	}
	e->started = true;
	session_send_u32(e->st.s, LG_MSG_STARTED, e->st.id, LG_TAG_PID,
			 (uint32_t)e->pid);
	exec_update_polling(e);
}

/*
 * After the child was reaped, a process it left behind may still hold the
 * pipes: wait for their EOF while its process group lives. Once the group
 * is gone (the holder escaped with setsid), give up after EXEC_LINGER_MS
 * and send EXIT anyway. Time stalled on the host does not count: a tick in
 * which the output never could flow (no credit, or the session's output
 * queue full, all along) is left out; any other tick counts in full, so a
 * host granting credit steadily to a holder that never stops writing still
 * gets its EXIT.
 */
static void exec_linger(struct timer *t)
{
	struct exec *e = container_of(t, struct exec, linger_t);
	bool was_gone = e->group_gone;
	bool flowed = e->out_flowed || !exec_out_blocked(e);
	uint64_t now = now_ms();

	e->out_flowed = false;
	/* Counted only from the first look that found the group gone. */
	if (exec_group_gone(e) && was_gone && flowed)
		e->linger_ms += now - e->linger_at;
	e->linger_at = now;
	if (e->linger_ms >= EXEC_LINGER_MS) {
		watch_close(&e->out_w[OUT_STDOUT]);
		watch_close(&e->out_w[OUT_STDERR]);
		if (exec_maybe_finish(e))
			return;
	}
	timer_arm(t, EXEC_LINGER_TICK_MS);
}

static void exec_timeout(struct timer *t)
{
	struct exec *e = container_of(t, struct exec, timeout_t);

	/* EXIT then reports signal 9, as the host expects. */
	exec_kill(e, SIGKILL);
}

void exec_child_exited(pid_t pid, int status)
{
	struct exec *e;

	for (e = execs; e; e = e->pnext)
		if (e->pid == pid && !e->reaped)
			break;
	if (!e)
		return; /* an orphan re-parented to us, or a failed exec */
	e->reaped = true;
	e->wstatus = status;
	if (exec_maybe_finish(e))
		return;
	/* Look at once: the sooner the pgid is known free, the safer. */
	exec_group_gone(e);
	e->linger_at = now_ms();
	e->out_flowed = false;
	timer_arm(&e->linger_t, EXEC_LINGER_TICK_MS);
}

/* ---- frames from the host ----------------------------------------- */

static void exec_signal(struct exec *e, const struct lg_frame *f)
{
	uint32_t signo;
	int rc = lg_tlv_find_u32(f->payload, f->len, LG_TAG_SIGNO, &signo);

	if (rc == -EBADMSG) {
		session_fail(e->st.s, EBADMSG, "malformed SIGNAL");
		return;
	}
	if (rc < 0 || signo == 0 || signo >= NSIG) {
		stream_fail(&e->st, EINVAL, "signal: invalid signal number");
		return;
	}
	/*
	 * ESRCH: the group is gone and EXIT is on its way; nothing to say.
	 * A group already known gone is not signalled at all: its pgid may
	 * belong to someone else by now.
	 */
	exec_kill(e, (int)signo);
}

static void exec_window(struct exec *e, const struct lg_frame *f)
{
	uint32_t credit;

	if (lg_tlv_find_u32(f->payload, f->len, LG_TAG_CREDIT, &credit) < 0) {
		session_fail(e->st.s, EBADMSG, "WINDOW without a valid CREDIT");
		return;
	}
	e->out_credit += credit;
	if (e->out_credit > EXEC_CREDIT_MAX)
		e->out_credit = EXEC_CREDIT_MAX;
	exec_update_polling(e);
}

void exec_frame(struct stream *st, const struct lg_frame *f)
{
	struct exec *e = exec_of(st);

	switch (f->type) {
	case LG_MSG_STDIN:
		exec_stdin_data(e, f);
		break;
	case LG_MSG_STDIN_CLOSE:
		exec_stdin_close(e);
		break;
	case LG_MSG_SIGNAL:
		exec_signal(e, f);
		break;
	case LG_MSG_WINDOW:
		exec_window(e, f);
		break;
	default:
		stream_fail(st, EPROTO, "%s on exec stream %u",
			    lg_frame_type_name(f->type), st->id);
		break;
	}
}

/* ---- start -------------------------------------------------------- */

/* A pipe whose agent end (index parent_end) is non-blocking. */
static int make_pipe(int p[2], int parent_end)
{
	int err;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	if (fcntl(p[parent_end], F_SETFL, O_NONBLOCK) == 0)
		return 0;
	err = errno;
	close(p[0]);
	close(p[1]);
	p[0] = -1;
	p[1] = -1;
	return -err;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static struct exec *exec_new(struct session *s, uint32_t id,
			     const struct lg_exec_req *req)
{
	struct exec *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->argv0 = strdup(req->argv[0]);
	e->cwd = req->cwd ? strdup(req->cwd) : NULL;
	if (!e->argv0 || (req->cwd && !e->cwd)) {
		free(e->argv0);
		free(e->cwd);
		free(e);
		return NULL;
	}
	e->uid = req->uid;
	e->gid = req->gid;
	e->timeout_ms = req->timeout_ms;
	e->stdin_attached = req->stdin_attached;
	e->out_credit = LG_WINDOW_INITIAL;
	watch_init(&e->status_w, -1, exec_status_ready);
	watch_init(&e->out_w[OUT_STDOUT], -1, exec_stdout_ready);
	watch_init(&e->out_w[OUT_STDERR], -1, exec_stderr_ready);
	watch_init(&e->in_w, -1, exec_stdin_ready);
	buf_init(&e->inq);
	timer_init(&e->timeout_t, exec_timeout);
	timer_init(&e->linger_t, exec_linger);
	stream_add(s, &e->st, id, STREAM_EXEC);
	e->pnext = execs;
	if (execs)
		execs->pprev = e;
	execs = e;
	return e;
}

static void exec_spawn(struct exec *e, const struct lg_exec_req *req,
		       char **envp)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	int status[2] = {-1, -1};
	pid_t pid = 0;
	int rc = req->stdin_attached ? make_pipe(in, 1) : 0;

	if (!rc)
		rc = make_pipe(out, 0);
	if (!rc)
		rc = make_pipe(err, 0);
	if (!rc)
		rc = make_pipe(status, 0);
	if (!rc) {
		struct spawn_args a = {
			.argv = req->argv,
			.envp = envp,
			.cwd = req->cwd,
			.uid = req->uid,
			.gid = req->gid,
			.stdin_fd = in[0],
			.stdout_fd = out[1],
			.stderr_fd = err[1],
			.status_fd = status[1],
		};

		pid = spawn_child(&a);
		rc = pid < 0 ? (int)pid : 0;
	}
	/* The child's ends; the agent's ends now belong to e's watches. */
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&status[1]);
	e->in_w.fd = in[1];
	e->out_w[OUT_STDOUT].fd = out[0];
	e->out_w[OUT_STDERR].fd = err[0];
	e->status_w.fd = status[0];
	if (rc < 0) {
		stream_fail(&e->st, -rc, "exec %s: %s", e->argv0,
			    strerror(-rc));
		return;
	}
	e->pid = pid;
	if (e->timeout_ms)
		timer_arm(&e->timeout_t, e->timeout_ms);
	if (watch_set(&e->status_w, EPOLLIN) < 0)
		stream_fail(&e->st, ENOMEM, "exec %s: cannot watch the child",
			    e->argv0);
}

void exec_start(struct session *s, uint32_t id, const uint8_t *p, size_t len)
{
	struct lg_exec_req req;
	struct exec *e;
	char **envp;
	int rc = lg_exec_req_decode(p, len, &req);

	if (rc == -EBADMSG) {
		session_fail(s, EBADMSG, "malformed EXEC on stream %u", id);
		return;
	}
	if (rc < 0) {
		session_send_error(s, id, -rc, "exec: %s", strerror(-rc));
		return;
	}
	rc = env_build(req.envp, req.envc, &envp);
	if (rc < 0) {
		session_send_error(s, id, -rc, "exec %s: bad environment: %s",
				   req.argv[0],
				   rc == -EINVAL ? "entry is not KEY=VALUE"
						 : strerror(-rc));
		lg_exec_req_free(&req);
		return;
	}
	e = exec_new(s, id, &req);
	if (e)
		exec_spawn(e, &req, envp);
	else
		session_send_error(s, id, ENOMEM, "exec %s: out of memory",
				   req.argv[0]);
	free(envp);
	lg_exec_req_free(&req);
}
