/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers the snapshot files share: error text, atomic file writes. */
#ifndef LG_VMM_SNAPSHOT_UTIL_H
#define LG_VMM_SNAPSHOT_UTIL_H

#include <stddef.h>

/* Formats the message into err (when there is one) and returns code. */
int snapshot_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Replaces path atomically: fill writes the new contents to a temporary
 * file next to it, which is synced and renamed over path, and then the
 * directory is synced. A reader sees the old file or the whole new one,
 * also after a crash. On failure the temporary file is gone.
 */
int snapshot_file_replace(const char *path, int (*fill)(int fd, void *arg),
			  void *arg);

#endif
