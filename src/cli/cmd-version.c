/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "agent/proto.h"
#include "cli/cli.h"
#include "config.h"
#include "hv/hv.h"

static void version_usage(FILE *out)
{
	fprintf(out, "usage: luminaguard version\n"
		     "\n"
		     "Print the version, the agent protocol version and the "
		     "VM backends.\n");
}

static int version_run(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		version_usage(stderr);
		return LG_EXIT_USAGE;
	}
	printf("luminaguard %s\n", LG_VERSION);
	printf("agent protocol %d\n", LG_PROTO_VERSION);
	printf("backends: %s\n", lg_hv_backend_names());
	return LG_EXIT_OK;
}

const struct lg_cmd lg_cmd_version = {
	.name = "version",
	.summary = "print version information",
	.run = version_run,
	.usage = version_usage,
};
