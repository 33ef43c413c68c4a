/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A session is one host connection (a vsock/Unix connection or the
 * virtio-serial port): a frame decoder, a bounded output queue and the
 * streams (execs, file transfers) the host opened on it.
 */
#ifndef LG_GUEST_SESSION_H
#define LG_GUEST_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/proto.h"

/* Output queue: producers of bulk data pause at HIGH, resume below LOW. */
#define OUTQ_HIGH (512u * 1024u)
#define OUTQ_LOW (128u * 1024u)
/* Hard cap; only control frames may pass HIGH, and input stops there. */
#define OUTQ_MAX (8u * 1024u * 1024u)

struct session;

enum stream_kind {
	STREAM_EXEC,
	STREAM_PUT,
	STREAM_GET,
};

/* Common head of every object living on a stream id of a session. */
struct stream {
	struct stream *next, *prev;
	struct session *s;
	uint32_t id;
	enum stream_kind kind;
};

typedef void session_end_fn(void *ctx);

/* Takes over fd on success; on NULL the caller still owns it. */
struct session *session_new(int fd, bool is_socket, session_end_fn *on_end,
			    void *ctx);
/* False while the output queue is full or the session is going away. */
bool session_can_send_data(const struct session *s);
/* Room for one frame of up to max_len payload bytes, or NULL. */
uint8_t *session_frame_begin(struct session *s, size_t max_len);
void session_frame_end(struct session *s, uint8_t type, uint32_t stream,
		       size_t len);
void session_send(struct session *s, uint8_t type, uint32_t stream,
		  const void *payload, size_t len);
void session_send_u32(struct session *s, uint8_t type, uint32_t stream,
		      uint16_t tag, uint32_t v);
void session_send_error(struct session *s, uint32_t stream, int err,
			const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Protocol error: ERROR on stream 0, drop all streams, close when sent. */
void session_fail(struct session *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Tear down soon (from the loop, never under the caller's feet). */
void session_end(struct session *s);
/* Writes s's queue out, waiting up to timeout_ms for the peer. */
void session_flush_blocking(struct session *s, int timeout_ms);
/* Idle hook of the loop: writes queued output of every session. */
bool sessions_flush_dirty(void);
/* SIGKILLs every exec of every session and drops all streams. */
void sessions_kill_all(void);

void stream_add(struct session *s, struct stream *st, uint32_t id,
		enum stream_kind kind);
void stream_remove(struct stream *st);
/* Sends ERROR on st's id and destroys st (killing an exec). */
void stream_fail(struct stream *st, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* exec.c */
void exec_start(struct session *s, uint32_t id, const uint8_t *p, size_t len);
void exec_frame(struct stream *st, const struct lg_frame *f);
void exec_resume(struct stream *st);
void exec_destroy(struct stream *st);
void exec_child_exited(pid_t pid, int status);

/* file.c */
void file_put_start(struct session *s, uint32_t id, const uint8_t *p,
		    size_t len);
void file_get_start(struct session *s, uint32_t id, const uint8_t *p,
		    size_t len);
void file_frame(struct stream *st, const struct lg_frame *f);
void file_resume(struct stream *st);
void file_destroy(struct stream *st);

#endif
