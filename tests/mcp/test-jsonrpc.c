/* SPDX-License-Identifier: Apache-2.0 */
/* jsonrpc.c: every kind of message, every rejection, the builders. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mcp/jsonrpc.h"

static int parse(const char *s, struct jsonrpc_msg *m, json_t **id)
{
	char err[256];

	return jsonrpc_parse(s, strlen(s), 0, m, id, err, sizeof(err));
}

static void test_request(void **state)
{
	struct jsonrpc_msg m;

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":"
			       "\"tools/list\",\"params\":{\"cursor\":\"a\"}}",
			       &m, NULL),
			 0);
	assert_int_equal(m.kind, JSONRPC_REQUEST);
	assert_int_equal(json_integer_value(m.id), 7);
	assert_string_equal(m.method, "tools/list");
	assert_true(json_is_object(m.params));
	jsonrpc_msg_free(&m);
	/* String ids and array params are valid too. */
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":"
			       "\"m\",\"params\":[1]}",
			       &m, NULL),
			 0);
	assert_string_equal(json_string_value(m.id), "x");
	assert_true(json_is_array(m.params));
	jsonrpc_msg_free(&m);
}

static void test_notification(void **state)
{
	struct jsonrpc_msg m;

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":"
			       "\"notifications/initialized\"}",
			       &m, NULL),
			 0);
	assert_int_equal(m.kind, JSONRPC_NOTIFICATION);
	assert_null(m.id);
	assert_null(m.params);
	jsonrpc_msg_free(&m);
}

static void test_responses(void **state)
{
	struct jsonrpc_msg m;

	(void)state;
	assert_int_equal(
		parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", &m, NULL),
		0);
	assert_int_equal(m.kind, JSONRPC_RESULT);
	assert_true(json_is_object(m.result));
	jsonrpc_msg_free(&m);
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":2,\"error\":{"
			       "\"code\":-32601,\"message\":\"no\",\"data\":"
			       "[1]}}",
			       &m, NULL),
			 0);
	assert_int_equal(m.kind, JSONRPC_ERROR);
	assert_int_equal(m.error_code, -32601);
	assert_string_equal(m.error_message, "no");
	assert_true(json_is_array(m.error_data));
	jsonrpc_msg_free(&m);
	/* An error for an unreadable request has a null id. */
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{"
			       "\"code\":-32700,\"message\":\"parse\"}}",
			       &m, NULL),
			 0);
	assert_null(m.id);
	jsonrpc_msg_free(&m);
}

struct reject {
	const char *text;
	int rc;
	bool id_readable;
};

static const struct reject rejects[] = {
	{"", -EBADMSG, false},
	{"{", -EBADMSG, false},
	{"nul", -EBADMSG, false},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}} x", -EBADMSG, false},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":2,\"result\":{}}", -EBADMSG,
	 false}, /* duplicate key */
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":1,\"a\":2}}",
	 -EBADMSG, false},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\\u0000b\"}", -EBADMSG,
	 false},
	{"{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999,\"result\":{}}",
	 -EBADMSG, false},
	{"[{\"jsonrpc\":\"2.0\",\"method\":\"m\"}]", -EPROTO,
	 false}, /* batch */
	{"42", -EPROTO, false},
	{"\"s\"", -EPROTO, false},
	{"{\"id\":1,\"method\":\"m\"}", -EPROTO, true},
	{"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"m\"}", -EPROTO, true},
	{"{\"jsonrpc\":2.0,\"id\":1,\"method\":\"m\"}", -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"m\"}", -EPROTO, false},
	{"{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"m\"}", -EPROTO, false},
	{"{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"m\"}", -EPROTO, false},
	{"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"m\"}", -EPROTO, false},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":3}",
	 -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"params\":null}",
	 -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"result\":{}}",
	 -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\",\"extra\":1}", -EPROTO,
	 true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1}", -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{\"code\":1,"
	 "\"message\":\"m\"}}",
	 -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"result\":{}}", -EPROTO, false},
	{"{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", -EPROTO, false},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"params\":{}}", -EPROTO,
	 true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":5}", -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\",\"message\":"
	 "\"m\"}}",
	 -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1.5,\"message\":"
	 "\"m\"}}",
	 -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1}}", -EPROTO,
	 true},
	{"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":1,\"message\":"
	 "\"m\",\"x\":1}}",
	 -EPROTO, true},
	{"{\"jsonrpc\":\"2.0\",\"id\":[],\"error\":{\"code\":1,\"message\":"
	 "\"m\"}}",
	 -EPROTO, false},
};

static void test_rejects(void **state)
{
	struct jsonrpc_msg m;
	json_t *id;

	(void)state;
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		int rc = parse(rejects[i].text, &m, &id);

		if (rc != rejects[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d", i,
				 rejects[i].text, rc, rejects[i].rc);
		assert_null(m.root);
		if (rejects[i].id_readable != (id != NULL))
			fail_msg("case %zu: id readable %d", i, id != NULL);
		json_decref(id);
	}
}

static void test_limits(void **state)
{
	const char *ok = "{\"jsonrpc\":\"2.0\",\"method\":\"m\"}";
	struct jsonrpc_msg m;
	static char deep[1024];
	char err[128];
	size_t n = 0;

	(void)state;
	/* Size: one byte over the caller's limit. */
	assert_int_equal(jsonrpc_parse(ok, strlen(ok), strlen(ok) - 1, &m, NULL,
				       err, sizeof(err)),
			 -EMSGSIZE);
	assert_int_equal(jsonrpc_parse(ok, strlen(ok), strlen(ok), &m, NULL,
				       err, sizeof(err)),
			 0);
	jsonrpc_msg_free(&m);
	/* Depth: JSONRPC_MAX_DEPTH levels pass, one more is refused. */
	for (int extra = 0; extra < 2; extra++) {
		unsigned levels = JSONRPC_MAX_DEPTH - 1 + (unsigned)extra;

		n = (size_t)sprintf(deep, "{\"jsonrpc\":\"2.0\",\"method\":"
					  "\"m\",\"params\":");
		for (unsigned i = 1; i < levels; i++)
			deep[n++] = '[';
		deep[n++] = '{';
		deep[n++] = '}';
		for (unsigned i = 1; i < levels; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		assert_int_equal(
			jsonrpc_parse(deep, n, 0, &m, NULL, err, sizeof(err)),
			extra ? -EPROTO : 0);
		jsonrpc_msg_free(&m);
	}
	/* Brackets inside strings are not nesting. */
	n = (size_t)sprintf(deep, "{\"jsonrpc\":\"2.0\",\"method\":\"");
	for (int i = 0; i < 200; i++)
		deep[n++] = '[';
	n += (size_t)sprintf(deep + n, "\\\"\"}");
	assert_int_equal(jsonrpc_parse(deep, n, 0, &m, NULL, err, sizeof(err)),
			 0);
	jsonrpc_msg_free(&m);
}

static void test_builders(void **state)
{
	json_t *id = json_integer(3), *m;
	struct jsonrpc_msg p;
	char err[128], *s;
	size_t len;

	(void)state;
	m = jsonrpc_request(id, "tools/call",
			    json_pack("{s:s}", "text", "a\nb"));
	s = jsonrpc_dump(m, &len);
	assert_null(memchr(s, '\n', len)); /* stdio framing stays intact */
	assert_int_equal(jsonrpc_parse(s, len, 0, &p, NULL, err, sizeof(err)),
			 0);
	assert_int_equal(p.kind, JSONRPC_REQUEST);
	assert_int_equal(json_integer_value(p.id), 3);
	jsonrpc_msg_free(&p);
	free(s);
	json_decref(m);
	m = jsonrpc_error(NULL, JSONRPC_PARSE_ERROR, "bad", NULL);
	assert_true(json_is_null(json_object_get(m, "id")));
	json_decref(m);
	m = jsonrpc_result(id, NULL);
	assert_true(json_is_object(json_object_get(m, "result")));
	json_decref(m);
	m = jsonrpc_notification("notifications/initialized", NULL);
	assert_null(json_object_get(m, "params"));
	json_decref(m);
	/* A null or real id makes no request. */
	assert_null(jsonrpc_request(json_null(), "m", json_object()));
	json_decref(id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_notification),
		cmocka_unit_test(test_responses),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_builders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
