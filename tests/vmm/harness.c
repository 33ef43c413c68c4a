/* SPDX-License-Identifier: Apache-2.0 */
/* Test devices, guest loading and the bounded vCPU run. */
#include "harness.h"
#include "longmode.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t le_value(const uint8_t *data, uint32_t len)
{
	uint64_t v = 0;
	uint32_t i;

	for (i = 0; i < len; i++)
		v |= (uint64_t)data[i] << (8 * i);
	return v;
}

/* PIO 0x500..0x50f: exit code, bench counter, report log. */
static int test_pio_write(void *opaque, uint64_t offset, const uint8_t *data,
			  uint32_t len)
{
	struct harness_devices *d = opaque;
	uint64_t now;

	switch (offset + HARNESS_PORT_BASE) {
	case HARNESS_PORT_EXIT:
		d->exit_code = (uint32_t)le_value(data, len);
		d->exited = true;
		vcpu_request_stop(d->vcpu);
		break;
	case HARNESS_PORT_BENCH:
		now = lg_now_ns();
		if (d->pio_bench_n++ == 0)
			d->pio_bench_first_ns = now;
		d->pio_bench_last_ns = now;
		break;
	case HARNESS_PORT_REPORT:
		if (d->nr_reports < HARNESS_MAX_REPORTS)
			d->reports[d->nr_reports++] =
				(uint32_t)le_value(data, len);
		else
			d->overflow++;
		break;
	default:
		break;
	}
	return 0;
}

static const struct bus_device_ops test_pio_ops = {
	.name = "test-pio",
	.write = test_pio_write,
};

/* MMIO: reads return byte i = 0x11 * (i + 1) + low byte of offset. */
static int test_mmio_read(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len)
{
	uint32_t i;

	(void)opaque;
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(0x11 * (i + 1) + offset);
	return 0;
}

static int test_mmio_write(void *opaque, uint64_t offset, const uint8_t *data,
			   uint32_t len)
{
	struct harness_devices *d = opaque;
	uint64_t now;

	if (offset == HARNESS_MMIO_BENCH) {
		now = lg_now_ns();
		if (d->mmio_bench_n++ == 0)
			d->mmio_bench_first_ns = now;
		d->mmio_bench_last_ns = now;
		return 0;
	}
	if (d->nr_mmio_log == HARNESS_MAX_MMIO_LOG) {
		d->overflow++;
		return 0;
	}
	d->mmio_log[d->nr_mmio_log++] = (struct harness_mmio_access){
		.offset = offset,
		.len = len,
		.data = le_value(data, len),
	};
	return 0;
}

static const struct bus_device_ops test_mmio_ops = {
	.name = "test-mmio",
	.read = test_mmio_read,
	.write = test_mmio_write,
};

int harness_create(struct harness *h)
{
	int err;

	memset(h, 0, sizeof(*h));
	h->uart_fd = memfd_create("lg-vmm-uart", MFD_CLOEXEC);
	if (h->uart_fd < 0)
		return -errno;
	err = vm_create(HARNESS_RAM_SIZE, &h->vm);
	if (err < 0)
		goto fail;
	err = serial_init(&h->serial, h->uart_fd);
	if (err < 0)
		goto fail;
	h->serial_ready = true;
	err = serial_attach(&h->serial, &h->vm->pio, SERIAL_COM1_BASE);
	if (err < 0)
		goto fail;
	err = bus_register(&h->vm->pio, HARNESS_PORT_BASE, 16, &test_pio_ops,
			   &h->dev);
	if (err < 0)
		goto fail;
	err = bus_register(&h->vm->mmio, HARNESS_MMIO_BASE, HARNESS_MMIO_SIZE,
			   &test_mmio_ops, &h->dev);
	if (err < 0)
		goto fail;
	err = vcpu_create(h->vm, 0, &h->vcpu);
	if (err < 0)
		goto fail;
	h->dev.vcpu = h->vcpu;
	return 0;
fail:
	harness_destroy(h);
	return err;
}

void harness_destroy(struct harness *h)
{
	vcpu_destroy(h->vcpu);
	vm_destroy(h->vm);
	if (h->serial_ready)
		serial_destroy(&h->serial);
	if (h->uart_fd >= 0)
		close(h->uart_fd);
	memset(h, 0, sizeof(*h));
	h->uart_fd = -1;
}

int harness_load(struct harness *h, const char *path)
{
	uint64_t room = HARNESS_RAM_SIZE - HARNESS_LOAD_ADDR - 0x10000;
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
	/* The stack grows down from the top of RAM; keep 64 KiB for it. */
	if (st.st_size <= 0 || (uint64_t)st.st_size > room) {
		err = -EFBIG;
		goto out;
	}
	dst = vm_mem_ptr(&h->vm->mem, HARNESS_LOAD_ADDR, (uint64_t)st.st_size);
	if (!dst) {
		err = -EFAULT;
		goto out;
	}
	n = read(fd, dst, (size_t)st.st_size);
	if (n != st.st_size) {
		err = n < 0 ? -errno : -EIO;
		goto out;
	}
	err = longmode_setup(h->vcpu, &h->vm->mem, HARNESS_MAP_SIZE,
			     HARNESS_LOAD_ADDR, HARNESS_RAM_SIZE);
out:
	close(fd);
	return err;
}

struct harness_thread {
	struct harness *h;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

static void *harness_vcpu_thread(void *arg)
{
	struct harness_thread *t = arg;
	int err;

	err = vcpu_run(t->h->vcpu, &t->h->stop);
	pthread_mutex_lock(&t->lock);
	t->err = err;
	t->done = true;
	pthread_cond_signal(&t->cond);
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

/* Waits for the vCPU thread until deadline: true if it finished. */
static bool harness_wait(struct harness_thread *t, int seconds)
{
	struct timespec ts;
	bool done;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += seconds;
	pthread_mutex_lock(&t->lock);
	while (!t->done) {
		if (pthread_cond_timedwait(&t->cond, &t->lock, &ts) ==
		    ETIMEDOUT)
			break;
	}
	done = t->done;
	pthread_mutex_unlock(&t->lock);
	return done;
}

int harness_run(struct harness *h)
{
	struct harness_thread t = {.h = h};
	pthread_condattr_t ca;
	pthread_t thread;
	uint64_t start;
	int err;

	pthread_mutex_init(&t.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t.cond, &ca);
	pthread_condattr_destroy(&ca);
	start = lg_now_ns();
	err = pthread_create(&thread, NULL, harness_vcpu_thread, &t);
	if (err) {
		err = -err;
		goto out;
	}
	if (!harness_wait(&t, HARNESS_TIMEOUT_S)) {
		fprintf(stderr,
			"harness: guest still running after %d s, "
			"stopping it\n",
			HARNESS_TIMEOUT_S);
		vcpu_request_stop(h->vcpu);
		if (!harness_wait(&t, 5)) {
			/* Cannot join a thread stuck in the kernel. */
			fprintf(stderr, "harness: vCPU did not stop\n");
			_exit(1);
		}
		pthread_join(thread, NULL);
		err = -ETIMEDOUT;
		goto out;
	}
	pthread_join(thread, NULL);
	err = t.err;
out:
	h->run_ns = lg_now_ns() - start;
	pthread_cond_destroy(&t.cond);
	pthread_mutex_destroy(&t.lock);
	return err;
}

void harness_dump(struct harness *h)
{
	struct x86_sregs s;
	struct x86_regs r;

	if (accel_vcpu_get_regs(h->vcpu->acc, &r) < 0 ||
	    accel_vcpu_get_sregs(h->vcpu->acc, &s) < 0)
		return;
	fprintf(stderr,
		"harness: stop %s rip %#llx rsp %#llx rflags %#llx cs %#x "
		"ss %#x cr0 %#llx cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx\n",
		vcpu_stop_reason_name(h->stop), (unsigned long long)r.rip,
		(unsigned long long)r.rsp, (unsigned long long)r.rflags,
		s.cs.selector, s.ss.selector, (unsigned long long)s.cr0,
		(unsigned long long)s.cr2, (unsigned long long)s.cr3,
		(unsigned long long)s.cr4, (unsigned long long)s.efer);
}

int harness_uart_output(struct harness *h, char *buf, size_t size)
{
	ssize_t n;

	if (size == 0)
		return -EINVAL;
	n = pread(h->uart_fd, buf, size - 1, 0);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}
