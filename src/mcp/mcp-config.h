/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "mcp" section of the config file ($LUMINAGUARD_CONFIG, else
 * $XDG_CONFIG_HOME/luminaguard/config.json, else
 * ~/.config/luminaguard/config.json):
 *
 *   {"mcp": {"servers": {
 *     "NAME": {"command": ["argv0", "arg"...], "env": {"K": "V"},
 *              "cwd": "/dir", "restart": false, "sandbox": false,
 *              "timeout_ms": 60000},
 *     "NAME2": {"url": "https://host/mcp" | "urls": ["...", "..."],
 *               "headers": {"Authorization": {"env": "VAR"} |
 *                                             {"file": "path"} | "literal"},
 *               "timeout_ms": 60000, "connect_timeout_ms": 10000,
 *               "request_timeout_ms": 300000, "ca_file": "...",
 *               "ca_path": "...", "client_cert": "...", "client_key": "...",
 *               "tls_insecure": false,
 *               "retry": {"initial_ms", "max_ms", "multiplier", "jitter",
 *                         "max_attempts", "deadline_ms", "cooldown_ms"}}}}}
 *
 * Also "gateway": {...} in the section and "copy_in": {...} per stdio
 * server: owned by the gateway (gateway-config.c parses them, strictly);
 * here they are only checked to be objects and kept.
 *
 * Keys are strict: an unknown or mistyped key is an error naming it.
 * NAME is 1-64 of [A-Za-z0-9_-] (the gateway prefixes tools with it).
 * timeout_ms is the client's per-request timeout for both kinds.
 */
#ifndef LG_MCP_MCP_CONFIG_H
#define LG_MCP_MCP_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcp/http.h"
#include "mcp/retry.h"

enum mcp_server_kind {
	MCP_SERVER_STDIO,
	MCP_SERVER_HTTP,
};

/* Strings point into the config's JSON (alive until mcp_config_free). */
struct mcp_server_config {
	const char *name;
	enum mcp_server_kind kind;
	unsigned int timeout_ms; /* 0: the client's default */
	json_t *raw;		 /* this server's object (borrowed) */
	/* stdio */
	const char **argv; /* NULL-terminated */
	char **env;	   /* "NAME=VALUE", NULL-terminated; owned */
	const char *cwd;
	bool restart, sandbox;
	json_t *copy_in; /* added: "copy_in" (borrowed) or NULL; the gateway's
			  */
	/* http: ready to pass to mcp_http_transport_create() */
	struct mcp_http_opts http;
	const char **urls;
	struct mcp_http_header *headers;
	struct mcp_retry_policy retry;
};

struct mcp_config {
	json_t *root;	 /* the "mcp" object */
	json_t *gateway; /* added: "gateway" (borrowed) or NULL; the gateway's
			  */
	struct mcp_server_config *servers;
	size_t n_servers;
};

/*
 * Reads mcp_section (the value of the top-level "mcp" key; a reference
 * is taken). 0, or -EINVAL with err naming the offending key.
 */
int mcp_config_parse(json_t *mcp_section, struct mcp_config *cfg, char *err,
		     size_t err_size);

/*
 * Loads the "mcp" section of the config file at path, or (path NULL) of
 * the default one; a default file that does not exist, or a file without
 * an "mcp" key, gives an empty config. 0 or a negative errno with err.
 */
int mcp_config_load(const char *path, struct mcp_config *cfg, char *err,
		    size_t err_size);

const struct mcp_server_config *mcp_config_find(const struct mcp_config *cfg,
						const char *name);
void mcp_config_free(struct mcp_config *cfg);

#endif
