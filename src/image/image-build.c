/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Builds the default guest image into the cache. The kernel and the image
 * are keyed by SHA-256 over their inputs, so a rebuild happens only when an
 * input changed; each is built in a temporary directory and renamed into
 * place, so an interrupted build leaves no half image.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/subprocess.h"
#include "config.h"
#include "image/image.h"

#define KEY_LEN 16 /* hex digits of the input hash used in directory names */

void lg_image_build_defaults(struct lg_image_build_opts *o)
{
	const char *agent = getenv("LUMINAGUARD_AGENT");

	memset(o, 0, sizeof(*o));
	o->kernel_source = "/usr/src/linux-source-6.1.tar.xz";
	o->agent =
		agent && agent[0] ? agent : LG_BUILD_DIR "/src/guest/lg-agent";
	o->busybox = "/bin/busybox";
	o->scripts_dir = LG_SOURCE_DIR "/image";
}

/* SHA-256 over a list of files and strings, in order, truncated. */
static int inputs_key(const char *const files[], const char *salt,
		      char key[KEY_LEN + 1], char *err, size_t errlen)
{
	struct lg_hash *h = lg_hash_new();
	char hex[LG_SHA256_HEX];
	int rc = h ? 0 : -ENOMEM;

	for (size_t i = 0; !rc && files[i]; i++) {
		rc = lg_hash_file(h, files[i]);
		if (rc)
			snprintf(err, errlen, "reading image input %s: %s",
				 files[i], strerror(-rc));
	}
	if (!rc && salt)
		rc = lg_hash_update(h, salt, strlen(salt));
	if (!rc)
		rc = lg_hash_final_hex(h, hex);
	lg_hash_free(h);
	if (!rc)
		snprintf(key, KEY_LEN + 1, "%.*s", KEY_LEN, hex);
	return rc;
}

static int read_small_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

static int build_kernel(const struct lg_image_build_opts *o, const char *out,
			char *err, size_t errlen)
{
	char script[PATH_MAX], fragment[PATH_MAX], jobs[16], probe[PATH_MAX];
	int rc;

	if (lg_path_fmt(script, sizeof(script), "%s/build-kernel.sh",
			o->scripts_dir) ||
	    lg_path_fmt(fragment, sizeof(fragment), "%s/kernel.fragment",
			o->scripts_dir) ||
	    lg_path_fmt(probe, sizeof(probe), "%s/vmlinux", out))
		return -ENAMETOOLONG;
	if (!o->force && lg_is_file(probe)) {
		lg_info("kernel cached in %s", out);
		return 0;
	}
	snprintf(jobs, sizeof(jobs), "%u",
		 o->jobs ? o->jobs : (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	fprintf(stderr,
		"luminaguard: building the guest kernel from %s into %s\n"
		"luminaguard: this takes a few minutes (about 3 on 2 cores); "
		"log: %s/build.log\n",
		o->kernel_source, out, out);
	char *argv[] = {"bash",	  script,      (char *)o->kernel_source,
			fragment, (char *)out, jobs,
			NULL};
	rc = lg_spawn_wait(argv);
	if (rc != 0) {
		snprintf(err, errlen,
			 "guest kernel build failed (%s exited %d); see "
			 "%s/build.log",
			 script, rc, out);
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

static int build_initramfs(const struct lg_image_build_opts *o,
			   const char *tmpdir, char *err, size_t errlen)
{
	char script[PATH_MAX], cpio[PATH_MAX];
	int rc;

	if (lg_path_fmt(script, sizeof(script), "%s/build-initramfs.sh",
			o->scripts_dir) ||
	    lg_path_fmt(cpio, sizeof(cpio), "%s/initramfs.cpio", tmpdir))
		return -ENAMETOOLONG;
	fprintf(stderr, "luminaguard: building the initramfs (lg-agent + "
			"busybox)\n");
	char *argv[] = {"bash", script, (char *)o->agent, (char *)o->busybox,
			cpio,	NULL};
	rc = lg_spawn_wait(argv);
	if (rc != 0) {
		snprintf(err, errlen, "initramfs build failed (%s exited %d)",
			 script, rc);
		return rc < 0 ? rc : -EIO;
	}
	return 0;
}

/* Hard link when on one filesystem (no extra space), else copy. */
static int link_or_copy(const char *dir_from, const char *dir_to,
			const char *name)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (lg_path_fmt(from, sizeof(from), "%s/%s", dir_from, name) ||
	    lg_path_fmt(to, sizeof(to), "%s/%s", dir_to, name))
		return -ENAMETOOLONG;
	if (link(from, to) == 0)
		return 0;
	return lg_copy_file(from, to, 0644);
}

/* First line of a program's output, or "unknown". */
static void program_version(char *const argv[], char *buf, size_t len)
{
	if (lg_spawn_capture(argv, buf, len) < 0 || !buf[0])
		snprintf(buf, len, "unknown");
	buf[strcspn(buf, "\n")] = '\0';
}

static long file_size(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (lg_path_fmt(path, sizeof(path), "%s/%s", dir, name) ||
	    stat(path, &st) < 0)
		return -1;
	return (long)st.st_size;
}

static int write_manifest(const struct lg_image_build_opts *o, const char *kdir,
			  const char *tmpdir, const char *key)
{
	char kver[64] = "unknown", path[PATH_MAX], bb[256], agent[256];
	char *bb_argv[] = {(char *)o->busybox, NULL};
	char *agent_argv[] = {(char *)o->agent, "--version", NULL};
	char created[32];
	time_t now = time(NULL);
	json_t *m;
	int rc;

	if (lg_path_fmt(path, sizeof(path), "%s/kernel.version", kdir) == 0)
		read_small_file(path, kver, sizeof(kver));
	program_version(bb_argv, bb, sizeof(bb));
	program_version(agent_argv, agent, sizeof(agent));
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	m = json_pack("{s:s, s:s, s:{s:s, s:s, s:I, s:I}, s:{s:I, s:s, s:s}}",
		      "key", key, "created", created, "kernel", "version", kver,
		      "source", o->kernel_source, "vmlinux_bytes",
		      (json_int_t)file_size(tmpdir, "vmlinux"), "bzimage_bytes",
		      (json_int_t)file_size(tmpdir, "bzImage"), "initramfs",
		      "bytes", (json_int_t)file_size(tmpdir, "initramfs.cpio"),
		      "agent", agent, "busybox", bb);
	if (!m)
		return -ENOMEM;
	if (lg_path_fmt(path, sizeof(path), "%s/manifest.json", tmpdir))
		rc = -ENAMETOOLONG;
	else
		rc = json_dump_file(m, path, JSON_INDENT(2)) ? -EIO : 0;
	json_decref(m);
	return rc;
}

/* Points images/default at name, atomically. */
static int set_default(const char *images, const char *name)
{
	char tmp[PATH_MAX], dst[PATH_MAX];

	if (lg_path_fmt(tmp, sizeof(tmp), "%s/.default.%d", images,
			(int)getpid()) ||
	    lg_path_fmt(dst, sizeof(dst), "%s/default", images))
		return -ENAMETOOLONG;
	unlink(tmp);
	if (symlink(name, tmp) < 0)
		return -errno;
	if (rename(tmp, dst) < 0) {
		int rc = -errno;

		unlink(tmp);
		return rc;
	}
	return 0;
}

static int assemble_image(const struct lg_image_build_opts *o, const char *kdir,
			  const char *tmpdir, const char *key, char *err,
			  size_t errlen)
{
	int rc = mkdir(tmpdir, 0755) < 0 ? -errno : 0;

	if (!rc)
		rc = link_or_copy(kdir, tmpdir, "vmlinux");
	if (!rc)
		rc = link_or_copy(kdir, tmpdir, "bzImage");
	if (rc) {
		snprintf(err, errlen, "assembling image in %s: %s", tmpdir,
			 strerror(-rc));
		return rc;
	}
	rc = build_initramfs(o, tmpdir, err, errlen);
	if (!rc && write_manifest(o, kdir, tmpdir, key) < 0) {
		snprintf(err, errlen, "writing %s/manifest.json failed",
			 tmpdir);
		rc = -EIO;
	}
	return rc;
}

static int check_inputs(const struct lg_image_build_opts *o, char *err,
			size_t errlen)
{
	const char *inputs[] = {o->kernel_source, o->agent, o->busybox};
	const char *hints[] = {
		("install the Debian package linux-source-6.1 "
		 "(scripts/install-deps.sh)"),
		"build it first (`make build`) or set LUMINAGUARD_AGENT",
		"install the Debian package busybox-static",
	};

	for (size_t i = 0; i < 3; i++) {
		if (!lg_is_file(inputs[i])) {
			snprintf(err, errlen, "image input %s not found: %s",
				 inputs[i], hints[i]);
			return -ENOENT;
		}
	}
	return 0;
}

/* ".tmp-KEY-PID" of a live builder; other dot names belong to scripts. */
static bool build_in_progress(const char *name)
{
	const char *dash = strrchr(name, '-');
	long pid;

	if (name[0] != '.')
		return false;
	if (strncmp(name, ".tmp-", 5) != 0 || !dash)
		return true;
	pid = strtol(dash + 1, NULL, 10);
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* The cache keeps one kernel and one image: drop the others. */
static void prune_except(const char *dir, const char *keep)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		    !strcmp(e->d_name, keep) || !strcmp(e->d_name, "default") ||
		    build_in_progress(e->d_name))
			continue;
		if (lg_path_fmt(path, sizeof(path), "%s/%s", dir, e->d_name))
			continue;
		lg_info("removing old cache entry %s", path);
		lg_rm_rf(path);
	}
	closedir(d);
}

int lg_image_build(const struct lg_image_build_opts *o, struct lg_image *out,
		   char *err, size_t errlen)
{
	char cache[PATH_MAX], kdir[PATH_MAX], images[PATH_MAX];
	char final[PATH_MAX], tmpdir[PATH_MAX], s[3][PATH_MAX];
	char kkey[KEY_LEN + 1], ikey[KEY_LEN + 1];
	int rc;

	if (lg_path_fmt(s[0], PATH_MAX, "%s/kernel.fragment", o->scripts_dir) ||
	    lg_path_fmt(s[1], PATH_MAX, "%s/build-kernel.sh", o->scripts_dir) ||
	    lg_path_fmt(s[2], PATH_MAX, "%s/build-initramfs.sh",
			o->scripts_dir) ||
	    lg_image_cache_dir(cache, sizeof(cache)))
		return snprintf(err, errlen, "bad paths"), -ENAMETOOLONG;
	rc = check_inputs(o, err, errlen);
	if (rc)
		return rc;
	fprintf(stderr, "luminaguard: hashing image inputs\n");
	const char *kin[] = {o->kernel_source, s[0], s[1], NULL};
	rc = inputs_key(kin, NULL, kkey, err, errlen);
	const char *iin[] = {o->agent, o->busybox, s[2], NULL};
	if (!rc)
		rc = inputs_key(iin, kkey, ikey, err, errlen);
	if (rc)
		return rc;
	if (lg_path_fmt(kdir, sizeof(kdir), "%s/kernels/%s", cache, kkey) ||
	    lg_path_fmt(images, sizeof(images), "%s/images", cache) ||
	    lg_path_fmt(final, sizeof(final), "%s/%s", images, ikey) ||
	    lg_path_fmt(tmpdir, sizeof(tmpdir), "%s/.tmp-%s-%d", images, ikey,
			(int)getpid()))
		return snprintf(err, errlen, "cache path too long"),
		       -ENAMETOOLONG;
	rc = lg_mkdir_p(images, 0755);
	if (!rc)
		rc = lg_mkdir_p(kdir, 0755);
	if (rc) {
		snprintf(err, errlen, "creating %s: %s", cache, strerror(-rc));
		return rc;
	}
	if (!o->force && lg_image_open(out, final, err, errlen) == 0) {
		fprintf(stderr, "luminaguard: image up to date: %s\n", final);
		return set_default(images, ikey);
	}
	rc = build_kernel(o, kdir, err, errlen);
	if (!rc)
		rc = assemble_image(o, kdir, tmpdir, ikey, err, errlen);
	if (!rc && o->force)
		lg_rm_rf(final);
	if (!rc && rename(tmpdir, final) < 0) {
		rc = -errno;
		snprintf(err, errlen, "renaming %s to %s: %s", tmpdir, final,
			 strerror(errno));
	}
	lg_rm_rf(tmpdir);
	if (!rc)
		rc = set_default(images, ikey);
	if (!rc) {
		prune_except(images, ikey);
		lg_path_fmt(final, sizeof(final), "%s/kernels", cache);
		prune_except(final, kkey);
		rc = lg_path_fmt(final, sizeof(final), "%s/%s", images, ikey);
	}
	if (!rc)
		rc = lg_image_open(out, final, err, errlen);
	if (!rc)
		fprintf(stderr, "luminaguard: image ready: %s\n", final);
	return rc;
}
