/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-mmio version 2 transport: registers, status machine, interrupts. */
#include "vmm/virtio/mmio.h"

#include "common/log.h"

#include <errno.h>
#include <string.h>

#define STATUS_DRIVER_BITS                                                     \
	(VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |                    \
	 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK |                 \
	 VIRTIO_STATUS_FAILED)

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int virtio_mmio_init(struct virtio_mmio *dev, const struct vm_mem *mem,
		     const struct virtio_backend_ops *ops, void *opaque,
		     unsigned int nr_queues, uint16_t queue_max,
		     virtio_irq_fn irq, void *irq_opaque)
{
	unsigned int i;
	int err;

	if (!ops || nr_queues == 0 || nr_queues > VIRTIO_MMIO_MAX_QUEUES ||
	    queue_max == 0 || queue_max > VIRTQ_MAX_SIZE ||
	    (queue_max & (queue_max - 1)) ||
	    ops->config_size > VIRTIO_MMIO_SIZE - VIRTIO_MMIO_CONFIG)
		return -EINVAL;
	memset(dev, 0, sizeof(*dev));
	err = pthread_mutex_init(&dev->lock, NULL);
	if (err)
		return -err;
	dev->ops = ops;
	dev->opaque = opaque;
	dev->irq = irq;
	dev->irq_opaque = irq_opaque;
	dev->device_features = (ops->features & VIRTIO_MMIO_BACKEND_FEATURES) |
			       1ull << VIRTIO_F_VERSION_1;
	dev->nr_queues = nr_queues;
	for (i = 0; i < nr_queues; i++)
		virtq_init(&dev->queues[i], mem, queue_max);
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *dev)
{
	pthread_mutex_destroy(&dev->lock);
}

void virtio_mmio_lock(struct virtio_mmio *dev)
{
	pthread_mutex_lock(&dev->lock);
}

void virtio_mmio_unlock(struct virtio_mmio *dev)
{
	pthread_mutex_unlock(&dev->lock);
}

struct virtq *virtio_mmio_queue(struct virtio_mmio *dev, unsigned int qidx)
{
	return qidx < dev->nr_queues ? &dev->queues[qidx] : NULL;
}

static void raise_irq(struct virtio_mmio *dev, uint32_t bits)
{
	dev->interrupt_status |= bits;
	if (dev->irq)
		dev->irq(dev->irq_opaque, true);
}

void virtio_mmio_needs_reset(struct virtio_mmio *dev)
{
	if (dev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	lg_warn("virtio-mmio %s: device needs reset", dev->ops->name);
	dev->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (dev->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(dev, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_notify_used(struct virtio_mmio *dev, unsigned int qidx)
{
	struct virtq *q = virtio_mmio_queue(dev, qidx);

	if (!q)
		return;
	if (virtq_broken(q)) {
		virtio_mmio_needs_reset(dev);
		return;
	}
	if (virtq_push_needs_irq(q))
		raise_irq(dev, VIRTIO_MMIO_INT_VRING);
}

void virtio_mmio_config_changed(struct virtio_mmio *dev)
{
	dev->config_generation++;
	if (dev->status & VIRTIO_STATUS_DRIVER_OK)
		raise_irq(dev, VIRTIO_MMIO_INT_CONFIG);
}

static void check_queues(struct virtio_mmio *dev)
{
	unsigned int i;

	for (i = 0; i < dev->nr_queues; i++)
		if (virtq_broken(&dev->queues[i]))
			virtio_mmio_needs_reset(dev);
}

static void device_reset(struct virtio_mmio *dev)
{
	unsigned int i;
	bool had_irq = dev->interrupt_status != 0;

	if (dev->ops->reset)
		dev->ops->reset(dev->opaque);
	for (i = 0; i < dev->nr_queues; i++)
		virtq_reset(&dev->queues[i]);
	dev->driver_features = 0;
	dev->device_features_sel = 0;
	dev->driver_features_sel = 0;
	dev->queue_sel = 0;
	dev->status = 0;
	dev->interrupt_status = 0;
	if (had_irq && dev->irq)
		dev->irq(dev->irq_opaque, false);
}

static bool features_ok(const struct virtio_mmio *dev)
{
	uint64_t f = dev->driver_features;

	return !(f & ~dev->device_features) &&
	       (f & (1ull << VIRTIO_F_VERSION_1));
}

static void write_status(struct virtio_mmio *dev, uint32_t val)
{
	uint32_t old = dev->status & STATUS_DRIVER_BITS;
	uint32_t new = val &STATUS_DRIVER_BITS;
	uint32_t added = new & ~old;
	unsigned int i;

	if (val == 0) {
		device_reset(dev);
		return;
	}
	/* Only a reset clears bits; each step needs the one before. */
	if (old & ~new)
		return;
	if ((added & VIRTIO_STATUS_DRIVER) && !(new &VIRTIO_STATUS_ACKNOWLEDGE))
		return;
	if ((added & VIRTIO_STATUS_FEATURES_OK) && !(new &VIRTIO_STATUS_DRIVER))
		return;
	if ((added & VIRTIO_STATUS_DRIVER_OK) &&
	    !(new &VIRTIO_STATUS_FEATURES_OK))
		return;
	if (added & VIRTIO_STATUS_FEATURES_OK) {
		if (!features_ok(dev)) {
			/* The driver reads it back and sees it refused. */
			new &= ~VIRTIO_STATUS_FEATURES_OK;
			if (new &VIRTIO_STATUS_DRIVER_OK)
				return;
		} else {
			for (i = 0; i < dev->nr_queues; i++)
				dev->queues[i].indirect =
					dev->driver_features &
					(1ull << VIRTIO_F_INDIRECT_DESC);
		}
	}
	dev->status = new | (dev->status & VIRTIO_STATUS_NEEDS_RESET);
	if ((added & VIRTIO_STATUS_DRIVER_OK) && dev->ops->activate &&
	    dev->ops->activate(dev->opaque, dev, dev->driver_features))
		virtio_mmio_needs_reset(dev);
}

/* Queue configuration is the driver's between FEATURES_OK and a reset. */
static struct virtq *setup_queue(struct virtio_mmio *dev)
{
	struct virtq *q = virtio_mmio_queue(dev, dev->queue_sel);

	if (!q || q->ready)
		return NULL;
	if (!(dev->status & VIRTIO_STATUS_FEATURES_OK) ||
	    (dev->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)))
		return NULL;
	return q;
}

static void set_lo(uint64_t *v, uint32_t lo)
{
	*v = (*v & 0xffffffff00000000ull) | lo;
}

static void set_hi(uint64_t *v, uint32_t hi)
{
	*v = (*v & 0xffffffffull) | (uint64_t)hi << 32;
}

static uint32_t reg_read(struct virtio_mmio *dev, uint64_t off)
{
	struct virtq *q = virtio_mmio_queue(dev, dev->queue_sel);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION_REG:
		return VIRTIO_MMIO_VERSION;
	case VIRTIO_MMIO_DEVICE_ID:
		return dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		if (dev->device_features_sel > 1)
			return 0;
		return (uint32_t)(dev->device_features >>
				  (32 * dev->device_features_sel));
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? q->max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return dev->interrupt_status;
	case VIRTIO_MMIO_STATUS:
		return dev->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH:
	case VIRTIO_MMIO_SHM_BASE_LOW:
	case VIRTIO_MMIO_SHM_BASE_HIGH:
		/* No shared memory regions: length all-ones. */
		return 0xffffffffu;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return dev->config_generation;
	default:
		/* Write-only and reserved registers read as 0. */
		return 0;
	}
}

static void reg_write(struct virtio_mmio *dev, uint64_t off, uint32_t val)
{
	struct virtq *q;

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		dev->device_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		dev->driver_features_sel = val;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		/* Only while negotiating: DRIVER set, FEATURES_OK not. */
		if ((dev->status &
		     (VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		      VIRTIO_STATUS_FAILED)) != VIRTIO_STATUS_DRIVER)
			break;
		if (dev->driver_features_sel == 0)
			set_lo(&dev->driver_features, val);
		else if (dev->driver_features_sel == 1)
			set_hi(&dev->driver_features, val);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		dev->queue_sel = val;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		q = setup_queue(dev);
		if (q)
			q->size = val <= 0xffff ? (uint16_t)val : 0;
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		q = virtio_mmio_queue(dev, dev->queue_sel);
		if (q && val == 0) {
			virtq_disable(q);
		} else if (val == 1 && setup_queue(dev)) {
			if (virtq_enable(q) < 0)
				virtio_mmio_needs_reset(dev);
		}
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		q = virtio_mmio_queue(dev, val);
		if (!q || !q->ready || !dev->ops->queue_notify ||
		    (dev->status &
		     (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_NEEDS_RESET)) !=
			    VIRTIO_STATUS_DRIVER_OK)
			break;
		dev->ops->queue_notify(dev->opaque, dev, val);
		check_queues(dev);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		if (dev->interrupt_status & val) {
			dev->interrupt_status &= ~val;
			if (!dev->interrupt_status && dev->irq)
				dev->irq(dev->irq_opaque, false);
		}
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(dev, val);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: {
		uint64_t *addr;

		q = setup_queue(dev);
		if (!q)
			break;
		if (off < VIRTIO_MMIO_QUEUE_DRIVER_LOW)
			addr = &q->desc_gpa;
		else if (off < VIRTIO_MMIO_QUEUE_DEVICE_LOW)
			addr = &q->avail_gpa;
		else
			addr = &q->used_gpa;
		if (off % 8 == 0)
			set_lo(addr, val);
		else
			set_hi(addr, val);
		break;
	}
	default:
		/* Read-only and reserved registers: ignored. */
		break;
	}
}

/* Config space: naturally aligned 1, 2, 4 or 8 bytes within its size. */
static bool config_access_ok(const struct virtio_mmio *dev, uint64_t off,
			     uint32_t len)
{
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return false;
	return off % len == 0 && off < dev->ops->config_size &&
	       len <= dev->ops->config_size - off;
}

static int mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_mmio *dev = opaque;

	memset(data, 0, len);
	pthread_mutex_lock(&dev->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		off -= VIRTIO_MMIO_CONFIG;
		if (config_access_ok(dev, off, len) && dev->ops->config_read)
			dev->ops->config_read(dev->opaque, (uint32_t)off, data,
					      len);
	} else if (len == 4 && off % 4 == 0) {
		put_le32(data, reg_read(dev, off));
	}
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

static int mmio_write(void *opaque, uint64_t off, const uint8_t *data,
		      uint32_t len)
{
	struct virtio_mmio *dev = opaque;

	pthread_mutex_lock(&dev->lock);
	if (off >= VIRTIO_MMIO_CONFIG) {
		off -= VIRTIO_MMIO_CONFIG;
		if (config_access_ok(dev, off, len) && dev->ops->config_write)
			dev->ops->config_write(dev->opaque, (uint32_t)off, data,
					       len);
	} else if (len == 4 && off % 4 == 0) {
		reg_write(dev, off, get_le32(data));
	}
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

const struct bus_device_ops virtio_mmio_bus_ops = {
	.name = "virtio-mmio",
	.read = mmio_read,
	.write = mmio_write,
};

int virtio_mmio_register(struct virtio_mmio *dev, struct bus *bus,
			 uint64_t base)
{
	return bus_register(bus, base, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops,
			    dev);
}
