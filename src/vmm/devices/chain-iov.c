/* SPDX-License-Identifier: Apache-2.0 */
#include "vmm/devices/chain-iov.h"

int chain_iov_gather(const struct virtq_chain *c, unsigned int first,
		     unsigned int last, uint64_t skip, uint64_t max,
		     struct iovec *iov, int max_iov)
{
	int n = 0;

	for (unsigned int i = first; i < last && max && n < max_iov; i++) {
		const struct virtq_seg *s = &c->segs[i];
		uint64_t take;

		if (skip >= s->len) {
			skip -= s->len;
			continue;
		}
		take = s->len - skip;
		if (take > max)
			take = max;
		iov[n].iov_base = (uint8_t *)s->hva + skip;
		iov[n].iov_len = (size_t)take;
		n++;
		max -= take;
		skip = 0;
	}
	return n;
}
