/* SPDX-License-Identifier: Apache-2.0 */
/* VM-level snapshot sections and the memory file. */
#include "vmm/snapshot/snapshot.h"
#include "vmm/accel/accel-state.h"
#include "vmm/snapshot/snapshot-util.h"
#include "vmm/snapshot/state-buf.h"

#include "common/fsutil.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VM_SECTION "vm"
#define ACCEL_VM_SECTION "accel.vm"
#define VM_SECTION_MAX (16u + VM_MEM_MAX_REGIONS * 16u)

static void vcpu_section(char name[SNAPSHOT_NAME_SIZE], unsigned int i)
{
	snprintf(name, SNAPSHOT_NAME_SIZE, "vcpu.%u", i);
}

static int vm_section_add(struct snapshot_writer *w, const struct vm *vm,
			  unsigned int nr_vcpus)
{
	uint8_t buf[VM_SECTION_MAX];
	struct state_wr b;
	unsigned int i;

	state_wr_init(&b, buf, sizeof(buf));
	state_put_u32(&b, SNAPSHOT_VM_VERSION);
	state_put_u32(&b, nr_vcpus);
	state_put_u32(&b, vm->mem.nr_regions);
	for (i = 0; i < vm->mem.nr_regions; i++) {
		state_put_u64(&b, vm->mem.regions[i].gpa);
		state_put_u64(&b, vm->mem.regions[i].size);
	}
	if (b.overflow)
		return -ENOSPC;
	return snapshot_writer_add(w, VM_SECTION, buf, b.pos);
}

int snapshot_vm_save(struct snapshot_writer *w, struct vm *vm,
		     struct vcpu *const *vcpus, unsigned int nr_vcpus)
{
	char name[SNAPSHOT_NAME_SIZE];
	uint8_t *blob;
	size_t len;
	unsigned int i;
	int err;

	if (nr_vcpus == 0 || nr_vcpus > SNAPSHOT_MAX_VCPUS)
		return -EINVAL;
	err = vm_section_add(w, vm, nr_vcpus);
	if (err < 0)
		return err;
	/* vCPUs first: completing their last I/O may touch VM devices. */
	for (i = 0; i < nr_vcpus; i++) {
		err = accel_vcpu_save(vcpus[i]->acc, &blob, &len);
		if (err < 0)
			return err;
		vcpu_section(name, i);
		err = snapshot_writer_add(w, name, blob, len);
		free(blob);
		if (err < 0)
			return err;
	}
	err = accel_vm_save(vm->acc, &blob, &len);
	if (err < 0)
		return err;
	err = snapshot_writer_add(w, ACCEL_VM_SECTION, blob, len);
	free(blob);
	return err;
}

int snapshot_vm_info(const struct snapshot_reader *r,
		     struct snapshot_vm_info *info, char *err, size_t errlen)
{
	struct state_rd b;
	const void *buf;
	uint32_t version, nr_regions;
	unsigned int i;
	size_t len;

	memset(info, 0, sizeof(*info));
	if (snapshot_reader_find(r, VM_SECTION, &buf, &len) < 0)
		return snapshot_fail(err, errlen, -EINVAL, "no \"vm\" section");
	state_rd_init(&b, buf, len);
	version = state_get_u32(&b);
	if (version != SNAPSHOT_VM_VERSION)
		return snapshot_fail(
			err, errlen, -EINVAL,
			"vm section version %u, this build reads %u", version,
			SNAPSHOT_VM_VERSION);
	info->nr_vcpus = state_get_u32(&b);
	nr_regions = state_get_u32(&b);
	if (info->nr_vcpus == 0 || info->nr_vcpus > SNAPSHOT_MAX_VCPUS ||
	    nr_regions == 0 || nr_regions > VM_MEM_MAX_REGIONS)
		return snapshot_fail(err, errlen, -EINVAL,
				     "vm section: %u vCPUs, %u RAM regions",
				     info->nr_vcpus, nr_regions);
	info->nr_regions = nr_regions;
	for (i = 0; i < nr_regions; i++) {
		uint64_t gpa = state_get_u64(&b), size = state_get_u64(&b);

		if (size == 0 || size > VM_MEM_MAX_SIZE ||
		    gpa > VM_MEM_MAX_SIZE - size ||
		    info->ram_size > VM_MEM_MAX_SIZE - size)
			return snapshot_fail(err, errlen, -EINVAL,
					     "vm section: bad RAM region %u",
					     i);
		info->region_gpa[i] = gpa;
		info->region_size[i] = size;
		info->ram_size += size;
	}
	if (!state_rd_done(&b))
		return snapshot_fail(err, errlen, -EINVAL,
				     "vm section: wrong length");
	return 0;
}

/* What an accelerator restore error means for whoever loads. */
static const char *accel_why(int e)
{
	switch (e) {
	case -ENXIO:
		return "the VM's in-kernel devices (irqchip, PIT) differ from "
		       "the snapshot's";
	case -EPROTONOSUPPORT:
		return "saved by another accelerator or state version";
	case -EINVAL:
		return "malformed, or refused by the accelerator (see the log)";
	default:
		return strerror(-e);
	}
}

static int check_layout(const struct snapshot_vm_info *info,
			const struct vm *vm, unsigned int nr_vcpus, char *err,
			size_t errlen)
{
	unsigned int i;

	if (nr_vcpus != info->nr_vcpus)
		return snapshot_fail(err, errlen, -EINVAL,
				     "snapshot has %u vCPUs, the VM %u",
				     info->nr_vcpus, nr_vcpus);
	if (vm->mem.nr_regions != info->nr_regions)
		return snapshot_fail(err, errlen, -EINVAL,
				     "snapshot has %u RAM regions, the VM %u",
				     info->nr_regions, vm->mem.nr_regions);
	for (i = 0; i < info->nr_regions; i++)
		if (vm->mem.regions[i].gpa != info->region_gpa[i] ||
		    vm->mem.regions[i].size != info->region_size[i])
			return snapshot_fail(
				err, errlen, -EINVAL,
				"RAM region %u differs from the snapshot", i);
	return 0;
}

int snapshot_vm_restore(const struct snapshot_reader *r, struct vm *vm,
			struct vcpu *const *vcpus, unsigned int nr_vcpus,
			char *err, size_t errlen)
{
	struct snapshot_vm_info info;
	char name[SNAPSHOT_NAME_SIZE];
	const void *buf;
	unsigned int i;
	size_t len;
	int e;

	e = snapshot_vm_info(r, &info, err, errlen);
	if (e < 0)
		return e;
	e = check_layout(&info, vm, nr_vcpus, err, errlen);
	if (e < 0)
		return e;
	if (snapshot_reader_find(r, ACCEL_VM_SECTION, &buf, &len) < 0)
		return snapshot_fail(err, errlen, -EINVAL, "no \"%s\" section",
				     ACCEL_VM_SECTION);
	/* VM first: the vCPUs' kvm-clock and APIC state build on it. */
	e = accel_vm_restore(vm->acc, buf, len);
	if (e < 0)
		return snapshot_fail(err, errlen, e, "VM state: %s",
				     accel_why(e));
	for (i = 0; i < nr_vcpus; i++) {
		vcpu_section(name, i);
		if (snapshot_reader_find(r, name, &buf, &len) < 0)
			return snapshot_fail(err, errlen, -EINVAL,
					     "no \"%s\" section", name);
		e = accel_vcpu_restore(vcpus[i]->acc, buf, len);
		if (e < 0)
			return snapshot_fail(err, errlen, e,
					     "vCPU %u state: %s", i,
					     accel_why(e));
	}
	return 0;
}

static int mem_fill(int fd, void *vm)
{
	return vm_mem_save(&((const struct vm *)vm)->mem, fd);
}

int snapshot_mem_save(const struct vm *vm, const char *path)
{
	int err = snapshot_file_replace(path, mem_fill, (void *)vm);

	if (err < 0)
		lg_err("snapshot: memory file %s: %s", path, strerror(-err));
	return err;
}

int snapshot_mem_load(struct vm *vm, const char *path, char *err, size_t errlen)
{
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return snapshot_fail(err, errlen, -errno, "memory file %s: %s",
				     path, strerror(errno));
	e = vm_mem_map_file(&vm->mem, fd);
	close(fd);
	if (e < 0)
		return snapshot_fail(
			err, errlen, e,
			"memory file %s: %s (is it this snapshot's?)", path,
			strerror(-e));
	return 0;
}
