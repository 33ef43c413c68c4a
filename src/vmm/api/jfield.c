// SPDX-License-Identifier: Apache-2.0
#include "vmm/api/jfield.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 64

void jf_quote(char *dst, size_t dst_size, const char *s)
{
	size_t i, n = 0;

	if (!dst_size)
		return;
	for (i = 0; s[i] && n + 1 < dst_size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == QUOTE_MAX) {
			if (n + 4 < dst_size) {
				memcpy(dst + n, "...", 3);
				n += 3;
			}
			break;
		}
		dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = '\0';
}

/* "a string", "an integer", ...: serde's wording for what was found. */
static const char *type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "a map";
	case JSON_ARRAY:
		return "a sequence";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a floating point number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "a value";
}

static int bad_type(const json_t *v, const char *key, const char *want,
		    char *err, size_t err_size)
{
	snprintf(err, err_size, "invalid type: %s, expected %s for `%s`",
		 type_name(v), want, key);
	return -EINVAL;
}

int jf_expect_object(const json_t *v, const char *what, char *err,
		     size_t err_size)
{
	if (json_is_object(v))
		return 0;
	snprintf(err, err_size, "invalid type: %s, expected an object for %s",
		 type_name(v), what);
	return -EINVAL;
}

int jf_check_keys(const json_t *obj, const char *const *allowed, char *err,
		  size_t err_size)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		const char *const *a;
		char q[QUOTE_MAX + 4];
		size_t n;

		for (a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				break;
		if (*a)
			continue;
		jf_quote(q, sizeof(q), key);
		n = (size_t)snprintf(err, err_size,
				     "unknown field `%s`, expected one of", q);
		for (a = allowed; *a && n < err_size; a++)
			n += (size_t)snprintf(err + n, err_size - n, "%s `%s`",
					      a == allowed ? "" : ",", *a);
		return -EINVAL;
	}
	return 0;
}

int jf_expect_keys(const json_t *v, const char *what,
		   const char *const *allowed, char *err, size_t err_size)
{
	int ret = jf_expect_object(v, what, err, err_size);

	return ret ? ret : jf_check_keys(v, allowed, err, err_size);
}

const json_t *jf_get(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_null(v) ? NULL : v;
}

static int missing(const char *key, char *err, size_t err_size)
{
	snprintf(err, err_size, "missing field `%s`", key);
	return -EINVAL;
}

/* The field's value, NULL (and 0) if optional and not given, or an error. */
static int field(const json_t *obj, const char *key, bool required,
		 const char *want, const json_t **out, char *err,
		 size_t err_size)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v)
		return required ? missing(key, err, err_size) : 0;
	if (json_is_null(v) && !required)
		return 0;
	if (json_is_null(v))
		return bad_type(v, key, want, err, err_size);
	*out = v;
	return 0;
}

int jf_string(const json_t *obj, const char *key, bool required, size_t max_len,
	      char **out, char *err, size_t err_size)
{
	const json_t *v;
	size_t len;
	int ret;

	*out = NULL;
	ret = field(obj, key, required, "a string", &v, err, err_size);
	if (ret || !v)
		return ret;
	if (!json_is_string(v))
		return bad_type(v, key, "a string", err, err_size);
	len = json_string_length(v);
	/* The parser refuses \u0000, but an object built in code may not. */
	if (strlen(json_string_value(v)) != len) {
		snprintf(err, err_size, "`%s` contains a NUL character", key);
		return -ERANGE;
	}
	if (len == 0) {
		snprintf(err, err_size, "`%s` must not be empty", key);
		return -ERANGE;
	}
	if (len > max_len) {
		snprintf(err, err_size,
			 "`%s` is too long (%zu bytes, at most %zu)", key, len,
			 max_len);
		return -ERANGE;
	}
	*out = strdup(json_string_value(v));
	if (!*out) {
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

int jf_bool(const json_t *obj, const char *key, bool required, bool *out,
	    char *err, size_t err_size)
{
	const json_t *v;
	int ret;

	ret = field(obj, key, required, "a boolean", &v, err, err_size);
	if (ret || !v)
		return ret;
	if (!json_is_boolean(v))
		return bad_type(v, key, "a boolean", err, err_size);
	*out = json_is_true(v);
	return 0;
}

int jf_u32(const json_t *obj, const char *key, bool required, uint32_t *out,
	   char *err, size_t err_size)
{
	const json_t *v;
	json_int_t i;
	int ret;

	ret = field(obj, key, required, "an unsigned integer", &v, err,
		    err_size);
	if (ret || !v)
		return ret;
	if (!json_is_integer(v))
		return bad_type(v, key, "an unsigned integer", err, err_size);
	i = json_integer_value(v);
	if (i < 0 || (unsigned long long)i > UINT32_MAX) {
		snprintf(err, err_size,
			 "invalid value: integer `%lld`, expected an integer "
			 "from 0 to %u for `%s`",
			 (long long)i, UINT32_MAX, key);
		return -EINVAL;
	}
	*out = (uint32_t)i;
	return 0;
}

int jf_enum(const json_t *obj, const char *key, bool required,
	    const char *const *names, int *out, char *err, size_t err_size)
{
	const char *const *n;
	const json_t *v;
	char q[QUOTE_MAX + 4];
	size_t len;
	int ret;

	ret = field(obj, key, required, "a string", &v, err, err_size);
	if (ret || !v)
		return ret;
	if (!json_is_string(v))
		return bad_type(v, key, "a string", err, err_size);
	for (n = names; *n; n++) {
		if (strcmp(*n, json_string_value(v)) == 0 &&
		    strlen(*n) == json_string_length(v)) {
			*out = (int)(n - names);
			return 0;
		}
	}
	jf_quote(q, sizeof(q), json_string_value(v));
	len = (size_t)snprintf(err, err_size,
			       "unknown variant `%s`, expected one of", q);
	for (n = names; *n && len < err_size; n++)
		len += (size_t)snprintf(err + len, err_size - len, "%s `%s`",
					n == names ? "" : ",", *n);
	if (len < err_size)
		snprintf(err + len, err_size - len, " for `%s`", key);
	return -EINVAL;
}

int jf_unsupported(const json_t *obj, const char *key, const char *why,
		   char *err, size_t err_size)
{
	if (!jf_get(obj, key))
		return 0;
	snprintf(err, err_size, "`%s` is not supported by lgvmm (%s)", key,
		 why);
	return -EOPNOTSUPP;
}
