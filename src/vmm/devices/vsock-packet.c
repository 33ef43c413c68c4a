/* SPDX-License-Identifier: Apache-2.0 */
/* vsock packet header: the wire layout, field by field. */
#include "vmm/devices/vsock-packet.h"

#include <endian.h>
#include <string.h>

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *h)
{
	h->src_cid = get64(raw + 0);
	h->dst_cid = get64(raw + 8);
	h->src_port = get32(raw + 16);
	h->dst_port = get32(raw + 20);
	h->len = get32(raw + 24);
	h->type = get16(raw + 28);
	h->op = get16(raw + 30);
	h->flags = get32(raw + 32);
	h->buf_alloc = get32(raw + 36);
	h->fwd_cnt = get32(raw + 40);
}

void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE])
{
	put64(raw + 0, h->src_cid);
	put64(raw + 8, h->dst_cid);
	put32(raw + 16, h->src_port);
	put32(raw + 20, h->dst_port);
	put32(raw + 24, h->len);
	put16(raw + 28, h->type);
	put16(raw + 30, h->op);
	put32(raw + 32, h->flags);
	put32(raw + 36, h->buf_alloc);
	put32(raw + 40, h->fwd_cnt);
}

const char *vsock_op_name(uint16_t op)
{
	static const char *const names[] = {
		[VSOCK_OP_INVALID] = "invalid",
		[VSOCK_OP_REQUEST] = "request",
		[VSOCK_OP_RESPONSE] = "response",
		[VSOCK_OP_RST] = "rst",
		[VSOCK_OP_SHUTDOWN] = "shutdown",
		[VSOCK_OP_RW] = "rw",
		[VSOCK_OP_CREDIT_UPDATE] = "credit-update",
		[VSOCK_OP_CREDIT_REQUEST] = "credit-request",
	};

	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "unknown";
}
