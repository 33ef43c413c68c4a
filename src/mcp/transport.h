/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An MCP transport carries whole JSON-RPC messages between a client and a
 * server (stdio, Streamable HTTP, the old HTTP+SSE). The session above it
 * sees only this interface.
 *
 * Threads: a transport delivers incoming messages and its end through the
 * callbacks from its own thread(s), one message at a time, in order per
 * stream. send() may be called from any thread, concurrently.
 */
#ifndef LG_MCP_TRANSPORT_H
#define LG_MCP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

struct mcp_transport;

struct mcp_transport_events {
	/* One message (not NUL-terminated; valid during the call). */
	void (*message)(void *opaque, const char *msg, size_t len);
	/*
	 * The transport can carry no more messages: err is 0 for a clean end
	 * (the server exited / the session was deleted), else a negative
	 * errno; why says what happened. Called at most once.
	 */
	void (*closed)(void *opaque, int err, const char *why);
	/*
	 * Optional (may be NULL; added for HTTP): the server ended the
	 * session (HTTP 404, or the 400 some servers send for an unknown
	 * session id). The transport has dropped its session id and still
	 * works: the session should run initialize again over it. When NULL
	 * the transport calls closed(-ESTALE, ...) instead.
	 */
	void (*session_expired)(void *opaque);
};

struct mcp_transport_ops {
	const char *name; /* "stdio", "http", "sse" */
	/*
	 * Starts delivering events to ev/opaque. 0 or a negative errno with
	 * a message in err.
	 */
	int (*start)(struct mcp_transport *t,
		     const struct mcp_transport_events *ev, void *opaque,
		     char *err, size_t err_size);
	/*
	 * Sends one message (a request, notification or response). For
	 * transports that answer a request in the same exchange (HTTP), the
	 * reply comes back through events.message like any other. 0, or a
	 * negative errno with err.
	 */
	int (*send)(struct mcp_transport *t, const char *msg, size_t len,
		    char *err, size_t err_size);
	/* Ends the connection (stdio: close stdin, SIGTERM, SIGKILL; HTTP:
	 * DELETE the session) and frees it. No callback after it returns. */
	void (*destroy)(struct mcp_transport *t);
	/*
	 * After initialize: the negotiated protocol version, for transports
	 * that send it on every request (HTTP). May be NULL.
	 */
	void (*set_protocol_version)(struct mcp_transport *t,
				     const char *version);
};

struct mcp_transport {
	const struct mcp_transport_ops *ops;
};

#endif
