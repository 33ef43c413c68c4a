/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: arbitrary bytes into the frame decoder, in chunks whose
 * sizes come from the input, and every decoded payload through the TLV,
 * exec-request and error decoders.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "agent/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void payload_decode(const struct lg_frame *f)
{
	struct lg_exec_req req;
	uint32_t err, u;
	char msg[64];

	if (lg_exec_req_decode(f->payload, f->len, &req) == 0)
		lg_exec_req_free(&req);
	lg_error_decode(f->payload, f->len, &err, msg, sizeof(msg));
	lg_tlv_find_u32(f->payload, f->len, LG_TAG_CREDIT, &u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct lg_decoder d;
	size_t off = 0;
	struct lg_frame f;

	if (size < 1)
		return 0;
	lg_decoder_init(&d);
	while (off < size) {
		size_t chunk = 1 + data[off] % 97;
		int rc;

		off++;
		if (chunk > size - off)
			chunk = size - off;
		off += lg_decoder_fill(&d, data + off, chunk);
		while ((rc = lg_decoder_next(&d, &f)) == 1)
			payload_decode(&f);
		if (rc < 0)
			break;
	}
	return 0;
}
