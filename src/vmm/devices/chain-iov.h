/* SPDX-License-Identifier: Apache-2.0 */
/* A descriptor chain's buffers as an iovec, for the device backends. */
#ifndef LG_VMM_DEVICES_CHAIN_IOV_H
#define LG_VMM_DEVICES_CHAIN_IOV_H

#include "vmm/virtio/virtqueue.h"

#include <stdint.h>
#include <sys/uio.h>

/*
 * Points iov at up to max bytes of chain segments [first, last) of c,
 * starting skip bytes in, using at most max_iov entries. Returns the
 * number of entries.
 */
int chain_iov_gather(const struct virtq_chain *c, unsigned int first,
		     unsigned int last, uint64_t skip, uint64_t max,
		     struct iovec *iov, int max_iov);

#endif
