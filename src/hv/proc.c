/* SPDX-License-Identifier: Apache-2.0 */
#include "hv/proc.h"
#include "hv/errmsg.h"

#include "common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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

/* Only where the kernel has no pidfd_open (before 5.3). */
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

/*
 * Default dispositions and an empty mask for the new program. The child
 * starts with every signal blocked (see lg_proc_spawn), and until setpgid
 * it was in our process group: a Ctrl-C there may be pending. Ignoring a
 * signal discards it when pending, so everything is ignored first, then
 * unblocked, then set back to default; SIGXFSZ stays ignored (ignored
 * signals stay ignored across execve) when keep_xfsz_ignored.
 */
static void reset_signals(bool keep_xfsz_ignored)
{
	struct sigaction ign = {.sa_handler = SIG_IGN};
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	/* Each fails harmlessly for SIGKILL, SIGSTOP and libc's own. */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &ign, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGXFSZ || !keep_xfsz_ignored)
			sigaction(sig, &dfl, NULL);
	}
}

struct child_ctx {
	int devnull;
	int log;
	int errpipe;
	int maxfd;
	pid_t parent;
	bool set_fsize;
	struct rlimit fsize;
};

/* In the child: only async-signal-safe calls; never returns. */
static void child_exec(const char *exe, char *const argv[],
		       const struct child_ctx *c)
{
	int err, errfd;

	errfd = fcntl(c->errpipe, F_DUPFD_CLOEXEC, 3);
	if (errfd < 0 || setpgid(0, 0) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		goto fail;
	if (getppid() != c->parent) /* the parent died before prctl */
		_exit(127);
	if (dup2(c->devnull, 0) < 0 || dup2(c->log, 1) < 0 ||
	    dup2(c->log, 2) < 0)
		goto fail;
	if (c->set_fsize && setrlimit(RLIMIT_FSIZE, &c->fsize) < 0)
		goto fail;
	close_other_fds(errfd, c->maxfd);
	reset_signals(c->set_fsize);
	execve(exe, argv, environ);
fail:
	err = errno;
	if (write(errfd >= 0 ? errfd : c->errpipe, &err, sizeof(err)) < 0)
		_exit(126);
	_exit(127);
}

/* Kills (if need be) and reaps a child that failed to start. */
static void kill_and_reap(pid_t pid)
{
	int st;

	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/*
 * Parent side: the child sends its errno on the CLOEXEC pipe when a step
 * before execve fails. EOF means it exec'd, or it died before: a child
 * already killed by a signal is taken as the latter (left unreaped,
 * WNOWAIT, a child that exited is the new program's own exit status,
 * which the caller reports with the program's log).
 */
static int read_exec_result(int fd, pid_t pid, const char *exe, char *err,
			    size_t errlen)
{
	siginfo_t si = {0};
	int child_errno = 0;
	char how[160];
	ssize_t n;

	do {
		n = read(fd, &child_errno, sizeof(child_errno));
	} while (n < 0 && errno == EINTR);
	if (n == 0) {
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) <
			    0 ||
		    si.si_pid != pid ||
		    (si.si_code != CLD_KILLED && si.si_code != CLD_DUMPED))
			return 0;
		lg_proc_describe(si.si_status |
					 (si.si_code == CLD_DUMPED ? 0x80 : 0),
				 how, sizeof(how));
		kill_and_reap(pid);
		snprintf(err, errlen, "starting %s: the child %s before exec",
			 exe, how);
		return -ECHILD;
	}
	if (n != (ssize_t)sizeof(child_errno) || child_errno <= 0)
		child_errno = n < 0 ? errno : EIO;
	kill_and_reap(pid);
	snprintf(err, errlen, "exec %s: %s", exe, strerror(child_errno));
	return -child_errno;
}

/* A pidfd for our unreaped child, or -1 where the kernel has none. */
static int open_pidfd(pid_t pid, int *pidfd)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0) {
		*pidfd = (int)fd;
		return 0;
	}
	*pidfd = -1;
	return errno == ENOSYS ? 0 : -errno;
}

static int prepare_child(const struct lg_proc_opts *opts, struct child_ctx *c,
			 char *err, size_t errlen)
{
	struct rlimit cur;

	*c = (struct child_ctx){.log = opts->log_fd, .maxfd = max_fd()};
	c->parent = getpid();
	if (opts->fsize_max) {
		if (getrlimit(RLIMIT_FSIZE, &cur) < 0)
			return lg_hv_syserr(err, errlen, "getrlimit");
		c->set_fsize = true;
		c->fsize.rlim_cur = (rlim_t)opts->fsize_max;
		/* Never above the hard limit, which only root may raise. */
		if (cur.rlim_max != RLIM_INFINITY &&
		    cur.rlim_max < c->fsize.rlim_cur)
			c->fsize.rlim_cur = cur.rlim_max;
		c->fsize.rlim_max = c->fsize.rlim_cur;
	}
	c->devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (c->devnull < 0)
		return lg_hv_syserr(err, errlen, "open /dev/null");
	return 0;
}

/* fork with every signal blocked: no handler of ours runs in the child. */
static pid_t fork_blocked(void)
{
	sigset_t all, old;
	pid_t child;
	int saved;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	child = fork();
	if (child == 0)
		return 0; /* the child unblocks in reset_signals */
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return child;
}

int lg_proc_spawn(const char *exe, char *const argv[],
		  const struct lg_proc_opts *opts, struct lg_proc *p, char *err,
		  size_t errlen)
{
	struct child_ctx c;
	int pipefd[2], pidfd = -1;
	pid_t child;
	int ret;

	*p = LG_PROC_NONE;
	ret = prepare_child(opts, &c, err, errlen);
	if (ret < 0)
		return ret;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		ret = lg_hv_syserr(err, errlen, "pipe");
		close(c.devnull);
		return ret;
	}
	c.errpipe = pipefd[1];
	child = fork_blocked();
	if (child == 0)
		child_exec(exe, argv, &c);
	ret = child < 0 ? lg_hv_syserr(err, errlen, "fork") : 0;
	close(pipefd[1]);
	close(c.devnull);
	if (child > 0) {
		/* Before anything can reap it, so the pidfd is this child. */
		ret = open_pidfd(child, &pidfd);
		if (ret < 0) {
			lg_hv_syserr(err, errlen, "pidfd_open");
			kill_and_reap(child);
		}
	}
	if (child > 0 && ret == 0)
		ret = read_exec_result(pipefd[0], child, exe, err, errlen);
	close(pipefd[0]);
	if (ret < 0) {
		if (pidfd >= 0)
			close(pidfd);
		return ret;
	}
	p->pid = child;
	p->pidfd = pidfd;
	return 0;
}

/* Without a pidfd: look every REAP_POLL_NS. */
static int reap_polling(pid_t pid, unsigned timeout_ms, int *wstatus)
{
	struct timespec nap = {.tv_nsec = (long)REAP_POLL_NS};
	uint64_t deadline = lg_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	pid_t r;

	for (;;) {
		r = waitpid(pid, wstatus, WNOHANG);
		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (lg_now_ns() >= deadline)
			return 0;
		nanosleep(&nap, NULL);
	}
}

int lg_proc_reap(const struct lg_proc *p, unsigned timeout_ms, int *wstatus)
{
	struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
	uint64_t deadline;
	bool polled = false;
	pid_t r;
	int n, ms;

	if (p->pidfd < 0)
		return reap_polling(p->pid, timeout_ms, wstatus);
	deadline = lg_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	for (;;) {
		r = waitpid(p->pid, wstatus, WNOHANG);
		if (r == p->pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -errno;
		ms = lg_ms_until(deadline);
		if (r == 0 && ms == 0 && polled)
			return 0;
		/* The pidfd reads as readable once the process exited. */
		n = poll(&pfd, 1, ms);
		polled = true;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0)
			return 0;
	}
}

int lg_proc_kill(const struct lg_proc *p, int *wstatus)
{
	pid_t r;

	/* The pidfd names this process even if its pid were reused. */
	if (p->pidfd >= 0 &&
	    syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0) < 0 &&
	    errno != ESRCH)
		return -errno;
	/*
	 * Then the rest of its group. Its pgid is its pid, which our
	 * unreaped child keeps from being reused.
	 */
	if (kill(-p->pid, SIGKILL) < 0 && p->pidfd < 0 &&
	    kill(p->pid, SIGKILL) < 0 && errno != ESRCH)
		return -errno;
	do {
		r = waitpid(p->pid, wstatus, 0);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

void lg_proc_release(struct lg_proc *p)
{
	if (p->pidfd >= 0)
		close(p->pidfd);
	*p = LG_PROC_NONE;
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
