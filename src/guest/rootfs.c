/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lg.rootfs=DEV on the kernel command line: serve from a user-supplied
 * root filesystem. DEV is mounted read-only as the lower layer of an
 * overlay whose upper layer is a tmpfs, so the guest can write without
 * touching the image. The API mounts move into the overlay and the agent
 * switches root to it (pivot_root is impossible from an initramfs; this is
 * what switch_root does). Any failure undoes what was done, and the agent
 * keeps serving from the initramfs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define ROOTFS_KEY "lg.rootfs="
#define LOWER "/mnt/lower"
#define UPPER "/mnt/upper"
#define NEWROOT "/mnt/root"
/* The block device may be probed after init starts. */
#define DEVICE_WAIT_TRIES 30
#define DEVICE_WAIT_MS 100

static const char *const api_mounts[] = {"/proc", "/sys", "/dev", "/tmp",
					 "/run"};

/* The value of KEY in /proc/cmdline: 0, -ENOENT or -ENAMETOOLONG. */
static int cmdline_value(const char *key, char *out, size_t cap)
{
	char buf[4096];
	size_t klen = strlen(key);
	ssize_t n;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	for (char *save, *tok = strtok_r(buf, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (strncmp(tok, key, klen) != 0)
			continue;
		if (strlen(tok + klen) >= cap)
			return -ENAMETOOLONG;
		memcpy(out, tok + klen, strlen(tok + klen) + 1);
		return 0;
	}
	return -ENOENT;
}

static int wait_for_device(const char *dev)
{
	struct timespec ts = {0, DEVICE_WAIT_MS * 1000000L};
	struct stat st;

	for (int i = 0; i < DEVICE_WAIT_TRIES; i++) {
		if (stat(dev, &st) == 0)
			return S_ISBLK(st.st_mode) ? 0 : -ENOTBLK;
		if (errno != ENOENT)
			return -errno;
		nanosleep(&ts, NULL);
	}
	return -ENOENT;
}

/* Logs which step failed (errno) and returns -errno. */
static int step_failed(const char *what)
{
	int err = errno;

	agent_log("rootfs: %s: %s", what, strerror(err));
	return -err;
}

static int mkdir_one(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return step_failed(path);
	return 0;
}

static int overlay_mount(const char *dev)
{
	static const char opts[] = "lowerdir=" LOWER ",upperdir=" UPPER
				   "/upper,workdir=" UPPER "/work";
	int rc;

	if ((rc = mkdir_one("/mnt")) || (rc = mkdir_one(LOWER)) ||
	    (rc = mkdir_one(UPPER)) || (rc = mkdir_one(NEWROOT)))
		return rc;
	if (mount(dev, LOWER, "ext4", MS_RDONLY, NULL) < 0)
		return step_failed("mount ext4 read-only on " LOWER);
	if (mount("tmpfs", UPPER, "tmpfs", 0, "mode=0755") < 0) {
		rc = step_failed("mount tmpfs on " UPPER);
		goto out_lower;
	}
	if ((rc = mkdir_one(UPPER "/upper")) || (rc = mkdir_one(UPPER "/work")))
		goto out_upper;
	if (mount("overlay", NEWROOT, "overlay", 0, opts) == 0)
		return 0;
	rc = step_failed("mount overlay on " NEWROOT);
out_upper:
	umount(UPPER);
out_lower:
	umount(LOWER);
	return rc;
}

static void overlay_unmount(void)
{
	umount(NEWROOT);
	umount(UPPER);
	umount(LOWER);
}

/* Moves the first n API mounts into NEWROOT, or back. n or -errno. */
static int move_api_mounts(size_t n, bool into)
{
	char target[64];

	for (size_t i = 0; i < n; i++) {
		const char *m = api_mounts[i];

		snprintf(target, sizeof(target), NEWROOT "%s", m);
		if (into && mkdir_one(target) < 0)
			return (int)i;
		if (mount(into ? m : target, into ? target : m, NULL, MS_MOVE,
			  NULL) < 0) {
			step_failed(into ? target : m);
			return (int)i;
		}
	}
	return (int)n;
}

/* 0, -errno with nothing changed, or 1: failed past the point of return. */
static int enter_newroot(void)
{
	if (chdir(NEWROOT) < 0)
		return step_failed("chdir " NEWROOT);
	if (mount(".", "/", NULL, MS_MOVE, NULL) < 0) {
		int rc = step_failed("move " NEWROOT " to /");

		if (chdir("/") < 0)
			step_failed("chdir /");
		return rc;
	}
	/* Past the move there is nothing safe to undo. */
	if (chroot(".") < 0 || chdir("/") < 0) {
		step_failed("chroot " NEWROOT);
		return 1;
	}
	return 0;
}

static int rootfs_switch(const char *dev)
{
	size_t n = ARRAY_SIZE(api_mounts);
	size_t moved;
	int rc = wait_for_device(dev);

	if (rc < 0) {
		errno = -rc;
		return step_failed(dev);
	}
	rc = overlay_mount(dev);
	if (rc < 0)
		return rc;
	moved = (size_t)move_api_mounts(n, true);
	if (moved == n) {
		rc = enter_newroot();
		if (rc >= 0)
			return rc ? -EIO : 0;
	} else {
		rc = -EIO;
	}
	move_api_mounts(moved, false);
	overlay_unmount();
	return rc;
}

void rootfs_switch_from_cmdline(void)
{
	char dev[256];
	int rc = cmdline_value(ROOTFS_KEY, dev, sizeof(dev));

	if (rc == -ENOENT)
		return;
	if (rc < 0) {
		agent_log(ROOTFS_KEY ": %s", strerror(-rc));
		return;
	}
	rc = rootfs_switch(dev);
	if (rc < 0)
		agent_log("rootfs %s unusable; serving from the initramfs",
			  dev);
	else
		agent_log("root is an overlay on %s", dev);
}
