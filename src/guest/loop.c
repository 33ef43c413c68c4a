/* SPDX-License-Identifier: Apache-2.0 */
/* epoll loop with a sorted timer list and deferred frees. */
#include "loop.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define LOOP_BATCH 64
/* Timer callbacks per round, so a timer re-armed at 0 cannot starve I/O. */
#define LOOP_MAX_TIMERS 64

static int epfd = -1;
static struct timer *timers; /* sorted by when, earliest first */
static struct grave *graveyard;
static bool (*idle_hook)(void);

uint64_t now_ms(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid clock id. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void watch_init(struct watch *w, int fd, watch_fn *fn)
{
	w->fd = fd;
	w->events = 0;
	w->fn = fn;
}

int watch_set(struct watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};
	int op;

	if (w->fd < 0 || events == w->events)
		return 0;
	if (events == 0)
		op = EPOLL_CTL_DEL;
	else if (w->events == 0)
		op = EPOLL_CTL_ADD;
	else
		op = EPOLL_CTL_MOD;
	if (epoll_ctl(epfd, op, w->fd, &ev) < 0) {
		int err = errno;

		agent_log("epoll_ctl fd %d: %s", w->fd, strerror(err));
		return -err;
	}
	w->events = events;
	return 0;
}

void watch_close(struct watch *w)
{
	if (w->fd < 0)
		return;
	watch_set(w, 0);
	close(w->fd);
	w->fd = -1;
	w->events = 0;
}

void timer_init(struct timer *t, void (*fn)(struct timer *t))
{
	t->next = NULL;
	t->prev = NULL;
	t->when = 0;
	t->fn = fn;
	t->armed = false;
}

void timer_cancel(struct timer *t)
{
	if (!t->armed)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->next = NULL;
	t->prev = NULL;
	t->armed = false;
}

void timer_arm(struct timer *t, uint64_t delay_ms)
{
	struct timer *prev = NULL, *cur;

	timer_cancel(t);
	t->when = now_ms() + delay_ms;
	for (cur = timers; cur && cur->when <= t->when; cur = cur->next)
		prev = cur;
	t->prev = prev;
	t->next = cur;
	if (cur)
		cur->prev = t;
	if (prev)
		prev->next = t;
	else
		timers = t;
	t->armed = true;
}

static void timers_run(void)
{
	uint64_t now = now_ms();

	for (int i = 0; i < LOOP_MAX_TIMERS && timers && timers->when <= now;
	     i++) {
		struct timer *t = timers;

		timer_cancel(t);
		t->fn(t);
	}
}

/* epoll_wait's timeout: until the next timer, 0 if work is pending. */
static int loop_timeout(bool pending)
{
	uint64_t now;

	if (pending)
		return 0;
	if (!timers)
		return -1;
	now = now_ms();
	if (timers->when <= now)
		return 0;
	if (timers->when - now > INT_MAX)
		return INT_MAX;
	return (int)(timers->when - now);
}

void loop_defer_free(struct grave *g, void (*release)(struct grave *g))
{
	g->release = release;
	g->next = graveyard;
	graveyard = g;
}

static void graveyard_run(void)
{
	while (graveyard) {
		struct grave *g = graveyard;

		graveyard = g->next;
		g->release(g);
	}
}

int loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -errno : 0;
}

void loop_set_idle_hook(bool (*hook)(void))
{
	idle_hook = hook;
}

static void loop_dispatch(const struct epoll_event *evs, int n)
{
	for (int i = 0; i < n; i++) {
		struct watch *w = evs[i].data.ptr;

		/* Closed or disabled earlier in this batch: stale event. */
		if (w->fd < 0 || w->events == 0)
			continue;
		w->fn(w, evs[i].events);
	}
}

void loop_run(void)
{
	struct epoll_event evs[LOOP_BATCH];
	bool pending = false;

	for (;;) {
		int n = epoll_wait(epfd, evs, LOOP_BATCH,
				   loop_timeout(pending));

		if (n < 0 && errno != EINTR)
			agent_fatal("epoll_wait: %s", strerror(errno));
		if (n > 0)
			loop_dispatch(evs, n);
		timers_run();
		pending = idle_hook ? idle_hook() : false;
		graveyard_run();
	}
}
