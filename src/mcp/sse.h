/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An incremental parser for text/event-stream (the HTML standard's
 * "event stream interpretation"): bytes go in as they arrive, whole
 * events come out through a callback. Lines end with CRLF, LF or CR (also
 * split across feeds); a BOM at the start of the stream is skipped;
 * "data" lines are joined with LF; "id" containing NUL is ignored;
 * "retry" is taken only when it is all ASCII digits; lines starting with
 * ':' are comments. Lines and events are bounded: over a bound the
 * stream is an error (-EMSGSIZE) and the parser stops.
 */
#ifndef LG_MCP_SSE_H
#define LG_MCP_SSE_H

#include <stdbool.h>
#include <stddef.h>

#define SSE_DEFAULT_MAX_LINE (16u << 20)
#define SSE_DEFAULT_MAX_EVENT (16u << 20)
#define SSE_MAX_ID 1024u /* longer ids are ignored like ones with NUL */

/*
 * One dispatched event: type is "message" when the stream named none;
 * data (data_len bytes, also NUL-terminated, may contain NUL) has its
 * last LF removed; last_id is the stream's last event id ("" if none).
 * A non-zero return stops the parser and is returned by sse_feed().
 */
typedef int (*sse_event_fn)(void *opaque, const char *type, const char *data,
			    size_t data_len, const char *last_id);
/* A valid "retry" field: the reconnection time in milliseconds. */
typedef void (*sse_retry_fn)(void *opaque, unsigned long long ms);

struct sse_parser {
	sse_event_fn event;
	sse_retry_fn retry; /* may be NULL */
	void *opaque;
	size_t max_line, max_event;

	char *line; /* the line being read */
	size_t line_len, line_cap;
	char *data; /* the data buffer of the event being built */
	size_t data_len, data_cap;
	char type[64];		      /* event type buffer ("" = message) */
	bool type_too_long;	      /* a longer type: the event is dropped */
	char id[SSE_MAX_ID + 1];      /* last event id buffer */
	char last_id[SSE_MAX_ID + 1]; /* set when an event dispatches */
	bool started;		      /* past the optional BOM */
	size_t bom_seen;	      /* BOM bytes matched so far */
	bool after_cr;		      /* the last byte ended a line with CR */
	int error;		      /* sticky: once set, feed returns it */
};

/* max_line/max_event 0: the defaults. */
void sse_init(struct sse_parser *p, size_t max_line, size_t max_event,
	      sse_event_fn event, sse_retry_fn retry, void *opaque);
/* 0, -EMSGSIZE (a bound), -ENOMEM, or the callback's return. */
int sse_feed(struct sse_parser *p, const char *buf, size_t len);
/* The stream's last event id (what a reconnect sends as Last-Event-ID):
 * updated when an event dispatches, even one with no data; "" if none. */
const char *sse_last_id(const struct sse_parser *p);
void sse_free(struct sse_parser *p);

#endif
