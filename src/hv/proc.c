/* SPDX-License-Identifier: Apache-2.0 */
#include "hv/proc.h"
#include "hv/errmsg.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define REAP_POLL_NS (5ull * 1000 * 1000)

extern char **environ;

int lg_proc_find_exe(const char *name, char *buf, size_t len, char *err,
		     size_t errlen)
{
	const char *path = getenv("PATH");
	const char *dir, *end;
	int n;

	if (strchr(name, '/')) {
		n = snprintf(buf, len, "%s", name);
		if (n >= 0 && (size_t)n < len)
			return 0;
		snprintf(err, errlen, "path too long: %s", name);
		return -ENAMETOOLONG;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	/* Empty elements (the current directory) are not searched. */
	for (dir = path; *dir; dir = *end ? end + 1 : end) {
		end = strchrnul(dir, ':');
		if (end == dir)
			continue;
		n = snprintf(buf, len, "%.*s/%s", (int)(end - dir), dir, name);
		if (n >= 0 && (size_t)n < len && access(buf, X_OK) == 0)
			return 0;
	}
	snprintf(err, errlen, "%s not found in PATH (%s)", name, path);
	return -ENOENT;
}

/* Highest fd number worth closing, found before fork. */
static int max_fd(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur > 65536)
		return 65536;
	return (int)rl.rlim_cur;
}

/* Closes every fd >= 3 except keep. Async-signal-safe. */
static void close_other_fds(int keep, int maxfd)
{
	if ((keep == 3 || syscall(SYS_close_range, 3, keep - 1, 0) == 0) &&
	    syscall(SYS_close_range, keep + 1, ~0u, 0) == 0)
		return;
	for (int fd = 3; fd < maxfd; fd++) {
		if (fd != keep)
			close(fd);
	}
}

static void reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* fails harmlessly for some */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

struct child_fds {
	int devnull;
	int log;
	int errpipe;
	int maxfd;
	pid_t parent;
};

/* In the child: only async-signal-safe calls; never returns. */
static void child_exec(const char *exe, char *const argv[],
		       const struct child_fds *fds)
{
	int err, errfd;

	errfd = fcntl(fds->errpipe, F_DUPFD_CLOEXEC, 3);
	if (errfd < 0 || setpgid(0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	if (getppid() != fds->parent) /* the parent died before prctl */
		_exit(127);
	if (dup2(fds->devnull, 0) < 0 || dup2(fds->log, 1) < 0 ||
	    dup2(fds->log, 2) < 0)
		goto fail;
	close_other_fds(errfd, fds->maxfd);
	reset_signals();
	execve(exe, argv, environ);
fail:
	err = errno;
	if (write(errfd >= 0 ? errfd : fds->errpipe, &err, sizeof(err)) < 0)
		_exit(126);
	_exit(127);
}

/*
 * Parent side: EOF on the CLOEXEC pipe means the exec worked. Otherwise
 * the child sent its errno; it is killed (if need be) and reaped.
 */
static int read_exec_result(int fd, pid_t pid)
{
	int child_errno = 0;
	ssize_t n;
	int st;

	do {
		n = read(fd, &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(child_errno) || child_errno <= 0)
		child_errno = n < 0 ? errno : EIO;
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return -child_errno;
}

int lg_proc_spawn(const char *exe, char *const argv[], int log_fd, pid_t *pid,
		  char *err, size_t errlen)
{
	struct child_fds fds = {.log = log_fd, .maxfd = max_fd()};
	int pipefd[2];
	pid_t child;
	int ret;

	fds.parent = getpid();
	fds.devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fds.devnull < 0)
		return lg_hv_syserr(err, errlen, "open /dev/null");
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ret = lg_hv_syserr(err, errlen, "pipe");
		close(fds.devnull);
		return ret;
	}
	fds.errpipe = pipefd[1];
	child = fork();
	if (child == 0)
		child_exec(exe, argv, &fds);
	ret = child < 0 ? lg_hv_syserr(err, errlen, "fork") : 0;
	close(pipefd[1]);
	close(fds.devnull);
	if (child > 0) {
		ret = read_exec_result(pipefd[0], child);
		if (ret < 0)
			snprintf(err, errlen, "exec %s: %s", exe,
				 strerror(-ret));
		else
			*pid = child;
	}
	close(pipefd[0]);
	return ret;
}

int lg_proc_reap(pid_t pid, unsigned timeout_ms, int *wstatus)
{
	struct timespec nap = {.tv_nsec = (long)REAP_POLL_NS};
	uint64_t waited_ns = 0;
	pid_t r;

	for (;;) {
		r = waitpid(pid, wstatus, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (waited_ns >= (uint64_t)timeout_ms * 1000000ull)
			return 0;
		nanosleep(&nap, NULL);
		waited_ns += REAP_POLL_NS;
	}
}

int lg_proc_kill(pid_t pid, int *wstatus)
{
	pid_t r;

	if (kill(-pid, SIGKILL) < 0 && kill(pid, SIGKILL) < 0 && errno != ESRCH)
		return -errno;
	do {
		r = waitpid(pid, wstatus, 0);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

void lg_proc_describe(int wstatus, char *buf, size_t len)
{
	int sig;
	const char *abbrev;

	if (WIFEXITED(wstatus)) {
		snprintf(buf, len, "exited with status %d",
			 WEXITSTATUS(wstatus));
		return;
	}
	if (!WIFSIGNALED(wstatus)) {
		snprintf(buf, len, "ended with wait status 0x%x", wstatus);
		return;
	}
	sig = WTERMSIG(wstatus);
	abbrev = sigabbrev_np(sig);
	snprintf(buf, len, "was killed by signal %d (SIG%s: %s)%s", sig,
		 abbrev ? abbrev : "?", strsignal(sig),
		 WCOREDUMP(wstatus) ? ", core dumped" : "");
}
