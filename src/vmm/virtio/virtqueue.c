/* SPDX-License-Identifier: Apache-2.0 */
/* Split virtqueue, device side: validated chain walk and used ring. */
#include "vmm/virtio/virtqueue.h"

#include "common/log.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* Ring layouts: offsets into the avail and used rings. */
#define AVAIL_FLAGS 0u
#define AVAIL_IDX 2u
#define AVAIL_RING 4u
#define USED_FLAGS 0u
#define USED_IDX 2u
#define USED_RING 4u
#define DESC_SIZE 16u

/*
 * Guest RAM changes under us (other vCPUs). Every guest value is read
 * exactly once into a local, and the compiler must not re-read it.
 */
#define guest_barrier() __asm__ __volatile__("" ::: "memory")

static uint16_t guest_load16(const uint8_t *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p,
				       __ATOMIC_RELAXED));
}

static void guest_store32(uint8_t *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)(void *)p, htole32(v), __ATOMIC_RELAXED);
}

/* A descriptor table entry: tables need not be aligned, so memcpy. */
static void desc_read(const uint8_t *table, uint32_t idx, struct virtq_desc *d)
{
	memcpy(d, table + (uint64_t)idx * DESC_SIZE, sizeof(*d));
	guest_barrier();
	d->addr = le64toh(d->addr);
	d->len = le32toh(d->len);
	d->flags = le16toh(d->flags);
	d->next = le16toh(d->next);
}

static const char *const virtq_errors[] = {
	[VIRTQ_OK] = "ok",
	[VIRTQ_ERR_SETUP] = "bad queue setup",
	[VIRTQ_ERR_AVAIL_IDX] = "avail idx jumped by more than the size",
	[VIRTQ_ERR_HEAD] = "head index out of range",
	[VIRTQ_ERR_HEAD_BUSY] = "head offered while in flight",
	[VIRTQ_ERR_NEXT] = "next index out of range",
	[VIRTQ_ERR_LOOP] = "descriptor loop",
	[VIRTQ_ERR_TOO_LONG] = "chain too long",
	[VIRTQ_ERR_ZERO_LEN] = "zero-length buffer",
	[VIRTQ_ERR_BAD_ADDR] = "buffer outside guest RAM",
	[VIRTQ_ERR_ORDER] = "readable buffer after a writable one",
	[VIRTQ_ERR_INDIRECT] = "indirect descriptor not allowed",
	[VIRTQ_ERR_NESTED] = "nested indirect table",
	[VIRTQ_ERR_INDIRECT_LEN] = "bad indirect table length",
	[VIRTQ_ERR_PUSH] = "push of a head not in flight",
};

const char *virtq_error_str(enum virtq_error err)
{
	if ((unsigned int)err >= sizeof(virtq_errors) / sizeof(virtq_errors[0]))
		return "unknown";
	return virtq_errors[err];
}

static int virtq_fail(struct virtq *q, enum virtq_error err)
{
	if (q->error == VIRTQ_OK) {
		q->error = err;
		lg_warn("virtio: queue broken: %s", virtq_error_str(err));
	}
	return -EIO;
}

void virtq_init(struct virtq *q, const struct vm_mem *mem, uint16_t max_size)
{
	memset(q, 0, sizeof(*q));
	q->mem = mem;
	if (max_size == 0 || max_size > VIRTQ_MAX_SIZE ||
	    (max_size & (max_size - 1)))
		max_size = VIRTQ_MAX_SIZE;
	q->max_size = max_size;
	q->size = max_size;
}

void virtq_reset(struct virtq *q)
{
	virtq_init(q, q->mem, q->max_size);
}

int virtq_enable(struct virtq *q)
{
	uint16_t n = q->size;

	virtq_disable(q);
	if (n == 0 || n > q->max_size || (n & (n - 1)))
		goto bad;
	/* Alignment from the spec (2.7): 16, 2, 4. */
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		goto bad;
	q->desc = vm_mem_ptr(q->mem, q->desc_gpa, (uint64_t)n * DESC_SIZE);
	q->avail = vm_mem_ptr(q->mem, q->avail_gpa, AVAIL_RING + 2ull * n);
	q->used = vm_mem_ptr(q->mem, q->used_gpa, USED_RING + 8ull * n);
	if (!q->desc || !q->avail || !q->used)
		goto bad;
	q->last_avail = 0;
	q->used_idx = 0;
	q->in_flight = 0;
	memset(q->busy, 0, sizeof(q->busy));
	q->ready = true;
	return 0;
bad:
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	virtq_fail(q, VIRTQ_ERR_SETUP);
	return -EINVAL;
}

void virtq_disable(struct virtq *q)
{
	q->ready = false;
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
}

static bool busy_test(const struct virtq *q, uint16_t head)
{
	return q->busy[head / 64] & (1ull << (head % 64));
}

static void busy_set(struct virtq *q, uint16_t head, bool on)
{
	if (on)
		q->busy[head / 64] |= 1ull << (head % 64);
	else
		q->busy[head / 64] &= ~(1ull << (head % 64));
}

/*
 * Walks the chain at `head`. Every step is bounded: in the direct table
 * at most q->size descriptors, in an indirect table at most its length,
 * in all at most VIRTQ_MAX_SEGS buffers.
 */
static int virtq_walk(struct virtq *q, uint16_t head, struct virtq_chain *c)
{
	const uint8_t *table = q->desc;
	uint32_t table_len = q->size;
	uint32_t idx = head, steps = 0;
	bool in_indirect = false, seen_writable = false;

	c->head = head;
	c->nr_segs = 0;
	c->nr_readable = 0;
	c->read_len = 0;
	c->write_len = 0;
	for (;;) {
		struct virtq_desc d;
		struct virtq_seg *s;
		void *hva;

		if (idx >= table_len)
			return virtq_fail(q, VIRTQ_ERR_NEXT);
		if (++steps > table_len)
			return virtq_fail(q, VIRTQ_ERR_LOOP);
		desc_read(table, idx, &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			if (in_indirect)
				return virtq_fail(q, VIRTQ_ERR_NESTED);
			if (!q->indirect || (d.flags & VIRTQ_DESC_F_NEXT))
				return virtq_fail(q, VIRTQ_ERR_INDIRECT);
			if (d.len == 0 || d.len % DESC_SIZE ||
			    d.len / DESC_SIZE > VIRTQ_MAX_SEGS)
				return virtq_fail(q, VIRTQ_ERR_INDIRECT_LEN);
			table = vm_mem_ptr(q->mem, d.addr, d.len);
			if (!table)
				return virtq_fail(q, VIRTQ_ERR_BAD_ADDR);
			table_len = d.len / DESC_SIZE;
			in_indirect = true;
			idx = 0;
			steps = 0;
			continue;
		}

		if (d.len == 0)
			return virtq_fail(q, VIRTQ_ERR_ZERO_LEN);
		hva = vm_mem_ptr(q->mem, d.addr, d.len);
		if (!hva)
			return virtq_fail(q, VIRTQ_ERR_BAD_ADDR);
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			seen_writable = true;
		} else if (seen_writable) {
			return virtq_fail(q, VIRTQ_ERR_ORDER);
		}
		if (c->nr_segs >= VIRTQ_MAX_SEGS)
			return virtq_fail(q, VIRTQ_ERR_TOO_LONG);
		s = &c->segs[c->nr_segs++];
		s->hva = hva;
		s->gpa = d.addr;
		s->len = d.len;
		s->writable = d.flags & VIRTQ_DESC_F_WRITE;
		if (s->writable) {
			c->write_len += d.len;
		} else {
			c->nr_readable++;
			c->read_len += d.len;
		}

		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		idx = d.next;
	}
}

int virtq_pop(struct virtq *q, struct virtq_chain *chain)
{
	uint16_t avail_idx, head;
	int rc;

	if (virtq_broken(q))
		return -EIO;
	if (!q->ready)
		return 0;
	avail_idx = le16toh(__atomic_load_n(
		(const uint16_t *)(const void *)(q->avail + AVAIL_IDX),
		__ATOMIC_ACQUIRE));
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return virtq_fail(q, VIRTQ_ERR_AVAIL_IDX);
	if (avail_idx == q->last_avail)
		return 0;
	/* Ring entries and descriptors only after the index (acquire). */
	head = guest_load16(q->avail + AVAIL_RING +
			    2u * (q->last_avail & (q->size - 1)));
	if (head >= q->size)
		return virtq_fail(q, VIRTQ_ERR_HEAD);
	if (busy_test(q, head))
		return virtq_fail(q, VIRTQ_ERR_HEAD_BUSY);
	rc = virtq_walk(q, head, chain);
	if (rc < 0)
		return rc;
	q->last_avail++;
	busy_set(q, head, true);
	q->in_flight++;
	return 1;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	uint8_t *elem;

	if (virtq_broken(q) || !q->ready)
		return -EIO;
	if (head >= q->size || !busy_test(q, head))
		return virtq_fail(q, VIRTQ_ERR_PUSH);
	busy_set(q, head, false);
	q->in_flight--;
	elem = q->used + USED_RING + 8u * (q->used_idx & (q->size - 1));
	guest_store32(elem, head);
	guest_store32(elem + 4, written);
	q->used_idx++;
	/* The element must be visible before the index that covers it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n((uint16_t *)(void *)(q->used + USED_IDX),
			 htole16(q->used_idx), __ATOMIC_RELEASE);
	return 0;
}

bool virtq_push_needs_irq(struct virtq *q)
{
	uint16_t flags;

	if (!q->ready)
		return false;
	/* Used idx store before the avail flags load (store-load). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = guest_load16(q->avail + AVAIL_FLAGS);
	return !(flags & VIRTQ_AVAIL_F_NO_INTERRUPT);
}

/* Copies between segments [first, last) of a chain and a flat buffer. */
static uint64_t chain_copy(const struct virtq_chain *chain, unsigned int first,
			   unsigned int last, uint64_t off, uint8_t *buf,
			   uint64_t len, bool to_guest)
{
	uint64_t done = 0;

	for (unsigned int i = first; i < last && done < len; i++) {
		const struct virtq_seg *s = &chain->segs[i];
		uint8_t *guest;
		uint64_t n;

		if (off >= s->len) {
			off -= s->len;
			continue;
		}
		guest = (uint8_t *)s->hva + off;
		n = s->len - off;
		if (n > len - done)
			n = len - done;
		if (to_guest)
			memcpy(guest, buf + done, (size_t)n);
		else
			memcpy(buf + done, guest, (size_t)n);
		done += n;
		off = 0;
	}
	return done;
}

uint64_t virtq_chain_read(const struct virtq_chain *chain, uint64_t off,
			  void *dst, uint64_t len)
{
	return chain_copy(chain, 0, chain->nr_readable, off, dst, len, false);
}

uint64_t virtq_chain_write(const struct virtq_chain *chain, uint64_t off,
			   const void *src, uint64_t len)
{
	return chain_copy(chain, chain->nr_readable, chain->nr_segs, off,
			  (uint8_t *)src, len, true);
}
