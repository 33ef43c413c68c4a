/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON-RPC 2.0 messages as MCP uses them (ANCHORS.md C.1): parse one
 * message from bytes that came from a peer, and build messages to send.
 * Everything parsed is bounded and validated: a malformed or oversized
 * message is an error for that message only.
 */
#ifndef LG_MCP_JSONRPC_H
#define LG_MCP_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default upper bound on one message (bytes); callers may lower it. */
#define JSONRPC_MAX_MESSAGE (16u << 20)
#define JSONRPC_MAX_DEPTH 64u

/* Error codes (JSON-RPC and MCP, 2025-11-25). */
#define JSONRPC_PARSE_ERROR -32700
#define JSONRPC_INVALID_REQUEST -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS -32602
#define JSONRPC_INTERNAL_ERROR -32603
#define MCP_URL_ELICITATION_REQUIRED -32042

enum jsonrpc_kind {
	JSONRPC_REQUEST,      /* method + id */
	JSONRPC_NOTIFICATION, /* method, no id */
	JSONRPC_RESULT,	      /* id + result */
	JSONRPC_ERROR,	      /* id (may be null) + error */
};

/*
 * One parsed message. json_t pointers are borrowed from root, which the
 * message owns; jsonrpc_msg_free() releases it.
 */
struct jsonrpc_msg {
	enum jsonrpc_kind kind;
	json_t *root;
	json_t *id;	    /* string or integer; NULL for notifications */
	const char *method; /* requests and notifications */
	json_t *params;	    /* object or array, or NULL */
	json_t *result;	    /* JSONRPC_RESULT */
	int64_t error_code; /* JSONRPC_ERROR */
	const char *error_message;
	json_t *error_data; /* or NULL */
};

/*
 * Parses buf[0..len) (not NUL-terminated). 0, or a negative errno with a
 * message in err: -EMSGSIZE over max_len, -EBADMSG not JSON (answer with
 * JSONRPC_PARSE_ERROR), -EPROTO not a valid JSON-RPC 2.0 message (answer
 * with JSONRPC_INVALID_REQUEST; *id_out gets the id if one could be read,
 * else NULL). Batches (arrays) are rejected: MCP >= 2025-06-18 has none.
 */
int jsonrpc_parse(const char *buf, size_t len, size_t max_len,
		  struct jsonrpc_msg *msg, json_t **id_out, char *err,
		  size_t err_size);
void jsonrpc_msg_free(struct jsonrpc_msg *msg);

/* Builders: new references (NULL on allocation failure); params, result
 * and data are stolen (may be NULL). */
json_t *jsonrpc_request(json_t *id, const char *method, json_t *params);
json_t *jsonrpc_notification(const char *method, json_t *params);
json_t *jsonrpc_result(json_t *id, json_t *result);
json_t *jsonrpc_error(json_t *id, int64_t code, const char *message,
		      json_t *data);

/* Compact serialisation without newlines (stdio framing): malloc'd. */
char *jsonrpc_dump(const json_t *msg, size_t *len);

#endif
