/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stdio MCP server inside a fresh micro-VM: the process runs under
 * lg-agent and its stdin/stdout are carried over the agent channel, one
 * JSON-RPC message a line, exactly as the stdio transport does with a
 * local child. Its filesystem is the guest image plus the files copied
 * in. Its stderr goes to our log. destroy() closes its stdin, then
 * signals it, then powers the VM off and destroys it.
 */
#ifndef LG_MCP_VM_TRANSPORT_H
#define LG_MCP_VM_TRANSPORT_H

#include <stddef.h>

#include "mcp/sandbox.h"
#include "mcp/transport.h"

struct mcp_vm_copy {
	const char *host;  /* a regular file on the host */
	const char *guest; /* its absolute path in the guest */
};

struct mcp_vm_opts {
	const char *name; /* for the log */
	struct lg_sandbox_opts vm;
	char *const *argv; /* NULL-terminated, run in the guest */
	char *const *env;  /* "K=V", NULL-terminated, or NULL */
	const char *cwd;   /* guest directory, or NULL */
	const struct mcp_vm_copy *copy_in;
	size_t n_copy_in;
};

/* Boots the VM, copies the files in and starts the server there. */
int mcp_vm_transport_create(const struct mcp_vm_opts *o,
			    struct mcp_transport **out, char *err,
			    size_t err_size);

#endif
