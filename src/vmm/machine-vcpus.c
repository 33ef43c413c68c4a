/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vCPU threads of the machine, and pause/resume: a pause asks every vCPU
 * to leave the guest and waits until all are parked on a condition
 * variable; resume wakes them. The lock orders a pause request against a
 * vCPU clearing an old one, so no request is lost.
 */
#include "vmm/machine-priv.h"

#include "common/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int machine_cpus_init(struct machine *m)
{
	int err;

	err = pthread_mutex_init(&m->cpus.lock, NULL);
	if (err)
		return -err;
	err = pthread_cond_init(&m->cpus.cond, NULL);
	if (err) {
		pthread_mutex_destroy(&m->cpus.lock);
		return -err;
	}
	m->cpus.want = MACHINE_RUN;
	return 0;
}

/* Parks after a stop request. false: the thread is to end. */
static bool vcpu_park(struct machine *m, struct vcpu *v)
{
	struct machine_cpus *c = &m->cpus;
	bool go_on;

	pthread_mutex_lock(&c->lock);
	c->parked++;
	pthread_cond_broadcast(&c->cond);
	while (c->want == MACHINE_PAUSE)
		pthread_cond_wait(&c->cond, &c->lock);
	c->parked--;
	go_on = c->want == MACHINE_RUN;
	if (go_on)
		__atomic_store_n(&v->stop_requested, 0, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&c->lock);
	return go_on;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct machine *m = v->opaque;
	enum vcpu_stop_reason why;
	char msg[64];
	int r;

	for (;;) {
		r = vcpu_run(v, &why);
		if (r < 0) {
			snprintf(msg, sizeof(msg), "vCPU %u failed: %s", v->id,
				 strerror(-r));
			machine_guest_exit(m, 1, msg);
			break;
		}
		if (why == VCPU_STOP_SHUTDOWN) {
			machine_guest_exit(m, 0, "the guest reset the machine");
			break;
		}
		if (why == VCPU_STOP_HLT) {
			/* Only without an irqchip: nothing can wake it. */
			machine_guest_exit(m, 0, "the guest halted");
			break;
		}
		if (!vcpu_park(m, v))
			break;
	}
	pthread_mutex_lock(&m->cpus.lock);
	m->cpus.alive--;
	pthread_cond_broadcast(&m->cpus.cond);
	pthread_mutex_unlock(&m->cpus.lock);
	return NULL;
}

int machine_start(struct machine *m, char *err, size_t err_size)
{
	unsigned int i;
	int r;

	for (i = 0; i < m->nr_vcpus; i++) {
		pthread_mutex_lock(&m->cpus.lock);
		m->cpus.alive++;
		pthread_mutex_unlock(&m->cpus.lock);
		r = pthread_create(&m->cpus.threads[i], NULL, vcpu_thread,
				   m->vcpus[i]);
		if (r) {
			pthread_mutex_lock(&m->cpus.lock);
			m->cpus.alive--;
			pthread_mutex_unlock(&m->cpus.lock);
			snprintf(err, err_size, "cannot start vCPU %u: %s", i,
				 strerror(r));
			machine_cpus_stop(m);
			return -r;
		}
		m->cpus.started[i] = true;
	}
	return 0;
}

int machine_start_paused(struct machine *m, char *err, size_t err_size)
{
	unsigned int i;

	/* Each thread's first vcpu_run() returns at once and parks. */
	pthread_mutex_lock(&m->cpus.lock);
	m->cpus.want = MACHINE_PAUSE;
	pthread_mutex_unlock(&m->cpus.lock);
	for (i = 0; i < m->nr_vcpus; i++)
		__atomic_store_n(&m->vcpus[i]->stop_requested, 1,
				 __ATOMIC_SEQ_CST);
	return machine_start(m, err, err_size);
}

int machine_pause(struct machine *m)
{
	struct machine_cpus *c = &m->cpus;
	unsigned int i;

	pthread_mutex_lock(&c->lock);
	if (c->want == MACHINE_EXIT) {
		pthread_mutex_unlock(&c->lock);
		return -ESHUTDOWN;
	}
	c->want = MACHINE_PAUSE;
	for (i = 0; i < m->nr_vcpus; i++)
		if (c->started[i])
			vcpu_request_stop(m->vcpus[i]);
	while (c->parked < c->alive)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int machine_resume(struct machine *m)
{
	struct machine_cpus *c = &m->cpus;

	pthread_mutex_lock(&c->lock);
	if (c->want == MACHINE_EXIT) {
		pthread_mutex_unlock(&c->lock);
		return -ESHUTDOWN;
	}
	c->want = MACHINE_RUN;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

void machine_cpus_stop(struct machine *m)
{
	struct machine_cpus *c = &m->cpus;
	unsigned int i;

	pthread_mutex_lock(&c->lock);
	c->want = MACHINE_EXIT;
	for (i = 0; i < m->nr_vcpus; i++)
		if (c->started[i])
			vcpu_request_stop(m->vcpus[i]);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	for (i = 0; i < m->nr_vcpus; i++) {
		if (!c->started[i])
			continue;
		pthread_join(c->threads[i], NULL);
		c->started[i] = false;
	}
}
