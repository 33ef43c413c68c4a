/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Retries for MCP over HTTP: which outcomes are retried, how long to
 * wait (exponential backoff with jitter, Retry-After, a total deadline),
 * and which of several endpoint URLs of one server to try next
 * (round robin, failover, a cool-down for an endpoint that failed). The
 * clock, the sleep and the randomness are injectable so tests can check
 * exact delays.
 */
#ifndef LG_MCP_RETRY_H
#define LG_MCP_RETRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mcp_retry_policy {
	unsigned initial_ms;   /* first backoff (default 1000) */
	unsigned max_ms;       /* backoff cap (default 32000) */
	double multiplier;     /* growth per backoff (default 2.0) */
	double jitter;	       /* +-fraction of each backoff (default 0.2) */
	unsigned max_attempts; /* attempts in all; 0: only the deadline */
	unsigned deadline_ms;  /* from the first attempt (default 60000) */
	unsigned cooldown_ms;  /* a failing endpoint rests (default 30000) */
};

#define MCP_RETRY_DEFAULT_INITIAL_MS 1000u
#define MCP_RETRY_DEFAULT_MAX_MS 32000u
#define MCP_RETRY_DEFAULT_MULTIPLIER 2.0
#define MCP_RETRY_DEFAULT_JITTER 0.2
#define MCP_RETRY_DEFAULT_DEADLINE_MS 60000u
#define MCP_RETRY_DEFAULT_COOLDOWN_MS 30000u

void mcp_retry_policy_default(struct mcp_retry_policy *p);
/* Fills zero integer fields with the defaults; jitter is taken as given
 * (clamped to [0, 1]): start from mcp_retry_policy_default(). */
void mcp_retry_policy_complete(struct mcp_retry_policy *p);

/* What one attempt came to. */
struct mcp_retry_outcome {
	/* 0: an HTTP status arrived; else a negative errno: -ECONNREFUSED,
	 * -ECONNRESET, -EHOSTUNREACH (connection errors), -ETIMEDOUT, or
	 * something never retried (-ENOMEM, -EINVAL, -EPROTO...). */
	int err;
	long status;
	/* The whole request body went out (the server may have acted). */
	bool body_sent;
	int64_t retry_after_ms; /* from Retry-After; -1 if none */
};

/*
 * Is a message idempotent (safe to send twice)? Requests initialize,
 * ping, .../list, resources/read, prompts/get, completion/complete,
 * logging/setLevel, resources/(un)subscribe are; other requests
 * (tools/call...) are not. Notifications and responses are (a duplicate
 * is harmless). method NULL: a response.
 */
bool mcp_retry_idempotent(const char *method, bool is_request);

/*
 * Would this outcome be retried at all? Connection errors and timeouts;
 * HTTP 429, 502, 503, 504. Never 400, 401, 403, 404 or any other
 * status. A non-idempotent message whose body was sent is retried only
 * on 429 and 503 (the server said it did not take it).
 */
bool mcp_retry_retryable(const struct mcp_retry_outcome *o, bool idempotent);

/*
 * The negative errno that stands for a final outcome: 401 -EACCES,
 * 403 -EPERM, 404 -ENOENT, 429 -EBUSY, other 4xx -EINVAL, 5xx -EIO,
 * else o->err.
 */
int mcp_retry_outcome_errno(const struct mcp_retry_outcome *o);

/*
 * Retry-After (RFC 9110 10.2.3): delta-seconds or an HTTP-date, against
 * now_wall (seconds since the epoch). 0 with *ms, or -EINVAL.
 */
int mcp_retry_after_parse(const char *value, int64_t now_wall, int64_t *ms);

/* The n-th backoff (n = 0 first), before jitter: initial * mult^n,
 * capped at max_ms. */
uint64_t mcp_retry_backoff_base(const struct mcp_retry_policy *p, unsigned n);
/* With jitter: rnd is uniform in [0, 2^32). Never above max_ms. */
uint64_t mcp_retry_backoff(const struct mcp_retry_policy *p, unsigned n,
			   uint32_t rnd);

/* Endpoint URLs of one server: round robin with cool-down. Thread-safe. */
struct mcp_endpoints {
	pthread_mutex_t lock;
	size_t n;
	char **urls;
	uint64_t *down_until_ms; /* 0: healthy */
	size_t next;
};

int mcp_endpoints_init(struct mcp_endpoints *e, const char *const *urls,
		       size_t n);
void mcp_endpoints_destroy(struct mcp_endpoints *e);
/*
 * The next endpoint in turn that is not cooling down at now_ms; if all
 * are, the one whose cool-down ends first.
 */
size_t mcp_endpoints_pick(struct mcp_endpoints *e, uint64_t now_ms);
/* Is any endpoint other than idx usable at now_ms? */
bool mcp_endpoints_other_up(struct mcp_endpoints *e, size_t idx,
			    uint64_t now_ms);
void mcp_endpoints_fail(struct mcp_endpoints *e, size_t idx, uint64_t until_ms);
void mcp_endpoints_ok(struct mcp_endpoints *e, size_t idx);

/* Time and waiting, replaceable by tests. */
struct mcp_retry_clock {
	uint64_t (*now_ms)(void *opaque); /* monotonic */
	int64_t (*wall_s)(void *opaque);  /* for Retry-After dates */
	/* Waits ms; non-zero: interrupted (the caller gives up). */
	int (*sleep_ms)(void *opaque, uint64_t ms);
	uint32_t (*rand)(void *opaque);
	void *opaque;
};
/* The real clock (CLOCK_MONOTONIC, time(), nanosleep, random). */
extern const struct mcp_retry_clock mcp_retry_clock_real;

/*
 * One attempt against endpoint url (index idx): fills *o. Returns 0 when
 * the attempt succeeded (the run ends with 0), else 1 to let the policy
 * decide on *o.
 */
typedef int (*mcp_retry_attempt_fn)(void *opaque, size_t idx, const char *url,
				    struct mcp_retry_outcome *o);

/*
 * Runs attempts until one succeeds or the policy gives up:
 * - each attempt goes to mcp_endpoints_pick();
 * - a retryable failure that is not 429 puts the endpoint in cool-down;
 *   when another endpoint is usable the next attempt goes there at once
 *   (failover), else after the next backoff;
 * - 429 waits Retry-After when given (else the backoff), no cool-down;
 * - no attempt starts past the deadline, no wait runs past it, and
 *   max_attempts bounds the count.
 * 0 on success, else the negative errno of the last outcome
 * (mcp_retry_outcome_errno), -ETIMEDOUT... with *last filled.
 */
int mcp_retry_run(const struct mcp_retry_policy *p, struct mcp_endpoints *e,
		  const struct mcp_retry_clock *clk, bool idempotent,
		  mcp_retry_attempt_fn attempt, void *opaque,
		  struct mcp_retry_outcome *last);

#endif
