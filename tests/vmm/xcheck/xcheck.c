/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cross-check of lgvmm's devices against an independent implementation
 * and of the lgvmm executable's wiring: runs one ring-3 test guest
 * under our harness (KVM, the devices linked in), the same guest code
 * linked with the PVH stub under the lgvmm executable (KVM, --no-api
 * --config-file, xcheck-lgvmm.c) and under QEMU's microvm machine (TCG),
 * with the same devices, then compares the UART text line by line, the
 * exit code and, for disks, the image files afterwards, each runner
 * against the harness.
 *
 * Usage: xcheck GUEST [DEVICE...], each DEVICE "rng", "vsock" or
 * "blk:SECTORS:ID[:ro][:flush]" (a disk of SECTORS sectors, byte j of
 * sector s = s ^ 13j, drive id ID), in the order the guest finds them;
 * meson.build lists the guests and their devices. Environment:
 * LG_VMM_GUEST_DIR (GUEST.bin), LG_XCHECK_DIR (GUEST-pvh.elf),
 * LG_XCHECK_LGVMM (the lgvmm executable; unset or empty: not run),
 * LG_XCHECK_QEMU (the QEMU binary; default qemu-system-x86_64 from
 * PATH; not found: not run). Exit 77 (skip) when KVM is not usable here
 * or no second runner is there. QEMU does not run guests with a vsock
 * device: its vhost-vsock needs the host's /dev/vhost-vsock, and its
 * host side is AF_VSOCK, not Firecracker's Unix sockets.
 *
 * Devices: virtio-mmio slots at 0xfeb00000 + n * 0x200. Our harness
 * fills slots from 0 up; QEMU microvm (7.2, acpi=off: 8 slots, GSI
 * 5 + n) gives the first -device slot 7, the next slot 6, and so on, so
 * the devices go to QEMU in reverse order: a guest scanning upwards
 * meets them in the same order under both, at different slots. lgvmm
 * puts them at 0xd0000000 + n * 0x1000 in its own fixed order, which
 * the guest's list must follow (xcheck-lgvmm.c); the guests scan both
 * layouts (guest/virtio.h).
 *
 * QEMU's exit: the guest writes its exit code to port 0x501; there QEMU
 * has isa-debug-exit (iosize 1, so ports 0x502-0x504 stay free), which
 * ends QEMU with status (code << 1) | 1, of which the shell sees 8 bits:
 * only the low 7 bits of the code are compared.
 */
#include "xcheck.h"

#include "../check.h"
#include "../harness.h"

#include "common/log.h"
#include "vmm/boot/elf.h"
#include "vmm/devices/virtio-blk.h"
#include "vmm/devices/virtio-rng.h"
#include "vmm/devices/virtio-vsock.h"
#include "vmm/memory.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define QEMU_TIMEOUT_MS 30000
#define QEMU_RAM "32M" /* room above the harness's 16 MiB stack top */
#define MAX_DEVS XCHECK_MAX_DEVS
#define MAX_ARGS 64
#define SECTOR XCHECK_SECTOR

/* A vsock device under the harness: the loop, the host side. */
struct ours_vsock {
	struct harness_loop hl;
	struct virtio_vsock *vs;
	struct xcheck_vsock_peer *peer;
};

static int ours_vsock_add(struct harness *h, unsigned int i,
			  struct ours_vsock *v)
{
	char uds[256];
	struct virtio_vsock_params p = {
		.guest_cid = XCHECK_VSOCK_CID,
		.uds_path = uds,
	};
	int err;

	if (v->vs)
		return -EEXIST; /* one vsock device, as in lgvmm */
	xcheck_tmp_path(uds, sizeof(uds), "ours", i, "vsock");
	err = harness_loop_create(&v->hl);
	if (err == 0)
		err = virtio_vsock_create(&p, &h->vm->mem, v->hl.loop,
					  harness_virtio_irq, h, &v->vs);
	if (err == 0)
		err = harness_attach_virtio(h, virtio_vsock_mmio(v->vs));
	if (err >= 0)
		err = harness_loop_start(&v->hl);
	if (err == 0)
		err = xcheck_vsock_peer_start(uds, &v->peer);
	return err;
}

/* Ends the host side and the loop: 0, or -EPROTO if the peer failed. */
static int ours_vsock_finish(struct ours_vsock *v)
{
	int err = 0;

	if (v->peer)
		err = xcheck_vsock_peer_finish(v->peer, "harness");
	v->peer = NULL;
	harness_loop_stop(&v->hl);
	virtio_vsock_destroy(v->vs);
	v->vs = NULL;
	if (v->hl.loop)
		harness_loop_free(&v->hl);
	return err;
}

/* The guest under our harness: devices in slots 0, 1, ... */
static int run_ours(const struct xguest *g, const char *dir, struct xresult *r)
{
	struct virtio_blk *blk[MAX_DEVS] = {NULL};
	struct virtio_rng *rng[MAX_DEVS] = {NULL};
	struct ours_vsock vsock = {0};
	int i, n = xcheck_count_devs(g), err;
	char path[4096], img[256];
	struct harness h;

	err = harness_create(&h);
	if (err < 0)
		return err;
	snprintf(path, sizeof(path), "%s/%s.bin", dir, g->name);
	err = harness_load(&h, path);
	if (err < 0) {
		fprintf(stderr, "load %s: %s\n", path, strerror(-err));
		goto out;
	}
	for (i = 0; i < n && err == 0; i++) {
		const struct xdev *d = &g->devs[i];
		struct virtio_mmio *m = NULL;

		if (d->type == XDEV_BLK) {
			struct virtio_blk_params p = {
				.path = img,
				.drive_id = d->id,
				.read_only = d->read_only,
				.flush = d->flush,
			};

			xcheck_tmp_path(img, sizeof(img), "ours",
					(unsigned int)i, "img");
			err = xcheck_make_disk(img, d->sectors);
			if (err == 0)
				err = virtio_blk_create(&p, &h.vm->mem,
							harness_virtio_irq, &h,
							&blk[i]);
			if (err == 0)
				m = virtio_blk_mmio(blk[i]);
		} else if (d->type == XDEV_VSOCK) {
			/* Attaches itself: its host side needs the slot. */
			err = ours_vsock_add(&h, (unsigned int)i, &vsock);
			continue;
		} else {
			err = virtio_rng_create(&h.vm->mem, harness_virtio_irq,
						&h, &rng[i]);
			if (err == 0)
				m = virtio_rng_mmio(rng[i]);
		}
		if (err == 0)
			err = harness_attach_virtio(&h, m);
		if (err > 0)
			err = 0;
	}
	if (err < 0) {
		fprintf(stderr, "devices: %s\n", strerror(-err));
		goto out;
	}
	err = harness_run(&h);
	harness_uart_output(&h, r->uart, sizeof(r->uart));
	if (err < 0)
		fprintf(stderr, "harness run: %s\n", strerror(-err));
	else if (!h.dev.exited)
		harness_dump(&h);
	r->exited = h.dev.exited;
	r->code = h.dev.exit_code;
out:
	if (ours_vsock_finish(&vsock) < 0 && err == 0)
		err = -EPROTO;
	for (i = 0; i < n; i++) {
		virtio_blk_destroy(blk[i]);
		virtio_rng_destroy(rng[i]);
	}
	harness_destroy(&h);
	return err;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d) {
		perror("strdup");
		exit(1);
	}
	return d;
}

/* QEMU's command line for g; strings owned by argv (freed by caller). */
static int qemu_argv(const struct xguest *g, const char *qemu, const char *elf,
		     const char *uart, char **argv)
{
	static const char *const fixed[] = {
		"-M",
		"microvm,acpi=off",
		"-accel",
		"tcg",
		"-nodefaults",
		"-no-user-config",
		"-display",
		"none",
		"-m",
		QEMU_RAM,
		"-no-reboot",
		"-global",
		"virtio-mmio.force-legacy=false",
		"-device",
		"isa-debug-exit,iobase=0x501,iosize=1",
	};
	char buf[4096];
	int argc = 0, i, err;
	unsigned int k;

	argv[argc++] = xstrdup(qemu);
	for (k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		argv[argc++] = xstrdup(fixed[k]);
	snprintf(buf, sizeof(buf), "file:%s", uart);
	argv[argc++] = xstrdup("-serial");
	argv[argc++] = xstrdup(buf);
	argv[argc++] = xstrdup("-kernel");
	argv[argc++] = xstrdup(elf);
	/* Last device first: QEMU fills its slots from the top. */
	for (i = xcheck_count_devs(g) - 1; i >= 0; i--) {
		const struct xdev *d = &g->devs[i];
		char img[256];

		if (argc + 4 >= MAX_ARGS)
			return -E2BIG;
		if (d->type == XDEV_RNG) {
			argv[argc++] = xstrdup("-device");
			argv[argc++] = xstrdup("virtio-rng-device");
			continue;
		}
		if (d->type != XDEV_BLK)
			return -ENOTSUP; /* vsock: see the top */
		xcheck_tmp_path(img, sizeof(img), "qemu", (unsigned int)i,
				"img");
		err = xcheck_make_disk(img, d->sectors);
		if (err < 0)
			return err;
		snprintf(buf, sizeof(buf),
			 "if=none,id=d%d,file=%s,format=raw,readonly=%s,"
			 "cache=%s",
			 i, img, d->read_only ? "on" : "off",
			 d->flush ? "writeback" : "writethrough");
		argv[argc++] = xstrdup("-drive");
		argv[argc++] = xstrdup(buf);
		/*
		 * QEMU offers FLUSH with a write cache, and with config-wce
		 * (on by default) even without one.
		 */
		snprintf(buf, sizeof(buf),
			 "virtio-blk-device,drive=d%d,serial=%s,config-wce=%s",
			 i, d->id, d->flush ? "on" : "off");
		argv[argc++] = xstrdup("-device");
		argv[argc++] = xstrdup(buf);
	}
	argv[argc] = NULL;
	return argc;
}

/* Runs QEMU with output to a log, bounded by QEMU_TIMEOUT_MS. */
static int run_qemu(const struct xguest *g, const char *qemu, const char *dir,
		    struct xresult *r)
{
	char *argv[MAX_ARGS] = {NULL};
	char elf[4096], uart[256], log[256];
	int argc, i, err = 0;

	r->status = -1;
	snprintf(elf, sizeof(elf), "%s/%s-pvh.elf", dir, g->name);
	xcheck_tmp_path(uart, sizeof(uart), "qemu", 0, "uart");
	xcheck_tmp_path(log, sizeof(log), "qemu", 0, "log");
	argc = qemu_argv(g, qemu, elf, uart, argv);
	if (argc < 0) {
		err = argc;
		goto out;
	}
	err = xcheck_spawn(argv, log, log, QEMU_TIMEOUT_MS, &r->status);
	if (err < 0)
		goto out;
	/* isa-debug-exit always leaves an odd status. */
	r->exited = r->status > 0 && (r->status & 1);
	xcheck_read_file(uart, r->uart, sizeof(r->uart));
	if (!r->exited) {
		char text[4096];

		xcheck_read_file(log, text, sizeof(text));
		fprintf(stderr, "qemu: status %d, its output:\n%s\n", r->status,
			text);
	}
out:
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	return err;
}

/* The guest code in the PVH ELF must be byte for byte the flat image. */
static void check_same_code(const struct xguest *g, const char *bin_dir,
			    const char *elf_dir)
{
	char path[4096];
	struct elf_image img;
	struct vm_mem mem;
	const char *why = "?";
	uint8_t *bin = NULL;
	struct stat st;
	int fd;

	vm_mem_init(&mem);
	CHECK_EQ(vm_mem_add(&mem, 0, HARNESS_RAM_SIZE), 0);
	snprintf(path, sizeof(path), "%s/%s-pvh.elf", elf_dir, g->name);
	if (elf_load_file(&mem, path, &img, &why) < 0) {
		fprintf(stderr, "%s: %s\n", path, why);
		failures++;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s.bin", bin_dir, g->name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st) == 0 && st.st_size > 0 &&
	    (uint64_t)st.st_size < HARNESS_RAM_SIZE / 2)
		bin = malloc((size_t)st.st_size);
	CHECK(bin && read(fd, bin, (size_t)st.st_size) == st.st_size);
	close(fd);
	if (!bin)
		goto out;
	CHECK_EQ(img.load_start, HARNESS_LOAD_ADDR);
	CHECK(memcmp(vm_mem_ptr(&mem, HARNESS_LOAD_ADDR, (uint64_t)st.st_size),
		     bin, (size_t)st.st_size) == 0);
	free(bin);
out:
	vm_mem_free(&mem);
}

/* Line-by-line comparison; prints every differing line. */
static void compare_uart(const char *who, const char *ours, const char *other)
{
	unsigned int line = 1, diffs = 0;

	while (*ours || *other) {
		size_t a = strcspn(ours, "\n"), b = strcspn(other, "\n");

		if (a != b || memcmp(ours, other, a) != 0 ||
		    (ours[a] == '\n') != (other[b] == '\n')) {
			fprintf(stderr,
				"line %u differs:\n  harness: %.*s\n  %-7s: "
				"%.*s\n",
				line, (int)a, ours, who, (int)b, other);
			diffs++;
		}
		ours += a + (ours[a] == '\n');
		other += b + (other[b] == '\n');
		line++;
	}
	CHECK_EQ(diffs, 0);
}

/* After the runs, each disk must hold the same bytes under both. */
static void compare_disks(const struct xguest *g, const char *who)
{
	static uint8_t a[SECTOR], b[SECTOR];
	char pa[256], pb[256];
	int i, fa, fb;

	for (i = 0; i < xcheck_count_devs(g); i++) {
		unsigned int s;

		if (g->devs[i].type != XDEV_BLK)
			continue;
		xcheck_tmp_path(pa, sizeof(pa), "ours", (unsigned int)i, "img");
		xcheck_tmp_path(pb, sizeof(pb), who, (unsigned int)i, "img");
		fa = open(pa, O_RDONLY | O_CLOEXEC);
		fb = open(pb, O_RDONLY | O_CLOEXEC);
		CHECK(fa >= 0 && fb >= 0);
		for (s = 0; fa >= 0 && fb >= 0 && s < g->devs[i].sectors; s++) {
			CHECK(pread(fa, a, SECTOR, (off_t)s * SECTOR) ==
			      SECTOR);
			CHECK(pread(fb, b, SECTOR, (off_t)s * SECTOR) ==
			      SECTOR);
			if (memcmp(a, b, SECTOR) != 0) {
				fprintf(stderr,
					"disk %d sector %u differs (%s)\n", i,
					s, who);
				failures++;
			}
		}
		if (fa >= 0)
			close(fa);
		if (fb >= 0)
			close(fb);
	}
}

/* The scratch directory holds only files the runners made. */
static void remove_tmpdir(void)
{
	DIR *d = opendir(xcheck_tmpdir);
	struct dirent *e;

	while (d && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(xcheck_tmpdir);
}

/* Whether the QEMU binary is there: a path, or a name in $PATH. */
static bool qemu_found(const char *qemu)
{
	const char *p = getenv("PATH");
	char path[4096];

	if (strchr(qemu, '/'))
		return access(qemu, X_OK) == 0;
	while (p && *p) {
		size_t n = strcspn(p, ":");

		snprintf(path, sizeof(path), "%.*s/%s", (int)n, p, qemu);
		if (n && access(path, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/*
 * A drive id all runners take as is: [A-Za-z0-9_] (lgvmm's config
 * rule), at most 20 bytes (what GET_ID returns).
 */
static bool id_ok(const char *id, size_t len)
{
	size_t i;

	if (len == 0 || len > VIRTIO_BLK_ID_BYTES)
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '_')
			return false;
	return true;
}

/* "rng", "vsock" or "blk:SECTORS:ID[:ro][:flush]" (see meson.build). */
static int parse_dev(const char *spec, struct xdev *d, char *id)
{
	const char *p;
	char *end;
	unsigned long n;
	size_t len;

	*d = (struct xdev){XDEV_END};
	if (strcmp(spec, "rng") == 0) {
		d->type = XDEV_RNG;
		return 0;
	}
	if (strcmp(spec, "vsock") == 0) {
		d->type = XDEV_VSOCK;
		return 0;
	}
	if (strncmp(spec, "blk:", 4) != 0)
		return -EINVAL;
	errno = 0;
	n = strtoul(spec + 4, &end, 10);
	if (errno || end == spec + 4 || *end != ':' || n == 0 || n > 65536)
		return -EINVAL;
	p = end + 1;
	len = strcspn(p, ":");
	if (!id_ok(p, len))
		return -EINVAL;
	memcpy(id, p, len);
	id[len] = '\0';
	*d = (struct xdev){XDEV_BLK, (unsigned int)n, id, false, false};
	for (p += len; *p; p += len) {
		p++;
		len = strcspn(p, ":");
		if (len == 2 && strncmp(p, "ro", 2) == 0)
			d->read_only = true;
		else if (len == 5 && strncmp(p, "flush", 5) == 0)
			d->flush = true;
		else
			return -EINVAL;
	}
	return 0;
}

static bool has_vsock(const struct xguest *g)
{
	int i;

	for (i = 0; i < xcheck_count_devs(g); i++)
		if (g->devs[i].type == XDEV_VSOCK)
			return true;
	return false;
}

/* The run under lgvmm against the harness's. */
static void compare_lgvmm(const struct xguest *g, const struct xresult *ours,
			  const struct xresult *lg)
{
	CHECK(lg->exited);
	CHECK_EQ(lg->status, 0);
	compare_uart("lgvmm", ours->uart, lg->uart);
	CHECK_EQ(lg->code, ours->code);
	compare_disks(g, "lgvmm");
}

/* The run under QEMU against the harness's. */
static void compare_qemu(const struct xguest *g, const struct xresult *ours,
			 const struct xresult *qemu)
{
	CHECK(qemu->exited);
	compare_uart("qemu", ours->uart, qemu->uart);
	CHECK_EQ(qemu->status, ((ours->code << 1) | 1) & 0xff);
	compare_disks(g, "qemu");
}

int main(int argc, char **argv)
{
	static struct xresult ours, lg, qemu;
	const char *bin_dir = getenv("LG_VMM_GUEST_DIR");
	const char *elf_dir = getenv("LG_XCHECK_DIR");
	const char *qemu_bin = getenv("LG_XCHECK_QEMU");
	const char *lgvmm_bin = getenv("LG_XCHECK_LGVMM");
	static struct xguest guest;
	struct xguest *g = &guest;
	bool with_qemu, with_lgvmm;
	struct vm *vm;
	int i, err;

	lg_log_set_ident("xcheck");
	if (argc < 2 || argc - 2 > MAX_DEVS || !bin_dir || !elf_dir) {
		fprintf(stderr, "usage: LG_VMM_GUEST_DIR=.. LG_XCHECK_DIR=.. "
				"xcheck GUEST [DEVICE...]\n");
		return 1;
	}
	g->name = argv[1];
	for (i = 2; i < argc; i++) {
		if (parse_dev(argv[i], &g->devs[i - 2], g->ids[i - 2]) < 0) {
			fprintf(stderr,
				"bad device \"%s\": want rng, vsock or "
				"blk:SECTORS:ID[:ro][:flush]\n",
				argv[i]);
			return 1;
		}
	}
	if (!qemu_bin || !*qemu_bin)
		qemu_bin = "qemu-system-x86_64";
	with_qemu = qemu_found(qemu_bin) && !has_vsock(g);
	if (!with_qemu)
		printf("QEMU part not run: %s\n",
		       has_vsock(g) ? "no Firecracker-style vsock in QEMU"
				    : "qemu-system-x86_64 not found");
	with_lgvmm = lgvmm_bin && *lgvmm_bin;
	if (!with_lgvmm)
		printf("lgvmm part not run: LG_XCHECK_LGVMM not set\n");
	if (!with_qemu && !with_lgvmm) {
		printf("SKIP: nothing to compare the harness with\n");
		return 77;
	}
	err = vm_create(2ull << 20, &vm);
	if (err < 0) {
		printf("SKIP: KVM unavailable (%s)\n", strerror(-err));
		return 77;
	}
	vm_destroy(vm);
	snprintf(xcheck_tmpdir, sizeof(xcheck_tmpdir), "/tmp/lg-xcheck-XXXXXX");
	if (!mkdtemp(xcheck_tmpdir)) {
		perror("mkdtemp");
		return 1;
	}

	check_same_code(g, bin_dir, elf_dir);
	err = run_ours(g, bin_dir, &ours);
	CHECK_EQ(err, 0);
	printf("--- %s under the harness ---\n%s", g->name, ours.uart);
	CHECK(ours.exited);
	CHECK(ours.uart[0] != '\0');
	if (with_lgvmm) {
		err = xcheck_run_lgvmm(g, lgvmm_bin, elf_dir, &lg);
		CHECK_EQ(err, 0);
		printf("--- %s under lgvmm (exit line taken off) ---\n%s",
		       g->name, lg.uart);
		compare_lgvmm(g, &ours, &lg);
	}
	if (with_qemu) {
		err = run_qemu(g, qemu_bin, elf_dir, &qemu);
		CHECK_EQ(err, 0);
		printf("--- %s under QEMU microvm ---\n%s", g->name, qemu.uart);
		compare_qemu(g, &ours, &qemu);
	}
	printf("--- end ---\n");
	remove_tmpdir();
	if (failures) {
		fprintf(stderr, "%s: %d check(s) failed\n", g->name, failures);
		return 1;
	}
	printf("%s: the harness (exit code %#x)", g->name, ours.code);
	if (with_lgvmm)
		printf(", lgvmm (exit code %#x, status %d)", lg.code,
		       lg.status);
	if (with_qemu)
		printf(", QEMU microvm (status %d)", qemu.status);
	printf(" agree\n");
	return 0;
}
