/* SPDX-License-Identifier: Apache-2.0 */
/* virtio slots and an event-loop thread for the device tests. */
#include "harness.h"

#include "vmm/event-loop.h"
#include "vmm/virtio/mmio.h"

#include <errno.h>
#include <string.h>

int harness_attach_virtio(struct harness *h, struct virtio_mmio *dev)
{
	unsigned int slot = h->nr_virtio;
	int err;

	if (slot >= HARNESS_VIRTIO_SLOTS)
		return -ENOSPC;
	err = virtio_mmio_register(dev, &h->vm->mmio,
				   HARNESS_VIRTIO_BASE +
					   slot * HARNESS_VIRTIO_STRIDE);
	if (err < 0)
		return err;
	h->nr_virtio++;
	return (int)slot;
}

void harness_virtio_irq(void *opaque, bool level)
{
	struct harness *h = opaque;

	if (level)
		__atomic_fetch_add(&h->virtio_irqs, 1, __ATOMIC_RELAXED);
}

static void *loop_thread(void *arg)
{
	struct harness_loop *hl = arg;

	hl->err = evloop_run(hl->loop);
	return NULL;
}

int harness_loop_create(struct harness_loop *hl)
{
	memset(hl, 0, sizeof(*hl));
	return evloop_create(&hl->loop);
}

int harness_loop_start(struct harness_loop *hl)
{
	int err;

	if (!hl->loop || hl->running)
		return -EINVAL;
	err = pthread_create(&hl->thread, NULL, loop_thread, hl);
	if (err)
		return -err;
	hl->running = true;
	return 0;
}

void harness_loop_stop(struct harness_loop *hl)
{
	if (!hl->running)
		return;
	evloop_stop(hl->loop);
	pthread_join(hl->thread, NULL);
	hl->running = false;
}

void harness_loop_free(struct harness_loop *hl)
{
	harness_loop_stop(hl);
	evloop_destroy(hl->loop);
	hl->loop = NULL;
}
