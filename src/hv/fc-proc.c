/* SPDX-License-Identifier: Apache-2.0 */
#include "hv/fc-proc.h"

#include "common/clock.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

/* Only without a pidfd (kernels before 5.3): look this often. */
#define POLL_STEP_NS (5ull * 1000 * 1000)

/*
 * waitid's view of a zombie, as a waitpid()-style status. A child we can
 * no longer wait for (someone else reaped it) counts as gone, with the
 * status 255 that lg_proc_reap's callers use for "unknown".
 */
static bool peek_exit(pid_t pid, int *wstatus)
{
	siginfo_t si = {0};
	int st = 0xff00;

	while (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0) {
		if (errno == EINTR)
			continue;
		if (wstatus)
			*wstatus = st;
		return true;
	}
	if (si.si_pid != pid)
		return false;
	if (si.si_code == CLD_EXITED)
		st = (si.si_status & 0xff) << 8;
	else
		st = (si.si_status & 0x7f) |
		     (si.si_code == CLD_DUMPED ? 0x80 : 0);
	if (wstatus)
		*wstatus = st;
	return true;
}

bool lg_fc_proc_exited(const struct lg_proc *proc, unsigned timeout_ms,
		       int *wstatus)
{
	uint64_t deadline = lg_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct timespec nap = {.tv_nsec = (long)POLL_STEP_NS};
	struct pollfd pfd;
	int ms;

	if (!proc || proc->pid <= 0)
		return false;
	for (;;) {
		if (peek_exit(proc->pid, wstatus))
			return true;
		ms = lg_ms_until(deadline);
		if (ms == 0)
			return false;
		if (proc->pidfd < 0) {
			nanosleep(&nap, NULL);
			continue;
		}
		/* A pidfd reads as readable once the process has exited. */
		pfd = (struct pollfd){.fd = proc->pidfd, .events = POLLIN};
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return false;
	}
}
