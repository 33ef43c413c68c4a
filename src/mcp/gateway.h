/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The MCP gateway: one MCP server (serve.h) in front of every upstream
 * server of the config. It aggregates their tools, resources, resource
 * templates and prompts, namespaced by server name, forwards calls,
 * reads and gets with progress and cancellation, passes their
 * notifications on to every client, and adds built-in tools that run in
 * fresh micro-VMs (sandbox_exec).
 *
 * Names: a tool or prompt NAME of server SRV is offered as SRV__NAME
 * (two underscores; legal in MCP tool names, A-Za-z0-9_-.); resources
 * keep their URI (a URI is global) and get SRV__ before their name.
 * Every tools/call, built-in or forwarded, passes gateway_approve().
 */
#ifndef LG_MCP_GATEWAY_H
#define LG_MCP_GATEWAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcp/mcp-config.h"
#include "mcp/sandbox.h"
#include "mcp/serve.h"

#define GATEWAY_SEP "__"
#define GATEWAY_MAX_NAME 128 /* MCP tool name limit */

/* The "gateway" object inside the "mcp" section (gateway-config.c). */
struct gateway_config {
	char *http;	/* "HOST:PORT" default for --http; NULL */
	char **origins; /* extra allowed Origins; NULL-terminated */
	char *token;	/* bearer token (loaded; never logged); NULL */
	struct lg_sandbox_opts vm; /* for sandbox_exec and sandboxed servers */
	unsigned exec_timeout_s;   /* sandbox_exec default; 0: 60 */
	size_t max_output;	   /* per stream; 0: 1 MiB */
	size_t max_file;	   /* files_out each; 0: 8 MiB */
	bool builtin_tools;	   /* offer sandbox_exec (default true) */
	unsigned page_size;	   /* items per list page; 0: 100 */
	json_t *section;	   /* the whole "mcp" section (a reference) */
};

/*
 * Reads section->"gateway" (section is the "mcp" object; either may be
 * absent) into gc, the token from {"env": NAME} / {"file": PATH} / a
 * literal, else $LUMINAGUARD_MCP_TOKEN; checks each server's "copy_in".
 * 0 or -EINVAL with err.
 */
int gateway_config_parse(json_t *section, const struct mcp_config *mcp,
			 struct gateway_config *gc, char *err, size_t errlen);
/*
 * The config file (path, or the default one as mcp_config_load finds
 * it): the servers into mcp (mcp_config_parse, which keeps the gateway's
 * own keys "gateway" and servers.*.copy_in for it) and those into gc.
 */
int gateway_config_load(const char *path, struct mcp_config *mcp,
			struct gateway_config *gc, char *err, size_t errlen);
/* servers.NAME.copy_in of the section, or NULL. */
json_t *gateway_copy_in(const struct gateway_config *gc, const char *server);
void gateway_config_free(struct gateway_config *gc);

/* One tools/call on its way through the gateway. */
struct gateway_call {
	const char *server; /* upstream name, or NULL for a built-in tool */
	const char *tool;   /* the tool's name at that server */
	json_t *arguments;  /* may be NULL */
};

/*
 * The one hook every tools/call passes (the Approval Cliff plugs in
 * here). 0 allows; a negative errno denies, with why for the client.
 * Today: allows everything and logs server, tool and a digest of the
 * arguments (never the arguments themselves).
 */
int gateway_approve(const struct gateway_call *call, char *why, size_t why_len);

/* The hook's type: gateway_approve() unless replaced (tests). */
typedef int (*gateway_approve_fn)(const struct gateway_call *call, char *why,
				  size_t why_len);

/* SHA-256 of the arguments' canonical JSON, the first 16 hex digits. */
void gateway_args_digest(json_t *arguments, char out[17]);

struct gateway;

/*
 * Connects to every upstream (in parallel); one that fails is logged
 * and left out. 0 or a negative errno with err.
 */
int gateway_create(const struct mcp_config *mcp,
		   const struct gateway_config *gc, struct gateway **out,
		   char *err, size_t errlen);
void gateway_destroy(struct gateway *g);
/*
 * Added: replaces the approval hook of g (NULL: gateway_approve again).
 * The product never calls it; tests use it to exercise a denial.
 */
void gateway_set_approver(struct gateway *g, gateway_approve_fn fn);
/* What the server transports need to make sessions of this gateway. */
const struct mcp_serve_factory *gateway_factory(struct gateway *g);

#endif
