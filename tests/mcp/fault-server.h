/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fault-injecting MCP-over-HTTP server for tests (libmicrohttpd, on
 * 127.0.0.1 only). By default it is a tiny Streamable HTTP server:
 * initialize answers with a result (and a session id when configured),
 * any other request with {"method": M, "n": K}, notifications and
 * responses with 202, GET with 405. Steps queued with fault_push_post()
 * / fault_push_get() replace the default for the next POST / GET, one
 * step per request, in order. Every request is recorded.
 */
#ifndef LG_TESTS_MCP_FAULT_SERVER_H
#define LG_TESTS_MCP_FAULT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fault_action {
	FAULT_DEFAULT, /* as without a step */
	FAULT_STATUS,  /* status + body (+ Retry-After) */
	FAULT_DROP,    /* close the connection without an answer */
	FAULT_DELAY,   /* wait delay_ms, then the default answer */
	FAULT_SSE, /* the answer as SSE: id'd priming event, events, response */
	FAULT_SSE_CUT, /* SSE: priming event (id, retry) then cut */
	FAULT_GET_SSE, /* GET: events (with ids, retry) then end or hold */
	FAULT_LEGACY_ENDPOINT, /* GET: old transport, "endpoint" then hold */
};

struct fault_step {
	enum fault_action action;
	int status;		 /* FAULT_STATUS */
	const char *body;	 /* FAULT_STATUS; copied */
	const char *retry_after; /* FAULT_STATUS header; copied */
	unsigned delay_ms;	 /* FAULT_DELAY */
	/* FAULT_SSE: messages sent before the response; FAULT_GET_SSE:
	 * the stream's messages. '\n'-separated JSON lines; copied. */
	const char *events;
	const char *id_prefix; /* event ids id_prefix-1, -2...; copied */
	int retry_ms;	       /* "retry:" field; <0 none */
	bool hold;	       /* GET: keep the stream open afterwards */
};

struct fault_req {
	char method[8];
	char path[256];
	char session[160];
	char proto[40];
	char last_event_id[80];
	char accept[96];
	char ctype[64];
	char auth[160];
	char custom[160]; /* X-Test-Token */
	char rpc_method[64];
	/* TLS with a client CA: "verified", "none" or "invalid" */
	char client_cert[16];
	uint64_t t_ms; /* arrival, CLOCK_MONOTONIC */
};

struct fault_server;

/* port 0: any free port. NULL on failure. */
struct fault_server *fault_server_start(unsigned short port);

/* HTTPS: PEM texts (copied). With client_ca_pem a client certificate is
 * asked for and verified against it; a request without a valid one is
 * answered 403 (and logged with client_cert "none" or "invalid"). */
struct fault_tls {
	const char *cert_pem;
	const char *key_pem;
	const char *client_ca_pem; /* NULL: no client certificate */
};
/* Can this build serve HTTPS (and check client certificates)? */
bool fault_tls_supported(bool client_certs);
struct fault_server *fault_server_start_tls(unsigned short port,
					    const struct fault_tls *tls);
void fault_server_stop(struct fault_server *s);
unsigned short fault_server_port(const struct fault_server *s);
/* "http://127.0.0.1:PORT/mcp" (https with TLS) into buf. */
void fault_server_url(const struct fault_server *s, char *buf, size_t size);

void fault_push_post(struct fault_server *s, const struct fault_step *st);
void fault_push_get(struct fault_server *s, const struct fault_step *st);
/* Issue this session id on initialize and require it afterwards (a
 * missing or unknown one: 400 like server-everything / 404). */
void fault_set_session(struct fault_server *s, const char *id);
/* The current session ends: its id now gets 404. */
void fault_expire_session(struct fault_server *s);
/* Answer requests as SSE streams by default. */
void fault_set_default_sse(struct fault_server *s, bool on);
/* Sends a message on the open GET stream(s). */
void fault_send_on_get(struct fault_server *s, const char *json);
/* Old HTTP+SSE only: POST to /mcp is 405; GET gives the endpoint. */
void fault_set_legacy(struct fault_server *s, bool on);

/* A copy of the request log; returns the count (at most max). */
size_t fault_requests(struct fault_server *s, struct fault_req *out,
		      size_t max);
size_t fault_request_count(struct fault_server *s);
/* Most requests in progress at once so far. */
unsigned fault_max_concurrent(struct fault_server *s);

/* A port on 127.0.0.1 where nothing listens (connection refused). */
unsigned short fault_dead_port(void);
uint64_t fault_now_ms(void);

#endif
