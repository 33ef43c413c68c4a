/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot create and restore for the whole machine: the VM and vCPU
 * state (snapshot/), the configuration the machine was built from, the
 * UART and every virtio-mmio transport, plus the memory file. A restore
 * builds the same machine in a fresh process from that configuration,
 * maps the memory file privately and loads the state over it.
 *
 * Not in the state: the i8042's queued keys, the vsock connections
 * (the guest gets a transport reset, as with Firecracker) and the
 * disks' contents (the caller keeps them as they were).
 */
#include "vmm/machine-priv.h"

#include "common/log.h"
#include "vmm/accel/accel-irq.h"
#include "vmm/devices/virtio-vsock.h"
#include "vmm/serial-state.h"
#include "vmm/snapshot/snapshot.h"
#include "vmm/snapshot/state-file.h"
#include "vmm/virtio/mmio-state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECTION_CONFIG "config"
#define SECTION_SERIAL "serial"

static void virtio_section(char name[SNAPSHOT_NAME_SIZE], unsigned int i)
{
	snprintf(name, SNAPSHOT_NAME_SIZE, "virtio.%u", i);
}

/* The machine's configuration, without the process's logger/metrics. */
static int save_config(struct snapshot_writer *w, const struct machine *m)
{
	json_t *j = vmm_config_to_json(m->cfg);
	char *s;
	int r;

	if (!j)
		return -ENOMEM;
	json_object_del(j, "logger");
	json_object_del(j, "metrics");
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return -ENOMEM;
	r = snapshot_writer_add(w, SECTION_CONFIG, s, strlen(s));
	free(s);
	return r;
}

static int save_devices(struct snapshot_writer *w, struct machine *m)
{
	uint8_t buf[VIRTIO_MMIO_STATE_SIZE];
	char name[SNAPSHOT_NAME_SIZE];
	unsigned int i;
	size_t len;
	int r;

	r = serial_save(&m->serial, buf, sizeof(buf), &len);
	if (r == 0)
		r = snapshot_writer_add(w, SECTION_SERIAL, buf, len);
	for (i = 0; r == 0 && i < m->nr_virtio; i++) {
		r = virtio_mmio_save(m->virtio[i].mmio, buf, sizeof(buf), &len);
		virtio_section(name, i);
		if (r == 0)
			r = snapshot_writer_add(w, name, buf, len);
	}
	return r;
}

int machine_snapshot_create(struct machine *m, const char *state_path,
			    const char *mem_path, char *err, size_t err_size)
{
	struct snapshot_writer *w;
	const char *what = "the VM state";
	int r;

	r = snapshot_writer_create(&w);
	if (r < 0)
		goto out;
	r = snapshot_vm_save(w, m->vm, m->vcpus, m->nr_vcpus);
	if (r == 0 && (what = "the configuration"))
		r = save_config(w, m);
	if (r == 0 && (what = "the device state"))
		r = save_devices(w, m);
	/* The memory file first: the state file's appearance means done. */
	if (r == 0 && (what = "the memory file"))
		r = snapshot_mem_save(m->vm, mem_path);
	if (r == 0 && (what = "the state file"))
		r = snapshot_writer_commit(w, state_path);
	snapshot_writer_destroy(w);
out:
	if (r < 0)
		snprintf(err, err_size, "cannot save %s: %s", what,
			 strerror(-r));
	return r;
}

static int load_config(const struct snapshot_reader *rd,
		       const struct vmm_snapshot_load_params *lp,
		       struct vmm_config *cfg, char *err, size_t err_size)
{
	const void *buf;
	json_error_t je;
	size_t len;
	json_t *j;
	int r;

	if (snapshot_reader_find(rd, SECTION_CONFIG, &buf, &len) < 0) {
		snprintf(err, err_size,
			 "the state file has no machine "
			 "configuration");
		return -EINVAL;
	}
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		snprintf(err, err_size,
			 "bad machine configuration in the "
			 "state file: %s",
			 je.text);
		return -EINVAL;
	}
	r = vmm_config_from_json(cfg, j, err, err_size);
	json_decref(j);
	if (r == 0 && lp->vsock_uds_override && cfg->vsock.set) {
		free(cfg->vsock.uds_path);
		cfg->vsock.uds_path = strdup(lp->vsock_uds_override);
		if (!cfg->vsock.uds_path)
			r = -ENOMEM;
	}
	return r;
}

static int restore_devices(struct machine *m, const struct snapshot_reader *rd,
			   char *err, size_t err_size)
{
	char name[SNAPSHOT_NAME_SIZE];
	const void *buf;
	unsigned int i;
	size_t len;
	int r;

	r = snapshot_reader_find(rd, SECTION_SERIAL, &buf, &len);
	if (r == 0)
		r = serial_restore(&m->serial, buf, len);
	if (r < 0) {
		snprintf(err, err_size, "the UART's state is missing or bad");
		return -EINVAL;
	}
	for (i = 0; i < m->nr_virtio; i++) {
		virtio_section(name, i);
		r = snapshot_reader_find(rd, name, &buf, &len);
		if (r == 0)
			r = virtio_mmio_restore(m->virtio[i].mmio, buf, len);
		if (r < 0) {
			snprintf(err, err_size,
				 "the state of virtio device %u "
				 "is missing or does not match",
				 i);
			return -EINVAL;
		}
	}
	virtio_section(name, m->nr_virtio);
	if (snapshot_reader_find(rd, name, &buf, &len) == 0) {
		snprintf(err, err_size,
			 "the state file has more devices than "
			 "its configuration");
		return -EINVAL;
	}
	return 0;
}

/* The VM as saved: same RAM layout and vCPUs, irqchip, memory file. */
static int restore_vm(struct machine *m, const struct snapshot_reader *rd,
		      const char *mem_path, char *err, size_t err_size)
{
	struct snapshot_vm_info info;
	unsigned int i;
	int r;

	r = snapshot_vm_info(rd, &info, err, err_size);
	if (r < 0)
		return r;
	if (info.nr_vcpus != m->nr_vcpus ||
	    info.ram_size != (uint64_t)m->cfg->machine.mem_size_mib << 20) {
		snprintf(err, err_size,
			 "the state file's VM (%u vCPUs, %llu "
			 "bytes) does not match its configuration",
			 info.nr_vcpus, (unsigned long long)info.ram_size);
		return -EINVAL;
	}
	r = vm_create_regions(info.region_gpa, info.region_size,
			      info.nr_regions, &m->vm);
	if (r == 0)
		r = accel_create_irqchip(m->vm->acc);
	if (r < 0) {
		snprintf(err, err_size, "cannot create the VM: %s",
			 strerror(-r));
		return r;
	}
	r = snapshot_mem_load(m->vm, mem_path, err, err_size);
	for (i = 0; r == 0 && i < m->nr_vcpus; i++) {
		r = vcpu_create(m->vm, i, &m->vcpus[i]);
		if (r < 0)
			snprintf(err, err_size, "cannot create vCPU %u: %s", i,
				 strerror(-r));
		else
			m->vcpus[i]->opaque = m;
	}
	return r;
}

static int restore_machine(struct machine *m, const struct machine_params *p,
			   const struct snapshot_reader *rd,
			   const char *mem_path, char *err, size_t err_size)
{
	int r;

	r = restore_vm(m, rd, mem_path, err, err_size);
	if (r == 0) {
		r = machine_add_serial(m, p);
		if (r < 0)
			snprintf(err, err_size, "cannot set up the UART: %s",
				 strerror(-r));
	}
	if (r == 0)
		r = machine_add_devices(m, err, err_size);
	/* Interrupt controllers before the devices that re-raise lines. */
	if (r == 0)
		r = snapshot_vm_restore(rd, m->vm, m->vcpus, m->nr_vcpus, err,
					err_size);
	if (r == 0)
		r = restore_devices(m, rd, err, err_size);
	return r;
}

int machine_restore(const struct machine_params *p,
		    const struct vmm_snapshot_load_params *lp,
		    struct vmm_config *cfg_out, struct machine **out, char *err,
		    size_t err_size)
{
	struct machine_params mp = *p;
	struct snapshot_reader *rd = NULL;
	struct vmm_config cfg;
	struct machine *m = NULL;
	int r;

	*out = NULL;
	vmm_config_init(&cfg);
	r = snapshot_reader_open(lp->snapshot_path, &rd, err, err_size);
	if (r == 0)
		r = load_config(rd, lp, &cfg, err, err_size);
	if (r == 0) {
		mp.cfg = &cfg;
		m = machine_alloc(&mp, &r);
	}
	if (m)
		r = restore_machine(m, &mp, rd, lp->mem_file_path, err,
				    err_size);
	if (r == 0)
		r = lp->resume_vm ? machine_start(m, err, err_size)
				  : machine_start_paused(m, err, err_size);
	if (r == 0 && m->vsock && virtio_vsock_transport_reset(m->vsock) < 0)
		lg_warn("vmm: the guest's vsock driver took no transport "
			"reset; its old connections stay until they time out");
	if (r == 0)
		r = vmm_config_copy(cfg_out, &cfg);
	snapshot_reader_destroy(rd);
	vmm_config_free(&cfg);
	if (r < 0) {
		machine_destroy(m);
		return r;
	}
	*out = m;
	return 0;
}
