/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Little-endian encoding of device state for snapshot sections. Header
 * only, so that devices (in lg-vmm and its sub-libraries) can encode their
 * state without linking the snapshot library.
 *
 * Writing: every put past the end sets `overflow` and writes nothing; the
 * caller checks it once at the end. Reading: every get past the end sets
 * `short_read` and returns 0; state_rd_done() says whether everything was
 * there and nothing was left over.
 */
#ifndef LG_VMM_SNAPSHOT_STATE_BUF_H
#define LG_VMM_SNAPSHOT_STATE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct state_wr {
	uint8_t *buf;
	size_t size;
	size_t pos;
	bool overflow;
};

struct state_rd {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	bool short_read;
};

static inline void state_wr_init(struct state_wr *w, void *buf, size_t size)
{
	*w = (struct state_wr){.buf = buf, .size = size};
}

static inline void state_put_bytes(struct state_wr *w, const void *p, size_t n)
{
	if (w->overflow || n > w->size - w->pos) {
		w->overflow = true;
		return;
	}
	memcpy(w->buf + w->pos, p, n);
	w->pos += n;
}

static inline void state_put_le(struct state_wr *w, uint64_t v, unsigned n)
{
	uint8_t b[8];
	unsigned i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	state_put_bytes(w, b, n);
}

static inline void state_put_u8(struct state_wr *w, uint8_t v)
{
	state_put_le(w, v, 1);
}

static inline void state_put_u16(struct state_wr *w, uint16_t v)
{
	state_put_le(w, v, 2);
}

static inline void state_put_u32(struct state_wr *w, uint32_t v)
{
	state_put_le(w, v, 4);
}

static inline void state_put_u64(struct state_wr *w, uint64_t v)
{
	state_put_le(w, v, 8);
}

static inline void state_rd_init(struct state_rd *r, const void *buf,
				 size_t len)
{
	*r = (struct state_rd){.buf = buf, .len = len};
}

static inline bool state_get_bytes(struct state_rd *r, void *p, size_t n)
{
	if (r->short_read || n > r->len - r->pos) {
		r->short_read = true;
		memset(p, 0, n);
		return false;
	}
	memcpy(p, r->buf + r->pos, n);
	r->pos += n;
	return true;
}

static inline uint64_t state_get_le(struct state_rd *r, unsigned n)
{
	uint8_t b[8];
	uint64_t v = 0;
	unsigned i;

	if (!state_get_bytes(r, b, n))
		return 0;
	for (i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static inline uint8_t state_get_u8(struct state_rd *r)
{
	return (uint8_t)state_get_le(r, 1);
}

static inline uint16_t state_get_u16(struct state_rd *r)
{
	return (uint16_t)state_get_le(r, 2);
}

static inline uint32_t state_get_u32(struct state_rd *r)
{
	return (uint32_t)state_get_le(r, 4);
}

static inline uint64_t state_get_u64(struct state_rd *r)
{
	return state_get_le(r, 8);
}

/* All fields were there and nothing is left over. */
static inline bool state_rd_done(const struct state_rd *r)
{
	return !r->short_read && r->pos == r->len;
}

#endif
