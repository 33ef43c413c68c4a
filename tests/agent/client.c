/* SPDX-License-Identifier: Apache-2.0 */
/* Test client: blocking sends with a timeout, polled receives. */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct client *client_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	/* A stuck agent must fail a test, not hang it. */
	struct timeval tv = {.tv_sec = 10};
	struct client *c;

	if (strlen(path) >= sizeof(a.sun_path))
		return NULL;
	memcpy(a.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	lg_decoder_init(&c->dec);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		client_free(c);
		return NULL;
	}
	return c;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

int client_send_raw(struct client *c, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = send(c->fd, b, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int client_send(struct client *c, uint8_t type, uint32_t stream, const void *p,
		size_t len)
{
	uint8_t *buf = malloc(LG_FRAME_HDR_SIZE + len);
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = lg_frame_hdr_encode(buf, type, stream, (uint32_t)len);
	if (rc == 0) {
		if (len)
			memcpy(buf + LG_FRAME_HDR_SIZE, p, len);
		rc = client_send_raw(c, buf, LG_FRAME_HDR_SIZE + len);
	}
	free(buf);
	return rc;
}

int client_send_u32(struct client *c, uint8_t type, uint32_t stream,
		    uint16_t tag, uint32_t v)
{
	uint8_t buf[LG_TLV_U32_SIZE];

	return client_send(c, type, stream, buf,
			   lg_tlv_u32_payload(buf, tag, v));
}

static int msg_copy(struct msg *m, const struct lg_frame *f)
{
	m->type = f->type;
	m->stream = f->stream;
	m->len = f->len;
	m->data = malloc(f->len + 1u);
	if (!m->data)
		return RECV_ERROR;
	memcpy(m->data, f->payload, f->len);
	m->data[f->len] = '\0';
	return RECV_MSG;
}

int client_recv(struct client *c, struct msg *m, int timeout_ms)
{
	uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;

	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		struct lg_frame f;
		uint64_t now;
		uint8_t *space;
		size_t room;
		ssize_t n;
		int rc = lg_decoder_next(&c->dec, &f);

		if (rc < 0)
			return RECV_ERROR;
		if (rc == 1)
			return msg_copy(m, &f);
		now = mono_ms();
		if (now >= deadline)
			return RECV_TIMEOUT;
		rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc < 0 && errno != EINTR)
			return RECV_ERROR;
		if (rc <= 0)
			continue;
		space = lg_decoder_space(&c->dec, &room);
		n = recv(c->fd, space, room, 0);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return RECV_EOF;
		if (n < 0 && errno != EINTR)
			return RECV_ERROR;
		if (n > 0)
			lg_decoder_commit(&c->dec, (size_t)n);
	}
}

void msg_free(struct msg *m)
{
	free(m->data);
	m->data = NULL;
}

int msg_u32(const struct msg *m, uint16_t tag, uint32_t *v)
{
	return lg_tlv_find_u32(m->data, m->len, tag, v);
}

int msg_str(const struct msg *m, uint16_t tag, char *out, size_t cap)
{
	struct lg_tlv_reader r;
	const uint8_t *v;
	size_t vlen;
	uint16_t t;
	int rc;

	lg_tlv_reader_init(&r, m->data, m->len);
	while ((rc = lg_tlv_next(&r, &t, &v, &vlen)) == 1) {
		if (t != tag)
			continue;
		if (vlen >= cap)
			return -ENAMETOOLONG;
		memcpy(out, v, vlen);
		out[vlen] = '\0';
		return 0;
	}
	return rc < 0 ? rc : -ENOENT;
}
