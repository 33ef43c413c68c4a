/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fresh micro-VMs for the gateway: boot one with lg-agent ready, copy
 * files in and out, run one command with its output captured in memory,
 * or run a long-lived process whose stdio is carried over the agent
 * channel (an MCP stdio server in a VM, vm-transport.c).
 */
#ifndef LG_MCP_SANDBOX_H
#define LG_MCP_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/client.h"
#include "hv/hv.h"

struct lg_sandbox_opts {
	const char *backend;	 /* NULL: lg_hv_default_backend() */
	const char *image;	 /* image directory; NULL: lg_image_default() */
	unsigned vcpus;		 /* 0: 1 */
	unsigned mem_mib;	 /* 0: 256 */
	unsigned boot_timeout_s; /* 0: 60 */
	int cancel_fd;		 /* readable: give up booting; -1 none */
};

struct lg_sandbox {
	struct lg_vm *vm;
	struct lg_client c; /* open once lg_sandbox_start returned 0 */
};

/* Boots a VM and greets its agent. 0, or -errno with err. */
int lg_sandbox_start(const struct lg_sandbox_opts *o, struct lg_sandbox *sb,
		     char *err, size_t errlen);
/* Asks the guest to power off (quickly), then destroys the VM. */
void lg_sandbox_stop(struct lg_sandbox *sb);

/* Writes len bytes to guest_path with mode. */
int lg_sandbox_put(struct lg_sandbox *sb, const void *data, size_t len,
		   unsigned mode, const char *guest_path, char *err,
		   size_t errlen);
/* Copies the host file host_path to guest_path (its mode kept). */
int lg_sandbox_put_path(struct lg_sandbox *sb, const char *host_path,
			const char *guest_path, char *err, size_t errlen);
/* Reads guest_path (at most max bytes) into *data (malloc'd). */
int lg_sandbox_get(struct lg_sandbox *sb, const char *guest_path, size_t max,
		   void **data, size_t *len, char *err, size_t errlen);

struct lg_sandbox_cmd {
	char **argv; /* NULL-terminated */
	char **envp; /* "K=V", NULL-terminated; may be NULL */
	const char *cwd;
	const void *stdin_data; /* may be NULL: no stdin */
	size_t stdin_len;
	unsigned timeout_ms; /* 0: none */
	int cancel_fd;	     /* eventfd-like: readable = stop; -1 none */
	size_t max_output;   /* per stream; more is dropped (truncated) */
};

struct lg_sandbox_output {
	struct lg_exec_result r;
	char *out, *err; /* NUL-terminated, malloc'd */
	size_t out_len, err_len;
	bool out_truncated, err_truncated;
};

/* Runs cmd; 0 with res filled (see r.outcome), or -errno with err. */
int lg_sandbox_run(struct lg_sandbox *sb, const struct lg_sandbox_cmd *cmd,
		   struct lg_sandbox_output *res, char *err, size_t errlen);
void lg_sandbox_output_free(struct lg_sandbox_output *res);

#endif
