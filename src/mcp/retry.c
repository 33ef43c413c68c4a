// SPDX-License-Identifier: Apache-2.0
#include "mcp/retry.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void mcp_retry_policy_default(struct mcp_retry_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->jitter = MCP_RETRY_DEFAULT_JITTER;
	mcp_retry_policy_complete(p);
}

void mcp_retry_policy_complete(struct mcp_retry_policy *p)
{
	if (!p->initial_ms)
		p->initial_ms = MCP_RETRY_DEFAULT_INITIAL_MS;
	if (!p->max_ms)
		p->max_ms = MCP_RETRY_DEFAULT_MAX_MS;
	if (p->max_ms < p->initial_ms)
		p->max_ms = p->initial_ms;
	if (p->multiplier < 1.0)
		p->multiplier = MCP_RETRY_DEFAULT_MULTIPLIER;
	if (p->jitter < 0.0)
		p->jitter = 0.0;
	if (p->jitter > 1.0)
		p->jitter = 1.0;
	if (!p->deadline_ms)
		p->deadline_ms = MCP_RETRY_DEFAULT_DEADLINE_MS;
	if (!p->cooldown_ms)
		p->cooldown_ms = MCP_RETRY_DEFAULT_COOLDOWN_MS;
}

bool mcp_retry_idempotent(const char *method, bool is_request)
{
	static const char *const safe[] = {
		"initialize",	       "ping",
		"resources/read",      "prompts/get",
		"completion/complete", "logging/setLevel",
		"resources/subscribe", "resources/unsubscribe",
	};
	size_t n;

	if (!is_request || !method)
		return true;
	for (size_t i = 0; i < sizeof(safe) / sizeof(safe[0]); i++)
		if (strcmp(method, safe[i]) == 0)
			return true;
	n = strlen(method);
	return n >= 5 && strcmp(method + n - 5, "/list") == 0;
}

static bool connection_error(int err)
{
	switch (err) {
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -ECONNABORTED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -ETIMEDOUT:
	case -EPIPE:
		return true;
	default:
		return false;
	}
}

bool mcp_retry_retryable(const struct mcp_retry_outcome *o, bool idempotent)
{
	if (o->err)
		return connection_error(o->err) &&
		       (idempotent || !o->body_sent);
	switch (o->status) {
	case 429:
	case 503:
		return true;
	case 502:
	case 504:
		return idempotent || !o->body_sent;
	default:
		return false;
	}
}

int mcp_retry_outcome_errno(const struct mcp_retry_outcome *o)
{
	if (o->err)
		return o->err;
	switch (o->status) {
	case 401:
		return -EACCES;
	case 403:
		return -EPERM;
	case 404:
		return -ENOENT;
	case 429:
		return -EBUSY;
	default:
		break;
	}
	if (o->status >= 400 && o->status < 500)
		return -EINVAL;
	return -EIO;
}

int mcp_retry_after_parse(const char *value, int64_t now_wall, int64_t *ms)
{
	const char *s = value;
	time_t when;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s >= '0' && *s <= '9') {
		int64_t secs = 0;

		for (; *s >= '0' && *s <= '9'; s++) {
			if (secs > 100000000)
				return -EINVAL; /* years: nonsense */
			secs = secs * 10 + (*s - '0');
		}
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (*s)
			return -EINVAL;
		*ms = secs * 1000;
		return 0;
	}
	when = curl_getdate(s, NULL);
	if (when == (time_t)-1)
		return -EINVAL;
	*ms = when > now_wall ? ((int64_t)when - now_wall) * 1000 : 0;
	return 0;
}

uint64_t mcp_retry_backoff_base(const struct mcp_retry_policy *p, unsigned n)
{
	double d = p->initial_ms;

	for (unsigned i = 0; i < n && d < p->max_ms; i++)
		d *= p->multiplier;
	if (d > p->max_ms)
		d = p->max_ms;
	return (uint64_t)d;
}

uint64_t mcp_retry_backoff(const struct mcp_retry_policy *p, unsigned n,
			   uint32_t rnd)
{
	double base = (double)mcp_retry_backoff_base(p, n);
	/* u in [-1, 1) */
	double u = (double)rnd / 2147483648.0 - 1.0;
	double d = base * (1.0 + p->jitter * u);

	if (d < 0)
		d = 0;
	if (d > p->max_ms)
		d = p->max_ms;
	return (uint64_t)d;
}

int mcp_endpoints_init(struct mcp_endpoints *e, const char *const *urls,
		       size_t n)
{
	memset(e, 0, sizeof(*e));
	if (n == 0)
		return -EINVAL;
	e->urls = calloc(n, sizeof(*e->urls));
	e->down_until_ms = calloc(n, sizeof(*e->down_until_ms));
	if (!e->urls || !e->down_until_ms)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		e->urls[i] = strdup(urls[i]);
		if (!e->urls[i])
			goto nomem;
		e->n = i + 1;
	}
	pthread_mutex_init(&e->lock, NULL);
	return 0;
nomem:
	for (size_t i = 0; i < e->n; i++)
		free(e->urls[i]);
	free(e->urls);
	free(e->down_until_ms);
	memset(e, 0, sizeof(*e));
	return -ENOMEM;
}

void mcp_endpoints_destroy(struct mcp_endpoints *e)
{
	if (!e->urls)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->urls[i]);
	free(e->urls);
	free(e->down_until_ms);
	pthread_mutex_destroy(&e->lock);
	memset(e, 0, sizeof(*e));
}

size_t mcp_endpoints_pick(struct mcp_endpoints *e, uint64_t now_ms)
{
	size_t best, pick = e->n;

	pthread_mutex_lock(&e->lock);
	best = e->next % e->n;
	for (size_t k = 0; k < e->n; k++) {
		size_t i = (e->next + k) % e->n;

		if (e->down_until_ms[i] <= now_ms) {
			pick = i;
			break;
		}
		if (e->down_until_ms[i] < e->down_until_ms[best])
			best = i;
	}
	if (pick == e->n)
		pick = best;
	e->next = (pick + 1) % e->n;
	pthread_mutex_unlock(&e->lock);
	return pick;
}

bool mcp_endpoints_other_up(struct mcp_endpoints *e, size_t idx,
			    uint64_t now_ms)
{
	bool up = false;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->n && !up; i++)
		up = i != idx && e->down_until_ms[i] <= now_ms;
	pthread_mutex_unlock(&e->lock);
	return up;
}

void mcp_endpoints_fail(struct mcp_endpoints *e, size_t idx, uint64_t until_ms)
{
	pthread_mutex_lock(&e->lock);
	e->down_until_ms[idx] = until_ms;
	pthread_mutex_unlock(&e->lock);
}

void mcp_endpoints_ok(struct mcp_endpoints *e, size_t idx)
{
	pthread_mutex_lock(&e->lock);
	e->down_until_ms[idx] = 0;
	pthread_mutex_unlock(&e->lock);
}

static uint64_t real_now_ms(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t real_wall_s(void *opaque)
{
	(void)opaque;
	return (int64_t)time(NULL);
}

static int real_sleep_ms(void *opaque, uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	(void)opaque;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

static uint32_t real_rand(void *opaque)
{
	uint32_t r;

	(void)opaque;
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)random();
	return r;
}

const struct mcp_retry_clock mcp_retry_clock_real = {
	.now_ms = real_now_ms,
	.wall_s = real_wall_s,
	.sleep_ms = real_sleep_ms,
	.rand = real_rand,
	.opaque = NULL,
};

int mcp_retry_run(const struct mcp_retry_policy *p, struct mcp_endpoints *e,
		  const struct mcp_retry_clock *clk, bool idempotent,
		  mcp_retry_attempt_fn attempt, void *opaque,
		  struct mcp_retry_outcome *last)
{
	uint64_t start = clk->now_ms(clk->opaque);
	uint64_t deadline = start + p->deadline_ms;
	unsigned attempts = 0, backoffs = 0;

	for (;;) {
		uint64_t now = clk->now_ms(clk->opaque), delay;
		size_t idx = mcp_endpoints_pick(e, now);
		int ret;

		memset(last, 0, sizeof(*last));
		last->retry_after_ms = -1;
		ret = attempt(opaque, idx, e->urls[idx], last);
		attempts++;
		if (ret == 0) {
			mcp_endpoints_ok(e, idx);
			return 0;
		}
		if (!mcp_retry_retryable(last, idempotent))
			return mcp_retry_outcome_errno(last);
		if (p->max_attempts && attempts >= p->max_attempts)
			return mcp_retry_outcome_errno(last);
		now = clk->now_ms(clk->opaque);
		if (!last->err && last->status == 429) {
			delay = last->retry_after_ms >= 0
					? (uint64_t)last->retry_after_ms
					: mcp_retry_backoff(
						  p, backoffs++,
						  clk->rand(clk->opaque));
		} else {
			mcp_endpoints_fail(e, idx, now + p->cooldown_ms);
			if (mcp_endpoints_other_up(e, idx, now))
				delay = 0; /* failover */
			else
				delay = mcp_retry_backoff(
					p, backoffs++, clk->rand(clk->opaque));
		}
		if (now + delay >= deadline)
			return mcp_retry_outcome_errno(last);
		if (delay && clk->sleep_ms(clk->opaque, delay))
			return -ECANCELED;
	}
}
