/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-vsock packet header (virtio 1.x section 5.10.6, Linux's
 * struct virtio_vsock_hdr): 44 bytes, little endian, then `len` bytes
 * of payload for VSOCK_OP_RW. Stream sockets only.
 */
#ifndef LG_VMM_DEVICES_VSOCK_PACKET_H
#define LG_VMM_DEVICES_VSOCK_PACKET_H

#include <stdint.h>

#define VSOCK_HOST_CID 2u
#define VSOCK_TYPE_STREAM 1u

#define VSOCK_OP_INVALID 0u
#define VSOCK_OP_REQUEST 1u
#define VSOCK_OP_RESPONSE 2u
#define VSOCK_OP_RST 3u
#define VSOCK_OP_SHUTDOWN 4u
#define VSOCK_OP_RW 5u
#define VSOCK_OP_CREDIT_UPDATE 6u
#define VSOCK_OP_CREDIT_REQUEST 7u

#define VSOCK_FLAGS_SHUTDOWN_RCV 1u
#define VSOCK_FLAGS_SHUTDOWN_SEND 2u

#define VSOCK_HDR_SIZE 44u
/* Largest payload of one packet (Firecracker's MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PKT_BUF (64u * 1024)
/* Most iovecs describing one packet's payload. */
#define VSOCK_MAX_IOV 256

struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
};

void vsock_hdr_decode(const uint8_t raw[VSOCK_HDR_SIZE], struct vsock_hdr *h);
void vsock_hdr_encode(const struct vsock_hdr *h, uint8_t raw[VSOCK_HDR_SIZE]);
const char *vsock_op_name(uint16_t op);

#endif
