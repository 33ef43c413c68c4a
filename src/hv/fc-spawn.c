/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Starting a Firecracker-API VMM: check the inputs, make the runtime
 * directory, exec `VMM --api-sock RUNDIR/api.sock --id ID` (argv, no
 * shell; its stdout, which carries the serial console, and stderr go to
 * RUNDIR/console.log, size-capped), wait for the API socket while
 * watching for an early exit, then configure the machine over the API
 * (machine-config, boot-source, rootfs drive, vsock, entropy) and send
 * InstanceStart. Any failure tears all of it down via lg_fc_vm_destroy().
 */
#include "hv/fc-client.h"
#include "hv/fc-vm.h"
#include "hv/proc.h"
#include "hv/vmm-proc.h"

#include "common/clock.h"
#include "common/log.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * reboot=k: the guest resets through the i8042, which ends the VMM (its
 * way of powering off); panic=1 turns a panic into that reset after 1 s.
 * The i8042.* words spare a kernel that has the driver its slow probing,
 * as in Firecracker's own boot-time tests.
 */
#define BASE_BOOT_ARGS                                                         \
	"console=ttyS0 reboot=k panic=1 pci=off i8042.noaux i8042.nomux "      \
	"i8042.nopnp i8042.dumbkbd"
/* The only drive, so the guest sees it as vda (lg-agent mounts it). */
#define ROOTFS_BOOT_ARG "lg.rootfs=/dev/vda"
#define ROOTFS_DRIVE_ID "rootfs"
#define DEFAULT_MEM_MIB 256u
#define DEFAULT_VCPUS 1u
/* Firecracker's API socket is up in ~12 ms; this is for loaded hosts. */
#define API_READY_MAX_MS 10000u
/* Each API request; InstanceStart loads the kernel, still fast. */
#define API_CALL_MS 5000u
/* vsock.sock_<port>: guest-initiated connections (up to 10 digits). */
#define LONGEST_SOCK_NAME LG_FC_VSOCK_SOCK "_4294967295"

int lg_fc_check_host(const char *name, enum lg_accel accel, char *err,
		     size_t errlen)
{
	const char *why = "";

	if (accel == LG_ACCEL_TCG) {
		snprintf(err, errlen,
			 "%s runs guests on KVM only; --accel tcg needs "
			 "--backend qemu",
			 name);
		return -ENOTSUP;
	}
	if (!lg_kvm_hw_accelerated(&why)) {
		snprintf(err, errlen,
			 "%s needs hardware KVM to boot Linux, and KVM here is "
			 "not hardware accelerated (%s); use --backend qemu",
			 name, why);
		return -ENODEV;
	}
	return 0;
}

static int start_vmm(struct fc_vm *vm, const struct lg_vm_config *cfg,
		     const char *exe, char *err, size_t errlen)
{
	struct lg_proc_opts opts;
	char api[PATH_MAX], log[PATH_MAX];
	const char *id = strrchr(vm->rundir, '/');
	char *argv[] = {(char *)exe, "--api-sock",     api,
			"--id",	     (char *)(id + 1), NULL};
	int ret;

	lg_fc_vm_path(vm, LG_FC_API_SOCK, api, sizeof(api));
	lg_fc_vm_path(vm, LG_FC_CONSOLE_LOG, log, sizeof(log));
	/* The VMM's stdout is the serial console: console.log, capped. */
	ret = lg_vmm_open_log(cfg, log, &opts, err, errlen);
	if (ret < 0)
		return ret;
	lg_debug("%s: exec %s --api-sock %s --id %s", vm->name, exe, api,
		 id + 1);
	ret = lg_proc_spawn(exe, argv, &opts, &vm->proc, err, errlen);
	close(opts.log_fd);
	if (ret < 0)
		return ret;
	ret = lg_fc_client_open(vm->name, api, API_CALL_MS, &vm->api);
	if (ret < 0)
		snprintf(err, errlen, "%s: API client: %s", vm->name,
			 strerror(-ret));
	return ret;
}

/* PUTs body (taken) to path. */
static int api_put(struct fc_vm *vm, const char *path, json_t *body, char *err,
		   size_t errlen)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	long status;
	int ret;

	json_decref(body);
	if (!text) {
		snprintf(err, errlen, "%s: PUT %s: building the request: %s",
			 vm->name, path, strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = lg_fc_client_put(vm->api, path, text, &status, NULL, err, errlen);
	free(text);
	return ret;
}

static json_t *boot_source(const struct lg_vm_config *cfg)
{
	char *args = NULL;
	json_t *j;

	if (asprintf(&args, "%s%s%s%s", BASE_BOOT_ARGS,
		     cfg->rootfs ? " " ROOTFS_BOOT_ARG : "",
		     cfg->cmdline && *cfg->cmdline ? " " : "",
		     cfg->cmdline ? cfg->cmdline : "") < 0)
		return NULL;
	j = json_pack("{s:s, s:s}", "kernel_image_path", cfg->kernel,
		      "boot_args", args);
	free(args);
	if (j && cfg->initrd &&
	    json_object_set_new(j, "initrd_path", json_string(cfg->initrd)) <
		    0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The machine over the API, in Firecracker's pre-boot order. */
static int configure(struct fc_vm *vm, const struct lg_vm_config *cfg,
		     char *err, size_t errlen)
{
	char vsock[PATH_MAX];
	int ret;

	lg_fc_vm_path(vm, LG_FC_VSOCK_SOCK, vsock, sizeof(vsock));
	ret = api_put(
		vm, "/machine-config",
		json_pack("{s:I, s:I}", "vcpu_count",
			  (json_int_t)(cfg->vcpus ? cfg->vcpus : DEFAULT_VCPUS),
			  "mem_size_mib",
			  (json_int_t)(cfg->mem_mib ? cfg->mem_mib
						    : DEFAULT_MEM_MIB)),
		err, errlen);
	if (ret == 0)
		ret = api_put(vm, "/boot-source", boot_source(cfg), err,
			      errlen);
	/* Not the root device: Firecracker would add root=/dev/vda. */
	if (ret == 0 && cfg->rootfs)
		ret = api_put(vm, "/drives/" ROOTFS_DRIVE_ID,
			      json_pack("{s:s, s:s, s:b, s:b}", "drive_id",
					ROOTFS_DRIVE_ID, "path_on_host",
					cfg->rootfs, "is_root_device", 0,
					"is_read_only", 1),
			      err, errlen);
	if (ret == 0)
		ret = api_put(vm, "/vsock",
			      json_pack("{s:I, s:s}", "guest_cid",
					(json_int_t)LG_FC_GUEST_CID, "uds_path",
					vsock),
			      err, errlen);
	if (ret == 0)
		ret = api_put(vm, "/entropy", json_object(), err, errlen);
	if (ret == 0)
		ret = api_put(
			vm, "/actions",
			json_pack("{s:s}", "action_type", "InstanceStart"), err,
			errlen);
	return ret;
}

/* An API call failed: if the VMM died, its exit and last words say more. */
static int explain_failure(struct fc_vm *vm, int ret, char *err, size_t errlen)
{
	unsigned wait = ret == -EREMOTEIO ? 0 : LG_FC_EXIT_SETTLE_MS;
	size_t used;

	if (vm->proc.pid < 0 || !lg_fc_vm_gone(vm, wait))
		return ret;
	used = strlen(err);
	snprintf(err + used, errlen - used, "%s%s", used ? "; " : "",
		 vm->final_reason);
	lg_fc_vm_append_tail(vm, err, errlen);
	return -ECHILD;
}

static int attach(struct fc_vm *vm, const struct lg_vm_config *cfg, char *err,
		  size_t errlen)
{
	unsigned ready_ms = vm->boot_timeout_ms < API_READY_MAX_MS
				    ? vm->boot_timeout_ms
				    : API_READY_MAX_MS;
	char api[PATH_MAX];
	int ret;

	lg_fc_vm_path(vm, LG_FC_API_SOCK, api, sizeof(api));
	ret = lg_fc_client_wait_ready(vm->name, api, &vm->proc,
				      vm->times.spawn_start +
					      (uint64_t)ready_ms * 1000000ull,
				      err, errlen);
	if (ret == -ECHILD) {
		lg_fc_vm_gone(vm, LG_FC_EXIT_SETTLE_MS);
		lg_fc_vm_append_tail(vm, err, errlen);
		return ret;
	}
	if (ret < 0)
		return ret;
	vm->times.process_ready = lg_now_ns();
	ret = configure(vm, cfg, err, errlen);
	if (ret < 0)
		return explain_failure(vm, ret, err, errlen);
	vm->started = true;
	vm->times.guest_start = lg_now_ns();
	return 0;
}

int lg_fc_vm_spawn(const char *name, const char *exe,
		   const struct lg_vm_config *cfg, void **impl, char *err,
		   size_t errlen)
{
	struct fc_vm *vm;
	int ret;

	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		snprintf(err, errlen, "allocating the VM: %s",
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	vm->name = name;
	vm->times.spawn_start = lg_now_ns();
	vm->proc = LG_PROC_NONE;
	vm->agent_fd = -1;
	vm->cancel_fd = cfg->cancel_fd;
	vm->boot_timeout_ms = cfg->boot_timeout_ms
				      ? cfg->boot_timeout_ms
				      : LG_FC_DEFAULT_BOOT_TIMEOUT_MS;
	err[0] = '\0';
	ret = lg_vmm_check_config(cfg, err, errlen);
	if (ret == 0)
		ret = lg_vmm_make_rundir(cfg, LONGEST_SOCK_NAME, vm->rundir,
					 sizeof(vm->rundir), err, errlen);
	if (ret == 0)
		ret = start_vmm(vm, cfg, exe, err, errlen);
	if (ret == 0)
		ret = attach(vm, cfg, err, errlen);
	if (ret < 0) {
		lg_fc_vm_destroy(vm);
		return ret;
	}
	lg_info("%s: started pid %ld in %s", name, (long)vm->proc.pid,
		vm->rundir);
	*impl = vm;
	return 0;
}
