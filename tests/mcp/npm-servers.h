/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The npm MCP servers that setup-servers.sh installs, for the tests:
 * finding their bin directory, and server-everything over HTTP
 * (streamableHttp or sse) on a loopback port, in its own process group
 * so that stopping it also ends whatever it started.
 */
#ifndef LG_TESTS_MCP_NPM_SERVERS_H
#define LG_TESTS_MCP_NPM_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Fills dir with $LG_MCP_BIN, else with the first line that the script
 * $LG_MCP_SETUP prints (its stderr dropped when quiet); 0 when
 * dir/mcp-server-everything can be run, else -ENOENT (dir says what was
 * tried, "" when nothing was). */
int npm_servers_find(char *dir, size_t size, bool quiet);

/* LG_REQUIRE_MCP=1: missing servers are a failure, not a skip. */
bool npm_servers_required(void);

/* npm_servers_find(), or says why not on stderr and exits 77 (skip),
 * 1 when they are required. */
void npm_servers_find_or_skip(char *dir, size_t size);

/* A loopback TCP port nobody listens on now, 0 when none was found. */
unsigned short npm_free_port(void);

/* Whether something accepts connections on the loopback port. */
bool npm_port_open(unsigned short port);

struct npm_server {
	pid_t pid;
	unsigned short port; /* before start: the port, 0 for a free one */
	char log[256];	     /* its stdout and stderr; "" for /dev/null */
};

/* Starts bin_dir/mcp-server-everything in mode on s->port and waits
 * (15 s at most) until it accepts connections: 0, or a negative errno
 * (nothing left running). Its process group is remembered until
 * npm_server_stop(); at exit (a failed assertion skips the test's stop)
 * whatever is left is killed (SIGKILL) and reaped. */
int npm_everything_start(struct npm_server *s, const char *bin_dir,
			 const char *mode);

/* SIGTERM to its process group, reaped (SIGKILL after 5 s). */
void npm_server_stop(struct npm_server *s);

#endif
