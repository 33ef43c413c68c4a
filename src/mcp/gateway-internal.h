/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the gateway's files; not an interface. */
#ifndef LG_MCP_GATEWAY_INTERNAL_H
#define LG_MCP_GATEWAY_INTERNAL_H

#include "mcp/gateway.h"
#include "mcp/server.h"

/* The built-in tools' definitions (a new array). */
json_t *builtin_tools_list(const struct gateway_config *gc);
/* 1 when name is a built-in tool. */
bool builtin_tool_exists(const char *name);
/* Runs a built-in tool: 0 with *result, or -errno with e. */
int builtin_tool_call(const struct gateway_config *gc, struct mcp_req *req,
		      const char *name, json_t *args, json_t **result,
		      struct mcp_server_error *e);

/* Base64 (RFC 4648, padded). */
char *b64_encode(const void *data, size_t len);
/* -EINVAL for bad input; *out malloc'd. */
int b64_decode(const char *s, void **out, size_t *len);

#endif
