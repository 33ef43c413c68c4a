/* SPDX-License-Identifier: Apache-2.0 */
/*
 * luminaguard mcp serve: the MCP gateway on our stdin/stdout or on
 * Streamable HTTP, in front of the servers of the config's "mcp" section.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cmd-mcp-serve.h"
#include "common/log.h"
#include "mcp/gateway.h"
#include "mcp/mcp-config.h"
#include "mcp/serve.h"

#define DEFAULT_HTTP "127.0.0.1:8080"

void cmd_mcp_serve_usage(FILE *out)
{
	fprintf(out,
		"usage: luminaguard mcp serve [--config FILE] [--stdio | "
		"--http ADDR]\n"
		"\n"
		"Serve MCP: the tools, resources and prompts of every server "
		"in the\n"
		"config's \"mcp\" section, named SERVER__NAME, plus the "
		"built-in tool\n"
		"sandbox_exec (a command in a fresh micro-VM).\n"
		"\n"
		"  --config FILE  config file (default: $LUMINAGUARD_CONFIG, "
		"else\n"
		"                 ~/.config/luminaguard/config.json)\n"
		"  --stdio        MCP on stdin/stdout (the default unless "
		"the config\n"
		"                 sets mcp.gateway.http)\n"
		"  --http ADDR    Streamable HTTP at http://ADDR/mcp; ADDR is "
		"HOST:PORT\n"
		"                 (e.g. %s; off 127.0.0.1/::1 a bearer "
		"token is\n"
		"                 required: mcp.gateway.token or "
		"$LUMINAGUARD_MCP_TOKEN)\n"
		"\n"
		"Logs go to stderr. SIGINT/SIGTERM stop the gateway and every "
		"upstream.\n",
		DEFAULT_HTTP);
}

static int signals_capture(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static int serve_http(struct gateway *g, const struct gateway_config *gc,
		      const char *addr, int sigfd)
{
	struct mcp_http_serve_opts o = {
		.addr = addr,
		.origins = (const char *const *)gc->origins,
		.token = gc->token,
	};
	struct mcp_http_server *hs;
	struct pollfd p = {.fd = sigfd, .events = POLLIN};
	char err[512];
	int rc;

	rc = mcp_http_server_start(&o, gateway_factory(g), &hs, err,
				   sizeof(err));
	if (rc < 0) {
		lg_err("%s", err);
		return rc;
	}
	/* The port line lets a parent that asked for port 0 find us. */
	fprintf(stderr,
		"luminaguard: mcp gateway listening on http://%s/mcp "
		"(port %u)\n",
		addr, mcp_http_server_port(hs));
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	lg_info("mcp serve: stopping");
	mcp_http_server_stop(hs);
	return 0;
}

int cmd_mcp_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"stdio", no_argument, NULL, 's'},
		{"http", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *config = NULL, *http = NULL;
	bool want_http = false, want_stdio = false;
	struct mcp_config mcp = {0};
	struct gateway_config gc;
	struct gateway *g = NULL;
	char err[1024];
	int c, rc, sigfd;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			want_stdio = true;
			break;
		case 'H':
			want_http = true;
			http = optarg;
			break;
		case 'h':
			cmd_mcp_serve_usage(stdout);
			return LG_EXIT_OK;
		default:
			return LG_EXIT_USAGE;
		}
	}
	if (optind < argc || (want_http && want_stdio)) {
		lg_err("mcp serve takes --stdio or --http ADDR, not both, and "
		       "no arguments");
		return LG_EXIT_USAGE;
	}
	if (gateway_config_load(config, &mcp, &gc, err, sizeof(err)) < 0) {
		lg_err("%s", err);
		return LG_EXIT_USAGE;
	}
	/* No flag: HTTP when the config names an address, else stdio. */
	if (!want_http && !want_stdio && gc.http) {
		want_http = true;
		http = gc.http;
	}
	sigfd = signals_capture();
	if (sigfd < 0) {
		lg_err("signalfd: %s", strerror(errno));
		rc = -EIO;
		goto out;
	}
	rc = gateway_create(&mcp, &gc, &g, err, sizeof(err));
	if (rc < 0) {
		lg_err("%s", err);
		goto out;
	}
	if (want_http)
		rc = serve_http(g, &gc, http, sigfd);
	else
		rc = mcp_serve_stdio(gateway_factory(g), STDIN_FILENO,
				     STDOUT_FILENO, sigfd);
out:
	gateway_destroy(g);
	if (sigfd >= 0)
		close(sigfd);
	gateway_config_free(&gc);
	mcp_config_free(&mcp);
	if (rc == -EACCES || rc == -EINVAL)
		return LG_EXIT_USAGE;
	return rc < 0 ? LG_EXIT_INTERNAL : LG_EXIT_OK;
}
