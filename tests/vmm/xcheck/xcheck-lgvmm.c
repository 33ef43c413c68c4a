/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cross-check's third runner: the guest's PVH ELF under the lgvmm
 * executable itself, `lgvmm --no-api --config-file`, as a user runs it.
 *
 * Device order: lgvmm fills its slots (0xd0000000 + n * 0x1000) with
 * the root drive, the other drives in config order, the vsock device,
 * then the entropy device (src/vmm/machine-devices.c). The guest's
 * list must have that shape: its first disk is made the root drive, and
 * is written last in the config file so that the root-first rule, not
 * the file's order, puts it in slot 0.
 *
 * Exit: lgvmm has nothing at port 0x501, so the guest's start code goes
 * on to print "exit 0x%08x" as its last UART line and to reset through
 * the i8042, which ends lgvmm with status 0 (tests/vmm/guest/start.S).
 * The runner takes the code from that line and removes it, so the UART
 * text compares with the other runners', and checks lgvmm's log for the
 * i8042 as the cause (a triple fault would also end it with status 0).
 */
#include "xcheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LGVMM_TIMEOUT_MS 30000
#define LGVMM_MEM_MIB 32 /* room above the harness's 16 MiB stack top */
#define EXIT_PREFIX "exit 0x"
#define EXIT_DIGITS 8
/* What lgvmm logs when the i8042 reset ends it (machine-devices.c). */
#define I8042_RESET_LOG "the guest reset the machine (i8042)"

/* s as a JSON string, quotes included. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Whether lgvmm's fixed order gives the guest its devices in order. */
static bool order_ok(const struct xguest *g)
{
	int i, n = xcheck_count_devs(g), rank = 0;

	for (i = 0; i < n; i++) {
		int r = g->devs[i].type == XDEV_BLK	? 0
			: g->devs[i].type == XDEV_VSOCK ? 1
							: 2;

		/* Disks may repeat; one vsock and one entropy device. */
		if (r < rank || (r == rank && r > 0))
			return false;
		rank = r;
	}
	return true;
}

static void write_drive(FILE *f, const struct xdev *d, const char *img,
			bool root, bool *first)
{
	fprintf(f, "%s\n  {\"drive_id\": ", *first ? "" : ",");
	json_string(f, d->id);
	fprintf(f, ", \"path_on_host\": ");
	json_string(f, img);
	fprintf(f,
		", \"is_root_device\": %s, \"is_read_only\": %s, "
		"\"cache_type\": \"%s\"}",
		root ? "true" : "false", d->read_only ? "true" : "false",
		d->flush ? "Writeback" : "Unsafe");
	*first = false;
}

/* The config file, and each disk with its pattern. */
static int write_config(const struct xguest *g, const char *elf,
			const char *path, const char *uds)
{
	int i, n = xcheck_count_devs(g), root = -1, err = 0;
	bool first = true;
	char img[256];
	FILE *f;

	f = fopen(path, "we");
	if (!f)
		return -errno;
	fprintf(f, "{\"boot-source\": {\"kernel_image_path\": ");
	json_string(f, elf);
	/* The PVH stub reads no command line; lgvmm appends its own. */
	fprintf(f,
		", \"boot_args\": \"console=ttyS0 reboot=k panic=1\"},\n"
		" \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": "
		"%d}",
		LGVMM_MEM_MIB);
	fprintf(f, ",\n \"drives\": [");
	for (i = 0; i < n && err == 0; i++) {
		const struct xdev *d = &g->devs[i];

		if (d->type != XDEV_BLK)
			continue;
		xcheck_tmp_path(img, sizeof(img), "lgvmm", (unsigned int)i,
				"img");
		err = xcheck_make_disk(img, d->sectors);
		if (root < 0)
			root = i; /* written last, below */
		else
			write_drive(f, d, img, false, &first);
	}
	if (root >= 0) {
		xcheck_tmp_path(img, sizeof(img), "lgvmm", (unsigned int)root,
				"img");
		write_drive(f, &g->devs[root], img, true, &first);
	}
	fprintf(f, "]");
	for (i = 0; i < n; i++) {
		if (g->devs[i].type == XDEV_VSOCK) {
			fprintf(f,
				",\n \"vsock\": {\"guest_cid\": %u, "
				"\"uds_path\": ",
				XCHECK_VSOCK_CID);
			json_string(f, uds);
			fprintf(f, "}");
		} else if (g->devs[i].type == XDEV_RNG) {
			fprintf(f, ",\n \"entropy\": {}");
		}
	}
	fprintf(f, "}\n");
	if (ferror(f) && err == 0)
		err = -EIO;
	if (fclose(f) != 0 && err == 0)
		err = -errno;
	return err;
}

/*
 * Takes the last UART line, "exit 0x%08x", off r->uart: true with
 * r->code set, false if the text does not end with it.
 */
static bool take_exit_line(struct xresult *r)
{
	size_t len = strlen(r->uart), start;
	char *end;
	unsigned long code;

	if (len == 0 || r->uart[len - 1] != '\n')
		return false;
	start = len - 1;
	while (start > 0 && r->uart[start - 1] != '\n')
		start--;
	if (len - start != strlen(EXIT_PREFIX) + EXIT_DIGITS + 1 ||
	    strncmp(r->uart + start, EXIT_PREFIX, strlen(EXIT_PREFIX)) != 0)
		return false;
	errno = 0;
	code = strtoul(r->uart + start + strlen(EXIT_PREFIX), &end, 16);
	if (errno || *end != '\n' || code > UINT32_MAX)
		return false;
	r->code = (uint32_t)code;
	r->uart[start] = '\0';
	return true;
}

static bool has_dev(const struct xguest *g, enum xdev_type type)
{
	int i;

	for (i = 0; i < xcheck_count_devs(g); i++)
		if (g->devs[i].type == type)
			return true;
	return false;
}

int xcheck_run_lgvmm(const struct xguest *g, const char *lgvmm,
		     const char *elf_dir, struct xresult *r)
{
	char elf[4096], cfg[256], uart[256], log[256], uds[256], vlog[256];
	char *argv[] = {(char *)lgvmm, "--no-api",   "--config-file",
			cfg,	       "--log-path", vlog,
			"--level",     "Info",	     NULL};
	static char text[XCHECK_UART_MAX];
	struct xcheck_vsock_peer *peer = NULL;
	bool vsock = has_dev(g, XDEV_VSOCK);
	struct stat st;
	int err;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (!order_ok(g)) {
		fprintf(stderr, "lgvmm: cannot give the guest its devices in "
				"this order (disks, vsock, rng)\n");
		return -EINVAL;
	}
	snprintf(elf, sizeof(elf), "%s/%s-pvh.elf", elf_dir, g->name);
	xcheck_tmp_path(cfg, sizeof(cfg), "lgvmm", 0, "json");
	xcheck_tmp_path(uart, sizeof(uart), "lgvmm", 0, "uart");
	xcheck_tmp_path(log, sizeof(log), "lgvmm", 0, "log");
	xcheck_tmp_path(uds, sizeof(uds), "lgvmm", 0, "vsock");
	xcheck_tmp_path(vlog, sizeof(vlog), "lgvmm", 0, "vmmlog");
	err = write_config(g, elf, cfg, uds);
	if (err < 0) {
		fprintf(stderr, "lgvmm: config file %s: %s\n", cfg,
			strerror(-err));
		return err;
	}
	if (vsock) {
		err = xcheck_vsock_peer_start(uds, &peer);
		if (err < 0) {
			fprintf(stderr, "lgvmm: vsock host side: %s\n",
				strerror(-err));
			return err;
		}
	}
	err = xcheck_spawn(argv, uart, log, LGVMM_TIMEOUT_MS, &r->status);
	xcheck_read_file(uart, r->uart, sizeof(r->uart));
	r->exited = err == 0 && r->status == 0 && take_exit_line(r);
	if (err < 0) {
		fprintf(stderr, "lgvmm: cannot run %s: %s\n", lgvmm,
			strerror(-err));
	} else if (!r->exited) {
		xcheck_read_file(log, text, sizeof(text));
		fprintf(stderr,
			"lgvmm: status %d, no final exit line; its "
			"output:\n%s\n",
			r->status, text);
	}
	xcheck_read_file(vlog, text, sizeof(text));
	if (r->exited && !strstr(text, I8042_RESET_LOG)) {
		fprintf(stderr,
			"lgvmm: not ended by the i8042 reset; log:\n%s\n",
			text);
		r->exited = false;
	}
	if (peer && xcheck_vsock_peer_finish(peer, "lgvmm") < 0 && err == 0)
		err = -EPROTO;
	/* lgvmm removes the vsock socket on its way out. */
	if (vsock && (stat(uds, &st) == 0 || errno != ENOENT)) {
		fprintf(stderr, "lgvmm: %s left behind\n", uds);
		unlink(uds);
		if (err == 0)
			err = -EEXIST;
	}
	return err;
}
