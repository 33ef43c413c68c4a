/* SPDX-License-Identifier: Apache-2.0 */
#include "subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* out_fd < 0: inherit stdout. */
static int spawn_with(char *const argv[], int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	/* The caller may block signals for a signalfd; the child must not. */
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return -rc;
}

int lg_spawn_wait(char *const argv[])
{
	pid_t pid;
	int rc = spawn_with(argv, -1, &pid);

	return rc ? rc : wait_child(pid);
}

int lg_spawn_capture(char *const argv[], char *buf, size_t len)
{
	int p[2];
	size_t have = 0;
	pid_t pid;
	int rc;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	rc = spawn_with(argv, p[1], &pid);
	close(p[1]);
	if (rc) {
		close(p[0]);
		return rc;
	}
	for (;;) {
		char scratch[256];
		char *dst = have + 1 < len ? buf + have : scratch;
		size_t room = have + 1 < len ? len - 1 - have : sizeof(scratch);
		ssize_t n = read(p[0], dst, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (dst != scratch)
			have += (size_t)n;
	}
	close(p[0]);
	if (len)
		buf[have] = '\0';
	return wait_child(pid);
}
