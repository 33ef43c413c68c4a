/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing and checking `exec` flags. Everything that can be found wrong
 * before a VM boots is found here, so a typo never costs a boot.
 */
#include "cli/exec-opts.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"

enum {
	OPT_VCPUS = 256,
	OPT_MEM,
	OPT_TIMEOUT,
	OPT_ENV,
	OPT_WORKDIR,
	OPT_COPY_IN,
	OPT_COPY_OUT,
	OPT_BACKEND,
	OPT_ACCEL,
	OPT_IMAGE,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_ROOTFS,
	OPT_APPEND,
	OPT_BOOT_TIMEOUT,
	OPT_TIMINGS,
	OPT_COPY_MAX,
};

static const struct option exec_options[] = {
	{"vcpus", required_argument, NULL, OPT_VCPUS},
	{"mem", required_argument, NULL, OPT_MEM},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"env", required_argument, NULL, OPT_ENV},
	{"workdir", required_argument, NULL, OPT_WORKDIR},
	{"copy-in", required_argument, NULL, OPT_COPY_IN},
	{"copy-out", required_argument, NULL, OPT_COPY_OUT},
	{"backend", required_argument, NULL, OPT_BACKEND},
	{"accel", required_argument, NULL, OPT_ACCEL},
	{"image", required_argument, NULL, OPT_IMAGE},
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"rootfs", required_argument, NULL, OPT_ROOTFS},
	{"append", required_argument, NULL, OPT_APPEND},
	{"boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT},
	{"timings", required_argument, NULL, OPT_TIMINGS},
	{"copy-max", required_argument, NULL, OPT_COPY_MAX},
	{"help", no_argument, NULL, 'h'},
	{0},
};

static int parse_uint(const char *flag, const char *s, unsigned min,
		      unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		lg_err("--%s wants a whole number from %u to %u, got '%s'",
		       flag, min, max, s);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

static int push_str(char ***v, size_t *n, char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

static int add_env(struct exec_opts *o, char *kv)
{
	char *eq = strchr(kv, '=');

	if (!eq || eq == kv) {
		lg_err("--env wants KEY=VALUE, got '%s'", kv);
		return -EINVAL;
	}
	return push_str(&o->env, &o->n_env, kv);
}

/*
 * Splits "A:B" where the guest side must be absolute. For copy-in the
 * guest path is last (split at the last ":/"); for copy-out it is first.
 */
static int add_copy(struct exec_opts *o, const char *arg, bool in)
{
	const char *flag = in ? "copy-in" : "copy-out";
	struct copy_spec **v = in ? &o->copy_in : &o->copy_out;
	size_t *n = in ? &o->n_copy_in : &o->n_copy_out;
	const char *sep = NULL;
	struct copy_spec *nv;
	char *host, *guest;

	if (in) {
		for (const char *p = arg; (p = strstr(p, ":/")); p++)
			sep = p;
	} else if (arg[0] == '/') {
		sep = strchr(arg, ':');
	}
	if (!sep || sep == arg || !sep[1]) {
		lg_err("--%s wants %s with an absolute guest path, got '%s'",
		       flag, in ? "HOST:GUEST" : "GUEST:HOST", arg);
		return -EINVAL;
	}
	host = in ? strndup(arg, (size_t)(sep - arg)) : strdup(sep + 1);
	guest = in ? strdup(sep + 1) : strndup(arg, (size_t)(sep - arg));
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!host || !guest || !nv) {
		free(host);
		free(guest);
		if (nv)
			*v = nv;
		return -ENOMEM;
	}
	nv[*n].host = host;
	nv[*n].guest = guest;
	*v = nv;
	(*n)++;
	return 0;
}

int exec_opts_set_accel(struct exec_opts *o, const char *s)
{
	if (strcmp(s, "auto") == 0)
		o->accel = LG_ACCEL_AUTO;
	else if (strcmp(s, "kvm") == 0)
		o->accel = LG_ACCEL_KVM;
	else if (strcmp(s, "tcg") == 0)
		o->accel = LG_ACCEL_TCG;
	else {
		lg_err("--accel wants auto, kvm or tcg, got '%s'", s);
		return -EINVAL;
	}
	return 0;
}

static int parse_one(struct exec_opts *o, int c, char *arg)
{
	switch (c) {
	case OPT_VCPUS:
		return parse_uint("vcpus", arg, 1, 32, &o->vcpus);
	case OPT_MEM:
		return parse_uint("mem", arg, 64, 65536, &o->mem_mib);
	case OPT_TIMEOUT:
		return parse_uint("timeout", arg, 1, 86400 * 7, &o->timeout_s);
	case OPT_BOOT_TIMEOUT:
		return parse_uint("boot-timeout", arg, 1, 3600,
				  &o->boot_timeout_s);
	case OPT_COPY_MAX:
		return parse_uint("copy-max", arg, 1, 1u << 20,
				  &o->copy_max_mib);
	case OPT_ENV:
		return add_env(o, arg);
	case OPT_COPY_IN:
	case OPT_COPY_OUT:
		return add_copy(o, arg, c == OPT_COPY_IN);
	case OPT_ACCEL:
		return exec_opts_set_accel(o, arg);
	case OPT_WORKDIR:
		o->workdir = arg;
		return 0;
	case OPT_BACKEND:
		o->backend = arg;
		return 0;
	case OPT_IMAGE:
		o->image = arg;
		return 0;
	case OPT_KERNEL:
		o->kernel = arg;
		return 0;
	case OPT_INITRD:
		o->initrd = arg;
		return 0;
	case OPT_ROOTFS:
		o->rootfs = arg;
		return 0;
	case OPT_APPEND:
		o->append = arg;
		return 0;
	case OPT_TIMINGS:
		o->timings = arg;
		return 0;
	default:
		return -EINVAL; /* getopt already printed what was wrong */
	}
}

/* Host-side files named by flags must be usable before we boot. */
static int check_host_paths(const struct exec_opts *o)
{
	const char *files[] = {o->kernel, o->initrd, o->rootfs};
	const char *names[] = {"kernel", "initrd", "rootfs"};

	for (size_t i = 0; i < 3; i++) {
		if (files[i] && !lg_is_file(files[i])) {
			lg_err("--%s %s: not a readable file", names[i],
			       files[i]);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < o->n_copy_in; i++) {
		if (!lg_is_file(o->copy_in[i].host)) {
			lg_err("copy-in source %s: %s", o->copy_in[i].host,
			       access(o->copy_in[i].host, F_OK) == 0
				       ? "not a regular file (only files "
					 "can be copied)"
				       : strerror(ENOENT));
			return -EINVAL;
		}
	}
	if (o->backend && !lg_hv_backend_exists(o->backend)) {
		lg_err("unknown backend '%s' (available: %s)", o->backend,
		       lg_hv_backend_names());
		return -EINVAL;
	}
	if (o->workdir && o->workdir[0] != '/') {
		lg_err("--workdir must be an absolute guest path, got '%s'",
		       o->workdir);
		return -EINVAL;
	}
	return 0;
}

/* No --backend: lgvmm on hardware KVM, else qemu. Said, not silent. */
static void choose_backend(struct exec_opts *o)
{
	char why[1024];

	o->backend = lg_hv_default_backend(o->accel, why, sizeof(why));
	lg_info("backend %s (default: %s)", o->backend, why);
}

int exec_opts_parse(struct exec_opts *o, int argc, char **argv)
{
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	o->vcpus = 1;
	o->mem_mib = 256;
	o->boot_timeout_s = 60;
	o->copy_max_mib = 1024;
	o->backend = NULL; /* chosen below unless a flag or config names it */
	o->accel = LG_ACCEL_AUTO;
	rc = exec_config_load(o);
	optind = 0;
	/* '+': the first non-flag is CMD; everything after it is CMD's. */
	while (!rc &&
	       (c = getopt_long(argc, argv, "+h", exec_options, NULL)) != -1) {
		if (c == 'h')
			return 1;
		rc = parse_one(o, c, optarg);
	}
	if (!rc && optind >= argc) {
		lg_err("exec needs a command: luminaguard exec [OPTIONS] -- "
		       "CMD [ARGS...]");
		rc = -EINVAL;
	}
	if (!rc)
		rc = check_host_paths(o);
	if (!rc && !o->backend)
		choose_backend(o);
	if (rc) {
		exec_opts_free(o);
		return -EINVAL;
	}
	o->argv = argv + optind;
	o->argc = (size_t)(argc - optind);
	return 0;
}

int exec_opts_vm_config(struct exec_opts *o, struct lg_vm_config *cfg,
			char *err, size_t errlen)
{
	int rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (o->kernel && !o->initrd) {
		snprintf(err, errlen,
			 "--kernel needs --initrd (an initramfs "
			 "whose /init is lg-agent)");
		return -EINVAL;
	}
	if (!o->kernel || !o->initrd) {
		rc = o->image ? lg_image_open(&o->img, o->image, err, errlen)
			      : lg_image_default(&o->img, err, errlen);
		if (rc)
			return rc;
	}
	cfg->kernel = o->kernel ? o->kernel : o->img.vmlinux;
	cfg->initrd = o->initrd ? o->initrd : o->img.initrd;
	cfg->rootfs = o->rootfs;
	cfg->cmdline = o->append;
	cfg->vcpus = o->vcpus;
	cfg->mem_mib = o->mem_mib;
	cfg->accel = o->accel;
	cfg->boot_timeout_ms = o->boot_timeout_s * 1000u;
	cfg->cancel_fd = -1;
	return 0;
}

void exec_opts_free(struct exec_opts *o)
{
	for (size_t i = 0; i < o->n_copy_in; i++) {
		free(o->copy_in[i].host);
		free(o->copy_in[i].guest);
	}
	for (size_t i = 0; i < o->n_copy_out; i++) {
		free(o->copy_out[i].host);
		free(o->copy_out[i].guest);
	}
	free(o->copy_in);
	free(o->copy_out);
	free(o->env);
	json_decref(o->config);
	o->config = NULL;
	o->copy_in = o->copy_out = NULL;
	o->env = NULL;
	o->n_copy_in = o->n_copy_out = o->n_env = 0;
}

static double span_ms(uint64_t a, uint64_t b)
{
	return a && b && b >= a ? (double)(b - a) / 1e6 : -1.0;
}

void exec_timings_write(const char *path, const struct exec_timings *t)
{
	const struct {
		const char *name;
		uint64_t from, to;
	} phases[] = {
		{"spawn_ms", t->start, t->spawned},
		{"boot_ms", t->spawned, t->agent_open},
		{"hello_ms", t->agent_open, t->hello},
		{"command_ms", t->exec_sent, t->exec_done},
		{"finish_ms", t->exec_done, t->finished},
		{"teardown_ms", t->teardown_start, t->end},
		{"total_ms", t->start, t->end},
	};
	struct rusage self, kids;
	json_t *j = json_object();

	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	json_object_set_new(j, "accel", json_string(t->accel));
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		json_object_set_new(
			j, phases[i].name,
			json_real(span_ms(phases[i].from, phases[i].to)));
	json_object_set_new(j, "host_maxrss_kb", json_integer(self.ru_maxrss));
	json_object_set_new(j, "vmm_maxrss_kb", json_integer(kids.ru_maxrss));
	if (json_dump_file(j, path, JSON_COMPACT) < 0)
		lg_warn("writing timings to %s failed", path);
	json_decref(j);
}
