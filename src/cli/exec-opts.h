/* SPDX-License-Identifier: Apache-2.0 */
/* Flags of `luminaguard exec`, their checks, and its timing record. */
#ifndef LG_CLI_EXEC_OPTS_H
#define LG_CLI_EXEC_OPTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"
#include "image/image.h"

struct copy_spec {
	char *host;
	char *guest;
};

struct exec_opts {
	unsigned vcpus, mem_mib, timeout_s, boot_timeout_s, copy_max_mib;
	char **env; /* NULL-terminated */
	size_t n_env;
	const char *workdir, *backend, *image, *kernel, *initrd, *rootfs;
	const char *append, *timings;
	enum lg_accel accel;
	struct copy_spec *copy_in, *copy_out;
	size_t n_copy_in, n_copy_out;
	char **argv; /* points into the caller's argv */
	size_t argc;
	struct lg_image img;
	json_t *config; /* keeps config strings alive */
};

/* Phase timestamps, CLOCK_MONOTONIC ns; 0 when the phase was not reached. */
struct exec_timings {
	uint64_t start, spawned, agent_open, hello, exec_sent, exec_done;
	uint64_t finished; /* copy-out done, guest acknowledged shutdown */
	uint64_t teardown_start, end;
	char accel[16];
};

/* 0 ok; 1 --help was asked for; -EINVAL usage error (already reported). */
int exec_opts_parse(struct exec_opts *o, int argc, char **argv);
/* Resolves the image and fills cfg; err says what is wrong. */
int exec_opts_vm_config(struct exec_opts *o, struct lg_vm_config *cfg,
			char *err, size_t errlen);
void exec_opts_free(struct exec_opts *o);
int exec_opts_set_accel(struct exec_opts *o, const char *name);

/* Defaults from the user's config file (exec-config.c); -EINVAL: bad. */
int exec_config_load(struct exec_opts *o);

void exec_timings_write(const char *path, const struct exec_timings *t);

#endif
