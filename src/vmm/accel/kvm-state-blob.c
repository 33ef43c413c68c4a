/* SPDX-License-Identifier: Apache-2.0 */
/* KVM state blobs: building and validating parse (kvm-state-blob.h). */
#include "vmm/accel/kvm-state-blob.h"
#include "vmm/accel/accel-state.h"

#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define KVM_BLOB_HEADER 16u
#define RECORD_HEADER 8u
#define PAD8(n) (((n) + 7u) & ~(size_t)7u)

void kvm_blob_init(struct kvm_blob *b, uint32_t magic)
{
	memset(b, 0, sizeof(*b));
	b->cap = 16384;
	b->buf = calloc(1, b->cap);
	if (!b->buf) {
		b->err = -ENOMEM;
		return;
	}
	memcpy(b->buf, &magic, 4);
	b->len = KVM_BLOB_HEADER;
}

void kvm_blob_add(struct kvm_blob *b, uint32_t tag, const void *p, size_t n)
{
	size_t need;
	uint32_t n32 = (uint32_t)n;

	if (b->err)
		return;
	need = b->len + RECORD_HEADER + PAD8(n);
	if (n > UINT32_MAX || need > ACCEL_STATE_MAX_SIZE) {
		b->err = -E2BIG;
		return;
	}
	if (need > b->cap) {
		size_t cap = b->cap;
		uint8_t *nb;

		while (cap < need)
			cap *= 2;
		nb = realloc(b->buf, cap);
		if (!nb) {
			b->err = -ENOMEM;
			return;
		}
		memset(nb + b->cap, 0, cap - b->cap);
		b->buf = nb;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, &tag, 4);
	memcpy(b->buf + b->len + 4, &n32, 4);
	memcpy(b->buf + b->len + RECORD_HEADER, p, n);
	b->len = need;
	b->nr++;
}

int kvm_blob_finish(struct kvm_blob *b, uint8_t **out, size_t *len)
{
	uint16_t version = KVM_BLOB_VERSION;
	uint32_t total = (uint32_t)b->len;

	if (b->err) {
		free(b->buf);
		return b->err;
	}
	memcpy(b->buf + 4, &version, 2);
	memcpy(b->buf + 6, &b->nr, 2);
	memcpy(b->buf + 8, &total, 4);
	*out = b->buf;
	*len = b->len;
	return 0;
}

int kvm_blob_parse(const uint8_t *blob, size_t len, uint32_t magic,
		   const uint32_t sizes[KVM_BLOB_MAX_TAGS],
		   unsigned int last_tag,
		   struct kvm_record recs[KVM_BLOB_MAX_TAGS])
{
	uint32_t m, total, reserved;
	uint16_t version, nr, i;
	size_t pos = KVM_BLOB_HEADER;

	memset(recs, 0, KVM_BLOB_MAX_TAGS * sizeof(recs[0]));
	if (!blob || len < KVM_BLOB_HEADER || len > ACCEL_STATE_MAX_SIZE) {
		lg_err("kvm: state blob of %zu bytes", len);
		return -EINVAL;
	}
	memcpy(&m, blob, 4);
	memcpy(&version, blob + 4, 2);
	memcpy(&nr, blob + 6, 2);
	memcpy(&total, blob + 8, 4);
	memcpy(&reserved, blob + 12, 4);
	if (m != magic) {
		lg_err("kvm: state blob is not KVM %s state (magic %#x)",
		       magic == KVM_BLOB_MAGIC_VM ? "VM" : "vCPU", m);
		return -EPROTONOSUPPORT;
	}
	if (version != KVM_BLOB_VERSION) {
		lg_err("kvm: state blob version %u, this build reads %u",
		       version, KVM_BLOB_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (total != len || reserved) {
		lg_err("kvm: state blob length %u, given %zu", total, len);
		return -EINVAL;
	}
	for (i = 0; i < nr; i++) {
		uint32_t tag, n;

		if (len - pos < RECORD_HEADER) {
			lg_err("kvm: state record %u past the end", i);
			return -EINVAL;
		}
		memcpy(&tag, blob + pos, 4);
		memcpy(&n, blob + pos + 4, 4);
		pos += RECORD_HEADER;
		if (tag == 0 || tag > last_tag || recs[tag].present) {
			lg_err("kvm: state record %u: %s tag %u", i,
			       tag && tag <= last_tag ? "duplicate" : "unknown",
			       tag);
			return -EINVAL;
		}
		if (PAD8(n) > len - pos || (sizes[tag] && n != sizes[tag])) {
			lg_err("kvm: state record %u (tag %u): bad length %u",
			       i, tag, n);
			return -EINVAL;
		}
		recs[tag] = (struct kvm_record){blob + pos, n, true};
		pos += PAD8(n);
	}
	if (pos != len) {
		lg_err("kvm: %zu stray bytes after the state records",
		       len - pos);
		return -EINVAL;
	}
	return 0;
}
