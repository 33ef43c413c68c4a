// SPDX-License-Identifier: Apache-2.0
#include "fault-server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef FAULT_HAVE_GNUTLS
#include <gnutls/gnutls.h>
#endif

#define MAX_STEPS 64
#define MAX_LOG 512
#define MAX_PUSH 64
#define MAX_BODY (1u << 20)

struct step_q {
	struct fault_step s[MAX_STEPS];
	size_t head, n;
};

struct fault_server {
	struct MHD_Daemon *d;
	unsigned short port;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stopping;
	struct step_q post, get;
	char session[128];
	unsigned session_gen;
	bool session_on, session_expired;
	bool default_sse, legacy;
	struct fault_req log[MAX_LOG];
	size_t n_log;
	unsigned inflight, max_inflight;
	unsigned long count;
	char *push[MAX_PUSH]; /* messages for GET streams */
	size_t n_push;
	char *legacy_out[MAX_PUSH]; /* old transport: messages to stream */
	size_t n_legacy_out;
	bool tls, client_ca;
	char *tls_cert, *tls_key, *tls_ca;
};

struct conn {
	char *body;
	size_t len;
	bool counted;
};

/* A streamed (SSE) answer. */
struct stream {
	struct fault_server *s;
	char *buf;
	size_t len, pos;
	bool cut, hold, legacy;
	size_t push_next, legacy_next;
	unsigned push_seq;
};

uint64_t fault_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static char *dupn(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void push_step(struct fault_server *s, struct step_q *q,
		      const struct fault_step *st)
{
	struct fault_step c = *st;

	c.body = dupn(st->body);
	c.retry_after = dupn(st->retry_after);
	c.events = dupn(st->events);
	c.id_prefix = dupn(st->id_prefix);
	pthread_mutex_lock(&s->mu);
	if (q->n < MAX_STEPS)
		q->s[(q->head + q->n++) % MAX_STEPS] = c;
	pthread_mutex_unlock(&s->mu);
}

void fault_push_post(struct fault_server *s, const struct fault_step *st)
{
	push_step(s, &s->post, st);
}

void fault_push_get(struct fault_server *s, const struct fault_step *st)
{
	push_step(s, &s->get, st);
}

static bool pop_step(struct fault_server *s, struct step_q *q,
		     struct fault_step *out)
{
	bool any;

	pthread_mutex_lock(&s->mu);
	any = q->n > 0;
	if (any) {
		*out = q->s[q->head];
		q->head = (q->head + 1) % MAX_STEPS;
		q->n--;
	}
	pthread_mutex_unlock(&s->mu);
	return any;
}

static void step_free(struct fault_step *st)
{
	free((char *)st->body);
	free((char *)st->retry_after);
	free((char *)st->events);
	free((char *)st->id_prefix);
}

void fault_set_session(struct fault_server *s, const char *id)
{
	pthread_mutex_lock(&s->mu);
	snprintf(s->session, sizeof(s->session), "%s", id);
	s->session_on = true;
	s->session_expired = false;
	pthread_mutex_unlock(&s->mu);
}

void fault_expire_session(struct fault_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->session_expired = true;
	pthread_mutex_unlock(&s->mu);
}

void fault_set_default_sse(struct fault_server *s, bool on)
{
	s->default_sse = on;
}

void fault_set_legacy(struct fault_server *s, bool on)
{
	s->legacy = on;
}

void fault_send_on_get(struct fault_server *s, const char *json)
{
	pthread_mutex_lock(&s->mu);
	if (s->n_push < MAX_PUSH)
		s->push[s->n_push++] = strdup(json);
	pthread_mutex_unlock(&s->mu);
}

size_t fault_requests(struct fault_server *s, struct fault_req *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->n_log < max ? s->n_log : max;
	memcpy(out, s->log, n * sizeof(*out));
	pthread_mutex_unlock(&s->mu);
	return n;
}

size_t fault_request_count(struct fault_server *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->n_log;
	pthread_mutex_unlock(&s->mu);
	return n;
}

unsigned fault_max_concurrent(struct fault_server *s)
{
	unsigned n;

	pthread_mutex_lock(&s->mu);
	n = s->max_inflight;
	pthread_mutex_unlock(&s->mu);
	return n;
}

unsigned short fault_server_port(const struct fault_server *s)
{
	return s->port;
}

void fault_server_url(const struct fault_server *s, char *buf, size_t size)
{
	snprintf(buf, size, "%s://127.0.0.1:%u/mcp", s->tls ? "https" : "http",
		 s->port);
}

unsigned short fault_dead_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned short port = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd); /* bound, never listened: refused */
	return port;
}

static void hdr(struct MHD_Connection *c, const char *name, char *dst,
		size_t size)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);

	snprintf(dst, size, "%s", v ? v : "");
}

/* Waits ms unless the server stops; false when it stops. */
static bool wait_ms(struct fault_server *s, unsigned ms)
{
	struct timespec ts;
	bool stop;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&s->mu);
	while (!s->stopping &&
	       pthread_cond_timedwait(&s->cond, &s->mu, &ts) != ETIMEDOUT)
		;
	stop = s->stopping;
	pthread_mutex_unlock(&s->mu);
	return !stop;
}

static enum MHD_Result queue(struct MHD_Connection *c, int status,
			     const char *ctype, const char *body,
			     const char *session, const char *retry_after)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		body ? strlen(body) : 0, (void *)(body ? body : ""),
		MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	if (session)
		MHD_add_response_header(r, "Mcp-Session-Id", session);
	if (retry_after)
		MHD_add_response_header(r, "Retry-After", retry_after);
	ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	struct fault_server *s = st->s;

	(void)pos;
	for (;;) {
		if (st->pos < st->len) {
			size_t n = st->len - st->pos;

			if (n > max)
				n = max;
			memcpy(buf, st->buf + st->pos, n);
			st->pos += n;
			return (ssize_t)n;
		}
		if (st->cut)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (!st->hold)
			return MHD_CONTENT_READER_END_OF_STREAM;
		pthread_mutex_lock(&s->mu);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (!st->legacy && st->push_next < s->n_push) {
			char *m = s->push[st->push_next++];

			free(st->buf);
			st->len = (size_t)asprintf(&st->buf,
						   "id: push-%u\ndata: %s\n\n",
						   ++st->push_seq, m);
			st->pos = 0;
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		if (st->legacy && st->legacy_next < s->n_legacy_out) {
			char *m = s->legacy_out[st->legacy_next++];

			free(st->buf);
			st->len = (size_t)asprintf(
				&st->buf, "event: message\ndata: %s\n\n", m);
			st->pos = 0;
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		pthread_mutex_unlock(&s->mu);
		usleep(10000);
	}
}

static void stream_free(void *cls)
{
	struct stream *st = cls;

	free(st->buf);
	free(st);
}

static enum MHD_Result queue_stream(struct fault_server *s,
				    struct MHD_Connection *c, char *text,
				    bool cut, bool hold, bool legacy)
{
	struct stream *st = calloc(1, sizeof(*st));
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (!st) {
		free(text);
		return MHD_NO;
	}
	st->s = s;
	st->buf = text;
	st->len = strlen(text);
	st->cut = cut;
	st->hold = hold;
	st->legacy = legacy;
	pthread_mutex_lock(&s->mu);
	st->push_next = s->n_push; /* only what comes after it opened */
	pthread_mutex_unlock(&s->mu);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
					      stream_read, st, stream_free);
	if (!r) {
		stream_free(st);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* Appends SSE events for each '\n'-separated message in events. */
static void append_events(char **out, const char *events, const char *prefix,
			  unsigned *seq)
{
	const char *p = events;

	while (p && *p) {
		const char *e = strchr(p, '\n');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *nb;

		if (n) {
			if (asprintf(&nb, "%sid: %s-%u\ndata: %.*s\n\n", *out,
				     prefix, ++*seq, (int)n, p) >= 0) {
				free(*out);
				*out = nb;
			}
		}
		p = e ? e + 1 : NULL;
	}
}

static char *default_result(struct fault_server *s, json_t *req,
			    const char *method, unsigned long n)
{
	json_t *id = json_object_get(req, "id"), *res, *msg;
	char *out;

	(void)s;
	if (strcmp(method, "initialize") == 0)
		res = json_pack("{s:s, s:{s:{}}, s:{s:s, s:s}}",
				"protocolVersion", "2025-11-25", "capabilities",
				"tools", "serverInfo", "name", "fault-server",
				"version", "1");
	else
		res = json_pack("{s:s, s:i}", "method", method, "n", (int)n);
	msg = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result",
			res);
	out = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	return out;
}

/* "verified", "none" or "invalid"; "" without a client CA. */
static const char *client_cert_state(struct fault_server *s,
				     struct MHD_Connection *c)
{
	if (!s->client_ca)
		return "";
#ifdef FAULT_HAVE_GNUTLS
	{
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
			c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		unsigned status = 0;
		int ret;

		if (!ci || !ci->tls_session)
			return "none";
		ret = gnutls_certificate_verify_peers2(ci->tls_session,
						       &status);
		if (ret == GNUTLS_E_NO_CERTIFICATE_FOUND)
			return "none";
		return ret == 0 && status == 0 ? "verified" : "invalid";
	}
#else
	(void)c;
	return "none";
#endif
}

static void log_req(struct fault_server *s, struct MHD_Connection *c,
		    const char *url, const char *method, const char *rpc)
{
	struct fault_req *r;

	pthread_mutex_lock(&s->mu);
	if (s->n_log < MAX_LOG) {
		r = &s->log[s->n_log++];
		memset(r, 0, sizeof(*r));
		snprintf(r->method, sizeof(r->method), "%s", method);
		snprintf(r->path, sizeof(r->path), "%s", url);
		hdr(c, "Mcp-Session-Id", r->session, sizeof(r->session));
		hdr(c, "MCP-Protocol-Version", r->proto, sizeof(r->proto));
		hdr(c, "Last-Event-ID", r->last_event_id,
		    sizeof(r->last_event_id));
		hdr(c, "Accept", r->accept, sizeof(r->accept));
		hdr(c, "Content-Type", r->ctype, sizeof(r->ctype));
		hdr(c, "Authorization", r->auth, sizeof(r->auth));
		hdr(c, "X-Test-Token", r->custom, sizeof(r->custom));
		snprintf(r->rpc_method, sizeof(r->rpc_method), "%s",
			 rpc ? rpc : "");
		snprintf(r->client_cert, sizeof(r->client_cert), "%s",
			 client_cert_state(s, c));
		r->t_ms = fault_now_ms();
	}
	pthread_mutex_unlock(&s->mu);
}

static const char no_session[] =
	"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32000,\"message\":"
	"\"Bad Request: No valid session ID provided\"},\"id\":null}";

/* 0: the session is fine; else the status to answer. */
static int check_session(struct fault_server *s, struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "Mcp-Session-Id");
	int st = 0;

	pthread_mutex_lock(&s->mu);
	if (s->session_on) {
		if (!v)
			st = 400;
		else if (strcmp(v, s->session) != 0 || s->session_expired)
			st = 404;
	}
	pthread_mutex_unlock(&s->mu);
	return st;
}

static enum MHD_Result handle_get(struct fault_server *s,
				  struct MHD_Connection *c, const char *url)
{
	struct fault_step st;
	char *text;
	unsigned seq = 0;
	int bad;
	enum MHD_Result ret;

	log_req(s, c, url, "GET", NULL);
	if (s->legacy) {
		pthread_mutex_lock(&s->mu);
		for (size_t i = 0; i < s->n_legacy_out; i++)
			free(s->legacy_out[i]);
		s->n_legacy_out = 0;
		pthread_mutex_unlock(&s->mu);
		text = strdup(
			"event: endpoint\ndata: /message?sessionId=L1\n\n");
		return queue_stream(s, c, text, false, true, true);
	}
	bad = check_session(s, c);
	if (bad)
		return queue(c, bad, "application/json", no_session, NULL,
			     NULL);
	if (!pop_step(s, &s->get, &st))
		return queue(c, 405, NULL, "", NULL, NULL);
	if (st.action == FAULT_STATUS) {
		ret = queue(c, st.status, "text/plain", st.body, NULL,
			    st.retry_after);
		step_free(&st);
		return ret;
	}
	if (st.action == FAULT_DROP) {
		step_free(&st);
		return MHD_NO;
	}
	text = strdup("");
	if (st.retry_ms >= 0) {
		free(text);
		if (asprintf(&text, "retry: %d\n\n", st.retry_ms) < 0)
			text = NULL;
	}
	if (text)
		append_events(&text, st.events,
			      st.id_prefix ? st.id_prefix : "g", &seq);
	ret = text ? queue_stream(s, c, text, false, st.hold, false) : MHD_NO;
	step_free(&st);
	return ret;
}

static enum MHD_Result handle_post(struct fault_server *s,
				   struct MHD_Connection *c, const char *url,
				   struct conn *cn)
{
	json_t *req = json_loadb(cn->body ? cn->body : "", cn->len, 0, NULL);
	const char *method = json_string_value(json_object_get(req, "method"));
	bool is_req = req && json_object_get(req, "id") && method;
	bool init = is_req && strcmp(method, "initialize") == 0;
	struct fault_step st = {.action = FAULT_DEFAULT, .retry_ms = -1};
	char sess[128] = "", *out = NULL;
	enum MHD_Result ret;
	unsigned long n;
	unsigned seq = 0;
	int bad;

	log_req(s, c, url, "POST", method);
	pthread_mutex_lock(&s->mu);
	n = ++s->count;
	pthread_mutex_unlock(&s->mu);
	if (s->legacy) {
		if (strncmp(url, "/message", 8) != 0) {
			ret = queue(c, 405, NULL, "", NULL, NULL);
			goto out;
		}
		if (is_req) {
			out = default_result(s, req, method, n);
			pthread_mutex_lock(&s->mu);
			if (s->n_legacy_out < MAX_PUSH)
				s->legacy_out[s->n_legacy_out++] = out;
			else
				free(out);
			out = NULL;
			pthread_mutex_unlock(&s->mu);
		}
		ret = queue(c, 202, NULL, "Accepted", NULL, NULL);
		goto out;
	}
	pop_step(s, &s->post, &st);
	if (st.action == FAULT_DROP) {
		ret = MHD_NO;
		goto out;
	}
	if (st.action == FAULT_STATUS) {
		ret = queue(c, st.status,
			    st.body && st.body[0] == '{' ? "application/json"
							 : "text/plain",
			    st.body, NULL, st.retry_after);
		goto out;
	}
	if (st.action == FAULT_DELAY && !wait_ms(s, st.delay_ms)) {
		ret = MHD_NO;
		goto out;
	}
	if (init) {
		pthread_mutex_lock(&s->mu);
		if (s->session_on) {
			if (s->session_expired) {
				char nid[128];

				snprintf(nid, sizeof(nid), "%.100s-%u",
					 s->session, ++s->session_gen);
				snprintf(s->session, sizeof(s->session), "%s",
					 nid);
				s->session_expired = false;
			}
			snprintf(sess, sizeof(sess), "%s", s->session);
		}
		pthread_mutex_unlock(&s->mu);
	} else {
		bad = check_session(s, c);
		if (bad) {
			ret = queue(c, bad, "application/json", no_session,
				    NULL, NULL);
			goto out;
		}
	}
	if (!is_req) {
		ret = queue(c, 202, NULL, "", NULL, NULL);
		goto out;
	}
	out = default_result(s, req, method, n);
	if (st.action == FAULT_SSE || st.action == FAULT_SSE_CUT ||
	    (st.action == FAULT_DEFAULT && s->default_sse)) {
		const char *pre = st.id_prefix ? st.id_prefix : "p";
		char *text = NULL;

		/* The priming event: an id, empty data, maybe retry. */
		if ((st.retry_ms >= 0
			     ? asprintf(&text,
					"id: %s-0\nretry: %d\ndata: \n\n", pre,
					st.retry_ms)
			     : asprintf(&text, "id: %s-0\ndata: \n\n", pre)) <
		    0) {
			ret = MHD_NO;
			goto out;
		}
		append_events(&text, st.events, pre, &seq);
		if (st.action == FAULT_SSE_CUT) {
			/* Kept for a resume: GET with Last-Event-ID. */
			struct fault_step g = {.action = FAULT_GET_SSE,
					       .events = out,
					       .id_prefix = pre,
					       .retry_ms = -1};

			push_step(s, &s->get, &g);
			ret = queue_stream(s, c, text, true, false, false);
			goto out;
		}
		append_events(&text, out, pre, &seq);
		ret = queue_stream(s, c, text, false, false, false);
		goto out;
	}
	ret = queue(c, 200, "application/json", out, sess[0] ? sess : NULL,
		    NULL);
out:
	free(out);
	json_decref(req);
	step_free(&st);
	return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **con_cls)
{
	struct fault_server *s = cls;
	struct conn *cn = *con_cls;

	(void)version;
	if (!cn) {
		cn = calloc(1, sizeof(*cn));
		if (!cn)
			return MHD_NO;
		*con_cls = cn;
		return MHD_YES;
	}
	if (*upload_size) {
		if (cn->len + *upload_size > MAX_BODY)
			return MHD_NO;
		char *nb = realloc(cn->body, cn->len + *upload_size + 1);

		if (!nb)
			return MHD_NO;
		cn->body = nb;
		memcpy(cn->body + cn->len, upload, *upload_size);
		cn->len += *upload_size;
		cn->body[cn->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->mu);
	if (!cn->counted) {
		cn->counted = true;
		if (++s->inflight > s->max_inflight)
			s->max_inflight = s->inflight;
	}
	pthread_mutex_unlock(&s->mu);
	if (s->client_ca && strcmp(client_cert_state(s, c), "verified") != 0) {
		json_t *req =
			json_loadb(cn->body ? cn->body : "", cn->len, 0, NULL);

		log_req(s, c, url, method,
			json_string_value(json_object_get(req, "method")));
		json_decref(req);
		return queue(c, 403, "text/plain",
			     "a valid client certificate is required", NULL,
			     NULL);
	}
	if (strcmp(method, "GET") == 0)
		return handle_get(s, c, url);
	if (strcmp(method, "DELETE") == 0) {
		log_req(s, c, url, "DELETE", NULL);
		return queue(c, s->session_on ? 200 : 405, NULL, "", NULL,
			     NULL);
	}
	if (strcmp(method, "POST") == 0)
		return handle_post(s, c, url, cn);
	return queue(c, 405, NULL, "", NULL, NULL);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct fault_server *s = cls;
	struct conn *cn = *con_cls;

	(void)c;
	(void)toe;
	if (!cn)
		return;
	pthread_mutex_lock(&s->mu);
	if (cn->counted)
		s->inflight--;
	pthread_mutex_unlock(&s->mu);
	free(cn->body);
	free(cn);
	*con_cls = NULL;
}

bool fault_tls_supported(bool client_certs)
{
#ifndef FAULT_HAVE_GNUTLS
	if (client_certs)
		return false;
#endif
	(void)client_certs;
	return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

static void tls_free(struct fault_server *s)
{
	free(s->tls_cert);
	free(s->tls_key);
	free(s->tls_ca);
}

struct fault_server *fault_server_start_tls(unsigned short port,
					    const struct fault_tls *tls)
{
	struct fault_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in a = {.sin_family = AF_INET};
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

	if (!s)
		return NULL;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cond, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if (tls) {
		s->tls = true;
		s->client_ca = tls->client_ca_pem != NULL;
		s->tls_cert = strdup(tls->cert_pem);
		s->tls_key = strdup(tls->key_pem);
		s->tls_ca =
			tls->client_ca_pem ? strdup(tls->client_ca_pem) : NULL;
		if (!s->tls_cert || !s->tls_key || (s->client_ca && !s->tls_ca))
			goto fail;
		flags |= MHD_USE_TLS;
	}
	/* MHD takes options until MHD_OPTION_END: with no TLS the first
	 * TLS option is replaced by the end. */
	s->d = MHD_start_daemon(
		flags, port, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, &a,
		MHD_OPTION_NOTIFY_COMPLETED, completed, s,
		MHD_OPTION_CONNECTION_TIMEOUT, 30u,
		tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->tls_cert,
		MHD_OPTION_HTTPS_MEM_KEY, s->tls_key,
		s->tls_ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END,
		s->tls_ca, MHD_OPTION_END);
	if (!s->d)
		goto fail;
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : port;
	return s;
fail:
	tls_free(s);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s);
	return NULL;
}

struct fault_server *fault_server_start(unsigned short port)
{
	return fault_server_start_tls(port, NULL);
}

void fault_server_stop(struct fault_server *s)
{
	struct fault_step st;

	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
	MHD_stop_daemon(s->d);
	while (pop_step(s, &s->post, &st))
		step_free(&st);
	while (pop_step(s, &s->get, &st))
		step_free(&st);
	for (size_t i = 0; i < s->n_push; i++)
		free(s->push[i]);
	for (size_t i = 0; i < s->n_legacy_out; i++)
		free(s->legacy_out[i]);
	tls_free(s);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s);
}
