/* SPDX-License-Identifier: Apache-2.0 */
/* Building and tearing down the lgvmm machine from a vmm_config. */
#include "vmm/machine-priv.h"

#include "common/log.h"
#include "vmm/accel/accel-irq.h"
#include "vmm/boot/e820.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

void machine_guest_exit(struct machine *m, int status, const char *why)
{
	if (__atomic_exchange_n(&m->exited, 1, __ATOMIC_SEQ_CST))
		return;
	if (m->on_exit)
		m->on_exit(m->opaque, status, why);
}

static void serial_irq(void *opaque, bool level)
{
	struct machine *m = opaque;

	accel_irq_line(m->vm->acc, MACHINE_SERIAL_GSI, level);
}

/* Console input: as much as the UART's FIFO takes; pause when full. */
static void serial_input(void *opaque, uint32_t events)
{
	struct machine *m = opaque;
	uint8_t buf[SERIAL_RX_FIFO];
	size_t room = serial_rx_space(&m->serial);
	ssize_t n;

	(void)events;
	if (room == 0) {
		evloop_modify(m->loop, m->serial_in_fd, 0);
		return;
	}
	n = read(m->serial_in_fd, buf, room);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		/* End of input, or an error: the guest just gets no more. */
		evloop_del(m->loop, m->serial_in_fd);
		m->serial_in_fd = -1;
		return;
	}
	serial_receive(&m->serial, buf, (size_t)n);
}

static void serial_input_resume(void *opaque, uint32_t events)
{
	struct machine *m = opaque;

	(void)events;
	if (m->serial_in_fd >= 0)
		evloop_modify(m->loop, m->serial_in_fd, EPOLLIN);
}

/* On a vCPU thread, serial lock held: hand over to the loop thread. */
static void serial_rx_ready(void *opaque)
{
	struct machine *m = opaque;

	evloop_call(m->loop, serial_input_resume, m);
}

int machine_add_serial(struct machine *m, const struct machine_params *p)
{
	int r;

	r = serial_init(&m->serial, p->serial_out_fd);
	if (r < 0)
		return r;
	m->serial_ready = true;
	serial_set_irq(&m->serial, serial_irq, m);
	r = serial_attach(&m->serial, &m->vm->pio, SERIAL_COM1_BASE);
	if (r < 0 || p->serial_in_fd < 0 || !m->loop)
		return r;
	serial_set_rx_ready(&m->serial, serial_rx_ready, m);
	m->serial_in_fd = p->serial_in_fd;
	r = evloop_add(m->loop, m->serial_in_fd, EPOLLIN, serial_input, m);
	if (r == -EPERM) {
		/* A regular file or /dev/null: nothing to wait for. */
		lg_debug("vmm: console input is not pollable; none");
		m->serial_in_fd = -1;
		return 0;
	}
	if (r < 0)
		m->serial_in_fd = -1;
	return r;
}

int machine_create_vm(struct machine *m, char *err, size_t err_size)
{
	uint64_t ram = (uint64_t)m->cfg->machine.mem_size_mib << 20;
	uint64_t gpa[2], size[2];
	int nr, r;

	nr = e820_ram_regions(ram, gpa, size);
	if (nr < 0) {
		snprintf(err, err_size, "unsupported memory size %u MiB",
			 m->cfg->machine.mem_size_mib);
		return nr;
	}
	r = vm_create_regions(gpa, size, (unsigned int)nr, &m->vm);
	if (r < 0) {
		snprintf(err, err_size, "cannot create the VM: %s",
			 strerror(-r));
		return r;
	}
	r = accel_create_irqchip(m->vm->acc);
	if (r < 0)
		snprintf(err, err_size,
			 "cannot create the interrupt "
			 "controllers: %s",
			 strerror(-r));
	return r;
}

static int machine_create_vcpus(struct machine *m, char *err, size_t err_size)
{
	struct accel_cpu_topology topo = {
		.nr_vcpus = m->nr_vcpus,
		.smt = m->cfg->machine.smt,
	};
	unsigned int i;
	int r;

	for (i = 0; i < m->nr_vcpus; i++) {
		r = vcpu_create(m->vm, i, &m->vcpus[i]);
		if (r == 0) {
			m->vcpus[i]->opaque = m;
			r = accel_vcpu_configure(m->vcpus[i]->acc, &topo, true);
		}
		if (r < 0) {
			snprintf(err, err_size, "cannot set up vCPU %u: %s", i,
				 strerror(-r));
			return r;
		}
	}
	return 0;
}

/* 4096: what both boot protocols accept, with the NUL. */
static int machine_boot(struct machine *m, char *err, size_t err_size)
{
	char cmdline[4096];
	int r;

	r = machine_cmdline(m, cmdline, sizeof(cmdline), err, err_size);
	if (r == 0)
		r = machine_load_kernel(m, cmdline, err, err_size);
	return r;
}

/* The machine keeps its own copy: the API's may move or go first. */
struct machine *machine_alloc(const struct machine_params *p, int *err)
{
	struct machine *m = calloc(1, sizeof(*m));

	*err = -ENOMEM;
	if (!m)
		return NULL;
	vmm_config_init(&m->own_cfg);
	if (p->cfg && vmm_config_copy(&m->own_cfg, p->cfg) < 0) {
		free(m);
		return NULL;
	}
	m->cfg = &m->own_cfg;
	m->loop = p->loop;
	m->on_exit = p->on_exit;
	m->opaque = p->opaque;
	m->serial_in_fd = -1;
	m->nr_vcpus = m->cfg->machine.vcpu_count;
	*err = machine_cpus_init(m);
	if (*err < 0) {
		vmm_config_free(&m->own_cfg);
		free(m);
		return NULL;
	}
	return m;
}

int machine_create(const struct machine_params *p, struct machine **out,
		   char *err, size_t err_size)
{
	struct machine *m;
	int r;

	*out = NULL;
	m = machine_alloc(p, &r);
	if (!m)
		return r;
	r = machine_create_vm(m, err, err_size);
	if (r == 0)
		r = machine_create_vcpus(m, err, err_size);
	if (r == 0) {
		r = machine_add_serial(m, p);
		if (r < 0)
			snprintf(err, err_size, "cannot set up the UART: %s",
				 strerror(-r));
	}
	if (r == 0)
		r = machine_add_devices(m, err, err_size);
	if (r == 0)
		r = machine_boot(m, err, err_size);
	if (r < 0) {
		machine_destroy(m);
		return r;
	}
	*out = m;
	return 0;
}

void machine_stop(struct machine *m)
{
	if (m)
		machine_cpus_stop(m);
}

void machine_destroy(struct machine *m)
{
	unsigned int i;

	if (!m)
		return;
	machine_cpus_stop(m);
	if (m->serial_in_fd >= 0 && m->loop)
		evloop_del(m->loop, m->serial_in_fd);
	machine_remove_devices(m);
	for (i = 0; i < m->nr_vcpus; i++)
		vcpu_destroy(m->vcpus[i]);
	vm_destroy(m->vm);
	if (m->serial_ready)
		serial_destroy(&m->serial);
	pthread_cond_destroy(&m->cpus.cond);
	pthread_mutex_destroy(&m->cpus.lock);
	vmm_config_free(&m->own_cfg);
	free(m);
}

void machine_get_stats(struct machine *m, struct machine_stats *st)
{
	unsigned int i;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < m->nr_vcpus; i++) {
		/* Read while the vCPU runs: a slightly stale sum is fine. */
		st->exits_io += __atomic_load_n(&m->vcpus[i]->stats.exits_io,
						__ATOMIC_RELAXED);
		st->exits_mmio += __atomic_load_n(
			&m->vcpus[i]->stats.exits_mmio, __ATOMIC_RELAXED);
		st->exits_intr += __atomic_load_n(
			&m->vcpus[i]->stats.exits_intr, __ATOMIC_RELAXED);
	}
	pthread_mutex_lock(&m->serial.lock);
	st->serial_tx_bytes = m->serial.tx_bytes;
	st->serial_tx_dropped = m->serial.tx_dropped;
	pthread_mutex_unlock(&m->serial.lock);
}
