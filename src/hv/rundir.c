/* SPDX-License-Identifier: Apache-2.0 */
#include "hv/rundir.h"
#include "hv/errmsg.h"

#include "common/fsutil.h"
#include "common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUNDIR_PREFIX "vm-"
#define CREATE_TRIES 8

static unsigned random_u32(void)
{
	static unsigned counter;
	struct timespec ts;
	unsigned r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned)ts.tv_nsec ^ (unsigned)getpid() << 16 ^ ++counter;
}

int lg_rundir_create(const char *parent, char *buf, size_t len, char *err,
		     size_t errlen)
{
	int n;

	for (int i = 0; i < CREATE_TRIES; i++) {
		n = snprintf(buf, len, "%s/" RUNDIR_PREFIX "%ld-%08x", parent,
			     (long)getpid(), random_u32());
		if (n < 0 || (size_t)n >= len) {
			snprintf(err, errlen, "runtime dir path too long: %s",
				 parent);
			return -ENAMETOOLONG;
		}
		if (mkdir(buf, 0700) == 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	return lg_hv_syserr(err, errlen, "mkdir %s", buf);
}

int lg_rundir_remove(const char *dir)
{
	return lg_rm_rf(dir);
}

/* The pid in "vm-<pid>-...", or 0 when name is not of that form. */
static pid_t rundir_pid(const char *name)
{
	char *end;
	long pid;

	if (strncmp(name, RUNDIR_PREFIX, strlen(RUNDIR_PREFIX)) != 0)
		return 0;
	name += strlen(RUNDIR_PREFIX);
	errno = 0;
	pid = strtol(name, &end, 10);
	if (errno || end == name || *end != '-' || pid <= 0 ||
	    pid != (pid_t)pid)
		return 0;
	return (pid_t)pid;
}

/* Seconds since the epoch at boot, from /proc/stat; 0 if unknown. */
static long long boot_time(void)
{
	char line[256];
	long long btime = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	}
	fclose(f);
	return btime;
}

/*
 * State and start time (seconds since the epoch) of pid from
 * /proc/PID/stat. False when it cannot be read.
 */
static bool proc_stat(pid_t pid, char *state, long long *start)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold anything */
	/* After ")": state is field 3, starttime field 22. */
	if (!p || sscanf(p + 1,
			 " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
			 "%*s %*s %*s %*s %*s %*s %*s %*s %llu",
			 state, &ticks) != 2)
		return false;
	*start = boot_time() +
		 (long long)(ticks / (unsigned long long)sysconf(_SC_CLK_TCK));
	return true;
}

/*
 * Is the luminaguard that made a directory (last changed at mtime) gone?
 * Yes when its pid does not exist, is a zombie, or belongs to a process
 * started after the directory was last changed (the pid was reused).
 */
static bool owner_is_gone(pid_t pid, time_t mtime)
{
	long long start;
	char state;

	if (pid == getpid())
		return false;
	if (kill(pid, 0) < 0)
		return errno == ESRCH;
	if (!proc_stat(pid, &state, &start))
		return false;
	return state == 'Z' || start > (long long)mtime + 2;
}

static bool sweep_one(int pfd, const char *dir, const char *name)
{
	pid_t pid = rundir_pid(name);
	struct stat st;
	int ret;

	if (!pid || fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISDIR(st.st_mode) || !owner_is_gone(pid, st.st_mtime))
		return false;
	ret = lg_rm_rf_at(pfd, name);
	if (ret < 0) {
		lg_warn("removing stale runtime dir %s/%s: %s", dir, name,
			strerror(-ret));
		return false;
	}
	lg_info("removed stale runtime dir %s/%s (its owner, pid %ld, is gone)",
		dir, name, (long)pid);
	return true;
}

int lg_rundir_sweep(const char *parent)
{
	struct dirent *de;
	int pfd, ret, removed = 0;
	DIR *d;

	d = opendir(parent);
	if (!d) {
		ret = -errno;
		lg_warn("sweeping %s: %s", parent, strerror(-ret));
		return ret;
	}
	pfd = dirfd(d);
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		removed += sweep_one(pfd, parent, de->d_name);
	}
	closedir(d);
	return removed;
}
