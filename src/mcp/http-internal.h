/* SPDX-License-Identifier: Apache-2.0 */
/* Shared inside the HTTP transport (http.c, http-easy.c, http-stream.c). */
#ifndef LG_MCP_HTTP_INTERNAL_H
#define LG_MCP_HTTP_INTERNAL_H

#include "mcp/http.h"
#include "mcp/retry.h"
#include "mcp/sse.h"

#include "common/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define HTTP_URL_MAX 2048
#define HTTP_SESSION_MAX 256
#define HTTP_ERROR_BODY_MAX 4096

struct http_job {
	struct http_job *next;
	char *body;
	size_t len;
	char *method; /* NULL: a response */
	json_t *id;   /* requests only */
	bool idempotent, is_initialize, is_initialized_notif;
};

struct http_t;

struct http_worker {
	struct http_t *t;
	pthread_t thread;
	CURL *curl;
};

enum http_xfer_kind {
	HTTP_XFER_POST,	      /* a message */
	HTTP_XFER_GET,	      /* the server-initiated stream */
	HTTP_XFER_RESUME,     /* a POST stream resumed with Last-Event-ID */
	HTTP_XFER_LEGACY_GET, /* the old transport's stream */
	HTTP_XFER_DELETE,
};

/* One HTTP exchange and what came back. */
struct http_xfer {
	struct http_t *t;
	CURL *curl;
	enum http_xfer_kind kind;
	struct http_job *job; /* POST and RESUME */
	char url[HTTP_URL_MAX];
	struct curl_slist *hdrs;
	long status;
	char ctype[128];
	char session_id[HTTP_SESSION_MAX + 1];
	int64_t retry_after_ms;
	bool headers_done, decided, is_sse, body_sent;
	struct sse_parser sse;
	bool sse_inited;
	char *body; /* JSON, or the start of an error body (NUL-terminated) */
	size_t body_len, body_cap;
	int werr; /* an error from a callback */
	bool got_response;
	bool timed_out;
	/* What went out: a session id, and the generation it belonged to. */
	bool sent_session;
	unsigned sent_gen;
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's words for a failure */
	uint64_t last_rx_ms;
	long long sse_retry_ms; /* -1: none seen */
	curl_socket_t fd;	/* for destroy to shut down; -1 */
	struct http_xfer *next_active;
	bool active;
};

struct http_t {
	struct mcp_transport base;
	struct mcp_transport_events ev;
	void *opaque;

	struct mcp_endpoints eps;
	struct mcp_retry_policy policy;
	struct mcp_retry_clock clk;
	unsigned connect_timeout_ms, request_timeout_ms, sse_retry_ms;
	size_t max_message;
	bool no_get, no_legacy;

	/* http-easy.c */
	char **hdr_lines; /* "Name: value" */
	size_t n_hdr;
	char **secrets; /* values to redact */
	size_t n_secrets;
	char **secret_names; /* header names whose values are redacted */
	size_t n_secret_names;
	char *ca_file, *ca_path, *client_cert, *client_key;
	bool tls_insecure;

	pthread_mutex_t mu; /* everything below */
	pthread_cond_t cond;
	bool stopping, closed_sent;
	char session_id[HTTP_SESSION_MAX + 1];
	unsigned sess_gen; /* bumped when the session id changes */
	char proto_version[32];
	struct http_job *qhead, *qtail;
	struct http_worker *workers;
	unsigned n_workers, n_idle, max_workers;
	struct http_xfer *active; /* exchanges in progress */
	/* http-stream.c */
	bool get_wanted, get_thread_live, get_thread_done;
	pthread_t get_thread;
	unsigned get_gen;
	bool legacy; /* the old transport is in use */
	bool legacy_thread_live, legacy_done;
	int legacy_err;
	pthread_t legacy_thread;
	char legacy_get_url[HTTP_URL_MAX];
	char legacy_post_url[HTTP_URL_MAX];

	pthread_mutex_t deliver_mu; /* one callback at a time */
};

/* http.c */
void http_deliver(struct http_t *t, const char *msg, size_t len);
void http_report_closed(struct http_t *t, int err, const char *why);
void http_session_expire(struct http_t *t, unsigned gen);
int http_wait_ms(struct http_t *t, uint64_t ms);

/* http-easy.c */
int http_easy_setup(struct http_t *t, const struct mcp_http_opts *o, char *err,
		    size_t err_size);
void http_easy_free(struct http_t *t);
void http_log(struct http_t *t, enum lg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void http_redact_inplace(const struct http_t *t, char *buf, size_t size);
/* The URL without user info, query or fragment, for logs. */
void http_url_for_log(const char *url, char *out, size_t size);
int http_xfer_init(struct http_xfer *x, struct http_t *t, CURL *curl,
		   enum http_xfer_kind kind, struct http_job *job);
/* Runs the exchange. 0 when a status came back (x->status), else a
 * negative errno (-ECONNREFUSED, -ETIMEDOUT, -ECANCELED...). */
int http_xfer_perform(struct http_xfer *x, const char *url, const char *body,
		      size_t len, const char *last_event_id);
void http_xfer_reset(struct http_xfer *x);
bool http_xfer_session_error(const struct http_xfer *x);
/* Appends libcurl's error text for the last failure, if any. */
void http_xfer_why(const struct http_xfer *x, int err, char *out, size_t size);
void http_abort_all_locked(struct http_t *t);
void http_abort_get_locked(struct http_t *t);
void http_delete_session(struct http_t *t);

/* http-stream.c */
void http_get_stream_want(struct http_t *t);
void http_stream_join(struct http_t *t);
int http_legacy_start(struct http_t *t, const char *url);
/* Resumes a POST stream that ended before its response; 0 once the
 * response was delivered. */
int http_resume(struct http_t *t, CURL *curl, struct http_job *j,
		const char *url, const char *last_id, long long retry_ms);
/* Handles an SSE event of any exchange. */
int http_sse_event(void *opaque, const char *type, const char *data, size_t len,
		   const char *last_id);

#endif
