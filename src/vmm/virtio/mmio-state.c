/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-mmio transport and queue positions to and from a snapshot blob. */
#include "vmm/virtio/mmio-state.h"
#include "vmm/snapshot/state-buf.h"

#include "common/log.h"

#include <errno.h>
#include <string.h>

#define STATUS_KNOWN                                                           \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |                    \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |                 \
	 VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)
#define ISR_KNOWN (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)
#define BUSY_WORDS (VIRTQ_MAX_SIZE / 64)

struct queue_state {
	uint16_t max_size, size, last_avail, used_idx, in_flight;
	uint64_t desc, avail, used;
	uint8_t indirect, ready;
	uint64_t busy[BUSY_WORDS];
	uint32_t error;
};

struct mmio_state {
	uint32_t device_id, nr_queues;
	uint64_t device_features, driver_features;
	uint32_t device_features_sel, driver_features_sel, queue_sel;
	uint32_t status, interrupt_status, config_generation;
	struct queue_state q[VIRTIO_MMIO_MAX_QUEUES];
};

static void put_queue(struct state_wr *w, const struct virtq *q)
{
	unsigned int i;

	state_put_u16(w, q->max_size);
	state_put_u16(w, q->size);
	state_put_u64(w, q->desc_gpa);
	state_put_u64(w, q->avail_gpa);
	state_put_u64(w, q->used_gpa);
	state_put_u8(w, q->indirect);
	state_put_u8(w, q->ready);
	state_put_u16(w, q->last_avail);
	state_put_u16(w, q->used_idx);
	state_put_u16(w, q->in_flight);
	for (i = 0; i < BUSY_WORDS; i++)
		state_put_u64(w, q->busy[i]);
	state_put_u32(w, q->error);
}

int virtio_mmio_save(struct virtio_mmio *dev, uint8_t *buf, size_t size,
		     size_t *len)
{
	struct state_wr w;
	unsigned int i;

	state_wr_init(&w, buf, size);
	virtio_mmio_lock(dev);
	state_put_u32(&w, VIRTIO_MMIO_STATE_VERSION);
	state_put_u32(&w, dev->ops->device_id);
	state_put_u32(&w, dev->nr_queues);
	state_put_u64(&w, dev->device_features);
	state_put_u64(&w, dev->driver_features);
	state_put_u32(&w, dev->device_features_sel);
	state_put_u32(&w, dev->driver_features_sel);
	state_put_u32(&w, dev->queue_sel);
	state_put_u32(&w, dev->status);
	state_put_u32(&w, dev->interrupt_status);
	state_put_u32(&w, dev->config_generation);
	for (i = 0; i < dev->nr_queues; i++)
		put_queue(&w, &dev->queues[i]);
	virtio_mmio_unlock(dev);
	if (w.overflow)
		return -ENOSPC;
	*len = w.pos;
	return 0;
}

static void get_queue(struct state_rd *r, struct queue_state *q)
{
	unsigned int i;

	q->max_size = state_get_u16(r);
	q->size = state_get_u16(r);
	q->desc = state_get_u64(r);
	q->avail = state_get_u64(r);
	q->used = state_get_u64(r);
	q->indirect = state_get_u8(r);
	q->ready = state_get_u8(r);
	q->last_avail = state_get_u16(r);
	q->used_idx = state_get_u16(r);
	q->in_flight = state_get_u16(r);
	for (i = 0; i < BUSY_WORDS; i++)
		q->busy[i] = state_get_u64(r);
	q->error = state_get_u32(r);
}

static const char *check_queue(const struct queue_state *s,
			       const struct virtq *q, uint32_t status)
{
	unsigned int i, busy = 0;

	if (s->max_size != q->max_size)
		return "queue size offered differs";
	if (s->size > s->max_size || s->indirect > 1 || s->ready > 1)
		return "bad queue configuration";
	if (s->ready && !(status & VIRTIO_STATUS_FEATURES_OK))
		return "queue ready before FEATURES_OK";
	if (s->error > VIRTQ_ERR_PUSH)
		return "unknown queue error";
	/* Positions matter only while ready: enabling resets them. */
	if (!s->ready)
		return NULL;
	for (i = 0; i < VIRTQ_MAX_SIZE; i++) {
		if (!(s->busy[i / 64] & (1ull << (i % 64))))
			continue;
		if (i >= s->size)
			return "head in flight outside the queue";
		busy++;
	}
	if (busy != s->in_flight)
		return "in-flight count does not match its heads";
	return NULL;
}

static const char *check_state(const struct mmio_state *s,
			       const struct virtio_mmio *dev)
{
	unsigned int i;
	const char *why;

	if (s->device_id != dev->ops->device_id)
		return "another device type";
	if (s->nr_queues != dev->nr_queues)
		return "another number of queues";
	if (s->device_features != dev->device_features)
		return "the device offers other features now";
	if (s->driver_features & ~s->device_features)
		return "driver features not offered";
	if (s->status & ~STATUS_KNOWN)
		return "unknown status bits";
	if (s->interrupt_status & ~ISR_KNOWN)
		return "unknown interrupt status bits";
	for (i = 0; i < s->nr_queues; i++) {
		why = check_queue(&s->q[i], &dev->queues[i], s->status);
		if (why)
			return why;
	}
	return NULL;
}

static void apply_queue(struct virtio_mmio *dev, struct virtq *q,
			const struct queue_state *s)
{
	virtq_reset(q);
	q->size = s->size;
	q->desc_gpa = s->desc;
	q->avail_gpa = s->avail;
	q->used_gpa = s->used;
	q->indirect = s->indirect;
	if (s->ready) {
		if (virtq_enable(q) < 0) {
			lg_warn("virtio-mmio %s: saved rings are not in RAM",
				dev->ops->name);
			virtio_mmio_needs_reset(dev);
			return;
		}
		q->last_avail = s->last_avail;
		q->used_idx = s->used_idx;
		q->in_flight = s->in_flight;
		memcpy(q->busy, s->busy, sizeof(q->busy));
	}
	if (s->error != VIRTQ_OK && q->error == VIRTQ_OK)
		q->error = (enum virtq_error)s->error;
}

int virtio_mmio_restore(struct virtio_mmio *dev, const uint8_t *buf, size_t len)
{
	struct mmio_state s;
	struct state_rd r;
	uint32_t version;
	unsigned int i;
	const char *why;

	memset(&s, 0, sizeof(s));
	state_rd_init(&r, buf, len);
	version = state_get_u32(&r);
	if (version != VIRTIO_MMIO_STATE_VERSION) {
		lg_err("virtio-mmio %s: state version %u, this build reads %u",
		       dev->ops->name, version, VIRTIO_MMIO_STATE_VERSION);
		return -EINVAL;
	}
	s.device_id = state_get_u32(&r);
	s.nr_queues = state_get_u32(&r);
	s.device_features = state_get_u64(&r);
	s.driver_features = state_get_u64(&r);
	s.device_features_sel = state_get_u32(&r);
	s.driver_features_sel = state_get_u32(&r);
	s.queue_sel = state_get_u32(&r);
	s.status = state_get_u32(&r);
	s.interrupt_status = state_get_u32(&r);
	s.config_generation = state_get_u32(&r);
	if (s.nr_queues > VIRTIO_MMIO_MAX_QUEUES) {
		lg_err("virtio-mmio %s: state has %u queues", dev->ops->name,
		       s.nr_queues);
		return -EINVAL;
	}
	for (i = 0; i < s.nr_queues; i++)
		get_queue(&r, &s.q[i]);
	virtio_mmio_lock(dev);
	why = state_rd_done(&r) ? check_state(&s, dev) : "wrong length";
	if (why) {
		virtio_mmio_unlock(dev);
		lg_err("virtio-mmio %s: cannot restore state: %s",
		       dev->ops->name, why);
		return -EINVAL;
	}
	dev->driver_features = s.driver_features;
	dev->device_features_sel = s.device_features_sel;
	dev->driver_features_sel = s.driver_features_sel;
	dev->queue_sel = s.queue_sel;
	dev->status = s.status;
	dev->interrupt_status = s.interrupt_status;
	dev->config_generation = s.config_generation;
	for (i = 0; i < dev->nr_queues; i++)
		apply_queue(dev, &dev->queues[i], &s.q[i]);
	if ((dev->status &
	     (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) ==
		    VIRTIO_STATUS_DRIVER_OK &&
	    dev->ops->activate &&
	    dev->ops->activate(dev->opaque, dev, dev->driver_features))
		virtio_mmio_needs_reset(dev);
	if (dev->interrupt_status && dev->irq)
		dev->irq(dev->irq_opaque, true);
	virtio_mmio_unlock(dev);
	return 0;
}
