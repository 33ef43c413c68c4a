/* SPDX-License-Identifier: Apache-2.0 */
/* Host side of the agent channel: handshake, file transfer, exec. */
#ifndef LG_AGENT_CLIENT_H
#define LG_AGENT_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/proto.h"
#include "common/clock.h"

/* A send that cannot make progress for this long fails with -ETIMEDOUT. */
#define LG_CLIENT_SEND_TIMEOUT_MS 10000

struct lg_client {
	int fd;	       /* connected stream; not owned */
	int cancel_fd; /* readable: waits fail with -ECANCELED; -1 none */
	struct lg_decoder *dec;
	uint32_t next_stream;
	char agent_version[64];
	char kernel[128];
};

/* err/errlen: a one-line reason on failure, for the user. */
int lg_client_open(struct lg_client *c, int fd);
void lg_client_close(struct lg_client *c);
int lg_client_send(struct lg_client *c, uint8_t type, uint32_t stream,
		   const void *payload, size_t len);
/* 1 and a frame; -ETIMEDOUT; -ECONNRESET when the peer closed; -errno. */
int lg_client_recv(struct lg_client *c, struct lg_frame *f, int timeout_ms);
/* One read from the channel into the decoder; -ECONNRESET at EOF. */
int lg_client_fill(struct lg_client *c);
uint32_t lg_client_new_stream(struct lg_client *c);
/* Grants the agent n more bytes of output on stream. */
int lg_client_window(struct lg_client *c, uint32_t stream, uint32_t n);
/* Sends a frame whose payload is one u32 TLV. */
int lg_client_send_u32(struct lg_client *c, uint8_t type, uint32_t stream,
		       uint16_t tag, uint32_t v);
/* Credit from the peer, capped at the protocol's window. */
uint32_t lg_credit_add(uint32_t credit, uint32_t add);
/* A peer's errno value, or EIO when it is not a plausible errno. */
int lg_errno_from_peer(uint32_t e);

int lg_client_hello(struct lg_client *c, int timeout_ms, char *err,
		    size_t errlen);
int lg_client_put_file(struct lg_client *c, int src_fd, mode_t mode,
		       const char *guest_path, char *err, size_t errlen);
struct lg_file_get {
	int dst_fd;
	uint64_t max_bytes; /* a larger file fails with -EFBIG */
	uint64_t received;  /* out: bytes written to dst_fd */
	mode_t mode;	    /* out: the guest file's permission bits */
	uint32_t allowed;   /* internal: credit the guest still has */
};

int lg_client_get_file(struct lg_client *c, const char *guest_path,
		       struct lg_file_get *g, char *err, size_t errlen);

/* Asks the agent to power the VM off; 0 once it acknowledged. */
int lg_client_shutdown(struct lg_client *c, int timeout_ms);

enum lg_exec_outcome {
	LG_EXEC_EXITED,	      /* code holds the exit status */
	LG_EXEC_SIGNALED,     /* sig holds the signal */
	LG_EXEC_NOT_STARTED,  /* err/msg: the agent could not start it */
	LG_EXEC_TIMED_OUT,    /* the host deadline passed first */
	LG_EXEC_INTERRUPTED,  /* the caller was signalled (sig) */
	LG_EXEC_CHANNEL_LOST, /* the agent or the VM went away (msg) */
};

struct lg_exec_io {
	int in_fd;	     /* -1: no stdin */
	int out_fd;	     /* guest stdout goes here */
	int err_fd;	     /* guest stderr goes here */
	int cancel_fd;	     /* signalfd for SIGINT/SIGTERM/SIGHUP, or -1 */
	unsigned timeout_ms; /* 0: none; counted from the command's start */
};

struct lg_exec_result {
	enum lg_exec_outcome outcome;
	int code;
	int sig;
	int err;
	char msg[256];
	uint64_t t_started; /* CLOCK_MONOTONIC ns: STARTED received */
	uint64_t t_exited;  /* EXIT received */
};

int lg_client_exec(struct lg_client *c, const struct lg_exec_req *req,
		   const struct lg_exec_io *io, struct lg_exec_result *res);

#endif
