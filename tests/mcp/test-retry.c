// SPDX-License-Identifier: Apache-2.0
/* The retry policy with a fake clock: exact delays, the no-retry cases,
 * Retry-After, round robin, failover and cool-down. */
#include "mcp/retry.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

struct fake {
	uint64_t now;
	uint64_t sleeps[64];
	int n_sleeps;
	uint32_t rnd;
	/* Scripted outcomes, one per attempt; past the end: success. */
	struct mcp_retry_outcome script[64];
	int n_script;
	int n_attempts;
	size_t idx[64]; /* endpoint of each attempt */
	uint64_t at[64];
	unsigned attempt_ms; /* each attempt takes this long */
};

static uint64_t f_now(void *o)
{
	return ((struct fake *)o)->now;
}

static int64_t f_wall(void *o)
{
	(void)o;
	return 1000000000; /* 2001-09-09T01:46:40Z */
}

static int f_sleep(void *o, uint64_t ms)
{
	struct fake *f = o;

	f->sleeps[f->n_sleeps++] = ms;
	f->now += ms;
	return 0;
}

static uint32_t f_rand(void *o)
{
	return ((struct fake *)o)->rnd;
}

static int f_attempt(void *o, size_t idx, const char *url,
		     struct mcp_retry_outcome *out)
{
	struct fake *f = o;
	int i = f->n_attempts++;

	(void)url;
	f->idx[i] = idx;
	f->at[i] = f->now;
	f->now += f->attempt_ms;
	if (i >= f->n_script)
		return 0;
	*out = f->script[i];
	return 1;
}

static struct mcp_retry_clock clock_of(struct fake *f)
{
	struct mcp_retry_clock c = {f_now, f_wall, f_sleep, f_rand, f};

	return c;
}

static struct mcp_retry_policy exact_policy(void)
{
	struct mcp_retry_policy p;

	mcp_retry_policy_default(&p);
	p.jitter = 0;
	p.deadline_ms = 1000000;
	return p;
}

static struct mcp_retry_outcome st(long status)
{
	struct mcp_retry_outcome o = {.status = status, .retry_after_ms = -1};
	return o;
}

static struct mcp_retry_outcome er(int err, bool sent)
{
	struct mcp_retry_outcome o = {
		.err = err, .body_sent = sent, .retry_after_ms = -1};
	return o;
}

static int run(struct fake *f, const struct mcp_retry_policy *p,
	       const char *const *urls, size_t n, bool idem)
{
	struct mcp_endpoints e;
	struct mcp_retry_clock c = clock_of(f);
	struct mcp_retry_outcome last;
	int ret;

	assert_int_equal(mcp_endpoints_init(&e, urls, n), 0);
	ret = mcp_retry_run(p, &e, &c, idem, f_attempt, f, &last);
	mcp_endpoints_destroy(&e);
	return ret;
}

static const char *const one[] = {"http://a/mcp"};

static void test_backoff_sequence(void **state)
{
	struct mcp_retry_policy p = exact_policy();
	struct fake f = {.now = 5000};
	const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 32000};

	(void)state;
	for (int i = 0; i < 7; i++)
		f.script[f.n_script++] = st(503);
	assert_int_equal(run(&f, &p, one, 1, true), 0);
	assert_int_equal(f.n_attempts, 8);
	assert_int_equal(f.n_sleeps, 7);
	for (int i = 0; i < 7; i++)
		assert_int_equal(f.sleeps[i], want[i]);
}

static void test_backoff_config_and_jitter(void **state)
{
	struct mcp_retry_policy p = exact_policy();

	(void)state;
	p.initial_ms = 100;
	p.multiplier = 3;
	p.max_ms = 1000;
	assert_int_equal(mcp_retry_backoff_base(&p, 0), 100);
	assert_int_equal(mcp_retry_backoff_base(&p, 1), 300);
	assert_int_equal(mcp_retry_backoff_base(&p, 2), 900);
	assert_int_equal(mcp_retry_backoff_base(&p, 3), 1000);
	p.jitter = 0.2;
	/* rnd 0 -> -20%, 2^31 -> 0, max -> ~+20% (capped at max_ms). */
	assert_int_equal(mcp_retry_backoff(&p, 1, 0), 240);
	assert_int_equal(mcp_retry_backoff(&p, 1, 0x80000000u), 300);
	assert_int_equal(mcp_retry_backoff(&p, 1, 0xffffffffu), 359);
	assert_int_equal(mcp_retry_backoff(&p, 3, 0xffffffffu), 1000);
}

static void test_deadline_and_attempts(void **state)
{
	struct mcp_retry_policy p = exact_policy();
	struct fake f = {0};

	(void)state;
	p.deadline_ms = 10000; /* 1+2+4 = 7 s fit, +8 does not */
	for (int i = 0; i < 20; i++)
		f.script[f.n_script++] = er(-ECONNREFUSED, false);
	assert_int_equal(run(&f, &p, one, 1, true), -ECONNREFUSED);
	assert_int_equal(f.n_attempts, 4);
	assert_int_equal(f.n_sleeps, 3);

	memset(&f, 0, sizeof(f));
	p = exact_policy();
	p.max_attempts = 2;
	for (int i = 0; i < 20; i++)
		f.script[f.n_script++] = st(502);
	assert_int_equal(run(&f, &p, one, 1, true), -EIO);
	assert_int_equal(f.n_attempts, 2);
}

static void test_no_retry_statuses(void **state)
{
	const long codes[] = {400, 401, 403, 404, 500, 409};
	const int want[] = {-EINVAL, -EACCES, -EPERM, -ENOENT, -EIO, -EINVAL};
	struct mcp_retry_policy p = exact_policy();

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct fake f = {0};

		f.script[f.n_script++] = st(codes[i]);
		assert_int_equal(run(&f, &p, one, 1, true), want[i]);
		assert_int_equal(f.n_attempts, 1);
		assert_int_equal(f.n_sleeps, 0);
	}
}

static void test_retry_statuses(void **state)
{
	const long codes[] = {429, 502, 503, 504};
	struct mcp_retry_policy p = exact_policy();

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		struct fake f = {0};

		f.script[f.n_script++] = st(codes[i]);
		assert_int_equal(run(&f, &p, one, 1, true), 0);
		assert_int_equal(f.n_attempts, 2);
	}
	{
		struct fake f = {0};

		f.script[f.n_script++] = er(-ETIMEDOUT, true);
		f.script[f.n_script++] = er(-ECONNRESET, true);
		assert_int_equal(run(&f, &p, one, 1, true), 0);
		assert_int_equal(f.n_attempts, 3);
	}
}

static void test_not_idempotent(void **state)
{
	struct mcp_retry_policy p = exact_policy();
	struct fake f = {0};

	(void)state;
	assert_false(mcp_retry_idempotent("tools/call", true));
	assert_true(mcp_retry_idempotent("tools/list", true));
	assert_true(mcp_retry_idempotent("resources/templates/list", true));
	assert_true(mcp_retry_idempotent("initialize", true));
	assert_true(mcp_retry_idempotent("notifications/cancelled", false));
	assert_true(mcp_retry_idempotent(NULL, false));

	/* Sent, then the connection died: not again. */
	f.script[f.n_script++] = er(-ECONNRESET, true);
	assert_int_equal(run(&f, &p, one, 1, false), -ECONNRESET);
	assert_int_equal(f.n_attempts, 1);
	memset(&f, 0, sizeof(f));
	f.script[f.n_script++] = er(-ETIMEDOUT, true);
	assert_int_equal(run(&f, &p, one, 1, false), -ETIMEDOUT);
	assert_int_equal(f.n_attempts, 1);
	/* 502/504 from a gateway: the server behind may have acted. */
	memset(&f, 0, sizeof(f));
	f.script[f.n_script++] = (struct mcp_retry_outcome){
		.status = 502, .body_sent = true, .retry_after_ms = -1};
	assert_int_equal(run(&f, &p, one, 1, false), -EIO);
	assert_int_equal(f.n_attempts, 1);
	/* Never sent (refused), or refused by the server (429/503): again. */
	memset(&f, 0, sizeof(f));
	f.script[f.n_script++] = er(-ECONNREFUSED, false);
	f.script[f.n_script++] = (struct mcp_retry_outcome){
		.status = 503, .body_sent = true, .retry_after_ms = -1};
	f.script[f.n_script++] = (struct mcp_retry_outcome){
		.status = 429, .body_sent = true, .retry_after_ms = -1};
	assert_int_equal(run(&f, &p, one, 1, false), 0);
	assert_int_equal(f.n_attempts, 4);
}

static void test_retry_after(void **state)
{
	struct mcp_retry_policy p = exact_policy();
	struct fake f = {0};
	int64_t ms;

	(void)state;
	assert_int_equal(mcp_retry_after_parse("7", 0, &ms), 0);
	assert_int_equal(ms, 7000);
	assert_int_equal(mcp_retry_after_parse(" 0 ", 0, &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(mcp_retry_after_parse("1.5", 0, &ms), -EINVAL);
	assert_int_equal(mcp_retry_after_parse("soon", 0, &ms), -EINVAL);
	/* 1000000000 + 30 s, as an HTTP-date. */
	assert_int_equal(mcp_retry_after_parse("Sun, 09 Sep 2001 01:47:10 GMT",
					       1000000000, &ms),
			 0);
	assert_int_equal(ms, 30000);
	assert_int_equal(mcp_retry_after_parse("Sun, 09 Sep 2001 01:00:00 GMT",
					       1000000000, &ms),
			 0);
	assert_int_equal(ms, 0);

	/* 429 waits Retry-After, not the backoff. */
	f.script[f.n_script++] = (struct mcp_retry_outcome){
		.status = 429, .retry_after_ms = 5000};
	f.script[f.n_script++] = st(429); /* none: the backoff (1 s) */
	assert_int_equal(run(&f, &p, one, 1, true), 0);
	assert_int_equal(f.n_sleeps, 2);
	assert_int_equal(f.sleeps[0], 5000);
	assert_int_equal(f.sleeps[1], 1000);

	/* A Retry-After past the deadline: give up now. */
	memset(&f, 0, sizeof(f));
	p.deadline_ms = 3000;
	f.script[f.n_script++] = (struct mcp_retry_outcome){
		.status = 429, .retry_after_ms = 5000};
	assert_int_equal(run(&f, &p, one, 1, true), -EBUSY);
	assert_int_equal(f.n_sleeps, 0);
}

static const char *const three[] = {"http://a/", "http://b/", "http://c/"};

static void test_round_robin(void **state)
{
	struct mcp_endpoints e;

	(void)state;
	assert_int_equal(mcp_endpoints_init(&e, three, 3), 0);
	for (int i = 0; i < 7; i++)
		assert_int_equal(mcp_endpoints_pick(&e, 0), (size_t)(i % 3));
	/* b rests until 1000: skipped, then back. */
	mcp_endpoints_fail(&e, 1, 1000);
	assert_int_equal(mcp_endpoints_pick(&e, 10), 2); /* next was c */
	assert_int_equal(mcp_endpoints_pick(&e, 10), 0);
	assert_int_equal(mcp_endpoints_pick(&e, 10), 2);
	assert_int_equal(mcp_endpoints_pick(&e, 1000), 0);
	assert_int_equal(mcp_endpoints_pick(&e, 1000), 1);
	/* All resting: the one that recovers first. */
	mcp_endpoints_fail(&e, 0, 3000);
	mcp_endpoints_fail(&e, 1, 2000);
	mcp_endpoints_fail(&e, 2, 4000);
	assert_int_equal(mcp_endpoints_pick(&e, 1500), 1);
	mcp_endpoints_destroy(&e);
}

static void test_failover_and_cooldown(void **state)
{
	struct mcp_retry_policy p = exact_policy();
	struct fake f = {.now = 100};

	(void)state;
	p.cooldown_ms = 30000;
	/* a refuses, b answers 503, c works: no waiting between them. */
	f.script[f.n_script++] = er(-ECONNREFUSED, false);
	f.script[f.n_script++] = st(503);
	assert_int_equal(run(&f, &p, three, 3, true), 0);
	assert_int_equal(f.n_attempts, 3);
	assert_int_equal(f.idx[0], 0);
	assert_int_equal(f.idx[1], 1);
	assert_int_equal(f.idx[2], 2);
	assert_int_equal(f.n_sleeps, 0);

	/* Two endpoints both failing: failover once, then backoff; the
	 * cool-down of the first has not ended, so the one that recovers
	 * first is tried. */
	memset(&f, 0, sizeof(f));
	for (int i = 0; i < 3; i++)
		f.script[f.n_script++] = er(-ECONNREFUSED, false);
	assert_int_equal(run(&f, &p, three, 2, true), 0);
	assert_int_equal(f.n_attempts, 4);
	assert_int_equal(f.idx[0], 0);
	assert_int_equal(f.idx[1], 1);
	assert_int_equal(f.n_sleeps, 2);
	assert_int_equal(f.sleeps[0], 1000);
	assert_int_equal(f.idx[2], 0); /* rests until 30000, b until 30000 */
	assert_int_equal(f.sleeps[1], 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_sequence),
		cmocka_unit_test(test_backoff_config_and_jitter),
		cmocka_unit_test(test_deadline_and_attempts),
		cmocka_unit_test(test_no_retry_statuses),
		cmocka_unit_test(test_retry_statuses),
		cmocka_unit_test(test_not_idempotent),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_round_robin),
		cmocka_unit_test(test_failover_and_cooldown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
