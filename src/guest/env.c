/* SPDX-License-Identifier: Apache-2.0 */
/* The environment execs start with: fixed defaults plus the request's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/* Fixed in both modes, so an exec sees the same defaults in tests. */
static char *const default_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"TERM=linux",
};

/* Length of the KEY in "KEY=VALUE", or -1 if the entry is not one. */
static int env_key_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	if (!eq || eq == entry)
		return -1;
	return (int)(eq - entry);
}

void env_set_defaults(void)
{
	/* PID 1 inherits the kernel's leftovers (unknown cmdline words). */
	clearenv();
	for (size_t i = 0; i < ARRAY_SIZE(default_env); i++) {
		const char *e = default_env[i];
		int klen = env_key_len(e);
		char key[16];

		if (klen < 0 || (size_t)klen >= sizeof(key))
			continue;
		memcpy(key, e, (size_t)klen);
		key[klen] = '\0';
		if (setenv(key, e + klen + 1, 1) < 0)
			agent_log("setenv %s: %s", key, strerror(errno));
	}
}

/* Index of the entry in v[0..n) with the same key as e, or n. */
static size_t env_find(char **v, size_t n, const char *e, int klen)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(v[i], e, (size_t)klen + 1) == 0)
			return i;
	return n;
}

int env_build(char *const *req, size_t n, char ***out)
{
	size_t cnt = ARRAY_SIZE(default_env);
	char **v = calloc(cnt + n + 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	memcpy(v, default_env, sizeof(default_env));
	for (size_t i = 0; i < n; i++) {
		int klen = env_key_len(req[i]);
		size_t j;

		if (klen < 0) {
			free(v);
			return -EINVAL;
		}
		j = env_find(v, cnt, req[i], klen);
		v[j] = req[i];
		if (j == cnt)
			cnt++;
	}
	v[cnt] = NULL;
	*out = v;
	return 0;
}
