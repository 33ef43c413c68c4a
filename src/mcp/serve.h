/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Server transports: carry MCP sessions (server.h) over our own
 * stdin/stdout or over Streamable HTTP (libmicrohttpd).
 */
#ifndef LG_MCP_SERVE_H
#define LG_MCP_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "mcp/server.h"

/* What every new session is made of, and who learns of it. */
struct mcp_serve_factory {
	const struct mcp_server_info *info;
	const struct mcp_server_handlers *h;
	void *opaque; /* for h, attached and detached */
	/* A session starts/ends (for notifications to all clients). */
	void (*attached)(void *opaque, struct mcp_session *s);
	void (*detached)(void *opaque, struct mcp_session *s);
};

/*
 * One session over newline-delimited JSON on in_fd/out_fd until in_fd
 * ends or stop_fd (may be -1) becomes readable. 0, or a negative errno.
 */
int mcp_serve_stdio(const struct mcp_serve_factory *f, int in_fd, int out_fd,
		    int stop_fd);

/* Largest POST body (and stdio line) we accept. */
#define MCP_SERVE_MAX_BODY (4u << 20)
/* Sessions one HTTP server keeps at once. */
#define MCP_SERVE_MAX_SESSIONS 256u

struct mcp_http_serve_opts {
	const char *addr; /* "HOST:PORT", "[V6]:PORT"; port 0: any */
	/*
	 * Origins allowed besides the loopback ones (http(s)://localhost,
	 * 127.0.0.1, [::1] with any port), exact strings like
	 * "https://app.example"; NULL-terminated, may be NULL.
	 */
	const char *const *origins;
	/*
	 * Bearer token clients must send (Authorization: Bearer ...). Must
	 * be set when addr is not loopback (127.0.0.1 or ::1); optional on
	 * loopback. Never logged.
	 */
	const char *token;
	/* Added: keep-alive comment interval on GET streams; 0: 15 s. */
	unsigned keepalive_ms;
};

/*
 * The GET stream of a session: the last MCP_SERVE_GET_EVENTS events, at
 * most MCP_SERVE_GET_BYTES, are kept for Last-Event-ID resumption; a
 * connected client that falls further behind is dropped.
 */
#define MCP_SERVE_GET_EVENTS 256u
#define MCP_SERVE_GET_BYTES (1u << 20)
/* The SSE retry field we send (ms). */
#define MCP_SERVE_RETRY_MS 2000u

struct mcp_http_server;

int mcp_http_server_start(const struct mcp_http_serve_opts *o,
			  const struct mcp_serve_factory *f,
			  struct mcp_http_server **out, char *err,
			  size_t err_size);
/* The port actually bound (useful with port 0). */
unsigned mcp_http_server_port(const struct mcp_http_server *hs);
/* Stops accepting, ends every session and frees the server. */
void mcp_http_server_stop(struct mcp_http_server *hs);

/* True for the addresses we treat as loopback: 127.0.0.1, ::1, localhost
 * (other 127/8 addresses are not: a token is required there). */
bool mcp_addr_is_loopback(const char *host);

#endif
