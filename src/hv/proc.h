/* SPDX-License-Identifier: Apache-2.0 */
/* Starting, watching and ending a helper process (the VMM). */
#ifndef LG_HV_PROC_H
#define LG_HV_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A started helper process. */
struct lg_proc {
	pid_t pid; /* -1: none (never started, or reaped) */
	int pidfd; /* -1: none (kernel without pidfd_open, or released) */
};

#define LG_PROC_NONE ((struct lg_proc){.pid = -1, .pidfd = -1})

struct lg_proc_opts {
	int log_fd; /* the child's stdout and stderr */
	/*
	 * RLIMIT_FSIZE of the child, 0: inherited. With it SIGXFSZ is
	 * ignored in the child, so a write past the limit fails with EFBIG
	 * (a write crossing it is cut short) instead of killing the child.
	 */
	uint64_t fsize_max;
};

/*
 * Finds name in $PATH (or takes it as is when it contains a '/'); the
 * executable's path goes to buf.
 */
int lg_proc_find_exe(const char *name, char *buf, size_t len, char *err,
		     size_t errlen);

/*
 * Starts exe with argv: stdin from /dev/null, stdout and stderr to
 * opts->log_fd, no other fds, its own process group, SIGKILL when the
 * calling thread dies, default signal dispositions (signals that reached
 * the child before exec are discarded). Reports exec failures, and a child
 * killed by a signal before it could exec, as -errno with err. On success
 * *p holds the pid and, where the kernel has pidfd_open, a pidfd taken
 * before anyone else could reap the child: the caller must be the only
 * one reaping its children (no SIGCHLD SIG_IGN, no waitpid(-1)).
 */
int lg_proc_spawn(const char *exe, char *const argv[],
		  const struct lg_proc_opts *opts, struct lg_proc *p, char *err,
		  size_t errlen);

/*
 * Reaps p if it exited, waiting up to timeout_ms (0: just look) on its
 * pidfd. Returns 1 with *wstatus set when it exited, 0 when it still runs,
 * -errno when waitpid fails (-ECHILD: someone else reaped it). Does not
 * change *p: call lg_proc_release() once it is gone.
 */
int lg_proc_reap(const struct lg_proc *p, unsigned timeout_ms, int *wstatus);

/* SIGKILLs p (through its pidfd) and its process group, and reaps it. */
int lg_proc_kill(const struct lg_proc *p, int *wstatus);

/* Forgets a reaped (or lost) process: closes the pidfd, pid -1. */
void lg_proc_release(struct lg_proc *p);

/* "exited with status 1", "was killed by signal 9 (SIGKILL: Killed)". */
void lg_proc_describe(int wstatus, char *buf, size_t len);

#endif
