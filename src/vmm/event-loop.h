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
/* Safe from a callback, also for the fd being dispatched. */
int evloop_del(struct evloop *loop, int fd);

/*
 * Runs callbacks until evloop_stop(). 0, or a negative errno if epoll
 * itself failed.
 */
int evloop_run(struct evloop *loop);
/* Any thread, async-signal-safe: evloop_run() returns soon. */
void evloop_stop(struct evloop *loop);

/*
 * Runs fn(opaque, 0) on the loop thread soon (from any thread). 0 or a
 * negative errno.
 */
int evloop_call(struct evloop *loop, evloop_fn fn, void *opaque);

#endif
