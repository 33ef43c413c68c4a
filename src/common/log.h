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

#define lg_err(...) lg_log(LG_LOG_ERROR, __VA_ARGS__)
#define lg_warn(...) lg_log(LG_LOG_WARN, __VA_ARGS__)
#define lg_info(...) lg_log(LG_LOG_INFO, __VA_ARGS__)
#define lg_debug(...) lg_log(LG_LOG_DEBUG, __VA_ARGS__)

#endif
