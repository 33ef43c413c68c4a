/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/snapshot/snapshot-util.h"

#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int snapshot_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int fsync_dir_of(const char *path)
{
	char copy[PATH_MAX];
	int fd, err = 0;

	if (lg_path_fmt(copy, sizeof(copy), "%s", path) < 0)
		return -ENAMETOOLONG;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

int snapshot_file_replace(const char *path, int (*fill)(int fd, void *arg),
			  void *arg)
{
	char tmp[PATH_MAX];
	int fd, err;

	err = lg_path_fmt(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path);
	if (err < 0)
		return err;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = fill(fd, arg);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return fsync_dir_of(path);
}
