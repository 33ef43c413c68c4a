/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum lg_log_level log_level = LG_LOG_WARN;
static enum lg_log_format log_format = LG_LOG_HUMAN;
static const char *log_ident = "luminaguard";

static const char *const level_names[] = {
	[LG_LOG_ERROR] = "error",
	[LG_LOG_WARN] = "warn",
	[LG_LOG_INFO] = "info",
	[LG_LOG_DEBUG] = "debug",
};

int lg_log_set_level_name(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(name, level_names[i]) == 0) {
			log_level = (enum lg_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int lg_log_set_format_name(const char *name)
{
	if (strcmp(name, "human") == 0)
		log_format = LG_LOG_HUMAN;
	else if (strcmp(name, "json") == 0)
		log_format = LG_LOG_JSON;
	else
		return -EINVAL;
	return 0;
}

void lg_log_set_level(enum lg_log_level level)
{
	log_level = level;
}

enum lg_log_level lg_log_get_level(void)
{
	return log_level;
}

void lg_log_set_ident(const char *ident)
{
	log_ident = ident;
}

/* Writes s as the body of a JSON string. */
static void json_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
}

void lg_log(enum lg_log_level level, const char *fmt, ...)
{
	int saved = errno;
	char msg[2048];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (log_format == LG_LOG_JSON) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fprintf(stderr,
			"{\"ts\":%lld.%06ld,\"level\":\"%s\",\"msg\":\"",
			(long long)ts.tv_sec, ts.tv_nsec / 1000,
			level_names[level]);
		json_escape(stderr, msg);
		fputs("\"}\n", stderr);
	} else {
		fprintf(stderr, "%s: %s: %s\n", log_ident, level_names[level],
			msg);
	}
	fflush(stderr);
	errno = saved;
}
