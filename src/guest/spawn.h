/* SPDX-License-Identifier: Apache-2.0 */
/* Forking an exec's child and setting it up before execvp. */
#ifndef LG_GUEST_SPAWN_H
#define LG_GUEST_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

struct spawn_args {
	char *const *argv;
	char **envp;
	const char *cwd; /* NULL: "/" */
	uint32_t uid, gid;
	int stdin_fd; /* -1: /dev/null */
	int stdout_fd, stderr_fd;
	int status_fd; /* CLOEXEC pipe: stays empty if execvp succeeds */
};

/* What the child failed at; reported through status_fd. */
enum spawn_stage {
	SPAWN_SETSID = 1,
	SPAWN_STDIO,
	SPAWN_SETGROUPS,
	SPAWN_SETGID,
	SPAWN_SETUID,
	SPAWN_CHDIR,
	SPAWN_EXEC,
};

struct spawn_status {
	int32_t stage;
	int32_t err;
};

/* The child's pid, or -errno if fork failed. */
pid_t spawn_child(const struct spawn_args *a);

#endif
