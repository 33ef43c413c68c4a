/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's single-threaded event loop: epoll watches, timers and
 * deferred frees. Nothing in the agent blocks on a peer; everything is
 * driven from here.
 */
#ifndef LG_GUEST_LOOP_H
#define LG_GUEST_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct watch;
typedef void watch_fn(struct watch *w, uint32_t events);

/*
 * One fd in the epoll set. The fd is registered only while events != 0:
 * epoll always reports EPOLLHUP/EPOLLERR, so a hung-up pipe we are not
 * reading (no credit) would otherwise make the loop spin.
 */
struct watch {
	int fd;
	uint32_t events;
	watch_fn *fn;
};

void watch_init(struct watch *w, int fd, watch_fn *fn);
/* Sets the wanted events (0: out of the epoll set). 0 or -errno. */
int watch_set(struct watch *w, uint32_t events);
/* Removes from epoll and closes; safe on a closed watch. */
void watch_close(struct watch *w);

static inline bool watch_is_open(const struct watch *w)
{
	return w->fd >= 0;
}

struct timer {
	struct timer *next, *prev;
	uint64_t when;
	void (*fn)(struct timer *t);
	bool armed;
};

uint64_t now_ms(void);
void timer_init(struct timer *t, void (*fn)(struct timer *t));
/* (Re)arms t to fire once, delay_ms from now. */
void timer_arm(struct timer *t, uint64_t delay_ms);
void timer_cancel(struct timer *t);

/*
 * Objects that own watches are freed only after the current batch of epoll
 * events, so a stale event for a just-closed watch never touches freed
 * memory (it sees fd == -1 and is skipped).
 */
struct grave {
	struct grave *next;
	void (*release)(struct grave *g);
};

void loop_defer_free(struct grave *g, void (*release)(struct grave *g));

int loop_init(void);
/* Runs after every batch; returns true if it left work for another round. */
void loop_set_idle_hook(bool (*hook)(void));
void loop_run(void) __attribute__((noreturn));

#endif
