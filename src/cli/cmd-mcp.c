/* SPDX-License-Identifier: Apache-2.0 */
/*
 * luminaguard mcp: talk to one MCP server from the command line.
 *   luminaguard mcp [OPTIONS] tools|resources|prompts SERVER
 *   luminaguard mcp [OPTIONS] call SERVER TOOL [JSON-ARGS]
 *   luminaguard mcp [OPTIONS] read SERVER URI
 *   luminaguard mcp [OPTIONS] prompt SERVER NAME [JSON-ARGS]
 *   luminaguard mcp serve ...          (the gateway, cmd-mcp-serve.c)
 * SERVER is an http(s):// URL, a server name from the config file, or is
 * left out when `-- CMD ARGS...` ends the line (a stdio server).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd-mcp-render.h"
#include "cli/cmd-mcp-serve.h"
#include "common/log.h"
#include "mcp/client.h"
#include "mcp/http.h"
#include "mcp/mcp-config.h"
#include "mcp/stdio.h"

/* The gateway links in cmd-mcp-serve.c when it is built; until then the
 * weak reference stays NULL and `mcp serve` says so. */
#pragma weak cmd_mcp_serve

/* Exit code for a tool that returned isError. */
#define MCP_EXIT_TOOL_ERROR 1

struct mcp_cli {
	bool json;
	unsigned int timeout_ms;
	const char *config;
	enum mcp_elicit_policy elicit;
	const char *sub;
	char **operands; /* after the subcommand, before "--" */
	int n_operands;
	char **cmd; /* after "--", NULL-terminated, or NULL */
};

static void mcp_usage(FILE *out)
{
	fprintf(out,
		"usage: luminaguard mcp [OPTIONS] COMMAND SERVER [ARGS...]\n"
		"       luminaguard mcp [OPTIONS] COMMAND [ARGS...] -- CMD "
		"[CMD-ARGS...]\n"
		"\n"
		"Talk to one MCP server.\n"
		"\n"
		"Commands:\n"
		"  tools SERVER                  list tools\n"
		"  call SERVER TOOL [JSON-ARGS]  call a tool (arguments: a "
		"JSON object)\n"
		"  resources SERVER              list resources and "
		"templates\n"
		"  read SERVER URI               read a resource\n"
		"  prompts SERVER                list prompts\n"
		"  prompt SERVER NAME [JSON-ARGS] get a prompt\n"
		"  serve [OPTIONS]               run the MCP gateway (see "
		"`mcp serve --help`)\n"
		"\n"
		"SERVER is an http:// or https:// URL, a name from the "
		"config's \"mcp\"\n"
		"section, or left out when `-- CMD ARGS...` ends the line: "
		"CMD is then\n"
		"started as a stdio server (no shell).\n"
		"\n"
		"Options:\n"
		"  --json            print results as JSON (for scripts)\n"
		"  --timeout SEC     per-request timeout (default 60)\n"
		"  --config FILE     config file (default: "
		"$LUMINAGUARD_CONFIG, else\n"
		"                    ~/.config/luminaguard/config.json)\n"
		"  --elicit POLICY   answer a server's questions: decline "
		"(default),\n"
		"                    cancel, or accept (the form's defaults)\n"
		"  -h, --help        show this help\n"
		"\n"
		"Exit codes: 0 ok, 1 the tool reported an error (isError), 2 "
		"usage,\n"
		"125 connection or protocol failure.\n");
}

static int elicit_parse(const char *s, enum mcp_elicit_policy *p)
{
	if (strcmp(s, "decline") == 0)
		*p = MCP_ELICIT_DECLINE;
	else if (strcmp(s, "cancel") == 0)
		*p = MCP_ELICIT_CANCEL;
	else if (strcmp(s, "accept") == 0)
		*p = MCP_ELICIT_ACCEPT_DEFAULTS;
	else
		return -EINVAL;
	return 0;
}

/* 0, 1 for --help, -EINVAL (reported). */
static int cli_parse(struct mcp_cli *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 't'},
		{"config", required_argument, NULL, 'c'},
		{"elicit", required_argument, NULL, 'e'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	char *end;
	int c, n = argc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			n = i;
			o->cmd = argv + i + 1;
			if (!o->cmd[0]) {
				lg_err("mcp: nothing to run after --");
				return -EINVAL;
			}
			break;
		}
	}
	while ((c = getopt_long(n, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 't': {
			double s = strtod(optarg, &end);

			if (*end || end == optarg || !(s > 0) || s > 86400) {
				lg_err("mcp: --timeout wants seconds (0 < "
				       "SEC <= 86400)");
				return -EINVAL;
			}
			o->timeout_ms = (unsigned int)(s * 1000 + 0.5);
			if (!o->timeout_ms)
				o->timeout_ms = 1;
			break;
		}
		case 'c':
			o->config = optarg;
			break;
		case 'e':
			if (elicit_parse(optarg, &o->elicit) < 0) {
				lg_err("mcp: --elicit is decline, cancel or "
				       "accept");
				return -EINVAL;
			}
			break;
		case 'h':
			return 1;
		default:
			return -EINVAL;
		}
	}
	if (optind >= n) {
		lg_err("mcp: which command? (tools, call, resources, read, "
		       "prompts, prompt, serve)");
		return -EINVAL;
	}
	o->sub = argv[optind];
	o->operands = argv + optind + 1;
	o->n_operands = n - optind - 1;
	return 0;
}

/* The server's transport from a URL, a config name, or the -- command. */
static int transport_open(struct mcp_cli *o, const char *server,
			  struct mcp_transport **t, char *err, size_t n)
{
	const struct mcp_server_config *sc;
	struct mcp_config cfg;
	int rc;

	if (o->cmd) {
		struct mcp_stdio_opts so = {.argv = o->cmd};

		return mcp_stdio_transport_create(&so, t, err, n);
	}
	if (strncmp(server, "http://", 7) == 0 ||
	    strncmp(server, "https://", 8) == 0) {
		const char *urls[] = {server};
		struct mcp_http_opts ho = {.urls = urls, .n_urls = 1};

		return mcp_http_transport_create(&ho, t, err, n);
	}
	rc = mcp_config_load(o->config, &cfg, err, n);
	if (rc < 0)
		return rc;
	sc = mcp_config_find(&cfg, server);
	if (!sc) {
		snprintf(err, n,
			 "no server \"%s\" in the config's \"mcp\" section "
			 "(and not an http(s):// URL)",
			 server);
		rc = -ENOENT;
	} else if (sc->sandbox) {
		snprintf(err, n,
			 "server \"%s\" is sandboxed: it runs under "
			 "`luminaguard mcp serve`",
			 server);
		rc = -ENOTSUP;
	} else if (sc->kind == MCP_SERVER_STDIO) {
		struct mcp_stdio_opts so = {.name = sc->name,
					    .argv = (char *const *)sc->argv,
					    .env = sc->env,
					    .cwd = sc->cwd};

		rc = mcp_stdio_transport_create(&so, t, err, n);
	} else {
		rc = mcp_http_transport_create(&sc->http, t, err, n);
	}
	if (sc && !o->timeout_ms)
		o->timeout_ms = sc->timeout_ms;
	mcp_config_free(&cfg);
	return rc;
}

static int session_open(struct mcp_cli *o, const char *server,
			struct mcp_client **c)
{
	struct mcp_client_opts co = {.timeout_ms = o->timeout_ms,
				     .elicit = o->elicit,
				     .elicit_declared = true};
	struct mcp_transport *t;
	struct mcp_error e = {0};
	char err[512];
	int rc;

	rc = transport_open(o, server, &t, err, sizeof(err));
	if (rc < 0) {
		lg_err("mcp: %s", err);
		return rc;
	}
	co.timeout_ms = o->timeout_ms;
	rc = mcp_client_create(t, &co, c, err, sizeof(err));
	if (rc < 0) {
		lg_err("mcp: %s", err);
		return rc;
	}
	rc = mcp_client_initialize(*c, &e);
	if (rc < 0) {
		lg_err("mcp: initialize: %s", e.message);
		mcp_error_clear(&e);
		mcp_client_destroy(*c);
		*c = NULL;
	}
	return rc;
}

static void error_report(const char *what, struct mcp_error *e)
{
	if (e->code)
		lg_err("mcp: %s: server error %lld: %s", what,
		       (long long)e->code, e->message);
	else
		lg_err("mcp: %s: %s", what, e->message);
	mcp_error_clear(e);
}

static void json_print(json_t *v)
{
	json_dumpf(v, stdout, JSON_INDENT(2));
	putchar('\n');
}

/* Parses an optional JSON-ARGS operand; NULL with *bad on error. */
static json_t *args_parse(const char *text, bool *bad)
{
	json_error_t jerr;
	json_t *v;

	*bad = false;
	if (!text)
		return json_object();
	v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(v)) {
		lg_err("mcp: arguments must be a JSON object%s%s",
		       v ? "" : ": ", v ? "" : jerr.text);
		json_decref(v);
		*bad = true;
		return NULL;
	}
	return v;
}

static int do_list(struct mcp_cli *o, struct mcp_client *c)
{
	const char *method, *key;
	json_t *items, *templates = NULL, *out;
	struct mcp_error e = {0};

	if (strcmp(o->sub, "tools") == 0) {
		method = "tools/list";
		key = "tools";
	} else if (strcmp(o->sub, "resources") == 0) {
		method = "resources/list";
		key = "resources";
	} else {
		method = "prompts/list";
		key = "prompts";
	}
	if (mcp_client_list_all(c, method, key, &items, &e) < 0) {
		error_report(method, &e);
		return LG_EXIT_INTERNAL;
	}
	if (strcmp(key, "resources") == 0 &&
	    json_object_get(mcp_client_server_capabilities(c), "resources") &&
	    mcp_client_list_all(c, "resources/templates/list",
				"resourceTemplates", &templates, &e) < 0) {
		/* Some servers have resources but no templates method. */
		lg_debug("mcp: resources/templates/list: %s", e.message);
		mcp_error_clear(&e);
	}
	if (o->json) {
		out = json_pack("{s:o}", key, items);
		if (templates)
			json_object_set_new(out, "resourceTemplates",
					    templates);
		json_print(out);
		json_decref(out);
		return LG_EXIT_OK;
	}
	if (strcmp(key, "tools") == 0)
		mcp_render_tools(stdout, items);
	else if (strcmp(key, "resources") == 0)
		mcp_render_resources(stdout, items, templates);
	else
		mcp_render_prompts(stdout, items);
	json_decref(items);
	json_decref(templates);
	return LG_EXIT_OK;
}

/* call, read, prompt: one request, one result. */
static int do_one(struct mcp_cli *o, struct mcp_client *c, json_t *params)
{
	const char *method = strcmp(o->sub, "call") == 0   ? "tools/call"
			     : strcmp(o->sub, "read") == 0 ? "resources/read"
							   : "prompts/get";
	struct mcp_error e = {0};
	json_t *res;
	int rc = LG_EXIT_OK;

	if (mcp_client_request(c, method, params, NULL, &res, &e) < 0) {
		error_report(method, &e);
		return LG_EXIT_INTERNAL;
	}
	if (strcmp(o->sub, "call") == 0) {
		bool is_error = json_is_true(json_object_get(res, "isError"));

		if (o->json)
			json_print(res);
		else
			mcp_render_call(stdout, res);
		if (is_error)
			rc = MCP_EXIT_TOOL_ERROR;
	} else if (o->json) {
		json_print(res);
	} else if (strcmp(o->sub, "read") == 0) {
		mcp_render_read(stdout, res);
	} else {
		mcp_render_prompt(stdout, res);
	}
	json_decref(res);
	return rc;
}

/* The request's params from the operands after SERVER; NULL: usage. */
static json_t *params_make(struct mcp_cli *o, char **ops, int n)
{
	bool list = strcmp(o->sub, "tools") == 0 ||
		    strcmp(o->sub, "resources") == 0 ||
		    strcmp(o->sub, "prompts") == 0;
	json_t *args;
	bool bad;

	if (list)
		return n == 0 ? json_object() : NULL;
	if (strcmp(o->sub, "read") == 0)
		return n == 1 ? json_pack("{s:s}", "uri", ops[0]) : NULL;
	if (strcmp(o->sub, "call") != 0 && strcmp(o->sub, "prompt") != 0)
		return NULL;
	if (n < 1 || n > 2)
		return NULL;
	args = args_parse(n == 2 ? ops[1] : NULL, &bad);
	if (bad)
		return NULL;
	if (strcmp(o->sub, "prompt") == 0) {
		/* prompts/get arguments are strings. */
		const char *k;
		json_t *v;

		json_object_foreach(args, k, v)
		{
			if (!json_is_string(v)) {
				lg_err("mcp: prompt argument %s must be a "
				       "string",
				       k);
				json_decref(args);
				return NULL;
			}
		}
	}
	return json_pack("{s:s,s:o}", "name", ops[0], "arguments", args);
}

static int cmd_mcp_run(int argc, char **argv)
{
	struct mcp_cli o = {0};
	struct mcp_client *c;
	const char *server = NULL;
	char **ops;
	json_t *params;
	int n, rc;

	if (argc > 1 && strcmp(argv[1], "serve") == 0) {
		if (!cmd_mcp_serve) {
			lg_err("mcp serve: the gateway is not built yet");
			return LG_EXIT_INTERNAL;
		}
		return cmd_mcp_serve(argc - 1, argv + 1);
	}
	rc = cli_parse(&o, argc, argv);
	if (rc == 1) {
		mcp_usage(stdout);
		return LG_EXIT_OK;
	}
	if (rc < 0) {
		fprintf(stderr, "Run `luminaguard mcp --help` for usage.\n");
		return LG_EXIT_USAGE;
	}
	if (strcmp(o.sub, "serve") == 0) {
		lg_err("mcp: put serve's options after it: `luminaguard mcp "
		       "serve --help`");
		return LG_EXIT_USAGE;
	}
	ops = o.operands;
	n = o.n_operands;
	if (!o.cmd) {
		if (n < 1) {
			lg_err("mcp %s: which server? (a URL, a config name, "
			       "or -- CMD ARGS)",
			       o.sub);
			return LG_EXIT_USAGE;
		}
		server = ops[0];
		ops++;
		n--;
	}
	params = params_make(&o, ops, n);
	if (!params) {
		lg_err("mcp: bad arguments for '%s'; run `luminaguard mcp "
		       "--help`",
		       o.sub);
		return LG_EXIT_USAGE;
	}
	if (session_open(&o, server, &c) < 0) {
		json_decref(params);
		return LG_EXIT_INTERNAL;
	}
	if (!json_object_size(params)) {
		json_decref(params);
		rc = do_list(&o, c);
	} else {
		rc = do_one(&o, c, params);
	}
	mcp_client_destroy(c);
	return rc;
}

static void cmd_mcp_usage(FILE *out)
{
	mcp_usage(out);
}

const struct lg_cmd lg_cmd_mcp = {
	.name = "mcp",
	.summary = "talk to MCP servers, or serve them (`mcp serve`)",
	.run = cmd_mcp_run,
	.usage = cmd_mcp_usage,
};
