/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client for Firecracker's REST API (HTTP/1.1 + JSON on a Unix socket),
 * spoken by `firecracker` and by our `lgvmm`. One client is used by one
 * thread at a time; requests reuse the connection when the server keeps
 * it open.
 */
#ifndef LG_HV_FC_CLIENT_H
#define LG_HV_FC_CLIENT_H

#include "hv/proc.h"

#include <stddef.h>
#include <stdint.h>

/* Largest response body accepted; bigger ones fail with -EMSGSIZE. */
#define LG_FC_RESPONSE_MAX (256u << 10)

struct lg_fc_client;

/*
 * A client for the API socket at sock_path; `name` ("lgvmm",
 * "firecracker") starts its error messages. Each request gives up after
 * timeout_ms (connecting included). -errno on failure (no memory).
 */
int lg_fc_client_open(const char *name, const char *sock_path,
		      unsigned timeout_ms, struct lg_fc_client **out);
void lg_fc_client_close(struct lg_fc_client *c);
/* The time limit of the following requests. */
void lg_fc_client_set_timeout(struct lg_fc_client *c, unsigned timeout_ms);

/*
 * One request; json_body may be NULL (no body). *status gets the HTTP
 * status (0 when there was no answer) and *response, when response is
 * not NULL, the body (malloc'd, NUL-terminated, possibly empty; free it)
 * whatever the status. Returns 0 for a 2xx answer. Otherwise err holds
 * "NAME: METHOD PATH: ..." with the server's fault_message (or a cleaned
 * excerpt of a body that is not Firecracker's error JSON) and the return
 * is -EREMOTEIO (the server answered with an error status), -ETIMEDOUT,
 * -ECONNREFUSED / -ENOENT (nobody listens / no socket), -ECONNRESET (the
 * server closed the connection without an answer), -EMSGSIZE (answer
 * too large), -EPROTO (not HTTP) or -EIO.
 */
int lg_fc_client_put(struct lg_fc_client *c, const char *path,
		     const char *json_body, long *status, char **response,
		     char *err, size_t errlen);
int lg_fc_client_patch(struct lg_fc_client *c, const char *path,
		       const char *json_body, long *status, char **response,
		       char *err, size_t errlen);
int lg_fc_client_get(struct lg_fc_client *c, const char *path, long *status,
		     char **response, char *err, size_t errlen);

/*
 * Waits until the Unix socket sock_path accepts connections, polling with
 * a small growing backoff. Gives up with -ECHILD when proc exits first
 * (err: "NAME exited with status 1 before its API socket was ready"; the
 * process is left unreaped for the caller) or with -ETIMEDOUT at
 * deadline_ns (CLOCK_MONOTONIC). proc may be NULL (nothing to watch).
 */
int lg_fc_client_wait_ready(const char *name, const char *sock_path,
			    const struct lg_proc *proc, uint64_t deadline_ns,
			    char *err, size_t errlen);

#endif
