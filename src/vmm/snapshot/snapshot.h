/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots of a whole VM: the state-file sections the VMM core owns
 * ("vm", "accel.vm", "vcpu.N") and the memory file.
 *
 * Create (every vCPU stopped, i.e. the VM paused):
 *   snapshot_writer_create(&w);
 *   snapshot_vm_save(w, vm, vcpus, n);
 *   each device: <dev>_save(...) + snapshot_writer_add(w, name, ...);
 *   snapshot_mem_save(vm, mem_path);        memory file, synced
 *   snapshot_writer_commit(w, state_path);  state file, atomic, last
 *   snapshot_writer_destroy(w);
 * The state file appears only once everything, memory file included, is
 * on disk: a state file always has its memory file.
 *
 * Load (a fresh process):
 *   snapshot_reader_open(state_path, &r, err, sizeof(err));
 *   snapshot_vm_info(r, &info, ...);         RAM layout, vCPU count
 *   vm_create_regions(info.region_gpa, info.region_size,
 *                     info.nr_regions, &vm); same layout
 *   snapshot_mem_load(vm, mem_path, ...);    private mapping
 *   accel_create_irqchip(vm->acc);           if the VMM always has one
 *   vcpu_create() x info.nr_vcpus;
 *   snapshot_vm_restore(r, vm, vcpus, n, ...);
 *   devices: create as configured, then snapshot_reader_find() + restore;
 *   snapshot_reader_destroy(r);  then run the vCPUs (or stay paused).
 */
#ifndef LG_VMM_SNAPSHOT_SNAPSHOT_H
#define LG_VMM_SNAPSHOT_SNAPSHOT_H

#include "vmm/memory.h"
#include "vmm/snapshot/state-file.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"

#include <stddef.h>
#include <stdint.h>

#define SNAPSHOT_VM_VERSION 1u
#define SNAPSHOT_MAX_VCPUS 128u

/* As vm_create_regions() takes them. */
struct snapshot_vm_info {
	uint32_t nr_vcpus;
	unsigned int nr_regions;
	uint64_t region_gpa[VM_MEM_MAX_REGIONS];
	uint64_t region_size[VM_MEM_MAX_REGIONS];
	uint64_t ram_size; /* all regions: the memory file's size */
};

/* Adds "vm", "accel.vm" and "vcpu.0" .. "vcpu.<n-1>" (vCPUs stopped). */
int snapshot_vm_save(struct snapshot_writer *w, struct vm *vm,
		     struct vcpu *const *vcpus, unsigned int nr_vcpus);

/* The "vm" section: what the VM to restore into must look like. */
int snapshot_vm_info(const struct snapshot_reader *r,
		     struct snapshot_vm_info *info, char *err, size_t errlen);

/*
 * Restores VM and vCPU state into vm (RAM already loaded, same layout,
 * same in-kernel devices) and its nr_vcpus fresh vCPUs (as many as
 * saved). -EINVAL / -ENXIO / ... with err saying what did not match.
 */
int snapshot_vm_restore(const struct snapshot_reader *r, struct vm *vm,
			struct vcpu *const *vcpus, unsigned int nr_vcpus,
			char *err, size_t errlen);

/* Writes all guest RAM to path (temporary + fsync + rename). */
int snapshot_mem_save(const struct vm *vm, const char *path);

/*
 * Maps the memory file privately over the VM's RAM (pages load on
 * demand; the file is never written). The file must stay unchanged
 * while the VM lives.
 */
int snapshot_mem_load(struct vm *vm, const char *path, char *err,
		      size_t errlen);

#endif
