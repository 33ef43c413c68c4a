/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest image: a kernel (PVH vmlinux and bzImage) and an initramfs
 * holding lg-agent and busybox, cached under a directory keyed by a hash
 * of everything it is built from.
 */
#ifndef LG_IMAGE_IMAGE_H
#define LG_IMAGE_IMAGE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

struct lg_image {
	char dir[PATH_MAX];
	char vmlinux[PATH_MAX];
	char bzimage[PATH_MAX];
	char initrd[PATH_MAX];
};

/* $XDG_CACHE_HOME/luminaguard, else $HOME/.cache/luminaguard. */
int lg_image_cache_dir(char *buf, size_t len);

/*
 * The image to boot: $LUMINAGUARD_IMAGE (a directory) if set, else the
 * cache's images/default. Fails with a message naming the command that
 * builds it.
 */
int lg_image_default(struct lg_image *img, char *err, size_t errlen);
/* Fills the paths for an image directory and checks its files exist. */
int lg_image_open(struct lg_image *img, const char *dir, char *err,
		  size_t errlen);

struct lg_image_build_opts {
	const char *kernel_source; /* linux-source tarball */
	const char *agent;	   /* static lg-agent binary */
	const char *busybox;	   /* static busybox binary */
	const char *scripts_dir;   /* holds kernel.fragment and build-*.sh */
	unsigned jobs;		   /* make -j; 0: number of CPUs */
	bool force;		   /* rebuild even when cached */
};

void lg_image_build_defaults(struct lg_image_build_opts *o);
int lg_image_build(const struct lg_image_build_opts *o, struct lg_image *out,
		   char *err, size_t errlen);

#endif
