/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the bzImage loader on arbitrary files. The input is
 * the image; its first byte also picks an initrd size (so the placement
 * checks run too). Guest RAM is one region whose bounds ASan knows;
 * whatever the loader accepts must lie inside it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "vmm/boot/bzimage.h"
#include "vmm/memory.h"

#define RAM_SIZE (8ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vm_mem mem;
static uint8_t initrd[64 << 10];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct bzimage_config cfg = {
		.ram_size = RAM_SIZE,
		.cmdline = "console=ttyS0",
		.initrd = initrd,
	};
	struct bzimage_info info;
	const char *why = NULL;

	if (!ready) {
		lg_log_set_level(LG_LOG_ERROR);
		vm_mem_init(&mem);
		if (vm_mem_add(&mem, 0, RAM_SIZE) < 0)
			abort();
		ready = 1;
	}
	if (size > 0)
		cfg.initrd_size = (uint64_t)data[0] * 256;
	if (bzimage_load(&mem, data, size, &cfg, &info, &why) == 0) {
		/* What it reports as loaded must be guest RAM. */
		if (!vm_mem_ptr(&mem, info.kernel_addr, info.kernel_size))
			abort();
	} else if (!why) {
		abort(); /* every refusal says why */
	}
	return 0;
}
