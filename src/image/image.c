/* SPDX-License-Identifier: Apache-2.0 */
/* Where images live and how one is opened. */
#include "image/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"

int lg_image_cache_dir(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	if (xdg && xdg[0] == '/')
		return lg_path_fmt(buf, len, "%s/luminaguard", xdg);
	if (home && home[0] == '/')
		return lg_path_fmt(buf, len, "%s/.cache/luminaguard", home);
	return -ENOENT;
}

int lg_image_open(struct lg_image *img, const char *dir, char *err,
		  size_t errlen)
{
	const char *missing = NULL;
	int rc;

	memset(img, 0, sizeof(*img));
	rc = lg_path_fmt(img->dir, sizeof(img->dir), "%s", dir);
	if (!rc)
		rc = lg_path_fmt(img->vmlinux, sizeof(img->vmlinux),
				 "%s/vmlinux", dir);
	if (!rc)
		rc = lg_path_fmt(img->bzimage, sizeof(img->bzimage),
				 "%s/bzImage", dir);
	if (!rc)
		rc = lg_path_fmt(img->initrd, sizeof(img->initrd),
				 "%s/initramfs.cpio", dir);
	if (rc) {
		snprintf(err, errlen, "image path too long: %s", dir);
		return rc;
	}
	if (!lg_is_file(img->vmlinux))
		missing = img->vmlinux;
	else if (!lg_is_file(img->initrd))
		missing = img->initrd;
	if (missing) {
		snprintf(err, errlen,
			 "no guest image: %s is missing; build it with "
			 "`luminaguard image build` (or `make image`)",
			 missing);
		return -ENOENT;
	}
	return 0;
}

int lg_image_default(struct lg_image *img, char *err, size_t errlen)
{
	const char *env = getenv("LUMINAGUARD_IMAGE");
	char cache[PATH_MAX], dir[PATH_MAX], resolved[PATH_MAX];
	int rc;

	if (env && env[0])
		return lg_image_open(img, env, err, errlen);
	rc = lg_image_cache_dir(cache, sizeof(cache));
	if (!rc)
		rc = lg_path_fmt(dir, sizeof(dir), "%s/images/default", cache);
	if (rc) {
		snprintf(err, errlen,
			 "cannot locate the image cache (set HOME or "
			 "XDG_CACHE_HOME, or LUMINAGUARD_IMAGE)");
		return rc;
	}
	/* Resolve the link once, so a rebuild cannot swap files under us. */
	if (realpath(dir, resolved))
		return lg_image_open(img, resolved, err, errlen);
	return lg_image_open(img, dir, err, errlen);
}
