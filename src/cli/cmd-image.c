/* SPDX-License-Identifier: Apache-2.0 */
/* luminaguard image build | info */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "image/image.h"

static void image_usage(FILE *out)
{
	fprintf(out,
		"usage: luminaguard image build [--force] [--jobs N] "
		"[--kernel-source TARBALL] [--agent PATH]\n"
		"       luminaguard image info [--json] [--image DIR]\n"
		"\n"
		"build  builds the default guest image (kernel from Debian's "
		"linux-source-6.1,\n"
		"       initramfs with lg-agent and busybox) into the cache,\n"
		"       $XDG_CACHE_HOME/luminaguard or "
		"~/.cache/luminaguard. Rebuilds only\n"
		"       when an input changed. --force rebuilds anyway.\n"
		"info   prints what the image holds: versions, sizes, paths.\n"
		"\n"
		"The image used by `exec` is $LUMINAGUARD_IMAGE when set, "
		"else the cache's\n"
		"images/default. Your own kernel/initramfs: `exec --kernel "
		"--initrd`.\n");
}

static int image_build(int argc, char **argv)
{
	static const struct option opts[] = {
		{"force", no_argument, NULL, 'f'},
		{"jobs", required_argument, NULL, 'j'},
		{"kernel-source", required_argument, NULL, 'k'},
		{"agent", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct lg_image_build_opts o;
	struct lg_image img;
	char err[1024] = "";
	int c;

	lg_image_build_defaults(&o);
	while ((c = getopt_long(argc, argv, "fj:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.force = true;
			break;
		case 'j':
			o.jobs = (unsigned)strtoul(optarg, NULL, 10);
			if (o.jobs == 0 || o.jobs > 256) {
				lg_err("--jobs wants 1..256, got '%s'", optarg);
				return LG_EXIT_USAGE;
			}
			break;
		case 'k':
			o.kernel_source = optarg;
			break;
		case 'a':
			o.agent = optarg;
			break;
		case 'h':
			image_usage(stdout);
			return LG_EXIT_OK;
		default:
			image_usage(stderr);
			return LG_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		lg_err("image build takes no arguments");
		return LG_EXIT_USAGE;
	}
	if (lg_image_build(&o, &img, err, sizeof(err)) < 0) {
		lg_err("%s", err);
		return LG_EXIT_INTERNAL;
	}
	printf("%s\n", img.dir);
	return LG_EXIT_OK;
}

static void print_manifest(const struct lg_image *img, json_t *m)
{
	json_t *k = json_object_get(m, "kernel");
	json_t *i = json_object_get(m, "initramfs");

	printf("image:      %s\n", img->dir);
	printf("key:        %s\n",
	       json_string_value(json_object_get(m, "key")));
	printf("created:    %s\n",
	       json_string_value(json_object_get(m, "created")));
	printf("kernel:     Linux %s (from %s)\n",
	       json_string_value(json_object_get(k, "version")),
	       json_string_value(json_object_get(k, "source")));
	printf("  vmlinux:  %s (%lld bytes, PVH)\n", img->vmlinux,
	       (long long)json_integer_value(
		       json_object_get(k, "vmlinux_bytes")));
	printf("  bzImage:  %s (%lld bytes)\n", img->bzimage,
	       (long long)json_integer_value(
		       json_object_get(k, "bzimage_bytes")));
	printf("initramfs:  %s (%lld bytes)\n", img->initrd,
	       (long long)json_integer_value(json_object_get(i, "bytes")));
	printf("  agent:    %s\n",
	       json_string_value(json_object_get(i, "agent")));
	printf("  busybox:  %s\n",
	       json_string_value(json_object_get(i, "busybox")));
}

static int image_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'J'},
		{"image", required_argument, NULL, 'i'},
		{0},
	};
	const char *dir = NULL;
	char err[1024], path[4096];
	struct lg_image img;
	json_error_t jerr;
	bool as_json = false;
	json_t *m;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'J') {
			as_json = true;
		} else if (c == 'i') {
			dir = optarg;
		} else {
			image_usage(stderr);
			return LG_EXIT_USAGE;
		}
	}
	rc = dir ? lg_image_open(&img, dir, err, sizeof(err))
		 : lg_image_default(&img, err, sizeof(err));
	if (rc < 0) {
		lg_err("%s", err);
		return LG_EXIT_INTERNAL;
	}
	if (lg_path_fmt(path, sizeof(path), "%s/manifest.json", img.dir) ||
	    !(m = json_load_file(path, 0, &jerr))) {
		lg_err("reading %s/manifest.json: %s", img.dir, jerr.text);
		return LG_EXIT_INTERNAL;
	}
	if (as_json) {
		json_object_set_new(m, "dir", json_string(img.dir));
		json_dumpf(m, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		print_manifest(&img, m);
	}
	json_decref(m);
	return LG_EXIT_OK;
}

static int image_run(int argc, char **argv)
{
	if (argc < 2) {
		image_usage(stderr);
		return LG_EXIT_USAGE;
	}
	if (strcmp(argv[1], "build") == 0)
		return image_build(argc - 1, argv + 1);
	if (strcmp(argv[1], "info") == 0)
		return image_info(argc - 1, argv + 1);
	lg_err("unknown image subcommand '%s' (build, info)", argv[1]);
	return LG_EXIT_USAGE;
}

const struct lg_cmd lg_cmd_image = {
	.name = "image",
	.summary = "build or describe the guest image",
	.run = image_run,
	.usage = image_usage,
};
