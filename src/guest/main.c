/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lg-agent entry point. As PID 1 of a micro-VM it sets the system up and
 * serves the host over vsock and virtio-serial; with --unix PATH it serves
 * the same protocol on a Unix socket for host-side tests.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent.h"
#include "channel.h"
#include "loop.h"
#include "session.h"

/* Flushing the SHUTDOWN answer may take this long before power-off. */
#define SHUTDOWN_FLUSH_MS 2000

enum agent_mode agent_mode = AGENT_GUEST;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: lg-agent            (as PID 1 inside a LuminaGuard "
		"VM)\n"
		"       lg-agent --unix PATH\n"
		"       lg-agent --help | --version\n"
		"\n"
		"As PID 1, sets up the guest and serves the host on vsock port "
		"%u\nand the virtio-serial port %s.\n"
		"--unix PATH serves the same protocol on a Unix socket, for "
		"tests:\nno mounts, no power-off; SHUTDOWN exits with 0.\n",
		LG_AGENT_VSOCK_PORT, LG_AGENT_SERIAL_NAME);
}

void agent_shutdown(struct session *s)
{
	session_flush_blocking(s, SHUTDOWN_FLUSH_MS);
	sessions_kill_all();
	if (agent_mode == AGENT_GUEST)
		agent_power_off();
	listener_cleanup_unix();
	exit(0);
}

void agent_terminate(void)
{
	sessions_kill_all();
	listener_cleanup_unix();
	exit(0);
}

/* Loop, signals and reaping: the same in both modes. */
static void common_setup(void)
{
	int rc;

	ensure_std_fds();
	/* Writes to a gone peer or child must fail with EPIPE, not kill. */
	signal(SIGPIPE, SIG_IGN);
	rc = loop_init();
	if (rc < 0)
		agent_fatal("epoll: %s", strerror(-rc));
	rc = reaper_init(agent_mode == AGENT_UNIX);
	if (rc < 0)
		agent_fatal("signalfd: %s", strerror(-rc));
	loop_set_idle_hook(sessions_flush_dirty);
}

static void __attribute__((noreturn)) guest_main(void)
{
	struct utsname u;
	int rc;

	pid1_setup();
	common_setup();
	if (uname(&u) == 0)
		agent_log("%s on Linux %s", AGENT_VERSION_STRING, u.release);
	rc = listener_start_vsock();
	if (rc == -EAFNOSUPPORT || rc == -ENODEV)
		agent_log("no vsock in this VM; virtio-serial only");
	else if (rc < 0)
		agent_log("vsock port %u: %s", LG_AGENT_VSOCK_PORT,
			  strerror(-rc));
	serial_start(rc < 0);
	loop_run();
}

static void __attribute__((noreturn)) unix_main(const char *path)
{
	int rc;

	agent_mode = AGENT_UNIX;
	common_setup();
	/* Orphans of execs come back to us, as they would to PID 1. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		agent_log("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	rc = listener_start_unix(path);
	if (rc < 0)
		agent_fatal("listen on %s: %s", path, strerror(-rc));
	loop_run();
}

int main(int argc, char **argv)
{
	/* An explicit --unix wins even as PID 1 (a container's entrypoint). */
	if (argc == 3 && strcmp(argv[1], "--unix") == 0 && argv[2][0])
		unix_main(argv[2]);
	/* The kernel passes unknown command-line words to init: ignore. */
	if (getpid() == 1)
		guest_main();
	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("%s (protocol %d)\n", AGENT_VERSION_STRING,
		       LG_PROTO_VERSION);
		return 0;
	}
	usage(stderr);
	return 2;
}
