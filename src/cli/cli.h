/* SPDX-License-Identifier: Apache-2.0 */
/* The luminaguard command table and the exit codes every command shares. */
#ifndef LG_CLI_CLI_H
#define LG_CLI_CLI_H

#include <stdio.h>

/*
 * Exit codes. `exec` otherwise returns the guest command's own status
 * (128+N for death by signal N), so these follow timeout(1) and docker.
 */
enum lg_exit {
	LG_EXIT_OK = 0,
	LG_EXIT_USAGE = 2,     /* bad flags or arguments; nothing was started */
	LG_EXIT_TIMEOUT = 124, /* exec --timeout expired; VM destroyed */
	LG_EXIT_INTERNAL = 125,	   /* luminaguard or the VM failed */
	LG_EXIT_CANNOT_RUN = 126,  /* guest command found but not executable */
	LG_EXIT_NOT_FOUND = 127,   /* guest command not found */
	LG_EXIT_INTERRUPTED = 130, /* Ctrl-C (SIGINT) or SIGTERM */
};

struct lg_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	void (*usage)(FILE *out);
};

extern const struct lg_cmd lg_cmd_exec;
extern const struct lg_cmd lg_cmd_image;
extern const struct lg_cmd lg_cmd_mcp;
extern const struct lg_cmd lg_cmd_version;

/* True when arg is -h or --help. */
int cli_is_help(const char *arg);

#endif
