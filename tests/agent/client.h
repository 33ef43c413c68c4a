/* SPDX-License-Identifier: Apache-2.0 */
/* A tiny blocking client of the lg-agent protocol, for tests only. */
#ifndef LG_TESTS_AGENT_CLIENT_H
#define LG_TESTS_AGENT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/proto.h"

struct client {
	int fd;
	struct lg_decoder dec;
};

struct msg {
	uint8_t type;
	uint32_t stream;
	uint32_t len;
	uint8_t *data; /* len bytes, NUL-terminated copy */
};

enum {
	RECV_MSG = 1,
	RECV_TIMEOUT = 0,
	RECV_EOF = -1,	 /* orderly close or reset by the agent */
	RECV_ERROR = -2, /* I/O error or undecodable bytes */
};

uint64_t mono_ms(void);
struct client *client_connect(const char *path);
void client_free(struct client *c);
int client_send_raw(struct client *c, const void *p, size_t len);
int client_send(struct client *c, uint8_t type, uint32_t stream, const void *p,
		size_t len);
int client_send_u32(struct client *c, uint8_t type, uint32_t stream,
		    uint16_t tag, uint32_t v);
/* One of RECV_*; with RECV_MSG, free *m with msg_free. */
int client_recv(struct client *c, struct msg *m, int timeout_ms);
void msg_free(struct msg *m);
/* 0 and *v, or -errno (-ENOENT: no such TLV). */
int msg_u32(const struct msg *m, uint16_t tag, uint32_t *v);
int msg_str(const struct msg *m, uint16_t tag, char *out, size_t cap);

#endif
