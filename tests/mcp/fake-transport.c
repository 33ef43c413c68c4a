/* SPDX-License-Identifier: Apache-2.0 */
#include "fake-transport.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fake_start(struct mcp_transport *t,
		      const struct mcp_transport_events *ev, void *opaque,
		      char *err, size_t err_size)
{
	struct fake *f = (struct fake *)t;

	(void)err;
	(void)err_size;
	f->ev = ev;
	f->opaque = opaque;
	return 0;
}

static int fake_send(struct mcp_transport *t, const char *msg, size_t len,
		     char *err, size_t err_size)
{
	struct fake *f = (struct fake *)t;
	json_t *m = json_loadb(msg, len, 0, NULL);

	if (!m || memchr(msg, '\n', len)) {
		snprintf(err, err_size, "client sent bad JSON");
		json_decref(m);
		return -EINVAL;
	}
	pthread_mutex_lock(&f->lock);
	json_array_append_new(f->sent, m);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static void fake_destroy(struct mcp_transport *t)
{
	struct fake *f = (struct fake *)t;

	if (f->destroyed)
		*f->destroyed = 1;
	json_decref(f->sent);
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static const struct mcp_transport_ops fake_ops = {
	.name = "fake",
	.start = fake_start,
	.send = fake_send,
	.destroy = fake_destroy,
};

struct fake *fake_new(int *destroyed)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->base.ops = &fake_ops;
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	f->sent = json_array();
	f->destroyed = destroyed;
	return f;
}

static void deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool matches(json_t *m, const char *method)
{
	const char *got = json_string_value(json_object_get(m, "method"));

	if (!method)
		return !got;
	return got && strcmp(got, method) == 0;
}

json_t *fake_expect(struct fake *f, const char *method)
{
	struct timespec ts;
	json_t *found = NULL;

	deadline(&ts, 5000);
	pthread_mutex_lock(&f->lock);
	for (;;) {
		size_t i;
		json_t *m;

		json_array_foreach(f->sent, i, m)
		{
			if (matches(m, method)) {
				found = json_incref(m);
				json_array_remove(f->sent, i);
				break;
			}
		}
		if (found ||
		    pthread_cond_timedwait(&f->cond, &f->lock, &ts) != 0)
			break;
	}
	pthread_mutex_unlock(&f->lock);
	return found;
}

size_t fake_pending(struct fake *f, int ms)
{
	struct timespec ts;
	size_t n;

	deadline(&ts, ms);
	pthread_mutex_lock(&f->lock);
	while (pthread_cond_timedwait(&f->cond, &f->lock, &ts) == 0)
		;
	n = json_array_size(f->sent);
	pthread_mutex_unlock(&f->lock);
	return n;
}

void fake_deliver(struct fake *f, const char *text)
{
	f->ev->message(f->opaque, text, strlen(text));
}

void fake_deliverf(struct fake *f, const char *fmt, ...)
{
	char buf[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fake_deliver(f, buf);
}

void fake_close(struct fake *f, int err, const char *why)
{
	f->ev->closed(f->opaque, err, why);
}
