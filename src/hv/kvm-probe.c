/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Is /dev/kvm hardware accelerated? Some hosts offer a KVM that emulates
 * ring 0 in software (kvm_pvm): it opens and answers ioctls but a Linux
 * guest crawls or dies on it. Cheap checks first, then a timed loop.
 */
#include "hv/kvm-probe.h"
#include "hv/errmsg.h"
#include "hv/hv.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
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
/*
 * Ends a KVM_RUN that takes too long. Blocked in this thread except
 * inside KVM_RUN (KVM_SET_SIGNAL_MASK), so no handler is needed: the
 * signal stays pending, every KVM_RUN returns EINTR at once, and it is
 * taken with sigtimedwait before the thread's mask is restored (an
 * instance of this signal that something else aimed at this thread
 * during the probe is taken with it).
 */
#define PROBE_SIGNAL (SIGRTMAX - 1)

/* Real mode, at PROBE_GPA: 1: dec ecx (66 49); jnz 1b (75 fc); hlt (f4) */
static const unsigned char probe_code[] = {0x66, 0x49, 0x75, 0xfc, 0xf4};

struct probe_vm {
	int kvm;
	int vm;
	int vcpu;
	void *mem;
	struct kvm_run *run;
	size_t run_size;
	uint32_t iterations;
};

/* The watchdog of one probe run. */
struct probe_timer {
	bool created;
	bool blocked;
	timer_t id;
	sigset_t old_mask;
};

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
	regs.rcx = p->iterations;
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

/*
 * Blocks PROBE_SIGNAL here, lets KVM_RUN take it, and arms a one-shot
 * timer that sends it to this thread at deadline (CLOCK_MONOTONIC).
 */
static int probe_timer_start(struct probe_timer *t, int vcpu, uint64_t deadline,
			     char *err, size_t errlen)
{
	struct sigevent sev = {
		.sigev_notify = SIGEV_THREAD_ID,
		.sigev_signo = PROBE_SIGNAL,
	};
	struct itimerspec its = {
		.it_value = {.tv_sec = (time_t)(deadline / 1000000000ull),
			     .tv_nsec = (long)(deadline % 1000000000ull)},
	};
	union {
		struct kvm_signal_mask m;
		unsigned char buf[sizeof(struct kvm_signal_mask) + 8];
	} km;
	sigset_t block, run;

	sigemptyset(&block);
	sigaddset(&block, PROBE_SIGNAL);
	errno = pthread_sigmask(SIG_BLOCK, &block, &t->old_mask);
	if (errno)
		return lg_hv_syserr(err, errlen, "pthread_sigmask");
	t->blocked = true;
	/* Inside KVM_RUN: the thread's own mask, PROBE_SIGNAL let through. */
	run = t->old_mask;
	sigdelset(&run, PROBE_SIGNAL);
	km.m.len = 8; /* the kernel's sigset_t on x86-64 */
	memcpy(km.m.sigset, &run, 8);
	if (ioctl(vcpu, KVM_SET_SIGNAL_MASK, &km.m) < 0)
		return lg_hv_syserr(err, errlen, "KVM_SET_SIGNAL_MASK");
#ifdef sigev_notify_thread_id
	sev.sigev_notify_thread_id = gettid();
#else
	sev._sigev_un._tid = gettid(); /* glibc before 2.35 lacks the name */
#endif
	if (timer_create(CLOCK_MONOTONIC, &sev, &t->id) < 0)
		return lg_hv_syserr(err, errlen, "timer_create");
	t->created = true;
	if (timer_settime(t->id, TIMER_ABSTIME, &its, NULL) < 0)
		return lg_hv_syserr(err, errlen, "timer_settime");
	return 0;
}

/* Disarms the timer, takes a signal it sent, restores the mask. */
static void probe_timer_stop(struct probe_timer *t)
{
	const struct timespec now = {0};
	sigset_t set;

	if (t->created)
		timer_delete(t->id);
	if (!t->blocked)
		return;
	sigemptyset(&set);
	sigaddset(&set, PROBE_SIGNAL);
	while (sigtimedwait(&set, NULL, &now) == PROBE_SIGNAL)
		;
	pthread_sigmask(SIG_SETMASK, &t->old_mask, NULL);
}

static int probe_run(struct probe_vm *p, uint64_t deadline, unsigned max_ms,
		     char *err, size_t errlen)
{
	for (;;) {
		if (ioctl(p->vcpu, KVM_RUN, 0) < 0) {
			if (errno != EINTR && errno != EAGAIN)
				return lg_hv_syserr(err, errlen, "KVM_RUN");
		} else if (p->run->exit_reason == KVM_EXIT_HLT) {
			return 0;
		} else if (p->run->exit_reason != KVM_EXIT_INTR) {
			snprintf(err, errlen, "KVM_RUN: unexpected exit %u",
				 p->run->exit_reason);
			return -EIO;
		}
		if (lg_now_ns() >= deadline) {
			snprintf(err, errlen,
				 "KVM_RUN: the probe loop did not finish "
				 "within %u ms",
				 max_ms);
			return -ETIMEDOUT;
		}
	}
}

int lg_kvm_run_loop(uint32_t iterations, unsigned max_ms, uint64_t *ns,
		    char *err, size_t errlen)
{
	struct probe_vm p = {
		.kvm = -1, .vm = -1, .vcpu = -1, .iterations = iterations};
	struct probe_timer t = {0};
	uint64_t start, deadline;
	int ret;

	*ns = 0;
	if (!iterations) {
		snprintf(err, errlen, "KVM probe: no iterations");
		return -EINVAL;
	}
	ret = probe_vm_create(&p, err, errlen);
	if (ret == 0) {
		deadline = lg_now_ns() + (uint64_t)max_ms * 1000000ull;
		ret = probe_timer_start(&t, p.vcpu, deadline, err, errlen);
		start = lg_now_ns();
		if (ret == 0)
			ret = probe_run(&p, deadline, max_ms, err, errlen);
		*ns = lg_now_ns() - start;
		probe_timer_stop(&t);
	}
	probe_vm_free(&p);
	return ret;
}

int lg_kvm_time_loop(uint64_t *ns, char *err, size_t errlen)
{
	return lg_kvm_run_loop(PROBE_ITERATIONS, LG_KVM_PROBE_RUN_MAX_MS, ns,
			       err, errlen);
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
