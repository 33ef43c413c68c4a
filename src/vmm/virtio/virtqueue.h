/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Split virtqueues (virtio 1.x, section 2.7) over guest RAM, as the device
 * side sees them. Everything read from the rings comes from the guest and
 * is validated before use: a malformed ring marks the queue broken (the
 * transport then reports DEVICE_NEEDS_RESET) and no further chain is
 * taken from it. Nothing the guest writes can make this code read or write
 * outside guest RAM, or loop for longer than a queue's worth of
 * descriptors per chain.
 *
 * Notification suppression: the device never sets VIRTQ_USED_F_NO_NOTIFY
 * (the driver always notifies) and VIRTIO_F_EVENT_IDX is not supported;
 * VIRTQ_AVAIL_F_NO_INTERRUPT is honoured by virtq_push_needs_irq().
 *
 * Not thread safe: one thread at a time works on a queue (the transport's
 * lock serialises configuration against processing).
 */
#ifndef LG_VMM_VIRTIO_VIRTQUEUE_H
#define LG_VMM_VIRTIO_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/memory.h"

/* Largest queue size this implementation offers (a power of 2). */
#define VIRTQ_MAX_SIZE 256u
/* Most buffers in one chain, direct and indirect together. */
#define VIRTQ_MAX_SEGS 256u

#define VIRTQ_DESC_F_NEXT 1u
#define VIRTQ_DESC_F_WRITE 2u
#define VIRTQ_DESC_F_INDIRECT 4u

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_USED_F_NO_NOTIFY 1u

/* Guest-memory layouts (little endian). */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

/* Why a queue broke; the first error sticks. */
enum virtq_error {
	VIRTQ_OK = 0,
	VIRTQ_ERR_SETUP,	/* bad size, alignment or ring address */
	VIRTQ_ERR_AVAIL_IDX,	/* avail idx moved by more than size */
	VIRTQ_ERR_HEAD,		/* head index out of range */
	VIRTQ_ERR_HEAD_BUSY,	/* head offered while still in flight */
	VIRTQ_ERR_NEXT,		/* next index out of range */
	VIRTQ_ERR_LOOP,		/* chain longer than its table */
	VIRTQ_ERR_TOO_LONG,	/* more than VIRTQ_MAX_SEGS buffers */
	VIRTQ_ERR_ZERO_LEN,	/* a buffer of length 0 */
	VIRTQ_ERR_BAD_ADDR,	/* a buffer or table not all in RAM */
	VIRTQ_ERR_ORDER,	/* readable buffer after a writable one */
	VIRTQ_ERR_INDIRECT,	/* indirect not negotiated / with NEXT */
	VIRTQ_ERR_NESTED,	/* indirect descriptor in an indirect table */
	VIRTQ_ERR_INDIRECT_LEN, /* table length bad or too long */
	VIRTQ_ERR_PUSH,		/* device pushed a head not in flight */
};

struct virtq_seg {
	void *hva;    /* guest memory: shared with the guest, may change */
	uint64_t gpa; /* guest-physical address of the buffer */
	uint32_t len; /* >= 1; [hva, hva + len) is all guest RAM */
	bool writable;
};

struct virtq_chain {
	uint16_t head;
	uint16_t nr_segs;
	uint16_t nr_readable; /* segs[0 .. nr_readable) are device-readable */
	uint64_t read_len;    /* sum of readable lengths */
	uint64_t write_len;   /* sum of writable lengths */
	struct virtq_seg segs[VIRTQ_MAX_SEGS];
};

struct virtq {
	const struct vm_mem *mem;
	uint16_t max_size; /* what the device offers, power of 2 */

	/* Set by the driver through the transport while not ready. */
	uint16_t size;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	bool indirect; /* VIRTIO_F_INDIRECT_DESC negotiated */

	/* Valid while ready. */
	bool ready;
	uint8_t *desc;	/* size * 16 bytes */
	uint8_t *avail; /* flags, idx, ring[size] */
	uint8_t *used;	/* flags, idx, ring[size] */
	uint16_t last_avail;
	uint16_t used_idx;
	uint16_t in_flight;
	uint64_t busy[VIRTQ_MAX_SIZE / 64]; /* heads popped, not pushed */

	enum virtq_error error; /* VIRTQ_OK unless broken */
};

/* max_size: a power of 2, 1 .. VIRTQ_MAX_SIZE. */
void virtq_init(struct virtq *q, const struct vm_mem *mem, uint16_t max_size);
/* Back to the state after init: not ready, addresses 0, size max_size. */
void virtq_reset(struct virtq *q);

/*
 * Checks the driver's setup and maps the rings. 0, or -EINVAL with the
 * queue broken (VIRTQ_ERR_SETUP) and not ready.
 */
int virtq_enable(struct virtq *q);
/* Stops using the rings; configuration is kept. */
void virtq_disable(struct virtq *q);

static inline bool virtq_broken(const struct virtq *q)
{
	return q->error != VIRTQ_OK;
}

const char *virtq_error_str(enum virtq_error err);

/*
 * Takes the next available chain. 1 with *chain filled, 0 when there is
 * none (or the queue is not ready), -EIO when the queue is or becomes
 * broken. The chain's buffers stay the device's until virtq_push().
 */
int virtq_pop(struct virtq *q, struct virtq_chain *chain);

/*
 * Returns chain `head` to the driver with `written` bytes written to its
 * writable buffers. Publishes the used element before the used index
 * (release ordering). 0, or -EIO if the queue is broken or head was not
 * popped.
 */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/*
 * Whether the driver wants an interrupt for what was just pushed (it
 * asked for none with VIRTQ_AVAIL_F_NO_INTERRUPT). Full fence first, so
 * the used index is visible before the flag is read.
 */
bool virtq_push_needs_irq(struct virtq *q);

/* Copies between a chain and a flat buffer; return bytes copied. */
uint64_t virtq_chain_read(const struct virtq_chain *chain, uint64_t off,
			  void *dst, uint64_t len);
uint64_t virtq_chain_write(const struct virtq_chain *chain, uint64_t off,
			   const void *src, uint64_t len);

#endif
