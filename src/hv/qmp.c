/* SPDX-License-Identifier: Apache-2.0 */
#include "hv/qmp.h"
#include "hv/errmsg.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_RETRY_NS (5ull * 1000 * 1000)

struct lg_qmp {
	int fd;
	bool eof;
	bool broken; /* a command was sent in part: the stream is garbled */
	unsigned next_id;
	json_t *events; /* array, oldest first */
	size_t len;	/* bytes used in line */
	char line[LG_QMP_LINE_MAX];
};

static uint64_t deadline_after(unsigned timeout_ms)
{
	return lg_now_ns() + (uint64_t)timeout_ms * 1000000ull;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000ull),
		.tv_nsec = (long)(ns % 1000000000ull),
	};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Parses and removes the first complete line; *msg NULL if none yet. */
static int take_line(struct lg_qmp *q, json_t **msg, char *err, size_t errlen)
{
	json_error_t jerr;
	char *nl = memchr(q->line, '\n', q->len);
	size_t n;

	*msg = NULL;
	if (!nl)
		return 0;
	n = (size_t)(nl - q->line) + 1;
	*msg = json_loadb(q->line, n, 0, &jerr);
	memmove(q->line, q->line + n, q->len - n);
	q->len -= n;
	if (!*msg) {
		snprintf(err, errlen, "bad JSON from QEMU's QMP: %s",
			 jerr.text);
		return -EPROTO;
	}
	if (!json_is_object(*msg)) {
		json_decref(*msg);
		*msg = NULL;
		snprintf(err, errlen, "QMP message is not a JSON object");
		return -EPROTO;
	}
	return 0;
}

/* Waits for events on fd until deadline; what names the wait in errors. */
static int qmp_poll(int fd, short events, uint64_t deadline, const char *what,
		    char *err, size_t errlen)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int ret;

	do {
		ret = poll(&pfd, 1, lg_ms_until(deadline));
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return lg_hv_syserr(err, errlen, "poll on QMP socket");
	if (ret == 0) {
		snprintf(err, errlen, "%s", what);
		return -ETIMEDOUT;
	}
	return 0;
}

/* Reads more bytes, waiting until deadline. */
static int fill(struct lg_qmp *q, uint64_t deadline, char *err, size_t errlen)
{
	ssize_t n;
	int ret;

	if (q->len == sizeof(q->line)) {
		snprintf(err, errlen, "QMP line longer than %u bytes",
			 LG_QMP_LINE_MAX);
		return -EMSGSIZE;
	}
	ret = qmp_poll(q->fd, POLLIN, deadline,
		       "no answer on QMP socket in time", err, errlen);
	if (ret < 0)
		return ret;
	n = recv(q->fd, q->line + q->len, sizeof(q->line) - q->len,
		 MSG_DONTWAIT);
	if (n < 0 && errno == ECONNRESET) /* QEMU went away */
		n = 0;
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		return lg_hv_syserr(err, errlen, "read QMP socket");
	}
	if (n == 0)
		q->eof = true;
	q->len += (size_t)n;
	return 0;
}

/* Next JSON object from QEMU, waiting until deadline. */
static int read_msg(struct lg_qmp *q, uint64_t deadline, json_t **msg,
		    char *err, size_t errlen)
{
	int ret;

	for (;;) {
		ret = take_line(q, msg, err, errlen);
		if (ret < 0 || *msg)
			return ret;
		if (q->eof) {
			snprintf(err, errlen, "QEMU closed the QMP connection");
			return -ECONNRESET;
		}
		ret = fill(q, deadline, err, errlen);
		if (ret < 0)
			return ret;
	}
}

static void queue_event(struct lg_qmp *q, json_t *msg)
{
	const char *name = json_string_value(json_object_get(msg, "event"));

	lg_debug("qmp: event %s", name ? name : "?");
	if (json_array_size(q->events) >= LG_QMP_EVENTS_MAX) {
		lg_debug("qmp: event buffer full, dropping the oldest");
		json_array_remove(q->events, 0);
	}
	json_array_append(q->events, msg);
}

/*
 * Sends msg and a newline, waiting until deadline at most: QEMU not
 * reading its socket must not hang us. Non-blocking sends, so the fd
 * itself can stay blocking.
 */
static int send_line(struct lg_qmp *q, json_t *msg, uint64_t deadline,
		     char *err, size_t errlen)
{
	char *text;
	size_t len, off = 0;
	ssize_t n;
	int ret = 0;

	if (q->broken) {
		snprintf(err, errlen,
			 "QMP connection unusable after a "
			 "command was sent in part");
		return -EPIPE;
	}
	text = json_dumps(msg, JSON_COMPACT);
	if (!text) {
		snprintf(err, errlen, "encoding a QMP command failed");
		return -ENOMEM;
	}
	len = strlen(text);
	text[len] = '\n'; /* replaces the NUL; length is tracked */
	while (off < len + 1) {
		n = send(q->fd, text + off, len + 1 - off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			ret = qmp_poll(q->fd, POLLOUT, deadline,
				       "QEMU took no QMP input in time", err,
				       errlen);
		else if (n < 0)
			ret = lg_hv_syserr(err, errlen, "write QMP socket");
		else
			off += (size_t)n;
		if (ret < 0)
			break;
	}
	if (ret < 0 && off > 0)
		q->broken = true;
	free(text);
	return ret;
}

/* Turns an answer into the caller's result. */
static int answer(json_t *msg, const char *cmd, json_t **ret, char *err,
		  size_t errlen)
{
	json_t *error = json_object_get(msg, "error");
	const char *desc;

	if (error) {
		desc = json_string_value(json_object_get(error, "desc"));
		snprintf(err, errlen, "QMP %s failed: %s", cmd,
			 desc ? desc : "(no description)");
		return -EREMOTEIO;
	}
	if (ret)
		*ret = json_incref(json_object_get(msg, "return"));
	return 0;
}

/* Waits for the answer carrying id; events are buffered meanwhile. */
static int await_answer(struct lg_qmp *q, const char *cmd, const char *id,
			uint64_t deadline, json_t **ret, char *err,
			size_t errlen)
{
	json_t *msg;
	const char *got;
	int rc;

	for (;;) {
		rc = read_msg(q, deadline, &msg, err, errlen);
		if (rc < 0)
			return rc;
		if (json_object_get(msg, "event")) {
			queue_event(q, msg);
			json_decref(msg);
			continue;
		}
		got = json_string_value(json_object_get(msg, "id"));
		if (got && strcmp(got, id) == 0) {
			rc = answer(msg, cmd, ret, err, errlen);
			json_decref(msg);
			return rc;
		}
		json_decref(
			msg); /* a late answer to a command that timed out */
	}
}

int lg_qmp_execute(struct lg_qmp *q, const char *cmd, json_t *args,
		   unsigned timeout_ms, json_t **ret, char *err, size_t errlen)
{
	uint64_t deadline = deadline_after(timeout_ms);
	char id[32];
	json_t *msg;
	int rc;

	if (ret)
		*ret = NULL;
	snprintf(id, sizeof(id), "lg-%u", q->next_id++);
	msg = json_pack("{s:s, s:s}", "execute", cmd, "id", id);
	if (!msg)
		json_decref(args); /* stolen whatever happens */
	if (!msg || (args && json_object_set_new(msg, "arguments", args))) {
		json_decref(msg);
		snprintf(err, errlen, "building QMP command %s failed", cmd);
		return -ENOMEM;
	}
	rc = send_line(q, msg, deadline, err, errlen);
	json_decref(msg);
	if (rc == -ETIMEDOUT)
		snprintf(err, errlen,
			 "QMP %s: QEMU did not take the command within %u ms",
			 cmd, timeout_ms);
	if (rc < 0)
		return rc;
	rc = await_answer(q, cmd, id, deadline, ret, err, errlen);
	if (rc == -ETIMEDOUT)
		snprintf(err, errlen, "QMP %s: no answer within %u ms", cmd,
			 timeout_ms);
	return rc;
}

static bool event_matches(json_t *ev, const char *name, lg_qmp_match_fn match,
			  void *arg)
{
	const char *got = json_string_value(json_object_get(ev, "event"));

	if (!got || (name && strcmp(got, name) != 0))
		return false;
	return !match || match(json_object_get(ev, "data"), arg);
}

static json_t *take_matching(struct lg_qmp *q, const char *name,
			     lg_qmp_match_fn match, void *arg)
{
	json_t *ev;

	for (size_t i = 0; i < json_array_size(q->events); i++) {
		ev = json_array_get(q->events, i);
		if (!event_matches(ev, name, match, arg))
			continue;
		json_incref(ev);
		json_array_remove(q->events, i);
		return ev;
	}
	return NULL;
}

json_t *lg_qmp_take_event(struct lg_qmp *q, const char *name)
{
	return take_matching(q, name, NULL, NULL);
}

int lg_qmp_wait_event(struct lg_qmp *q, const char *name, lg_qmp_match_fn match,
		      void *arg, unsigned timeout_ms, json_t **event, char *err,
		      size_t errlen)
{
	uint64_t deadline = deadline_after(timeout_ms);
	json_t *ev, *msg;
	int rc;

	for (;;) {
		ev = take_matching(q, name, match, arg);
		if (ev)
			break;
		rc = read_msg(q, deadline, &msg, err, errlen);
		if (rc == -ETIMEDOUT)
			snprintf(err, errlen, "no QMP %s event within %u ms",
				 name, timeout_ms);
		if (rc < 0)
			return rc;
		if (json_object_get(msg, "event"))
			queue_event(q, msg);
		json_decref(msg);
	}
	if (event)
		*event = ev;
	else
		json_decref(ev);
	return 0;
}

int lg_qmp_drain(struct lg_qmp *q, char *err, size_t errlen)
{
	json_t *msg;
	int rc;

	for (;;) {
		rc = read_msg(q, 0, &msg, err, errlen);
		if (rc == -ETIMEDOUT)
			return 0;
		if (rc < 0)
			return rc;
		if (json_object_get(msg, "event"))
			queue_event(q, msg);
		json_decref(msg);
	}
}

/* One connection attempt: 0, -EAGAIN to retry, or another -errno. */
static int try_connect(const char *path, int *fd, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "QMP socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return lg_hv_syserr(err, errlen, "socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		*fd = s;
		return 0;
	}
	close(s);
	if (errno == ENOENT || errno == ECONNREFUSED)
		return -EAGAIN;
	return lg_hv_syserr(err, errlen, "connect %s", path);
}

static int connect_retry(const char *path, uint64_t deadline,
			 lg_qmp_check_fn check, void *arg, int *fd, char *err,
			 size_t errlen)
{
	int ret;

	for (;;) {
		ret = try_connect(path, fd, err, errlen);
		if (ret != -EAGAIN)
			return ret;
		if (check) {
			ret = check(arg, err, errlen);
			if (ret < 0)
				return ret;
		}
		if (lg_now_ns() >= deadline) {
			snprintf(err, errlen, "QMP socket %s did not appear",
				 path);
			return -ETIMEDOUT;
		}
		sleep_ns(CONNECT_RETRY_NS);
	}
}

/* Reads the {"QMP": ...} greeting and enters command mode. */
static int negotiate(struct lg_qmp *q, uint64_t deadline, char *err,
		     size_t errlen)
{
	json_t *msg;
	int ret;

	ret = read_msg(q, deadline, &msg, err, errlen);
	if (ret < 0)
		return ret;
	if (!json_object_get(msg, "QMP")) {
		json_decref(msg);
		snprintf(err, errlen, "QMP socket sent no greeting");
		return -EPROTO;
	}
	json_decref(msg);
	return lg_qmp_execute(q, "qmp_capabilities", NULL,
			      (unsigned)lg_ms_until(deadline) + 1, NULL, err,
			      errlen);
}

int lg_qmp_connect(const char *path, unsigned timeout_ms, lg_qmp_check_fn check,
		   void *arg, struct lg_qmp **out, char *err, size_t errlen)
{
	uint64_t deadline = deadline_after(timeout_ms);
	struct lg_qmp *q;
	int ret;

	*out = NULL;
	q = calloc(1, sizeof(*q));
	if (!q || !(q->events = json_array())) {
		free(q);
		snprintf(err, errlen, "allocating the QMP client: %s",
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	q->fd = -1;
	ret = connect_retry(path, deadline, check, arg, &q->fd, err, errlen);
	/* Connected late is still connected: give the greeting a moment. */
	if (ret == 0)
		ret = negotiate(q, max_u64(deadline, deadline_after(1000)), err,
				errlen);
	if (ret < 0) {
		lg_qmp_close(q);
		return ret;
	}
	*out = q;
	return 0;
}

void lg_qmp_close(struct lg_qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	json_decref(q->events);
	free(q);
}
