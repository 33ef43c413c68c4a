/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot state file: round trip through memory and disk, and every
 * way the reader refuses a file (magic, architecture, major version,
 * checksum, truncation at every offset, lengths, counts, names, padding,
 * duplicates, size).
 */
#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/state-file.h"

#include "common/fsutil.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define HDR SNAPSHOT_HEADER_SIZE
#define SEC SNAPSHOT_SECTION_HEADER_SIZE

static const uint8_t payload_b[5] = {1, 2, 3, 4, 5};
static uint8_t payload_c[1000];

/* A file with sections "a" (empty), "b" (5 bytes), "c" (1000 bytes). */
static uint8_t *make_file(size_t *len)
{
	struct snapshot_writer *w;
	uint8_t *file;
	size_t i;

	for (i = 0; i < sizeof(payload_c); i++)
		payload_c[i] = (uint8_t)(i * 7);
	assert_int_equal(snapshot_writer_create(&w), 0);
	assert_int_equal(snapshot_writer_add(w, "a", NULL, 0), 0);
	assert_int_equal(snapshot_writer_add(w, "b", payload_b, 5), 0);
	assert_int_equal(snapshot_writer_add(w, "c", payload_c, 1000), 0);
	assert_int_equal(snapshot_writer_encode(w, &file, len), 0);
	snapshot_writer_destroy(w);
	return file;
}

/* Recomputes the checksum after a deliberate change. */
static void resign(uint8_t *file, size_t len)
{
	uint64_t c = crc64(file, len - SNAPSHOT_CHECKSUM_SIZE);

	memcpy(file + len - SNAPSHOT_CHECKSUM_SIZE, &c, sizeof(c));
}

static void put_le(uint8_t *p, uint64_t v, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Parse must fail with code and a message containing `what`. */
static void expect_refused(const uint8_t *file, size_t len, int code,
			   const char *what)
{
	struct snapshot_reader *r = (void *)1;
	char err[SNAPSHOT_ERR_SIZE] = "";

	assert_int_equal(snapshot_reader_parse(file, len, &r, err, sizeof(err)),
			 code);
	assert_null(r);
	if (!strstr(err, what))
		fail_msg("message \"%s\" does not say \"%s\"", err, what);
}

static void test_round_trip(void **state)
{
	struct snapshot_reader *r;
	const void *buf;
	const char *name;
	uint16_t major, minor;
	size_t len, n;
	uint8_t *file = make_file(&len);

	(void)state;
	assert_int_equal(len,
			 HDR + 3 * SEC + 0 + 8 + 1000 + SNAPSHOT_CHECKSUM_SIZE);
	assert_int_equal(snapshot_reader_parse(file, len, &r, NULL, 0), 0);
	snapshot_reader_version(r, &major, &minor);
	assert_int_equal(major, SNAPSHOT_VERSION_MAJOR);
	assert_int_equal(minor, SNAPSHOT_VERSION_MINOR);
	assert_int_equal(snapshot_reader_count(r), 3);
	assert_int_equal(snapshot_reader_find(r, "a", &buf, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(snapshot_reader_find(r, "b", &buf, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(buf, payload_b, 5);
	assert_int_equal(snapshot_reader_find(r, "c", &buf, &n), 0);
	assert_int_equal(n, 1000);
	assert_memory_equal(buf, payload_c, 1000);
	assert_int_equal(snapshot_reader_find(r, "d", &buf, &n), -ENOENT);
	snapshot_reader_section(r, 1, &name, &buf, &n);
	assert_string_equal(name, "b");
	snapshot_reader_destroy(r);
	/* The magic encodes the architecture: "LGSNAP", 0x86, 0x64. */
	assert_memory_equal(file, "LGSNAP\x86\x64", 8);
	free(file);
}

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_commit_open(void **state)
{
	char dir[] = "/tmp/lg-snapfile-XXXXXX", path[PATH_MAX];
	char err[SNAPSHOT_ERR_SIZE];
	struct snapshot_writer *w;
	struct snapshot_reader *r;
	const void *buf;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(snapshot_writer_create(&w), 0);
	/* An empty writer has nothing to write. */
	assert_int_equal(snapshot_writer_commit(w, path), -EINVAL);
	assert_int_equal(count_entries(dir), 0);
	assert_int_equal(snapshot_writer_add(w, "one", "1", 1), 0);
	assert_int_equal(snapshot_writer_commit(w, path), 0);
	snapshot_writer_destroy(w);
	/* A second commit replaces the file whole. */
	assert_int_equal(snapshot_writer_create(&w), 0);
	assert_int_equal(snapshot_writer_add(w, "two", "22", 2), 0);
	assert_int_equal(snapshot_writer_commit(w, path), 0);
	snapshot_writer_destroy(w);
	assert_int_equal(count_entries(dir), 1); /* no temporaries left */
	assert_int_equal(snapshot_reader_open(path, &r, err, sizeof(err)), 0);
	assert_int_equal(snapshot_reader_find(r, "one", &buf, &n), -ENOENT);
	assert_int_equal(snapshot_reader_find(r, "two", &buf, &n), 0);
	assert_int_equal(n, 2);
	snapshot_reader_destroy(r);
	/* Errors name the file. */
	assert_int_equal(snapshot_reader_open(dir, &r, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(snapshot_reader_open(path, &r, err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "missing"));
	/* A directory that does not exist: nothing is created. */
	snprintf(path, sizeof(path), "%s/no/state", dir);
	assert_int_equal(snapshot_writer_create(&w), 0);
	assert_int_equal(snapshot_writer_add(w, "x", "x", 1), 0);
	assert_int_equal(snapshot_writer_commit(w, path), -ENOENT);
	snapshot_writer_destroy(w);
	assert_int_equal(count_entries(dir), 1);
	assert_int_equal(lg_rm_rf(dir), 0);
}

static void test_writer_limits(void **state)
{
	struct snapshot_writer *w;
	char name[32];
	unsigned int i;

	(void)state;
	assert_int_equal(snapshot_writer_create(&w), 0);
	assert_int_equal(snapshot_writer_add(w, "", "x", 1), -EINVAL);
	assert_int_equal(snapshot_writer_add(w, "Upper", "x", 1), -EINVAL);
	assert_int_equal(snapshot_writer_add(w, "a/b", "x", 1), -EINVAL);
	assert_int_equal(
		snapshot_writer_add(w, "abcdefghijklmnopqrstuvwx", "x", 1),
		-EINVAL); /* 24 characters: no room for the NUL */
	assert_int_equal(
		snapshot_writer_add(w, "abcdefghijklmnopqrstuvw", "x", 1), 0);
	assert_int_equal(snapshot_writer_add(w, "vcpu.0", "x", 1), 0);
	assert_int_equal(snapshot_writer_add(w, "vcpu.0", "y", 1), -EEXIST);
	assert_int_equal(snapshot_writer_add(w, "big", "x", SNAPSHOT_MAX_SIZE),
			 -E2BIG);
	for (i = 2; i < SNAPSHOT_MAX_SECTIONS; i++) {
		snprintf(name, sizeof(name), "s%u", i);
		assert_int_equal(snapshot_writer_add(w, name, NULL, 0), 0);
	}
	assert_int_equal(snapshot_writer_add(w, "one-more", NULL, 0), -E2BIG);
	snapshot_writer_destroy(w);
}

static void test_bad_magic(void **state)
{
	size_t len;
	uint8_t *file = make_file(&len);

	(void)state;
	file[0] ^= 1;
	expect_refused(file, len, -EINVAL, "bad magic");
	file[0] ^= 1;
	/* Same container, another architecture (aarch64, say). */
	put_le(file + 6, 0xaa64, 2);
	resign(file, len);
	expect_refused(file, len, -EPROTONOSUPPORT, "architecture");
	free(file);
}

static void test_versions(void **state)
{
	struct snapshot_reader *r;
	char want[64];
	size_t len;
	uint8_t *file = make_file(&len);

	(void)state;
	put_le(file + 8, SNAPSHOT_VERSION_MAJOR + 1, 2);
	resign(file, len);
	/* The message names both versions. */
	snprintf(want, sizeof(want), "version %u.0 is not supported",
		 SNAPSHOT_VERSION_MAJOR + 1);
	expect_refused(file, len, -EPROTONOSUPPORT, want);
	snprintf(want, sizeof(want), "reads version %u.x",
		 SNAPSHOT_VERSION_MAJOR);
	expect_refused(file, len, -EPROTONOSUPPORT, want);
	put_le(file + 8, 0, 2);
	resign(file, len);
	expect_refused(file, len, -EPROTONOSUPPORT, "version 0.0");
	/* A newer minor only adds sections: accepted. */
	put_le(file + 8, SNAPSHOT_VERSION_MAJOR, 2);
	put_le(file + 10, SNAPSHOT_VERSION_MINOR + 7, 2);
	resign(file, len);
	assert_int_equal(snapshot_reader_parse(file, len, &r, NULL, 0), 0);
	snapshot_reader_destroy(r);
	free(file);
}

static void test_checksum(void **state)
{
	size_t len, i;
	uint8_t *file = make_file(&len);

	(void)state;
	/* Every byte after the header's checked fields: payload, section
	 * headers, padding, the checksum itself. */
	for (i = 32; i < len; i++) {
		file[i] ^= 0x10;
		expect_refused(file, len, -EBADMSG, "checksum mismatch");
		file[i] ^= 0x10;
	}
	free(file);
}

static void test_truncated(void **state)
{
	struct snapshot_reader *r;
	uint8_t *file, *copy;
	size_t len, n;

	(void)state;
	file = make_file(&len);
	/* Exactly sized copies, so ASan sees any read past the end. */
	for (n = 0; n < len; n++) {
		copy = malloc(n ? n : 1);
		assert_non_null(copy);
		memcpy(copy, file, n);
		r = (void *)1;
		assert_true(snapshot_reader_parse(copy, n, &r, NULL, 0) < 0);
		assert_null(r);
		free(copy);
	}
	expect_refused(file, len - 1, -EINVAL, "size mismatch");
	expect_refused(file, 10, -EINVAL, "truncated");
	copy = calloc(1, len + 8);
	assert_non_null(copy);
	memcpy(copy, file, len);
	expect_refused(copy, len + 8, -EINVAL, "size mismatch");
	free(copy);
	free(file);
}

static void test_section_length(void **state)
{
	size_t len;
	uint8_t *file = make_file(&len);
	uint8_t *b = file + HDR + SEC; /* section "b" header */

	(void)state;
	put_le(b + 24, len, 8);
	resign(file, len);
	expect_refused(file, len, -EINVAL, "past the end");
	put_le(b + 24, UINT64_MAX, 8);
	resign(file, len);
	expect_refused(file, len, -EINVAL, "past the end");
	/* Shorter: the rest no longer lines up. */
	put_le(b + 24, 4, 8);
	resign(file, len);
	expect_refused(file, len, -EINVAL, "section");
	free(file);
}

static void test_section_count(void **state)
{
	size_t len;
	uint8_t *file = make_file(&len);

	(void)state;
	put_le(file + 12, SNAPSHOT_MAX_SECTIONS + 1, 4);
	resign(file, len);
	expect_refused(file, len, -EINVAL, "sections");
	put_le(file + 12, UINT32_MAX, 4);
	resign(file, len);
	expect_refused(file, len, -EINVAL, "sections");
	put_le(file + 12, 0, 4);
	resign(file, len);
	expect_refused(file, len, -EINVAL, "sections");
	/* More sections claimed than there are. */
	put_le(file + 12, 4, 4);
	resign(file, len);
	expect_refused(file, len, -EINVAL, "past the end");
	/* Fewer: the last one is left over. */
	put_le(file + 12, 2, 4);
	resign(file, len);
	expect_refused(file, len, -EINVAL, "garbage");
	free(file);
}

static void test_duplicate(void **state)
{
	size_t len;
	uint8_t *file = make_file(&len);

	(void)state;
	file[HDR + SEC] = 'a'; /* "b" becomes a second "a" */
	resign(file, len);
	expect_refused(file, len, -EINVAL, "duplicate section a");
	free(file);
}

static void test_names_padding(void **state)
{
	size_t len;
	uint8_t *file = make_file(&len);
	uint8_t *b = file + HDR + SEC;

	(void)state;
	b[0] = 'B';
	resign(file, len);
	expect_refused(file, len, -EINVAL, "bad name");
	b[0] = 'b';
	memset(b, 'b', SNAPSHOT_NAME_SIZE); /* no NUL */
	resign(file, len);
	expect_refused(file, len, -EINVAL, "bad name");
	memset(b + 1, 0, SNAPSHOT_NAME_SIZE - 1);
	b[5] = 'x'; /* junk after the NUL */
	resign(file, len);
	expect_refused(file, len, -EINVAL, "bad name");
	b[5] = 0;
	b[SEC + 5] = 1; /* padding after the 5 payload bytes */
	resign(file, len);
	expect_refused(file, len, -EINVAL, "padding");
	b[SEC + 5] = 0;
	file[24] = 1; /* reserved header field */
	resign(file, len);
	expect_refused(file, len, -EINVAL, "reserved");
	free(file);
}

static void test_crc64(void **state)
{
	(void)state;
	/* The CRC-64/XZ check value, and the empty input. */
	assert_int_equal(crc64("123456789", 9), 0x995dc9bbdf1939faull);
	assert_int_equal(crc64(NULL, 0), 0);
}

static void test_too_large(void **state)
{
	uint8_t small[64] = {0};
	struct snapshot_reader *r;
	char err[SNAPSHOT_ERR_SIZE];

	(void)state;
	/* The size is checked before any byte is read. */
	assert_int_equal(snapshot_reader_parse(small, SNAPSHOT_MAX_SIZE + 1ul,
					       &r, err, sizeof(err)),
			 -EFBIG);
	assert_non_null(strstr(err, "limit"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_commit_open),
		cmocka_unit_test(test_writer_limits),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_section_length),
		cmocka_unit_test(test_section_count),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_names_padding),
		cmocka_unit_test(test_crc64),
		cmocka_unit_test(test_too_large),
	};

	lg_log_set_level(LG_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
