/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The firecracker backend: an installed Firecracker, driven with the same
 * API client and code as lgvmm. Found as $LG_FIRECRACKER or in PATH.
 */
#include "hv/backend.h"
#include "hv/errmsg.h"
#include "hv/fc-vm.h"
#include "hv/proc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FIRECRACKER_ENV "LG_FIRECRACKER"

static int firecracker_find(char *buf, size_t len, char *err, size_t errlen)
{
	const char *env = getenv(FIRECRACKER_ENV);
	char why[256];
	int n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
		if (n < 0 || (size_t)n >= len) {
			snprintf(err, errlen, "%s is too long",
				 FIRECRACKER_ENV);
			return -ENAMETOOLONG;
		}
		if (access(buf, X_OK) < 0)
			return lg_hv_syserr(err, errlen,
					    "firecracker not found: %s=%s",
					    FIRECRACKER_ENV, env);
		return 0;
	}
	if (lg_proc_find_exe("firecracker", buf, len, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "firecracker not found (looked in PATH; set %s)",
		 FIRECRACKER_ENV);
	return -ENOENT;
}

static int firecracker_spawn(const struct lg_vm_config *cfg, void **impl,
			     char *err, size_t errlen)
{
	char exe[PATH_MAX];
	int ret;

	/* First: whether it is installed at all is the likelier question. */
	ret = firecracker_find(exe, sizeof(exe), err, errlen);
	if (ret == 0)
		ret = lg_fc_check_host("firecracker", cfg->accel, err, errlen);
	if (ret == 0)
		ret = lg_fc_vm_spawn("firecracker", exe, cfg, impl, err,
				     errlen);
	return ret;
}

const struct lg_hv_backend lg_hv_firecracker_backend =
	LG_FC_BACKEND("firecracker", firecracker_spawn);
