/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A small QMP (QEMU Machine Protocol) client over a Unix socket: one JSON
 * object per line, commands answered by id, asynchronous events buffered
 * until someone asks for them.
 */
#ifndef LG_HV_QMP_H
#define LG_HV_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest line accepted from QEMU; longer is a protocol error. */
#define LG_QMP_LINE_MAX 65536u
/* Events kept until taken; the oldest goes when more arrive. */
#define LG_QMP_EVENTS_MAX 64u

struct lg_qmp;

/*
 * Called between connection attempts; a negative return (-errno, with err
 * filled in) aborts the connect with that value.
 */
typedef int (*lg_qmp_check_fn)(void *arg, char *err, size_t errlen);
/* Does this event's "data" object match what the caller waits for? */
typedef bool (*lg_qmp_match_fn)(json_t *data, void *arg);

/*
 * Connects to path, retrying while the socket does not exist yet or
 * refuses, for up to timeout_ms; reads the greeting and negotiates
 * capabilities. check may be NULL.
 */
int lg_qmp_connect(const char *path, unsigned timeout_ms, lg_qmp_check_fn check,
		   void *arg, struct lg_qmp **out, char *err, size_t errlen);

/*
 * Runs cmd with args (a JSON object, reference stolen; NULL for none).
 * On success *ret holds a new reference to the "return" value (ret may be
 * NULL). A QMP error gives -EREMOTEIO with its "desc" in err; no answer
 * within timeout_ms gives -ETIMEDOUT; a closed socket -ECONNRESET.
 * Sending counts against timeout_ms too: QEMU not reading its socket gives
 * -ETIMEDOUT, and once a command went out in part every later one fails
 * with -EPIPE (the stream is garbled).
 */
int lg_qmp_execute(struct lg_qmp *q, const char *cmd, json_t *args,
		   unsigned timeout_ms, json_t **ret, char *err, size_t errlen);

/*
 * Waits up to timeout_ms for event name (whose data satisfies match, when
 * match is not NULL), taking it out of the buffer. *event (may be NULL)
 * receives a new reference to the whole event object.
 */
int lg_qmp_wait_event(struct lg_qmp *q, const char *name, lg_qmp_match_fn match,
		      void *arg, unsigned timeout_ms, json_t **event, char *err,
		      size_t errlen);

/*
 * Takes the oldest buffered event with that name (any name when NULL)
 * without reading from the socket; NULL when there is none.
 */
json_t *lg_qmp_take_event(struct lg_qmp *q, const char *name);

/*
 * Reads and buffers whatever QEMU has sent, without waiting. Returns 0,
 * -ECONNRESET once QEMU closed the connection, or another -errno.
 */
int lg_qmp_drain(struct lg_qmp *q, char *err, size_t errlen);

void lg_qmp_close(struct lg_qmp *q);

#endif
