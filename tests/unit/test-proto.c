/* SPDX-License-Identifier: Apache-2.0 */
/* Unit and property tests for the agent frame and TLV codec. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/proto.h"

static size_t frame_build(uint8_t *out, uint8_t type, uint32_t stream,
			  const void *p, uint32_t len)
{
	assert_int_equal(lg_frame_hdr_encode(out, type, stream, len), 0);
	memcpy(out + LG_FRAME_HDR_SIZE, p, len);
	return LG_FRAME_HDR_SIZE + len;
}

static void test_roundtrip(void **state)
{
	static struct lg_decoder d;
	uint8_t buf[64];
	struct lg_frame f;
	size_t n = frame_build(buf, LG_MSG_STDOUT, 7, "hello", 5);

	(void)state;
	lg_decoder_init(&d);
	assert_int_equal(lg_decoder_fill(&d, buf, n), n);
	assert_int_equal(lg_decoder_next(&d, &f), 1);
	assert_int_equal(f.type, LG_MSG_STDOUT);
	assert_int_equal(f.stream, 7);
	assert_int_equal(f.len, 5);
	assert_memory_equal(f.payload, "hello", 5);
	assert_int_equal(lg_decoder_next(&d, &f), 0);
}

static void test_wire_layout(void **state)
{
	uint8_t h[LG_FRAME_HDR_SIZE];
	const uint8_t want[] = {'L',  'G',  1,	  0x83, 0x04, 0x03,
				0x02, 0x01, 0x10, 0,	0,    0};

	(void)state;
	assert_int_equal(lg_frame_hdr_encode(h, LG_MSG_STDOUT, 0x01020304, 16),
			 0);
	assert_memory_equal(h, want, sizeof(want));
	assert_int_equal(lg_frame_hdr_encode(h, LG_MSG_STDOUT, 1,
					     LG_FRAME_MAX_PAYLOAD + 1),
			 -EMSGSIZE);
}

static void test_byte_by_byte(void **state)
{
	static struct lg_decoder d;
	uint8_t buf[128];
	size_t n = frame_build(buf, LG_MSG_EXIT, 3, "abc", 3);
	struct lg_frame f;

	(void)state;
	n += frame_build(buf + n, LG_MSG_OK, 4, "", 0);
	lg_decoder_init(&d);
	for (size_t i = 0; i < LG_FRAME_HDR_SIZE + 2; i++) {
		assert_int_equal(lg_decoder_fill(&d, buf + i, 1), 1);
		assert_int_equal(lg_decoder_next(&d, &f), 0);
	}
	lg_decoder_fill(&d, buf + LG_FRAME_HDR_SIZE + 2,
			n - LG_FRAME_HDR_SIZE - 2);
	assert_int_equal(lg_decoder_next(&d, &f), 1);
	assert_int_equal(f.stream, 3);
	assert_int_equal(lg_decoder_next(&d, &f), 1);
	assert_int_equal(f.type, LG_MSG_OK);
	assert_int_equal(f.len, 0);
	assert_int_equal(lg_decoder_next(&d, &f), 0);
}

static void expect_decode_error(const uint8_t *h, int want)
{
	static struct lg_decoder d;
	struct lg_frame f;

	lg_decoder_init(&d);
	lg_decoder_fill(&d, h, LG_FRAME_HDR_SIZE);
	assert_int_equal(lg_decoder_next(&d, &f), want);
}

static void test_malformed_headers(void **state)
{
	uint8_t h[LG_FRAME_HDR_SIZE];

	(void)state;
	lg_frame_hdr_encode(h, LG_MSG_STDIN, 1, 0);
	h[0] = 'X';
	expect_decode_error(h, -EBADMSG);
	lg_frame_hdr_encode(h, LG_MSG_STDIN, 1, 0);
	h[2] = 9;
	expect_decode_error(h, -EPROTONOSUPPORT);
	lg_frame_hdr_encode(h, LG_MSG_STDIN, 1, 0);
	h[3] = 0x7f;
	expect_decode_error(h, -ENOMSG);
	lg_frame_hdr_encode(h, LG_MSG_STDIN, 1, 0);
	h[8] = 0x01;
	h[10] = 0x01; /* 65537 bytes */
	expect_decode_error(h, -EMSGSIZE);
	lg_frame_hdr_encode(h, LG_MSG_STDIN, 1, 0);
	h[11] = 0xff; /* ~4 GiB: rejected before any allocation */
	expect_decode_error(h, -EMSGSIZE);
}

static void test_max_frame(void **state)
{
	static struct lg_decoder d;
	static uint8_t buf[LG_FRAME_MAX];
	struct lg_frame f;

	(void)state;
	memset(buf + LG_FRAME_HDR_SIZE, 0xab, LG_FRAME_MAX_PAYLOAD);
	lg_frame_hdr_encode(buf, LG_MSG_FILE_DATA, 9, LG_FRAME_MAX_PAYLOAD);
	lg_decoder_init(&d);
	/* A half-read small frame first forces the buffer to compact. */
	lg_decoder_fill(&d, buf, 100);
	assert_int_equal(lg_decoder_next(&d, &f), 0);
	assert_int_equal(lg_decoder_fill(&d, buf + 100, LG_FRAME_MAX - 100),
			 LG_FRAME_MAX - 100);
	assert_int_equal(lg_decoder_next(&d, &f), 1);
	assert_int_equal(f.len, LG_FRAME_MAX_PAYLOAD);
	assert_int_equal(f.payload[LG_FRAME_MAX_PAYLOAD - 1], 0xab);
}

/* Property: any frames, cut into any chunks, decode to the same frames. */
static void test_random_chunking(void **state)
{
	static struct lg_decoder d;
	static uint8_t stream[1 << 20];
	uint32_t lens[64];
	size_t total = 0;

	(void)state;
	srand(1234);
	for (int round = 0; round < 50; round++) {
		size_t off = 0, fed = 0;
		int nframes = 1 + rand() % 64, got = 0;
		struct lg_frame f;

		total = 0;
		for (int i = 0; i < nframes; i++) {
			lens[i] = (uint32_t)(rand() % 9000);
			lg_frame_hdr_encode(stream + total, LG_MSG_STDERR,
					    (uint32_t)i, lens[i]);
			memset(stream + total + LG_FRAME_HDR_SIZE, i, lens[i]);
			total += LG_FRAME_HDR_SIZE + lens[i];
		}
		lg_decoder_init(&d);
		while (got < nframes) {
			size_t chunk = 1 + (size_t)rand() % 20000;

			if (chunk > total - off)
				chunk = total - off;
			fed = lg_decoder_fill(&d, stream + off, chunk);
			off += fed;
			while (lg_decoder_next(&d, &f) == 1) {
				assert_int_equal(f.stream, got);
				assert_int_equal(f.len, lens[got]);
				if (f.len)
					assert_int_equal(f.payload[f.len - 1],
							 (uint8_t)got);
				got++;
			}
		}
		assert_int_equal(off, total);
	}
}

static void test_tlv(void **state)
{
	uint8_t buf[64];
	struct lg_tlv_writer w;
	struct lg_tlv_reader r;
	const uint8_t *v;
	size_t len, vlen;
	uint16_t tag;
	uint32_t u;

	(void)state;
	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_u32(&w, LG_TAG_PID, 4242);
	lg_tlv_put_str(&w, LG_TAG_PATH, "/tmp/x");
	assert_int_equal(lg_tlv_writer_finish(&w, &len), 0);
	assert_int_equal(len, 6 + 4 + 6 + 6);
	assert_int_equal(lg_tlv_find_u32(buf, len, LG_TAG_PID, &u), 0);
	assert_int_equal(u, 4242);
	assert_int_equal(lg_tlv_find_u32(buf, len, LG_TAG_MODE, &u), -ENOENT);
	/* The string is not a u32. */
	assert_int_equal(lg_tlv_find_u32(buf, len, LG_TAG_PATH, &u), -EBADMSG);
	/* Truncated: the second TLV claims more than is there. */
	lg_tlv_reader_init(&r, buf, len - 1);
	assert_int_equal(lg_tlv_next(&r, &tag, &v, &vlen), 1);
	assert_int_equal(lg_tlv_next(&r, &tag, &v, &vlen), -EBADMSG);
	/* The one-u32 payload helper matches the writer byte for byte. */
	{
		uint8_t one[LG_TLV_U32_SIZE];

		lg_tlv_writer_init(&w, buf, sizeof(buf));
		lg_tlv_put_u32(&w, LG_TAG_CREDIT, 0x01020304);
		assert_int_equal(lg_tlv_writer_finish(&w, &len), 0);
		assert_int_equal(
			lg_tlv_u32_payload(one, LG_TAG_CREDIT, 0x01020304),
			len);
		assert_memory_equal(one, buf, len);
	}
	/* Overflow is sticky and reported at the end. */
	lg_tlv_writer_init(&w, buf, 8);
	lg_tlv_put_u32(&w, LG_TAG_PID, 1);
	lg_tlv_put_u32(&w, LG_TAG_PID, 2);
	assert_int_equal(lg_tlv_writer_finish(&w, &len), -EMSGSIZE);
}

static void test_exec_req_roundtrip(void **state)
{
	char *argv[] = {"sh", "-c", "echo hi", NULL};
	char *envp[] = {"A=1", "B=two words", NULL};
	struct lg_exec_req in = {
		.argv = argv,
		.argc = 3,
		.envp = envp,
		.envc = 2,
		.cwd = "/tmp",
		.uid = 1000,
		.gid = 100,
		.stdin_attached = true,
		.timeout_ms = 5000,
	};
	struct lg_exec_req out;
	uint8_t buf[512];
	size_t len;

	(void)state;
	assert_int_equal(lg_exec_req_encode(&in, buf, sizeof(buf), &len), 0);
	assert_int_equal(lg_exec_req_decode(buf, len, &out), 0);
	assert_int_equal(out.argc, 3);
	assert_string_equal(out.argv[2], "echo hi");
	assert_null(out.argv[3]);
	assert_int_equal(out.envc, 2);
	assert_string_equal(out.envp[1], "B=two words");
	assert_null(out.envp[2]);
	assert_string_equal(out.cwd, "/tmp");
	assert_int_equal(out.uid, 1000);
	assert_int_equal(out.gid, 100);
	assert_true(out.stdin_attached);
	assert_int_equal(out.timeout_ms, 5000);
	lg_exec_req_free(&out);
	/* Encoding into too small a buffer fails cleanly. */
	assert_int_equal(lg_exec_req_encode(&in, buf, 20, &len), -EMSGSIZE);
}

static void test_exec_req_rejects(void **state)
{
	uint8_t buf[256];
	struct lg_tlv_writer w;
	struct lg_exec_req out;
	size_t len;

	(void)state;
	/* No argv. */
	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_str(&w, LG_TAG_ENV, "A=1");
	lg_tlv_writer_finish(&w, &len);
	assert_int_equal(lg_exec_req_decode(buf, len, &out), -EINVAL);
	/* Embedded NUL in an argument. */
	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put(&w, LG_TAG_ARG, "a\0b", 3);
	lg_tlv_writer_finish(&w, &len);
	assert_int_equal(lg_exec_req_decode(buf, len, &out), -EBADMSG);
	/* Two working directories. */
	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_str(&w, LG_TAG_ARG, "ls");
	lg_tlv_put_str(&w, LG_TAG_CWD, "/a");
	lg_tlv_put_str(&w, LG_TAG_CWD, "/b");
	lg_tlv_writer_finish(&w, &len);
	assert_int_equal(lg_exec_req_decode(buf, len, &out), -EINVAL);
	/* A u32 field of the wrong size. */
	lg_tlv_writer_init(&w, buf, sizeof(buf));
	lg_tlv_put_str(&w, LG_TAG_ARG, "ls");
	lg_tlv_put(&w, LG_TAG_UID, "ab", 2);
	lg_tlv_writer_finish(&w, &len);
	assert_int_equal(lg_exec_req_decode(buf, len, &out), -EBADMSG);
}

static void test_exec_req_too_many_args(void **state)
{
	static uint8_t buf[LG_FRAME_MAX_PAYLOAD];
	struct lg_tlv_writer w;
	struct lg_exec_req out;
	size_t len;

	(void)state;
	lg_tlv_writer_init(&w, buf, sizeof(buf));
	for (unsigned i = 0; i <= LG_EXEC_MAX_ARGS; i++)
		lg_tlv_put(&w, LG_TAG_ARG, "x", 1);
	assert_int_equal(lg_tlv_writer_finish(&w, &len), 0);
	assert_int_equal(lg_exec_req_decode(buf, len, &out), -E2BIG);
}

static void test_error_sanitised(void **state)
{
	uint8_t buf[128];
	char msg[16];
	uint32_t e;
	size_t len;

	(void)state;
	assert_int_equal(lg_error_encode(buf, sizeof(buf), ENOENT,
					 "no\x1b[31m file at all here", &len),
			 0);
	assert_int_equal(lg_error_decode(buf, len, &e, msg, sizeof(msg)), 0);
	assert_int_equal(e, ENOENT);
	assert_string_equal(msg, "no?[31m file at"); /* cut, ESC replaced */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_wire_layout),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_malformed_headers),
		cmocka_unit_test(test_max_frame),
		cmocka_unit_test(test_random_chunking),
		cmocka_unit_test(test_tlv),
		cmocka_unit_test(test_exec_req_roundtrip),
		cmocka_unit_test(test_exec_req_rejects),
		cmocka_unit_test(test_exec_req_too_many_args),
		cmocka_unit_test(test_error_sanitised),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
