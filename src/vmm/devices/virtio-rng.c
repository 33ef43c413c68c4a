/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-rng: fills request buffers from getrandom(). */
#include "vmm/devices/virtio-rng.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct virtio_rng {
	struct virtio_mmio mmio;
	struct virtq_chain chain;
	uint64_t bytes;
};

/* Fills len bytes at p; false if the host's entropy source failed. */
static bool fill_random(uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			lg_err("virtio-rng: getrandom: %s", strerror(errno));
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void rng_notify(void *opaque, struct virtio_mmio *dev, unsigned int qidx)
{
	struct virtio_rng *rng = opaque;
	struct virtq *q = virtio_mmio_queue(dev, qidx);
	bool pushed = false;
	int rc;

	while ((rc = virtq_pop(q, &rng->chain)) == 1) {
		uint32_t room = VIRTIO_RNG_MAX_REQUEST, done = 0;
		unsigned int i;

		/* Only device-writable buffers take entropy (5.4.6.1). */
		for (i = rng->chain.nr_readable; i < rng->chain.nr_segs && room;
		     i++) {
			const struct virtq_seg *s = &rng->chain.segs[i];
			uint32_t n = s->len < room ? s->len : room;

			if (!fill_random(s->hva, n)) {
				virtio_mmio_needs_reset(dev);
				return;
			}
			done += n;
			room -= n;
		}
		rng->bytes += done;
		if (virtq_push(q, rng->chain.head, done) < 0)
			break;
		pushed = true;
	}
	if (pushed || rc < 0)
		virtio_mmio_notify_used(dev, qidx);
}

static const struct virtio_backend_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.features = 0,
	.config_size = 0,
	.queue_notify = rng_notify,
};

int virtio_rng_create(const struct vm_mem *mem, virtio_irq_fn irq,
		      void *irq_opaque, struct virtio_rng **out)
{
	struct virtio_rng *rng;
	int err;

	*out = NULL;
	rng = calloc(1, sizeof(*rng));
	if (!rng)
		return -ENOMEM;
	err = virtio_mmio_init(&rng->mmio, mem, &rng_ops, rng, 1,
			       VIRTIO_RNG_QUEUE_SIZE, irq, irq_opaque);
	if (err < 0) {
		free(rng);
		return err;
	}
	*out = rng;
	return 0;
}

void virtio_rng_destroy(struct virtio_rng *rng)
{
	if (!rng)
		return;
	virtio_mmio_destroy(&rng->mmio);
	free(rng);
}

struct virtio_mmio *virtio_rng_mmio(struct virtio_rng *rng)
{
	return &rng->mmio;
}

uint64_t virtio_rng_bytes(struct virtio_rng *rng)
{
	uint64_t n;

	virtio_mmio_lock(&rng->mmio);
	n = rng->bytes;
	virtio_mmio_unlock(&rng->mmio);
	return n;
}
