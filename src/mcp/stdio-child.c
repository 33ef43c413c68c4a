/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fork + exec of an MCP server. The child runs in its own process group
 * (so the whole group can be signalled at shutdown) with default signal
 * handling; an exec or chdir failure comes back through a close-on-exec
 * pipe so the caller reports it instead of a mysterious early exit.
 */
#include "mcp/stdio-child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static size_t env_name_len(const char *kv)
{
	const char *eq = strchr(kv, '=');

	return eq ? (size_t)(eq - kv) : strlen(kv);
}

static bool env_overridden(const char *kv, char *const *add)
{
	size_t n = env_name_len(kv);

	for (; add && *add; add++)
		if (env_name_len(*add) == n && strncmp(*add, kv, n) == 0)
			return true;
	return false;
}

/* Our environment with add's names replaced; the strings are borrowed. */
static char **env_build(char *const *add)
{
	size_t n = 0, k = 0;
	char **envp;

	for (char **e = environ; e && *e; e++)
		n++;
	for (char *const *a = add; a && *a; a++)
		n++;
	envp = calloc(n + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	for (char **e = environ; e && *e; e++)
		if (!env_overridden(*e, add))
			envp[k++] = *e;
	for (char *const *a = add; a && *a; a++)
		envp[k++] = *a;
	return envp;
}

/* In the child, after fork: async-signal-safe calls only. */
static void __attribute__((noreturn))
child_exec(const struct mcp_stdio_opts *o, char **envp, int in, int out,
	   int err, int report)
{
	static const int reset[] = {SIGPIPE, SIGINT,  SIGQUIT, SIGTERM,
				    SIGHUP,  SIGCHLD, SIGUSR1, SIGUSR2};
	sigset_t all;
	int e;

	setpgid(0, 0);
	for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
		signal(reset[i], SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		goto fail;
	if (o->cwd && chdir(o->cwd) < 0)
		goto fail;
	execvpe(o->argv[0], o->argv, envp);
fail:
	e = errno;
	if (write(report, &e, sizeof(e)) < 0)
		e = 0;
	_exit(127);
}

static void fds_close(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int stdio_child_spawn(const struct mcp_stdio_opts *o, struct stdio_child *ch,
		      char *err, size_t err_size)
{
	/* in[2], out[2], errp[2], report[2] */
	int p[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
	int child_errno = 0, rc;
	char **envp;
	ssize_t n;
	pid_t pid;

	if (!o->argv || !o->argv[0] || !o->argv[0][0]) {
		snprintf(err, err_size, "no command to run");
		return -EINVAL;
	}
	for (int i = 0; i < 4; i++) {
		if (pipe2(p + 2 * i, O_CLOEXEC) < 0) {
			rc = -errno;
			snprintf(err, err_size, "pipe: %s", strerror(errno));
			fds_close(p, 8);
			return rc;
		}
	}
	envp = env_build(o->env);
	if (!envp) {
		fds_close(p, 8);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	pid = fork();
	if (pid == 0)
		child_exec(o, envp, p[0], p[3], p[5], p[7]);
	rc = pid < 0 ? -errno : 0;
	free(envp);
	close(p[0]);
	close(p[3]);
	close(p[5]);
	close(p[7]);
	if (rc < 0) {
		snprintf(err, err_size, "fork: %s", strerror(-rc));
		fds_close((int[]){p[1], p[2], p[4], p[6]}, 4);
		return rc;
	}
	/* Also set here: a signal sent before the child ran must reach it. */
	setpgid(pid, pid);
	do
		n = read(p[6], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	close(p[6]);
	if (n == sizeof(child_errno)) {
		waitpid(pid, NULL, 0);
		fds_close((int[]){p[1], p[2], p[4]}, 3);
		snprintf(err, err_size, "cannot run %s%s%s: %s", o->argv[0],
			 o->cwd ? " in " : "", o->cwd ? o->cwd : "",
			 strerror(child_errno));
		return -child_errno;
	}
	ch->pid = pid;
	ch->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (ch->pidfd < 0) {
		rc = -errno;
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fds_close((int[]){p[1], p[2], p[4]}, 3);
		snprintf(err, err_size, "pidfd_open: %s", strerror(-rc));
		return rc;
	}
	ch->in = p[1];
	ch->out = p[2];
	ch->err = p[4];
	return 0;
}
