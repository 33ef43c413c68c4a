/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The KVM backend's state blobs (kvm-state.c: vCPU, kvm-vm-state.c: VM).
 *
 * Layout (little endian, as the host):
 *   u32 magic ("LKVC" vCPU, "LKVM" VM), u16 version, u16 nr_records,
 *   u32 total length, u32 reserved (0);
 *   records: u32 tag, u32 length, payload, zeros to a multiple of 8.
 * A payload is the KVM x86-64 UAPI structure of its tag, byte for byte
 * (kernel ABI: its layout does not change), except where a tag says
 * otherwise. Any change to the set of records or their meaning bumps the
 * version; a restore refuses other versions, unknown or duplicate tags
 * and wrong lengths. Nothing outside src/vmm/accel includes this.
 */
#ifndef LG_VMM_ACCEL_KVM_STATE_BLOB_H
#define LG_VMM_ACCEL_KVM_STATE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KVM_BLOB_MAGIC_VCPU 0x43564b4cu /* "LKVC" */
#define KVM_BLOB_MAGIC_VM 0x4d564b4cu	/* "LKVM" */
#define KVM_BLOB_VERSION 1u
#define KVM_BLOB_MAX_TAGS 16u /* tags are 1 .. KVM_BLOB_MAX_TAGS - 1 */

/* A blob being built: errors stick in err, checked by kvm_blob_finish(). */
struct kvm_blob {
	uint8_t *buf;
	size_t len, cap;
	uint16_t nr;
	int err;
};

/* One parsed record: a pointer into the blob (8-byte aligned only). */
struct kvm_record {
	const uint8_t *p;
	uint32_t len;
	bool present;
};

void kvm_blob_init(struct kvm_blob *b, uint32_t magic);
void kvm_blob_add(struct kvm_blob *b, uint32_t tag, const void *p, size_t n);
/* The finished blob (free() it), or b's error (the buffer freed). */
int kvm_blob_finish(struct kvm_blob *b, uint8_t **out, size_t *len);

/*
 * Checks a blob against magic and version and indexes its records by
 * tag: every tag in 1 .. last_tag, at most once, with payload length
 * sizes[tag] where that is not 0. 0, -EINVAL or -EPROTONOSUPPORT.
 */
int kvm_blob_parse(const uint8_t *blob, size_t len, uint32_t magic,
		   const uint32_t sizes[KVM_BLOB_MAX_TAGS],
		   unsigned int last_tag,
		   struct kvm_record recs[KVM_BLOB_MAX_TAGS]);

#endif
