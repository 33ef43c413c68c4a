/* SPDX-License-Identifier: Apache-2.0 */
/* Starting, watching and ending a helper process (the VMM). */
#ifndef LG_HV_PROC_H
#define LG_HV_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Finds name in $PATH (or takes it as is when it contains a '/'); the
 * executable's path goes to buf.
 */
int lg_proc_find_exe(const char *name, char *buf, size_t len, char *err,
		     size_t errlen);

/*
 * Starts exe with argv: stdin from /dev/null, stdout and stderr to
 * log_fd, no other fds, its own process group, SIGKILL when the calling
 * thread dies. Reports exec failures (not just fork failures) as -errno.
 */
int lg_proc_spawn(const char *exe, char *const argv[], int log_fd, pid_t *pid,
		  char *err, size_t errlen);

/*
 * Reaps pid if it exited, waiting up to timeout_ms (0: just look).
 * Returns 1 with *wstatus set when it exited, 0 when it still runs,
 * -errno when waitpid fails (-ECHILD: someone else reaped it).
 */
int lg_proc_reap(pid_t pid, unsigned timeout_ms, int *wstatus);

/* SIGKILLs pid's process group and reaps pid. */
int lg_proc_kill(pid_t pid, int *wstatus);

/* "exited with status 1", "was killed by signal 9 (SIGKILL: Killed)". */
void lg_proc_describe(int wstatus, char *buf, size_t len);

#endif
