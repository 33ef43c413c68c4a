/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict JSON-RPC 2.0 for MCP (ANCHORS.md C.1): one object per message
 * (no batches), "jsonrpc":"2.0", ids that are strings or integers, a
 * request or a notification or a response and never a mix, no unknown
 * members, duplicate keys refused, bounded size and nesting.
 */
#include "mcp/jsonrpc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t err_size, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t err_size, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && err_size) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/*
 * Nesting depth of the raw text, counted before jansson builds anything,
 * so a deeply nested message costs no more than its bytes. Brackets
 * inside strings do not count.
 */
static size_t text_depth(const char *buf, size_t len)
{
	size_t depth = 0, max = 0;
	bool in_string = false;

	for (size_t i = 0; i < len; i++) {
		char ch = buf[i];

		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = false;
			continue;
		}
		if (ch == '"') {
			in_string = true;
		} else if (ch == '{' || ch == '[') {
			if (++depth > max)
				max = depth;
		} else if ((ch == '}' || ch == ']') && depth) {
			depth--;
		}
	}
	return max;
}

static bool id_valid(const json_t *id)
{
	return json_is_string(id) || json_is_integer(id);
}

static const char *const allowed_members[] = {
	"jsonrpc", "id", "method", "params", "result", "error",
};

static int members_check(json_t *root, char *err, size_t err_size)
{
	const char *key;
	json_t *v;

	json_object_foreach(root, key, v)
	{
		bool known = false;

		for (size_t i = 0;
		     i < sizeof(allowed_members) / sizeof(allowed_members[0]);
		     i++)
			known = known || strcmp(key, allowed_members[i]) == 0;
		if (!known)
			return fail(err, err_size, -EPROTO,
				    "unknown member \"%.64s\"", key);
	}
	return 0;
}

static int error_object_read(json_t *error, struct jsonrpc_msg *msg, char *err,
			     size_t err_size)
{
	json_t *code = json_object_get(error, "code");
	json_t *message = json_object_get(error, "message");
	const char *key;
	json_t *v;

	if (!json_is_object(error))
		return fail(err, err_size, -EPROTO, "error is not an object");
	json_object_foreach(error, key, v)
	{
		if (strcmp(key, "code") && strcmp(key, "message") &&
		    strcmp(key, "data"))
			return fail(err, err_size, -EPROTO,
				    "unknown member error.%.64s", key);
	}
	if (!json_is_integer(code))
		return fail(err, err_size, -EPROTO,
			    "error.code is not an integer");
	if (!json_is_string(message))
		return fail(err, err_size, -EPROTO,
			    "error.message is not a string");
	msg->kind = JSONRPC_ERROR;
	msg->error_code = json_integer_value(code);
	msg->error_message = json_string_value(message);
	msg->error_data = json_object_get(error, "data");
	return 0;
}

/* Fills msg from a root that is known to be an object. */
static int message_read(json_t *root, struct jsonrpc_msg *msg, char *err,
			size_t err_size)
{
	json_t *version = json_object_get(root, "jsonrpc");
	json_t *id = json_object_get(root, "id");
	json_t *method = json_object_get(root, "method");
	json_t *params = json_object_get(root, "params");
	json_t *result = json_object_get(root, "result");
	json_t *error = json_object_get(root, "error");
	int rc = members_check(root, err, err_size);

	if (rc < 0)
		return rc;
	if (!json_is_string(version) ||
	    strcmp(json_string_value(version), "2.0") != 0)
		return fail(err, err_size, -EPROTO,
			    "\"jsonrpc\" is not \"2.0\"");
	if (method) {
		if (!json_is_string(method))
			return fail(err, err_size, -EPROTO,
				    "method is not a string");
		if (result || error)
			return fail(err, err_size, -EPROTO,
				    "a request with result or error");
		if (params && !json_is_object(params) && !json_is_array(params))
			return fail(err, err_size, -EPROTO,
				    "params is neither an object nor an array");
		if (id && !id_valid(id))
			return fail(err, err_size, -EPROTO,
				    "id is neither a string nor an integer");
		msg->kind = id ? JSONRPC_REQUEST : JSONRPC_NOTIFICATION;
		msg->id = id;
		msg->method = json_string_value(method);
		msg->params = params;
		return 0;
	}
	if (params)
		return fail(err, err_size, -EPROTO, "params without a method");
	if (!result == !error)
		return fail(err, err_size, -EPROTO,
			    "a response needs exactly one of result and error");
	if (result) {
		if (!id_valid(id))
			return fail(err, err_size, -EPROTO,
				    "a result without a string or integer id");
		msg->kind = JSONRPC_RESULT;
		msg->id = id;
		msg->result = result;
		return 0;
	}
	/* An error may carry a null (or no) id: the request was unreadable. */
	if (id && !json_is_null(id) && !id_valid(id))
		return fail(err, err_size, -EPROTO,
			    "id is neither a string nor an integer");
	msg->id = json_is_null(id) ? NULL : id;
	return error_object_read(error, msg, err, err_size);
}

int jsonrpc_parse(const char *buf, size_t len, size_t max_len,
		  struct jsonrpc_msg *msg, json_t **id_out, char *err,
		  size_t err_size)
{
	json_error_t jerr;
	json_t *root, *id;
	int rc;

	memset(msg, 0, sizeof(*msg));
	if (id_out)
		*id_out = NULL;
	if (max_len == 0 || max_len > JSONRPC_MAX_MESSAGE)
		max_len = JSONRPC_MAX_MESSAGE;
	if (len > max_len)
		return fail(err, err_size, -EMSGSIZE,
			    "message of %zu bytes exceeds the limit of %zu",
			    len, max_len);
	if (text_depth(buf, len) > JSONRPC_MAX_DEPTH)
		return fail(err, err_size, -EPROTO,
			    "nesting deeper than %u levels", JSONRPC_MAX_DEPTH);
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &jerr);
	if (!root)
		return fail(err, err_size, -EBADMSG, "not JSON: %s", jerr.text);
	if (json_is_array(root)) {
		json_decref(root);
		return fail(err, err_size, -EPROTO,
			    "batches are not supported");
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return fail(err, err_size, -EPROTO, "not a JSON object");
	}
	rc = message_read(root, msg, err, err_size);
	if (rc < 0) {
		id = json_object_get(root, "id");
		if (id_out && id_valid(id))
			*id_out = json_incref(id);
		json_decref(root);
		memset(msg, 0, sizeof(*msg));
		return rc;
	}
	msg->root = root;
	return 0;
}

void jsonrpc_msg_free(struct jsonrpc_msg *msg)
{
	json_decref(msg->root);
	memset(msg, 0, sizeof(*msg));
}

/* {"jsonrpc":"2.0"}, the start of every message. */
static json_t *envelope(void)
{
	return json_pack("{s:s}", "jsonrpc", "2.0");
}

/* Adds "method" and "params" (when not NULL) to m: m, or NULL with m
 * and params released. */
static json_t *method_add(json_t *m, const char *method, json_t *params)
{
	if (!m || !method ||
	    json_object_set_new(m, "method", json_string(method))) {
		json_decref(params);
		json_decref(m);
		return NULL;
	}
	/* set_new consumes params even when it fails. */
	if (params && json_object_set_new(m, "params", params)) {
		json_decref(m);
		return NULL;
	}
	return m;
}

json_t *jsonrpc_request(json_t *id, const char *method, json_t *params)
{
	json_t *m = envelope();

	if (!m || !id_valid(id) || json_object_set(m, "id", id)) {
		json_decref(params);
		json_decref(m);
		return NULL;
	}
	return method_add(m, method, params);
}

json_t *jsonrpc_notification(const char *method, json_t *params)
{
	return method_add(envelope(), method, params);
}

json_t *jsonrpc_result(json_t *id, json_t *result)
{
	json_t *m = envelope();

	if (!result)
		result = json_object();
	if (!m || !id || !result || json_object_set(m, "id", id)) {
		json_decref(result);
		json_decref(m);
		return NULL;
	}
	if (json_object_set_new(m, "result", result)) {
		json_decref(m);
		return NULL;
	}
	return m;
}

json_t *jsonrpc_error(json_t *id, int64_t code, const char *message,
		      json_t *data)
{
	json_t *m = envelope();
	json_t *e = json_pack("{s:I,s:s}", "code", (json_int_t)code, "message",
			      message ? message : "");

	if (!m || !e ||
	    json_object_set_new(m, "id", id ? json_incref(id) : json_null())) {
		json_decref(data);
		json_decref(e);
		json_decref(m);
		return NULL;
	}
	if (data && json_object_set_new(e, "data", data)) {
		json_decref(e);
		json_decref(m);
		return NULL;
	}
	if (json_object_set_new(m, "error", e)) {
		json_decref(m);
		return NULL;
	}
	return m;
}

char *jsonrpc_dump(const json_t *msg, size_t *len)
{
	/* jansson escapes control characters in strings: no raw newline. */
	char *s = json_dumps(msg, JSON_COMPACT);

	if (s && len)
		*len = strlen(s);
	return s;
}
