/* SPDX-License-Identifier: Apache-2.0 */
/* Opening the log and metrics destinations: a file or a named pipe. */
#ifndef LG_VMM_API_OUTFILE_H
#define LG_VMM_API_OUTFILE_H

#include <stddef.h>

/*
 * Opens path for appending whole lines without ever blocking. A FIFO is
 * opened read-write and non-blocking (as Firecracker does): the open
 * does not wait for a reader, a missing reader is no EPIPE, and a full
 * pipe gives EAGAIN (a lost line). A regular file is created (0600) if
 * missing and appended to. Character devices (/dev/null) are accepted;
 * anything else is refused. The fd, or a negative errno with err set.
 */
int api_outfile_open(const char *path, char *err, size_t err_size);

/*
 * Writes one line in one write(). 0, -EAGAIN (would block: the line is
 * lost), or another negative errno (a short write counts as -EIO).
 */
int api_outfile_write(int fd, const char *line, size_t len);

#endif
