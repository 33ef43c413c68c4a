/* SPDX-License-Identifier: Apache-2.0 */
/* Small filesystem helpers with checked lengths. */
#ifndef LG_COMMON_FSUTIL_H
#define LG_COMMON_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* snprintf that returns -ENAMETOOLONG instead of truncating. */
int lg_path_fmt(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Creates path and its missing parents with mode. */
int lg_mkdir_p(const char *path, mode_t mode);
/* Removes a directory tree without following symlinks (openat-based). */
int lg_rm_rf(const char *path);
/* The same for name relative to the directory open as parentfd. */
int lg_rm_rf_at(int parentfd, const char *name);
bool lg_is_file(const char *path);
/* write(2) until done; -errno on failure. */
int lg_write_all(int fd, const void *p, size_t len);
/* Copies src to dst (created with mode, replaced atomically). */
int lg_copy_file(const char *src, const char *dst, mode_t mode);

#endif
