// SPDX-License-Identifier: Apache-2.0
/*
 * api_handle() with a recording VMM: every endpoint's success and error
 * paths, Firecracker's pre-/post-boot rules, GET /vm/config round trips
 * and --config-file loading. Exact status codes; faults must name the
 * problem.
 */
#include "rec-ops.h"

#include "vmm/api/api.h"
#include "vmm/config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];
static char kernel[128], rootfs[128], data[128], initrd[128];
static struct api *api;
static struct rec rec;

/* printf into one of a few rotating buffers (bodies with paths in them). */
static const char *fmt(const char *f, ...)
	__attribute__((format(printf, 1, 2)));

static const char *fmt(const char *f, ...)
{
	static char bufs[4][8192];
	static int next;
	char *b = bufs[next++ % 4];
	va_list ap;

	va_start(ap, f);
	vsnprintf(b, sizeof(bufs[0]), f, ap);
	va_end(ap);
	return b;
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/lg-api-test.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", dir);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs.ext4", dir);
	snprintf(data, sizeof(data), "%s/data.img", dir);
	touch(kernel);
	touch(initrd);
	touch(rootfs);
	touch(data);
	return 0;
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
	return api_create(&rec_ops, &rec, "test-vm", &api);
}

static int teardown(void **state)
{
	(void)state;
	api_destroy(api);
	api = NULL;
	rec_free(&rec);
	return 0;
}

static void request(const char *m, const char *p, const char *body,
		    struct api_response *r)
{
	assert_int_equal(
		api_handle(api, m, p, body, body ? strlen(body) : 0, r), 0);
}

#define EXPECT(m, p, b, st) expect_status(m, p, b, st, __LINE__)
#define FAULT(m, p, b, needle) expect_fault(m, p, b, needle, __LINE__)

static void expect_status(const char *m, const char *p, const char *b,
			  int status, int line)
{
	struct api_response r;

	request(m, p, b, &r);
	if (r.status != status)
		print_error("line %d: %s %s: %d %s (want %d)\n", line, m, p,
			    r.status, r.body ? r.body : "", status);
	assert_int_equal(r.status, status);
	if (status == 204)
		assert_null(r.body);
	api_response_free(&r);
}

/* 400, a {"fault_message": "..."} body, and the message has needle. */
static void expect_fault(const char *m, const char *p, const char *b,
			 const char *needle, int line)
{
	struct api_response r;
	const char *msg = NULL;
	json_t *o;

	request(m, p, b, &r);
	o = r.body ? json_loads(r.body, 0, NULL) : NULL;
	if (o)
		msg = json_string_value(json_object_get(o, "fault_message"));
	if (r.status != 400 || !msg || !strstr(msg, needle))
		print_error("line %d: %s %s: %d %s (want 400 with \"%s\")\n",
			    line, m, p, r.status, r.body ? r.body : "", needle);
	assert_int_equal(r.status, 400);
	assert_non_null(msg);
	assert_non_null(strstr(msg, needle));
	assert_int_equal(json_object_size(o), 1);
	json_decref(o);
	api_response_free(&r);
}

static json_t *get_json(const char *path)
{
	struct api_response r;
	json_t *o;

	request("GET", path, NULL, &r);
	assert_int_equal(r.status, 200);
	o = json_loads(r.body, 0, NULL);
	assert_non_null(o);
	api_response_free(&r);
	return o;
}

static const char *state_of(void)
{
	static char s[32];
	json_t *o = get_json("/");

	snprintf(s, sizeof(s), "%s",
		 json_string_value(json_object_get(o, "state")));
	json_decref(o);
	return s;
}

static void put_boot(void)
{
	EXPECT("PUT", "/boot-source",
	       fmt("{\"kernel_image_path\":\"%s\",\"boot_args\":\"console="
		   "ttyS0\"}",
		   kernel),
	       204);
}

static void start(void)
{
	put_boot();
	EXPECT("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 204);
	assert_string_equal(state_of(), "Running");
}

/* ------------------------------------------------------------------ */

static void test_create_ids(void **state)
{
	struct api *a;
	json_t *o;

	(void)state;
	assert_int_equal(api_create(&rec_ops, &rec, "", &a), -EINVAL);
	assert_int_equal(api_create(&rec_ops, &rec, "bad id", &a), -EINVAL);
	assert_int_equal(api_create(&rec_ops, &rec,
				    "x1234567890123456789012345678901234567890"
				    "123456789012345678901234567",
				    &a),
			 -EINVAL);
	assert_int_equal(api_create(NULL, &rec, "ok", &a), -EINVAL);
	assert_int_equal(api_create(&rec_ops, &rec, NULL, &a), 0);
	api_destroy(api);
	api = a;
	o = get_json("/");
	assert_string_equal(json_string_value(json_object_get(o, "id")),
			    "anonymous-instance");
	json_decref(o);
}

static void test_get_root_version(void **state)
{
	json_t *o;

	(void)state;
	o = get_json("/");
	assert_string_equal(json_string_value(json_object_get(o, "id")),
			    "test-vm");
	assert_string_equal(json_string_value(json_object_get(o, "state")),
			    "Not started");
	assert_string_equal(json_string_value(json_object_get(o, "app_name")),
			    "lgvmm");
	assert_non_null(json_string_value(json_object_get(o, "vmm_version")));
	json_decref(o);
	o = get_json("/version");
	assert_non_null(
		json_string_value(json_object_get(o, "firecracker_version")));
	json_decref(o);
	/* A query string is ignored, one trailing slash too. */
	json_decref(get_json("/?x=1"));
	json_decref(get_json("/version/"));
	assert_int_equal(api_state(api), VMM_STATE_NOT_STARTED);
}

static void test_paths_and_methods(void **state)
{
	char longpath[700];

	(void)state;
	FAULT("GET", "/nope", NULL,
	      "Invalid request method and/or path: GET /nope.");
	FAULT("POST", "/", NULL, "Invalid request method and/or path: POST /.");
	FAULT("DELETE", "/drives/a", NULL,
	      "Invalid request method and/or path: DELETE /drives/a.");
	FAULT("GET", "/boot-source", NULL,
	      "Invalid request method and/or path: GET /boot-source.");
	FAULT("PUT", "/version", "{}",
	      "Invalid request method and/or path: PUT /version.");
	FAULT("PATCH", "/actions", "{}",
	      "Invalid request method and/or path: PATCH /actions.");
	FAULT("GET", "/vm/config/x", NULL,
	      "Invalid request method and/or path");
	FAULT("GET", "/vm//config", NULL, "Invalid request method and/or path");
	FAULT("PUT", "/drives/a/b", "{}", "Invalid request method and/or path");
	FAULT("PUT", "/snapshot/bogus", "{}",
	      "Invalid request method and/or path: PUT /snapshot/bogus.");
	FAULT("PUT", "/snapshot", "{}", "Missing snapshot operation type.");
	FAULT("PUT", "/drives", "{}", "The ID cannot be empty.");
	FAULT("PATCH", "/network-interfaces/", "{}", "The ID cannot be empty.");
	FAULT("PUT", "/drives/a-b", "{}",
	      "API Resource IDs can only contain alphanumeric characters and "
	      "underscores");
	FAULT("PUT", "/network-interfaces/a%20b", "{}", "API Resource IDs");
	FAULT("GET", "/", "{}", "GET request cannot have a body.");
	FAULT("PUT", "/boot-source", NULL, "Empty PUT request.");
	FAULT("PATCH", "/machine-config", "", "Empty PATCH request.");
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	FAULT("GET", longpath, NULL, "Invalid request method and/or path");
	/* Non-ASCII in the path is shown safely. */
	FAULT("GET", "/\xff\xfe", NULL, "Invalid request method and/or path");
}

static void test_unsupported_endpoints(void **state)
{
	(void)state;
	FAULT("PUT", "/balloon", "{\"amount_mib\":1,\"deflate_on_oom\":true}",
	      "not supported: balloon devices");
	FAULT("GET", "/balloon/statistics", NULL, "balloon");
	FAULT("PATCH", "/balloon/hinting/start", "{}", "balloon");
	FAULT("GET", "/mmds", NULL, "MMDS");
	FAULT("PUT", "/mmds/config", "{\"network_interfaces\":[]}", "MMDS");
	FAULT("PUT", "/cpu-config", "{}", "custom CPU templates");
	FAULT("PUT", "/pmem/p0", "{}", "pmem");
	FAULT("PUT", "/hotplug/memory", "{}", "memory hotplug");
}

static void test_malformed_bodies(void **state)
{
	char *deep, *big;
	size_t i;

	(void)state;
	FAULT("PUT", "/boot-source", "{",
	      "An error occurred when deserializing the json body of a "
	      "request:");
	FAULT("PUT", "/boot-source", "{\"kernel_image_path\":\"a\",}",
	      "line 1");
	FAULT("PUT", "/boot-source", "[1]", "expected an object");
	FAULT("PUT", "/boot-source", "42", "deserializing");
	FAULT("PUT", "/boot-source", "{} x", "deserializing");
	FAULT("PUT", "/boot-source",
	      "{\"kernel_image_path\":\"a\",\"kernel_image_path\":\"b\"}",
	      "duplicate");
	FAULT("PUT", "/boot-source", "{\"kernel_image_path\":\"\xff\"}",
	      "deserializing");
	FAULT("PUT", "/boot-source", "{\"kernel_image_path\":\"a\\u0000b\"}",
	      "deserializing");
	/* Nesting deeper than the parser allows is a fault, not a crash. */
	deep = malloc(40001);
	assert_non_null(deep);
	for (i = 0; i < 20000; i++)
		deep[i] = '[';
	for (; i < 40000; i++)
		deep[i] = ']';
	deep[40000] = '\0';
	FAULT("PUT", "/boot-source", deep, "deserializing");
	free(deep);
	/* Over the payload limit: refused before parsing. */
	big = malloc(API_DEFAULT_MAX_PAYLOAD + 2);
	assert_non_null(big);
	memset(big, ' ', API_DEFAULT_MAX_PAYLOAD + 1);
	big[0] = '{';
	big[API_DEFAULT_MAX_PAYLOAD] = '}';
	big[API_DEFAULT_MAX_PAYLOAD + 1] = '\0';
	FAULT("PUT", "/boot-source", big,
	      "Request payload with size 51201 is larger than the limit of "
	      "51200 allowed by server.");
	/* At the limit it is parsed (and misses its field). */
	big[API_DEFAULT_MAX_PAYLOAD - 1] = '}';
	big[API_DEFAULT_MAX_PAYLOAD] = '\0';
	FAULT("PUT", "/boot-source", big, "missing field `kernel_image_path`");
	api_set_max_payload(api, 10);
	FAULT("PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":1}",
	      "larger than the limit of 10");
	free(big);
}

static void test_boot_source(void **state)
{
	json_t *o, *bs;

	(void)state;
	FAULT("PUT", "/boot-source", "{}", "missing field `kernel_image_path`");
	FAULT("PUT", "/boot-source", "{\"kernel_image_path\":5}",
	      "invalid type: an integer, expected a string for "
	      "`kernel_image_path`");
	FAULT("PUT", "/boot-source", "{\"kernel_image_path\":\"\"}",
	      "`kernel_image_path` must not be empty");
	FAULT("PUT", "/boot-source",
	      fmt("{\"kernel_image_path\":\"%s\",\"foo\":1}", kernel),
	      "unknown field `foo`, expected one of `kernel_image_path`, "
	      "`initrd_path`, `boot_args`");
	FAULT("PUT", "/boot-source",
	      fmt("{\"kernel_image_path\":\"%s/missing\"}", dir),
	      "The kernel file cannot be opened");
	FAULT("PUT", "/boot-source",
	      fmt("{\"kernel_image_path\":\"%s\",\"initrd_path\":\"%s\"}",
		  kernel, dir),
	      "The initrd file");
	FAULT("PUT", "/boot-source",
	      fmt("{\"kernel_image_path\":\"%s\",\"boot_args\":\"%02048d\"}",
		  kernel, 0),
	      "`boot_args` is too long");
	EXPECT("PUT", "/boot-source",
	       fmt("{\"kernel_image_path\":\"%s\",\"initrd_path\":\"%s\","
		   "\"boot_args\":\"\"}",
		   kernel, initrd),
	       204);
	/* boot_args null: the default command line. */
	EXPECT("PUT", "/boot-source",
	       fmt("{\"kernel_image_path\":\"%s\",\"boot_args\":null}", kernel),
	       204);
	o = get_json("/vm/config");
	bs = json_object_get(o, "boot-source");
	assert_string_equal(
		json_string_value(json_object_get(bs, "kernel_image_path")),
		kernel);
	assert_true(json_is_null(json_object_get(bs, "boot_args")));
	json_decref(o);
}

static void test_machine_config(void **state)
{
	json_t *o;

	(void)state;
	o = get_json("/machine-config");
	assert_int_equal(json_integer_value(json_object_get(o, "vcpu_count")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(o, "mem_size_mib")),
			 128);
	json_decref(o);
	EXPECT("PUT", "/machine-config",
	       "{\"vcpu_count\":4,\"mem_size_mib\":512,\"smt\":true,"
	       "\"track_dirty_pages\":true,\"huge_pages\":\"None\","
	       "\"cpu_template\":\"None\"}",
	       204);
	o = get_json("/machine-config");
	assert_int_equal(json_integer_value(json_object_get(o, "vcpu_count")),
			 4);
	assert_int_equal(json_integer_value(json_object_get(o, "mem_size_mib")),
			 512);
	assert_true(json_is_true(json_object_get(o, "smt")));
	assert_true(json_is_true(json_object_get(o, "track_dirty_pages")));
	json_decref(o);
	FAULT("PUT", "/machine-config", "{\"vcpu_count\":0,\"mem_size_mib\":1}",
	      "Machine config error: `vcpu_count` must be from 1 to 32 (got "
	      "0)");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":33,\"mem_size_mib\":1}", "`vcpu_count`");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":-1,\"mem_size_mib\":1}",
	      "invalid value: integer `-1`");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":1.5,\"mem_size_mib\":1}",
	      "invalid type: a floating point number, expected an unsigned "
	      "integer for `vcpu_count`");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":4294967296,\"mem_size_mib\":1}", "`vcpu_count`");
	FAULT("PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":0}",
	      "`mem_size_mib` must be from 1");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":1,\"mem_size_mib\":262145}", "`mem_size_mib`");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":3,\"mem_size_mib\":1,\"smt\":true}",
	      "1 or an even number when `smt` is enabled");
	FAULT("PUT", "/machine-config", "{\"vcpu_count\":1}",
	      "missing field `mem_size_mib`");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":1,\"mem_size_mib\":1,\"huge_pages\":\"2M\"}",
	      "not supported: `huge_pages` is not supported by lgvmm");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":1,\"mem_size_mib\":1,\"huge_pages\":\"1G\"}",
	      "unknown variant `1G`, expected one of `None`, `Transparent`, "
	      "`2M`");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":1,\"mem_size_mib\":1,\"cpu_template\":\"T2\"}",
	      "`cpu_template` is not supported");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":1,\"mem_size_mib\":1,\"smt\":1}",
	      "expected a boolean for `smt`");
	FAULT("PUT", "/machine-config",
	      "{\"vcpu_count\":1,\"mem_size_mib\":1,\"gdb_socket_path\":\"x\"}",
	      "unknown field `gdb_socket_path`");
	/* PATCH: only the fields given; smt stays on, so 3 is refused. */
	EXPECT("PATCH", "/machine-config", "{\"mem_size_mib\":64}", 204);
	FAULT("PATCH", "/machine-config", "{\"vcpu_count\":3}", "`smt`");
	EXPECT("PATCH", "/machine-config", "{\"smt\":false,\"vcpu_count\":3}",
	       204);
	FAULT("PATCH", "/machine-config", "{}", "give at least one field");
	FAULT("PATCH", "/machine-config", "{\"smt\":null}",
	      "give at least one field");
	o = get_json("/machine-config");
	assert_int_equal(json_integer_value(json_object_get(o, "vcpu_count")),
			 3);
	assert_int_equal(json_integer_value(json_object_get(o, "mem_size_mib")),
			 64);
	json_decref(o);
}

static void put_drive(const char *id, const char *path, bool root, int status)
{
	EXPECT("PUT", fmt("/drives/%s", id),
	       fmt("{\"drive_id\":\"%s\",\"path_on_host\":\"%s\","
		   "\"is_root_device\":%s,\"is_read_only\":false}",
		   id, path, root ? "true" : "false"),
	       status);
}

static void test_drives(void **state)
{
	json_t *o, *d;
	char id[16];
	int i;

	(void)state;
	put_drive("data", data, false, 204);
	put_drive("rootfs", rootfs, true, 204);
	/* The root device is listed first, the others keep their order. */
	o = get_json("/vm/config");
	d = json_object_get(o, "drives");
	assert_int_equal(json_array_size(d), 2);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(d, 0), "drive_id")),
			    "rootfs");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(d, 0), "io_engine")),
			    "Sync");
	json_decref(o);
	FAULT("PUT", "/drives/other",
	      fmt("{\"drive_id\":\"other\",\"path_on_host\":\"%s\","
		  "\"is_root_device\":true}",
		  data),
	      "A root block device already exists!");
	/* Replacing the root device itself is fine. */
	EXPECT("PUT", "/drives/rootfs",
	       fmt("{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\","
		   "\"is_root_device\":true,\"is_read_only\":true,"
		   "\"partuuid\":\"0eaa91a0-01\",\"cache_type\":\"Writeback\","
		   "\"io_engine\":\"Sync\",\"rate_limiter\":null}",
		   rootfs),
	       204);
	FAULT("PUT", "/drives/x",
	      fmt("{\"drive_id\":\"y\",\"path_on_host\":\"%s\","
		  "\"is_root_device\":false}",
		  data),
	      "The id from the path does not match the id from the body!");
	FAULT("PUT", "/drives/x",
	      "{\"drive_id\":\"x\",\"is_root_device\":false}",
	      "missing field `path_on_host`");
	FAULT("PUT", "/drives/x",
	      fmt("{\"drive_id\":\"x\",\"path_on_host\":\"%s\"}", data),
	      "missing field `is_root_device`");
	FAULT("PUT", "/drives/x",
	      fmt("{\"drive_id\":\"x\",\"path_on_host\":\"%s/none\","
		  "\"is_root_device\":false}",
		  dir),
	      "The block device file cannot be opened");
	FAULT("PUT", "/drives/x",
	      fmt("{\"drive_id\":\"x\",\"path_on_host\":\"%s\","
		  "\"is_root_device\":false,\"io_engine\":\"Async\"}",
		  data),
	      "`io_engine` \"Async\" is not supported by lgvmm");
	FAULT("PUT", "/drives/x",
	      fmt("{\"drive_id\":\"x\",\"path_on_host\":\"%s\","
		  "\"is_root_device\":false,\"cache_type\":\"Fast\"}",
		  data),
	      "unknown variant `Fast`, expected one of `Unsafe`, `Writeback`");
	FAULT("PUT", "/drives/x",
	      fmt("{\"drive_id\":\"x\",\"path_on_host\":\"%s\","
		  "\"is_root_device\":false,\"rate_limiter\":{}}",
		  data),
	      "`rate_limiter` is not supported by lgvmm");
	FAULT("PUT", "/drives/x",
	      "{\"drive_id\":\"x\",\"socket\":\"/s\",\"is_root_device\":false}",
	      "vhost-user");
	FAULT("PUT", "/drives/x",
	      fmt("{\"drive_id\":\"x\",\"path_on_host\":\"%s\","
		  "\"is_root_device\":true,\"partuuid\":\"1 init=/bin/sh\"}",
		  data),
	      "`partuuid`");
	FAULT("PUT", "/drives/x",
	      fmt("{\"drive_id\":\"x\",\"path_on_host\":\"%s\","
		  "\"is_root_device\":false,\"is_read_only\":\"yes\"}",
		  data),
	      "expected a boolean for `is_read_only`");
	/* At most VMM_MAX_DRIVES. */
	for (i = 2; i < (int)VMM_MAX_DRIVES; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		put_drive(id, data, false, 204);
	}
	FAULT("PUT", "/drives/one_more",
	      fmt("{\"drive_id\":\"one_more\",\"path_on_host\":\"%s\","
		  "\"is_root_device\":false}",
		  data),
	      "too many drives (at most 8)");
	/* Replacing one at the limit still works. */
	put_drive("d2", rootfs, false, 204);
}

static void put_net(const char *id, const char *tap, const char *mac,
		    int status)
{
	EXPECT("PUT", fmt("/network-interfaces/%s", id),
	       mac ? fmt("{\"iface_id\":\"%s\",\"host_dev_name\":\"%s\","
			 "\"guest_mac\":\"%s\"}",
			 id, tap, mac)
		   : fmt("{\"iface_id\":\"%s\",\"host_dev_name\":\"%s\"}", id,
			 tap),
	       status);
}

static void test_network(void **state)
{
	json_t *o, *n;

	(void)state;
	put_net("eth0", "tap0", "06:00:AC:10:00:02", 204);
	put_net("eth1", "tap1", NULL, 204);
	o = get_json("/vm/config");
	n = json_array_get(json_object_get(o, "network-interfaces"), 0);
	assert_string_equal(json_string_value(json_object_get(n, "guest_mac")),
			    "06:00:ac:10:00:02");
	json_decref(o);
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth2\",\"host_dev_name\":\"tap0\"}",
	      "The host device name `tap0` is already in use by interface "
	      "`eth0`");
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth2\",\"host_dev_name\":\"tap2\","
	      "\"guest_mac\":\"06:00:ac:10:00:02\"}",
	      "The guest MAC address is already in use by interface `eth0`");
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth2\",\"host_dev_name\":\"tap2\","
	      "\"guest_mac\":\"06:00:ac:10:00\"}",
	      "`guest_mac` must be six hexadecimal bytes");
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth2\",\"host_dev_name\":\"tap2\","
	      "\"guest_mac\":\"06-00-ac-10-00-02\"}",
	      "`guest_mac`");
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth2\",\"host_dev_name\":\"tap2\","
	      "\"guest_mac\":\"01:00:5e:00:00:01\"}",
	      "`guest_mac` is a multicast address");
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth2\",\"host_dev_name\":\"a_very_long_tap_"
	      "name\"}",
	      "`host_dev_name` is too long");
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth2\",\"host_dev_name\":\"../tap\"}",
	      "`host_dev_name` is not a valid interface name");
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth2\",\"host_dev_name\":\"tap2\",\"mtu\":1500}",
	      "`mtu` is not supported");
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth2\",\"host_dev_name\":\"tap2\","
	      "\"rx_rate_limiter\":{\"bandwidth\":{}}}",
	      "`rx_rate_limiter` is not supported");
	FAULT("PUT", "/network-interfaces/eth2",
	      "{\"iface_id\":\"eth3\",\"host_dev_name\":\"tap2\"}",
	      "does not match");
	FAULT("PUT", "/network-interfaces/eth2", "{\"iface_id\":\"eth2\"}",
	      "missing field `host_dev_name`");
	/* Same interface again: replaced, so its own tap is no conflict. */
	put_net("eth0", "tap0", NULL, 204);
	put_net("eth2", "tap2", NULL, 204);
	put_net("eth3", "tap3", NULL, 204);
	FAULT("PUT", "/network-interfaces/eth4",
	      "{\"iface_id\":\"eth4\",\"host_dev_name\":\"tap4\"}",
	      "too many network interfaces (at most 4)");
}

static void test_vsock_entropy(void **state)
{
	json_t *o, *v;

	(void)state;
	FAULT("PUT", "/vsock", "{\"guest_cid\":2,\"uds_path\":\"/tmp/v.sock\"}",
	      "Vsock config error: `guest_cid` must be from 3");
	FAULT("PUT", "/vsock",
	      "{\"guest_cid\":4294967295,\"uds_path\":\"/tmp/v.sock\"}",
	      "`guest_cid`");
	FAULT("PUT", "/vsock", "{\"guest_cid\":3}", "missing field `uds_path`");
	FAULT("PUT", "/vsock",
	      fmt("{\"guest_cid\":3,\"uds_path\":\"/%0100d\"}", 0),
	      "`uds_path` is too long");
	FAULT("PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"v\",\"x\":1}",
	      "unknown field `x`");
	EXPECT("PUT", "/vsock",
	       "{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\","
	       "\"vsock_id\":\"vsock0\"}",
	       204);
	FAULT("PUT", "/entropy", "{\"rate_limiter\":{\"ops\":{}}}",
	      "`rate_limiter` is not supported");
	FAULT("PUT", "/entropy", "{\"foo\":1}", "unknown field `foo`");
	EXPECT("PUT", "/entropy", "{}", 204);
	EXPECT("PUT", "/entropy", "{\"rate_limiter\":null}", 204);
	FAULT("PUT", "/serial", "{\"serial_out_path\":1}", "serial_out_path");
	FAULT("PUT", "/serial", "{\"rate_limiter\":{\"size\":1}}",
	      "`rate_limiter` is not supported");
	FAULT("PUT", "/serial", "{\"out\":\"x\"}", "unknown field `out`");
	FAULT("GET", "/serial", NULL, "Invalid request method");
	EXPECT("PUT", "/serial", "{\"serial_out_path\":\"/tmp/console\"}", 204);
	EXPECT("PUT", "/serial", "{}", 204);
	o = get_json("/vm/config");
	v = json_object_get(o, "vsock");
	assert_int_equal(json_integer_value(json_object_get(v, "guest_cid")),
			 3);
	assert_true(json_is_object(json_object_get(o, "entropy")));
	json_decref(o);
}

static void test_instance_start(void **state)
{
	(void)state;
	FAULT("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
	      "Cannot start microvm without kernel configuration.");
	assert_int_equal(rec.calls[REC_START], 0);
	FAULT("PUT", "/actions", "{\"action_type\":\"Reboot\"}",
	      "unknown variant `Reboot`, expected one of `FlushMetrics`, "
	      "`InstanceStart`, `SendCtrlAltDel`");
	FAULT("PUT", "/actions",
	      "{\"action_type\":\"InstanceStart\",\"payload\":1}",
	      "unknown field `payload`");
	FAULT("PUT", "/actions", "{}", "missing field `action_type`");
	put_boot();
	EXPECT("PUT", "/machine-config",
	       "{\"vcpu_count\":2,\"mem_size_mib\":64}", 204);
	put_drive("rootfs", rootfs, true, 204);
	/* The VMM's failure is reported and the machine is not started. */
	rec.fail[REC_START] = EIO;
	FAULT("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
	      "Start microvm error: recorded failure");
	assert_string_equal(state_of(), "Not started");
	rec.fail[REC_START] = 0;
	EXPECT("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}", 204);
	assert_int_equal(rec.calls[REC_START], 2);
	assert_int_equal(api_state(api), VMM_STATE_RUNNING);
	assert_string_equal(state_of(), "Running");
	/* The VMM got the whole configuration. */
	assert_int_equal(rec.started.machine.vcpu_count, 2);
	assert_int_equal(rec.started.machine.mem_size_mib, 64);
	assert_string_equal(rec.started.boot.kernel_image_path, kernel);
	assert_string_equal(vmm_config_boot_args(&rec.started),
			    "console=ttyS0");
	assert_int_equal(rec.started.nr_drives, 1);
	assert_string_equal(rec.started.drives[0].path_on_host, rootfs);
	FAULT("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
	      "The requested operation is not supported after starting the "
	      "microVM.");
	assert_int_equal(rec.calls[REC_START], 2);
}

static void test_preboot_only_after_start(void **state)
{
	(void)state;
	start();
	FAULT("PUT", "/boot-source",
	      fmt("{\"kernel_image_path\":\"%s\"}", kernel),
	      "not supported after starting");
	FAULT("PUT", "/machine-config", "{\"vcpu_count\":1,\"mem_size_mib\":1}",
	      "not supported after starting");
	FAULT("PATCH", "/machine-config", "{\"mem_size_mib\":1}",
	      "not supported after starting");
	FAULT("PUT", "/drives/d",
	      fmt("{\"drive_id\":\"d\",\"path_on_host\":\"%s\","
		  "\"is_root_device\":false}",
		  data),
	      "not supported after starting");
	FAULT("PUT", "/network-interfaces/e",
	      "{\"iface_id\":\"e\",\"host_dev_name\":\"tap0\"}",
	      "not supported after starting");
	FAULT("PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"v\"}",
	      "not supported after starting");
	FAULT("PUT", "/entropy", "{}", "not supported after starting");
	FAULT("PUT", "/serial", "{}", "not supported after starting");
	FAULT("PUT", "/logger", "{\"level\":\"Info\"}",
	      "not supported after starting");
	FAULT("PUT", "/metrics", fmt("{\"metrics_path\":\"%s/m\"}", dir),
	      "not supported after starting");
	FAULT("PUT", "/snapshot/load",
	      "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}",
	      "not supported after starting");
	/* Bad bodies are still reported as such first. */
	FAULT("PUT", "/vsock", "{\"guest_cid\":1,\"uds_path\":\"v\"}",
	      "`guest_cid`");
	/* GETs work in every state. */
	json_decref(get_json("/machine-config"));
	json_decref(get_json("/vm/config"));
}

static void test_postboot_only_before_start(void **state)
{
	(void)state;
	FAULT("PATCH", "/vm", "{\"state\":\"Paused\"}",
	      "The requested operation is not supported before starting the "
	      "microVM.");
	FAULT("PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}",
	      "not supported before starting");
	FAULT("PUT", "/snapshot/create",
	      "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}",
	      "not supported before starting");
	put_drive("rootfs", rootfs, true, 204);
	FAULT("PATCH", "/drives/rootfs",
	      fmt("{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\"}", data),
	      "not supported before starting");
	put_net("eth0", "tap0", NULL, 204);
	FAULT("PATCH", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\"}",
	      "not supported before starting");
	assert_int_equal(rec.calls[REC_PAUSE] + rec.calls[REC_CAD] +
				 rec.calls[REC_SNAP_CREATE] +
				 rec.calls[REC_DRIVE_UPDATE],
			 0);
}

static void test_pause_resume(void **state)
{
	(void)state;
	start();
	FAULT("PATCH", "/vm", "{\"state\":\"Stopped\"}",
	      "unknown variant `Stopped`, expected one of `Paused`, "
	      "`Resumed`");
	FAULT("PATCH", "/vm", "{}", "missing field `state`");
	EXPECT("PATCH", "/vm", "{\"state\":\"Paused\"}", 204);
	assert_int_equal(rec.calls[REC_PAUSE], 1);
	assert_string_equal(state_of(), "Paused");
	assert_int_equal(api_state(api), VMM_STATE_PAUSED);
	/* Already paused: no second call into the VMM. */
	EXPECT("PATCH", "/vm", "{\"state\":\"Paused\"}", 204);
	assert_int_equal(rec.calls[REC_PAUSE], 1);
	rec.fail[REC_RESUME] = EBUSY;
	FAULT("PATCH", "/vm", "{\"state\":\"Resumed\"}",
	      "Internal VMM error: recorded failure");
	assert_string_equal(state_of(), "Paused");
	rec.fail[REC_RESUME] = 0;
	EXPECT("PATCH", "/vm", "{\"state\":\"Resumed\"}", 204);
	assert_int_equal(rec.calls[REC_RESUME], 2);
	assert_string_equal(state_of(), "Running");
	EXPECT("PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}", 204);
	assert_int_equal(rec.calls[REC_CAD], 1);
	rec.fail[REC_CAD] = EIO;
	FAULT("PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}",
	      "Internal VMM error");
}

static void test_snapshot_create(void **state)
{
	const char *body =
		"{\"snapshot_path\":\"/s/state\",\"mem_file_path\":\"/s/mem\"}";

	(void)state;
	start();
	FAULT("PUT", "/snapshot/create", body,
	      "Create snapshot error: the microVM must be paused first");
	assert_int_equal(rec.calls[REC_SNAP_CREATE], 0);
	EXPECT("PATCH", "/vm", "{\"state\":\"Paused\"}", 204);
	FAULT("PUT", "/snapshot/create", "{\"snapshot_path\":\"/s/state\"}",
	      "missing field `mem_file_path`");
	FAULT("PUT", "/snapshot/create",
	      "{\"snapshot_path\":\"/s/state\",\"mem_file_path\":\"/s/mem\","
	      "\"version\":\"1.0\"}",
	      "unknown field `version`");
	FAULT("PUT", "/snapshot/create",
	      "{\"snapshot_path\":\"/s/state\",\"mem_file_path\":\"/s/mem\","
	      "\"snapshot_type\":\"Diff\"}",
	      "Diff snapshots are not allowed on uVMs with dirty page "
	      "tracking disabled.");
	FAULT("PUT", "/snapshot/create",
	      "{\"snapshot_path\":\"/s/state\",\"mem_file_path\":\"/s/mem\","
	      "\"snapshot_type\":\"Half\"}",
	      "unknown variant `Half`");
	EXPECT("PUT", "/snapshot/create", body, 204);
	assert_int_equal(rec.calls[REC_SNAP_CREATE], 1);
	assert_string_equal(rec.create.snapshot_path, "/s/state");
	assert_string_equal(rec.create.mem_file_path, "/s/mem");
	assert_false(rec.create.diff);
	rec.fail[REC_SNAP_CREATE] = ENOSPC;
	FAULT("PUT", "/snapshot/create", body,
	      "Create snapshot error: recorded failure");
	assert_string_equal(state_of(), "Paused");
}

static void test_snapshot_create_diff(void **state)
{
	(void)state;
	EXPECT("PUT", "/machine-config",
	       "{\"vcpu_count\":1,\"mem_size_mib\":32,"
	       "\"track_dirty_pages\":true}",
	       204);
	start();
	EXPECT("PATCH", "/vm", "{\"state\":\"Paused\"}", 204);
	EXPECT("PUT", "/snapshot/create",
	       "{\"snapshot_path\":\"a\",\"mem_file_path\":\"b\","
	       "\"snapshot_type\":\"Diff\"}",
	       204);
	assert_true(rec.create.diff);
}

static void test_snapshot_load(void **state)
{
	struct api_response r;
	json_t *o;

	(void)state;
	/* Logger and metrics may come first. */
	EXPECT("PUT", "/logger",
	       fmt("{\"log_path\":\"%s/load.log\",\"level\":\"Debug\"}", dir),
	       204);
	FAULT("PUT", "/snapshot/load",
	      "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
	      "\"mem_backend\":{\"backend_type\":\"File\","
	      "\"backend_path\":\"m\"}}",
	      "too many fields: either `mem_backend` or `mem_file_path` "
	      "exclusively is required");
	FAULT("PUT", "/snapshot/load", "{\"snapshot_path\":\"s\"}",
	      "missing field: either `mem_backend` or `mem_file_path` is "
	      "required");
	FAULT("PUT", "/snapshot/load", "{\"mem_file_path\":\"m\"}",
	      "missing field `snapshot_path`");
	FAULT("PUT", "/snapshot/load",
	      "{\"snapshot_path\":\"s\",\"mem_backend\":{\"backend_type\":"
	      "\"Uffd\",\"backend_path\":\"/uffd.sock\"}}",
	      "`backend_type` \"Uffd\" is not supported by lgvmm");
	FAULT("PUT", "/snapshot/load",
	      "{\"snapshot_path\":\"s\",\"mem_backend\":{\"backend_path\":"
	      "\"m\"}}",
	      "missing field `backend_type`");
	FAULT("PUT", "/snapshot/load",
	      "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
	      "\"network_overrides\":[{\"iface_id\":\"a\","
	      "\"host_dev_name\":\"b\"}]}",
	      "`network_overrides` is not supported");
	FAULT("PUT", "/snapshot/load",
	      "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
	      "\"clock_realtime\":true}",
	      "`clock_realtime` is not supported");
	FAULT("PUT", "/snapshot/load",
	      "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
	      "\"vsock_override\":{}}",
	      "missing field `uds_path`");
	assert_int_equal(rec.calls[REC_SNAP_LOAD], 0);
	request("PUT", "/snapshot/load",
		"{\"snapshot_path\":\"/s/state\",\"mem_backend\":{"
		"\"backend_type\":\"File\",\"backend_path\":\"/s/mem\"},"
		"\"track_dirty_pages\":true,\"network_overrides\":[],"
		"\"vsock_override\":{\"uds_path\":\"/tmp/new.sock\"}}",
		&r);
	assert_int_equal(r.status, 204);
	assert_false(r.deprecated);
	api_response_free(&r);
	assert_int_equal(rec.calls[REC_SNAP_LOAD], 1);
	assert_string_equal(rec.load.snapshot_path, "/s/state");
	assert_string_equal(rec.load.mem_file_path, "/s/mem");
	assert_true(rec.load.track_dirty_pages);
	assert_false(rec.load.resume_vm);
	assert_string_equal(rec.load.vsock_uds_override, "/tmp/new.sock");
	assert_string_equal(state_of(), "Paused");
	/* GET /vm/config shows the restored machine and the API's logger. */
	o = get_json("/vm/config");
	assert_int_equal(
		json_integer_value(json_object_get(
			json_object_get(o, "machine-config"), "vcpu_count")),
		2);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(o, "logger"), "level")),
			    "Debug");
	json_decref(o);
	/* Once loaded, neither a second load nor a start. */
	FAULT("PUT", "/snapshot/load",
	      "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}",
	      "not supported after starting");
	FAULT("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
	      "not supported after starting");
	EXPECT("PATCH", "/vm", "{\"state\":\"Resumed\"}", 204);
	assert_string_equal(state_of(), "Running");
}

static void test_snapshot_load_resume_deprecated(void **state)
{
	struct api_response r;

	(void)state;
	request("PUT", "/snapshot/load",
		"{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\","
		"\"resume_vm\":true,\"enable_diff_snapshots\":true}",
		&r);
	assert_int_equal(r.status, 204);
	/* mem_file_path and enable_diff_snapshots are deprecated. */
	assert_true(r.deprecated);
	api_response_free(&r);
	assert_string_equal(rec.load.mem_file_path, "m");
	assert_true(rec.load.resume_vm);
	assert_true(rec.load.track_dirty_pages);
	assert_null(rec.load.vsock_uds_override);
	assert_string_equal(state_of(), "Running");
}

static void test_snapshot_load_after_config(void **state)
{
	const char *body = "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}";

	(void)state;
	put_boot();
	FAULT("PUT", "/snapshot/load", body,
	      "Loading a microVM snapshot not allowed after configuring "
	      "boot-specific resources");
	assert_int_equal(rec.calls[REC_SNAP_LOAD], 0);
	teardown(NULL);
	setup(NULL);
	EXPECT("PATCH", "/machine-config", "{\"mem_size_mib\":64}", 204);
	FAULT("PUT", "/snapshot/load", body, "boot-specific resources");
	teardown(NULL);
	setup(NULL);
	EXPECT("PUT", "/entropy", "{}", 204);
	FAULT("PUT", "/snapshot/load", body, "boot-specific resources");
}

static void test_snapshot_load_failure(void **state)
{
	const char *body = "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}";

	(void)state;
	rec.fail[REC_SNAP_LOAD] = EINVAL;
	FAULT("PUT", "/snapshot/load", body,
	      "Load snapshot error: Failed to restore from snapshot: "
	      "recorded failure");
	assert_string_equal(state_of(), "Not started");
	/* The process is spent: no retry, no boot, no configuration. */
	rec.fail[REC_SNAP_LOAD] = 0;
	FAULT("PUT", "/snapshot/load", body, "failed load");
	FAULT("PUT", "/boot-source",
	      fmt("{\"kernel_image_path\":\"%s\"}", kernel),
	      "not supported after starting");
	FAULT("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
	      "a snapshot load failed");
	assert_int_equal(rec.calls[REC_SNAP_LOAD], 1);
}

static void test_patch_drive(void **state)
{
	json_t *o;

	(void)state;
	put_drive("rootfs", rootfs, true, 204);
	start();
	FAULT("PATCH", "/drives/rootfs",
	      fmt("{\"drive_id\":\"other\",\"path_on_host\":\"%s\"}", data),
	      "does not match");
	FAULT("PATCH", "/drives/nodrive",
	      fmt("{\"drive_id\":\"nodrive\",\"path_on_host\":\"%s\"}", data),
	      "no drive with id `nodrive`");
	FAULT("PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\"}",
	      "give `path_on_host`");
	FAULT("PATCH", "/drives/rootfs",
	      "{\"drive_id\":\"rootfs\",\"rate_limiter\":{\"ops\":{}}}",
	      "`rate_limiter` is not supported");
	FAULT("PATCH", "/drives/rootfs",
	      "{\"drive_id\":\"rootfs\",\"is_read_only\":true}",
	      "unknown field `is_read_only`");
	assert_int_equal(rec.calls[REC_DRIVE_UPDATE], 0);
	EXPECT("PATCH", "/drives/rootfs",
	       fmt("{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\"}", data),
	       204);
	assert_int_equal(rec.calls[REC_DRIVE_UPDATE], 1);
	assert_string_equal(rec.drive_id, "rootfs");
	assert_string_equal(rec.drive_path, data);
	o = get_json("/vm/config");
	assert_string_equal(
		json_string_value(json_object_get(
			json_array_get(json_object_get(o, "drives"), 0),
			"path_on_host")),
		data);
	json_decref(o);
	rec.fail[REC_DRIVE_UPDATE] = ENOENT;
	FAULT("PATCH", "/drives/rootfs",
	      "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/gone\"}",
	      "Error during drive update (patch): recorded failure");
}

static void test_patch_net(void **state)
{
	(void)state;
	put_net("eth0", "tap0", NULL, 204);
	start();
	EXPECT("PATCH", "/network-interfaces/eth0",
	       "{\"iface_id\":\"eth0\",\"rx_rate_limiter\":null}", 204);
	FAULT("PATCH", "/network-interfaces/eth1", "{\"iface_id\":\"eth1\"}",
	      "no network interface with id `eth1`");
	FAULT("PATCH", "/network-interfaces/eth0",
	      "{\"iface_id\":\"eth0\",\"tx_rate_limiter\":{\"ops\":{}}}",
	      "`tx_rate_limiter` is not supported");
}

static void test_logger_metrics_endpoints(void **state)
{
	(void)state;
	FAULT("PUT", "/logger", "{\"level\":\"Loud\"}",
	      "unknown variant `Loud`");
	FAULT("PUT", "/logger", "{\"log_path\":7}",
	      "expected a string for `log_path`");
	FAULT("PUT", "/logger", fmt("{\"log_path\":\"%s\"}", dir),
	      "Logger error: cannot open");
	FAULT("PUT", "/logger", "{\"colour\":true}", "unknown field `colour`");
	/* Levels in any case, as Firecracker. */
	EXPECT("PUT", "/logger",
	       fmt("{\"log_path\":\"%s/api.log\",\"level\":\"warning\","
		   "\"show_level\":true,\"show_log_origin\":true,"
		   "\"module\":\"vmm/api\"}",
		   dir),
	       204);
	EXPECT("PUT", "/logger", "{\"level\":\"OFF\"}", 204);
	FAULT("PUT", "/metrics", "{}", "missing field `metrics_path`");
	FAULT("PUT", "/metrics", fmt("{\"metrics_path\":\"%s/no/m\"}", dir),
	      "Metrics error: cannot open");
	FAULT("PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}",
	      "the metrics system is not configured");
	EXPECT("PUT", "/metrics", fmt("{\"metrics_path\":\"%s/m.json\"}", dir),
	       204);
	FAULT("PUT", "/metrics", fmt("{\"metrics_path\":\"%s/m2.json\"}", dir),
	      "Reinitialization of metrics not allowed.");
	EXPECT("PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}", 204);
	/* Logger and metrics are no boot-specific resources. */
	EXPECT("PUT", "/snapshot/load",
	       "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}", 204);
}

static void test_no_ops(void **state)
{
	static const struct api_vmm_ops none;
	struct api *a;

	(void)state;
	assert_int_equal(api_create(&none, NULL, "bare", &a), 0);
	api_destroy(api);
	api = a;
	put_boot();
	FAULT("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
	      "not implemented");
	FAULT("PUT", "/snapshot/load",
	      "{\"snapshot_path\":\"s\",\"mem_file_path\":\"m\"}",
	      "boot-specific");
}

/* ------------------------------------------------------------------ */
/* GET /vm/config and --config-file                                    */

static void configure_everything(void)
{
	put_boot();
	EXPECT("PUT", "/machine-config",
	       "{\"vcpu_count\":2,\"mem_size_mib\":256,"
	       "\"track_dirty_pages\":true}",
	       204);
	put_drive("rootfs", rootfs, true, 204);
	put_drive("data", data, false, 204);
	put_net("eth0", "tap0", "02:00:00:00:00:01", 204);
	EXPECT("PUT", "/vsock",
	       "{\"guest_cid\":7,\"uds_path\":\"/tmp/v.sock\"}", 204);
	EXPECT("PUT", "/entropy", "{}", 204);
	EXPECT("PUT", "/logger",
	       fmt("{\"log_path\":\"%s/rt.log\",\"level\":\"Info\"}", dir),
	       204);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_vm_config_round_trip(void **state)
{
	struct vmm_config cfg;
	char err[512], path[160], *text;
	json_t *shown, *again, *o;

	(void)state;
	configure_everything();
	shown = get_json("/vm/config");
	/* Firecracker's key set, unsupported sections as null. */
	assert_true(json_is_null(json_object_get(shown, "balloon")));
	assert_true(json_is_null(json_object_get(shown, "mmds-config")));
	assert_true(json_is_null(json_object_get(shown, "metrics")));

	/* The shown object reads back into the same configuration. */
	vmm_config_init(&cfg);
	assert_int_equal(vmm_config_from_json(&cfg, shown, err, sizeof(err)),
			 0);
	again = vmm_config_to_json(&cfg);
	assert_true(json_equal(shown, again));
	json_decref(again);
	vmm_config_free(&cfg);

	/* And as a --config-file into a fresh API, then booted from it. */
	text = json_dumps(shown, JSON_INDENT(2));
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	write_file(path, text);
	free(text);
	teardown(NULL);
	setup(NULL);
	assert_int_equal(api_apply_config_file(api, path, err, sizeof(err)), 0);
	o = get_json("/vm/config");
	assert_true(json_equal(shown, o));
	json_decref(o);
	assert_int_equal(api_instance_start(api, err, sizeof(err)), 0);
	assert_int_equal(api_state(api), VMM_STATE_RUNNING);
	assert_int_equal(rec.started.machine.vcpu_count, 2);
	assert_int_equal(rec.started.nr_drives, 2);
	assert_true(rec.started.drives[0].is_root_device);
	assert_int_equal(rec.started.nets[0].guest_mac[5], 1);
	assert_int_equal(rec.started.vsock.guest_cid, 7);
	assert_true(rec.started.entropy.set);
	/* A second start goes through the same rule as the API's. */
	assert_int_equal(api_instance_start(api, err, sizeof(err)), -EBUSY);
	assert_non_null(strstr(err, "after starting"));
	json_decref(shown);
}

/* Writes text to a config file and applies it to a fresh API. */
static int apply_text(const char *text, char *err, size_t n)
{
	char path[160];

	teardown(NULL);
	setup(NULL);
	snprintf(path, sizeof(path), "%s/c.json", dir);
	write_file(path, text);
	err[0] = '\0';
	return api_apply_config_file(api, path, err, n);
}

#define BAD_CONFIG(text, needle)                                               \
	do {                                                                   \
		char e_[1024];                                                 \
		int r_ = apply_text(text, e_, sizeof(e_));                     \
		if (r_ == 0 || !strstr(e_, needle))                            \
			print_error("config %s: %d %s (want \"%s\")\n", text,  \
				    r_, e_, needle);                           \
		assert_true(r_ < 0);                                           \
		assert_non_null(strstr(e_, needle));                           \
	} while (0)

static void test_config_file(void **state)
{
	char err[1024], path[160];

	(void)state;
	/* Minimal: a boot source; the rest defaults. */
	assert_int_equal(
		apply_text(fmt("{\"boot-source\":{\"kernel_image_path\":"
			       "\"%s\"},\"balloon\":null,\"mmds-config\":null,"
			       "\"cpu-config\":null,\"pmem\":[]}",
			       kernel),
			   err, sizeof(err)),
		0);
	assert_int_equal(api_instance_start(api, err, sizeof(err)), 0);
	assert_int_equal(rec.started.machine.mem_size_mib, 128);

	/* No boot source: loads, but cannot start. */
	assert_int_equal(apply_text("{}", err, sizeof(err)), 0);
	assert_int_equal(api_instance_start(api, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "without kernel configuration"));

	BAD_CONFIG("{", "invalid JSON");
	BAD_CONFIG("[]", "expected an object");
	BAD_CONFIG("{\"boot_source\":{}}", "unknown field `boot_source`");
	BAD_CONFIG("{\"balloon\":{\"amount_mib\":1}}",
		   "balloon: balloon devices are not supported by lgvmm");
	BAD_CONFIG("{\"mmds-config\":{\"network_interfaces\":[]}}", "MMDS");
	BAD_CONFIG("{\"pmem\":[{\"id\":\"p\"}]}", "pmem");
	BAD_CONFIG("{\"machine-config\":{\"vcpu_count\":64,"
		   "\"mem_size_mib\":1}}",
		   "machine-config: `vcpu_count` must be from 1 to 32");
	BAD_CONFIG(fmt("{\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":"
		       "\"%s\",\"is_root_device\":true},{\"drive_id\":\"b\","
		       "\"path_on_host\":\"%s\",\"is_root_device\":true}]}",
		       rootfs, data),
		   "drives[1]: A root block device already exists!");
	BAD_CONFIG("{\"drives\":{}}", "expected an array for `drives`");
	BAD_CONFIG("{\"network-interfaces\":[{\"iface_id\":\"e\"}]}",
		   "network-interfaces[0]: missing field `host_dev_name`");
	BAD_CONFIG("{\"vsock\":{\"guest_cid\":1,\"uds_path\":\"v\"}}",
		   "vsock: `guest_cid`");
	BAD_CONFIG(fmt("{\"boot-source\":{\"kernel_image_path\":\"%s/nope\"}}",
		       dir),
		   "The kernel file cannot be opened");
	BAD_CONFIG(fmt("{\"drives\":[{\"drive_id\":\"a\",\"path_on_host\":"
		       "\"%s/nope\",\"is_root_device\":true}]}",
		       dir),
		   "The block device file cannot be opened");
	BAD_CONFIG(fmt("{\"logger\":{\"log_path\":\"%s\"}}", dir),
		   "cannot open");

	/* Missing file, a directory, and after other configuration. */
	teardown(NULL);
	setup(NULL);
	snprintf(path, sizeof(path), "%s/absent.json", dir);
	assert_int_equal(api_apply_config_file(api, path, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "absent.json"));
	assert_true(api_apply_config_file(api, dir, err, sizeof(err)) < 0);
	put_boot();
	snprintf(path, sizeof(path), "%s/c.json", dir);
	assert_int_equal(api_apply_config_file(api, path, err, sizeof(err)),
			 -EBUSY);
}

static void test_config_helpers(void **state)
{
	struct vmm_config a, b;
	struct vmm_drive d;
	char err[256];
	json_t *j;

	(void)state;
	assert_true(vmm_config_id_valid("a_B9"));
	assert_false(vmm_config_id_valid(""));
	assert_false(vmm_config_id_valid("a-b"));
	assert_false(vmm_config_id_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
					 "aaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	vmm_config_init(&a);
	assert_string_equal(vmm_config_boot_args(&a), VMM_DEFAULT_BOOT_ARGS);
	j = json_pack("{s:s, s:s, s:b}", "drive_id", "r", "path_on_host", "/x",
		      "is_root_device", 1);
	assert_int_equal(vmm_drive_from_json(&d, j, err, sizeof(err)), 0);
	json_decref(j);
	assert_int_equal(vmm_config_put_drive(&a, &d, err, sizeof(err)), 0);
	assert_null(d.drive_id); /* ownership moved */
	assert_int_equal(vmm_config_find_drive(&a, "r"), 0);
	assert_int_equal(vmm_config_find_drive(&a, "q"), -1);
	assert_int_equal(vmm_config_copy(&b, &a), 0);
	assert_ptr_not_equal(b.drives[0].path_on_host,
			     a.drives[0].path_on_host);
	assert_string_equal(b.drives[0].path_on_host, "/x");
	vmm_config_free(&a);
	vmm_config_free(&b);
	vmm_config_free(&b); /* freeing twice is harmless */
	assert_string_equal(vmm_cache_type_name(VMM_CACHE_WRITEBACK),
			    "Writeback");
	assert_string_equal(vmm_log_level_name(VMM_LOG_TRACE), "Trace");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_create_ids),
		T(test_get_root_version),
		T(test_paths_and_methods),
		T(test_unsupported_endpoints),
		T(test_malformed_bodies),
		T(test_boot_source),
		T(test_machine_config),
		T(test_drives),
		T(test_network),
		T(test_vsock_entropy),
		T(test_instance_start),
		T(test_preboot_only_after_start),
		T(test_postboot_only_before_start),
		T(test_pause_resume),
		T(test_snapshot_create),
		T(test_snapshot_create_diff),
		T(test_snapshot_load),
		T(test_snapshot_load_resume_deprecated),
		T(test_snapshot_load_after_config),
		T(test_snapshot_load_failure),
		T(test_patch_drive),
		T(test_patch_net),
		T(test_logger_metrics_endpoints),
		T(test_no_ops),
		T(test_vm_config_round_trip),
		T(test_config_file),
		T(test_config_helpers),
#undef T
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
