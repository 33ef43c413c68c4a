/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mmio transport, version 2 (modern; virtio 1.x section 4.2),
 * registered on the MMIO bus. A device backend (blk, net, rng, vsock)
 * supplies its features, config space and queue handlers; the VM supplies
 * an interrupt callback. Neither sees the other's types.
 *
 * Locking: register accesses take the device lock. Backend callbacks are
 * called with it held and must not call back into the transport, except
 * virtio_mmio_notify_used() and virtio_mmio_config_changed(), which expect
 * the lock to be held. A backend that processes queues from another thread
 * (a TAP reader, say) takes the lock with virtio_mmio_lock().
 */
#ifndef LG_VMM_VIRTIO_MMIO_H
#define LG_VMM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/memory.h"
#include "vmm/virtio/virtqueue.h"

#define VIRTIO_MMIO_SIZE 0x200ull
#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION 2u
#define VIRTIO_MMIO_VENDOR 0x4d56474cu /* "LGVM" */
#define VIRTIO_MMIO_MAX_QUEUES 8u

/* Register offsets. */
#define VIRTIO_MMIO_MAGIC_VALUE 0x000
#define VIRTIO_MMIO_VERSION_REG 0x004
#define VIRTIO_MMIO_DEVICE_ID 0x008
#define VIRTIO_MMIO_VENDOR_ID 0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES 0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES 0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL 0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIRTIO_MMIO_QUEUE_NUM 0x038
#define VIRTIO_MMIO_QUEUE_READY 0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK 0x064
#define VIRTIO_MMIO_STATUS 0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIRTIO_MMIO_SHM_SEL 0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIRTIO_MMIO_CONFIG 0x100

/* Device status bits (2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER 2u
#define VIRTIO_STATUS_DRIVER_OK 4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 64u
#define VIRTIO_STATUS_FAILED 128u

/* InterruptStatus bits. */
#define VIRTIO_MMIO_INT_VRING 1u
#define VIRTIO_MMIO_INT_CONFIG 2u

/* Transport feature bits. */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

/*
 * What the transport lets a backend offer: device-specific bits 0-23 and
 * INDIRECT_DESC. VERSION_1 is always offered; nothing else (no event idx,
 * packed rings, notification data, IOMMU platform access).
 */
#define VIRTIO_MMIO_BACKEND_FEATURES                                           \
	(0xffffffull | (1ull << VIRTIO_F_INDIRECT_DESC))

struct virtio_mmio;

struct virtio_backend_ops {
	const char *name;
	uint32_t device_id;
	uint64_t features;    /* masked with VIRTIO_MMIO_BACKEND_FEATURES */
	uint32_t config_size; /* device config space, at most 0x100 bytes */
	/*
	 * Config space access within [0, config_size), len 1, 2, 4 or 8,
	 * little endian. NULL: reads 0, writes ignored.
	 */
	void (*config_read)(void *opaque, uint32_t offset, uint8_t *data,
			    uint32_t len);
	void (*config_write)(void *opaque, uint32_t offset, const uint8_t *data,
			     uint32_t len);
	/*
	 * The driver set DRIVER_OK with these features. Nonzero: the device
	 * cannot run; the transport sets DEVICE_NEEDS_RESET. May be NULL.
	 */
	int (*activate)(void *opaque, struct virtio_mmio *dev,
			uint64_t features);
	/* The driver notified ready queue `qidx` (only after DRIVER_OK). */
	void (*queue_notify)(void *opaque, struct virtio_mmio *dev,
			     unsigned int qidx);
	/* Device reset: drop all in-flight work. May be NULL. */
	void (*reset)(void *opaque);
};

/*
 * Interrupt line: called with level true each time the device raises an
 * interrupt (also when one is already pending, so that an edge-triggered
 * line such as an irqfd sees each), false when the driver acknowledged
 * every pending cause.
 */
typedef void (*virtio_irq_fn)(void *opaque, bool level);

struct virtio_mmio {
	pthread_mutex_t lock;
	const struct virtio_backend_ops *ops;
	void *opaque;
	virtio_irq_fn irq;
	void *irq_opaque;

	uint64_t device_features;
	uint64_t driver_features;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t status;
	uint32_t interrupt_status;
	uint32_t config_generation;

	unsigned int nr_queues;
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
};

/*
 * nr_queues: 1 .. VIRTIO_MMIO_MAX_QUEUES, each offering queue_max entries
 * (a power of 2 up to VIRTQ_MAX_SIZE). 0 or -EINVAL.
 */
int virtio_mmio_init(struct virtio_mmio *dev, const struct vm_mem *mem,
		     const struct virtio_backend_ops *ops, void *opaque,
		     unsigned int nr_queues, uint16_t queue_max,
		     virtio_irq_fn irq, void *irq_opaque);
void virtio_mmio_destroy(struct virtio_mmio *dev);

/* Registers [base, base + VIRTIO_MMIO_SIZE) on the bus. */
int virtio_mmio_register(struct virtio_mmio *dev, struct bus *bus,
			 uint64_t base);

/* The bus handlers, exposed for tests: offsets relative to the base. */
extern const struct bus_device_ops virtio_mmio_bus_ops;

void virtio_mmio_lock(struct virtio_mmio *dev);
void virtio_mmio_unlock(struct virtio_mmio *dev);

/* Queue qidx (< nr_queues), for the backend; lock held. */
struct virtq *virtio_mmio_queue(struct virtio_mmio *dev, unsigned int qidx);

/*
 * After virtq_push() on queue qidx: raises the vring interrupt unless the
 * driver suppressed it. If the queue broke, sets DEVICE_NEEDS_RESET
 * instead. Lock held.
 */
void virtio_mmio_notify_used(struct virtio_mmio *dev, unsigned int qidx);

/* Config space changed: new generation, config interrupt. Lock held. */
void virtio_mmio_config_changed(struct virtio_mmio *dev);

/*
 * The device cannot go on (a broken queue, a backend failure): sets
 * DEVICE_NEEDS_RESET and, once DRIVER_OK, sends a config interrupt. The
 * guest recovers by resetting the device. Lock held.
 */
void virtio_mmio_needs_reset(struct virtio_mmio *dev);

#endif
