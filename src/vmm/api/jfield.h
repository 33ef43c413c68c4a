/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Strict reading of JSON objects from hostile sources: unknown keys,
 * wrong types and missing required fields are errors, and every error
 * names the field. Optional fields that are absent or null count as
 * "not given" (as serde's Option does, so Firecracker's own GET output
 * reads back). Return codes: -EINVAL malformed, -ERANGE bad value,
 * -EOPNOTSUPP a feature that is not implemented, -ENOMEM.
 */
#ifndef LG_VMM_API_JFIELD_H
#define LG_VMM_API_JFIELD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int jf_expect_object(const json_t *v, const char *what, char *err,
		     size_t err_size);
/* allowed: NULL-terminated list of the field names the object may have. */
int jf_check_keys(const json_t *obj, const char *const *allowed, char *err,
		  size_t err_size);
/* Both: v is an object (named what in the fault) with only allowed keys. */
int jf_expect_keys(const json_t *v, const char *what,
		   const char *const *allowed, char *err, size_t err_size);
/* The value of an optional field, or NULL when absent or null. */
const json_t *jf_get(const json_t *obj, const char *key);

/*
 * *out: a malloc'd copy, or NULL when an optional field is not given.
 * Empty strings and strings longer than max_len are -ERANGE.
 */
int jf_string(const json_t *obj, const char *key, bool required, size_t max_len,
	      char **out, char *err, size_t err_size);
/* *out is left alone when an optional field is not given. */
int jf_bool(const json_t *obj, const char *key, bool required, bool *out,
	    char *err, size_t err_size);
/* An integer in 0..UINT32_MAX; *out left alone when not given. */
int jf_u32(const json_t *obj, const char *key, bool required, uint32_t *out,
	   char *err, size_t err_size);
/* One of names (NULL-terminated); *out: its index. */
int jf_enum(const json_t *obj, const char *key, bool required,
	    const char *const *names, int *out, char *err, size_t err_size);
/*
 * -EOPNOTSUPP unless the field is absent or null; why: a few words for
 * the message ("rate limiters are not implemented").
 */
int jf_unsupported(const json_t *obj, const char *key, const char *why,
		   char *err, size_t err_size);

/* Copies s for a message: at most 64 bytes, printable ASCII only. */
void jf_quote(char *dst, size_t dst_size, const char *s);

#endif
