/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the snapshot state-file reader, and the device
 * restore functions on every section it accepts. Input: [0] flags, then
 * the file. Flag bit 0 rewrites the header's file size and bit 1 the
 * checksum to match the input, so that the fuzzer gets past them to the
 * section walk and the device parsers; without them it tests the checks.
 * Heap copies of exactly the input's length let ASan see any overread.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "vmm/memory.h"
#include "vmm/serial-state.h"
#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/state-file.h"
#include "vmm/virtio/mmio-state.h"

#define RAM_SIZE 0x4000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fix_size(uint8_t *f, size_t len)
{
	unsigned int i;

	if (len < SNAPSHOT_HEADER_SIZE)
		return;
	for (i = 0; i < 8; i++)
		f[16 + i] = (uint8_t)((uint64_t)len >> (8 * i));
}

static void fix_checksum(uint8_t *f, size_t len)
{
	uint64_t c;
	unsigned int i;

	if (len < SNAPSHOT_CHECKSUM_SIZE)
		return;
	c = crc64(f, len - SNAPSHOT_CHECKSUM_SIZE);
	for (i = 0; i < SNAPSHOT_CHECKSUM_SIZE; i++)
		f[len - SNAPSHOT_CHECKSUM_SIZE + i] = (uint8_t)(c >> (8 * i));
}

static const struct virtio_backend_ops fuzz_ops = {
	.name = "fuzz",
	.device_id = 4,
	.features = 1ull << VIRTIO_F_INDIRECT_DESC, /* as the seeds */
};

/* Every accepted section goes to both device parsers: they must refuse
 * what is not theirs without harm. */
static void restore_devices(const void *buf, size_t len)
{
	static uint8_t ram[RAM_SIZE];
	struct virtio_mmio dev;
	struct serial s;
	struct vm_mem mem;
	uint8_t *copy;

	copy = malloc(len ? len : 1);
	if (!copy)
		return;
	if (len)
		memcpy(copy, buf, len);
	if (serial_init(&s, -1) == 0) {
		serial_restore(&s, copy, len);
		serial_destroy(&s);
	}
	vm_mem_init(&mem);
	mem.regions[0].gpa = 0;
	mem.regions[0].size = RAM_SIZE;
	mem.regions[0].hva = ram;
	mem.nr_regions = 1;
	if (virtio_mmio_init(&dev, &mem, &fuzz_ops, NULL, 2, 16, NULL, NULL) ==
	    0) {
		virtio_mmio_restore(&dev, copy, len);
		virtio_mmio_destroy(&dev);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct snapshot_reader *r;
	char err[SNAPSHOT_ERR_SIZE];
	const char *name;
	const void *buf;
	unsigned int i, n;
	uint8_t *file;
	size_t len;

	if (!quiet) {
		lg_log_set_level(LG_LOG_ERROR + 1);
		quiet = true;
	}
	if (size < 1 || size - 1 > SNAPSHOT_MAX_SIZE)
		return 0;
	len = size - 1;
	file = malloc(len ? len : 1);
	if (!file)
		return 0;
	memcpy(file, data + 1, len);
	if (data[0] & 1)
		fix_size(file, len);
	if (data[0] & 2)
		fix_checksum(file, len);
	if (snapshot_reader_parse(file, len, &r, err, sizeof(err)) == 0) {
		n = snapshot_reader_count(r);
		for (i = 0; i < n; i++) {
			snapshot_reader_section(r, i, &name, &buf, &len);
			if (snapshot_reader_find(r, name, &buf, &len) != 0)
				abort(); /* every listed section is found */
			restore_devices(buf, len);
		}
		snapshot_reader_destroy(r);
	} else if (!err[0]) {
		abort(); /* every refusal says why */
	}
	free(file);
	return 0;
}
