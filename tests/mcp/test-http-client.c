// SPDX-License-Identifier: Apache-2.0
/*
 * The client session (client.c) over the Streamable HTTP transport
 * against tests/mcp/fault-server.c: session expiry and resume (404, and
 * an expiry the GET stream noticed first), retries seen through the
 * client (a tools/call whose connection dropped is not sent again, a
 * tools/list is), and TLS: verification on by default with a clear
 * error and nothing sent, a CA bundle, client certificates, and
 * tls_insecure. The certificates are made with the openssl CLI in a
 * temporary directory for each run.
 */
#include "fault-server.h"
#include "mcp/client.h"
#include "mcp/http.h"

#include "common/log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static struct mcp_retry_policy fast_policy(void)
{
	struct mcp_retry_policy p;

	mcp_retry_policy_default(&p);
	p.initial_ms = 100;
	p.jitter = 0;
	p.deadline_ms = 10000;
	p.cooldown_ms = 60000;
	return p;
}

/* A client over HTTP to url; o may carry TLS options. 0 or the errno of
 * initialize (e filled) when init is set. */
static int client_open(const char *url, const struct mcp_http_opts *extra,
		       bool init, struct mcp_client **c, struct mcp_error *e)
{
	static struct mcp_retry_policy pol;
	const char *urls[] = {url};
	struct mcp_http_opts o = {0};
	struct mcp_client_opts co = {.timeout_ms = 15000};
	struct mcp_transport *t;
	char err[256];

	if (extra)
		o = *extra;
	o.urls = urls;
	o.n_urls = 1;
	pol = fast_policy();
	o.retry = &pol;
	o.sse_retry_ms = o.sse_retry_ms ? o.sse_retry_ms : 100;
	assert_int_equal(mcp_http_transport_create(&o, &t, err, sizeof(err)),
			 0);
	assert_int_equal(mcp_client_create(t, &co, c, err, sizeof(err)), 0);
	return init ? mcp_client_initialize(*c, e) : 0;
}

static size_t count_rpc(struct fault_server *srv, const char *http,
			const char *rpc, struct fault_req *last)
{
	static struct fault_req r[512];
	size_t n = fault_requests(srv, r, 512), c = 0;

	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].method, http) == 0 &&
		    (!rpc || strcmp(r[i].rpc_method, rpc) == 0)) {
			c++;
			if (last)
				*last = r[i];
		}
	return c;
}

static json_t *call(struct mcp_client *c, const char *method, int *rc,
		    struct mcp_error *e)
{
	json_t *res = NULL;

	*rc = mcp_client_request(c, method,
				 strcmp(method, "tools/call") == 0
					 ? json_pack("{s:s}", "name", "echo")
					 : NULL,
				 NULL, &res, e);
	return res;
}

/* The server forgets the session (404): the client initializes again and
 * the call goes through once more, with the new session id. */
static void test_expiry_404_resume(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct mcp_error e = {0};
	struct mcp_client *c;
	struct fault_req last;
	char url[128];
	json_t *res;
	int rc;

	(void)state;
	fault_set_session(srv, "S");
	fault_server_url(srv, url, sizeof(url));
	assert_int_equal(client_open(url, NULL, true, &c, &e), 0);
	res = call(c, "tools/call", &rc, &e);
	assert_int_equal(rc, 0);
	json_decref(res);
	assert_int_equal(count_rpc(srv, "POST", "tools/call", &last), 1);
	assert_string_equal(last.session, "S");

	fault_expire_session(srv);
	res = call(c, "tools/call", &rc, &e);
	assert_int_equal(rc, 0);
	assert_string_equal(json_string_value(json_object_get(res, "method")),
			    "tools/call");
	json_decref(res);
	/* Two initializes; the second without the old id. */
	assert_int_equal(count_rpc(srv, "POST", "initialize", &last), 2);
	assert_string_equal(last.session, "");
	/* The call: once with S (404, never run), once with the new id. */
	assert_int_equal(count_rpc(srv, "POST", "tools/call", &last), 3);
	assert_string_equal(last.session, "S-1");
	assert_int_equal(
		count_rpc(srv, "POST", "notifications/initialized", &last), 2);
	assert_string_equal(last.session, "S-1");
	assert_null(mcp_client_closed_reason(c));
	mcp_client_destroy(c);
	fault_server_stop(srv);
}

/* The GET stream meets the dead session first (404 on reconnect): the
 * next request initializes before it is sent. */
static void test_expiry_seen_by_get_stream(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step g = {.action = FAULT_GET_SSE, .retry_ms = 50};
	struct mcp_error e = {0};
	struct mcp_client *c;
	struct fault_req last;
	char url[128];
	json_t *res;
	int rc;

	(void)state;
	fault_set_session(srv, "G");
	fault_push_get(srv, &g); /* ends at once: reconnect after 50 ms */
	fault_server_url(srv, url, sizeof(url));
	assert_int_equal(client_open(url, NULL, true, &c, &e), 0);
	fault_expire_session(srv);
	/* Wait for the reconnecting GET to get its 404. */
	for (int i = 0; i < 200 && count_rpc(srv, "GET", NULL, NULL) < 2; i++)
		usleep(10000);
	assert_true(count_rpc(srv, "GET", NULL, NULL) >= 2);
	usleep(100000);
	res = call(c, "tools/list", &rc, &e);
	assert_int_equal(rc, 0);
	json_decref(res);
	assert_int_equal(count_rpc(srv, "POST", "initialize", NULL), 2);
	/* Sent once, after the new initialize: no 404 on the way. */
	assert_int_equal(count_rpc(srv, "POST", "tools/list", &last), 1);
	assert_string_equal(last.session, "G-1");
	mcp_client_destroy(c);
	fault_server_stop(srv);
}

/* Raw transport: after an expiry, a request sent without a session id
 * gets the server's 400 ("no session"); the transport reports it as the
 * expired session (-ESTALE), so the client re-initializes and resends
 * instead of failing. */
struct raw_sink {
	pthread_mutex_t mu;
	json_t *msgs;
	int expired;
};

static void raw_message(void *opaque, const char *msg, size_t len)
{
	struct raw_sink *s = opaque;
	json_t *m = json_loadb(msg, len, 0, NULL);

	pthread_mutex_lock(&s->mu);
	if (m)
		json_array_append_new(s->msgs, m);
	pthread_mutex_unlock(&s->mu);
}

static void raw_closed(void *opaque, int err, const char *why)
{
	(void)opaque;
	(void)err;
	(void)why;
}

static void raw_expired(void *opaque)
{
	struct raw_sink *s = opaque;

	pthread_mutex_lock(&s->mu);
	s->expired++;
	pthread_mutex_unlock(&s->mu);
}

static json_t *raw_wait(struct raw_sink *s, int id)
{
	for (int k = 0; k < 500; k++) {
		json_t *m, *found = NULL;
		size_t i;

		pthread_mutex_lock(&s->mu);
		json_array_foreach(s->msgs, i, m)
		{
			if (json_integer_value(json_object_get(m, "id")) == id)
				found = json_incref(m);
		}
		pthread_mutex_unlock(&s->mu);
		if (found)
			return found;
		usleep(10000);
	}
	return NULL;
}

static void test_request_without_session_after_expiry(void **state)
{
	static const struct mcp_transport_events ev = {
		.message = raw_message,
		.closed = raw_closed,
		.session_expired = raw_expired,
	};
	static const char init[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\"}";
	static const char list[] =
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}";
	struct fault_server *srv = fault_server_start(0);
	struct raw_sink s = {.msgs = json_array()};
	struct mcp_retry_policy pol = fast_policy();
	char url[128], err[256];
	const char *urls[] = {url};
	struct mcp_http_opts o = {.urls = urls, .n_urls = 1, .retry = &pol};
	struct mcp_transport *t;
	struct fault_req last;
	json_t *r, *data;

	(void)state;
	pthread_mutex_init(&s.mu, NULL);
	fault_set_session(srv, "R");
	fault_push_get(srv, &(struct fault_step){.action = FAULT_STATUS,
						 .status = 404});
	fault_server_url(srv, url, sizeof(url));
	assert_int_equal(mcp_http_transport_create(&o, &t, err, sizeof(err)),
			 0);
	assert_int_equal(t->ops->start(t, &ev, &s, err, sizeof(err)), 0);
	assert_int_equal(t->ops->send(t, init, strlen(init), err, sizeof(err)),
			 0);
	json_decref(raw_wait(&s, 1));
	/* The GET stream (opened after initialized) gets 404: expired. */
	assert_int_equal(t->ops->send(t,
				      "{\"jsonrpc\":\"2.0\",\"method\":"
				      "\"notifications/initialized\"}",
				      54, err, sizeof(err)),
			 0);
	for (int i = 0; i < 300 && !s.expired; i++)
		usleep(10000);
	assert_int_equal(s.expired, 1);
	/* A request now goes without an id; the server says 400. */
	assert_int_equal(t->ops->send(t, list, strlen(list), err, sizeof(err)),
			 0);
	r = raw_wait(&s, 2);
	assert_non_null(r);
	data = json_object_get(json_object_get(r, "error"), "data");
	assert_int_equal(json_integer_value(json_object_get(data, "status")),
			 400);
	assert_int_equal(json_integer_value(json_object_get(data, "errno")),
			 -ESTALE);
	assert_int_equal(count_rpc(srv, "POST", "tools/list", &last), 1);
	assert_string_equal(last.session, "");
	assert_int_equal(s.expired, 1); /* reported once */
	json_decref(r);
	t->ops->destroy(t);
	fault_server_stop(srv);
	json_decref(s.msgs);
	pthread_mutex_destroy(&s.mu);
}

/* The connection drops after the server received a tools/call: the
 * client gets the error, and the call was sent exactly once. */
static void test_call_dropped_not_retried(void **state)
{
	struct fault_server *srv = fault_server_start(0);
	struct fault_step drop = {.action = FAULT_DROP};
	struct mcp_error e = {0};
	struct mcp_client *c;
	char url[128];
	json_t *res;
	int rc;

	(void)state;
	fault_server_url(srv, url, sizeof(url));
	assert_int_equal(client_open(url, NULL, true, &c, &e), 0);
	/* notifications/initialized is posted in the background. */
	for (int i = 0;
	     i < 200 &&
	     !count_rpc(srv, "POST", "notifications/initialized", NULL);
	     i++)
		usleep(10000);
	fault_push_post(srv, &drop);
	res = call(c, "tools/call", &rc, &e);
	assert_null(res);
	assert_int_equal(rc, -EREMOTEIO);
	assert_int_equal(e.code, MCP_HTTP_ERROR_TRANSPORT);
	assert_int_equal(json_integer_value(json_object_get(e.data, "errno")),
			 -ECONNRESET);
	print_message("dropped tools/call: %s\n", e.message);
	mcp_error_clear(&e);
	usleep(300000); /* a retry would come after 100 ms */
	assert_int_equal(count_rpc(srv, "POST", "tools/call", NULL), 1);

	/* The same fault on tools/list: retried, and the client never
	 * sees it. */
	fault_push_post(srv, &drop);
	res = call(c, "tools/list", &rc, &e);
	assert_int_equal(rc, 0);
	json_decref(res);
	assert_int_equal(count_rpc(srv, "POST", "tools/list", NULL), 2);
	assert_null(mcp_client_closed_reason(c));
	mcp_client_destroy(c);
	fault_server_stop(srv);
}

/* TLS: certificates made with the openssl CLI. */
static char tls_dir[256];
static char *ca_pem, *srv_pem, *srv_key, *other_ca_pem;
static bool tls_ok;
static const char *tls_skip = "not set up";

static char *slurp(const char *dir, const char *name)
{
	char path[512], *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void tls_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", tls_dir, name);
}

/* A CA, a server certificate for 127.0.0.1/localhost and a client
 * certificate signed by it, and a client certificate of another CA. */
static int tls_setup(void **state)
{
	static const char script[] =
		"set -e; cd '%s'\n"
		"k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
		"ca() { openssl req -x509 $k -keyout $1.key -out $1.pem "
		"-days 2 -subj /CN=$1 -addext "
		"basicConstraints=critical,CA:TRUE -addext "
		"keyUsage=critical,keyCertSign,cRLSign; }\n"
		"leaf() { openssl req $k -keyout $1.key -out $1.csr -subj "
		"/CN=$3; printf '%%s\\n' basicConstraints=CA:FALSE "
		"keyUsage=critical,digitalSignature extendedKeyUsage=$4 "
		"$5 >$1.ext; openssl x509 -req -in $1.csr -CA $2.pem -CAkey "
		"$2.key -CAcreateserial -days 2 -out $1.pem -extfile $1.ext; "
		"}\n"
		"ca ca; ca other\n"
		"leaf srv ca 127.0.0.1 serverAuth "
		"subjectAltName=IP:127.0.0.1,DNS:localhost\n"
		"leaf cli ca lg-client clientAuth ''\n"
		"leaf bad other lg-client clientAuth ''\n";
	char cmd[2048];

	(void)state;
	if (system("command -v openssl >/dev/null 2>&1") != 0) {
		tls_skip = "the openssl CLI is not installed";
		return 0;
	}
	if (!fault_tls_supported(true)) {
		tls_skip = "libmicrohttpd without TLS (or no GnuTLS)";
		return 0;
	}
	snprintf(tls_dir, sizeof(tls_dir), "%s/lg-mcp-tls.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tls_dir))
		return -1;
	snprintf(cmd, sizeof(cmd), script, tls_dir);
	{
		char full[2600];

		snprintf(full, sizeof(full), "(%s) >'%s/log' 2>&1", cmd,
			 tls_dir);
		if (system(full) != 0) {
			fprintf(stderr, "openssl failed; see %s/log\n",
				tls_dir);
			return -1;
		}
	}
	ca_pem = slurp(tls_dir, "ca.pem");
	other_ca_pem = slurp(tls_dir, "other.pem");
	srv_pem = slurp(tls_dir, "srv.pem");
	srv_key = slurp(tls_dir, "srv.key");
	if (!ca_pem || !other_ca_pem || !srv_pem || !srv_key)
		return -1;
	tls_ok = true;
	return 0;
}

static int tls_teardown(void **state)
{
	char cmd[400];

	(void)state;
	free(ca_pem);
	free(other_ca_pem);
	free(srv_pem);
	free(srv_key);
	if (tls_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tls_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tls_dir);
	}
	return 0;
}

static char logbuf[65536];
static size_t loglen;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_sink(void *opaque, enum lg_log_level level, const char *file,
		     int line, const char *msg)
{
	(void)opaque;
	(void)level;
	(void)file;
	(void)line;
	pthread_mutex_lock(&log_mu);
	loglen += (size_t)snprintf(logbuf + loglen, sizeof(logbuf) - loglen,
				   "%s\n", msg);
	if (loglen >= sizeof(logbuf))
		loglen = sizeof(logbuf) - 1;
	pthread_mutex_unlock(&log_mu);
}

static void test_tls_server_verification(void **state)
{
	const struct fault_tls tls = {.cert_pem = srv_pem, .key_pem = srv_key};
	struct fault_server *srv;
	struct mcp_error e = {0};
	struct mcp_client *c;
	char url[128], ca[512], other[512];
	json_t *res;
	int rc;

	(void)state;
	if (!tls_ok)
		skip();
	srv = fault_server_start_tls(0, &tls);
	assert_non_null(srv);
	fault_server_url(srv, url, sizeof(url));
	assert_int_equal(strncmp(url, "https://", 8), 0);
	tls_path(ca, sizeof(ca), "ca.pem");
	tls_path(other, sizeof(other), "other.pem");

	/* Default: the system's CAs do not know ours. */
	rc = client_open(url, NULL, true, &c, &e);
	print_message("default verification: %s\n", e.message);
	assert_int_equal(rc, -EREMOTEIO);
	assert_int_equal(e.code, MCP_HTTP_ERROR_TRANSPORT);
	assert_int_equal(json_integer_value(json_object_get(e.data, "errno")),
			 -EPROTO);
	assert_non_null(strstr(e.message, "certificate"));
	mcp_error_clear(&e);
	mcp_client_destroy(c);
	/* Another CA's bundle: refused too. */
	rc = client_open(url, &(struct mcp_http_opts){.ca_file = other}, true,
			 &c, &e);
	assert_int_equal(rc, -EREMOTEIO);
	assert_non_null(strstr(e.message, "certificate"));
	mcp_error_clear(&e);
	mcp_client_destroy(c);
	/* Nothing reached the server: no request was ever read. */
	assert_int_equal(fault_request_count(srv), 0);

	/* Our CA bundle: verified, works. */
	assert_int_equal(client_open(url,
				     &(struct mcp_http_opts){.ca_file = ca},
				     true, &c, &e),
			 0);
	res = call(c, "tools/call", &rc, &e);
	assert_int_equal(rc, 0);
	json_decref(res);
	mcp_client_destroy(c);
	assert_int_equal(count_rpc(srv, "POST", "tools/call", NULL), 1);

	/* tls_insecure: works without the CA, and says so. */
	loglen = 0;
	logbuf[0] = '\0';
	lg_log_set_sink(log_sink, NULL);
	rc = client_open(url, &(struct mcp_http_opts){.tls_insecure = true},
			 true, &c, &e);
	lg_log_set_sink(NULL, NULL);
	assert_int_equal(rc, 0);
	mcp_client_destroy(c);
	assert_non_null(strstr(logbuf, "TLS verification is off"));
	fault_server_stop(srv);
}

static void test_tls_client_certificate(void **state)
{
	struct fault_tls tls = {.cert_pem = srv_pem, .key_pem = srv_key};
	struct fault_server *srv;
	struct mcp_error e = {0};
	struct mcp_client *c;
	struct fault_req last;
	char url[128], ca[512], cert[512], key[512], bad[512], badkey[512];
	int rc;

	(void)state;
	if (!tls_ok)
		skip();
	tls.client_ca_pem = ca_pem;
	srv = fault_server_start_tls(0, &tls);
	assert_non_null(srv);
	fault_server_url(srv, url, sizeof(url));
	tls_path(ca, sizeof(ca), "ca.pem");
	tls_path(cert, sizeof(cert), "cli.pem");
	tls_path(key, sizeof(key), "cli.key");
	tls_path(bad, sizeof(bad), "bad.pem");
	tls_path(badkey, sizeof(badkey), "bad.key");

	/* No client certificate: refused (403, not retried). */
	rc = client_open(url, &(struct mcp_http_opts){.ca_file = ca}, true, &c,
			 &e);
	print_message("without a client certificate: %s\n", e.message);
	assert_int_equal(rc, -EREMOTEIO);
	assert_int_equal(json_integer_value(json_object_get(e.data, "status")),
			 403);
	mcp_error_clear(&e);
	mcp_client_destroy(c);
	assert_int_equal(fault_request_count(srv), 1);
	assert_int_equal(count_rpc(srv, "POST", NULL, &last), 1);
	assert_string_equal(last.client_cert, "none");

	/* One from another CA: refused. */
	rc = client_open(url,
			 &(struct mcp_http_opts){.ca_file = ca,
						 .client_cert = bad,
						 .client_key = badkey},
			 true, &c, &e);
	assert_int_equal(rc, -EREMOTEIO);
	mcp_error_clear(&e);
	mcp_client_destroy(c);
	assert_int_equal(count_rpc(srv, "POST", NULL, &last), 2);
	assert_string_equal(last.client_cert, "invalid");

	/* Ours, with its key: accepted. */
	assert_int_equal(
		client_open(url,
			    &(struct mcp_http_opts){.ca_file = ca,
						    .client_cert = cert,
						    .client_key = key},
			    true, &c, &e),
		0);
	mcp_client_destroy(c);
	assert_int_equal(count_rpc(srv, "POST", "initialize", &last), 3);
	assert_string_equal(last.client_cert, "verified");
	fault_server_stop(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_expiry_404_resume),
		cmocka_unit_test(test_expiry_seen_by_get_stream),
		cmocka_unit_test(test_request_without_session_after_expiry),
		cmocka_unit_test(test_call_dropped_not_retried),
	};
	const struct CMUnitTest tls_tests[] = {
		cmocka_unit_test(test_tls_server_verification),
		cmocka_unit_test(test_tls_client_certificate),
	};
	int fails;

	lg_log_set_level(LG_LOG_WARN);
	fails = cmocka_run_group_tests(tests, NULL, NULL);
	fails += cmocka_run_group_tests_name("tls", tls_tests, tls_setup,
					     tls_teardown);
	if (!tls_ok)
		fprintf(stderr, "TLS tests skipped: %s\n", tls_skip);
	return fails ? 1 : 0;
}
