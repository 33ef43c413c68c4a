/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host side of Firecracker's vsock model: the host connects to the
 * device's uds_path, sends "CONNECT <port>\n" and, once a guest socket
 * accepted, reads "OK <host port>\n"; the VMM closes the connection when
 * no guest socket listens on the port (yet).
 */
#ifndef LG_HV_FC_VSOCK_H
#define LG_HV_FC_VSOCK_H

#include "hv/proc.h"

#include <stddef.h>
#include <stdint.h>

/* The longest reply line taken (Firecracker's own buffer is 32 bytes). */
#define LG_FC_VSOCK_REPLY_MAX 32u

struct lg_fc_vsock_wait {
	uint64_t deadline_ns; /* CLOCK_MONOTONIC: give up after it */
	int cancel_fd;	      /* readable: give up (-1 or 0: none) */
	/* The VMM: its exit ends the wait (NULL: nothing to watch). */
	const struct lg_proc *proc;
	/* How long one attempt may wait for its reply, in ms (0: 3000). */
	unsigned attempt_ms;
};

/*
 * Connects to guest port `port` through uds_path, retrying with a small
 * backoff while the socket is missing or refused and while the VMM closes
 * the connection or no reply comes (the guest is not listening yet). On
 * success *fd is the connected stream, in blocking mode, with nothing
 * read past the reply line. Fails with -ETIMEDOUT at the deadline,
 * -ECANCELED when cancel_fd is readable, -ECHILD when the VMM exited
 * (not reaped), -EPROTO for a reply that is not "OK <port>\n", or the
 * -errno of a system call, with err saying which.
 */
int lg_fc_vsock_connect(const char *uds_path, unsigned port,
			const struct lg_fc_vsock_wait *w, int *fd, char *err,
			size_t errlen);

#endif
