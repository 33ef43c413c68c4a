// SPDX-License-Identifier: Apache-2.0
/*
 * `luminaguard mcp` over HTTP: against the real server-everything in its
 * streamableHttp and sse modes (tools, call, resources, prompts, --json,
 * exit codes), and against tests/mcp/fault-server.c for what only it can
 * see: headers from the config file reach the server and never appear
 * in our output or logs (even at debug level), and round robin over
 * "urls" whose first endpoint is down, and the config's TLS keys (an
 * HTTPS server whose CA only "ca_file" names). $LG is the binary.
 */
#include "fault-server.h"
#include "npm-servers.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

extern char **environ;

static const char *lg;
static char bin_dir[4096];
static char work[256];
static char out_path[512], err_path[512];
static char out[65536], err_text[65536];

static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, size - 1, f) : 0;

	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* Runs $LG with args (NULL-terminated); stdout and stderr into out and
 * err_text; returns the exit status (-1: killed, e.g. by the timeout). */
static int run_lg(const char *const *args)
{
	posix_spawn_file_actions_t fa;
	char *argv[32];
	int n = 0, st;
	pid_t pid;

	argv[n++] = (char *)"timeout";
	argv[n++] = (char *)"60";
	argv[n++] = (char *)lg;
	for (; *args && n < 31; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out_path,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, 2, err_path,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(
		posix_spawnp(&pid, "timeout", &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	slurp(out_path, out, sizeof(out));
	slurp(err_path, err_text, sizeof(err_text));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define LG(...) run_lg((const char *const[]){__VA_ARGS__, NULL})

static void expect(int rc, int want, const char *needle)
{
	if (rc != want ||
	    (needle && !strstr(out, needle) && !strstr(err_text, needle)))
		print_message("rc %d (want %d), looking for '%s'\n"
			      "stdout:\n%.2000s\nstderr:\n%.2000s\n",
			      rc, want, needle ? needle : "", out, err_text);
	assert_int_equal(rc, want);
	if (needle)
		assert_true(strstr(out, needle) || strstr(err_text, needle));
}

/* server-everything on a free port, its output dropped. */
static void server_start(struct npm_server *s, const char *mode)
{
	*s = (struct npm_server){0};
	assert_int_equal(npm_everything_start(s, bin_dir, mode), 0);
}

static void test_everything_streamable(void **state)
{
	struct npm_server srv;
	char url[128];
	json_t *j;

	(void)state;
	if (!bin_dir[0])
		skip();
	server_start(&srv, "streamableHttp");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/mcp", srv.port);
	expect(LG("mcp", "tools", url), 0, "echo - Echo Tool");
	expect(LG("mcp", "call", url, "echo", "{\"message\":\"over http\"}"), 0,
	       "Echo: over http");
	expect(LG("mcp", "call", url, "get-tiny-image"), 0, "[image/png, ");
	expect(LG("mcp", "call", url, "get-sum", "{\"a\":\"x\"}"), 1,
	       "[tool error]");
	expect(LG("mcp", "resources", url), 0,
	       "demo://resource/static/document/architecture.md");
	expect(LG("mcp", "prompts", url), 0, "simple-prompt");
	expect(LG("mcp", "--json", "tools", url), 0, "\"name\": \"get-sum\"");
	j = json_loads(out, 0, NULL);
	assert_true(json_is_array(json_object_get(j, "tools")));
	json_decref(j);
	expect(LG("mcp", "--json", "call", url, "echo", "{\"message\":\"j\"}"),
	       0, "\"text\": \"Echo: j\"");
	expect(LG("mcp", "--json", "prompts", url), 0, "\"prompts\"");
	/* An unknown tool: server-everything says so as a tool error. */
	expect(LG("mcp", "call", url, "no-such-tool"), 1, "no-such-tool");
	npm_server_stop(&srv);
	/* Nothing listens any more: connection failure, 125. */
	expect(LG("mcp", "--timeout", "2", "tools", url), 125, "mcp:");
}

static void test_everything_sse(void **state)
{
	struct npm_server srv;
	char url[128];

	(void)state;
	if (!bin_dir[0])
		skip();
	server_start(&srv, "sse");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/sse", srv.port);
	expect(LG("mcp", "tools", url), 0, "echo - Echo Tool");
	expect(LG("mcp", "call", url, "echo", "{\"message\":\"old sse\"}"), 0,
	       "Echo: old sse");
	expect(LG("mcp", "--json", "prompts", url), 0, "simple-prompt");
	npm_server_stop(&srv);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Headers from the config: sent, and never printed, even at debug. */
static void test_config_headers_redacted(void **state)
{
	static const char auth[] = "Bearer cli-s3cret-auth-7731";
	static const char token[] = "tok-f1le-99812";
	struct fault_server *srv = fault_server_start(0);
	struct fault_req r[16];
	char url[128], cfg[512], tokfile[512], text[2048];
	size_t n;

	(void)state;
	fault_server_url(srv, url, sizeof(url));
	snprintf(tokfile, sizeof(tokfile), "%s/token", work);
	snprintf(text, sizeof(text), "%s\n", token);
	write_file(tokfile, text);
	snprintf(cfg, sizeof(cfg), "%s/headers.json", work);
	snprintf(text, sizeof(text),
		 "{\"mcp\": {\"servers\": {\"web\": {\"url\": \"%s\", "
		 "\"headers\": {\"Authorization\": {\"env\": "
		 "\"LG_TEST_CLI_AUTH\"}, \"X-Test-Token\": {\"file\": "
		 "\"%s\"}}}}}}",
		 url, tokfile);
	write_file(cfg, text);
	setenv("LG_TEST_CLI_AUTH", auth, 1);
	expect(LG("--log-level", "debug", "mcp", "--config", cfg, "--json",
		  "call", "web", "anything"),
	       0, "\"method\": \"tools/call\"");
	n = fault_requests(srv, r, 16);
	assert_true(n >= 2);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(r[i].auth, auth);
		assert_string_equal(r[i].custom, token);
	}
	/* Debug logging was on (header dumps), the values never shown. */
	assert_non_null(strstr(err_text, "Authorization: [REDACTED]"));
	assert_non_null(strstr(err_text, "X-Test-Token: [REDACTED]"));
	assert_null(strstr(err_text, "cli-s3cret-auth-7731"));
	assert_null(strstr(err_text, token));
	assert_null(strstr(out, "cli-s3cret-auth-7731"));
	assert_null(strstr(out, token));

	/* A server that echoes the token in its refusal: still hidden. */
	fault_push_post(
		srv, &(struct fault_step){.action = FAULT_STATUS,
					  .status = 401,
					  .body = "bad token tok-f1le-99812"});
	expect(LG("--log-level", "debug", "mcp", "--config", cfg, "tools",
		  "web"),
	       125, "401");
	assert_null(strstr(err_text, token));
	assert_null(strstr(out, token));
	unsetenv("LG_TEST_CLI_AUTH");
	/* The variable missing: a clear error naming it, not the value. */
	expect(LG("mcp", "--config", cfg, "tools", "web"), 125,
	       "LG_TEST_CLI_AUTH");
	fault_server_stop(srv);
}

static size_t posts(struct fault_server *s)
{
	struct fault_req r[32];
	size_t n = fault_requests(s, r, 32), c = 0;

	for (size_t i = 0; i < n; i++)
		c += strcmp(r[i].method, "POST") == 0;
	return c;
}

/* "urls" with the first endpoint down: every request still lands. */
static void test_config_round_robin(void **state)
{
	struct fault_server *a = fault_server_start(0);
	struct fault_server *b = fault_server_start(0);
	char ua[128], ub[128], cfg[512], text[1024];
	uint64_t t0, el;

	(void)state;
	fault_server_url(a, ua, sizeof(ua));
	fault_server_url(b, ub, sizeof(ub));
	snprintf(cfg, sizeof(cfg), "%s/rr.json", work);
	snprintf(text, sizeof(text),
		 "{\"mcp\": {\"servers\": {\"rr\": {\"urls\": "
		 "[\"http://127.0.0.1:%u/mcp\", \"%s\", \"%s\"]}}}}",
		 fault_dead_port(), ua, ub);
	write_file(cfg, text);
	t0 = fault_now_ms();
	expect(LG("mcp", "--config", cfg, "--json", "call", "rr", "x"), 0,
	       "\"method\": \"tools/call\"");
	el = fault_now_ms() - t0;
	print_message("dead first endpoint: answered in %llu ms\n",
		      (unsigned long long)el);
	assert_true(el < 5000); /* failover, not the backoff */
	/* initialize, initialized and the call, spread over a and b;
	 * nothing lost, nothing sent twice. */
	print_message("POSTs: %zu to a, %zu to b\n", posts(a), posts(b));
	assert_int_equal(posts(a) + posts(b), 3);
	assert_true(posts(a) >= 1);
	assert_true(posts(b) >= 1);
	fault_server_stop(a);
	fault_server_stop(b);
}

static char *file_read(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0) {
		rewind(f);
		buf = calloc(1, (size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* An HTTPS server whose certificate only our own CA signs: refused
 * without the config's "ca_file", served with it. */
static void test_config_tls_ca(void **state)
{
	static const char script[] =
		"set -e; cd '%s'\n"
		"k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
		"openssl req -x509 $k -keyout ca.key -out ca.pem -days 2 "
		"-subj /CN=lg-test-ca -addext "
		"basicConstraints=critical,CA:TRUE -addext "
		"keyUsage=critical,keyCertSign,cRLSign\n"
		"openssl req $k -keyout srv.key -out srv.csr -subj "
		"/CN=127.0.0.1\n"
		"printf '%%s\\n' basicConstraints=CA:FALSE "
		"keyUsage=critical,digitalSignature "
		"extendedKeyUsage=serverAuth "
		"subjectAltName=IP:127.0.0.1,DNS:localhost >srv.ext\n"
		"openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
		"-CAcreateserial -days 2 -out srv.pem -extfile srv.ext\n";
	char dir[600], cmd[2600], full[3400], path[700], url[128], cfg[600];
	char text[2048];
	struct fault_tls tls = {0};
	struct fault_server *srv = NULL;
	char *pem, *key;

	(void)state;
	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		print_message("skipped: the openssl CLI is not installed\n");
		skip();
	}
	if (!fault_tls_supported(false)) {
		print_message("skipped: libmicrohttpd without TLS\n");
		skip();
	}
	snprintf(dir, sizeof(dir), "%s/tls", work);
	assert_int_equal(mkdir(dir, 0700), 0);
	snprintf(cmd, sizeof(cmd), script, dir);
	snprintf(full, sizeof(full), "(%s) >'%s/log' 2>&1", cmd, dir);
	if (system(full) != 0) {
		snprintf(path, sizeof(path), "%s/log", dir);
		slurp(path, err_text, sizeof(err_text));
		print_message("openssl failed:\n%.2000s\n", err_text);
		fail();
	}
	snprintf(path, sizeof(path), "%s/srv.pem", dir);
	pem = file_read(path);
	snprintf(path, sizeof(path), "%s/srv.key", dir);
	key = file_read(path);
	assert_non_null(pem);
	assert_non_null(key);
	tls.cert_pem = pem;
	tls.key_pem = key;
	srv = fault_server_start_tls(0, &tls);
	free(pem);
	free(key);
	assert_non_null(srv);
	fault_server_url(srv, url, sizeof(url));
	assert_int_equal(strncmp(url, "https://", 8), 0);

	/* Without the CA: the system's CAs do not know ours. */
	snprintf(cfg, sizeof(cfg), "%s/tls-noca.json", work);
	snprintf(text, sizeof(text),
		 "{\"mcp\": {\"servers\": {\"web\": {\"url\": \"%s\"}}}}", url);
	write_file(cfg, text);
	expect(LG("mcp", "--config", cfg, "--timeout", "10", "tools", "web"),
	       125, "certificate");
	/* Nothing got past the handshake. */
	assert_int_equal(fault_request_count(srv), 0);

	/* "ca_file" names our CA: verified, and a call goes through. */
	snprintf(cfg, sizeof(cfg), "%s/tls-ca.json", work);
	snprintf(text, sizeof(text),
		 "{\"mcp\": {\"servers\": {\"web\": {\"url\": \"%s\", "
		 "\"ca_file\": \"%s/ca.pem\"}}}}",
		 url, dir);
	write_file(cfg, text);
	/* (call, not tools: the fault server answers every request with
	 * {"method", "n"}, which has no "tools" array.) */
	expect(LG("mcp", "--config", cfg, "--json", "call", "web", "x"), 0,
	       "\"method\": \"tools/call\"");
	assert_true(fault_request_count(srv) >= 2);
	fault_server_stop(srv);
}

static void servers_find(void)
{
	if (npm_servers_find(bin_dir, sizeof(bin_dir), true) == 0)
		return;
	fprintf(stderr,
		"npm MCP servers not available: server-everything tests "
		"skipped\n");
	bin_dir[0] = '\0';
	if (npm_servers_required())
		exit(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_everything_streamable),
		cmocka_unit_test(test_everything_sse),
		cmocka_unit_test(test_config_headers_redacted),
		cmocka_unit_test(test_config_round_robin),
		cmocka_unit_test(test_config_tls_ca),
	};
	char cmd[300];
	int rc;

	lg = getenv("LG");
	if (!lg || !lg[0]) {
		fprintf(stderr, "LG must name the luminaguard binary\n");
		return 1;
	}
	servers_find();
	snprintf(work, sizeof(work), "%s/lg-mcp-cli-http.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(work))
		return 1;
	snprintf(out_path, sizeof(out_path), "%s/out", work);
	snprintf(err_path, sizeof(err_path), "%s/err", work);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", work);
	return rc;
}
