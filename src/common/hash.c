/* SPDX-License-Identifier: Apache-2.0 */
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct lg_hash {
	EVP_MD_CTX *ctx;
};

struct lg_hash *lg_hash_new(void)
{
	struct lg_hash *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ctx = EVP_MD_CTX_new();
	if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
		lg_hash_free(h);
		return NULL;
	}
	return h;
}

void lg_hash_free(struct lg_hash *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->ctx);
	free(h);
}

int lg_hash_update(struct lg_hash *h, const void *p, size_t len)
{
	return EVP_DigestUpdate(h->ctx, p, len) == 1 ? 0 : -EIO;
}

int lg_hash_file(struct lg_hash *h, const char *path)
{
	unsigned char buf[1 << 16];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		if (n <= 0)
			break;
		rc = lg_hash_update(h, buf, (size_t)n);
		if (rc)
			break;
	}
	close(fd);
	return rc;
}

int lg_hash_final_hex(struct lg_hash *h, char hex[LG_SHA256_HEX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(h->ctx, md, &len) != 1)
		return -EIO;
	for (unsigned int i = 0; i < len && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = '\0';
	return 0;
}

int lg_sha256_file_hex(const char *path, char hex[LG_SHA256_HEX])
{
	struct lg_hash *h = lg_hash_new();
	int rc;

	if (!h)
		return -ENOMEM;
	rc = lg_hash_file(h, path);
	if (!rc)
		rc = lg_hash_final_hex(h, hex);
	lg_hash_free(h);
	return rc;
}
