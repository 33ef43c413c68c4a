/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Defaults for `exec` from a JSON file, so a user can point at their own
 * kernel, initramfs or root filesystem once:
 *   $LUMINAGUARD_CONFIG, else $XDG_CONFIG_HOME/luminaguard/config.json,
 *   else ~/.config/luminaguard/config.json
 *   {"exec": {"kernel": "...", "initrd": "...", "rootfs": "...",
 *             "image": "...", "backend": "qemu", "accel": "auto",
 *             "vcpus": 1, "mem_mib": 256, "boot_timeout_s": 60}}
 * Flags override it. Unknown keys are errors: a typo must not be ignored.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/exec-opts.h"
#include "common/fsutil.h"
#include "common/log.h"

static int config_path(char *buf, size_t len, bool *explicit)
{
	const char *env = getenv("LUMINAGUARD_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	*explicit = env && env[0];
	if (*explicit)
		return lg_path_fmt(buf, len, "%s", env);
	if (xdg && xdg[0] == '/')
		return lg_path_fmt(buf, len, "%s/luminaguard/config.json", xdg);
	if (home && home[0] == '/')
		return lg_path_fmt(buf, len,
				   "%s/.config/luminaguard/config.json", home);
	return -ENOENT;
}

static const char *const string_keys[] = {"kernel", "initrd",  "rootfs",
					  "image",  "backend", "accel"};

static int apply_string(struct exec_opts *o, const char *key, json_t *v)
{
	const char *s = json_string_value(v);
	const char **dst[] = {&o->kernel, &o->initrd,  &o->rootfs,
			      &o->image,  &o->backend, NULL};

	for (size_t i = 0; i < 5; i++) {
		if (strcmp(key, string_keys[i]) == 0) {
			*dst[i] = s;
			return 0;
		}
	}
	return exec_opts_set_accel(o, s);
}

static int apply_number(struct exec_opts *o, const char *key, json_t *v)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned min, max;
	} keys[] = {
		{"vcpus", offsetof(struct exec_opts, vcpus), 1, 32},
		{"mem_mib", offsetof(struct exec_opts, mem_mib), 64, 65536},
		{"boot_timeout_s", offsetof(struct exec_opts, boot_timeout_s),
		 1, 3600},
	};
	json_int_t n = json_integer_value(v);

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i].key) != 0)
			continue;
		if (!json_is_integer(v) || n < keys[i].min || n > keys[i].max) {
			lg_err("config: exec.%s wants a whole number from %u "
			       "to %u",
			       key, keys[i].min, keys[i].max);
			return -EINVAL;
		}
		*(unsigned *)((char *)o + keys[i].off) = (unsigned)n;
		return 0;
	}
	return -ENOENT;
}

static int apply_key(struct exec_opts *o, const char *key, json_t *v)
{
	int rc;

	for (size_t i = 0; i < sizeof(string_keys) / sizeof(*string_keys);
	     i++) {
		if (strcmp(key, string_keys[i]) != 0)
			continue;
		if (!json_is_string(v)) {
			lg_err("config: exec.%s wants a string", key);
			return -EINVAL;
		}
		return apply_string(o, key, v);
	}
	rc = apply_number(o, key, v);
	if (rc == -ENOENT) {
		lg_err("config: unknown key exec.%s", key);
		return -EINVAL;
	}
	return rc;
}

int exec_config_load(struct exec_opts *o)
{
	char path[PATH_MAX];
	json_error_t jerr;
	json_t *exec, *v;
	const char *key;
	bool explicit;

	if (config_path(path, sizeof(path), &explicit) < 0)
		return 0;
	if (!explicit && access(path, F_OK) < 0)
		return 0;
	o->config = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!o->config) {
		lg_err("config %s: %s (line %d)", path, jerr.text, jerr.line);
		return -EINVAL;
	}
	json_object_foreach(o->config, key, v)
	{
		/* "mcp" belongs to src/mcp/mcp-config.c, checked there. */
		if (strcmp(key, "exec") != 0 && strcmp(key, "mcp") != 0) {
			lg_err("config %s: unknown section '%s'", path, key);
			return -EINVAL;
		}
	}
	exec = json_object_get(o->config, "exec");
	json_object_foreach(exec, key, v)
	{
		if (apply_key(o, key, v) < 0) {
			lg_err("(in the config file %s)", path);
			return -EINVAL;
		}
	}
	return 0;
}
