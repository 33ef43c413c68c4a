// SPDX-License-Identifier: Apache-2.0
/*
 * The SSE parser on hostile streams: the input is split into feeds at
 * points taken from its first byte, with small bounds so the -EMSGSIZE
 * paths run; every event must be NUL-terminated at data_len and the
 * last id must be a bounded string.
 */
#include "mcp/sse.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t total;

static int on_event(void *opaque, const char *type, const char *data,
		    size_t len, const char *last_id)
{
	(void)opaque;
	if (data[len] != '\0' || strlen(last_id) > SSE_MAX_ID ||
	    strlen(type) >= 64 || len > 4096)
		abort();
	total += len;
	return 0;
}

static void on_retry(void *opaque, unsigned long long ms)
{
	(void)opaque;
	(void)ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sse_parser p;
	size_t step, off = 0;

	if (size == 0)
		return 0;
	step = (size_t)(data[0] % 17) + 1;
	data++;
	size--;
	sse_init(&p, 512, 4096, on_event, on_retry, NULL);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		if (sse_feed(&p, (const char *)data + off, n))
			break;
		off += n;
	}
	sse_free(&p);
	return 0;
}
