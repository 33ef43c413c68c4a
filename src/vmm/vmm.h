/* SPDX-License-Identifier: Apache-2.0 */
/* The lgvmm process: API server, event loop, machine, signals. */
#ifndef LG_VMM_VMM_H
#define LG_VMM_VMM_H

#include <stdbool.h>
#include <stddef.h>

struct vmm_opts {
	const char *id;
	const char *api_sock; /* NULL: no API */
	const char *config_file;
	const char *log_path, *level, *metrics_path;
	bool show_level, show_log_origin;
	size_t max_payload;
};

/* Runs until the guest or a signal ends the VM: the exit status. */
int vmm_main(const struct vmm_opts *o);

#endif
