/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to the client: the answers to requests a server sends to its
 * client (ping, roots/list, sampling/createMessage, elicitation/create),
 * decided by the client's options alone.
 */
#ifndef LG_MCP_CLIENT_PEER_H
#define LG_MCP_CLIENT_PEER_H

#include "mcp/client.h"

/*
 * The result for method(params) (a new reference), or NULL with *code and
 * msg set: the JSON-RPC error to answer with.
 */
json_t *mcp_peer_answer(const struct mcp_client_opts *o, const char *method,
			json_t *params, int64_t *code, char *msg,
			size_t msg_size);

/*
 * The content of a form the user accepted unchanged: every property of
 * schema that has a default. NULL when a required property has none (the
 * form could not be submitted as it stands).
 */
json_t *mcp_elicit_defaults(json_t *schema);

#endif
