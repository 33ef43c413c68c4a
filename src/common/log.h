/* SPDX-License-Identifier: Apache-2.0 */
/* Leveled logging to stderr: human text on a terminal, or JSON lines. */
#ifndef LG_COMMON_LOG_H
#define LG_COMMON_LOG_H

enum lg_log_level {
	LG_LOG_ERROR,
	LG_LOG_WARN,
	LG_LOG_INFO,
	LG_LOG_DEBUG,
};

enum lg_log_format {
	LG_LOG_HUMAN,
	LG_LOG_JSON,
};

/* Both return -EINVAL for a name they do not know. */
int lg_log_set_level_name(const char *name);
int lg_log_set_format_name(const char *name);
void lg_log_set_level(enum lg_log_level level);
enum lg_log_level lg_log_get_level(void);
/* Program name shown in human output ("luminaguard: error: ..."). */
void lg_log_set_ident(const char *ident);

void lg_log(enum lg_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* As lg_log, with the origin (source file and line) for a sink. */
void lg_log_at(enum lg_log_level level, const char *file, int line,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * A sink receives each message that passes the level filter instead of
 * stderr (file is NULL and line 0 when the origin is unknown). It must
 * not log itself. lg_log_set_sink(NULL, NULL) restores stderr; it
 * returns only once no thread is inside the previous sink.
 */
typedef void (*lg_log_sink_fn)(void *opaque, enum lg_log_level level,
			       const char *file, int line, const char *msg);
void lg_log_set_sink(lg_log_sink_fn fn, void *opaque);

#define lg_err(...) lg_log_at(LG_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define lg_warn(...) lg_log_at(LG_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define lg_info(...) lg_log_at(LG_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define lg_debug(...) lg_log_at(LG_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
