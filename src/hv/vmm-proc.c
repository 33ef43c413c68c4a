/* SPDX-License-Identifier: Apache-2.0 */
#include "hv/vmm-proc.h"

#include "hv/errmsg.h"
#include "hv/rundir.h"

#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

static int check_file(const char *what, const char *path, char *err,
		      size_t errlen)
{
	struct stat st;

	if (!path) {
		snprintf(err, errlen, "no %s given", what);
		return -EINVAL;
	}
	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return lg_hv_syserr(err, errlen, "%s %s", what, path);
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s: not a regular file", what, path);
		return -EINVAL;
	}
	return 0;
}

int lg_vmm_check_config(const struct lg_vm_config *cfg, char *err,
			size_t errlen)
{
	int ret = check_file("kernel", cfg->kernel, err, errlen);

	if (ret == 0 && cfg->initrd)
		ret = check_file("initrd", cfg->initrd, err, errlen);
	if (ret == 0 && cfg->rootfs)
		ret = check_file("rootfs image", cfg->rootfs, err, errlen);
	return ret;
}

static int prepare_parent(const struct lg_vm_config *cfg, char *parent,
			  size_t len, char *err, size_t errlen)
{
	int n, ret;

	if (cfg->runtime_parent) {
		n = snprintf(parent, len, "%s", cfg->runtime_parent);
		ret = n < 0 || (size_t)n >= len
			      ? -ENAMETOOLONG
			      : lg_runtime_dir_prepare(parent);
	} else {
		ret = lg_runtime_parent(parent, len);
	}
	if (ret < 0)
		snprintf(err, errlen, "runtime directory %s: %s", parent,
			 strerror(-ret));
	return ret;
}

int lg_vmm_make_rundir(const struct lg_vm_config *cfg, const char *longest_sock,
		       char *rundir, size_t len, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	int ret;

	ret = prepare_parent(cfg, parent, sizeof(parent), err, errlen);
	if (ret < 0)
		return ret;
	lg_rundir_sweep(parent);
	ret = lg_rundir_create(parent, rundir, len, err, errlen);
	if (ret < 0) {
		rundir[0] = '\0';
		return ret;
	}
	if (strlen(rundir) + 1 + strlen(longest_sock) > SUN_PATH_MAX) {
		snprintf(err, errlen,
			 "runtime dir %s is too long for Unix socket paths "
			 "(max %zu bytes); set LUMINAGUARD_RUNTIME_DIR to a "
			 "shorter path",
			 rundir, SUN_PATH_MAX);
		return -ENAMETOOLONG;
	}
	return 0;
}

int lg_vmm_open_log(const struct lg_vm_config *cfg, const char *path,
		    struct lg_proc_opts *opts, char *err, size_t errlen)
{
	opts->fsize_max = cfg->console_max_bytes ? cfg->console_max_bytes
						 : LG_VM_CONSOLE_MAX_DEFAULT;
	opts->log_fd =
		open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (opts->log_fd < 0)
		return lg_hv_syserr(err, errlen, "create %s", path);
	return 0;
}

bool lg_vmm_reaped(const struct lg_proc *proc, const char *name,
		   unsigned wait_ms, int *wstatus)
{
	int ret;

	*wstatus = 0;
	ret = lg_proc_reap(proc, wait_ms, wstatus);
	if (ret == 0)
		return false;
	if (ret < 0) {
		lg_warn("waitpid %s %ld: %s", name, (long)proc->pid,
			strerror(-ret));
		*wstatus =
			0xff00; /* unknown: reads as "exited with status 255" */
	}
	return true;
}
