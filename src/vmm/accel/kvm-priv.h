/* SPDX-License-Identifier: Apache-2.0 */
/*
 * KVM accelerator internals shared by the files of the KVM backend
 * (kvm.c, kvm-state.c, ...). Nothing outside src/vmm/accel includes it.
 */
#ifndef LG_VMM_ACCEL_KVM_PRIV_H
#define LG_VMM_ACCEL_KVM_PRIV_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

struct accel {
	int kvm_fd;
	int vm_fd;
	size_t run_size;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, set on vCPUs */
};

struct accel_vcpu {
	struct accel *acc;
	int fd;
	uint32_t id;
	struct kvm_run *run;
};

/* Logs "kvm: <what>: <strerror(errno)>" and returns -errno. */
int kvm_ioctl_err(const char *what);

#endif
