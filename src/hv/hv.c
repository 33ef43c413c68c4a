/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The public lg_vm_* calls: pick a backend by name and dispatch to it.
 * Also the runtime directory policy shared by all backends.
 */
#include "hv/hv.h"
#include "hv/backend.h"

#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lg_vm {
	const struct lg_hv_backend *ops;
	void *impl;
};

static const struct lg_hv_backend *const backends[] = {
	&lg_hv_qemu_backend,
	&lg_hv_lgvmm_backend,
	&lg_hv_firecracker_backend,
};

#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

static char backend_names[128];
static pthread_once_t backend_names_once = PTHREAD_ONCE_INIT;

static void build_backend_names(void)
{
	size_t used;

	for (size_t i = 0; i < N_BACKENDS; i++) {
		used = strlen(backend_names);
		snprintf(backend_names + used, sizeof(backend_names) - used,
			 "%s%s", i ? "," : "", backends[i]->name);
	}
}

const char *lg_hv_backend_names(void)
{
	pthread_once(&backend_names_once, build_backend_names);
	return backend_names;
}

static const struct lg_hv_backend *find_backend(const char *name)
{
	for (size_t i = 0; i < N_BACKENDS; i++) {
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	}
	return NULL;
}

bool lg_hv_backend_exists(const char *name)
{
	return find_backend(name) != NULL;
}

const char *lg_hv_default_backend(enum lg_accel accel, char *why, size_t len)
{
	char exe[PATH_MAX], err[512];
	const char *kvm_why = "";

	if (accel == LG_ACCEL_TCG) {
		snprintf(why, len, "--accel tcg: only qemu emulates");
		return "qemu";
	}
	if (!lg_kvm_hw_accelerated(&kvm_why)) {
		snprintf(why, len, "KVM is not hardware accelerated: %s",
			 kvm_why);
		return "qemu";
	}
	if (lg_lgvmm_find(exe, sizeof(exe), err, sizeof(err)) < 0) {
		snprintf(why, len, "hardware KVM, but %s", err);
		return "qemu";
	}
	snprintf(why, len, "hardware KVM (%s), lgvmm at %s", kvm_why, exe);
	return "lgvmm";
}

int lg_vm_spawn(const char *backend, const struct lg_vm_config *cfg,
		struct lg_vm **out, char *err, size_t errlen)
{
	const struct lg_hv_backend *ops;
	struct lg_vm *vm;
	int ret;

	*out = NULL;
	if (!cfg) {
		snprintf(err, errlen, "no VM configuration given");
		return -EINVAL;
	}
	if (!backend) {
		char why[1024];

		backend = lg_hv_default_backend(cfg->accel, why, sizeof(why));
		lg_info("backend %s (default: %s)", backend, why);
	}
	ops = find_backend(backend);
	if (!ops) {
		snprintf(err, errlen,
			 "unknown hypervisor backend \"%s\" (available: %s)",
			 backend, lg_hv_backend_names());
		return -EINVAL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "allocating the VM: %s",
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	vm->ops = ops;
	ret = ops->spawn(cfg, &vm->impl, err, errlen);
	if (ret < 0) {
		free(vm);
		return ret;
	}
	*out = vm;
	return 0;
}

int lg_vm_agent_channel(struct lg_vm *vm, int *fd, char *err, size_t errlen)
{
	return vm->ops->agent_channel(vm->impl, fd, err, errlen);
}

int lg_vm_status(struct lg_vm *vm, struct lg_vm_status *st)
{
	return vm->ops->status(vm->impl, st);
}

int lg_vm_pause(struct lg_vm *vm)
{
	if (!vm->ops->pause)
		return -ENOTSUP;
	return vm->ops->pause(vm->impl);
}

int lg_vm_resume(struct lg_vm *vm)
{
	if (!vm->ops->resume)
		return -ENOTSUP;
	return vm->ops->resume(vm->impl);
}

int lg_vm_stop(struct lg_vm *vm)
{
	if (!vm)
		return 0;
	return vm->ops->stop(vm->impl);
}

void lg_vm_destroy(struct lg_vm *vm)
{
	if (!vm)
		return;
	vm->ops->destroy(vm->impl);
	free(vm);
}

size_t lg_vm_console_tail(struct lg_vm *vm, char *buf, size_t len,
			  unsigned lines)
{
	return vm->ops->console_tail(vm->impl, buf, len, lines);
}

const char *lg_vm_runtime_dir(const struct lg_vm *vm)
{
	return vm->ops->runtime_dir(vm->impl);
}

const char *lg_vm_accel_name(const struct lg_vm *vm)
{
	return vm->ops->accel_name(vm->impl);
}

const struct lg_vm_times *lg_vm_times(const struct lg_vm *vm)
{
	return vm->ops->times(vm->impl);
}

long lg_vm_pid(const struct lg_vm *vm)
{
	return (long)vm->ops->pid(vm->impl);
}

const char *lg_vm_state_name(enum lg_vm_state state)
{
	switch (state) {
	case LG_VM_STARTING:
		return "starting";
	case LG_VM_RUNNING:
		return "running";
	case LG_VM_PAUSED:
		return "paused";
	case LG_VM_STOPPED:
		return "stopped";
	case LG_VM_FAILED:
		return "failed";
	}
	return "unknown";
}

/* A non-empty environment variable, or NULL. */
static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && v[0] ? v : NULL;
}

/* Chooses the path, without touching the file system. */
static int choose_parent(char *buf, size_t len)
{
	const char *dir;
	int n;

	dir = env_nonempty("LUMINAGUARD_RUNTIME_DIR");
	if (dir) {
		n = snprintf(buf, len, "%s", dir);
	} else if ((dir = env_nonempty("XDG_RUNTIME_DIR"))) {
		n = snprintf(buf, len, "%s/luminaguard", dir);
	} else if (geteuid() == 0) {
		n = snprintf(buf, len, "/run/luminaguard");
	} else {
		dir = env_nonempty("TMPDIR");
		n = snprintf(buf, len, "%s/luminaguard-%u", dir ? dir : "/tmp",
			     (unsigned)geteuid());
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int lg_runtime_parent(char *buf, size_t len)
{
	int ret = choose_parent(buf, len);

	return ret < 0 ? ret : lg_runtime_dir_prepare(buf);
}

/*
 * Can users other than its owner write to the directory holding path?
 * Then they could have put a symlink or their own directory there.
 */
static int in_shared_dir(const char *path, bool *shared)
{
	char dir[PATH_MAX];
	struct stat st;
	size_t n = strlen(path);
	char *slash;

	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	while (n > 1 && dir[n - 1] == '/')
		dir[--n] = '\0';
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		slash[slash == dir ? 1 : 0] = '\0';
	if (stat(dir, &st) < 0)
		return -errno;
	*shared = (st.st_mode & (S_IWGRP | S_IWOTH)) != 0;
	return 0;
}

int lg_runtime_dir_prepare(const char *path)
{
	struct stat st;
	bool shared = false;
	int ret;

	if (!path || !*path)
		return -EINVAL;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	ret = in_shared_dir(path, &shared);
	if (ret < 0)
		return ret;
	/* In a shared directory a symlink could point anywhere: refuse it. */
	if ((shared ? lstat(path, &st) : stat(path, &st)) < 0)
		return -errno;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (shared && st.st_uid != geteuid())
		return -EPERM;
	if (shared && (st.st_mode & 077) && chmod(path, 0700) < 0)
		return -errno;
	return 0;
}
