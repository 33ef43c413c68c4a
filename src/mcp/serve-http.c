/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streamable HTTP, server side (ANCHORS.md C.4), on libmicrohttpd with a
 * thread per connection: one endpoint, /mcp. POST carries one message:
 * a request is answered with its response as JSON, or as an SSE stream
 * (progress notifications, then the response) when it asked for progress
 * and the client accepts text/event-stream; notifications and responses
 * get 202; a JSON answer becomes an SSE stream when the session sends
 * anything else for the request first (a request to the client, say).
 * initialize creates a session and its Mcp-Session-Id; unknown sessions
 * get 404, DELETE ends one. GET opens the session's stream for messages
 * that belong to no request: one per session (a new GET replaces the
 * old), events numbered "g-N", the last ones kept for Last-Event-ID
 * resumption, keep-alive comments, a client too slow to keep up dropped.
 * Origin (and, on loopback, Host) are checked against DNS rebinding; a
 * bearer token is required off loopback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "mcp/jsonrpc.h"
#include "mcp/serve.h"

#define ENDPOINT "/mcp"
#define SID_BYTES 24 /* 48 hex characters */

struct exchange;

/* One event of the GET stream, formatted. */
struct gevent {
	uint64_t seq;
	char *text;
	size_t len;
};

/* A session's GET stream: the kept events and who reads them. */
struct gstream {
	struct gevent ring[MCP_SERVE_GET_EVENTS];
	size_t head, count, bytes; /* oldest at ring[head] */
	uint64_t next_seq;	   /* of the next event (from 1) */
	uint64_t delivered;	   /* highest seq handed to a reader */
	unsigned gen;		   /* the current reader's; 0: none yet */
	bool connected;
};

struct hsession {
	struct hsession *next;
	struct mcp_http_server *hs;
	char id[SID_BYTES * 2 + 1];
	struct mcp_session *s;
	struct exchange *exchanges; /* POSTs waiting for a response */
	unsigned refs;		    /* under hs->lock */
	bool ended;
	struct gstream get; /* under hs->lock */
};

/* One POSTed request waiting for what the session sends for it. */
struct exchange {
	struct exchange *next;
	struct hsession *hsess;
	json_t *id;
	json_t *queue; /* messages not yet written (array) */
	bool done;     /* the response is in the queue, or never comes */
	bool sse;
	bool can_sse;  /* the client accepts text/event-stream */
	bool upgrade;  /* something besides the response is queued */
	unsigned refs; /* the POST handler and the SSE reader */
	char *out;     /* SSE: formatted text being written */
	size_t out_len, out_off;
};

struct mcp_http_server {
	struct MHD_Daemon *d;
	struct mcp_serve_factory f;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* exchanges changed */
	struct hsession *sessions;
	unsigned n_sessions;
	bool loopback;
	char **origins;
	unsigned char token_hash[SHA256_DIGEST_LENGTH];
	bool has_token;
	unsigned port;
	unsigned keepalive_ms;
};

/* Per-connection state while a POST body arrives. */
struct upload {
	char *buf;
	size_t len;
	bool too_big;
};

bool mcp_addr_is_loopback(const char *host)
{
	return strcmp(host, "127.0.0.1") == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "localhost") == 0;
}

static void exchange_put_locked(struct exchange *x)
{
	if (--x->refs)
		return;
	json_decref(x->id);
	json_decref(x->queue);
	free(x->out);
	free(x);
}

/*
 * Drops a reference; the last one frees the session (cancelling and
 * waiting for its requests), outside the lock its workers need.
 */
static void hsession_put(struct hsession *h)
{
	struct mcp_http_server *hs = h->hs;
	bool last;

	pthread_mutex_lock(&hs->lock);
	last = --h->refs == 0;
	pthread_mutex_unlock(&hs->lock);
	if (!last)
		return;
	mcp_session_free(h->s);
	for (size_t i = 0; i < h->get.count; i++)
		free(h->get.ring[(h->get.head + i) % MCP_SERVE_GET_EVENTS]
			     .text);
	free(h);
}

static char *sse_event(json_t *msg, const char *id, size_t *len);

/* With hs->lock held: the oldest kept event goes. */
static void gstream_drop_oldest(struct gstream *g)
{
	struct gevent *e = &g->ring[g->head];

	g->bytes -= e->len;
	free(e->text);
	e->text = NULL;
	g->head = (g->head + 1) % MCP_SERVE_GET_EVENTS;
	g->count--;
}

/*
 * With hs->lock held: msg becomes the next event of h's GET stream,
 * kept (bounded) whether or not a client reads it now.
 */
static int gstream_push(struct hsession *h, json_t *msg)
{
	struct gstream *g = &h->get;
	char id[32];
	struct gevent *e;
	size_t len;
	char *text;

	snprintf(id, sizeof(id), "g-%llu", (unsigned long long)g->next_seq);
	text = sse_event(msg, id, &len);
	if (!text)
		return -ENOMEM;
	while (g->count == MCP_SERVE_GET_EVENTS ||
	       (g->count && g->bytes + len > MCP_SERVE_GET_BYTES))
		gstream_drop_oldest(g);
	e = &g->ring[(g->head + g->count) % MCP_SERVE_GET_EVENTS];
	e->seq = g->next_seq++;
	e->text = text;
	e->len = len;
	g->count++;
	g->bytes += len;
	return 0;
}

/* The session's send: route to the POST exchange the message belongs to. */
static int http_send(void *opaque, json_t *msg, const json_t *related)
{
	struct hsession *h = opaque;
	struct mcp_http_server *hs = h->hs;
	bool is_reply = json_object_get(msg, "method") == NULL;
	int rc = -ENOENT;

	pthread_mutex_lock(&hs->lock);
	for (struct exchange *x = h->exchanges; related && x; x = x->next) {
		if (x->done || !json_equal(x->id, related))
			continue;
		/* Without a stream (and no way to open one), only the
		 * response itself can go there. */
		if (!is_reply && !x->sse && !x->can_sse)
			break;
		json_array_append(x->queue, msg);
		if (is_reply)
			x->done = true;
		else if (!x->sse)
			x->upgrade = true;
		rc = 0;
		break;
	}
	/* Anything else but a response goes to the session's GET stream. */
	if (rc && !is_reply && !h->ended)
		rc = gstream_push(h, msg);
	pthread_cond_broadcast(&hs->cond);
	pthread_mutex_unlock(&hs->lock);
	if (rc)
		lg_debug("mcp http: no stream for a %s; dropped",
			 is_reply ? "response" : "message");
	return rc;
}

static void sid_new(char *out)
{
	unsigned char r[SID_BYTES];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n > 0)
			got += (size_t)n;
		else if (errno != EINTR)
			abort(); /* no entropy: never issue guessable ids */
	}
	for (size_t i = 0; i < sizeof(r); i++)
		sprintf(out + 2 * i, "%02x", r[i]);
}

/* A new session with one reference for the caller. */
static struct hsession *hsession_new(struct mcp_http_server *hs)
{
	struct hsession *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->hs = hs;
	h->get.next_seq = 1;
	sid_new(h->id);
	h->s = mcp_session_new(hs->f.info, hs->f.h, hs->f.opaque, http_send, h);
	if (!h->s) {
		free(h);
		return NULL;
	}
	pthread_mutex_lock(&hs->lock);
	if (hs->n_sessions >= MCP_SERVE_MAX_SESSIONS) {
		pthread_mutex_unlock(&hs->lock);
		mcp_session_free(h->s);
		free(h);
		return NULL;
	}
	h->refs = 2; /* the table and the caller */
	h->next = hs->sessions;
	hs->sessions = h;
	hs->n_sessions++;
	pthread_mutex_unlock(&hs->lock);
	if (hs->f.attached)
		hs->f.attached(hs->f.opaque, h->s);
	return h;
}

static struct hsession *hsession_get(struct mcp_http_server *hs, const char *id)
{
	struct hsession *h;

	pthread_mutex_lock(&hs->lock);
	for (h = hs->sessions; h; h = h->next)
		if (!h->ended && strcmp(h->id, id) == 0)
			break;
	if (h)
		h->refs++;
	pthread_mutex_unlock(&hs->lock);
	return h;
}

/* Ends a session: its waiting POSTs are released, its requests cancelled. */
static void hsession_end(struct hsession *h)
{
	struct mcp_http_server *hs = h->hs;
	struct hsession **pp;

	pthread_mutex_lock(&hs->lock);
	if (h->ended) {
		pthread_mutex_unlock(&hs->lock);
		return;
	}
	h->ended = true;
	for (pp = &hs->sessions; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			hs->n_sessions--;
			break;
		}
	}
	for (struct exchange *x = h->exchanges; x; x = x->next)
		x->done = true;
	pthread_cond_broadcast(&hs->cond);
	pthread_mutex_unlock(&hs->lock);
	if (hs->f.detached)
		hs->f.detached(hs->f.opaque, h->s);
	hsession_put(h); /* the table's reference */
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status,
			       const char *ctype, const char *body,
			       const char *sid)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		body ? strlen(body) : 0, (void *)(body ? body : ""),
		MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(r, "Content-Type", ctype);
	if (sid)
		MHD_add_response_header(r, "Mcp-Session-Id", sid);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, POST, DELETE");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* An HTTP error with an id-less JSON-RPC error body. */
static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status,
				     int64_t code, const char *message)
{
	json_t *e = jsonrpc_error(json_null(), code, message, NULL);
	char *body = e ? json_dumps(e, JSON_COMPACT) : NULL;
	enum MHD_Result ret =
		respond(c, status, "application/json", body, NULL);

	free(body);
	json_decref(e);
	return ret;
}

/* Host part of "scheme://host[:port]", lower-cased, into buf. */
static bool origin_host(const char *origin, char *buf, size_t len)
{
	const char *p = strstr(origin, "://"), *end;
	size_t n;

	if (!p)
		return false;
	p += 3;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return false;
		p++;
	} else {
		end = p + strcspn(p, ":/");
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= len)
		return false;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
	buf[n] = '\0';
	return true;
}

static bool origin_allowed(const struct mcp_http_server *hs, const char *o)
{
	char host[256];

	for (size_t i = 0; hs->origins && hs->origins[i]; i++)
		if (strcasecmp(hs->origins[i], o) == 0)
			return true;
	/* Loopback origins only while we listen on loopback ourselves. */
	if (!hs->loopback || !origin_host(o, host, sizeof(host)))
		return false;
	return (strncmp(o, "http://", 7) == 0 ||
		strncmp(o, "https://", 8) == 0) &&
	       mcp_addr_is_loopback(host);
}

/* Host header: on loopback, a rebinding attacker's name must not work. */
static bool host_allowed(const struct mcp_http_server *hs, const char *host)
{
	char buf[300], name[256];

	if (!hs->loopback)
		return true;
	if (!host)
		return false;
	snprintf(buf, sizeof(buf), "http://%s", host);
	return origin_host(buf, name, sizeof(name)) &&
	       mcp_addr_is_loopback(name);
}

static bool token_ok(const struct mcp_http_server *hs, const char *auth)
{
	unsigned char h[SHA256_DIGEST_LENGTH];

	if (!hs->has_token)
		return true;
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	/* Hashes compared in constant time: neither bytes nor length leak. */
	SHA256((const unsigned char *)auth + 7, strlen(auth + 7), h);
	return CRYPTO_memcmp(h, hs->token_hash, sizeof(h)) == 0;
}

/* Checks every request must pass; MHD_YES with *handled when answered. */
static enum MHD_Result gatekeep(struct mcp_http_server *hs,
				struct MHD_Connection *c, const char *url,
				bool *handled)
{
	const char *origin =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
	const char *host =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       "Authorization");

	*handled = true;
	if (origin && !origin_allowed(hs, origin)) {
		lg_warn("mcp http: refused Origin %.200s", origin);
		return respond_error(c, MHD_HTTP_FORBIDDEN,
				     JSONRPC_INVALID_REQUEST,
				     "Origin not allowed");
	}
	if (!host_allowed(hs, host)) {
		lg_warn("mcp http: refused Host %.200s", host ? host : "");
		return respond_error(c, MHD_HTTP_FORBIDDEN,
				     JSONRPC_INVALID_REQUEST,
				     "Host not allowed");
	}
	if (!token_ok(hs, auth)) {
		lg_warn("mcp http: request without a valid bearer token");
		return respond_error(c, MHD_HTTP_UNAUTHORIZED,
				     JSONRPC_INVALID_REQUEST,
				     "missing or invalid bearer token");
	}
	if (strcmp(url, ENDPOINT) != 0)
		return respond_error(c, MHD_HTTP_NOT_FOUND,
				     JSONRPC_INVALID_REQUEST,
				     "no such endpoint; use " ENDPOINT);
	*handled = false;
	return MHD_YES;
}

static bool version_header_ok(struct MHD_Connection *c)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "MCP-Protocol-Version");

	if (!v)
		return true; /* the client speaks 2025-03-26 (C.4) */
	for (size_t i = 0; mcp_server_versions[i]; i++)
		if (strcmp(v, mcp_server_versions[i]) == 0)
			return true;
	return false;
}

static bool accepts(struct MHD_Connection *c, const char *type)
{
	const char *a =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");

	return a && strstr(a, type);
}

static struct exchange *exchange_add(struct hsession *h, json_t *id, bool sse,
				     bool can_sse)
{
	struct exchange *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->queue = json_array();
	if (!x->queue) {
		free(x);
		return NULL;
	}
	x->hsess = h;
	x->id = json_incref(id);
	x->sse = sse;
	x->can_sse = can_sse;
	x->refs = 1;
	pthread_mutex_lock(&h->hs->lock);
	if (h->ended) {
		pthread_mutex_unlock(&h->hs->lock);
		json_decref(x->id);
		json_decref(x->queue);
		free(x);
		return NULL;
	}
	x->next = h->exchanges;
	h->exchanges = x;
	pthread_mutex_unlock(&h->hs->lock);
	return x;
}

static void exchange_unlink_locked(struct exchange *x)
{
	for (struct exchange **pp = &x->hsess->exchanges; *pp;
	     pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			return;
		}
	}
}

/* The POST of the request a notifications/cancelled names ends now. */
static void exchanges_cancel(struct hsession *h, json_t *msg)
{
	json_t *id =
		json_object_get(json_object_get(msg, "params"), "requestId");
	struct mcp_http_server *hs = h->hs;

	if (!id)
		return;
	pthread_mutex_lock(&hs->lock);
	for (struct exchange *x = h->exchanges; x; x = x->next)
		if (json_equal(x->id, id))
			x->done = true;
	pthread_cond_broadcast(&hs->cond);
	pthread_mutex_unlock(&hs->lock);
}

/* One SSE event; id may be NULL. */
static char *sse_event(json_t *msg, const char *id, size_t *len)
{
	char *data = json_dumps(msg, JSON_COMPACT), *ev = NULL;
	int n;

	if (!data)
		return NULL;
	n = asprintf(&ev, "%s%s%sevent: message\ndata: %s\n\n",
		     id ? "id: " : "", id ? id : "", id ? "\n" : "", data);
	free(data);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return ev;
}

/* SSE body: blocks (own thread) until the next message of the exchange. */
static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct exchange *x = cls;
	struct mcp_http_server *hs = x->hsess->hs;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&hs->lock);
	while (!x->out) {
		json_t *m = json_array_get(x->queue, 0);

		if (m) {
			x->out = sse_event(m, NULL, &x->out_len);
			x->out_off = 0;
			json_array_remove(x->queue, 0);
			if (!x->out) {
				pthread_mutex_unlock(&hs->lock);
				return MHD_CONTENT_READER_END_WITH_ERROR;
			}
			break;
		}
		if (x->done) {
			pthread_mutex_unlock(&hs->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		pthread_cond_wait(&hs->cond, &hs->lock);
	}
	n = x->out_len - x->out_off < max ? x->out_len - x->out_off : max;
	memcpy(buf, x->out + x->out_off, n);
	x->out_off += n;
	if (x->out_off == x->out_len) {
		free(x->out);
		x->out = NULL;
	}
	pthread_mutex_unlock(&hs->lock);
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct exchange *x = cls;
	struct hsession *h = x->hsess;
	struct mcp_http_server *hs = h->hs;

	pthread_mutex_lock(&hs->lock);
	exchange_unlink_locked(x);
	exchange_put_locked(x);
	pthread_mutex_unlock(&hs->lock);
	hsession_put(h);
}

static enum MHD_Result respond_sse(struct MHD_Connection *c, struct exchange *x,
				   const char *sid)
{
	struct MHD_Response *r = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, 16384, sse_read, x, sse_free);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", "text/event-stream");
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	if (sid)
		MHD_add_response_header(r, "Mcp-Session-Id", sid);
	ret = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* JSON body: waits for the response (or the end of the exchange). */
static enum MHD_Result respond_json(struct MHD_Connection *c,
				    struct exchange *x, const char *sid)
{
	struct mcp_http_server *hs = x->hsess->hs;
	json_t *reply, *id = json_incref(x->id);
	char *body;
	enum MHD_Result ret;

	pthread_mutex_lock(&hs->lock);
	while (!x->done)
		pthread_cond_wait(&hs->cond, &hs->lock);
	/* Only a response is queued without SSE; a cancelled request has
	 * none, and the client no longer waits for one. */
	reply = json_incref(json_array_get(x->queue, 0));
	exchange_unlink_locked(x);
	exchange_put_locked(x);
	pthread_mutex_unlock(&hs->lock);
	if (!reply)
		reply = jsonrpc_error(id, JSONRPC_INTERNAL_ERROR,
				      "request cancelled or session ended",
				      NULL);
	json_decref(id);
	body = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	json_decref(reply);
	ret = body ? respond(c, MHD_HTTP_OK, "application/json", body, sid)
		   : MHD_NO;
	free(body);
	return ret;
}

static enum MHD_Result post_request(struct mcp_http_server *hs,
				    struct MHD_Connection *c,
				    struct hsession *h, struct jsonrpc_msg *m,
				    const char *buf, size_t len, bool created)
{
	bool can_sse = accepts(c, "text/event-stream");
	bool sse =
		can_sse && json_object_get(json_object_get(m->params, "_meta"),
					   "progressToken");
	struct exchange *x = exchange_add(h, m->id, sse, can_sse);
	const char *sid = created ? h->id : NULL;

	if (!x)
		return respond_error(c, MHD_HTTP_NOT_FOUND,
				     JSONRPC_INVALID_REQUEST, "session ended");
	mcp_session_receive(h->s, buf, len);
	if (!sse) {
		/* JSON, unless something else must go out first. */
		pthread_mutex_lock(&hs->lock);
		while (!x->done && !x->upgrade)
			pthread_cond_wait(&hs->cond, &hs->lock);
		sse = x->sse = x->upgrade;
		pthread_mutex_unlock(&hs->lock);
		if (!sse)
			return respond_json(c, x, sid);
	}
	pthread_mutex_lock(&hs->lock);
	h->refs++; /* sse_free drops it */
	pthread_mutex_unlock(&hs->lock);
	return respond_sse(c, x, sid);
}

static enum MHD_Result on_post(struct mcp_http_server *hs,
			       struct MHD_Connection *c, struct upload *u)
{
	const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "Mcp-Session-Id");
	struct jsonrpc_msg m;
	struct hsession *h;
	json_t *id = NULL;
	bool created = false;
	char err[256];
	enum MHD_Result ret;

	if (u->too_big)
		return respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE,
				     JSONRPC_INVALID_REQUEST,
				     "message too large");
	if (!accepts(c, "application/json") &&
	    !accepts(c, "text/event-stream") && !accepts(c, "*/*"))
		return respond_error(c, MHD_HTTP_NOT_ACCEPTABLE,
				     JSONRPC_INVALID_REQUEST,
				     "Accept must list application/json");
	if (!version_header_ok(c))
		return respond_error(c, MHD_HTTP_BAD_REQUEST,
				     JSONRPC_INVALID_REQUEST,
				     "unsupported MCP-Protocol-Version");
	if (jsonrpc_parse(u->buf ? u->buf : "", u->len, MCP_SERVE_MAX_BODY, &m,
			  &id, err, sizeof(err)) < 0) {
		json_decref(id);
		return respond_error(c, MHD_HTTP_BAD_REQUEST,
				     JSONRPC_PARSE_ERROR, err);
	}
	if (!sid && m.kind == JSONRPC_REQUEST &&
	    strcmp(m.method, "initialize") == 0) {
		h = hsession_new(hs);
		created = true;
		if (!h) {
			jsonrpc_msg_free(&m);
			return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
					     JSONRPC_INTERNAL_ERROR,
					     "too many sessions");
		}
		lg_info("mcp http: new session");
	} else if (!sid) {
		jsonrpc_msg_free(&m);
		return respond_error(c, MHD_HTTP_BAD_REQUEST,
				     JSONRPC_INVALID_REQUEST,
				     "Mcp-Session-Id header required");
	} else if (!(h = hsession_get(hs, sid))) {
		jsonrpc_msg_free(&m);
		return respond_error(c, MHD_HTTP_NOT_FOUND,
				     JSONRPC_INVALID_REQUEST,
				     "unknown or ended session");
	}
	if (m.kind == JSONRPC_REQUEST) {
		ret = post_request(hs, c, h, &m, u->buf, u->len, created);
	} else {
		if (m.kind == JSONRPC_NOTIFICATION &&
		    strcmp(m.method, "notifications/cancelled") == 0)
			exchanges_cancel(h, m.root);
		mcp_session_receive(h->s, u->buf, u->len);
		ret = respond(c, MHD_HTTP_ACCEPTED, NULL, NULL, NULL);
	}
	jsonrpc_msg_free(&m);
	hsession_put(h);
	return ret;
}

/* One GET stream connection. */
struct greader {
	struct hsession *h;
	unsigned gen;
	uint64_t next; /* seq of the next event to send */
	bool hello;    /* the retry field went out */
	char *out;
	size_t out_len, out_off;
};

/* With hs->lock held: the kept event with sequence seq, or NULL. */
static struct gevent *gstream_find(struct gstream *g, uint64_t seq)
{
	uint64_t first;

	if (!g->count)
		return NULL;
	first = g->ring[g->head].seq;
	if (seq < first || seq >= first + g->count)
		return NULL;
	return &g->ring[(g->head + (seq - first)) % MCP_SERVE_GET_EVENTS];
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/*
 * GET body: blocks (its own thread) until the next event, a keep-alive
 * comment, or the end (session ended, stream replaced, client too slow).
 */
static ssize_t get_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct greader *r = cls;
	struct hsession *h = r->h;
	struct mcp_http_server *hs = h->hs;
	struct gstream *g = &h->get;
	struct timespec deadline;
	size_t n;

	(void)pos;
	pthread_mutex_lock(&hs->lock);
	deadline_in(&deadline, hs->keepalive_ms);
	while (!r->out) {
		struct gevent *e;

		if (h->ended || g->gen != r->gen) {
			pthread_mutex_unlock(&hs->lock);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (!r->hello) {
			r->hello = true;
			if (asprintf(&r->out, "retry: %u\n\n",
				     MCP_SERVE_RETRY_MS) < 0)
				r->out = NULL;
		} else if (r->next < g->next_seq) {
			e = gstream_find(g, r->next);
			if (!e) {
				/* Fell behind what we keep: bounded memory
				 * wins; it may resume from what is left. */
				lg_warn("mcp http: GET stream client too slow; "
					"dropped");
				pthread_mutex_unlock(&hs->lock);
				return MHD_CONTENT_READER_END_WITH_ERROR;
			}
			r->out = strdup(e->text);
			if (r->next > g->delivered)
				g->delivered = r->next;
			r->next++;
		} else if (pthread_cond_timedwait(&hs->cond, &hs->lock,
						  &deadline) == ETIMEDOUT) {
			/* Idle: a comment keeps proxies from cutting it. */
			r->out = strdup(": keep-alive\n\n");
			deadline_in(&deadline, hs->keepalive_ms);
		} else {
			continue;
		}
		if (!r->out) {
			pthread_mutex_unlock(&hs->lock);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		r->out_len = strlen(r->out);
		r->out_off = 0;
	}
	n = r->out_len - r->out_off < max ? r->out_len - r->out_off : max;
	memcpy(buf, r->out + r->out_off, n);
	r->out_off += n;
	if (r->out_off == r->out_len) {
		free(r->out);
		r->out = NULL;
	}
	pthread_mutex_unlock(&hs->lock);
	return (ssize_t)n;
}

static void get_free(void *cls)
{
	struct greader *r = cls;
	struct hsession *h = r->h;
	struct mcp_http_server *hs = h->hs;

	pthread_mutex_lock(&hs->lock);
	if (h->get.gen == r->gen)
		h->get.connected = false;
	pthread_mutex_unlock(&hs->lock);
	free(r->out);
	free(r);
	hsession_put(h);
}

/* Where a (re)connecting stream starts: after Last-Event-ID if it is one
 * of ours, else after what earlier streams were handed. */
static uint64_t get_start(struct gstream *g, const char *last)
{
	unsigned long long n;
	char *end;

	if (last && strncmp(last, "g-", 2) == 0 && last[2] >= '0' &&
	    last[2] <= '9') {
		errno = 0;
		n = strtoull(last + 2, &end, 10);
		if (!errno && !*end && n < g->next_seq)
			return n + 1;
	}
	return g->delivered + 1;
}

static enum MHD_Result on_get(struct mcp_http_server *hs,
			      struct MHD_Connection *c)
{
	const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "Mcp-Session-Id");
	const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       "Last-Event-ID");
	struct MHD_Response *resp;
	struct greader *r;
	struct hsession *h;
	enum MHD_Result ret;
	bool replaced;

	if (!accepts(c, "text/event-stream"))
		return respond_error(c, MHD_HTTP_NOT_ACCEPTABLE,
				     JSONRPC_INVALID_REQUEST,
				     "GET wants Accept: text/event-stream");
	if (!version_header_ok(c))
		return respond_error(c, MHD_HTTP_BAD_REQUEST,
				     JSONRPC_INVALID_REQUEST,
				     "unsupported MCP-Protocol-Version");
	if (!sid)
		return respond_error(c, MHD_HTTP_BAD_REQUEST,
				     JSONRPC_INVALID_REQUEST,
				     "Mcp-Session-Id header required");
	h = hsession_get(hs, sid);
	if (!h)
		return respond_error(c, MHD_HTTP_NOT_FOUND,
				     JSONRPC_INVALID_REQUEST,
				     "unknown or ended session");
	r = calloc(1, sizeof(*r));
	if (!r) {
		hsession_put(h);
		return MHD_NO;
	}
	r->h = h; /* the reference from hsession_get: get_free drops it */
	pthread_mutex_lock(&hs->lock);
	replaced = h->get.connected;
	r->gen = ++h->get.gen; /* an older stream of the session ends */
	h->get.connected = true;
	r->next = get_start(&h->get, last);
	if (h->get.count && r->next < h->get.ring[h->get.head].seq) {
		lg_warn("mcp http: GET resumes after events no longer kept");
		r->next = h->get.ring[h->get.head].seq;
	}
	pthread_cond_broadcast(&hs->cond);
	pthread_mutex_unlock(&hs->lock);
	lg_info("mcp http: GET stream opened%s%s",
		replaced ? " (replaces the previous one)" : "",
		last ? " (resuming)" : "");
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384,
						 get_read, r, get_free);
	if (!resp) {
		get_free(r);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "text/event-stream");
	MHD_add_response_header(resp, "Cache-Control", "no-cache");
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_delete(struct mcp_http_server *hs,
				 struct MHD_Connection *c)
{
	const char *sid = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "Mcp-Session-Id");
	struct hsession *h = sid ? hsession_get(hs, sid) : NULL;

	if (!sid)
		return respond_error(c, MHD_HTTP_BAD_REQUEST,
				     JSONRPC_INVALID_REQUEST,
				     "Mcp-Session-Id header required");
	if (!h)
		return respond_error(c, MHD_HTTP_NOT_FOUND,
				     JSONRPC_INVALID_REQUEST,
				     "unknown or ended session");
	lg_info("mcp http: session ended by the client");
	hsession_end(h);
	hsession_put(h);
	return respond(c, MHD_HTTP_OK, NULL, NULL, NULL);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
				 const char *url, const char *method,
				 const char *version, const char *data,
				 size_t *data_size, void **con_cls)
{
	struct mcp_http_server *hs = cls;
	struct upload *u = *con_cls;
	bool handled;
	enum MHD_Result ret;

	(void)version;
	if (!u) {
		ret = gatekeep(hs, c, url, &handled);
		if (handled)
			return ret;
		if (strcmp(method, "POST") != 0) {
			if (strcmp(method, "DELETE") == 0)
				return on_delete(hs, c);
			if (strcmp(method, "GET") == 0)
				return on_get(hs, c);
			return respond_error(c, MHD_HTTP_METHOD_NOT_ALLOWED,
					     JSONRPC_INVALID_REQUEST,
					     "use GET, POST or DELETE");
		}
		u = calloc(1, sizeof(*u));
		if (!u)
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*data_size) {
		if (!u->too_big && u->len + *data_size <= MCP_SERVE_MAX_BODY) {
			char *nb = realloc(u->buf, u->len + *data_size);

			if (!nb)
				return MHD_NO;
			u->buf = nb;
			memcpy(u->buf + u->len, data, *data_size);
			u->len += *data_size;
		} else {
			u->too_big = true;
		}
		*data_size = 0;
		return MHD_YES;
	}
	return on_post(hs, c, u);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (u) {
		free(u->buf);
		free(u);
		*con_cls = NULL;
	}
}

static int addr_parse(const char *addr, struct sockaddr_storage *ss, char *host,
		      size_t hlen)
{
	const char *colon;
	const char *h = addr, *hend;
	char *end;
	long port;

	if (addr[0] == '[') {
		h = addr + 1;
		hend = strchr(h, ']');
		if (!hend || hend[1] != ':')
			return -EINVAL;
		colon = hend + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		hend = colon;
	}
	if ((size_t)(hend - h) >= hlen)
		return -EINVAL;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	if (!host[0] || strcmp(host, "localhost") == 0)
		snprintf(host, hlen, "127.0.0.1");
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			return -EINVAL;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
	}
	return 0;
}

static void server_free(struct mcp_http_server *hs)
{
	for (size_t i = 0; hs->origins && hs->origins[i]; i++)
		free(hs->origins[i]);
	free(hs->origins);
	pthread_cond_destroy(&hs->cond);
	pthread_mutex_destroy(&hs->lock);
	OPENSSL_cleanse(hs->token_hash, sizeof(hs->token_hash));
	free(hs);
}

static int origins_copy(struct mcp_http_server *hs, const char *const *o)
{
	size_t n = 0;

	while (o && o[n])
		n++;
	hs->origins = calloc(n + 1, sizeof(char *));
	if (!hs->origins)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(hs->origins[i] = strdup(o[i])))
			return -ENOMEM;
	return 0;
}

int mcp_http_server_start(const struct mcp_http_serve_opts *o,
			  const struct mcp_serve_factory *f,
			  struct mcp_http_server **out, char *err,
			  size_t err_size)
{
	struct mcp_http_server *hs;
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	char host[128];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;

	if (addr_parse(o->addr, &ss, host, sizeof(host)) < 0) {
		snprintf(err, err_size,
			 "bad address '%s' (HOST:PORT or [V6]:PORT)", o->addr);
		return -EINVAL;
	}
	hs = calloc(1, sizeof(*hs));
	if (!hs) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&hs->lock, NULL);
	{
		pthread_condattr_t ca;

		/* GET streams wait with monotonic deadlines. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&hs->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	hs->f = *f;
	hs->keepalive_ms = o->keepalive_ms ? o->keepalive_ms : 15000;
	hs->loopback = mcp_addr_is_loopback(host);
	if (o->token && o->token[0]) {
		SHA256((const unsigned char *)o->token, strlen(o->token),
		       hs->token_hash);
		hs->has_token = true;
	} else if (!hs->loopback) {
		snprintf(err, err_size,
			 "%s is not a loopback address: a bearer token is "
			 "required (gateway.token in the config, or "
			 "LUMINAGUARD_MCP_TOKEN)",
			 host);
		server_free(hs);
		return -EACCES;
	}
	if (origins_copy(hs, o->origins) < 0) {
		snprintf(err, err_size, "out of memory");
		server_free(hs);
		return -ENOMEM;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	hs->d = MHD_start_daemon(
		flags, 0, NULL, NULL, on_access, hs, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED,
		on_completed, hs, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)MCP_SERVE_MAX_SESSIONS, MHD_OPTION_END);
	if (!hs->d) {
		snprintf(err, err_size, "cannot listen on %s", o->addr);
		server_free(hs);
		return -EADDRINUSE;
	}
	di = MHD_get_daemon_info(hs->d, MHD_DAEMON_INFO_BIND_PORT);
	hs->port = di ? di->port : 0;
	lg_info("mcp http: listening on %s port %u%s", host, hs->port,
		hs->has_token ? " (bearer token required)" : "");
	*out = hs;
	return 0;
}

unsigned mcp_http_server_port(const struct mcp_http_server *hs)
{
	return hs->port;
}

void mcp_http_server_stop(struct mcp_http_server *hs)
{
	struct hsession *h;

	if (!hs)
		return;
	MHD_quiesce_daemon(hs->d);
	/* End sessions first: their waiting POSTs return, threads end. */
	for (;;) {
		pthread_mutex_lock(&hs->lock);
		h = hs->sessions;
		if (h)
			h->refs++;
		pthread_mutex_unlock(&hs->lock);
		if (!h)
			break;
		hsession_end(h);
		hsession_put(h);
	}
	MHD_stop_daemon(hs->d);
	server_free(hs);
}
