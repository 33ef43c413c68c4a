/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a hypervisor backend implements. hv.c dispatches the public lg_vm_*
 * calls through this table; each backend keeps its own state behind
 * struct lg_vm's impl pointer.
 */
#ifndef LG_HV_BACKEND_H
#define LG_HV_BACKEND_H

#include "hv/hv.h"

#include <sys/types.h>

struct lg_hv_backend {
	const char *name;
	/* Returns 0 and the backend's state in *impl, or -errno with err. */
	int (*spawn)(const struct lg_vm_config *cfg, void **impl, char *err,
		     size_t errlen);
	int (*agent_channel)(void *impl, int *fd, char *err, size_t errlen);
	int (*status)(void *impl, struct lg_vm_status *st);
	int (*pause)(void *impl);  /* NULL: -ENOTSUP */
	int (*resume)(void *impl); /* NULL: -ENOTSUP */
	int (*stop)(void *impl);
	void (*destroy)(void *impl); /* stops, frees, removes the run dir */
	size_t (*console_tail)(void *impl, char *buf, size_t len,
			       unsigned lines);
	const char *(*runtime_dir)(const void *impl);
	const char *(*accel_name)(const void *impl);
	const struct lg_vm_times *(*times)(const void *impl);
	pid_t (*pid)(const void *impl);
};

extern const struct lg_hv_backend lg_hv_qemu_backend;
extern const struct lg_hv_backend lg_hv_lgvmm_backend;
extern const struct lg_hv_backend lg_hv_firecracker_backend;

/*
 * Finds the lgvmm executable: $LG_LGVMM, else LG_BUILD_DIR/src/vmm/lgvmm,
 * else PATH. Its path goes to buf; -ENOENT with err when there is none.
 */
int lg_lgvmm_find(char *buf, size_t len, char *err, size_t errlen);

#endif
