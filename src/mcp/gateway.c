/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway's upstreams and the handlers of its sessions: aggregated
 * lists (cached per upstream, refreshed after list_changed), routing of
 * tools/call, resources/read and prompts/get, and notifications passed
 * from every upstream to every client.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "config.h"
#include "mcp/client.h"
#include "mcp/gateway-internal.h"
#include "mcp/http.h"
#include "mcp/jsonrpc.h"
#include "mcp/stdio.h"
#include "mcp/vm-transport.h"

enum list_kind { L_TOOLS, L_RESOURCES, L_TEMPLATES, L_PROMPTS, L_N };

static const struct {
	const char *method, *key, *cap, *changed;
} kinds[L_N] = {
	{"tools/list", "tools", "tools", "notifications/tools/list_changed"},
	{"resources/list", "resources", "resources",
	 "notifications/resources/list_changed"},
	{"resources/templates/list", "resourceTemplates", "resources",
	 "notifications/resources/list_changed"},
	{"prompts/list", "prompts", "prompts",
	 "notifications/prompts/list_changed"},
};

struct upstream {
	struct gateway *g;
	const struct mcp_server_config *cfg;
	struct mcp_client *client; /* NULL while down */
	json_t *lists[L_N];	   /* the upstream's own items */
	bool dirty[L_N];
	char why[256]; /* why it is down */
	pthread_t starter;
	unsigned users; /* callers holding client (upstream_client) */
	pthread_cond_t unused;
	struct fwd
		*active; /* calls in flight to it, newest first (sess_lock) */
};

/* A client request being forwarded to an upstream (on forward()'s stack). */
struct fwd {
	struct fwd *next;
	struct mcp_session *s;
	json_t *id; /* the client's request id */
};

struct sess_ref {
	struct sess_ref *next;
	struct mcp_session *s;
	unsigned users; /* server->client requests using s (sess_lock) */
};

/* How long a client may take over a request an upstream passes on. */
#define PEER_TIMEOUT_MS 300000u

struct gateway {
	const struct mcp_config *mcp;
	const struct gateway_config *gc;
	struct upstream *ups;
	size_t n_ups;
	pthread_mutex_t lock; /* ups' client, lists, dirty */
	pthread_mutex_t sess_lock;
	pthread_cond_t sess_unused; /* a sess_ref's users dropped */
	struct sess_ref *sessions;
	gateway_approve_fn approve;
	struct mcp_server_info info;
	struct mcp_server_handlers h;
	struct mcp_serve_factory f;
};

static void broadcast(struct gateway *g, const char *method, json_t *params)
{
	pthread_mutex_lock(&g->sess_lock);
	for (struct sess_ref *r = g->sessions; r; r = r->next)
		mcp_session_notify(r->s, method,
				   params ? json_deep_copy(params) : NULL,
				   NULL);
	pthread_mutex_unlock(&g->sess_lock);
	json_decref(params);
}

static void broadcast_log(struct gateway *g, const char *server, json_t *params)
{
	const char *level = json_string_value(json_object_get(params, "level"));
	const char *logger =
		json_string_value(json_object_get(params, "logger"));
	char name[160];

	snprintf(name, sizeof(name), "%s%s%s", server, logger ? "/" : "",
		 logger ? logger : "");
	pthread_mutex_lock(&g->sess_lock);
	for (struct sess_ref *r = g->sessions; r; r = r->next)
		mcp_session_log(
			r->s, level ? level : "info", name,
			json_deep_copy(json_object_get(params, "data")));
	pthread_mutex_unlock(&g->sess_lock);
}

/* From an upstream's transport thread: never wait on the upstream here. */
static void upstream_notification(void *opaque, const char *method,
				  json_t *params)
{
	struct upstream *u = opaque;
	struct gateway *g = u->g;

	for (int k = 0; k < L_N; k++) {
		if (strcmp(method, kinds[k].changed) != 0)
			continue;
		pthread_mutex_lock(&g->lock);
		u->dirty[k] = true;
		if (k == L_RESOURCES)
			u->dirty[L_TEMPLATES] = true;
		pthread_mutex_unlock(&g->lock);
		if (k != L_TEMPLATES)
			broadcast(g, method, NULL);
		return;
	}
	if (strcmp(method, "notifications/message") == 0)
		broadcast_log(g, u->cfg->name, params);
	else if (strcmp(method, "notifications/resources/updated") == 0)
		broadcast(g, method, json_incref(params));
	else
		lg_debug("gateway: %s sent %s; not forwarded", u->cfg->name,
			 method);
}

/* The capability a server->client request needs, or NULL: not ours. */
static const char *peer_capability(const char *method)
{
	if (strcmp(method, "roots/list") == 0)
		return "roots";
	if (strcmp(method, "sampling/createMessage") == 0)
		return "sampling";
	if (strcmp(method, "elicitation/create") == 0)
		return "elicitation";
	return NULL;
}

static bool session_has(struct mcp_session *s, const char *cap)
{
	json_t *caps = mcp_session_client_capabilities(s);
	bool has = json_object_get(caps, cap) != NULL;

	json_decref(caps);
	return has;
}

/* With sess_lock held: the attached session's ref, or NULL. */
static struct sess_ref *sess_find_locked(struct gateway *g,
					 struct mcp_session *s)
{
	for (struct sess_ref *r = g->sessions; r; r = r->next)
		if (r->s == s)
			return r;
	return NULL;
}

/*
 * Which client answers an upstream's request: the session of the newest
 * call in flight to that upstream whose client declared cap (the call
 * that most likely triggered it; stdio carries no link between the two),
 * else the newest attached session that declared it. Held until
 * peer_put(); *related is the triggering call's id (a new reference) or
 * NULL.
 */
static struct sess_ref *peer_pick(struct upstream *u, const char *cap,
				  json_t **related)
{
	struct gateway *g = u->g;
	struct sess_ref *r = NULL;

	*related = NULL;
	pthread_mutex_lock(&g->sess_lock);
	for (struct fwd *f = u->active; f && !r; f = f->next) {
		r = sess_find_locked(g, f->s);
		if (r && !session_has(r->s, cap))
			r = NULL;
		if (r)
			*related = json_incref(f->id);
	}
	for (struct sess_ref *x = g->sessions; x && !r; x = x->next)
		if (session_has(x->s, cap))
			r = x;
	if (r)
		r->users++;
	pthread_mutex_unlock(&g->sess_lock);
	return r;
}

static void peer_put(struct gateway *g, struct sess_ref *r)
{
	pthread_mutex_lock(&g->sess_lock);
	if (--r->users == 0)
		pthread_cond_broadcast(&g->sess_unused);
	pthread_mutex_unlock(&g->sess_lock);
}

/*
 * An upstream asks its client (us) roots/list, sampling/createMessage or
 * elicitation/create: we ask one of our own clients (peer_pick) and
 * relay its answer. Runs on a thread of the client library.
 */
static json_t *upstream_server_request(void *opaque, const char *method,
				       json_t *params, int cancel_fd,
				       int64_t *code, char *msg,
				       size_t msg_size)
{
	struct upstream *u = opaque;
	const char *cap = peer_capability(method);
	struct mcp_server_error e = {0};
	json_t *related = NULL, *result = NULL;
	struct sess_ref *r;
	int rc;

	if (!cap) {
		*code = JSONRPC_METHOD_NOT_FOUND;
		snprintf(msg, msg_size, "method not found: %s", method);
		return NULL;
	}
	r = peer_pick(u, cap, &related);
	if (!r) {
		/* As a client without the capability would answer. */
		lg_info("gateway: %s asked %s; no client offers %s",
			u->cfg->name, method, cap);
		*code = JSONRPC_METHOD_NOT_FOUND;
		snprintf(msg, msg_size,
			 "no client of the gateway supports %s (%s)", cap,
			 method);
		return NULL;
	}
	lg_info("gateway: %s asked %s; passed to a client", u->cfg->name,
		method);
	rc = mcp_session_request(
		r->s, method, params ? json_deep_copy(params) : NULL, related,
		PEER_TIMEOUT_MS, cancel_fd, &result, &e);
	peer_put(u->g, r);
	json_decref(related);
	if (rc == 0)
		return result;
	*code = rc == -EREMOTEIO ? e.code : JSONRPC_INTERNAL_ERROR;
	snprintf(msg, msg_size, "%s", e.message[0] ? e.message : strerror(-rc));
	json_decref(e.data);
	return NULL;
}

static int transport_make(struct upstream *u, struct mcp_transport **t,
			  char *err, size_t errlen)
{
	const struct mcp_server_config *c = u->cfg;
	const struct gateway_config *gc = u->g->gc;

	if (c->kind == MCP_SERVER_HTTP)
		return mcp_http_transport_create(&c->http, t, err, errlen);
	if (c->sandbox) {
		json_t *copies = gateway_copy_in(gc, c->name);
		struct mcp_vm_copy *cp =
			calloc(json_object_size(copies) + 1, sizeof(*cp));
		struct mcp_vm_opts o = {
			.name = c->name,
			.vm = gc->vm,
			.argv = (char *const *)c->argv,
			.env = c->env,
			.cwd = c->cwd,
			.copy_in = cp,
		};
		const char *host;
		json_t *guest;
		int rc;

		if (!cp)
			return -ENOMEM;
		json_object_foreach(copies, host, guest)
		{
			cp[o.n_copy_in].host = host;
			cp[o.n_copy_in++].guest = json_string_value(guest);
		}
		o.vm.cancel_fd = -1;
		rc = mcp_vm_transport_create(&o, t, err, errlen);
		free(cp);
		return rc;
	}
	struct mcp_stdio_opts so = {
		.name = c->name,
		.argv = (char *const *)c->argv,
		.env = c->env,
		.cwd = c->cwd,
	};
	return mcp_stdio_transport_create(&so, t, err, errlen);
}

/* The upstream's items of one kind, or NULL when it does not offer it. */
static json_t *list_fetch(struct mcp_client *c, int k)
{
	json_t *caps = mcp_client_server_capabilities(c), *items = NULL;
	struct mcp_error e = {0};

	if (!json_object_get(caps, kinds[k].cap))
		return json_array();
	if (mcp_client_list_all(c, kinds[k].method, kinds[k].key, &items, &e) <
	    0) {
		lg_warn("gateway: %s failed: %s", kinds[k].method, e.message);
		mcp_error_clear(&e);
		return NULL;
	}
	return items;
}

static int upstream_connect(struct upstream *u)
{
	struct mcp_client_opts co = {
		.client_name = "luminaguard-gateway",
		.timeout_ms = u->cfg->timeout_ms,
		.notification = upstream_notification,
		.opaque = u,
		/* Declared so upstreams may ask; our clients answer. */
		.sampling = true,
		.elicit_declared = true,
		.server_request = upstream_server_request,
	};
	struct mcp_transport *t = NULL;
	struct mcp_client *c = NULL;
	struct mcp_error e = {0};
	char err[512];
	int rc;

	co.roots = json_array(); /* declares roots; the list is our client's */
	rc = transport_make(u, &t, err, sizeof(err));
	if (!rc)
		rc = mcp_client_create(t, &co, &c, err, sizeof(err));
	json_decref(co.roots);
	if (!rc) {
		rc = mcp_client_initialize(c, &e);
		if (rc)
			snprintf(err, sizeof(err), "initialize: %.400s",
				 e.message);
		mcp_error_clear(&e);
	}
	if (rc) {
		lg_err("gateway: upstream %s: %s", u->cfg->name, err);
		if (c)
			mcp_client_destroy(c);
		pthread_mutex_lock(&u->g->lock);
		snprintf(u->why, sizeof(u->why), "%.200s", err);
		pthread_mutex_unlock(&u->g->lock);
		return rc;
	}
	lg_info("gateway: upstream %s up (%s)", u->cfg->name,
		mcp_client_protocol_version(c));
	pthread_mutex_lock(&u->g->lock);
	u->client = c;
	for (int k = 0; k < L_N; k++)
		u->dirty[k] = true;
	pthread_mutex_unlock(&u->g->lock);
	return 0;
}

/*
 * The upstream's client if it is usable, held until upstream_put(); one
 * whose transport ended is taken down here (once nobody uses it) and
 * restarted when the config says so.
 */
static struct mcp_client *upstream_client(struct upstream *u)
{
	struct mcp_client *c, *dead = NULL;
	const char *why;

	pthread_mutex_lock(&u->g->lock);
	c = u->client;
	why = c ? mcp_client_closed_reason(c) : NULL;
	if (why) {
		lg_warn("gateway: upstream %s is down: %s", u->cfg->name, why);
		snprintf(u->why, sizeof(u->why), "%.200s", why);
		dead = c;
		u->client = c = NULL;
		for (int k = 0; k < L_N; k++) {
			json_decref(u->lists[k]);
			u->lists[k] = NULL;
		}
		/* Its pending requests fail at once: the transport ended. */
		while (u->users)
			pthread_cond_wait(&u->unused, &u->g->lock);
	}
	if (c)
		u->users++;
	pthread_mutex_unlock(&u->g->lock);
	if (dead) {
		/* Its tools are gone: clients should list again. */
		mcp_client_destroy(dead);
		broadcast(u->g, kinds[L_TOOLS].changed, NULL);
		if (u->cfg->restart && upstream_connect(u) == 0)
			return upstream_client(u);
	}
	return c;
}

static void upstream_put(struct upstream *u, struct mcp_client *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&u->g->lock);
	if (--u->users == 0)
		pthread_cond_broadcast(&u->unused);
	pthread_mutex_unlock(&u->g->lock);
}

/* Refreshes stale lists; returns a copy of the current items of kind k. */
static json_t *upstream_items(struct upstream *u, int k)
{
	struct mcp_client *c = upstream_client(u);
	json_t *items = NULL;
	bool dirty;

	if (!c)
		return NULL;
	pthread_mutex_lock(&u->g->lock);
	dirty = u->dirty[k] || !u->lists[k];
	u->dirty[k] = false;
	pthread_mutex_unlock(&u->g->lock);
	if (dirty)
		items = list_fetch(c, k);
	upstream_put(u, c);
	pthread_mutex_lock(&u->g->lock);
	if (items) {
		json_decref(u->lists[k]);
		u->lists[k] = items;
	}
	items = u->lists[k] ? json_incref(u->lists[k]) : NULL;
	pthread_mutex_unlock(&u->g->lock);
	return items;
}

static bool name_prefixed(const char *server, const char *name, char *out,
			  size_t len)
{
	int n = snprintf(out, len, "%s" GATEWAY_SEP "%s", server, name);

	return n > 0 && (size_t)n < len;
}

static json_t *gw_list(void *opaque, const char *key)
{
	struct gateway *g = opaque;
	json_t *all = json_array();
	int k = 0;

	while (k < L_N && strcmp(kinds[k].key, key) != 0)
		k++;
	if (k == L_N || !all)
		return all;
	if (k == L_TOOLS && g->gc->builtin_tools) {
		json_t *b = builtin_tools_list(g->gc);

		json_array_extend(all, b);
		json_decref(b);
	}
	for (size_t i = 0; i < g->n_ups; i++) {
		struct upstream *u = &g->ups[i];
		json_t *items = upstream_items(u, k), *it;
		size_t j;

		json_array_foreach(items, j, it)
		{
			const char *name =
				json_string_value(json_object_get(it, "name"));
			char full[GATEWAY_MAX_NAME + 1];
			json_t *copy;

			if (!name)
				continue;
			if (!name_prefixed(u->cfg->name, name, full,
					   sizeof(full))) {
				lg_warn("gateway: %s: name %s too long with "
					"its prefix; not offered",
					u->cfg->name, name);
				continue;
			}
			copy = json_deep_copy(it);
			json_object_set_new(copy, "name", json_string(full));
			json_array_append_new(all, copy);
		}
		json_decref(items);
	}
	return all;
}

/* The upstream a prefixed name belongs to; *rest is the upstream's name. */
static struct upstream *route_name(struct gateway *g, const char *name,
				   const char **rest)
{
	size_t best = 0;
	struct upstream *found = NULL;

	for (size_t i = 0; i < g->n_ups; i++) {
		size_t n = strlen(g->ups[i].cfg->name);

		/* The longest server name wins ("a" and "a_b" both exist). */
		if (n > best && strncmp(name, g->ups[i].cfg->name, n) == 0 &&
		    strncmp(name + n, GATEWAY_SEP, 2) == 0 && name[n + 2]) {
			best = n;
			found = &g->ups[i];
		}
	}
	if (found)
		*rest = name + best + 2;
	return found;
}

static bool template_matches(const char *tmpl, const char *uri)
{
	size_t n = strcspn(tmpl, "{");

	return n > 0 && strncmp(tmpl, uri, n) == 0;
}

/* Which upstream serves uri: listed resources first, then templates. */
static struct upstream *route_uri(struct gateway *g, const char *uri)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < g->n_ups; i++) {
			int k = pass ? L_TEMPLATES : L_RESOURCES;
			json_t *items = upstream_items(&g->ups[i], k), *it;
			bool hit = false;
			size_t j;

			json_array_foreach(items, j, it)
			{
				const char *v = json_string_value(
					json_object_get(it, pass ? "uriTemplate"
								 : "uri"));

				if (v && (pass ? template_matches(v, uri)
					       : strcmp(v, uri) == 0))
					hit = true;
			}
			json_decref(items);
			if (hit)
				return &g->ups[i];
		}
	}
	return NULL;
}

struct progress_fwd {
	struct mcp_req *req;
};

static void on_progress(void *opaque, double progress, double total,
			const char *message)
{
	struct progress_fwd *p = opaque;

	mcp_req_progress(p->req, progress, total, message);
}

static void error_set(struct mcp_server_error *e, int64_t code, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));
static void error_set(struct mcp_server_error *e, int64_t code, const char *fmt,
		      ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
}

/* Sends method to u with params (stolen); maps the outcome for the client. */
static int forward(struct upstream *u, struct mcp_req *req, const char *method,
		   json_t *params, json_t **result, struct mcp_server_error *e)
{
	struct mcp_client *c = upstream_client(u);
	struct progress_fwd pf = {.req = req};
	struct mcp_call_opts co = {
		.cancel_fd = req->cancel_fd,
		.progress = req->progress_token ? on_progress : NULL,
		.opaque = &pf,
	};
	struct fwd self = {.s = req->session, .id = req->id};
	struct mcp_error me = {0};
	int rc;

	if (!c) {
		json_decref(params);
		error_set(e, JSONRPC_INTERNAL_ERROR, "server %s is down: %s",
			  u->cfg->name, u->why);
		return -ENOTCONN;
	}
	/* Its requests to us during the call go to this call's client. */
	pthread_mutex_lock(&u->g->sess_lock);
	self.next = u->active;
	u->active = &self;
	pthread_mutex_unlock(&u->g->sess_lock);
	rc = mcp_client_request(c, method, params, &co, result, &me);
	pthread_mutex_lock(&u->g->sess_lock);
	for (struct fwd **pp = &u->active; *pp; pp = &(*pp)->next) {
		if (*pp == &self) {
			*pp = self.next;
			break;
		}
	}
	pthread_mutex_unlock(&u->g->sess_lock);
	if (rc == -EREMOTEIO) {
		/* The upstream's own error, as it sent it. */
		e->code = me.code;
		snprintf(e->message, sizeof(e->message), "%.250s", me.message);
		e->data = me.data;
		me.data = NULL;
	} else if (rc < 0) {
		error_set(e, JSONRPC_INTERNAL_ERROR, "server %s: %.160s",
			  u->cfg->name,
			  me.message[0] ? me.message : strerror(-rc));
	}
	upstream_put(u, c);
	if (rc == -EPIPE)
		upstream_put(u, upstream_client(u)); /* take it down now */
	mcp_error_clear(&me);
	return rc;
}

/* params without _meta (the client puts its own progressToken there). */
static json_t *params_forward(json_t *params, const char *name_key,
			      const char *name)
{
	json_t *p = params ? json_deep_copy(params) : json_object();

	if (!p)
		return NULL;
	json_object_del(p, "_meta");
	if (name_key)
		json_object_set_new(p, name_key, json_string(name));
	return p;
}

static int denied(json_t **result, const char *why)
{
	*result = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text",
			    "text", why, "isError", 1);
	return *result ? 0 : -ENOMEM;
}

static int on_tools_call(struct gateway *g, struct mcp_req *req, json_t *params,
			 json_t **result, struct mcp_server_error *e)
{
	const char *name = json_string_value(json_object_get(params, "name"));
	json_t *args = json_object_get(params, "arguments");
	struct gateway_call call = {.arguments = args};
	struct upstream *u = NULL;
	char why[256] = "";

	if (!name) {
		error_set(e, JSONRPC_INVALID_PARAMS, "tools/call needs a name");
		return -EINVAL;
	}
	if (args && !json_is_object(args)) {
		error_set(e, JSONRPC_INVALID_PARAMS,
			  "arguments must be an object");
		return -EINVAL;
	}
	if (g->gc->builtin_tools && builtin_tool_exists(name)) {
		call.tool = name;
	} else if ((u = route_name(g, name, &call.tool))) {
		call.server = u->cfg->name;
	} else {
		error_set(e, JSONRPC_INVALID_PARAMS, "unknown tool: %s", name);
		return -ENOENT;
	}
	if (g->approve(&call, why, sizeof(why)) < 0)
		return denied(result, why[0] ? why : "denied by policy");
	if (!u)
		return builtin_tool_call(g->gc, req, name, args, result, e);
	return forward(u, req, "tools/call",
		       params_forward(params, "name", call.tool), result, e);
}

static int gw_request(void *opaque, struct mcp_req *req, const char *method,
		      json_t *params, json_t **result,
		      struct mcp_server_error *e)
{
	struct gateway *g = opaque;
	const char *rest;
	struct upstream *u;

	if (strcmp(method, "tools/call") == 0)
		return on_tools_call(g, req, params, result, e);
	if (strcmp(method, "prompts/get") == 0) {
		const char *name =
			json_string_value(json_object_get(params, "name"));

		if (!name || !(u = route_name(g, name, &rest))) {
			error_set(e, JSONRPC_INVALID_PARAMS,
				  "unknown prompt: %s", name ? name : "");
			return -ENOENT;
		}
		return forward(u, req, method,
			       params_forward(params, "name", rest), result, e);
	}
	if (strcmp(method, "resources/read") == 0) {
		const char *uri =
			json_string_value(json_object_get(params, "uri"));

		if (!uri || !(u = route_uri(g, uri))) {
			/* Resource not found (2025-11-25 code). */
			error_set(e, -32002, "unknown resource: %s",
				  uri ? uri : "");
			return -ENOENT;
		}
		return forward(u, req, method,
			       params_forward(params, NULL, NULL), result, e);
	}
	error_set(e, JSONRPC_METHOD_NOT_FOUND, "method not found: %s", method);
	return -ENOSYS;
}

static void gw_attached(void *opaque, struct mcp_session *s)
{
	struct gateway *g = opaque;
	struct sess_ref *r = calloc(1, sizeof(*r));

	if (!r)
		return;
	r->s = s;
	pthread_mutex_lock(&g->sess_lock);
	r->next = g->sessions;
	g->sessions = r;
	pthread_mutex_unlock(&g->sess_lock);
}

static void gw_detached(void *opaque, struct mcp_session *s)
{
	struct gateway *g = opaque;

	/* Upstream requests waiting on s fail now; then nobody uses it. */
	mcp_session_end(s);
	pthread_mutex_lock(&g->sess_lock);
	for (struct sess_ref **pp = &g->sessions; *pp; pp = &(*pp)->next) {
		if ((*pp)->s == s) {
			struct sess_ref *r = *pp;

			*pp = r->next;
			while (r->users)
				pthread_cond_wait(&g->sess_unused,
						  &g->sess_lock);
			free(r);
			break;
		}
	}
	pthread_mutex_unlock(&g->sess_lock);
}

void gateway_set_approver(struct gateway *g, gateway_approve_fn fn)
{
	g->approve = fn ? fn : gateway_approve;
}

static void *starter_main(void *arg)
{
	upstream_connect(arg);
	return NULL;
}

int gateway_create(const struct mcp_config *mcp,
		   const struct gateway_config *gc, struct gateway **out,
		   char *err, size_t errlen)
{
	struct gateway *g = calloc(1, sizeof(*g));

	if (g)
		g->ups = calloc(mcp->n_servers + 1, sizeof(*g->ups));
	if (!g || !g->ups) {
		free(g);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	g->mcp = mcp;
	g->gc = gc;
	g->n_ups = mcp->n_servers;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->sess_lock, NULL);
	pthread_cond_init(&g->sess_unused, NULL);
	g->approve = gateway_approve;
	g->info = (struct mcp_server_info){
		.name = "luminaguard-gateway",
		.version = LG_VERSION,
		.logging = true,
		.page_size = gc->page_size,
		.instructions =
			"Tools of several MCP servers, named SERVER__TOOL, "
			"and sandbox_exec, which runs commands in a fresh "
			"micro-VM.",
	};
	g->h = (struct mcp_server_handlers){
		.list = gw_list,
		.request = gw_request,
	};
	g->f = (struct mcp_serve_factory){
		.info = &g->info,
		.h = &g->h,
		.opaque = g,
		.attached = gw_attached,
		.detached = gw_detached,
	};
	for (size_t i = 0; i < g->n_ups; i++) {
		struct upstream *u = &g->ups[i];

		u->g = g;
		u->cfg = &mcp->servers[i];
		pthread_cond_init(&u->unused, NULL);
		snprintf(u->why, sizeof(u->why), "not started");
		if (strstr(u->cfg->name, GATEWAY_SEP))
			lg_warn("gateway: server name %s contains '%s'; its "
				"tools may be hard to tell apart",
				u->cfg->name, GATEWAY_SEP);
	}
	/* Upstreams start in parallel: a VM boot need not delay the rest. */
	for (size_t i = 0; i < g->n_ups; i++)
		if (pthread_create(&g->ups[i].starter, NULL, starter_main,
				   &g->ups[i]))
			upstream_connect(&g->ups[i]), g->ups[i].starter = 0;
	for (size_t i = 0; i < g->n_ups; i++)
		if (g->ups[i].starter)
			pthread_join(g->ups[i].starter, NULL);
	*out = g;
	return 0;
}

void gateway_destroy(struct gateway *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n_ups; i++) {
		if (g->ups[i].client)
			mcp_client_destroy(g->ups[i].client);
		for (int k = 0; k < L_N; k++)
			json_decref(g->ups[i].lists[k]);
		pthread_cond_destroy(&g->ups[i].unused);
	}
	while (g->sessions) {
		struct sess_ref *r = g->sessions;

		g->sessions = r->next;
		free(r);
	}
	pthread_mutex_destroy(&g->lock);
	pthread_mutex_destroy(&g->sess_lock);
	pthread_cond_destroy(&g->sess_unused);
	free(g->ups);
	free(g);
}

const struct mcp_serve_factory *gateway_factory(struct gateway *g)
{
	return &g->f;
}
