/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The "mcp" config section: strict, every key checked, every error names
 * the key ("mcp.servers.fs.command: ..."), so a typo is never ignored.
 */
#include "mcp/mcp-config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int bad(char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '_' && *s != '-')
			return false;
	return true;
}

static bool url_valid(json_t *v)
{
	const char *s = json_string_value(v);

	return s &&
	       (strncmp(s, "http://", 7) == 0 ||
		strncmp(s, "https://", 8) == 0) &&
	       strlen(s) > 8;
}

/* A NULL-terminated vector of the strings of a non-empty array. */
static int strings_take(json_t *arr, const char ***out)
{
	size_t i;
	json_t *v;

	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return -EINVAL;
	*out = calloc(json_array_size(arr) + 1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v) || !json_string_value(v)[0])
			return -EINVAL;
		(*out)[i] = json_string_value(v);
	}
	return 0;
}

static int uint_get(json_t *v, const char *where, const char *key,
		    unsigned int max, unsigned int *out, char *err, size_t n)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max)
		return bad(err, n, "%s.%s: wants a whole number from 0 to %u",
			   where, key, max);
	*out = (unsigned int)json_integer_value(v);
	return 0;
}

static int env_take(struct mcp_server_config *s, json_t *env, const char *where,
		    char *err, size_t n)
{
	const char *key;
	size_t k = 0;
	json_t *v;

	if (!json_is_object(env))
		return bad(err, n, "%s.env: wants an object of strings", where);
	s->env = calloc(json_object_size(env) + 1, sizeof(*s->env));
	if (!s->env)
		return -ENOMEM;
	json_object_foreach(env, key, v)
	{
		if (!key[0] || strchr(key, '='))
			return bad(err, n, "%s.env: bad variable name \"%s\"",
				   where, key);
		if (!json_is_string(v))
			return bad(err, n, "%s.env.%s: wants a string", where,
				   key);
		if (asprintf(&s->env[k++], "%s=%s", key, json_string_value(v)) <
		    0) {
			s->env[--k] = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

static int stdio_key(struct mcp_server_config *s, const char *key, json_t *v,
		     const char *where, char *err, size_t n)
{
	if (strcmp(key, "command") == 0) {
		int rc = strings_take(v, &s->argv);

		if (rc == -EINVAL)
			return bad(err, n,
				   "%s.command: wants a non-empty array of "
				   "non-empty strings (argv, no shell)",
				   where);
		return rc;
	}
	if (strcmp(key, "env") == 0)
		return env_take(s, v, where, err, n);
	if (strcmp(key, "cwd") == 0) {
		if (!json_is_string(v) || !json_string_value(v)[0])
			return bad(err, n, "%s.cwd: wants a directory", where);
		s->cwd = json_string_value(v);
		return 0;
	}
	if (strcmp(key, "restart") == 0 || strcmp(key, "sandbox") == 0) {
		if (!json_is_boolean(v))
			return bad(err, n, "%s.%s: wants true or false", where,
				   key);
		*(key[0] == 'r' ? &s->restart : &s->sandbox) = json_is_true(v);
		return 0;
	}
	if (strcmp(key, "copy_in") == 0) {
		/* The gateway's key: it checks the contents. */
		if (!json_is_object(v))
			return bad(err, n,
				   "%s.copy_in: wants an object {\"HOST\": "
				   "\"GUEST\"}",
				   where);
		s->copy_in = v;
		return 0;
	}
	return -ENOENT;
}

static int header_take(struct mcp_http_header *h, const char *key, json_t *v,
		       const char *where, char *err, size_t n)
{
	json_t *env = json_object_get(v, "env"), *file;

	h->name = key;
	if (!key[0] || strpbrk(key, ": \t\r\n"))
		return bad(err, n, "%s.headers: bad header name \"%s\"", where,
			   key);
	if (json_is_string(v)) {
		h->value = json_string_value(v);
		return 0;
	}
	file = json_object_get(v, "file");
	if (!json_is_object(v) || json_object_size(v) != 1 ||
	    (!json_is_string(env) && !json_is_string(file)))
		return bad(err, n,
			   "%s.headers.%s: wants a string, {\"env\": VAR} or "
			   "{\"file\": PATH}",
			   where, key);
	h->value_env = json_string_value(env);
	h->value_file = json_string_value(file);
	return 0;
}

static int headers_take(struct mcp_server_config *s, json_t *v,
			const char *where, char *err, size_t n)
{
	const char *key;
	size_t k = 0;
	json_t *h;
	int rc;

	if (!json_is_object(v) || json_object_size(v) > MCP_HTTP_MAX_HEADERS)
		return bad(err, n,
			   "%s.headers: wants an object of at most %u "
			   "headers",
			   where, MCP_HTTP_MAX_HEADERS);
	s->headers = calloc(json_object_size(v) + 1, sizeof(*s->headers));
	if (!s->headers)
		return -ENOMEM;
	json_object_foreach(v, key, h)
	{
		rc = header_take(&s->headers[k++], key, h, where, err, n);
		if (rc < 0)
			return rc;
	}
	s->http.headers = s->headers;
	s->http.n_headers = k;
	return 0;
}

static int retry_take(struct mcp_retry_policy *p, json_t *v, const char *where,
		      char *err, size_t n)
{
	static const struct {
		const char *key;
		size_t off;
	} ints[] = {
		{"initial_ms", offsetof(struct mcp_retry_policy, initial_ms)},
		{"max_ms", offsetof(struct mcp_retry_policy, max_ms)},
		{"max_attempts",
		 offsetof(struct mcp_retry_policy, max_attempts)},
		{"deadline_ms", offsetof(struct mcp_retry_policy, deadline_ms)},
		{"cooldown_ms", offsetof(struct mcp_retry_policy, cooldown_ms)},
	};
	char here[160];
	const char *key;
	json_t *x;

	snprintf(here, sizeof(here), "%s.retry", where);
	if (!json_is_object(v))
		return bad(err, n, "%s: wants an object", here);
	json_object_foreach(v, key, x)
	{
		bool done = false;

		for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
			if (strcmp(key, ints[i].key) != 0)
				continue;
			if (uint_get(x, here, key, 86400000u,
				     (unsigned int *)((char *)p + ints[i].off),
				     err, n) < 0)
				return -EINVAL;
			done = true;
		}
		if (done)
			continue;
		if (strcmp(key, "multiplier") == 0 && json_is_number(x) &&
		    json_number_value(x) >= 1.0 && json_number_value(x) <= 16) {
			p->multiplier = json_number_value(x);
		} else if (strcmp(key, "jitter") == 0 && json_is_number(x) &&
			   json_number_value(x) >= 0 &&
			   json_number_value(x) <= 1) {
			p->jitter = json_number_value(x);
		} else if (strcmp(key, "multiplier") == 0 ||
			   strcmp(key, "jitter") == 0) {
			return bad(err, n, "%s.%s: wants a number (%s)", here,
				   key, key[0] == 'm' ? "1 to 16" : "0 to 1");
		} else {
			return bad(err, n, "%s: unknown key \"%s\"", here, key);
		}
	}
	return 0;
}

static int http_string(struct mcp_server_config *s, const char *key, json_t *v,
		       const char *where, char *err, size_t n)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"ca_file", offsetof(struct mcp_http_opts, ca_file)},
		{"ca_path", offsetof(struct mcp_http_opts, ca_path)},
		{"client_cert", offsetof(struct mcp_http_opts, client_cert)},
		{"client_key", offsetof(struct mcp_http_opts, client_key)},
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].key) != 0)
			continue;
		if (!json_is_string(v) || !json_string_value(v)[0])
			return bad(err, n, "%s.%s: wants a path", where, key);
		*(const char **)((char *)&s->http + keys[i].off) =
			json_string_value(v);
		return 0;
	}
	return -ENOENT;
}

static int http_key(struct mcp_server_config *s, const char *key, json_t *v,
		    const char *where, char *err, size_t n)
{
	if (strcmp(key, "url") == 0 || strcmp(key, "urls") == 0) {
		json_t *arr = v;
		size_t i;
		json_t *u;

		if (s->urls)
			return bad(err, n,
				   "%s: give \"url\" or \"urls\", not "
				   "both",
				   where);
		if (strcmp(key, "url") == 0) {
			if (!url_valid(v))
				return bad(err, n,
					   "%s.url: wants an http:// "
					   "or https:// URL",
					   where);
			s->urls = calloc(2, sizeof(*s->urls));
			if (!s->urls)
				return -ENOMEM;
			s->urls[0] = json_string_value(v);
			s->http.urls = s->urls;
			s->http.n_urls = 1;
			return 0;
		}
		json_array_foreach(arr, i, u)
		{
			if (!url_valid(u))
				return bad(err, n,
					   "%s.urls: wants http:// or "
					   "https:// URLs",
					   where);
		}
		if (strings_take(arr, &s->urls) < 0)
			return bad(err, n,
				   "%s.urls: wants a non-empty array "
				   "of URLs",
				   where);
		s->http.urls = s->urls;
		s->http.n_urls = json_array_size(arr);
		return 0;
	}
	if (strcmp(key, "headers") == 0)
		return headers_take(s, v, where, err, n);
	if (strcmp(key, "retry") == 0)
		return retry_take(&s->retry, v, where, err, n);
	if (strcmp(key, "connect_timeout_ms") == 0)
		return uint_get(v, where, key, 3600000u,
				&s->http.connect_timeout_ms, err, n);
	if (strcmp(key, "request_timeout_ms") == 0)
		return uint_get(v, where, key, 86400000u,
				&s->http.request_timeout_ms, err, n);
	if (strcmp(key, "tls_insecure") == 0) {
		if (!json_is_boolean(v))
			return bad(err, n, "%s.%s: wants true or false", where,
				   key);
		s->http.tls_insecure = json_is_true(v);
		return 0;
	}
	return http_string(s, key, v, where, err, n);
}

static int server_take(struct mcp_server_config *s, const char *name,
		       json_t *obj, char *err, size_t n)
{
	bool is_stdio = json_object_get(obj, "command") != NULL;
	bool is_http =
		json_object_get(obj, "url") || json_object_get(obj, "urls");
	char where[128];
	const char *key;
	json_t *v;
	int rc;

	snprintf(where, sizeof(where), "mcp.servers.%s", name);
	if (!name_valid(name))
		return bad(err, n,
			   "%s: server names are 1-64 of A-Z a-z 0-9 "
			   "_ -",
			   where);
	if (!json_is_object(obj))
		return bad(err, n, "%s: wants an object", where);
	if (is_stdio == is_http)
		return bad(err, n,
			   "%s: give either \"command\" (stdio) or "
			   "\"url\"/\"urls\" (HTTP)",
			   where);
	s->name = name;
	s->raw = obj;
	s->kind = is_stdio ? MCP_SERVER_STDIO : MCP_SERVER_HTTP;
	mcp_retry_policy_default(&s->retry);
	s->http.retry = &s->retry;
	json_object_foreach(obj, key, v)
	{
		if (strcmp(key, "timeout_ms") == 0)
			rc = uint_get(v, where, key, 86400000u, &s->timeout_ms,
				      err, n);
		else if (is_stdio)
			rc = stdio_key(s, key, v, where, err, n);
		else
			rc = http_key(s, key, v, where, err, n);
		if (rc == -ENOENT)
			return bad(err, n, "%s: unknown key \"%s\"%s", where,
				   key,
				   is_stdio ? " (for a stdio server)"
					    : " (for an HTTP server)");
		if (rc == -ENOMEM)
			return bad(err, n, "out of memory");
		if (rc < 0)
			return rc;
	}
	return 0;
}

int mcp_config_parse(json_t *mcp, struct mcp_config *cfg, char *err,
		     size_t err_size)
{
	json_t *servers, *v;
	const char *key;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (!json_is_object(mcp))
		return bad(err, err_size, "mcp: wants an object");
	cfg->root = json_incref(mcp);
	json_object_foreach(mcp, key, v)
	{
		if (strcmp(key, "gateway") == 0 && json_is_object(v)) {
			/* The gateway's section: gateway-config.c parses it. */
			cfg->gateway = v;
		} else if (strcmp(key, "gateway") == 0) {
			mcp_config_free(cfg);
			return bad(err, err_size,
				   "mcp.gateway: wants an object");
		} else if (strcmp(key, "servers") != 0) {
			mcp_config_free(cfg);
			return bad(err, err_size, "mcp: unknown key \"%s\"",
				   key);
		}
	}
	servers = json_object_get(mcp, "servers");
	if (!servers)
		return 0;
	if (!json_is_object(servers)) {
		mcp_config_free(cfg);
		return bad(err, err_size, "mcp.servers: wants an object");
	}
	cfg->servers =
		calloc(json_object_size(servers) + 1, sizeof(*cfg->servers));
	if (!cfg->servers) {
		mcp_config_free(cfg);
		return bad(err, err_size, "out of memory");
	}
	json_object_foreach(servers, key, v)
	{
		rc = server_take(&cfg->servers[cfg->n_servers++], key, v, err,
				 err_size);
		if (rc < 0) {
			mcp_config_free(cfg);
			return rc;
		}
	}
	return 0;
}

static int default_path(char *buf, size_t len, bool *explicit)
{
	const char *env = getenv("LUMINAGUARD_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	*explicit = env && env[0];
	if (*explicit)
		n = snprintf(buf, len, "%s", env);
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/luminaguard/config.json", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.config/luminaguard/config.json",
			     home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int mcp_config_load(const char *path, struct mcp_config *cfg, char *err,
		    size_t err_size)
{
	char buf[PATH_MAX], inner[384];
	bool explicit = path != NULL;
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (!path) {
		if (default_path(buf, sizeof(buf), &explicit) < 0)
			return 0;
		path = buf;
	}
	if (!explicit && access(path, F_OK) < 0)
		return 0;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(err, err_size, "config %s: %s (line %d)", path,
			 jerr.text, jerr.line);
		return -EINVAL;
	}
	if (!json_is_object(root) || !json_object_get(root, "mcp")) {
		rc = json_is_object(root) ? 0 : -EINVAL;
		if (rc)
			snprintf(err, err_size, "config %s: not an object",
				 path);
		json_decref(root);
		return rc;
	}
	rc = mcp_config_parse(json_object_get(root, "mcp"), cfg, inner,
			      sizeof(inner));
	if (rc < 0)
		snprintf(err, err_size, "config %s: %s", path, inner);
	json_decref(root);
	return rc;
}

const struct mcp_server_config *mcp_config_find(const struct mcp_config *cfg,
						const char *name)
{
	for (size_t i = 0; i < cfg->n_servers; i++)
		if (strcmp(cfg->servers[i].name, name) == 0)
			return &cfg->servers[i];
	return NULL;
}

void mcp_config_free(struct mcp_config *cfg)
{
	for (size_t i = 0; i < cfg->n_servers; i++) {
		struct mcp_server_config *s = &cfg->servers[i];

		for (char **e = s->env; e && *e; e++)
			free(*e);
		free(s->env);
		free(s->argv);
		free(s->urls);
		free(s->headers);
	}
	free(cfg->servers);
	json_decref(cfg->root);
	memset(cfg, 0, sizeof(*cfg));
}
