/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the cross-check's runners share (xcheck.c): the guest and its
 * devices, a run's result, scratch files, and bounded child processes.
 */
#ifndef LG_TESTS_VMM_XCHECK_H
#define LG_TESTS_VMM_XCHECK_H

#include "vmm/devices/virtio-blk.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XCHECK_UART_MAX 16384
#define XCHECK_MAX_DEVS 4
#define XCHECK_SECTOR 512u
#define XCHECK_VSOCK_CID 3u

enum xdev_type { XDEV_END, XDEV_BLK, XDEV_RNG, XDEV_VSOCK };

struct xdev {
	enum xdev_type type;
	unsigned int sectors; /* blk: image size; byte j of sector s: s^13j */
	const char *id;	      /* blk: GET_ID answer (QEMU: serial) */
	bool read_only;
	bool flush; /* blk: offer FLUSH (QEMU: writeback, config-wce) */
};

struct xguest {
	const char *name;
	struct xdev devs[XCHECK_MAX_DEVS]; /* in scan order */
	char ids[XCHECK_MAX_DEVS][VIRTIO_BLK_ID_BYTES + 1];
};

struct xresult {
	char uart[XCHECK_UART_MAX];
	bool exited;   /* through the exit port, or lgvmm's exit line */
	uint32_t code; /* harness, lgvmm: the exit code */
	int status;    /* QEMU, lgvmm: exit status, -1 if killed/timed out */
};

/* The run's scratch directory, made by main(). */
extern char xcheck_tmpdir[64];

/* "<tmpdir>/<who>-<i>.<what>": disks, UART files, sockets, logs. */
void xcheck_tmp_path(char *buf, size_t size, const char *who, unsigned int i,
		     const char *what);

/* A disk image with the pattern the blk guest expects. */
int xcheck_make_disk(const char *path, unsigned int sectors);

int xcheck_count_devs(const struct xguest *g);

/* Up to size - 1 bytes of the file, NUL-terminated; "" on error. */
int xcheck_read_file(const char *path, char *buf, size_t size);

/*
 * Runs argv[0] (looked up in PATH) with stdin from /dev/null, stdout to
 * out_path and stderr to err_path (the same file if equal), killed
 * after timeout_ms. *status: the exit status, -1 if it was killed.
 * 0, or a negative errno if it could not be started.
 */
int xcheck_spawn(char *const argv[], const char *out_path, const char *err_path,
		 int timeout_ms, int *status);

/*
 * The guest's PVH ELF (elf_dir/GUEST-pvh.elf) under the lgvmm executable
 * with --no-api and a config file naming its devices. Disks are
 * "lgvmm-<i>.img" in the scratch directory. 0, or a negative errno
 * for a setup failure (an explained message is printed).
 */
int xcheck_run_lgvmm(const struct xguest *g, const char *lgvmm,
		     const char *elf_dir, struct xresult *r);

/* The host end of the vsock guest's three conversations (vsock.c). */
struct xcheck_vsock_peer;

/*
 * Listens on "<uds_path>_5000" and starts a thread that connects to
 * uds_path (retrying until it appears, for lgvmm), then plays the host
 * side of tests/vmm/guest/vsock.c. 0 or a negative errno.
 */
int xcheck_vsock_peer_start(const char *uds_path,
			    struct xcheck_vsock_peer **out);
/*
 * Joins the thread (it gives up on its own timeouts), prints what it
 * saw, frees it: 0 if the host side went as the guest's test expects.
 */
int xcheck_vsock_peer_finish(struct xcheck_vsock_peer *p, const char *who);

#endif
