/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 over files and strings, as lowercase hex (OpenSSL libcrypto). */
#ifndef LG_COMMON_HASH_H
#define LG_COMMON_HASH_H

#include <stddef.h>

#define LG_SHA256_HEX 65 /* 64 hex digits and a NUL */

struct lg_hash;

struct lg_hash *lg_hash_new(void);
void lg_hash_free(struct lg_hash *h);
int lg_hash_update(struct lg_hash *h, const void *p, size_t len);
/* Feeds a file's contents; -errno if it cannot be read. */
int lg_hash_file(struct lg_hash *h, const char *path);
int lg_hash_final_hex(struct lg_hash *h, char hex[LG_SHA256_HEX]);

/* One-shot: the SHA-256 of a file's contents. */
int lg_sha256_file_hex(const char *path, char hex[LG_SHA256_HEX]);

#endif
