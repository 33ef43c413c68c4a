/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server side of MCP sessions, independent of the transport
 * (ANCHORS.md C.2-C.7): a transport hands each incoming message to
 * mcp_session_receive() and gets every outgoing one through its send
 * callback. The session answers initialize (version negotiation), ping,
 * logging/setLevel and the paginated lists itself, runs every other
 * request on its own thread through the handlers (so a long tools/call
 * does not block ping or notifications/cancelled), and turns a
 * notifications/cancelled into the request's cancel_fd becoming
 * readable. Malformed or oversized messages get a JSON-RPC error; the
 * session goes on.
 */
#ifndef LG_MCP_SERVER_H
#define LG_MCP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protocol versions we serve, newest first; NULL-terminated. */
extern const char *const mcp_server_versions[];

/* Items per page of our own lists. */
#define MCP_SERVER_PAGE_SIZE 100u
/* Requests of one session running at once; more get an error. */
#define MCP_SERVER_MAX_INFLIGHT 64u

struct mcp_session;

/* One request being handled (valid until its handler returns). */
struct mcp_req {
	struct mcp_session *session;
	json_t *id;		/* the client's request id (borrowed) */
	json_t *progress_token; /* params._meta.progressToken or NULL */
	int cancel_fd;		/* readable once the client cancelled */
};

/* A failed request: a JSON-RPC error for the client. */
struct mcp_server_error {
	int64_t code;
	char message[256];
	json_t *data; /* stolen by the session; may be NULL */
};

struct mcp_server_handlers {
	/*
	 * The whole list for tools/list ("tools"), resources/list
	 * ("resources"), resources/templates/list ("resourceTemplates") or
	 * prompts/list ("prompts"): a new array; the session paginates it.
	 * NULL: an empty list.
	 */
	json_t *(*list)(void *opaque, const char *key);
	/*
	 * Any other request after initialize. 0 with *result (a new
	 * reference), or a negative errno with e filled. Runs on its own
	 * thread; may block; should give up once req->cancel_fd is readable.
	 */
	int (*request)(void *opaque, struct mcp_req *req, const char *method,
		       json_t *params, json_t **result,
		       struct mcp_server_error *e);
	/* Client notifications other than initialized/cancelled. May be
	 * NULL. */
	void (*notification)(void *opaque, struct mcp_session *s,
			     const char *method, json_t *params);
};

struct mcp_server_info {
	const char *name;
	const char *version;
	const char *instructions; /* may be NULL */
	bool logging;		  /* declare the logging capability */
	unsigned page_size;	  /* items per list page; 0: the default */
};

/*
 * Where a session's outgoing messages go. related is the id of the
 * client request the message belongs to (its response, or progress for
 * it), or NULL for messages of the session as a whole; HTTP uses it to
 * pick the stream. msg is borrowed. Any thread; must be thread-safe.
 * 0 or a negative errno (the message was dropped).
 */
typedef int (*mcp_session_send_fn)(void *opaque, json_t *msg,
				   const json_t *related);

struct mcp_session *mcp_session_new(const struct mcp_server_info *info,
				    const struct mcp_server_handlers *h,
				    void *handler_opaque,
				    mcp_session_send_fn send,
				    void *send_opaque);
/*
 * Cancels the requests in flight, waits for their threads and frees the
 * session. No send after it returns.
 */
void mcp_session_free(struct mcp_session *s);

/*
 * One message from the client (not NUL-terminated). Answers arrive
 * through send, possibly before this returns, possibly later from a
 * worker thread. Returns 1 when msg was a request (an answer will come),
 * 0 for anything else (a notification, a response, or a message that
 * was answered with an error at once).
 */
int mcp_session_receive(struct mcp_session *s, const char *msg, size_t len);

/* True once the client sent initialize and we answered it. */
bool mcp_session_initialized(const struct mcp_session *s);
/* The negotiated version, or NULL before initialize. */
const char *mcp_session_protocol_version(const struct mcp_session *s);

/* A notification to the client (params stolen). related as for send. */
int mcp_session_notify(struct mcp_session *s, const char *method,
		       json_t *params, const json_t *related);
/*
 * notifications/message at level (syslog name) if the client's
 * logging/setLevel lets it through; data stolen.
 */
int mcp_session_log(struct mcp_session *s, const char *level,
		    const char *logger, json_t *data);
/*
 * Added: the capabilities the client declared in initialize (a new
 * reference), or NULL before it.
 */
json_t *mcp_session_client_capabilities(struct mcp_session *s);
/*
 * Added: a request to the client (roots/list, sampling/createMessage,
 * elicitation/create); blocks until its response, timeout_ms (0: 60 s),
 * cancel_fd (-1: none; readable: give up and send the client
 * notifications/cancelled) or mcp_session_end(). params stolen; related
 * as for send (HTTP sends it on that request's stream). 0 with *result
 * (a new reference), or -EREMOTEIO (e: the client's error), -ETIMEDOUT,
 * -ECANCELED, -EPIPE (session ended or not initialized).
 */
int mcp_session_request(struct mcp_session *s, const char *method,
			json_t *params, const json_t *related,
			unsigned timeout_ms, int cancel_fd, json_t **result,
			struct mcp_server_error *e);
/*
 * Added: the transport is going away: requests to the client fail now
 * with -EPIPE, later ones at once. mcp_session_free() implies it.
 */
void mcp_session_end(struct mcp_session *s);

/* notifications/progress for req when it carries a progressToken. */
int mcp_req_progress(struct mcp_req *req, double progress, double total,
		     const char *message);

#endif
