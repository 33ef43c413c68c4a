/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The machine's devices beyond the UART: the i8042 (reset and
 * Ctrl-Alt-Del) and the virtio-mmio devices the configuration asks for,
 * each in its own 4 KiB slot with its own GSI, announced to the guest on
 * the kernel command line as Firecracker does.
 */
#include "vmm/machine-priv.h"

#include "common/log.h"
#include "vmm/accel/accel-irq.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/virtio-blk.h"
#include "vmm/devices/virtio-net.h"
#include "vmm/devices/virtio-rng.h"
#include "vmm/devices/virtio-vsock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void virtio_irq(void *opaque, bool level)
{
	struct machine_virtio *d = opaque;

	accel_irq_line(d->m->vm->acc, d->gsi, level);
}

static void i8042_irq(void *opaque)
{
	struct machine *m = opaque;

	/* The keyboard line is an ISA edge. */
	accel_irq_line(m->vm->acc, MACHINE_I8042_GSI, true);
	accel_irq_line(m->vm->acc, MACHINE_I8042_GSI, false);
}

static void i8042_reset(void *opaque)
{
	machine_guest_exit(opaque, 0, "the guest reset the machine (i8042)");
}

static struct machine_virtio *virtio_slot(struct machine *m)
{
	struct machine_virtio *d;

	if (m->nr_virtio >= MACHINE_MAX_VIRTIO)
		return NULL;
	d = &m->virtio[m->nr_virtio];
	memset(d, 0, sizeof(*d));
	d->m = m;
	d->gsi = MACHINE_VIRTIO_FIRST_GSI + m->nr_virtio;
	d->base = MACHINE_VIRTIO_BASE + m->nr_virtio * MACHINE_VIRTIO_STRIDE;
	return d;
}

/* The device was created into d: register it, or undo it. */
static int virtio_commit(struct machine *m, struct machine_virtio *d,
			 struct virtio_mmio *mmio)
{
	int r = virtio_mmio_register(mmio, &m->vm->mmio, d->base);

	if (r < 0) {
		d->destroy(d->dev);
		return r;
	}
	d->mmio = mmio;
	m->nr_virtio++;
	return 0;
}

static void fail(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
}

static void blk_destroy(void *dev)
{
	virtio_blk_destroy(dev);
}

static int add_drive(struct machine *m, const struct vmm_drive *drv, char *err,
		     size_t err_size)
{
	struct virtio_blk_params bp = {
		.path = drv->path_on_host,
		.drive_id = drv->drive_id,
		.read_only = drv->is_read_only,
		.flush = drv->cache_type == VMM_CACHE_WRITEBACK,
	};
	struct machine_virtio *d = virtio_slot(m);
	struct virtio_blk *blk;
	int r;

	if (!d) {
		fail(err, err_size, "too many devices");
		return -ENOSPC;
	}
	r = virtio_blk_create(&bp, &m->vm->mem, virtio_irq, d, &blk);
	if (r < 0) {
		fail(err, err_size, "drive %s: cannot use %s: %s",
		     drv->drive_id, drv->path_on_host, strerror(-r));
		return r;
	}
	d->dev = blk;
	d->destroy = blk_destroy;
	d->drive = drv;
	r = virtio_commit(m, d, virtio_blk_mmio(blk));
	if (r < 0)
		fail(err, err_size, "drive %s: %s", drv->drive_id,
		     strerror(-r));
	return r;
}

static void net_destroy(void *dev)
{
	virtio_net_destroy(dev);
}

static int add_net(struct machine *m, const struct vmm_net *nc, char *err,
		   size_t err_size)
{
	struct virtio_net_params np = {
		.host_dev_name = nc->host_dev_name,
		.has_mac = nc->has_guest_mac,
	};
	struct machine_virtio *d = virtio_slot(m);
	struct virtio_net *net;
	int r;

	if (!d) {
		fail(err, err_size, "too many devices");
		return -ENOSPC;
	}
	memcpy(np.mac, nc->guest_mac, sizeof(np.mac));
	r = virtio_net_create(&np, &m->vm->mem, m->loop, virtio_irq, d, &net);
	if (r < 0) {
		fail(err, err_size, "network interface %s on %s: %s",
		     nc->iface_id, nc->host_dev_name, strerror(-r));
		return r;
	}
	d->dev = net;
	d->destroy = net_destroy;
	return virtio_commit(m, d, virtio_net_mmio(net));
}

static void vsock_destroy(void *dev)
{
	virtio_vsock_destroy(dev);
}

static int add_vsock(struct machine *m, char *err, size_t err_size)
{
	const struct vmm_vsock *vc = &m->cfg->vsock;
	struct virtio_vsock_params vp = {
		.guest_cid = vc->guest_cid,
		.uds_path = vc->uds_path,
	};
	struct machine_virtio *d = virtio_slot(m);
	struct virtio_vsock *vs;
	int r;

	if (!d) {
		fail(err, err_size, "too many devices");
		return -ENOSPC;
	}
	r = virtio_vsock_create(&vp, &m->vm->mem, m->loop, virtio_irq, d, &vs);
	if (r < 0) {
		fail(err, err_size, "vsock on %s: %s", vc->uds_path,
		     strerror(-r));
		return r;
	}
	d->dev = vs;
	d->destroy = vsock_destroy;
	m->vsock = vs;
	return virtio_commit(m, d, virtio_vsock_mmio(vs));
}

static void rng_destroy(void *dev)
{
	virtio_rng_destroy(dev);
}

static int add_rng(struct machine *m, char *err, size_t err_size)
{
	struct machine_virtio *d = virtio_slot(m);
	struct virtio_rng *rng;
	int r;

	if (!d) {
		fail(err, err_size, "too many devices");
		return -ENOSPC;
	}
	r = virtio_rng_create(&m->vm->mem, virtio_irq, d, &rng);
	if (r < 0) {
		fail(err, err_size, "entropy device: %s", strerror(-r));
		return r;
	}
	d->dev = rng;
	d->destroy = rng_destroy;
	return virtio_commit(m, d, virtio_rng_mmio(rng));
}

/* The root device first, so that the guest sees it as /dev/vda. */
static int add_drives(struct machine *m, char *err, size_t err_size)
{
	const struct vmm_config *c = m->cfg;
	unsigned int i;
	int r;

	for (i = 0; i < c->nr_drives; i++) {
		if (!c->drives[i].is_root_device)
			continue;
		r = add_drive(m, &c->drives[i], err, err_size);
		if (r < 0)
			return r;
	}
	for (i = 0; i < c->nr_drives; i++) {
		if (c->drives[i].is_root_device)
			continue;
		r = add_drive(m, &c->drives[i], err, err_size);
		if (r < 0)
			return r;
	}
	return 0;
}

/* In Firecracker's order: drives, network interfaces, vsock, entropy. */
int machine_add_devices(struct machine *m, char *err, size_t err_size)
{
	unsigned int i;
	int r;

	r = i8042_create(i8042_reset, m, i8042_irq, m, &m->i8042);
	if (r == 0) {
		r = i8042_attach(m->i8042, &m->vm->pio);
		if (r < 0) {
			i8042_destroy(m->i8042);
			m->i8042 = NULL;
		}
	}
	if (r < 0) {
		fail(err, err_size, "i8042: %s", strerror(-r));
		return r;
	}
	r = add_drives(m, err, err_size);
	for (i = 0; r == 0 && i < m->cfg->nr_nets; i++)
		r = add_net(m, &m->cfg->nets[i], err, err_size);
	if (r == 0 && m->cfg->vsock.set)
		r = add_vsock(m, err, err_size);
	if (r == 0 && m->cfg->entropy.set)
		r = add_rng(m, err, err_size);
	return r;
}

void machine_remove_devices(struct machine *m)
{
	unsigned int i;

	for (i = 0; i < m->nr_virtio; i++)
		m->virtio[i].destroy(m->virtio[i].dev);
	m->nr_virtio = 0;
	m->vsock = NULL;
	i8042_destroy(m->i8042);
	m->i8042 = NULL;
}

/* The configured arguments, the root device, then one
 * virtio_mmio.device= per slot. */
int machine_cmdline(struct machine *m, char *buf, size_t size, char *err,
		    size_t err_size)
{
	size_t len;
	unsigned int i;
	int n;

	n = snprintf(buf, size, "%s", vmm_config_boot_args(m->cfg));
	for (i = 0; n >= 0 && (size_t)n < size && i < m->nr_virtio; i++) {
		const struct machine_virtio *d = &m->virtio[i];

		len = (size_t)n;
		if (d->drive && d->drive->is_root_device) {
			if (d->drive->partuuid)
				n = snprintf(buf + len, size - len,
					     " root=PARTUUID=%s",
					     d->drive->partuuid);
			else
				n = snprintf(buf + len, size - len,
					     " root=/dev/vd%c", 'a' + i);
			if (n < 0)
				break;
			len += (size_t)n;
			n = snprintf(buf + len, size - len, " %s",
				     d->drive->is_read_only ? "ro" : "rw");
			if (n < 0)
				break;
			len += (size_t)n;
		}
		n = snprintf(buf + len, size - len,
			     " virtio_mmio.device=4K@0x%llx:%u",
			     (unsigned long long)d->base, d->gsi);
		if (n >= 0)
			n += (int)len;
	}
	if (n < 0 || (size_t)n >= size) {
		fail(err, err_size,
		     "the kernel command line is longer than "
		     "%zu bytes",
		     size - 1);
		return -E2BIG;
	}
	return 0;
}

int machine_drive_update(struct machine *m, const char *drive_id,
			 const char *path, char *err, size_t err_size)
{
	unsigned int i;
	int r;

	for (i = 0; i < m->nr_virtio; i++) {
		const struct machine_virtio *d = &m->virtio[i];

		if (!d->drive || strcmp(d->drive->drive_id, drive_id))
			continue;
		r = virtio_blk_update_path(d->dev, path);
		if (r < 0)
			fail(err, err_size, "drive %s: cannot use %s: %s",
			     drive_id, path, strerror(-r));
		return r;
	}
	fail(err, err_size, "no drive %s", drive_id);
	return -ENOENT;
}

int machine_ctrl_alt_del(struct machine *m)
{
	if (!m->i8042)
		return -ENODEV;
	return i8042_send_ctrl_alt_del(m->i8042);
}
