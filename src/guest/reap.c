/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reaping children. SIGCHLD arrives through a signalfd, so the loop never
 * runs code in signal context. Every child is reaped, orphans re-parented
 * to PID 1 (or to the --unix agent, a subreaper) included; statuses are
 * handed to the exec with that pid, if any.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "channel.h"
#include "loop.h"
#include "session.h"

static struct watch sig_w;

static void reap_children(void)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		exec_child_exited(pid, status);
}

static void reaper_ready(struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;
	bool term = false;

	(void)events;
	while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (si.ssi_signo != SIGCHLD)
			term = true;
	/* Signals coalesce: one SIGCHLD may stand for many exits. */
	reap_children();
	if (term)
		agent_terminate();
}

int reaper_init(bool catch_term)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	if (catch_term) {
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	watch_init(&sig_w, fd, reaper_ready);
	if (watch_set(&sig_w, EPOLLIN) < 0) {
		close(fd);
		return -ENOMEM;
	}
	/* Children that exited before the signalfd existed. */
	reap_children();
	return 0;
}
