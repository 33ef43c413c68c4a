/* SPDX-License-Identifier: Apache-2.0 */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum lg_log_level log_level = LG_LOG_WARN;
static enum lg_log_format log_format = LG_LOG_HUMAN;
static const char *log_ident = "luminaguard";
/* Held while the sink is called, so that replacing it waits for callers. */
static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static lg_log_sink_fn sink_fn;
static void *sink_opaque;

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

void lg_log_set_sink(lg_log_sink_fn fn, void *opaque)
{
	pthread_mutex_lock(&sink_lock);
	sink_fn = fn;
	sink_opaque = opaque;
	pthread_mutex_unlock(&sink_lock);
}

/* 1 if a sink took the message. */
static int log_to_sink(enum lg_log_level level, const char *file, int line,
		       const char *msg)
{
	int taken = 0;

	pthread_mutex_lock(&sink_lock);
	if (sink_fn) {
		sink_fn(sink_opaque, level, file, line, msg);
		taken = 1;
	}
	pthread_mutex_unlock(&sink_lock);
	return taken;
}

static void log_va(enum lg_log_level level, const char *file, int line,
		   const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

void lg_log(enum lg_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(level, NULL, 0, fmt, ap);
	va_end(ap);
}

void lg_log_at(enum lg_log_level level, const char *file, int line,
	       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_va(level, file, line, fmt, ap);
	va_end(ap);
}

static void log_va(enum lg_log_level level, const char *file, int line,
		   const char *fmt, va_list ap)
{
	int saved = errno;
	char msg[2048];

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_to_sink(level, file, line, msg)) {
		errno = saved;
		return;
	}

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
