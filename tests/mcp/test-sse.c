// SPDX-License-Identifier: Apache-2.0
/* The SSE parser against the HTML standard's event-stream rules, fed
 * whole and one byte at a time. */
#include "mcp/sse.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct rec {
	char out[4096]; /* "type|data|id\n" per event */
	unsigned long long retry;
	int n_retry;
	int stop_after; /* return -EINTR after this many events; 0 never */
	int n;
};

static int on_event(void *opaque, const char *type, const char *data,
		    size_t len, const char *last_id)
{
	struct rec *r = opaque;
	size_t o = strlen(r->out);

	assert_int_equal(data[len], '\0');
	snprintf(r->out + o, sizeof(r->out) - o, "%s|%.*s|%s\n", type, (int)len,
		 data, last_id);
	r->n++;
	if (r->stop_after && r->n >= r->stop_after)
		return -EINTR;
	return 0;
}

static void on_retry(void *opaque, unsigned long long ms)
{
	struct rec *r = opaque;

	r->retry = ms;
	r->n_retry++;
}

/* Parses in, whole and byte by byte; both must give want. */
static void check(const char *in, size_t len, const char *want, int want_ret)
{
	for (int mode = 0; mode < 2; mode++) {
		struct sse_parser p;
		struct rec r = {0};
		int ret = 0;

		sse_init(&p, 0, 0, on_event, on_retry, &r);
		if (mode == 0) {
			ret = sse_feed(&p, in, len);
		} else {
			for (size_t i = 0; i < len && !ret; i++)
				ret = sse_feed(&p, in + i, 1);
		}
		assert_int_equal(ret, want_ret);
		assert_string_equal(r.out, want);
		sse_free(&p);
	}
}

#define CHECK(in, want) check(in, sizeof(in) - 1, want, 0)

static void test_basic(void **state)
{
	(void)state;
	CHECK("data: hello\n\n", "message|hello|\n");
	CHECK("data:hello\n\n", "message|hello|\n");
	CHECK("data:  two\n\n", "message| two|\n"); /* one space only */
	CHECK("event: endpoint\ndata: /m?x=1\n\n", "endpoint|/m?x=1|\n");
	CHECK("data: a\ndata: b\n\n", "message|a\nb|\n");
	CHECK("data\n\n", "message||\n"); /* empty data line: "" + LF */
	CHECK("data: x\n", "");		  /* no blank line: no event */
	CHECK("event: e\n\ndata: y\n\n", "message|y|\n"); /* type reset */
}

static void test_line_ends(void **state)
{
	(void)state;
	CHECK("data: a\r\n\r\ndata: b\r\rdata: c\n\n",
	      "message|a|\nmessage|b|\nmessage|c|\n");
	/* CR then LF is one line end even split across feeds (byte mode). */
	CHECK("data: a\r\ndata: b\r\n\r\n", "message|a\nb|\n");
}

static void test_bom_and_comments(void **state)
{
	(void)state;
	CHECK("\xef\xbb\xbf"
	      "data: a\n\n",
	      "message|a|\n");
	/* A second BOM is not skipped: it is part of a field name. */
	CHECK("\xef\xbb\xbf\xef\xbb\xbf"
	      "data: a\n\ndata: b\n\n",
	      "message|b|\n");
	CHECK(": a comment\ndata: a\n: another\n\n", "message|a|\n");
	CHECK("foo: bar\ndata: a\n\n", "message|a|\n");
}

static void test_ids(void **state)
{
	(void)state;
	CHECK("id: 7\ndata: a\n\ndata: b\n\n", "message|a|7\nmessage|b|7\n");
	CHECK("id: 7\ndata: a\n\nid\ndata: b\n\n", "message|a|7\nmessage|b|\n");
	/* An id with NUL is ignored. */
	check("id: 1\ndata: a\n\nid: x\0y\ndata: b\n\n", 32,
	      "message|a|1\nmessage|b|1\n", 0);
}

static void test_priming_id(void **state)
{
	struct sse_parser p;
	struct rec r = {0};
	const char in[] = "id: p-0\ndata: \n\n";

	(void)state;
	sse_init(&p, 0, 0, on_event, on_retry, &r);
	assert_int_equal(sse_feed(&p, in, sizeof(in) - 1), 0);
	/* "data: " is an empty data line: an event with data "" (MCP's
	 * priming event; the transport skips it), and the id is set. */
	assert_int_equal(r.n, 1);
	assert_string_equal(r.out, "message||p-0\n");
	assert_string_equal(sse_last_id(&p), "p-0");
	sse_free(&p);
}

static void test_retry(void **state)
{
	struct sse_parser p;
	struct rec r = {0};
	const char in[] = "retry: 2500\nretry: 12a\nretry:\nretry: -1\n\n";

	(void)state;
	sse_init(&p, 0, 0, on_event, on_retry, &r);
	assert_int_equal(sse_feed(&p, in, sizeof(in) - 1), 0);
	assert_int_equal(r.n_retry, 1);
	assert_int_equal(r.retry, 2500);
	sse_free(&p);
}

static void test_bounds(void **state)
{
	struct sse_parser p;
	struct rec r = {0};
	char big[200];

	(void)state;
	memset(big, 'x', sizeof(big));
	sse_init(&p, 64, 128, on_event, NULL, &r);
	assert_int_equal(sse_feed(&p, "data: ", 6), 0);
	assert_int_equal(sse_feed(&p, big, 100), -EMSGSIZE);
	/* Sticky. */
	assert_int_equal(sse_feed(&p, "\n\n", 2), -EMSGSIZE);
	sse_free(&p);

	/* Lines within the bound, the event over it. */
	sse_init(&p, 64, 128, on_event, NULL, &r);
	for (int i = 0; i < 4; i++) {
		int ret = sse_feed(
			&p, "data: 0123456789012345678901234567890123456789\n",
			47);

		if (i < 3)
			assert_int_equal(ret, 0);
		else
			assert_int_equal(ret, -EMSGSIZE);
	}
	sse_free(&p);
}

static void test_callback_stops(void **state)
{
	struct sse_parser p;
	struct rec r = {.stop_after = 1};
	const char in[] = "data: a\n\ndata: b\n\n";

	(void)state;
	sse_init(&p, 0, 0, on_event, NULL, &r);
	assert_int_equal(sse_feed(&p, in, sizeof(in) - 1), -EINTR);
	assert_int_equal(r.n, 1);
	sse_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_bom_and_comments),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_priming_id),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_callback_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
