/* SPDX-License-Identifier: Apache-2.0 */
/* `luminaguard mcp serve`: the gateway (cmd-mcp.c dispatches to it). */
#ifndef LG_CLI_CMD_MCP_SERVE_H
#define LG_CLI_CMD_MCP_SERVE_H

#include <stdio.h>

/* argv[0] is "serve". Returns the exit code. */
int cmd_mcp_serve(int argc, char **argv);
void cmd_mcp_serve_usage(FILE *out);

#endif
