/* SPDX-License-Identifier: Apache-2.0 */
/*
 * An MCP client session over any transport (ANCHORS.md C.2-C.8): the
 * initialize handshake and version negotiation, requests matched to
 * responses by id with several in flight from any number of threads,
 * timeouts that send notifications/cancelled, progress, pagination,
 * server-to-client requests (roots, sampling, elicitation) answered or
 * declined as configured, and notifications passed up.
 */
#ifndef LG_MCP_CLIENT_H
#define LG_MCP_CLIENT_H

#include "mcp/transport.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What we ask for first, and what we accept from a server. */
#define MCP_PROTOCOL_LATEST "2025-11-25"
extern const char *const mcp_protocol_versions[]; /* NULL-terminated */

#define MCP_DEFAULT_TIMEOUT_MS 60000u
#define MCP_MAX_PAGES 1000u /* pagination bound: a looping server stops */

enum mcp_elicit_policy {
	MCP_ELICIT_DECLINE, /* answer "decline" (default) */
	MCP_ELICIT_CANCEL,  /* answer "cancel" */
	/* "accept" with the schema's defaults (the user accepted unchanged) */
	MCP_ELICIT_ACCEPT_DEFAULTS,
};

struct mcp_client_opts {
	const char *client_name;    /* default "luminaguard" */
	const char *client_version; /* default the project's */
	unsigned int timeout_ms;    /* per request; 0: MCP_DEFAULT_TIMEOUT_MS */
	/* Roots offered to the server (array of {uri, name}); NULL: the
	 * roots capability is not declared and roots/list is refused. */
	json_t *roots;
	bool sampling; /* declare sampling; requests are declined (-1) */
	enum mcp_elicit_policy elicit;
	bool elicit_declared; /* declare the elicitation capability */
	/*
	 * Notifications from the server that are not progress for one of
	 * our requests (logging messages, list_changed, resources/updated,
	 * cancelled...): params borrowed for the call. Any thread. May be
	 * NULL.
	 */
	void (*notification)(void *opaque, const char *method, json_t *params);
	void *opaque;
	/*
	 * Added: when set, the server's requests other than ping
	 * (roots/list, sampling/createMessage, elicitation/create...) are
	 * answered by this instead of the fixed policy above (roots,
	 * sampling and elicit_declared still decide which capabilities are
	 * declared). Runs on a thread of its own and may block; cancel_fd
	 * becomes readable when the server cancels the request or the
	 * session ends. Returns the result (a new reference), or NULL with
	 * *code and msg: the JSON-RPC error to answer with. params borrowed.
	 */
	json_t *(*server_request)(void *opaque, const char *method,
				  json_t *params, int cancel_fd, int64_t *code,
				  char *msg, size_t msg_size);
};

/* Why a request failed. code != 0: the server's JSON-RPC error;
 * code == 0: a local failure (errno is the return value). */
struct mcp_error {
	int64_t code;
	char message[512];
	json_t *data; /* owned; mcp_error_clear() frees */
};
void mcp_error_clear(struct mcp_error *e);

struct mcp_call_opts {
	unsigned int timeout_ms; /* 0: the client's */
	/* Sends a progressToken and reports each notifications/progress. */
	void (*progress)(void *opaque, double progress, double total,
			 const char *message);
	void *opaque;
	int cancel_fd; /* readable: cancel (notifications/cancelled); -1 */
};

struct mcp_client;

/*
 * Takes ownership of t (destroyed with the client, or here on failure).
 * 0 or a negative errno with err.
 */
int mcp_client_create(struct mcp_transport *t,
		      const struct mcp_client_opts *opts,
		      struct mcp_client **out, char *err, size_t err_size);
/* Ends the session (transport destroyed) and fails pending requests. */
void mcp_client_destroy(struct mcp_client *c);

/*
 * initialize + notifications/initialized. A server answering a version
 * we do not support is an error naming both. 0 or a negative errno.
 */
int mcp_client_initialize(struct mcp_client *c, struct mcp_error *e);
const char *mcp_client_protocol_version(const struct mcp_client *c);
json_t *mcp_client_server_info(const struct mcp_client *c); /* borrowed */
json_t *
mcp_client_server_capabilities(const struct mcp_client *c);	 /* borrowed */
const char *mcp_client_instructions(const struct mcp_client *c); /* or NULL */
/*
 * Added: why the session is over (the transport ended: a crashed server's
 * exit status, an unsupported version...), or NULL while it is usable.
 * The string lives as long as the client.
 */
const char *mcp_client_closed_reason(struct mcp_client *c);

/*
 * One request; blocks until its response, the timeout, cancel_fd or the
 * end of the transport. params is stolen (may be NULL). 0 with *result
 * (a new reference), or a negative errno with e filled: -EREMOTEIO the
 * server answered with an error, -ETIMEDOUT, -ECANCELED, -EPIPE the
 * transport ended.
 */
int mcp_client_request(struct mcp_client *c, const char *method, json_t *params,
		       const struct mcp_call_opts *co, json_t **result,
		       struct mcp_error *e);
/* A notification to the server; params stolen. */
int mcp_client_notify(struct mcp_client *c, const char *method, json_t *params);

/*
 * Every item of a paginated list (tools/list -> "tools", resources/list
 * -> "resources", resources/templates/list -> "resourceTemplates",
 * prompts/list -> "prompts"), following nextCursor. *items is a new
 * array.
 */
int mcp_client_list_all(struct mcp_client *c, const char *method,
			const char *key, json_t **items, struct mcp_error *e);

#endif
