/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lgvmm backend: our own VMM (src/vmm), driven over its
 * Firecracker-compatible API. It needs hardware KVM: on a KVM that
 * emulates ring 0 (kvm_pvm) a Linux guest does not boot, so that is
 * refused before anything starts.
 */
#include "hv/backend.h"
#include "hv/errmsg.h"
#include "hv/fc-vm.h"

#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LGVMM_ENV "LG_LGVMM"
/* Where the build that made this binary puts lgvmm. */
#define LGVMM_BUILD_PATH LG_BUILD_DIR "/src/vmm/lgvmm"

int lg_lgvmm_find(char *buf, size_t len, char *err, size_t errlen)
{
	const char *env = getenv(LGVMM_ENV);
	char why[256];
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
		if (n < 0 || (size_t)n >= len) {
			snprintf(err, errlen, "%s is too long", LGVMM_ENV);
			return -ENAMETOOLONG;
		}
		if (access(buf, X_OK) < 0)
			return lg_hv_syserr(err, errlen,
					    "lgvmm not found: %s=%s", LGVMM_ENV,
					    env);
		return 0;
	}
	n = snprintf(buf, len, "%s", LGVMM_BUILD_PATH);
	if (n >= 0 && (size_t)n < len && access(buf, X_OK) == 0)
		return 0;
	if (lg_proc_find_exe("lgvmm", buf, len, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen,
		 "lgvmm not found (looked in %s and PATH; build it with "
		 "`ninja -C %s` or set %s)",
		 LGVMM_BUILD_PATH, LG_BUILD_DIR, LGVMM_ENV);
	return -ENOENT;
}

static int lgvmm_spawn(const struct lg_vm_config *cfg, void **impl, char *err,
		       size_t errlen)
{
	char exe[PATH_MAX];
	int ret;

	/* First: on this host lgvmm cannot work whether it is built or not. */
	ret = lg_fc_check_host("lgvmm", cfg->accel, err, errlen);
	if (ret == 0)
		ret = lg_lgvmm_find(exe, sizeof(exe), err, errlen);
	if (ret == 0)
		ret = lg_fc_vm_spawn("lgvmm", exe, cfg, impl, err, errlen);
	return ret;
}

const struct lg_hv_backend lg_hv_lgvmm_backend =
	LG_FC_BACKEND("lgvmm", lgvmm_spawn);
