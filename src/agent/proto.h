/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host <-> lg-agent channel protocol, shared by both sides.
 *
 * A byte stream (vsock or virtio-serial) carries frames: a fixed 12-byte
 * little-endian header followed by at most LG_FRAME_MAX_PAYLOAD bytes.
 * Structured payloads are sequences of TLVs. See docs/protocol.md.
 */
#ifndef LG_AGENT_PROTO_H
#define LG_AGENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_PROTO_VERSION 1
#define LG_FRAME_MAGIC 0x474cu /* "LG" on the wire */
#define LG_FRAME_HDR_SIZE 12u
#define LG_FRAME_MAX_PAYLOAD 65536u
#define LG_FRAME_MAX (LG_FRAME_HDR_SIZE + LG_FRAME_MAX_PAYLOAD)

/* Bytes of data a sender may have unacknowledged on one stream. */
#define LG_WINDOW_INITIAL (256u * 1024u)

/* vsock port lg-agent listens on; virtio-serial port name under QEMU. */
#define LG_AGENT_VSOCK_PORT 5123u
#define LG_AGENT_SERIAL_NAME "org.luminaguard.agent"

enum lg_frame_type {
	/* host -> guest */
	LG_MSG_HELLO = 0x01,	   /* TLV VERSION */
	LG_MSG_EXEC = 0x02,	   /* struct lg_exec_req as TLVs */
	LG_MSG_STDIN = 0x03,	   /* raw bytes, counted against the window */
	LG_MSG_STDIN_CLOSE = 0x04, /* empty */
	LG_MSG_SIGNAL = 0x05,	   /* TLV SIGNO */
	LG_MSG_FILE_PUT = 0x06, /* TLV PATH, MODE; then FILE_DATA*, FILE_END */
	LG_MSG_FILE_GET = 0x07, /* TLV PATH; answered FILE_DATA*, FILE_END */
	LG_MSG_SHUTDOWN = 0x08, /* empty; answered OK, then power off */
	/* both directions */
	LG_MSG_FILE_DATA = 0x10, /* raw bytes, counted against the window */
	LG_MSG_FILE_END = 0x11,	 /* empty (or TLV MODE from the guest) */
	LG_MSG_WINDOW =
		0x12, /* TLV CREDIT: receiver consumed that many bytes */
	/* guest -> host */
	LG_MSG_HELLO_OK = 0x81, /* TLV VERSION, AGENT_VERSION, KERNEL */
	LG_MSG_STARTED = 0x82,	/* TLV PID */
	LG_MSG_STDOUT = 0x83,	/* raw bytes, counted against the window */
	LG_MSG_STDERR = 0x84,	/* raw bytes, counted against the window */
	LG_MSG_EXIT = 0x85,  /* TLV EXIT_CODE or EXIT_SIGNAL; ends the stream */
	LG_MSG_ERROR = 0x86, /* TLV ERRNO, MESSAGE; ends the stream */
	LG_MSG_OK = 0x87,    /* empty; request on the stream done */
};

enum lg_tlv_tag {
	LG_TAG_VERSION = 1,	  /* u32 */
	LG_TAG_AGENT_VERSION = 2, /* string */
	LG_TAG_KERNEL = 3,	  /* string */
	LG_TAG_ARG = 10,	  /* string, repeated, in order */
	LG_TAG_ENV = 11,	  /* string "KEY=VALUE", repeated */
	LG_TAG_CWD = 12,	  /* string */
	LG_TAG_UID = 13,	  /* u32 */
	LG_TAG_GID = 14,	  /* u32 */
	LG_TAG_STDIN = 15,	  /* u32, 1 = stdin attached */
	LG_TAG_TIMEOUT_MS = 16,	  /* u32, 0 = none */
	LG_TAG_SIGNO = 20,	  /* u32 */
	LG_TAG_PATH = 21,	  /* string */
	LG_TAG_MODE = 22,	  /* u32 permission bits */
	LG_TAG_CREDIT = 23,	  /* u32 */
	LG_TAG_PID = 24,	  /* u32 */
	LG_TAG_EXIT_CODE = 25,	  /* u32 */
	LG_TAG_EXIT_SIGNAL = 26,  /* u32 */
	LG_TAG_ERRNO = 27,	  /* u32, Linux errno value */
	LG_TAG_MESSAGE = 28,	  /* string */
};

/* Limits enforced by decoders so a peer cannot make us allocate much. */
#define LG_EXEC_MAX_ARGS 4096u
#define LG_EXEC_MAX_ENV 4096u
#define LG_PATH_MAX 4096u

struct lg_frame {
	uint8_t type;
	uint32_t stream;
	uint32_t len;
	const uint8_t
		*payload; /* points into the decoder; valid until next call */
};

/* Encodes a header into out. Returns -EMSGSIZE if len is too large. */
int lg_frame_hdr_encode(uint8_t out[LG_FRAME_HDR_SIZE], uint8_t type,
			uint32_t stream, uint32_t len);

/* Returns false for a type this protocol version does not define. */
bool lg_frame_type_known(uint8_t type);
const char *lg_frame_type_name(uint8_t type);

/*
 * Incremental decoder: bytes go in with lg_decoder_fill (or read straight
 * into lg_decoder_space), whole frames come out of lg_decoder_next.
 */
struct lg_decoder {
	size_t start, fill;
	uint8_t buf[LG_FRAME_MAX];
};

void lg_decoder_init(struct lg_decoder *d);
/* Free room at the end of the buffer; call lg_decoder_commit after writing. */
uint8_t *lg_decoder_space(struct lg_decoder *d, size_t *room);
void lg_decoder_commit(struct lg_decoder *d, size_t n);
/* Copies as much of data as fits; returns the number of bytes taken. */
size_t lg_decoder_fill(struct lg_decoder *d, const void *data, size_t len);
/*
 * 1: *f holds a frame; 0: more bytes needed; -EBADMSG: bad magic;
 * -EPROTONOSUPPORT: other version; -EMSGSIZE: length over the limit;
 * -ENOMSG: unknown type. After an error the stream cannot be resynchronised.
 */
int lg_decoder_next(struct lg_decoder *d, struct lg_frame *f);

/* TLV writer into a caller buffer; errors are sticky and checked at the end. */
struct lg_tlv_writer {
	uint8_t *buf;
	size_t cap, len;
	bool overflow;
};

void lg_tlv_writer_init(struct lg_tlv_writer *w, uint8_t *buf, size_t cap);
void lg_tlv_put(struct lg_tlv_writer *w, uint16_t tag, const void *v,
		size_t len);
void lg_tlv_put_u32(struct lg_tlv_writer *w, uint16_t tag, uint32_t v);
void lg_tlv_put_str(struct lg_tlv_writer *w, uint16_t tag, const char *s);
/* Payload length, or -EMSGSIZE if anything did not fit. */
int lg_tlv_writer_finish(const struct lg_tlv_writer *w, size_t *len);

/* The payload of WINDOW, SIGNAL, STARTED, ...: one u32 TLV. */
#define LG_TLV_U32_SIZE 10u
size_t lg_tlv_u32_payload(uint8_t buf[LG_TLV_U32_SIZE], uint16_t tag,
			  uint32_t v);

struct lg_tlv_reader {
	const uint8_t *p;
	size_t len, off;
};

void lg_tlv_reader_init(struct lg_tlv_reader *r, const void *p, size_t len);
/* 1: one TLV in tag, v, vlen; 0: end; -EBADMSG: truncated. */
int lg_tlv_next(struct lg_tlv_reader *r, uint16_t *tag, const uint8_t **v,
		size_t *vlen);
/* Value helpers: -EBADMSG on a wrong size or an embedded NUL. */
int lg_tlv_u32(const uint8_t *v, size_t vlen, uint32_t *out);
int lg_tlv_strdup(const uint8_t *v, size_t vlen, char **out);
/* Finds the first TLV with tag in a payload and decodes it as u32. */
int lg_tlv_find_u32(const void *p, size_t len, uint16_t tag, uint32_t *out);

struct lg_exec_req {
	char **argv; /* NULL-terminated, argc >= 1 */
	size_t argc;
	char **envp; /* NULL-terminated, may be empty */
	size_t envc;
	char *cwd; /* NULL: the agent's default */
	uint32_t uid, gid;
	bool stdin_attached;
	uint32_t timeout_ms;
};

/* Encodes into buf (at most LG_FRAME_MAX_PAYLOAD); -EMSGSIZE if too big. */
int lg_exec_req_encode(const struct lg_exec_req *req, uint8_t *buf, size_t cap,
		       size_t *len);
/*
 * Decodes and allocates. -EBADMSG: malformed TLVs; -EINVAL: well formed
 * but unusable (no argv[0], empty or repeated cwd); -E2BIG; -ENOMEM.
 * Free with lg_exec_req_free.
 */
int lg_exec_req_decode(const void *p, size_t len, struct lg_exec_req *out);
void lg_exec_req_free(struct lg_exec_req *req);

/* ERROR payload: errno value and a human message. */
int lg_error_encode(uint8_t *buf, size_t cap, uint32_t err, const char *msg,
		    size_t *len);
int lg_error_decode(const void *p, size_t len, uint32_t *err, char *msg,
		    size_t msgcap);

#endif
