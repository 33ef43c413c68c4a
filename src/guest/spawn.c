/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The child side of an exec: everything between fork() and execvp().
 * Failures are written to the CLOEXEC status pipe, so the parent learns
 * "exec failed with ENOENT" instead of seeing a plain exit code 127.
 */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <unistd.h>

extern char **environ;

static void __attribute__((noreturn)) child_fail(int fd, int stage, int err)
{
	struct spawn_status st = {.stage = stage, .err = err};

	/* 8 bytes into an empty pipe: atomic; nothing to do if it fails. */
	if (write(fd, &st, sizeof(st)) < 0)
		_exit(127);
	_exit(127);
}

/* The agent ignores SIGPIPE and blocks SIGCHLD; execs get defaults. */
static void child_reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static int child_stdio(const struct spawn_args *a)
{
	int in = a->stdin_fd;

	/* fds 0-2 are always open in the agent, so these land at >= 3. */
	if (in < 0)
		in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	if (dup2(in, STDIN_FILENO) < 0 ||
	    dup2(a->stdout_fd, STDOUT_FILENO) < 0 ||
	    dup2(a->stderr_fd, STDERR_FILENO) < 0)
		return -1;
	/* Whatever the agent inherited without CLOEXEC stays out. */
	close_range(3, ~0u, CLOSE_RANGE_CLOEXEC);
	return 0;
}

/* Credentials first, so chdir is checked with the exec's own rights. */
static void child_credentials(const struct spawn_args *a)
{
	gid_t gid = a->gid;

	if (!a->uid && !a->gid)
		return;
	if (setgroups(1, &gid) < 0)
		child_fail(a->status_fd, SPAWN_SETGROUPS, errno);
	if (a->gid && setgid(gid) < 0)
		child_fail(a->status_fd, SPAWN_SETGID, errno);
	if (a->uid && setuid(a->uid) < 0)
		child_fail(a->status_fd, SPAWN_SETUID, errno);
}

static void __attribute__((noreturn)) child_run(const struct spawn_args *a)
{
	/* Own session and process group: SIGNAL and kills hit -pgid. */
	if (setsid() < 0)
		child_fail(a->status_fd, SPAWN_SETSID, errno);
	child_reset_signals();
	if (child_stdio(a) < 0)
		child_fail(a->status_fd, SPAWN_STDIO, errno);
	child_credentials(a);
	if (chdir(a->cwd ? a->cwd : "/") < 0)
		child_fail(a->status_fd, SPAWN_CHDIR, errno);
	/* execvp searches the PATH of environ: the exec's own PATH. */
	environ = a->envp;
	execvp(a->argv[0], a->argv);
	child_fail(a->status_fd, SPAWN_EXEC, errno);
}

pid_t spawn_child(const struct spawn_args *a)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0)
		child_run(a);
	return pid;
}
