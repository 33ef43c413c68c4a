// SPDX-License-Identifier: Apache-2.0
#include "vmm/api/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int api_outfile_open(const char *path, char *err, size_t err_size)
{
	struct stat st;
	int fd, e;

	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode))
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	else
		fd = open(path,
			  O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK |
				  O_CLOEXEC | O_NOCTTY,
			  0600);
	if (fd < 0) {
		e = errno;
		snprintf(err, err_size, "cannot open %s: %s", path,
			 strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0) {
		e = errno;
		close(fd);
		snprintf(err, err_size, "cannot stat %s: %s", path,
			 strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode) &&
	    !S_ISCHR(st.st_mode)) {
		close(fd);
		snprintf(err, err_size,
			 "%s is not a regular file, a named pipe or a "
			 "character device",
			 path);
		return -EINVAL;
	}
	return fd;
}

int api_outfile_write(int fd, const char *line, size_t len)
{
	ssize_t n;

	do {
		n = write(fd, line, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return (size_t)n == len ? 0 : -EIO;
}
