/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded byte FIFO: a linear buffer compacted when the tail runs out. */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* An idle queue keeps at most this much memory. */
#define BUF_KEEP_IDLE (1024u * 1024u)

void buf_init(struct bytebuf *b)
{
	b->data = NULL;
	b->head = 0;
	b->len = 0;
	b->cap = 0;
}

void buf_free(struct bytebuf *b)
{
	free(b->data);
	buf_init(b);
}

static int buf_grow(struct bytebuf *b, size_t need, size_t max)
{
	size_t ncap = b->cap ? b->cap : 4096;
	uint8_t *p;

	while (ncap < need)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	p = realloc(b->data, ncap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = ncap;
	return 0;
}

uint8_t *buf_reserve(struct bytebuf *b, size_t n, size_t max)
{
	if (n > max || b->len > max - n)
		return NULL;
	if (b->cap - b->head - b->len >= n)
		return b->data + b->head + b->len;
	/* Compact first: the queue is usually short after a write. */
	if (b->head) {
		memmove(b->data, b->data + b->head, b->len);
		b->head = 0;
	}
	if (b->cap - b->len < n && buf_grow(b, b->len + n, max) < 0)
		return NULL;
	return b->data + b->len;
}

void buf_commit(struct bytebuf *b, size_t n)
{
	b->len += n;
}

int buf_append(struct bytebuf *b, const void *p, size_t n, size_t max)
{
	uint8_t *dst;

	if (n == 0)
		return 0;
	dst = buf_reserve(b, n, max);
	if (!dst)
		return n > max || b->len > max - n ? -ENOBUFS : -ENOMEM;
	memcpy(dst, p, n);
	buf_commit(b, n);
	return 0;
}

void buf_consume(struct bytebuf *b, size_t n)
{
	if (n >= b->len) {
		b->head = 0;
		b->len = 0;
		/* After a burst (10 MB of output), give the memory back. */
		if (b->cap > BUF_KEEP_IDLE)
			buf_free(b);
		return;
	}
	b->head += n;
	b->len -= n;
}
