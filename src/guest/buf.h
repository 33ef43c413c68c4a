/* SPDX-License-Identifier: Apache-2.0 */
/* A bounded byte FIFO: session output queues and exec stdin queues. */
#ifndef LG_GUEST_BUF_H
#define LG_GUEST_BUF_H

#include <stddef.h>
#include <stdint.h>

struct bytebuf {
	uint8_t *data;
	size_t head, len, cap;
};

void buf_init(struct bytebuf *b);
void buf_free(struct bytebuf *b);
/*
 * Contiguous room for n more bytes, never letting the content exceed max.
 * NULL when that limit would be passed or memory is short.
 */
uint8_t *buf_reserve(struct bytebuf *b, size_t n, size_t max);
void buf_commit(struct bytebuf *b, size_t n);
/* 0, or -ENOBUFS past max / -ENOMEM. */
int buf_append(struct bytebuf *b, const void *p, size_t n, size_t max);
void buf_consume(struct bytebuf *b, size_t n);

static inline const uint8_t *buf_data(const struct bytebuf *b)
{
	return b->data + b->head;
}

#endif
