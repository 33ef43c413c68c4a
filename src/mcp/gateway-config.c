/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The gateway's own keys, inside the "mcp" section:
 *   "gateway": {"http": "127.0.0.1:8080",
 *               "origins": ["https://app.example"],
 *               "token": "literal" | {"env": "VAR"} | {"file": "PATH"},
 *               "builtin_tools": true, "page_size": 100,
 *               "sandbox": {"image": DIR, "backend": "qemu",
 *                           "vcpus": 1, "mem_mib": 256,
 *                           "boot_timeout_s": 60, "exec_timeout_s": 60,
 *                           "max_output": 1048576, "max_file": 8388608}}
 * and per stdio server with "sandbox": true, "copy_in": {"HOST": "GUEST"}.
 * Keys are strict, as in the rest of the config.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "mcp/gateway.h"

static int token_load(json_t *v, char **out, char *err, size_t errlen)
{
	const char *env = json_string_value(json_object_get(v, "env"));
	const char *file = json_string_value(json_object_get(v, "file"));
	char buf[4096];
	size_t n;
	FILE *f;

	if (json_is_string(v)) {
		*out = strdup(json_string_value(v));
		return *out ? 0 : -ENOMEM;
	}
	if (!json_is_object(v) || json_object_size(v) != 1 || (!env && !file)) {
		snprintf(err, errlen,
			 "gateway.token: a string, {\"env\": NAME} or "
			 "{\"file\": PATH}");
		return -EINVAL;
	}
	if (env) {
		const char *val = getenv(env);

		if (!val || !val[0]) {
			snprintf(err, errlen,
				 "gateway.token: environment variable %s is "
				 "not set",
				 env);
			return -EINVAL;
		}
		*out = strdup(val);
		return *out ? 0 : -ENOMEM;
	}
	f = fopen(file, "re");
	if (!f) {
		snprintf(err, errlen, "gateway.token: %s: %s", file,
			 strerror(errno));
		return -EINVAL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (!n) {
		snprintf(err, errlen, "gateway.token: %s is empty", file);
		return -EINVAL;
	}
	*out = strdup(buf);
	memset(buf, 0, sizeof(buf));
	return *out ? 0 : -ENOMEM;
}

static int uint_key(json_t *v, const char *key, unsigned long min,
		    unsigned long max, unsigned long *out, char *err,
		    size_t errlen)
{
	json_int_t n = json_integer_value(v);

	if (!json_is_integer(v) || n < (json_int_t)min ||
	    (unsigned long)n > max) {
		snprintf(err, errlen,
			 "gateway.sandbox.%s wants a whole number from %lu "
			 "to %lu",
			 key, min, max);
		return -EINVAL;
	}
	*out = (unsigned long)n;
	return 0;
}

static int sandbox_parse(json_t *sb, struct gateway_config *gc, char *err,
			 size_t errlen)
{
	static const struct {
		const char *key;
		unsigned long min, max;
	} nums[] = {
		{"vcpus", 1, 32},
		{"mem_mib", 64, 65536},
		{"boot_timeout_s", 1, 3600},
		{"exec_timeout_s", 1, 86400},
		{"max_output", 1024, 1ul << 30},
		{"max_file", 1024, 1ul << 30},
	};
	const char *key;
	json_t *v;

	json_object_foreach(sb, key, v)
	{
		unsigned long n = 0;
		size_t i;

		if (strcmp(key, "image") == 0 || strcmp(key, "backend") == 0) {
			if (!json_is_string(v)) {
				snprintf(err, errlen,
					 "gateway.sandbox.%s wants a string",
					 key);
				return -EINVAL;
			}
			*(key[0] == 'i' ? &gc->vm.image : &gc->vm.backend) =
				json_string_value(v);
			continue;
		}
		for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
			if (strcmp(key, nums[i].key) == 0)
				break;
		if (i == sizeof(nums) / sizeof(nums[0])) {
			snprintf(err, errlen, "unknown key gateway.sandbox.%s",
				 key);
			return -EINVAL;
		}
		if (uint_key(v, key, nums[i].min, nums[i].max, &n, err,
			     errlen) < 0)
			return -EINVAL;
		switch (i) {
		case 0:
			gc->vm.vcpus = (unsigned)n;
			break;
		case 1:
			gc->vm.mem_mib = (unsigned)n;
			break;
		case 2:
			gc->vm.boot_timeout_s = (unsigned)n;
			break;
		case 3:
			gc->exec_timeout_s = (unsigned)n;
			break;
		case 4:
			gc->max_output = n;
			break;
		default:
			gc->max_file = n;
			break;
		}
	}
	return 0;
}

static int origins_parse(json_t *v, struct gateway_config *gc, char *err,
			 size_t errlen)
{
	size_t i;
	json_t *o;

	if (!json_is_array(v)) {
		snprintf(err, errlen, "gateway.origins wants an array");
		return -EINVAL;
	}
	gc->origins = calloc(json_array_size(v) + 1, sizeof(char *));
	if (!gc->origins)
		return -ENOMEM;
	json_array_foreach(v, i, o)
	{
		if (!json_is_string(o)) {
			snprintf(err, errlen,
				 "gateway.origins wants strings like "
				 "\"https://host:port\"");
			return -EINVAL;
		}
		if (!(gc->origins[i] = strdup(json_string_value(o))))
			return -ENOMEM;
	}
	return 0;
}

static int gateway_keys(json_t *gw, struct gateway_config *gc, char *err,
			size_t errlen)
{
	const char *key;
	json_t *v;
	int rc = 0;

	json_object_foreach(gw, key, v)
	{
		if (strcmp(key, "http") == 0 && json_is_string(v))
			rc = (gc->http = strdup(json_string_value(v)))
				     ? 0
				     : -ENOMEM;
		else if (strcmp(key, "origins") == 0)
			rc = origins_parse(v, gc, err, errlen);
		else if (strcmp(key, "token") == 0)
			rc = token_load(v, &gc->token, err, errlen);
		else if (strcmp(key, "builtin_tools") == 0 &&
			 json_is_boolean(v))
			gc->builtin_tools = json_is_true(v);
		else if (strcmp(key, "page_size") == 0 && json_is_integer(v) &&
			 json_integer_value(v) >= 1 &&
			 json_integer_value(v) <= 1000)
			gc->page_size = (unsigned)json_integer_value(v);
		else if (strcmp(key, "sandbox") == 0 && json_is_object(v))
			rc = sandbox_parse(v, gc, err, errlen);
		else {
			snprintf(err, errlen,
				 "unknown or mistyped key mcp.gateway.%s", key);
			rc = -EINVAL;
		}
		if (rc)
			return rc;
	}
	return 0;
}

json_t *gateway_copy_in(const struct gateway_config *gc, const char *server)
{
	return json_object_get(
		json_object_get(json_object_get(gc->section, "servers"),
				server),
		"copy_in");
}

/* Per server: "copy_in" only makes sense for a sandboxed stdio server. */
static int copy_in_check(const struct gateway_config *gc,
			 const struct mcp_server_config *s, char *err,
			 size_t errlen)
{
	json_t *c = s->copy_in, *g;
	const char *host;

	(void)gc;
	if (!c)
		return 0;
	if (!json_is_object(c) || !s->sandbox) {
		snprintf(err, errlen,
			 "mcp.servers.%s.copy_in: an object {\"HOST\": "
			 "\"GUEST\"} for a server with \"sandbox\": true",
			 s->name);
		return -EINVAL;
	}
	json_object_foreach(c, host, g)
	{
		const char *gp = json_string_value(g);

		if (!gp || gp[0] != '/' || host[0] != '/') {
			snprintf(err, errlen,
				 "mcp.servers.%s.copy_in: absolute host "
				 "and guest paths",
				 s->name);
			return -EINVAL;
		}
	}
	return 0;
}

int gateway_config_parse(json_t *section, const struct mcp_config *mcp,
			 struct gateway_config *gc, char *err, size_t errlen)
{
	json_t *gw = json_object_get(section, "gateway");
	const char *env_token = getenv("LUMINAGUARD_MCP_TOKEN");
	int rc = 0;

	memset(gc, 0, sizeof(*gc));
	gc->builtin_tools = true;
	gc->vm.cancel_fd = -1;
	gc->section = section ? json_incref(section) : json_object();
	if (gw && !json_is_object(gw)) {
		snprintf(err, errlen, "mcp.gateway wants an object");
		return -EINVAL;
	}
	if (gw)
		rc = gateway_keys(gw, gc, err, errlen);
	for (size_t i = 0; !rc && i < mcp->n_servers; i++)
		rc = copy_in_check(gc, &mcp->servers[i], err, errlen);
	if (!rc && !gc->token && env_token && env_token[0])
		rc = (gc->token = strdup(env_token)) ? 0 : -ENOMEM;
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	if (rc)
		gateway_config_free(gc);
	return rc;
}

void gateway_config_free(struct gateway_config *gc)
{
	for (size_t i = 0; gc->origins && gc->origins[i]; i++)
		free(gc->origins[i]);
	free(gc->origins);
	if (gc->token) {
		memset(gc->token, 0, strlen(gc->token));
		free(gc->token);
	}
	free(gc->http);
	json_decref(gc->section);
	memset(gc, 0, sizeof(*gc));
	gc->vm.cancel_fd = -1;
}

static int config_path(const char *path, char *buf, size_t len, bool *explicit)
{
	const char *env = getenv("LUMINAGUARD_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	*explicit = path || (env && env[0]);
	if (path)
		return lg_path_fmt(buf, len, "%s", path);
	if (env && env[0])
		return lg_path_fmt(buf, len, "%s", env);
	if (xdg && xdg[0] == '/')
		return lg_path_fmt(buf, len, "%s/luminaguard/config.json", xdg);
	if (home && home[0] == '/')
		return lg_path_fmt(buf, len,
				   "%s/.config/luminaguard/config.json", home);
	return -ENOENT;
}

int gateway_config_load(const char *path, struct mcp_config *mcp,
			struct gateway_config *gc, char *err, size_t errlen)
{
	char p[4096];
	json_error_t jerr;
	json_t *root = NULL, *section;
	bool explicit = false;
	int rc;

	memset(mcp, 0, sizeof(*mcp));
	rc = config_path(path, p, sizeof(p), &explicit);
	if (rc == 0 && (explicit || access(p, F_OK) == 0)) {
		root = json_load_file(p, JSON_REJECT_DUPLICATES, &jerr);
		if (!root) {
			snprintf(err, errlen, "config %s: %s (line %d)", p,
				 jerr.text, jerr.line);
			return -EINVAL;
		}
	}
	section = json_object_get(root, "mcp");
	if (section && !json_is_object(section)) {
		json_decref(root);
		snprintf(err, errlen, "config %s: \"mcp\" wants an object", p);
		return -EINVAL;
	}
	/* mcp-config.c keeps "gateway" and "copy_in" for us. */
	rc = section ? mcp_config_parse(section, mcp, err, errlen) : 0;
	if (!rc) {
		rc = gateway_config_parse(section, mcp, gc, err, errlen);
		if (rc)
			mcp_config_free(mcp);
	}
	json_decref(root);
	return rc;
}
