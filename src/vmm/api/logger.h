/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PUT /logger: the process's log lines (src/common/log.h) go to a file
 * or FIFO as Firecracker writes them:
 *   2024-01-31T12:00:00.123456789 [id:thread:LEVEL:file:line] message
 * (LEVEL with show_level, file:line with show_log_origin), filtered by
 * level and by module (a source path prefix such as "vmm/virtio").
 */
#ifndef LG_VMM_API_LOGGER_H
#define LG_VMM_API_LOGGER_H

#include "vmm/config.h"

#include <stdint.h>

struct api_logger;

/*
 * Opens lc->log_path. Without a log_path the destination of prev (if
 * any) is kept, else messages stay on stderr and only the level applies.
 * 0 or a negative errno with err set.
 */
int api_logger_open(const struct vmm_logger *lc, const char *instance_id,
		    const struct api_logger *prev, struct api_logger **out,
		    char *err, size_t err_size);
/* Makes l the process's log sink and sets the process's log level. */
void api_logger_install(struct api_logger *l);
/* Uninstalls l if it is the sink, then frees it. NULL is fine. */
void api_logger_close(struct api_logger *l);

/* Lines lost on a full FIFO, and failed writes, since the start. */
void api_logger_counters(uint64_t *missed, uint64_t *fails);

#endif
