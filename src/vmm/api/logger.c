// SPDX-License-Identifier: Apache-2.0
#include "vmm/api/logger.h"

#include "common/log.h"
#include "vmm/api/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_LEN 4096 /* PIPE_BUF: one line is one atomic FIFO write */

struct api_logger {
	int fd; /* -1: no file (stderr, or nothing for Off) */
	enum vmm_log_level level;
	bool show_level;
	bool show_origin;
	char *module;
	char id[72];
};

static atomic_uint_fast64_t missed_lines;
static atomic_uint_fast64_t failed_lines;
/* The installed logger, so that closing it knows to uninstall. */
static struct api_logger *_Atomic installed;

void api_logger_counters(uint64_t *missed, uint64_t *fails)
{
	*missed = atomic_load(&missed_lines);
	*fails = atomic_load(&failed_lines);
}

static enum lg_log_level lg_level(enum vmm_log_level l)
{
	switch (l) {
	case VMM_LOG_OFF:
	case VMM_LOG_ERROR:
		return LG_LOG_ERROR;
	case VMM_LOG_WARNING:
		return LG_LOG_WARN;
	case VMM_LOG_INFO:
		return LG_LOG_INFO;
	case VMM_LOG_DEBUG:
	case VMM_LOG_TRACE:
		return LG_LOG_DEBUG;
	}
	return LG_LOG_INFO;
}

static const char *level_tag(enum lg_log_level l)
{
	switch (l) {
	case LG_LOG_ERROR:
		return "ERROR";
	case LG_LOG_WARN:
		return "WARN";
	case LG_LOG_INFO:
		return "INFO";
	case LG_LOG_DEBUG:
		return "DEBUG";
	}
	return "INFO";
}

/* "../src/vmm/vm.c" -> "vmm/vm.c": paths as the module filter sees them. */
static const char *origin_path(const char *file)
{
	while (!strncmp(file, "../", 3))
		file += 3;
	if (!strncmp(file, "src/", 4))
		file += 4;
	return file;
}

/* Appends s, making control characters visible so a line stays a line. */
static size_t append_escaped(char *buf, size_t n, size_t cap, const char *s)
{
	for (; *s && n + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			buf[n++] = '?';
		} else {
			buf[n++] = (char)c;
		}
	}
	return n;
}

static void logger_sink(void *opaque, enum lg_log_level level, const char *file,
			int line, const char *msg)
{
	struct api_logger *l = opaque;
	char buf[LINE_MAX_LEN], thread[16] = "?";
	struct timespec ts;
	struct tm tm;
	size_t n;
	int ret;

	if (l->level == VMM_LOG_OFF || l->fd < 0 || level > lg_level(l->level))
		return;
	if (l->module &&
	    (!file || strncmp(origin_path(file), l->module, strlen(l->module))))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	pthread_getname_np(pthread_self(), thread, sizeof(thread));
	n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, ".%09ld [%s:%s",
			      ts.tv_nsec, l->id, thread);
	if (n < sizeof(buf) && l->show_level)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%s",
				      level_tag(level));
	if (n < sizeof(buf) && l->show_origin && file)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ":%s:%d",
				      origin_path(file), line);
	if (n + 2 < sizeof(buf)) {
		buf[n++] = ']';
		buf[n++] = ' ';
	}
	n = append_escaped(buf, n, sizeof(buf) - 1, msg);
	buf[n++] = '\n';
	ret = api_outfile_write(l->fd, buf, n);
	if (ret == -EAGAIN)
		atomic_fetch_add(&missed_lines, 1);
	else if (ret)
		atomic_fetch_add(&failed_lines, 1);
}

int api_logger_open(const struct vmm_logger *lc, const char *instance_id,
		    const struct api_logger *prev, struct api_logger **out,
		    char *err, size_t err_size)
{
	struct api_logger *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return -ENOMEM;
	l->fd = -1;
	l->level = lc->level;
	l->show_level = lc->show_level;
	l->show_origin = lc->show_log_origin;
	snprintf(l->id, sizeof(l->id), "%s", instance_id);
	if (lc->module) {
		l->module = strdup(lc->module);
		if (!l->module)
			goto nomem;
	}
	if (lc->log_path) {
		l->fd = api_outfile_open(lc->log_path, err, err_size);
		if (l->fd < 0) {
			int ret = l->fd;

			free(l->module);
			free(l);
			return ret;
		}
	} else if (prev && prev->fd >= 0) {
		l->fd = fcntl(prev->fd, F_DUPFD_CLOEXEC, 0);
		if (l->fd < 0) {
			int ret = -errno;

			snprintf(err, err_size, "cannot reuse the log file: %s",
				 strerror(errno));
			free(l->module);
			free(l);
			return ret;
		}
	}
	*out = l;
	return 0;
nomem:
	free(l);
	return -ENOMEM;
}

void api_logger_install(struct api_logger *l)
{
	lg_log_set_level(lg_level(l->level));
	/* No file and not Off: the ordinary stderr output stays. */
	if (l->fd < 0 && l->level != VMM_LOG_OFF) {
		lg_log_set_sink(NULL, NULL);
		atomic_store(&installed, NULL);
		return;
	}
	lg_log_set_sink(logger_sink, l);
	atomic_store(&installed, l);
}

void api_logger_close(struct api_logger *l)
{
	struct api_logger *expected = l;

	if (!l)
		return;
	/* Waits for threads inside the sink before l goes away. */
	if (atomic_compare_exchange_strong(&installed, &expected, NULL))
		lg_log_set_sink(NULL, NULL);
	if (l->fd >= 0)
		close(l->fd);
	free(l->module);
	free(l);
}
