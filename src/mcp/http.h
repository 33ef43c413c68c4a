/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Streamable HTTP transport (ANCHORS.md C.4), with the old HTTP+SSE
 * transport (C.5) as a fallback, over libcurl.
 *
 * Every message is a POST to the endpoint; the answer is JSON or an SSE
 * stream whose messages are all delivered in order. Mcp-Session-Id from
 * the initialize response goes on every later request,
 * MCP-Protocol-Version after set_protocol_version. After
 * notifications/initialized a GET stream carries server-initiated
 * messages (none if the server answers 405); it reconnects after the
 * SSE "retry" time with Last-Event-ID. A POST stream that ends before
 * its response is resumed the same way. destroy() DELETEs the session.
 *
 * send() queues the message and returns; up to max_concurrent POSTs run
 * at once on worker threads. A request whose POST fails for good (after
 * the retries of retry.h, over all endpoint URLs) is answered locally
 * with a JSON-RPC error: code MCP_HTTP_ERROR_TRANSPORT, data
 * {"transport":"http","errno":-E,"status":S} (S 0 without a status).
 *
 * Session expiry: a 404 (or a 400 naming the session) to a request sent
 * with the current session id drops the id and calls
 * events.session_expired (transport.h), or closed(-ESTALE) when that is
 * NULL; the failed request is answered with the error above (errno
 * -ESTALE). The next initialize runs without a session id.
 *
 * Fallback: when the POST of initialize is answered 400, 404 or 405 and
 * no session exists, the transport GETs the URL as the old HTTP+SSE
 * transport, waits for the "endpoint" event (same origin only), POSTs
 * every message there and reads "message" events; the end of that
 * stream is closed(-EPIPE).
 *
 * Header values (custom headers, cookies, Authorization) and the
 * session id are never logged: every log line and error string is
 * redacted; URLs are logged without user info or query.
 */
#ifndef LG_MCP_HTTP_H
#define LG_MCP_HTTP_H

#include "mcp/retry.h"
#include "mcp/transport.h"

#include <stdbool.h>
#include <stddef.h>

#define MCP_HTTP_ERROR_TRANSPORT -32000
#define MCP_HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define MCP_HTTP_DEFAULT_REQUEST_TIMEOUT_MS 300000u
#define MCP_HTTP_DEFAULT_MAX_CONCURRENT 32u
#define MCP_HTTP_DEFAULT_SSE_RETRY_MS 1000u
#define MCP_HTTP_MAX_HEADERS 64u

/* One custom header; exactly one of the value sources is set. */
struct mcp_http_header {
	const char *name;
	const char *value;	/* literal */
	const char *value_env;	/* from this environment variable */
	const char *value_file; /* the file's content, trailing CR/LF cut */
};

struct mcp_http_opts {
	/* One server's endpoint URL(s), http:// or https://: several are
	 * used round robin with failover. */
	const char *const *urls;
	size_t n_urls;
	const struct mcp_http_header *headers;
	size_t n_headers;
	unsigned connect_timeout_ms; /* 0: the default */
	/* No byte from the server for this long ends an attempt (a POST's
	 * wait and its SSE stream; not the GET stream). 0: the default. */
	unsigned request_timeout_ms;
	const char *ca_file;	 /* CA bundle (PEM); NULL: the system's */
	const char *ca_path;	 /* CA directory */
	const char *client_cert; /* PEM client certificate */
	const char *client_key;	 /* its key */
	bool tls_insecure;	 /* skip TLS verification (never default) */
	const struct mcp_retry_policy *retry; /* NULL: defaults */
	const struct mcp_retry_clock *clock;  /* NULL: real, interruptible */
	bool no_get_stream;		      /* never open the GET stream */
	bool no_legacy_fallback;	      /* never try the old transport */
	size_t max_message;		      /* 0: JSONRPC_MAX_MESSAGE */
	unsigned max_concurrent;	      /* POSTs at once; 0: default */
	unsigned sse_retry_ms; /* reconnect wait until a "retry"; 0: default */
};

/* 0 with *out, or a negative errno with err (a missing env variable or
 * file for a header, a bad URL, no memory). */
int mcp_http_transport_create(const struct mcp_http_opts *o,
			      struct mcp_transport **out, char *err,
			      size_t err_size);

/* "http" (Streamable HTTP) or "sse" once the old transport is in use. */
const char *mcp_http_transport_kind(struct mcp_transport *t);

#endif
