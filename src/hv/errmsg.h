/* SPDX-License-Identifier: Apache-2.0 */
/* Error messages for the err/errlen buffers of the hv functions. */
#ifndef LG_HV_ERRMSG_H
#define LG_HV_ERRMSG_H

#include <stddef.h>

/*
 * Writes "<fmt ...>: <strerror(errno)>" into err and returns -errno, with
 * errno as it was on entry (EIO if it was 0). For system call failures:
 *	if (fd < 0)
 *		return lg_hv_syserr(err, errlen, "open %s", path);
 */
int lg_hv_syserr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
