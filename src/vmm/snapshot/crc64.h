/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRC-64/XZ (ECMA-182 polynomial, reflected, init and final xor all
 * ones): the snapshot state file's checksum. Detects corruption, not
 * tampering; the state file is trusted input, as Firecracker's is.
 */
#ifndef LG_VMM_SNAPSHOT_CRC64_H
#define LG_VMM_SNAPSHOT_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* crc64(NULL, 0) == 0; "123456789" gives 0x995dc9bbdf1939fa. */
uint64_t crc64(const void *data, size_t len);

#endif
