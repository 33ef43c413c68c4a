/* SPDX-License-Identifier: Apache-2.0 */
/* Internal to the stdio transport: starting the server process. */
#ifndef LG_MCP_STDIO_CHILD_H
#define LG_MCP_STDIO_CHILD_H

#include <sys/types.h>

#include "mcp/stdio.h"

struct stdio_child {
	pid_t pid;	  /* also the process group */
	int pidfd;	  /* readable once it has exited */
	int in, out, err; /* our ends: its stdin, stdout, stderr */
};

/* 0, or a negative errno with err ("cannot run X: ..."). */
int stdio_child_spawn(const struct mcp_stdio_opts *o, struct stdio_child *ch,
		      char *err, size_t err_size);

#endif
