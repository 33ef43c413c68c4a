/* SPDX-License-Identifier: Apache-2.0 */
/* CRC-64/XZ, a byte at a time from a table built on first use. */
#include "vmm/snapshot/crc64.h"

#include <pthread.h>

#define CRC64_POLY_REFLECTED 0xc96c5795d7870f42ull

static uint64_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void)
{
	unsigned int i, bit;

	for (i = 0; i < 256; i++) {
		uint64_t c = i;

		for (bit = 0; bit < 8; bit++)
			c = c & 1 ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
		table[i] = c;
	}
}

uint64_t crc64(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t c = ~0ull;

	pthread_once(&table_once, table_init);
	while (len--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}
