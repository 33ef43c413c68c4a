/* SPDX-License-Identifier: Apache-2.0 */
#include "hv/errmsg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int lg_hv_syserr(char *err, size_t errlen, const char *fmt, ...)
{
	int saved = errno ? errno : EIO;
	size_t used;
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		used = strlen(err);
		snprintf(err + used, errlen - used, ": %s", strerror(saved));
	}
	errno = saved;
	return -saved;
}
