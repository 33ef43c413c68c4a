// SPDX-License-Identifier: Apache-2.0
/*
 * The HTTP transport's exchanges: custom headers and their redaction,
 * libcurl handle setup, response headers, bodies (JSON or SSE), and
 * aborting exchanges when the transport ends.
 */
#include "mcp/http-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define REDACTED "[REDACTED]"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Names whose values are secret whatever the configuration says. */
static const char *const always_secret[] = {
	"authorization", "proxy-authorization", "cookie",
	"set-cookie",	 "mcp-session-id",
};

static bool name_is_secret(const struct http_t *t, const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(always_secret) / sizeof(*always_secret);
	     i++)
		if (strlen(always_secret[i]) == len &&
		    strncasecmp(always_secret[i], name, len) == 0)
			return true;
	for (size_t i = 0; i < t->n_secret_names; i++)
		if (strlen(t->secret_names[i]) == len &&
		    strncasecmp(t->secret_names[i], name, len) == 0)
			return true;
	return false;
}

void http_redact_inplace(const struct http_t *t, char *buf, size_t size)
{
	char tmp[4096];

	if (!buf || size == 0)
		return;
	for (size_t i = 0; i < t->n_secrets; i++) {
		const char *sec = t->secrets[i];
		size_t sl = strlen(sec);
		char *hit;

		if (sl == 0)
			continue;
		while ((hit = strstr(buf, sec))) {
			size_t pre = (size_t)(hit - buf);

			snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)pre, buf,
				 REDACTED, hit + sl);
			snprintf(buf, size, "%s", tmp);
		}
	}
}

void http_log(struct http_t *t, enum lg_log_level level, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (level > lg_log_get_level())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	http_redact_inplace(t, buf, sizeof(buf));
	lg_log(level, "mcp http: %s", buf);
}

void http_url_for_log(const char *url, char *out, size_t size)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;

	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(out, size, "(invalid URL)");
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	snprintf(out, size, "%s://%s%s%s%s", scheme, host, port ? ":" : "",
		 port ? port : "", path ? path : "");
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
}

static bool token_char(int c)
{
	return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c);
}

static int read_value_file(const char *path, char **out)
{
	FILE *f = fopen(path, "re");
	char buf[8192];
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (ferror(f) || !feof(f)) {
		bool io = ferror(f);

		fclose(f);
		return io ? -EIO : -EFBIG;
	}
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

static int add_header(struct http_t *t, const struct mcp_http_header *h,
		      char *err, size_t err_size)
{
	char *value = NULL, *line = NULL;
	int ret = 0;

	if (!h->name || !h->name[0]) {
		snprintf(err, err_size, "a header without a name");
		return -EINVAL;
	}
	for (const char *p = h->name; *p; p++)
		if (!token_char((unsigned char)*p)) {
			snprintf(err, err_size, "bad header name '%.64s'",
				 h->name);
			return -EINVAL;
		}
	if (h->value) {
		value = strdup(h->value);
	} else if (h->value_env) {
		const char *v = getenv(h->value_env);

		if (!v) {
			snprintf(err, err_size,
				 "header %.64s: environment variable %.64s "
				 "is not set",
				 h->name, h->value_env);
			return -ENOENT;
		}
		value = strdup(v);
	} else if (h->value_file) {
		ret = read_value_file(h->value_file, &value);
		if (ret) {
			snprintf(err, err_size, "header %.64s: %.200s: %s",
				 h->name, h->value_file, strerror(-ret));
			return ret;
		}
	} else {
		snprintf(err, err_size, "header %.64s has no value", h->name);
		return -EINVAL;
	}
	if (!value)
		goto nomem;
	for (const char *p = value; *p; p++)
		if (*p == '\r' || *p == '\n') {
			/* Never echo the value: it is a secret. */
			snprintf(err, err_size,
				 "header %.64s: line break in the value",
				 h->name);
			free(value);
			return -EINVAL;
		}
	if (asprintf(&line, "%s: %s", h->name, value) < 0)
		goto nomem;
	t->hdr_lines[t->n_hdr++] = line;
	t->secret_names[t->n_secret_names] = strdup(h->name);
	if (!t->secret_names[t->n_secret_names])
		goto nomem;
	t->n_secret_names++;
	/* A short value (e.g. "1") would redact everything: keep it only
	 * as a named secret. */
	if (strlen(value) >= 4)
		t->secrets[t->n_secrets++] = value;
	else
		free(value);
	return 0;
nomem:
	free(value);
	snprintf(err, err_size, "out of memory");
	return -ENOMEM;
}

static int dup_opt(char **dst, const char *src)
{
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int http_easy_setup(struct http_t *t, const struct mcp_http_opts *o, char *err,
		    size_t err_size)
{
	int ret;

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		snprintf(err, err_size, "libcurl: %s",
			 curl_easy_strerror(curl_init_rc));
		return -EIO;
	}
	for (size_t i = 0; i < o->n_urls; i++) {
		CURLU *u = curl_url();
		char *scheme = NULL;
		bool ok = u &&
			  curl_url_set(u, CURLUPART_URL, o->urls[i], 0) ==
				  CURLUE_OK &&
			  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ==
				  CURLUE_OK &&
			  (strcmp(scheme, "http") == 0 ||
			   strcmp(scheme, "https") == 0) &&
			  strlen(o->urls[i]) < HTTP_URL_MAX;

		curl_free(scheme);
		curl_url_cleanup(u);
		if (!ok) {
			char shown[256];

			http_url_for_log(o->urls[i], shown, sizeof(shown));
			snprintf(err, err_size, "not an http(s) URL: %s",
				 shown);
			return -EINVAL;
		}
	}
	if (o->n_headers > MCP_HTTP_MAX_HEADERS) {
		snprintf(err, err_size, "more than %u headers",
			 MCP_HTTP_MAX_HEADERS);
		return -E2BIG;
	}
	t->hdr_lines = calloc(o->n_headers + 1, sizeof(char *));
	t->secrets = calloc(o->n_headers + 1, sizeof(char *));
	t->secret_names = calloc(o->n_headers + 1, sizeof(char *));
	if (!t->hdr_lines || !t->secrets || !t->secret_names) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < o->n_headers; i++) {
		ret = add_header(t, &o->headers[i], err, err_size);
		if (ret)
			return ret;
	}
	ret = dup_opt(&t->ca_file, o->ca_file);
	ret = ret ? ret : dup_opt(&t->ca_path, o->ca_path);
	ret = ret ? ret : dup_opt(&t->client_cert, o->client_cert);
	ret = ret ? ret : dup_opt(&t->client_key, o->client_key);
	if (ret) {
		snprintf(err, err_size, "out of memory");
		return ret;
	}
	t->tls_insecure = o->tls_insecure;
	if (t->tls_insecure)
		lg_warn("mcp http: TLS verification is off");
	return 0;
}

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void http_easy_free(struct http_t *t)
{
	free_strv(t->hdr_lines, t->n_hdr);
	/* Secrets: wipe before freeing. */
	for (size_t i = 0; t->secrets && i < t->n_secrets; i++)
		explicit_bzero(t->secrets[i], strlen(t->secrets[i]));
	free_strv(t->secrets, t->n_secrets);
	free_strv(t->secret_names, t->n_secret_names);
	free(t->ca_file);
	free(t->ca_path);
	free(t->client_cert);
	free(t->client_key);
	t->hdr_lines = t->secrets = t->secret_names = NULL;
	t->n_hdr = t->n_secrets = t->n_secret_names = 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Logs request and response headers with secret values replaced. */
static int debug_cb(CURL *c, curl_infotype type, char *data, size_t size,
		    void *opaque)
{
	struct http_xfer *x = opaque;
	const char *dir;
	size_t off = 0;

	(void)c;
	if (type == CURLINFO_HEADER_OUT)
		dir = ">";
	else if (type == CURLINFO_HEADER_IN)
		dir = "<";
	else
		return 0;
	while (off < size) {
		const char *line = data + off, *colon;
		size_t n = 0;

		while (off + n < size && line[n] != '\r' && line[n] != '\n')
			n++;
		off += n;
		while (off < size && (data[off] == '\r' || data[off] == '\n'))
			off++;
		if (n == 0)
			continue;
		if (n > 512)
			n = 512;
		colon = memchr(line, ':', n);
		if (colon && name_is_secret(x->t, line, (size_t)(colon - line)))
			http_log(x->t, LG_LOG_DEBUG, "%s %.*s: " REDACTED, dir,
				 (int)(colon - line), line);
		else
			http_log(x->t, LG_LOG_DEBUG, "%s %.*s", dir, (int)n,
				 line);
	}
	return 0;
}

static void copy_value(char *dst, size_t size, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' ||
		     v[n - 1] == '\t'))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static bool visible_ascii(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

/* The initialize response's session id becomes the transport's before
 * any of its body is delivered. */
static void take_session(struct http_xfer *x)
{
	struct http_t *t = x->t;

	if (x->kind != HTTP_XFER_POST || !x->job || !x->job->is_initialize ||
	    x->status < 200 || x->status >= 300)
		return;
	pthread_mutex_lock(&t->mu);
	if (!t->legacy && x->session_id[0]) {
		if (strcmp(t->session_id, x->session_id) != 0) {
			snprintf(t->session_id, sizeof(t->session_id), "%s",
				 x->session_id);
			t->sess_gen++;
		}
	}
	pthread_mutex_unlock(&t->mu);
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *opaque)
{
	struct http_xfer *x = opaque;
	size_t n = size * nitems;
	const char *colon;
	size_t name_len;

	x->last_rx_ms = mono_ms();
	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue, say). */
		x->ctype[0] = x->session_id[0] = '\0';
		x->retry_after_ms = -1;
		x->headers_done = false;
		return n;
	}
	if (n <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
		if (x->status >= 200) {
			x->headers_done = true;
			take_session(x);
		}
		return n;
	}
	colon = memchr(buf, ':', n);
	if (!colon)
		return n;
	name_len = (size_t)(colon - buf);
	if (name_len == 12 && strncasecmp(buf, "content-type", 12) == 0) {
		copy_value(x->ctype, sizeof(x->ctype), colon + 1,
			   n - name_len - 1);
	} else if (name_len == 14 &&
		   strncasecmp(buf, "mcp-session-id", 14) == 0) {
		char v[HTTP_SESSION_MAX + 2];
		size_t vl;

		copy_value(v, sizeof(v), colon + 1, n - name_len - 1);
		vl = strlen(v);
		/* vl <= HTTP_SESSION_MAX: fits session_id with its NUL. */
		if (vl <= HTTP_SESSION_MAX && visible_ascii(v))
			memcpy(x->session_id, v, vl + 1);
		else
			http_log(x->t, LG_LOG_WARN,
				 "ignoring an invalid Mcp-Session-Id");
	} else if (name_len == 11 && strncasecmp(buf, "retry-after", 11) == 0) {
		char v[128];
		int64_t ms;

		copy_value(v, sizeof(v), colon + 1, n - name_len - 1);
		if (mcp_retry_after_parse(v, x->t->clk.wall_s(x->t->clk.opaque),
					  &ms) == 0)
			x->retry_after_ms = ms;
	}
	return n;
}

static void sse_retry(void *opaque, unsigned long long ms)
{
	struct http_xfer *x = opaque;

	/* Bounded: a server cannot park us for days. */
	x->sse_retry_ms = ms > 3600000ull ? 3600000 : (long long)ms;
}

static bool ctype_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	return strncasecmp(ctype, want, n) == 0 &&
	       (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static size_t write_cb(char *buf, size_t size, size_t nmemb, void *opaque)
{
	struct http_xfer *x = opaque;
	size_t n = size * nmemb;
	bool ok;

	x->last_rx_ms = mono_ms();
	if (!x->decided) {
		x->decided = true;
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &x->status);
		ok = x->status >= 200 && x->status < 300;
		x->is_sse = ok && ctype_is(x->ctype, "text/event-stream");
		if (x->is_sse) {
			sse_init(&x->sse, x->t->max_message, x->t->max_message,
				 http_sse_event, sse_retry, x);
			x->sse_inited = true;
		}
	}
	if (x->is_sse) {
		int ret = sse_feed(&x->sse, buf, n);

		if (ret) {
			x->werr = ret;
			return 0;
		}
		return n;
	}
	{
		bool ok2 = x->status >= 200 && x->status < 300;
		size_t cap = ok2 ? x->t->max_message : HTTP_ERROR_BODY_MAX;
		size_t take = n;

		if (x->body_len + take > cap) {
			if (ok2) {
				x->werr = -EMSGSIZE;
				return 0;
			}
			take = cap - x->body_len; /* enough for a message */
		}
		if (x->body_len + take + 1 > x->body_cap) {
			size_t nc = x->body_cap ? x->body_cap : 1024;
			char *nb;

			while (nc < x->body_len + take + 1)
				nc *= 2;
			nb = realloc(x->body, nc);
			if (!nb) {
				x->werr = -ENOMEM;
				return 0;
			}
			x->body = nb;
			x->body_cap = nc;
		}
		memcpy(x->body + x->body_len, buf, take);
		x->body_len += take;
		x->body[x->body_len] = '\0';
	}
	return n;
}

static int xferinfo_cb(void *opaque, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct http_xfer *x = opaque;
	struct http_t *t = x->t;
	curl_socket_t fd;
	bool stop;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	pthread_mutex_lock(&t->mu);
	if (x->fd == CURL_SOCKET_BAD &&
	    curl_easy_getinfo(x->curl, CURLINFO_ACTIVESOCKET, &fd) ==
		    CURLE_OK &&
	    fd != CURL_SOCKET_BAD)
		x->fd = fd;
	stop = t->stopping ||
	       (x->kind == HTTP_XFER_GET && t->get_gen != t->sess_gen);
	pthread_mutex_unlock(&t->mu);
	if (stop)
		return 1;
	if ((x->kind == HTTP_XFER_POST || x->kind == HTTP_XFER_RESUME) &&
	    mono_ms() - x->last_rx_ms > t->request_timeout_ms) {
		x->timed_out = true;
		return 1;
	}
	return 0;
}

int http_xfer_init(struct http_xfer *x, struct http_t *t, CURL *curl,
		   enum http_xfer_kind kind, struct http_job *job)
{
	memset(x, 0, sizeof(*x));
	x->t = t;
	x->curl = curl;
	x->kind = kind;
	x->job = job;
	x->retry_after_ms = -1;
	x->sse_retry_ms = -1;
	x->fd = CURL_SOCKET_BAD;
	return 0;
}

void http_xfer_reset(struct http_xfer *x)
{
	if (x->sse_inited)
		sse_free(&x->sse);
	x->sse_inited = false;
	free(x->body);
	x->body = NULL;
	x->body_len = x->body_cap = 0;
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
}

bool http_xfer_session_error(const struct http_xfer *x)
{
	if (x->status == 404)
		return true;
	/* server-everything: 400 "Bad Request: No valid session ID". */
	return x->status == 400 && x->body && strcasestr(x->body, "session");
}

void http_xfer_why(const struct http_xfer *x, int err, char *out, size_t size)
{
	/* libcurl says what failed (a TLS verification, say); errno alone
	 * would read "Protocol error". */
	if (x->errbuf[0])
		snprintf(out, size, "%s (%.200s)", strerror(-err), x->errbuf);
	else
		snprintf(out, size, "%s", strerror(-err));
	http_redact_inplace(x->t, out, size);
}

static int append_header(struct curl_slist **l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int append_header(struct curl_slist **l, const char *fmt, ...)
{
	char line[HTTP_SESSION_MAX + 1200];
	struct curl_slist *n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = curl_slist_append(*l, line);
	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

static int build_headers(struct http_xfer *x, const char *last_event_id)
{
	struct http_t *t = x->t;
	char sid[HTTP_SESSION_MAX + 1], ver[32];
	bool legacy;
	int ret = 0;

	pthread_mutex_lock(&t->mu);
	snprintf(sid, sizeof(sid), "%s", t->session_id);
	snprintf(ver, sizeof(ver), "%s", t->proto_version);
	legacy = t->legacy;
	x->sent_gen = t->sess_gen; /* read with the id: they match */
	pthread_mutex_unlock(&t->mu);
	/* A new initialize starts a new session: no id, no version. */
	if (x->job && x->job->is_initialize)
		sid[0] = ver[0] = '\0';
	x->sent_session = !legacy && sid[0] && x->kind != HTTP_XFER_LEGACY_GET;
	for (size_t i = 0; i < t->n_hdr && !ret; i++)
		ret = append_header(&x->hdrs, "%s", t->hdr_lines[i]);
	switch (x->kind) {
	case HTTP_XFER_POST:
		if (!ret)
			ret = append_header(&x->hdrs, "Accept: "
						      "application/json, "
						      "text/event-stream");
		if (!ret)
			ret = append_header(&x->hdrs,
					    "Content-Type: application/json");
		break;
	case HTTP_XFER_DELETE:
		break;
	default:
		if (!ret)
			ret = append_header(&x->hdrs,
					    "Accept: text/event-stream");
		break;
	}
	if (!legacy && sid[0] && x->kind != HTTP_XFER_LEGACY_GET && !ret)
		ret = append_header(&x->hdrs, "Mcp-Session-Id: %s", sid);
	if (!legacy && ver[0] && x->kind != HTTP_XFER_LEGACY_GET && !ret)
		ret = append_header(&x->hdrs, "MCP-Protocol-Version: %s", ver);
	if (last_event_id && last_event_id[0] && !ret)
		ret = append_header(&x->hdrs, "Last-Event-ID: %.1024s",
				    last_event_id);
	/* No "Expect: 100-continue" wait on larger bodies. */
	if (!ret)
		ret = append_header(&x->hdrs, "Expect:");
	return ret;
}

static int curl_errno(struct http_xfer *x, CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_ABORTED_BY_CALLBACK:
		if (x->timed_out)
			return -ETIMEDOUT;
		return -ECANCELED;
	case CURLE_WRITE_ERROR:
		return x->werr ? x->werr : -EIO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	default:
		return -EIO;
	}
}

static void active_add(struct http_xfer *x)
{
	pthread_mutex_lock(&x->t->mu);
	x->next_active = x->t->active;
	x->t->active = x;
	x->active = true;
	pthread_mutex_unlock(&x->t->mu);
}

static void active_del(struct http_xfer *x)
{
	struct http_xfer **pp;

	pthread_mutex_lock(&x->t->mu);
	for (pp = &x->t->active; *pp; pp = &(*pp)->next_active)
		if (*pp == x) {
			*pp = x->next_active;
			break;
		}
	x->active = false;
	pthread_mutex_unlock(&x->t->mu);
}

void http_abort_all_locked(struct http_t *t)
{
	for (struct http_xfer *x = t->active; x; x = x->next_active)
		if (x->fd != CURL_SOCKET_BAD)
			shutdown(x->fd, SHUT_RDWR);
}

void http_abort_get_locked(struct http_t *t)
{
	for (struct http_xfer *x = t->active; x; x = x->next_active)
		if (x->kind == HTTP_XFER_GET && x->fd != CURL_SOCKET_BAD)
			shutdown(x->fd, SHUT_RDWR);
}

static int sockopt_cb(void *opaque, curl_socket_t fd, curlsocktype purpose)
{
	struct http_xfer *x = opaque;

	(void)purpose;
	pthread_mutex_lock(&x->t->mu);
	x->fd = fd;
	if (x->t->stopping)
		shutdown(fd, SHUT_RDWR);
	pthread_mutex_unlock(&x->t->mu);
	return CURL_SOCKOPT_OK;
}

int http_xfer_perform(struct http_xfer *x, const char *url, const char *body,
		      size_t len, const char *last_event_id)
{
	struct http_t *t = x->t;
	CURL *c = x->curl;
	curl_off_t up = 0;
	char shown[256];
	CURLcode rc;
	int ret;

	snprintf(x->url, sizeof(x->url), "%s", url);
	ret = build_headers(x, last_event_id);
	if (ret)
		return ret;
	curl_easy_reset(c);
	x->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)t->connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
	curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, x);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, t->tls_insecure ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, t->tls_insecure ? 0L : 2L);
	if (t->ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, t->ca_file);
	if (t->ca_path)
		curl_easy_setopt(c, CURLOPT_CAPATH, t->ca_path);
	if (t->client_cert)
		curl_easy_setopt(c, CURLOPT_SSLCERT, t->client_cert);
	if (t->client_key)
		curl_easy_setopt(c, CURLOPT_SSLKEY, t->client_key);
	if (lg_log_get_level() >= LG_LOG_DEBUG) {
		curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
		curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, debug_cb);
		curl_easy_setopt(c, CURLOPT_DEBUGDATA, x);
	}
	switch (x->kind) {
	case HTTP_XFER_POST:
		/* libcurl sends a request again by itself when a reused
		 * connection closes before any answer, though the server
		 * may have acted on it: not for what is not idempotent. */
		if (x->job && !x->job->idempotent)
			curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)len);
		break;
	case HTTP_XFER_DELETE:
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
				 (long)t->connect_timeout_ms);
		break;
	default:
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		break;
	}
	x->last_rx_ms = mono_ms();
	active_add(x);
	rc = curl_easy_perform(c);
	active_del(x);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL); /* x may go away */
	curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
	if (x->status == 0)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	x->body_sent = x->status > 0 || (len > 0 && up >= (curl_off_t)len);
	http_url_for_log(url, shown, sizeof(shown));
	if (rc != CURLE_OK) {
		ret = curl_errno(x, rc);
		/* A stream that ended after its status: the caller decides. */
		if (x->headers_done && x->status >= 200 && x->status < 300 &&
		    x->is_sse && ret != -ECANCELED && ret != -EMSGSIZE &&
		    ret != -ENOMEM)
			ret = 0;
		if (ret)
			http_log(t, LG_LOG_DEBUG, "%s %s: %s (%s)",
				 x->kind == HTTP_XFER_POST ? "POST" : "GET",
				 shown, curl_easy_strerror(rc), strerror(-ret));
		return ret;
	}
	http_log(t, LG_LOG_DEBUG, "%s %s: %ld",
		 x->kind == HTTP_XFER_POST     ? "POST"
		 : x->kind == HTTP_XFER_DELETE ? "DELETE"
					       : "GET",
		 shown, x->status);
	return 0;
}

void http_delete_session(struct http_t *t)
{
	struct http_xfer x;
	CURL *c = curl_easy_init();
	size_t idx;

	if (!c)
		return;
	/* destroy() set stopping: this exchange must not be aborted. */
	pthread_mutex_lock(&t->mu);
	t->stopping = false;
	pthread_mutex_unlock(&t->mu);
	idx = mcp_endpoints_pick(&t->eps, t->clk.now_ms(t->clk.opaque));
	http_xfer_init(&x, t, c, HTTP_XFER_DELETE, NULL);
	if (http_xfer_perform(&x, t->eps.urls[idx], NULL, 0, NULL) == 0)
		http_log(t, LG_LOG_DEBUG, "session deleted (HTTP %ld)",
			 x.status);
	http_xfer_reset(&x);
	curl_easy_cleanup(c);
	pthread_mutex_lock(&t->mu);
	t->stopping = true;
	pthread_mutex_unlock(&t->mu);
}
