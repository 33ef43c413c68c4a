/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Console logging. The guest has no syslog: lines go to stderr, which is
 * /dev/console as PID 1. Each line is one write() so lines from the agent
 * never interleave mid-line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"

void agent_log(const char *fmt, ...)
{
	static const char prefix[] = "lg-agent: ";
	char line[1024];
	size_t n = sizeof(prefix) - 1;
	va_list ap;
	int m;

	memcpy(line, prefix, n);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += (size_t)m < sizeof(line) - n - 1 ? (size_t)m
					      : sizeof(line) - n - 2;
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, n) < 0 && errno == EINTR)
		;
}
