/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Is /dev/kvm hardware accelerated? Some hosts offer a KVM that emulates
 * ring 0 in software (kvm_pvm): it opens and answers ioctls but a Linux
 * guest crawls or dies on it. Cheap checks first, then a timed loop.
 */
#include "hv/errmsg.h"
#include "hv/hv.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PROBE_ITERATIONS 100000u
#define PROBE_LIMIT_NS (20ull * 1000 * 1000)
#define PROBE_GPA 0x1000u
#define PROBE_MEM_SIZE 0x1000u

/* Real mode, at PROBE_GPA: 1: dec ecx (66 49); jnz 1b (75 fc); hlt (f4) */
static const unsigned char probe_code[] = {0x66, 0x49, 0x75, 0xfc, 0xf4};

struct probe_vm {
	int kvm;
	int vm;
	int vcpu;
	void *mem;
	struct kvm_run *run;
	size_t run_size;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void probe_vm_free(struct probe_vm *p)
{
	if (p->run)
		munmap(p->run, p->run_size);
	if (p->mem)
		munmap(p->mem, PROBE_MEM_SIZE);
	if (p->vcpu >= 0)
		close(p->vcpu);
	if (p->vm >= 0)
		close(p->vm);
	if (p->kvm >= 0)
		close(p->kvm);
}

static int probe_vm_memory(struct probe_vm *p, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region region = {0};
	void *mem;

	mem = mmap(NULL, PROBE_MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return lg_hv_syserr(err, errlen, "mmap guest memory");
	p->mem = mem;
	memcpy(mem, probe_code, sizeof(probe_code));
	region.guest_phys_addr = PROBE_GPA;
	region.memory_size = PROBE_MEM_SIZE;
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(p->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return lg_hv_syserr(err, errlen, "KVM_SET_USER_MEMORY_REGION");
	return 0;
}

static int probe_vcpu_regs(struct probe_vm *p, char *err, size_t errlen)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {0};

	if (ioctl(p->vcpu, KVM_GET_SREGS, &sregs) < 0)
		return lg_hv_syserr(err, errlen, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(p->vcpu, KVM_SET_SREGS, &sregs) < 0)
		return lg_hv_syserr(err, errlen, "KVM_SET_SREGS");
	regs.rip = PROBE_GPA;
	regs.rcx = PROBE_ITERATIONS;
	regs.rflags = 0x2;
	if (ioctl(p->vcpu, KVM_SET_REGS, &regs) < 0)
		return lg_hv_syserr(err, errlen, "KVM_SET_REGS");
	return 0;
}

static int probe_vcpu(struct probe_vm *p, char *err, size_t errlen)
{
	int size;
	void *run;

	p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0);
	if (p->vcpu < 0)
		return lg_hv_syserr(err, errlen, "KVM_CREATE_VCPU");
	size = ioctl(p->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0)
		return lg_hv_syserr(err, errlen, "KVM_GET_VCPU_MMAP_SIZE");
	if (size == 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE: size 0");
		return -EINVAL;
	}
	run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   p->vcpu, 0);
	if (run == MAP_FAILED)
		return lg_hv_syserr(err, errlen, "mmap kvm_run");
	p->run = run;
	p->run_size = (size_t)size;
	return probe_vcpu_regs(p, err, errlen);
}

static int probe_vm_create(struct probe_vm *p, char *err, size_t errlen)
{
	int ret;

	p->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (p->kvm < 0)
		return lg_hv_syserr(err, errlen, "open /dev/kvm");
	p->vm = ioctl(p->kvm, KVM_CREATE_VM, 0);
	if (p->vm < 0)
		return lg_hv_syserr(err, errlen, "KVM_CREATE_VM");
	ret = probe_vm_memory(p, err, errlen);
	if (ret < 0)
		return ret;
	return probe_vcpu(p, err, errlen);
}

static int probe_run(struct probe_vm *p, char *err, size_t errlen)
{
	for (;;) {
		if (ioctl(p->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return lg_hv_syserr(err, errlen, "KVM_RUN");
		}
		if (p->run->exit_reason == KVM_EXIT_HLT)
			return 0;
		if (p->run->exit_reason != KVM_EXIT_INTR) {
			snprintf(err, errlen, "KVM_RUN: unexpected exit %u",
				 p->run->exit_reason);
			return -EIO;
		}
	}
}

int lg_kvm_time_loop(uint64_t *ns, char *err, size_t errlen)
{
	struct probe_vm p = {.kvm = -1, .vm = -1, .vcpu = -1};
	uint64_t start;
	int ret;

	ret = probe_vm_create(&p, err, errlen);
	if (ret == 0) {
		start = now_ns();
		ret = probe_run(&p, err, errlen);
		*ns = now_ns() - start;
	}
	probe_vm_free(&p);
	return ret;
}

/* Does a "flags" line of /proc/cpuinfo list vmx or svm? */
static bool cpu_has_virt_flag(void)
{
	char line[4096];
	bool found = false;
	FILE *f;

	f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		found = strstr(line, " vmx") || strstr(line, " svm");
	}
	fclose(f);
	return found;
}

/* lg_kvm_hw_accelerated()'s answer when it needs words of its own. */
static _Thread_local char why_buf[256];

static bool kvm_api_ok(const char **why)
{
	int fd, version;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why_buf, sizeof(why_buf), "cannot open /dev/kvm: %s",
			 strerror(errno));
		*why = why_buf;
		return false;
	}
	version = ioctl(fd, KVM_GET_API_VERSION, 0);
	close(fd);
	if (version != KVM_API_VERSION) {
		*why = "/dev/kvm has an unexpected KVM API version";
		return false;
	}
	return true;
}

bool lg_kvm_hw_accelerated(const char **why)
{
	char err[200];
	uint64_t ns = 0;

	if (!kvm_api_ok(why))
		return false;
	if (!cpu_has_virt_flag()) {
		*why = "no vmx/svm CPU flag (no hardware virtualization)";
		return false;
	}
	if (access("/sys/module/kvm_pvm", F_OK) == 0) {
		*why = "/dev/kvm is kvm_pvm, a software KVM";
		return false;
	}
	if (lg_kvm_time_loop(&ns, err, sizeof(err)) < 0) {
		snprintf(why_buf, sizeof(why_buf), "KVM probe VM failed: %s",
			 err);
		*why = why_buf;
		return false;
	}
	snprintf(why_buf, sizeof(why_buf),
		 "KVM probe loop took %.3f ms (hardware if under %llu ms)",
		 (double)ns / 1e6, PROBE_LIMIT_NS / 1000000);
	*why = why_buf;
	return ns < PROBE_LIMIT_NS;
}
