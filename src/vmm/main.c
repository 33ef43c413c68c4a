/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lgvmm: one process, one micro-VM. Threads as in Firecracker: the API
 * server's thread, this (VMM) thread running the event loop for devices
 * and signals, and one thread per vCPU. The process ends when the guest
 * resets or powers off (status 0), on SIGINT/SIGTERM, or on a failure.
 */
#include "common/log.h"
#include "vmm/api/api.h"
#include "vmm/vmm.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LGVMM_DEFAULT_SOCK "/run/lgvmm.socket"
#define LGVMM_DEFAULT_PAYLOAD 51200u

struct lgvmm_args {
	const char *api_sock, *id, *config_file;
	const char *log_path, *level, *metrics_path;
	bool no_api, show_level, show_log_origin;
	size_t max_payload;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lgvmm [--api-sock PATH] [--id ID] [--config-file "
		"JSON]\n"
		"             [--no-api] [--log-path PATH] [--level LEVEL]\n"
		"             [--show-level] [--show-log-origin]\n"
		"             [--metrics-path PATH]\n"
		"             [--http-api-max-payload-size BYTES]\n"
		"\n"
		"Runs one micro-VM on KVM, driven through Firecracker's REST "
		"API\n"
		"on a Unix socket (default " LGVMM_DEFAULT_SOCK ").\n"
		"\n"
		"  --api-sock PATH      API socket to create\n"
		"  --id ID              instance id (default "
		"anonymous-instance)\n"
		"  --config-file JSON   configure from this file (the shape "
		"of\n"
		"                       GET /vm/config) and start the VM at "
		"once\n"
		"  --no-api             no API socket (needs --config-file)\n"
		"  --log-path PATH      log to this file or FIFO\n"
		"  --level LEVEL        Error, Warning, Info (default), "
		"Debug,\n"
		"                       Trace or Off\n"
		"  --metrics-path PATH  metrics as JSON lines to this "
		"file/FIFO\n"
		"  --version            print the version and exit\n"
		"\n"
		"The guest's serial console is this process's stdout; stdin "
		"is\n"
		"its input. Exit status: 0 when the guest resets or powers "
		"off,\n"
		"1 on an error, 2 on bad usage.\n");
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > (64ull << 20))
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct lgvmm_args *a)
{
	enum { O_PAYLOAD = 256, O_SHOW_LEVEL, O_SHOW_ORIGIN, O_VERSION };
	static const struct option opts[] = {
		{"api-sock", required_argument, NULL, 's'},
		{"id", required_argument, NULL, 'i'},
		{"config-file", required_argument, NULL, 'c'},
		{"no-api", no_argument, NULL, 'n'},
		{"log-path", required_argument, NULL, 'l'},
		{"level", required_argument, NULL, 'L'},
		{"metrics-path", required_argument, NULL, 'm'},
		{"http-api-max-payload-size", required_argument, NULL,
		 O_PAYLOAD},
		{"show-level", no_argument, NULL, O_SHOW_LEVEL},
		{"show-log-origin", no_argument, NULL, O_SHOW_ORIGIN},
		{"version", no_argument, NULL, O_VERSION},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	*a = (struct lgvmm_args){
		.api_sock = LGVMM_DEFAULT_SOCK,
		.id = "anonymous-instance",
		.max_payload = LGVMM_DEFAULT_PAYLOAD,
	};
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			a->api_sock = optarg;
			break;
		case 'i':
			a->id = optarg;
			break;
		case 'c':
			a->config_file = optarg;
			break;
		case 'n':
			a->no_api = true;
			break;
		case 'l':
			a->log_path = optarg;
			break;
		case 'L':
			a->level = optarg;
			break;
		case 'm':
			a->metrics_path = optarg;
			break;
		case O_SHOW_LEVEL:
			a->show_level = true;
			break;
		case O_SHOW_ORIGIN:
			a->show_log_origin = true;
			break;
		case O_PAYLOAD:
			if (parse_size(optarg, &a->max_payload) < 0) {
				fprintf(stderr,
					"lgvmm: bad payload size '%s'\n",
					optarg);
				return 2;
			}
			break;
		case O_VERSION:
			printf("lgvmm %s\n", LGVMM_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "lgvmm: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (a->no_api && !a->config_file) {
		fprintf(stderr, "lgvmm: --no-api needs --config-file\n");
		return 2;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct lgvmm_args a;
	struct vmm_opts o;
	int r;

	lg_log_set_ident("lgvmm");
	r = parse_args(argc, argv, &a);
	if (r >= 0)
		return r;
	o = (struct vmm_opts){
		.id = a.id,
		.api_sock = a.no_api ? NULL : a.api_sock,
		.config_file = a.config_file,
		.log_path = a.log_path,
		.level = a.level,
		.show_level = a.show_level,
		.show_log_origin = a.show_log_origin,
		.metrics_path = a.metrics_path,
		.max_payload = a.max_payload,
	};
	return vmm_main(&o);
}
