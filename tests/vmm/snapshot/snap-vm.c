/* SPDX-License-Identifier: Apache-2.0 */
/* The snapshot tests' VM: devices, loading, a stoppable vCPU thread. */
#include "snap-vm.h"
#include "longmode.h"

#include "common/clock.h"
#include "vmm/accel/accel-irq.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint32_t le32(const uint8_t *d, uint32_t len)
{
	uint32_t v = 0, i;

	for (i = 0; i < len && i < 4; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void tick(struct snap_dev *d, uint32_t v)
{
	/* nr_ticks is polled by the main thread while the guest runs. */
	if (__atomic_fetch_add(&d->nr_ticks, 1, __ATOMIC_RELEASE) == 0)
		d->first_tick = v;
	else if (v != d->cur_tick + 1)
		d->ticks_in_order = false;
	d->cur_tick = v;
}

static int snap_pio_write(void *opaque, uint64_t offset, const uint8_t *data,
			  uint32_t len)
{
	struct snap_dev *d = opaque;
	uint32_t v = le32(data, len);
	uint32_t t = d->cur_tick;

	if (!d->first_exit_ns)
		__atomic_store_n(&d->first_exit_ns, lg_now_ns(),
				 __ATOMIC_RELEASE);
	switch (offset + SNAP_PORT_BASE) {
	case SNAP_PORT_EXIT:
		d->exit_code = v;
		d->exited = true;
		vcpu_request_stop(d->vcpu);
		break;
	case SNAP_PORT_REPORT:
		if (d->nr_reports < SNAP_MAX_REPORTS)
			d->reports[d->nr_reports++] = v;
		else
			d->bad_accesses++;
		break;
	case SNAP_PORT_TICK:
		tick(d, v);
		break;
	case SNAP_PORT_TICK_X:
		if (t <= SNAP_NR_TICKS)
			d->x_lo[t] = v;
		break;
	case SNAP_PORT_TICK_TSC:
		if (t <= SNAP_NR_TICKS)
			d->tsc[t] = v;
		d->last_tsc = v;
		break;
	case SNAP_PORT_TICK_CLOCK:
		if (t <= SNAP_NR_TICKS)
			d->clock_us[t] = v;
		d->last_clock_us = v;
		break;
	default:
		d->bad_accesses++;
		break;
	}
	return 0;
}

/* The tick read-back; stopping here leaves the IN for KVM to finish. */
static int snap_pio_read(void *opaque, uint64_t offset, uint8_t *data,
			 uint32_t len)
{
	struct snap_dev *d = opaque;
	uint32_t v = 0xffffffffu, i;

	if (!d->first_exit_ns)
		__atomic_store_n(&d->first_exit_ns, lg_now_ns(),
				 __ATOMIC_RELEASE);
	if (offset + SNAP_PORT_BASE == SNAP_PORT_TICK) {
		v = d->cur_tick ^ SNAP_TICK_ECHO;
		d->tick_reads++;
		if (d->stop_at_tick && d->cur_tick == d->stop_at_tick)
			vcpu_request_stop(d->vcpu);
	} else {
		d->bad_accesses++;
	}
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(v >> (8 * i));
	return 0;
}

static const struct bus_device_ops snap_pio_ops = {
	.name = "snap-test",
	.read = snap_pio_read,
	.write = snap_pio_write,
};

int snap_vm_create(struct snap_vm *s, uint64_t ram_size)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->dev.ticks_in_order = true;
	s->uart_fd = memfd_create("snap-uart", MFD_CLOEXEC);
	if (s->uart_fd < 0)
		return -errno;
	err = vm_create(ram_size, &s->vm);
	if (err < 0)
		goto fail;
	err = accel_create_irqchip(s->vm->acc);
	if (err < 0)
		goto fail;
	err = serial_init(&s->serial, s->uart_fd);
	if (err < 0)
		goto fail;
	s->serial_ready = true;
	err = serial_attach(&s->serial, &s->vm->pio, SERIAL_COM1_BASE);
	if (err < 0)
		goto fail;
	err = bus_register(&s->vm->pio, SNAP_PORT_BASE, 16, &snap_pio_ops,
			   &s->dev);
	if (err < 0)
		goto fail;
	err = vcpu_create(s->vm, 0, &s->vcpu);
	if (err < 0)
		goto fail;
	s->dev.vcpu = s->vcpu;
	return 0;
fail:
	snap_vm_destroy(s);
	return err;
}

void snap_vm_destroy(struct snap_vm *s)
{
	if (s->started)
		snap_vm_stop(s);
	vcpu_destroy(s->vcpu);
	vm_destroy(s->vm);
	if (s->serial_ready)
		serial_destroy(&s->serial);
	if (s->uart_fd >= 0)
		close(s->uart_fd);
	memset(s, 0, sizeof(*s));
	s->uart_fd = -1;
}

int snap_vm_load(struct snap_vm *s, const char *path)
{
	uint64_t ram = vm_mem_size(&s->vm->mem);
	struct stat st;
	void *dst;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	/* The stack grows down from the top of RAM. */
	if (st.st_size <= 0 ||
	    (uint64_t)st.st_size > ram - SNAP_LOAD_ADDR - 0x10000) {
		err = -EFBIG;
		goto out;
	}
	dst = vm_mem_ptr(&s->vm->mem, SNAP_LOAD_ADDR, (uint64_t)st.st_size);
	n = dst ? read(fd, dst, (size_t)st.st_size) : -1;
	if (n != st.st_size) {
		err = n < 0 && dst ? -errno : -EIO;
		goto out;
	}
	err = longmode_setup(s->vcpu, &s->vm->mem, SNAP_MAP_SIZE,
			     SNAP_LOAD_ADDR, ram);
out:
	close(fd);
	return err;
}

static void *snap_thread(void *arg)
{
	struct snap_vm *s = arg;

	s->run_err = vcpu_run(s->vcpu, &s->stop);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int snap_vm_start(struct snap_vm *s)
{
	int err;

	__atomic_store_n(&s->done, 0, __ATOMIC_RELEASE);
	err = pthread_create(&s->thread, NULL, snap_thread, s);
	if (err)
		return -err;
	s->started = true;
	return 0;
}

bool snap_vm_wait(struct snap_vm *s, int timeout_ms)
{
	uint64_t deadline = lg_now_ns() + (uint64_t)timeout_ms * 1000000;
	struct timespec ts = {0, 1000000};

	while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE)) {
		if (lg_now_ns() > deadline)
			return false;
		nanosleep(&ts, NULL);
	}
	return true;
}

int snap_vm_stop(struct snap_vm *s)
{
	if (!s->started)
		return 0;
	vcpu_request_stop(s->vcpu);
	if (!snap_vm_wait(s, 5000)) {
		/* A thread stuck in the kernel cannot be joined. */
		fprintf(stderr, "snap-vm: vCPU did not stop\n");
		_exit(1);
	}
	pthread_join(s->thread, NULL);
	s->started = false;
	return s->run_err;
}

int snap_vm_uart(struct snap_vm *s, char *buf, size_t size)
{
	ssize_t n;

	if (size == 0)
		return -EINVAL;
	n = pread(s->uart_fd, buf, size - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}
