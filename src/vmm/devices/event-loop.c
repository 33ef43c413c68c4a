/* SPDX-License-Identifier: Apache-2.0 */
/*
 * epoll event loop. Each watched fd has a heap registration that epoll
 * points at; a deleted registration is marked dead and freed only after
 * the batch of events being dispatched, so a callback may delete any fd
 * (its own included) and a stale event for it is skipped. An eventfd
 * wakes the loop for evloop_stop() and evloop_call().
 */
#include "vmm/event-loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVLOOP_MAX_EVENTS 64

struct evloop_reg {
	int fd;
	evloop_fn fn; /* NULL: the wake eventfd */
	void *opaque;
	bool dead;
	struct evloop_reg *next_dead;
};

struct evloop_call {
	evloop_fn fn;
	void *opaque;
	bool *done; /* evloop_call_sync(): set once fn returned */
	struct evloop_call *next;
};

struct evloop {
	int epfd;
	int wake_fd;
	int stop; /* atomic */
	pthread_mutex_t lock;
	/* Registrations indexed by fd; grows as needed. */
	struct evloop_reg **regs;
	int nr_regs;
	struct evloop_reg wake_reg;
	struct evloop_reg *dead; /* freed after the current batch */
	struct evloop_call *calls, *calls_tail;
	bool running; /* in evloop_run() on `thread` */
	pthread_t thread;
	pthread_cond_t done_cond; /* evloop_call_sync() completions */
};

int evloop_create(struct evloop **out)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct evloop *loop;
	int err;

	*out = NULL;
	loop = calloc(1, sizeof(*loop));
	if (!loop)
		return -ENOMEM;
	loop->epfd = -1;
	loop->wake_fd = -1;
	err = pthread_mutex_init(&loop->lock, NULL);
	if (err) {
		free(loop);
		return -err;
	}
	err = pthread_cond_init(&loop->done_cond, NULL);
	if (err) {
		pthread_mutex_destroy(&loop->lock);
		free(loop);
		return -err;
	}
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		goto fail_errno;
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0)
		goto fail_errno;
	loop->wake_reg.fd = loop->wake_fd;
	ev.data.ptr = &loop->wake_reg;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0)
		goto fail_errno;
	*out = loop;
	return 0;
fail_errno:
	err = -errno;
	evloop_destroy(loop);
	return err;
}

static void free_dead(struct evloop *loop)
{
	struct evloop_reg *reg, *next;

	pthread_mutex_lock(&loop->lock);
	reg = loop->dead;
	loop->dead = NULL;
	pthread_mutex_unlock(&loop->lock);
	for (; reg; reg = next) {
		next = reg->next_dead;
		free(reg);
	}
}

void evloop_destroy(struct evloop *loop)
{
	struct evloop_call *c, *next;
	int fd;

	if (!loop)
		return;
	for (fd = 0; fd < loop->nr_regs; fd++)
		free(loop->regs[fd]);
	free(loop->regs);
	free_dead(loop);
	for (c = loop->calls; c; c = next) {
		next = c->next;
		free(c);
	}
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	if (loop->epfd >= 0)
		close(loop->epfd);
	pthread_cond_destroy(&loop->done_cond);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

/* Makes room for fd in the table; lock held. */
static int grow_regs(struct evloop *loop, int fd)
{
	struct evloop_reg **regs;
	int n = loop->nr_regs ? loop->nr_regs : 64;

	if (fd < loop->nr_regs)
		return 0;
	while (n <= fd) {
		if (n > (1 << 24))
			return -EMFILE;
		n *= 2;
	}
	regs = realloc(loop->regs, (size_t)n * sizeof(*regs));
	if (!regs)
		return -ENOMEM;
	memset(regs + loop->nr_regs, 0,
	       (size_t)(n - loop->nr_regs) * sizeof(*regs));
	loop->regs = regs;
	loop->nr_regs = n;
	return 0;
}

int evloop_add(struct evloop *loop, int fd, uint32_t events, evloop_fn fn,
	       void *opaque)
{
	struct epoll_event ev = {.events = events};
	struct evloop_reg *reg;
	int err;

	if (fd < 0 || !fn)
		return -EINVAL;
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->fd = fd;
	reg->fn = fn;
	reg->opaque = opaque;
	ev.data.ptr = reg;
	pthread_mutex_lock(&loop->lock);
	err = grow_regs(loop, fd);
	if (err < 0)
		goto out;
	if (loop->regs[fd]) {
		err = -EEXIST;
		goto out;
	}
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = -errno;
		goto out;
	}
	loop->regs[fd] = reg;
	reg = NULL;
out:
	pthread_mutex_unlock(&loop->lock);
	free(reg);
	return err;
}

int evloop_modify(struct evloop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = events};
	int err = 0;

	pthread_mutex_lock(&loop->lock);
	if (fd < 0 || fd >= loop->nr_regs || !loop->regs[fd]) {
		err = -ENOENT;
	} else {
		ev.data.ptr = loop->regs[fd];
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			err = -errno;
	}
	pthread_mutex_unlock(&loop->lock);
	return err;
}

int evloop_del(struct evloop *loop, int fd)
{
	struct evloop_reg *reg;
	int err = 0;

	pthread_mutex_lock(&loop->lock);
	if (fd < 0 || fd >= loop->nr_regs || !loop->regs[fd]) {
		pthread_mutex_unlock(&loop->lock);
		return -ENOENT;
	}
	reg = loop->regs[fd];
	loop->regs[fd] = NULL;
	/* A closed fd has already left the epoll set: not an error. */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 &&
	    errno != EBADF && errno != ENOENT)
		err = -errno;
	reg->dead = true;
	reg->next_dead = loop->dead;
	loop->dead = reg;
	pthread_mutex_unlock(&loop->lock);
	return err;
}

static void wake(struct evloop *loop)
{
	uint64_t one = 1;
	ssize_t n;

	/* Only fails when the counter is saturated: the loop wakes anyway. */
	n = write(loop->wake_fd, &one, sizeof(one));
	(void)n;
}

void evloop_stop(struct evloop *loop)
{
	__atomic_store_n(&loop->stop, 1, __ATOMIC_SEQ_CST);
	wake(loop);
}

/* Queues a call; lock held. */
static void queue_call(struct evloop *loop, struct evloop_call *c)
{
	if (loop->calls_tail)
		loop->calls_tail->next = c;
	else
		loop->calls = c;
	loop->calls_tail = c;
}

int evloop_call(struct evloop *loop, evloop_fn fn, void *opaque)
{
	struct evloop_call *c;

	if (!fn)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->opaque = opaque;
	pthread_mutex_lock(&loop->lock);
	queue_call(loop, c);
	pthread_mutex_unlock(&loop->lock);
	wake(loop);
	return 0;
}

int evloop_call_sync(struct evloop *loop, evloop_fn fn, void *opaque)
{
	struct evloop_call *c;
	bool done = false;

	if (!fn)
		return -EINVAL;
	pthread_mutex_lock(&loop->lock);
	if (!loop->running || pthread_equal(loop->thread, pthread_self())) {
		pthread_mutex_unlock(&loop->lock);
		fn(opaque, 0);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		pthread_mutex_unlock(&loop->lock);
		return -ENOMEM;
	}
	c->fn = fn;
	c->opaque = opaque;
	c->done = &done;
	/* Queued while running: run before evloop_run() returns (drain). */
	queue_call(loop, c);
	pthread_mutex_unlock(&loop->lock);
	wake(loop);
	pthread_mutex_lock(&loop->lock);
	while (!done)
		pthread_cond_wait(&loop->done_cond, &loop->lock);
	pthread_mutex_unlock(&loop->lock);
	return 0;
}

/* Runs the queued calls; with `last`, the loop stops being "running". */
static void run_calls(struct evloop *loop, bool last)
{
	struct evloop_call *c, *next;
	uint64_t v;
	ssize_t n;

	n = read(loop->wake_fd, &v, sizeof(v));
	(void)n;
	pthread_mutex_lock(&loop->lock);
	c = loop->calls;
	loop->calls = NULL;
	loop->calls_tail = NULL;
	if (last)
		loop->running = false;
	pthread_mutex_unlock(&loop->lock);
	for (; c; c = next) {
		next = c->next;
		c->fn(c->opaque, 0);
		if (c->done) {
			pthread_mutex_lock(&loop->lock);
			*c->done = true;
			pthread_cond_broadcast(&loop->done_cond);
			pthread_mutex_unlock(&loop->lock);
		}
		free(c);
	}
}

int evloop_run_once(struct evloop *loop, int timeout_ms)
{
	struct epoll_event evs[EVLOOP_MAX_EVENTS];
	int i, n;

	n = epoll_wait(loop->epfd, evs, EVLOOP_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (i = 0; i < n; i++) {
		struct evloop_reg *reg = evs[i].data.ptr;

		if (reg == &loop->wake_reg)
			run_calls(loop, false);
		else if (!reg->dead)
			reg->fn(reg->opaque, evs[i].events);
	}
	free_dead(loop);
	return n;
}

int evloop_run(struct evloop *loop)
{
	int n = 0;

	pthread_mutex_lock(&loop->lock);
	loop->running = true;
	loop->thread = pthread_self();
	pthread_mutex_unlock(&loop->lock);
	while (!__atomic_exchange_n(&loop->stop, 0, __ATOMIC_SEQ_CST)) {
		n = evloop_run_once(loop, -1);
		if (n < 0)
			break;
	}
	/* Synchronous callers queued before this point are waiting. */
	run_calls(loop, true);
	free_dead(loop);
	return n < 0 ? n : 0;
}
