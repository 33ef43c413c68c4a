/* SPDX-License-Identifier: Apache-2.0 */
/* luminaguard: global options, then one subcommand from the table. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "config.h"

static const struct lg_cmd *const commands[] = {
	&lg_cmd_exec,
	&lg_cmd_image,
	&lg_cmd_mcp,
	&lg_cmd_version,
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

int cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: luminaguard [--log-level LEVEL] [--log-format FORMAT] "
		"COMMAND [ARGS...]\n"
		"\n"
		"Run AI agent tasks in just-in-time micro-VMs.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-10s %s\n", commands[i]->name,
			commands[i]->summary);
	fprintf(out,
		"\n"
		"Options:\n"
		"  --log-level LEVEL   error, warn (default), info or debug\n"
		"  --log-format FMT    human (default) or json (one object a "
		"line)\n"
		"  --version           print the version and exit\n"
		"  -h, --help          show this help\n"
		"\n"
		"Run `luminaguard COMMAND --help` for a command's options.\n"
		"Exit codes: 0 ok, 2 usage error, 124 timeout, 125 internal "
		"error,\n"
		"126/127 guest command not executable/not found; `exec` "
		"otherwise\n"
		"returns the guest command's status (128+N for signal N).\n");
}

static const struct lg_cmd *command_find(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static int global_options(int argc, char **argv)
{
	static const struct option opts[] = {
		{"log-level", required_argument, NULL, 'l'},
		{"log-format", required_argument, NULL, 'f'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	/* '+': stop at the command name; its flags are its own. */
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (lg_log_set_level_name(optarg) < 0) {
				lg_err("unknown log level '%s' (error, warn, "
				       "info, debug)",
				       optarg);
				return -1;
			}
			break;
		case 'f':
			if (lg_log_set_format_name(optarg) < 0) {
				lg_err("unknown log format '%s' (human, json)",
				       optarg);
				return -1;
			}
			break;
		case 'V':
			printf("luminaguard %s\n", LG_VERSION);
			exit(LG_EXIT_OK);
		case 'h':
			usage(stdout);
			exit(LG_EXIT_OK);
		default:
			return -1;
		}
	}
	return 0;
}

/*
 * A parent may start us with fd 0, 1 or 2 closed; the next open() would
 * then become "stdin" or "stdout". Fill the gaps with /dev/null.
 */
static void std_fds_ensure(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			exit(LG_EXIT_INTERNAL);
	}
}

int main(int argc, char **argv)
{
	const struct lg_cmd *cmd;
	const char *env_level = getenv("LUMINAGUARD_LOG");

	std_fds_ensure();

	if (env_level && lg_log_set_level_name(env_level) < 0)
		lg_warn("ignoring LUMINAGUARD_LOG=%s: unknown level",
			env_level);
	if (global_options(argc, argv) < 0) {
		fprintf(stderr, "Run `luminaguard --help` for usage.\n");
		return LG_EXIT_USAGE;
	}
	if (optind >= argc) {
		usage(stderr);
		return LG_EXIT_USAGE;
	}
	cmd = command_find(argv[optind]);
	if (!cmd) {
		lg_err("unknown command '%s'; run `luminaguard --help`",
		       argv[optind]);
		return LG_EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* reset getopt for the command's own parsing */
	if (argc > 1 && cli_is_help(argv[1])) {
		cmd->usage(stdout);
		return LG_EXIT_OK;
	}
	return cmd->run(argc, argv);
}
