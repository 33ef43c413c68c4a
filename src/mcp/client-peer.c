/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A server may ask its client things (ANCHORS.md C.7, C.8). We answer
 * from policy, never from a person: ping always, roots when offered,
 * sampling always declined (we have no model here), elicitation per the
 * configured policy, anything else "method not found".
 */
#include "mcp/client-peer.h"

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "mcp/jsonrpc.h"

static bool default_valid(const json_t *v)
{
	size_t i;
	json_t *item;

	if (json_is_string(v) || json_is_number(v) || json_is_boolean(v))
		return true;
	if (!json_is_array(v)) /* multi-select enums default to arrays */
		return false;
	json_array_foreach(v, i, item)
	{
		if (!json_is_string(item))
			return false;
	}
	return true;
}

json_t *mcp_elicit_defaults(json_t *schema)
{
	json_t *props = json_object_get(schema, "properties");
	json_t *required = json_object_get(schema, "required");
	json_t *content = json_object();
	json_t *prop, *name;
	const char *key;
	size_t i;

	if (!content)
		return NULL;
	json_object_foreach(props, key, prop)
	{
		json_t *def = json_object_get(prop, "default");

		if (def && default_valid(def))
			json_object_set(content, key, def);
	}
	json_array_foreach(required, i, name)
	{
		if (!json_is_string(name) ||
		    !json_object_get(content, json_string_value(name))) {
			json_decref(content);
			return NULL;
		}
	}
	return content;
}

static json_t *elicit_answer(const struct mcp_client_opts *o, json_t *params,
			     int64_t *code, char *msg, size_t msg_size)
{
	const char *mode = json_string_value(json_object_get(params, "mode"));
	json_t *schema = json_object_get(params, "requestedSchema");
	json_t *content;

	if (o->elicit == MCP_ELICIT_CANCEL)
		return json_pack("{s:s}", "action", "cancel");
	if (o->elicit != MCP_ELICIT_ACCEPT_DEFAULTS)
		return json_pack("{s:s}", "action", "decline");
	/* Nobody here can visit a URL on the user's behalf. */
	if (mode && strcmp(mode, "form") != 0)
		return json_pack("{s:s}", "action", "decline");
	if (!json_is_object(schema)) {
		*code = JSONRPC_INVALID_PARAMS;
		snprintf(msg, msg_size, "elicitation without requestedSchema");
		return NULL;
	}
	content = mcp_elicit_defaults(schema);
	if (!content) {
		lg_debug("mcp: elicitation declined: a required field has "
			 "no default");
		return json_pack("{s:s}", "action", "decline");
	}
	return json_pack("{s:s,s:o}", "action", "accept", "content", content);
}

json_t *mcp_peer_answer(const struct mcp_client_opts *o, const char *method,
			json_t *params, int64_t *code, char *msg,
			size_t msg_size)
{
	if (strcmp(method, "ping") == 0)
		return json_object();
	if (strcmp(method, "roots/list") == 0 && o->roots)
		return json_pack("{s:O}", "roots", o->roots);
	if (strcmp(method, "sampling/createMessage") == 0 && o->sampling) {
		/* The spec's code for a user who rejected the request. */
		*code = -1;
		snprintf(msg, msg_size,
			 "sampling declined by the client's policy");
		return NULL;
	}
	if (strcmp(method, "elicitation/create") == 0 && o->elicit_declared)
		return elicit_answer(o, params, code, msg, msg_size);
	*code = JSONRPC_METHOD_NOT_FOUND;
	snprintf(msg, msg_size, "method not found: %.200s", method);
	return NULL;
}
