/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TAP-like checks for the hv test programs: each check prints "ok - ..."
 * or "FAIL - ...", a failed one counts into `failures`, and the test goes
 * on.
 */
#ifndef LG_TESTS_HV_CHECK_H
#define LG_TESTS_HV_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int failures;

/* ok, after printing its line (fmt: what was checked). */
__attribute__((format(printf, 2, 3))) static inline bool
check(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
	return ok;
}

#endif
