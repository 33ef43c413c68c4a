/* SPDX-License-Identifier: Apache-2.0 */
/* mcp-config.c: the "mcp" section, accepted and rejected. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mcp/mcp-config.h"

static int parse(const char *text, struct mcp_config *cfg, char *err, size_t n)
{
	json_t *v = json_loads(text, 0, NULL);
	int rc;

	assert_non_null(v);
	rc = mcp_config_parse(v, cfg, err, n);
	json_decref(v);
	return rc;
}

static void test_valid(void **state)
{
	const struct mcp_server_config *s;
	struct mcp_config cfg;
	char err[256];

	(void)state;
	assert_int_equal(
		parse("{\"servers\":{"
		      "\"fs\":{\"command\":[\"srv\",\"/d\"],\"env\":{\"A\":"
		      "\"1\"},\"cwd\":\"/tmp\",\"restart\":true,\"sandbox\":"
		      "false,\"timeout_ms\":5000},"
		      "\"web\":{\"urls\":[\"http://127.0.0.1:1/mcp\","
		      "\"https://h/mcp\"],\"headers\":{\"Authorization\":{"
		      "\"env\":\"TOK\"},\"X-A\":\"lit\",\"X-F\":{\"file\":"
		      "\"/f\"}},\"connect_timeout_ms\":100,\"retry\":{"
		      "\"initial_ms\":10,\"multiplier\":3,\"jitter\":0,"
		      "\"max_attempts\":4},\"ca_file\":\"/ca\"},"
		      "\"one\":{\"url\":\"http://127.0.0.1:2/mcp\"}}}",
		      &cfg, err, sizeof(err)),
		0);
	assert_int_equal(cfg.n_servers, 3);
	s = mcp_config_find(&cfg, "fs");
	assert_non_null(s);
	assert_int_equal(s->kind, MCP_SERVER_STDIO);
	assert_string_equal(s->argv[0], "srv");
	assert_string_equal(s->argv[1], "/d");
	assert_null(s->argv[2]);
	assert_string_equal(s->env[0], "A=1");
	assert_null(s->env[1]);
	assert_string_equal(s->cwd, "/tmp");
	assert_true(s->restart);
	assert_false(s->sandbox);
	assert_int_equal(s->timeout_ms, 5000);
	s = mcp_config_find(&cfg, "web");
	assert_int_equal(s->kind, MCP_SERVER_HTTP);
	assert_int_equal(s->http.n_urls, 2);
	assert_string_equal(s->http.urls[1], "https://h/mcp");
	assert_int_equal(s->http.n_headers, 3);
	assert_string_equal(s->http.headers[0].name, "Authorization");
	assert_string_equal(s->http.headers[0].value_env, "TOK");
	assert_string_equal(s->http.headers[1].value, "lit");
	assert_string_equal(s->http.headers[2].value_file, "/f");
	assert_int_equal(s->http.connect_timeout_ms, 100);
	assert_string_equal(s->http.ca_file, "/ca");
	assert_int_equal(s->http.retry->initial_ms, 10);
	assert_int_equal(s->http.retry->max_attempts, 4);
	assert_true(s->http.retry->multiplier == 3);
	assert_true(s->http.retry->jitter == 0);
	assert_int_equal(s->http.retry->max_ms, 32000); /* default kept */
	s = mcp_config_find(&cfg, "one");
	assert_int_equal(s->http.n_urls, 1);
	assert_null(mcp_config_find(&cfg, "nope"));
	mcp_config_free(&cfg);
}

static const struct {
	const char *text, *want;
} bad[] = {
	{"[]", "mcp: wants an object"},
	{"{\"server\":{}}", "mcp: unknown key \"server\""},
	{"{\"servers\":[]}", "mcp.servers: wants an object"},
	{"{\"servers\":{\"a b\":{\"command\":[\"x\"]}}}", "server names"},
	{"{\"servers\":{\"a\":{}}}", "either \"command\""},
	{"{\"servers\":{\"a\":{\"command\":[\"x\"],\"url\":\"http://h/\"}}}",
	 "either \"command\""},
	{"{\"servers\":{\"a\":{\"command\":[]}}}", "mcp.servers.a.command"},
	{"{\"servers\":{\"a\":{\"command\":\"x y\"}}}",
	 "mcp.servers.a.command"},
	{"{\"servers\":{\"a\":{\"command\":[\"x\",1]}}}",
	 "mcp.servers.a.command"},
	{"{\"servers\":{\"a\":{\"command\":[\"x\"],\"env\":{\"A\":1}}}}",
	 "mcp.servers.a.env.A"},
	{"{\"servers\":{\"a\":{\"command\":[\"x\"],\"env\":{\"A=B\":\"1\"}}}}",
	 "bad variable name"},
	{"{\"servers\":{\"a\":{\"command\":[\"x\"],\"restart\":1}}}",
	 "mcp.servers.a.restart"},
	{"{\"servers\":{\"a\":{\"command\":[\"x\"],\"headers\":{}}}}",
	 "unknown key \"headers\" (for a stdio server)"},
	{"{\"servers\":{\"a\":{\"url\":\"ftp://h\"}}}", "mcp.servers.a.url"},
	{"{\"servers\":{\"a\":{\"url\":\"http://h/\",\"cwd\":\"/\"}}}",
	 "unknown key \"cwd\" (for an HTTP server)"},
	{"{\"servers\":{\"a\":{\"url\":\"http://h/\",\"headers\":{\"X\":"
	 "{\"env\":\"A\",\"file\":\"B\"}}}}}",
	 "mcp.servers.a.headers.X"},
	{"{\"servers\":{\"a\":{\"url\":\"http://h/\",\"headers\":{\"X:Y\":"
	 "\"v\"}}}}",
	 "bad header name"},
	{"{\"servers\":{\"a\":{\"url\":\"http://h/"
	 "\",\"retry\":{\"tries\":3}}}}",
	 "mcp.servers.a.retry: unknown key \"tries\""},
	{"{\"servers\":{\"a\":{\"url\":\"http://h/"
	 "\",\"retry\":{\"jitter\":2}}}}",
	 "mcp.servers.a.retry.jitter"},
	{"{\"servers\":{\"a\":{\"url\":\"http://h/\",\"timeout_ms\":-1}}}",
	 "mcp.servers.a.timeout_ms"},
	/* The gateway's keys: kept for it, but still typed. */
	{"{\"gateway\":[]}", "mcp.gateway: wants an object"},
	{"{\"servers\":{\"a\":{\"command\":[\"x\"],\"copy_in\":[]}}}",
	 "mcp.servers.a.copy_in"},
	{"{\"servers\":{\"a\":{\"url\":\"http://h/\",\"copy_in\":{}}}}",
	 "unknown key \"copy_in\" (for an HTTP server)"},
	{"{\"gateway\":{},\"gateways\":{}}", "mcp: unknown key \"gateways\""},
};

/* "gateway" and servers.*.copy_in belong to the gateway: kept, not parsed. */
static void test_gateway_keys(void **state)
{
	struct mcp_config cfg;
	char err[256] = "";

	(void)state;
	assert_int_equal(parse("{\"gateway\":{\"page_size\":7,\"whatever\":1},"
			       "\"servers\":{\"a\":{\"command\":[\"x\"],"
			       "\"sandbox\":true,\"copy_in\":{\"/h\":\"/g\"}},"
			       "\"b\":{\"command\":[\"y\"]}}}",
			       &cfg, err, sizeof(err)),
			 0);
	assert_non_null(cfg.gateway);
	assert_int_equal(
		json_integer_value(json_object_get(cfg.gateway, "page_size")),
		7);
	assert_int_equal(cfg.n_servers, 2);
	assert_string_equal(json_string_value(json_object_get(
				    mcp_config_find(&cfg, "a")->copy_in, "/h")),
			    "/g");
	assert_null(mcp_config_find(&cfg, "b")->copy_in);
	mcp_config_free(&cfg);
}

static void test_invalid(void **state)
{
	struct mcp_config cfg;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(bad[i].text, &cfg, err, sizeof(err)),
				 -EINVAL);
		if (!strstr(err, bad[i].want))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
				 bad[i].want);
		assert_int_equal(cfg.n_servers, 0);
	}
}

static void test_load(void **state)
{
	char path[] = "/tmp/lg-mcp-cfg-XXXXXX";
	struct mcp_config cfg;
	char err[512];
	FILE *f;
	int fd;

	(void)state;
	fd = mkstemp(path);
	f = fdopen(fd, "w");
	fputs("{\"exec\":{},\"mcp\":{\"servers\":{\"m\":{\"command\":[\"x\"]}}}"
	      "}",
	      f);
	fclose(f);
	assert_int_equal(mcp_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_servers, 1);
	mcp_config_free(&cfg);
	/* The default file is found through $LUMINAGUARD_CONFIG. */
	setenv("LUMINAGUARD_CONFIG", path, 1);
	assert_int_equal(mcp_config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_non_null(mcp_config_find(&cfg, "m"));
	mcp_config_free(&cfg);
	/* Duplicate keys are refused; an explicit missing file is an error. */
	f = fopen(path, "w");
	fputs("{\"mcp\":{},\"mcp\":{}}", f);
	fclose(f);
	assert_int_equal(mcp_config_load(path, &cfg, err, sizeof(err)),
			 -EINVAL);
	unlink(path);
	assert_int_equal(mcp_config_load(path, &cfg, err, sizeof(err)),
			 -EINVAL);
	/* No config at all (no explicit path): an empty config. */
	unsetenv("LUMINAGUARD_CONFIG");
	setenv("HOME", "/nonexistent", 1);
	unsetenv("XDG_CONFIG_HOME");
	assert_int_equal(mcp_config_load(NULL, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.n_servers, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_gateway_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
