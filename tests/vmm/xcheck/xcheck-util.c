/* SPDX-License-Identifier: Apache-2.0 */
/* Scratch files and bounded child processes for the cross-check. */
#include "xcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

char xcheck_tmpdir[64];

void xcheck_tmp_path(char *buf, size_t size, const char *who, unsigned int i,
		     const char *what)
{
	snprintf(buf, size, "%s/%s-%u.%s", xcheck_tmpdir, who, i, what);
}

int xcheck_make_disk(const char *path, unsigned int sectors)
{
	uint8_t buf[XCHECK_SECTOR];
	unsigned int s, j;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	for (s = 0; s < sectors; s++) {
		for (j = 0; j < XCHECK_SECTOR; j++)
			buf[j] = (uint8_t)(s ^ (13u * j));
		if (write(fd, buf, XCHECK_SECTOR) != (ssize_t)XCHECK_SECTOR) {
			close(fd);
			return -EIO;
		}
	}
	close(fd);
	return 0;
}

int xcheck_count_devs(const struct xguest *g)
{
	int n = 0;

	while (n < XCHECK_MAX_DEVS && g->devs[n].type != XDEV_END)
		n++;
	return n;
}

int xcheck_read_file(const char *path, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	buf[0] = '\0';
	if (fd < 0)
		return -errno;
	while (got + 1 < size) {
		n = read(fd, buf + got, size - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = -errno;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return err;
}

/* In the child: stdin, stdout, stderr, then exec; never returns. */
static void child_exec(char *const argv[], const char *out_path,
		       const char *err_path)
{
	int in = open("/dev/null", O_RDONLY);
	int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int err = strcmp(out_path, err_path) == 0
			  ? out
			  : open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 ||
	    dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(126);
	execvp(argv[0], argv);
	_exit(127);
}

int xcheck_spawn(char *const argv[], const char *out_path, const char *err_path,
		 int timeout_ms, int *status)
{
	struct pollfd pfd;
	int st, pidfd;
	pid_t pid;

	*status = -1;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_exec(argv, out_path, err_path);
	pidfd = pidfd_open(pid, 0);
	if (pidfd >= 0) {
		pfd = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (poll(&pfd, 1, timeout_ms) == 0) {
			fprintf(stderr, "%s: still running after %d ms\n",
				argv[0], timeout_ms);
			kill(pid, SIGKILL);
		}
		close(pidfd);
	} else {
		kill(pid, SIGKILL); /* cannot bound it: do not wait forever */
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return 0;
}
