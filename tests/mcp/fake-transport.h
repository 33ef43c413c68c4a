/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A scripted in-process transport for client tests: what the client sends
 * is queued for the test to inspect; the test plays the server by
 * delivering messages as the transport's thread would.
 */
#ifndef LG_TESTS_MCP_FAKE_TRANSPORT_H
#define LG_TESTS_MCP_FAKE_TRANSPORT_H

#include <jansson.h>
#include <pthread.h>

#include "mcp/transport.h"

struct fake {
	struct mcp_transport base;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	json_t *sent; /* messages not yet taken by fake_expect */
	const struct mcp_transport_events *ev;
	void *opaque;
	int *destroyed; /* set to 1 on destroy, if not NULL */
};

struct fake *fake_new(int *destroyed);
/*
 * Waits (up to 5 s) for a sent message whose method is method (NULL: a
 * response) and takes it: a new reference, or NULL on timeout.
 */
json_t *fake_expect(struct fake *f, const char *method);
/* How many sent messages are waiting, after waiting ms for more. */
size_t fake_pending(struct fake *f, int ms);
/* Delivers one message as the server. */
void fake_deliver(struct fake *f, const char *text);
void fake_deliverf(struct fake *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void fake_close(struct fake *f, int err, const char *why);

#endif
