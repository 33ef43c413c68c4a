/* SPDX-License-Identifier: Apache-2.0 */
/* Frame and TLV codec for the host <-> lg-agent channel. */
#include "proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static const struct {
	uint8_t type;
	const char *name;
} frame_types[] = {
	{LG_MSG_HELLO, "HELLO"},	 {LG_MSG_EXEC, "EXEC"},
	{LG_MSG_STDIN, "STDIN"},	 {LG_MSG_STDIN_CLOSE, "STDIN_CLOSE"},
	{LG_MSG_SIGNAL, "SIGNAL"},	 {LG_MSG_FILE_PUT, "FILE_PUT"},
	{LG_MSG_FILE_GET, "FILE_GET"},	 {LG_MSG_SHUTDOWN, "SHUTDOWN"},
	{LG_MSG_FILE_DATA, "FILE_DATA"}, {LG_MSG_FILE_END, "FILE_END"},
	{LG_MSG_WINDOW, "WINDOW"},	 {LG_MSG_HELLO_OK, "HELLO_OK"},
	{LG_MSG_STARTED, "STARTED"},	 {LG_MSG_STDOUT, "STDOUT"},
	{LG_MSG_STDERR, "STDERR"},	 {LG_MSG_EXIT, "EXIT"},
	{LG_MSG_ERROR, "ERROR"},	 {LG_MSG_OK, "OK"},
};

const char *lg_frame_type_name(uint8_t type)
{
	for (size_t i = 0; i < sizeof(frame_types) / sizeof(frame_types[0]);
	     i++)
		if (frame_types[i].type == type)
			return frame_types[i].name;
	return "UNKNOWN";
}

bool lg_frame_type_known(uint8_t type)
{
	return strcmp(lg_frame_type_name(type), "UNKNOWN") != 0;
}

int lg_frame_hdr_encode(uint8_t out[LG_FRAME_HDR_SIZE], uint8_t type,
			uint32_t stream, uint32_t len)
{
	if (len > LG_FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	put_le16(out, LG_FRAME_MAGIC);
	out[2] = LG_PROTO_VERSION;
	out[3] = type;
	put_le32(out + 4, stream);
	put_le32(out + 8, len);
	return 0;
}

void lg_decoder_init(struct lg_decoder *d)
{
	d->start = 0;
	d->fill = 0;
}

static void decoder_compact(struct lg_decoder *d)
{
	if (d->start == 0)
		return;
	memmove(d->buf, d->buf + d->start, d->fill - d->start);
	d->fill -= d->start;
	d->start = 0;
}

uint8_t *lg_decoder_space(struct lg_decoder *d, size_t *room)
{
	decoder_compact(d);
	*room = sizeof(d->buf) - d->fill;
	return d->buf + d->fill;
}

void lg_decoder_commit(struct lg_decoder *d, size_t n)
{
	d->fill += n;
}

size_t lg_decoder_fill(struct lg_decoder *d, const void *data, size_t len)
{
	size_t room;
	uint8_t *dst = lg_decoder_space(d, &room);
	size_t n = len < room ? len : room;

	memcpy(dst, data, n);
	lg_decoder_commit(d, n);
	return n;
}

int lg_decoder_next(struct lg_decoder *d, struct lg_frame *f)
{
	size_t avail = d->fill - d->start;
	const uint8_t *h = d->buf + d->start;
	uint32_t len;

	if (avail < LG_FRAME_HDR_SIZE)
		return 0;
	if (get_le16(h) != LG_FRAME_MAGIC)
		return -EBADMSG;
	if (h[2] != LG_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	len = get_le32(h + 8);
	if (len > LG_FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (!lg_frame_type_known(h[3]))
		return -ENOMSG;
	if (avail < LG_FRAME_HDR_SIZE + len)
		return 0;
	f->type = h[3];
	f->stream = get_le32(h + 4);
	f->len = len;
	f->payload = h + LG_FRAME_HDR_SIZE;
	d->start += LG_FRAME_HDR_SIZE + len;
	return 1;
}

#define TLV_HDR 6u /* u16 tag, u32 length */

void lg_tlv_writer_init(struct lg_tlv_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
}

void lg_tlv_put(struct lg_tlv_writer *w, uint16_t tag, const void *v,
		size_t len)
{
	if (w->overflow || len > w->cap || w->cap - w->len < TLV_HDR + len) {
		w->overflow = true;
		return;
	}
	put_le16(w->buf + w->len, tag);
	put_le32(w->buf + w->len + 2, (uint32_t)len);
	if (len)
		memcpy(w->buf + w->len + TLV_HDR, v, len);
	w->len += TLV_HDR + len;
}

void lg_tlv_put_u32(struct lg_tlv_writer *w, uint16_t tag, uint32_t v)
{
	uint8_t b[4];

	put_le32(b, v);
	lg_tlv_put(w, tag, b, sizeof(b));
}

void lg_tlv_put_str(struct lg_tlv_writer *w, uint16_t tag, const char *s)
{
	lg_tlv_put(w, tag, s, strlen(s));
}

int lg_tlv_writer_finish(const struct lg_tlv_writer *w, size_t *len)
{
	if (w->overflow || w->len > LG_FRAME_MAX_PAYLOAD)
		return -EMSGSIZE;
	*len = w->len;
	return 0;
}

size_t lg_tlv_u32_payload(uint8_t buf[LG_TLV_U32_SIZE], uint16_t tag,
			  uint32_t v)
{
	put_le16(buf, tag);
	put_le32(buf + 2, 4);
	put_le32(buf + 6, v);
	return LG_TLV_U32_SIZE;
}

void lg_tlv_reader_init(struct lg_tlv_reader *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

int lg_tlv_next(struct lg_tlv_reader *r, uint16_t *tag, const uint8_t **v,
		size_t *vlen)
{
	size_t left = r->len - r->off;
	uint32_t n;

	if (left == 0)
		return 0;
	if (left < TLV_HDR)
		return -EBADMSG;
	n = get_le32(r->p + r->off + 2);
	if (n > left - TLV_HDR)
		return -EBADMSG;
	*tag = get_le16(r->p + r->off);
	*v = r->p + r->off + TLV_HDR;
	*vlen = n;
	r->off += TLV_HDR + n;
	return 1;
}

int lg_tlv_u32(const uint8_t *v, size_t vlen, uint32_t *out)
{
	if (vlen != 4)
		return -EBADMSG;
	*out = get_le32(v);
	return 0;
}

int lg_tlv_strdup(const uint8_t *v, size_t vlen, char **out)
{
	char *s;

	if (memchr(v, '\0', vlen))
		return -EBADMSG;
	s = malloc(vlen + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, v, vlen);
	s[vlen] = '\0';
	*out = s;
	return 0;
}

int lg_tlv_find_u32(const void *p, size_t len, uint16_t tag, uint32_t *out)
{
	struct lg_tlv_reader r;
	const uint8_t *v;
	size_t vlen;
	uint16_t t;
	int rc;

	lg_tlv_reader_init(&r, p, len);
	while ((rc = lg_tlv_next(&r, &t, &v, &vlen)) == 1)
		if (t == tag)
			return lg_tlv_u32(v, vlen, out);
	return rc < 0 ? rc : -ENOENT;
}

int lg_exec_req_encode(const struct lg_exec_req *req, uint8_t *buf, size_t cap,
		       size_t *len)
{
	struct lg_tlv_writer w;

	if (req->argc == 0 || req->argc > LG_EXEC_MAX_ARGS ||
	    req->envc > LG_EXEC_MAX_ENV)
		return -E2BIG;
	lg_tlv_writer_init(&w, buf, cap);
	for (size_t i = 0; i < req->argc; i++)
		lg_tlv_put_str(&w, LG_TAG_ARG, req->argv[i]);
	for (size_t i = 0; i < req->envc; i++)
		lg_tlv_put_str(&w, LG_TAG_ENV, req->envp[i]);
	if (req->cwd)
		lg_tlv_put_str(&w, LG_TAG_CWD, req->cwd);
	lg_tlv_put_u32(&w, LG_TAG_UID, req->uid);
	lg_tlv_put_u32(&w, LG_TAG_GID, req->gid);
	lg_tlv_put_u32(&w, LG_TAG_STDIN, req->stdin_attached ? 1 : 0);
	lg_tlv_put_u32(&w, LG_TAG_TIMEOUT_MS, req->timeout_ms);
	return lg_tlv_writer_finish(&w, len);
}

/* Appends s to a NULL-terminated vector holding *n entries. */
static int strv_push(char ***v, size_t *n, size_t max, char *s)
{
	char **nv;

	if (*n >= max)
		return -E2BIG;
	nv = realloc(*v, (*n + 2) * sizeof(**v));
	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

static int exec_req_field(struct lg_exec_req *out, uint16_t tag,
			  const uint8_t *v, size_t vlen)
{
	uint32_t u;
	char *s = NULL;
	int rc;

	switch (tag) {
	case LG_TAG_ARG:
	case LG_TAG_ENV:
	case LG_TAG_CWD:
		rc = lg_tlv_strdup(v, vlen, &s);
		if (rc)
			return rc;
		if (tag == LG_TAG_ARG)
			rc = strv_push(&out->argv, &out->argc, LG_EXEC_MAX_ARGS,
				       s);
		else if (tag == LG_TAG_ENV)
			rc = strv_push(&out->envp, &out->envc, LG_EXEC_MAX_ENV,
				       s);
		else if (out->cwd || vlen == 0 || vlen >= LG_PATH_MAX)
			rc = -EINVAL;
		else
			out->cwd = s;
		if (rc)
			free(s);
		return rc;
	case LG_TAG_UID:
	case LG_TAG_GID:
	case LG_TAG_STDIN:
	case LG_TAG_TIMEOUT_MS:
		rc = lg_tlv_u32(v, vlen, &u);
		if (rc)
			return rc;
		if (tag == LG_TAG_UID)
			out->uid = u;
		else if (tag == LG_TAG_GID)
			out->gid = u;
		else if (tag == LG_TAG_STDIN)
			out->stdin_attached = u != 0;
		else
			out->timeout_ms = u;
		return 0;
	default:
		return 0; /* unknown tags are skipped for forward compatibility
			   */
	}
}

int lg_exec_req_decode(const void *p, size_t len, struct lg_exec_req *out)
{
	struct lg_tlv_reader r;
	const uint8_t *v;
	size_t vlen;
	uint16_t tag;
	int rc;

	memset(out, 0, sizeof(*out));
	lg_tlv_reader_init(&r, p, len);
	while ((rc = lg_tlv_next(&r, &tag, &v, &vlen)) == 1) {
		rc = exec_req_field(out, tag, v, vlen);
		if (rc)
			break;
	}
	/* Well-formed but unusable: the peer gets an error on the stream. */
	if (rc == 0 && (out->argc == 0 || out->argv[0][0] == '\0'))
		rc = -EINVAL;
	if (rc == 0 && !out->envp) {
		out->envp = calloc(1, sizeof(*out->envp));
		if (!out->envp)
			rc = -ENOMEM;
	}
	if (rc)
		lg_exec_req_free(out);
	return rc;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void lg_exec_req_free(struct lg_exec_req *req)
{
	strv_free(req->argv, req->argc);
	strv_free(req->envp, req->envc);
	free(req->cwd);
	memset(req, 0, sizeof(*req));
}

int lg_error_encode(uint8_t *buf, size_t cap, uint32_t err, const char *msg,
		    size_t *len)
{
	struct lg_tlv_writer w;

	lg_tlv_writer_init(&w, buf, cap);
	lg_tlv_put_u32(&w, LG_TAG_ERRNO, err);
	lg_tlv_put_str(&w, LG_TAG_MESSAGE, msg);
	return lg_tlv_writer_finish(&w, len);
}

int lg_error_decode(const void *p, size_t len, uint32_t *err, char *msg,
		    size_t msgcap)
{
	struct lg_tlv_reader r;
	const uint8_t *v;
	size_t vlen;
	uint16_t tag;
	int rc;

	*err = 0;
	if (msgcap)
		msg[0] = '\0';
	lg_tlv_reader_init(&r, p, len);
	while ((rc = lg_tlv_next(&r, &tag, &v, &vlen)) == 1) {
		if (tag == LG_TAG_ERRNO && lg_tlv_u32(v, vlen, err))
			return -EBADMSG;
		if (tag == LG_TAG_MESSAGE && msgcap) {
			size_t n = vlen < msgcap - 1 ? vlen : msgcap - 1;

			memcpy(msg, v, n);
			msg[n] = '\0';
			/* A peer's message is shown to users: no control bytes.
			 */
			for (size_t i = 0; i < n; i++)
				if ((unsigned char)msg[i] < 0x20)
					msg[i] = '?';
		}
	}
	return rc;
}
