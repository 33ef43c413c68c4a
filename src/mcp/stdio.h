/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stdio transport (ANCHORS.md C.3): the server is a child process
 * started from an argv (never through a shell), with extra environment
 * and a working directory; one JSON-RPC message per line on its stdin and
 * stdout; its stderr goes to our log line by line (debug level, prefixed
 * with the server's name).
 *
 * Shutdown (destroy): close its stdin, wait, SIGTERM, wait, SIGKILL, then
 * reap; the server runs in its own process group and the whole group is
 * signalled, so helpers it started do not outlive it. A server that exits
 * or closes its stdout on its own ends the transport: events.closed gets
 * the exit status or signal in `why` (err 0 for status 0, else
 * -ECONNRESET).
 *
 * Restart: a transport is one process. An owner that is configured to
 * restart a crashed server (mcp-config.h "restart") destroys the ended
 * client, creates a new transport from the same options and initializes a
 * new session: MCP state (negotiated version, subscriptions) belongs to
 * one session and cannot be carried over.
 */
#ifndef LG_MCP_STDIO_H
#define LG_MCP_STDIO_H

#include <stddef.h>
#include <sys/types.h>

#include "mcp/transport.h"

#define MCP_STDIO_SHUTDOWN_WAIT_MS 2000u
#define MCP_STDIO_WRITE_TIMEOUT_MS 30000u

struct mcp_stdio_opts {
	const char *name;  /* for the log; default argv[0] */
	char *const *argv; /* NULL-terminated; argv[0] looked up in PATH */
	char *const *env;  /* "NAME=VALUE" added or replaced; NULL-terminated,
			      or NULL */
	const char *cwd;   /* or NULL: ours */
	unsigned int shutdown_wait_ms; /* each wait; 0: default */
	unsigned int write_timeout_ms; /* server not reading; 0: default */
	size_t max_line; /* longest message; 0: JSONRPC_MAX_MESSAGE */
};

/*
 * Starts the server now (an argv[0] that cannot be run, or a cwd that
 * does not exist, is an error here). 0 or a negative errno with err.
 */
int mcp_stdio_transport_create(const struct mcp_stdio_opts *o,
			       struct mcp_transport **out, char *err,
			       size_t err_size);

/* The server's process id (also its process group), for tests. */
pid_t mcp_stdio_transport_pid(const struct mcp_transport *t);

#endif
