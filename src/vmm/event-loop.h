/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VMM thread's event loop (epoll): device backends register file
 * descriptors (vsock sockets, a TAP, stdin for the UART) and get a
 * callback on the loop thread when they are ready. Any thread may ask
 * the loop to stop or to run a function on the loop thread.
 */
#ifndef LG_VMM_EVENT_LOOP_H
#define LG_VMM_EVENT_LOOP_H

#include <stdint.h>

struct evloop;

/* events: EPOLLIN/EPOLLOUT/... as epoll reported them. */
typedef void (*evloop_fn)(void *opaque, uint32_t events);

int evloop_create(struct evloop **out);
void evloop_destroy(struct evloop *loop);

/*
 * Watches fd for events (EPOLLIN, EPOLLOUT, level triggered). One
 * registration per fd. 0 or a negative errno.
 */
int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn,
	       void *opaque);
int evloop_modify(struct evloop *loop, int fd, uint32_t events);
/*
 * Safe from a callback, also for the fd being dispatched: an event
 * already fetched for a deleted fd is dropped. From another thread
 * while the loop runs, a callback already in progress (or about to
 * start) for fd may still run once: keep its opaque alive, or delete on
 * the loop thread (evloop_call()).
 */
int evloop_del(struct evloop *loop, int fd);

/*
 * Runs callbacks until evloop_stop(). 0, or a negative errno if epoll
 * itself failed.
 */
int evloop_run(struct evloop *loop);
/*
 * One turn: waits up to timeout_ms (-1: forever, 0: not at all) and
 * dispatches what is ready. The number of events handled, or a negative
 * errno. For tests and for callers with their own loop.
 */
int evloop_run_once(struct evloop *loop, int timeout_ms);
/* Any thread, async-signal-safe: evloop_run() returns soon. */
void evloop_stop(struct evloop *loop);

/*
 * Runs fn(opaque, 0) on the loop thread soon (from any thread). 0 or a
 * negative errno.
 */
int evloop_call(struct evloop *loop, evloop_fn fn, void *opaque);

/*
 * Runs fn(opaque, 0) on the loop thread and waits for it to finish, when
 * the loop runs on another thread; otherwise (not running, or called on
 * the loop thread) runs it right here. For tearing down what the loop
 * serves from any thread. 0 or a negative errno (fn did not run).
 */
int evloop_call_sync(struct evloop *loop, evloop_fn fn, void *opaque);

#endif
