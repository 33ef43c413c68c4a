/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: jsonrpc_parse() on hostile bytes. Every accepted
 * message must satisfy the invariants the client relies on, and survive
 * a round trip through the builders and jsonrpc_dump().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/jsonrpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct jsonrpc_msg *m)
{
	json_t *copy = NULL;
	char *text;
	size_t len;

	switch (m->kind) {
	case JSONRPC_REQUEST:
		if (!m->method ||
		    !(json_is_string(m->id) || json_is_integer(m->id)))
			abort();
		copy = jsonrpc_request(m->id, m->method,
				       json_incref(m->params));
		break;
	case JSONRPC_NOTIFICATION:
		if (!m->method || m->id)
			abort();
		copy = jsonrpc_notification(m->method, json_incref(m->params));
		break;
	case JSONRPC_RESULT:
		if (!m->result || !m->id)
			abort();
		copy = jsonrpc_result(m->id, json_incref(m->result));
		break;
	case JSONRPC_ERROR:
		if (!m->error_message)
			abort();
		copy = jsonrpc_error(m->id, m->error_code, m->error_message,
				     json_incref(m->error_data));
		break;
	}
	if (m->params && !json_is_object(m->params) &&
	    !json_is_array(m->params))
		abort();
	if (!copy)
		return; /* allocation failure */
	text = jsonrpc_dump(copy, &len);
	if (text) {
		struct jsonrpc_msg again;
		char err[128];

		/* What we build from a valid message is valid again. */
		if (memchr(text, '\n', len) ||
		    jsonrpc_parse(text, len, 0, &again, NULL, err,
				  sizeof(err)) != 0 ||
		    again.kind != m->kind)
			abort();
		jsonrpc_msg_free(&again);
		free(text);
	}
	json_decref(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonrpc_msg m;
	json_t *id = NULL;
	char err[256];
	int rc;

	rc = jsonrpc_parse((const char *)data, size, 1u << 20, &m, &id, err,
			   sizeof(err));
	if (rc == 0) {
		check(&m);
		jsonrpc_msg_free(&m);
	} else if (id && !json_is_string(id) && !json_is_integer(id)) {
		abort();
	}
	json_decref(id);
	return 0;
}
