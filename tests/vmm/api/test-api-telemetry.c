// SPDX-License-Identifier: Apache-2.0
/*
 * PUT /logger and PUT /metrics against real files and named pipes: the
 * log line format, level and module filters, FIFOs without a reader or
 * with a full pipe (lost lines counted, never blocking), metrics lines
 * with per-endpoint deltas, and the periodic flush.
 */
#include "rec-ops.h"

#include "common/log.h"
#include "vmm/api/api.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];
static struct api *api;
static struct rec rec;

static const char *path_in(const char *name)
{
	static char bufs[4][160];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/lg-api-tele.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state)
{
	(void)state;
	rec_init(&rec);
	return api_create(&rec_ops, &rec, "tele-test", &api);
}

static int teardown(void **state)
{
	(void)state;
	api_destroy(api);
	api = NULL;
	rec_free(&rec);
	return 0;
}

static int put(const char *path, const char *body)
{
	struct api_response r;
	int status;

	assert_int_equal(api_handle(api, "PUT", path, body, strlen(body), &r),
			 0);
	status = r.status;
	if (status != 204)
		print_message("PUT %s: %d %s\n", path, status,
			      r.body ? r.body : "");
	api_response_free(&r);
	return status;
}

static char *slurp(const char *path)
{
	static char buf[1 << 20];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The n-th (0-based) line of text as JSON. */
static json_t *json_line(const char *text, int n)
{
	const char *p = text, *end;
	json_t *o;

	while (n--) {
		p = strchr(p, '\n');
		assert_non_null(p);
		p++;
	}
	end = strchr(p, '\n');
	assert_non_null(end);
	o = json_loadb(p, (size_t)(end - p), 0, NULL);
	assert_non_null(o);
	return o;
}

static json_int_t metric(json_t *o, const char *group, const char *key)
{
	json_t *v = json_object_get(json_object_get(o, group), key);

	if (!json_is_integer(v))
		fail_msg("no metric %s.%s", group, key);
	return json_integer_value(v);
}

/* ------------------------------------------------------------------ */

static const char *fmt(const char *f, ...)
	__attribute__((format(printf, 1, 2)));

static const char *fmt(const char *f, ...)
{
	static char bufs[4][1024];
	static int next;
	char *b = bufs[next++ % 4];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

static void test_log_file_format(void **state)
{
	const char *log = path_in("vmm.log");
	struct stat st;
	regex_t re;
	char *text;
	int line;

	(void)state;
	/* A missing file is created, private. */
	assert_int_equal(
		put("/logger", fmt("{\"log_path\":\"%s\",\"level\":\"Warning\","
				   "\"show_level\":true,"
				   "\"show_log_origin\":true}",
				   log)),
		204);
	assert_int_equal(stat(log, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	lg_info("not at Warning");
	line = __LINE__ + 1;
	lg_warn("a warning\nwith a forged line");
	lg_err("an error %d", 42);
	text = slurp(log);
	assert_null(strstr(text, "not at Warning"));
	assert_int_equal(count_lines(text), 2);
	/* 2024-01-31T12:00:00.123456789 [id:thread:LEVEL:file:line] msg */
	assert_int_equal(
		regcomp(&re,
			"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
			"\\.[0-9]{9} \\[tele-test:[^:]+:WARN:"
			"tests/vmm/api/test-api-telemetry\\.c:[0-9]+\\] "
			"a warning\\\\nwith a forged line\n",
			REG_EXTENDED | REG_NEWLINE),
		0);
	if (regexec(&re, text, 0, NULL, 0))
		fail_msg("unexpected log text: %s", text);
	regfree(&re);
	assert_non_null(strstr(text, fmt(".c:%d] a warning", line)));
	assert_non_null(strstr(text, ":ERROR:"));
	assert_non_null(strstr(text, "] an error 42\n"));

	/* Without a log_path the file stays; now plain, Info and up. */
	assert_int_equal(put("/logger", "{\"level\":\"info\"}"), 204);
	lg_info("plain info");
	lg_debug("no debug");
	text = slurp(log);
	assert_int_equal(count_lines(text), 3);
	assert_non_null(strstr(text, "[tele-test:"));
	assert_non_null(strstr(text, "] plain info\n"));
	assert_null(strstr(text, "INFO"));
	assert_null(strstr(text, "no debug"));

	/* Off: nothing at all. */
	assert_int_equal(put("/logger", "{\"level\":\"Off\"}"), 204);
	lg_err("silenced");
	assert_int_equal(count_lines(slurp(log)), 3);
}

static void test_log_module_filter(void **state)
{
	const char *log = path_in("module.log");
	struct api_response r;
	char *text;

	(void)state;
	assert_int_equal(
		put("/logger", fmt("{\"log_path\":\"%s\",\"level\":\"Info\","
				   "\"module\":\"vmm/api\"}",
				   log)),
		204);
	lg_warn("from the test, not vmm/api");
	/* The API logs failed requests from src/vmm/api/api.c. */
	assert_int_equal(api_handle(api, "GET", "/nope", NULL, 0, &r), 0);
	assert_int_equal(r.status, 400);
	api_response_free(&r);
	text = slurp(log);
	assert_null(strstr(text, "from the test"));
	assert_non_null(strstr(text, "API GET /nope: 400"));
}

static void test_log_fifo(void **state)
{
	const char *fifo = path_in("log.fifo");
	struct vmm_logger lc = {.set = true, .level = VMM_LOG_INFO};
	char err[256], buf[4096];
	json_t *m;
	ssize_t n;
	int rd, i;

	(void)state;
	assert_int_equal(mkfifo(fifo, 0600), 0);
	/* No reader yet: configuring does not block (the CLI's way here). */
	lc.log_path = (char *)fifo;
	assert_int_equal(api_configure_logger(api, &lc, err, sizeof(err)), 0);
	lg_info("before the reader");
	rd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	lg_info("hello fifo");
	n = read(rd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "] before the reader\n"));
	assert_non_null(strstr(buf, "] hello fifo\n"));

	/* A full pipe loses lines (counted) instead of blocking. */
	for (i = 0; i < 4000; i++)
		lg_info("filler line %04d .................................."
			"...........................",
			i);
	assert_int_equal(api_configure_metrics(api, path_in("m-log.json"), err,
					       sizeof(err)),
			 0);
	assert_int_equal(put("/actions", "{\"action_type\":\"FlushMetrics\"}"),
			 204);
	m = json_line(slurp(path_in("m-log.json")), 0);
	assert_true(metric(m, "logger", "missed_log_count") > 0);
	assert_int_equal(metric(m, "logger", "log_fails"), 0);
	json_decref(m);
	/* The reader still gets whole lines. */
	n = read(rd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	assert_int_equal(memcmp(buf, "20", 2), 0);
	close(rd);
}

static void test_metrics_file(void **state)
{
	const char *path = path_in("metrics.json");
	struct api_response r;
	json_int_t now_ms;
	struct timespec ts;
	char *text;
	json_t *m;
	int i;

	(void)state;
	assert_int_equal(
		put("/metrics", fmt("{\"metrics_path\":\"%s\"}", path)), 204);
	for (i = 0; i < 3; i++)
		assert_int_equal(put("/boot-source", "{}"), 400);
	assert_int_equal(put("/machine-config",
			     "{\"vcpu_count\":1,\"mem_size_mib\":16}"),
			 204);
	assert_int_equal(api_handle(api, "GET", "/", NULL, 0, &r), 0);
	api_response_free(&r);
	assert_int_equal(api_handle(api, "GET", "/nope", NULL, 0, &r), 0);
	api_response_free(&r);
	assert_int_equal(put("/balloon", "{}"), 400);
	assert_int_equal(put("/actions", "{\"action_type\":\"FlushMetrics\"}"),
			 204);
	text = slurp(path);
	assert_int_equal(count_lines(text), 1);
	m = json_line(text, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	now_ms = (json_int_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	assert_true(json_integer_value(
			    json_object_get(m, "utc_timestamp_ms")) <= now_ms);
	assert_true(json_integer_value(json_object_get(m, "utc_timestamp_ms")) >
		    now_ms - 10000);
	assert_int_equal(metric(m, "put_api_requests", "boot_source_count"), 3);
	assert_int_equal(metric(m, "put_api_requests", "boot_source_fails"), 3);
	assert_int_equal(metric(m, "put_api_requests", "machine_cfg_count"), 1);
	assert_int_equal(metric(m, "put_api_requests", "machine_cfg_fails"), 0);
	assert_int_equal(metric(m, "put_api_requests", "metrics_count"), 1);
	assert_int_equal(metric(m, "get_api_requests", "instance_info_count"),
			 1);
	assert_int_equal(metric(m, "api_server", "invalid_request_count"), 1);
	assert_int_equal(metric(m, "api_server", "unsupported_request_count"),
			 1);
	assert_int_equal(metric(m, "patch_api_requests", "vm_count"), 0);
	assert_true(json_is_object(json_object_get(m, "latencies_us")));
	/* The VMM's own part. */
	assert_int_equal(metric(m, "vmm", "fills"), 1);
	json_decref(m);

	/* Counters are per line: the next one shows only what followed. */
	assert_int_equal(put("/actions", "{\"action_type\":\"FlushMetrics\"}"),
			 204);
	text = slurp(path);
	assert_int_equal(count_lines(text), 2);
	m = json_line(text, 1);
	assert_int_equal(metric(m, "put_api_requests", "boot_source_count"), 0);
	assert_int_equal(metric(m, "put_api_requests", "actions_count"), 1);
	assert_int_equal(metric(m, "vmm", "fills"), 2);
	json_decref(m);

	/* A start and a pause show up as latencies. */
	assert_int_equal(put("/boot-source",
			     fmt("{\"kernel_image_path\":\"%s\"}", path)),
			 204);
	assert_int_equal(put("/actions", "{\"action_type\":\"InstanceStart\"}"),
			 204);
	assert_int_equal(api_flush_metrics(api), 0);
	m = json_line(slurp(path), 2);
	assert_true(metric(m, "latencies_us", "start_microvm") >= 0);
	assert_int_equal(metric(m, "put_api_requests", "actions_count"), 2);
	json_decref(m);
}

static void test_metrics_fifo_full(void **state)
{
	const char *fifo = path_in("metrics.fifo");
	char buf[1 << 16];
	int i, rd, lost = 0;
	ssize_t n;
	json_t *m;

	(void)state;
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(
		put("/metrics", fmt("{\"metrics_path\":\"%s\"}", fifo)), 204);
	/* Nobody reads: after ~64 KiB the pipe is full, lines are lost. */
	for (i = 0; i < 200 && !lost; i++)
		lost = api_flush_metrics(api) == -EAGAIN;
	assert_true(lost);
	assert_true(i > 10);
	rd = open(fifo, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	while ((n = read(rd, buf, sizeof(buf))) > 0)
		;
	assert_int_equal(api_flush_metrics(api), 0);
	n = read(rd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(count_lines(buf), 1);
	m = json_line(buf, 0);
	assert_int_equal(metric(m, "logger", "missed_metrics_count"), 1);
	assert_int_equal(metric(m, "logger", "metrics_fails"), 0);
	json_decref(m);
	close(rd);
}

static void test_metrics_periodic(void **state)
{
	const char *path = path_in("periodic.json");
	struct timespec t = {0, 20 * 1000000L};
	int i, lines = 0;
	json_t *m;

	(void)state;
	api_set_metrics_period(api, 100);
	assert_int_equal(
		put("/metrics", fmt("{\"metrics_path\":\"%s\"}", path)), 204);
	/* Lines appear without any request; give it up to 5 s. */
	for (i = 0; i < 250 && lines < 3; i++) {
		nanosleep(&t, NULL);
		lines = count_lines(slurp(path));
	}
	assert_true(lines >= 3);
	m = json_line(slurp(path), 0);
	assert_int_equal(metric(m, "put_api_requests", "metrics_count"), 1);
	json_decref(m);
}

static void test_bad_destinations(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(put("/logger", fmt("{\"log_path\":\"%s\"}", dir)),
			 400);
	assert_int_equal(
		put("/metrics", fmt("{\"metrics_path\":\"%s/x/y\"}", dir)),
		400);
	assert_int_equal(api_configure_metrics(api, dir, err, sizeof(err)),
			 -EISDIR);
	assert_non_null(strstr(err, "Is a directory"));
	assert_int_equal(api_flush_metrics(api), -ENODEV);
	/* /dev/null is a fine sink. */
	assert_int_equal(put("/metrics", "{\"metrics_path\":\"/dev/null\"}"),
			 204);
	assert_int_equal(api_flush_metrics(api), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_log_file_format),   T(test_log_module_filter),
		T(test_log_fifo),	   T(test_metrics_file),
		T(test_metrics_fifo_full), T(test_metrics_periodic),
		T(test_bad_destinations),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
