/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the input lays out guest RAM (descriptor table, avail
 * ring, buffers, indirect tables) and a schedule of avail index bumps; the
 * device side pops every chain, touches every byte of every buffer it was
 * given and pushes them back. RAM is one heap block, so ASan sees any
 * access outside it.
 *
 * Input: [0] log2 queue size (mod 9), [1] bit 0: indirect negotiated,
 * [2] rounds (mod 33), [3] unused, then one control byte per round (low 7
 * bits: avail idx bump, bit 7: hold chains instead of pushing), then the
 * RAM image from RAM_GPA on.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "vmm/memory.h"
#include "vmm/virtio/virtqueue.h"

#define RAM_GPA 0x10000ull
#define RAM_SIZE 0x2000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void touch(const struct virtq_chain *c)
{
	uint8_t sum = 0;
	unsigned int i;
	uint32_t j;

	for (i = 0; i < c->nr_segs; i++) {
		uint8_t *p = c->segs[i].hva;

		if (c->segs[i].writable) {
			memset(p, 0xa5, c->segs[i].len);
		} else {
			for (j = 0; j < c->segs[i].len; j++)
				sum += p[j];
		}
	}
	sink = sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct virtq_chain chain;
	static bool quiet;
	uint16_t held[VIRTQ_MAX_SIZE];
	unsigned int nr_held = 0, rounds, r, i;
	struct vm_mem mem;
	struct virtq q;
	uint16_t qsize;
	uint8_t *ram;
	const uint8_t *ctl;
	uint64_t avail_gpa, used_gpa;

	if (!quiet) {
		lg_log_set_level(LG_LOG_ERROR);
		quiet = true;
	}
	if (size < 4)
		return 0;
	qsize = (uint16_t)(1u << (data[0] % 9));
	rounds = data[2] % 33;
	if (size < 4 + rounds)
		return 0;
	ctl = data + 4;
	ram = calloc(1, RAM_SIZE);
	if (!ram)
		return 0;
	memcpy(ram, data + 4 + rounds,
	       size - 4 - rounds < RAM_SIZE ? size - 4 - rounds : RAM_SIZE);

	/* One region backed by the heap block, not by vm_mem_add's mmap. */
	vm_mem_init(&mem);
	mem.regions[0].gpa = RAM_GPA;
	mem.regions[0].size = RAM_SIZE;
	mem.regions[0].hva = ram;
	mem.nr_regions = 1;

	avail_gpa = RAM_GPA + 16ull * qsize;
	used_gpa = (avail_gpa + 6 + 2ull * qsize + 3) & ~3ull;
	virtq_init(&q, &mem, VIRTQ_MAX_SIZE);
	q.size = qsize;
	q.desc_gpa = RAM_GPA;
	q.avail_gpa = avail_gpa;
	q.used_gpa = used_gpa;
	q.indirect = data[1] & 1;
	if (virtq_enable(&q))
		goto out;

	for (r = 0; r <= rounds && !virtq_broken(&q); r++) {
		uint8_t c = r < rounds ? ctl[r] : 0;
		uint8_t *idx = ram + (avail_gpa - RAM_GPA) + 2;
		uint16_t v;

		memcpy(&v, idx, 2);
		v = (uint16_t)(v + (c & 0x7f));
		memcpy(idx, &v, 2);
		while (virtq_pop(&q, &chain) == 1) {
			touch(&chain);
			if (nr_held >= VIRTQ_MAX_SIZE)
				abort(); /* more in flight than heads */
			held[nr_held++] = chain.head;
		}
		if (c & 0x80)
			continue;
		for (i = 0; i < nr_held; i++) {
			bool was_broken = virtq_broken(&q);

			/* Each popped head pushes once, unless the guest
			 * broke the queue meanwhile. */
			if (virtq_push(&q, held[i], (uint32_t)i) < 0 &&
			    !was_broken)
				abort();
		}
		nr_held = 0;
		virtq_push_needs_irq(&q);
	}
	/* The queue is reusable after a reset, broken or not. */
	virtq_reset(&q);
	if (virtq_broken(&q) || q.ready)
		abort();
out:
	free(ram);
	return 0;
}
