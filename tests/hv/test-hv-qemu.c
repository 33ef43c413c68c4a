/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Integration test of the hypervisor interface with the QEMU backend.
 *
 * Needs LG_TEST_KERNEL (guest kernel) and LG_TEST_INITRD (the project's
 * initramfs, checked to open the agent channel); exits 77 (skip) without
 * them. Builds its own busybox initramfs images (an echo guest, one that
 * floods its console first, a guest whose /init exits) under a temp dir,
 * or takes LG_TEST_ECHO_INITRD for the echo guest.
 * LG_TEST_BOOT_RUNS sets how many boots are timed (default 3).
 * Also checks the backend's internals that need no VM: process spawning
 * and reaping (hv/proc.h), the QMP client's send deadline (hv/qmp.h) and
 * the KVM probe's time bound (hv/kvm-probe.h).
 */
#include "check.h"
#include "common/clock.h"
#include "common/log.h"
#include "hv/hv.h"
#include "hv/kvm-probe.h"
#include "hv/proc.h"
#include "hv/qmp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SKIP 77
#define BUSYBOX "/bin/busybox"
#define IO_TIMEOUT_MS 10000

static char base_dir[256]; /* everything the test creates lives here */
static char echo_initrd[512], flood_initrd[512], panic_initrd[512];
static const char *kernel, *project_initrd;

/* --- initramfs images ----------------------------------------------- */

#define ECHO_INIT_SETUP                                                        \
	"#!/bin/busybox sh\n"                                                  \
	"/bin/busybox --install -s /bin\n"                                     \
	"export PATH=/bin\n"                                                   \
	"mount -t proc proc /proc\n"                                           \
	"mount -t sysfs sys /sys\n"                                            \
	"mount -t devtmpfs dev /dev\n"                                         \
	"for p in /sys/class/virtio-ports/*; do\n"                             \
	"  [ \"$(cat $p/name)\" = org.luminaguard.agent ] && "                 \
	"port=/dev/${p##*/}\n"                                                 \
	"done\n"                                                               \
	"echo \"echo-init: agent port $port\"\n"                               \
	"[ -b /dev/vda ] && echo \"echo-init: vda present\"\n"                 \
	"echo \"echo-init: cmdline $(cat /proc/cmdline)\"\n"
/* Reads give EOF while the host side is not connected: retry. */
#define ECHO_INIT_LOOP                                                         \
	"exec 3<>$port\n"                                                      \
	"while :; do cat <&3 >&3; sleep 0.05; done\n"

static const char echo_init[] = ECHO_INIT_SETUP ECHO_INIT_LOOP;

/* Console cap for the flood guest, and how much it writes (4x that). */
#define FLOOD_CAP (256u << 10)
#define FLOOD_BYTES "1048576"

static const char flood_init[] = ECHO_INIT_SETUP
	"echo flood-init: start\n"
	"yes 0123456789abcdef0123456789abcdef | head -c " FLOOD_BYTES
	" > /dev/console\n"
	"echo flood-init: done\n" ECHO_INIT_LOOP;

static const char panic_init[] = "#!/bin/busybox sh\n"
				 "echo 'panic-init: exiting on purpose'\n"
				 "exit 3\n";

static int write_file(const char *path, const void *data, size_t len,
		      mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ssize_t n = -1;

	if (fd >= 0) {
		n = write(fd, data, len);
		close(fd);
	}
	if (n != (ssize_t)len) {
		printf("# write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	static char data[4 << 20];
	ssize_t n;
	int fd;

	fd = open(from, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("# open %s: %s\n", from, strerror(errno));
		return -1;
	}
	n = read(fd, data, sizeof(data));
	close(fd);
	if (n <= 0 || n == (ssize_t)sizeof(data)) {
		printf("# read %s: bad size or %s\n", from, strerror(errno));
		return -1;
	}
	return write_file(to, data, (size_t)n, mode);
}

/* Runs argv with cwd, stdin and stdout redirected; 0 when it exits 0. */
static int run_tool(char *const argv[], const char *cwd, const char *in,
		    const char *out)
{
	int st, ifd, ofd;
	pid_t pid = fork();

	if (pid == 0) {
		ifd = open(in, O_RDONLY);
		ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (ifd < 0 || ofd < 0 || chdir(cwd) < 0 || dup2(ifd, 0) < 0 ||
		    dup2(ofd, 1) < 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int make_initramfs(const char *name, const char *init, char *out,
			  size_t outlen)
{
	static const char list[] = "init\nbin\nbin/busybox\ndev\nproc\nsys\n";
	static const char *const dirs[] = {"", "/bin", "/dev", "/proc", "/sys"};
	char *const cpio[] = {"cpio", "-o",  "-H",	"newc",
			      "-R",   "0:0", "--quiet", NULL};
	char root[512], path[600];

	snprintf(root, sizeof(root), "%s/%s-root", base_dir, name);
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		if (mkdir(path, 0755) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/bin/busybox", root);
	if (copy_file(BUSYBOX, path, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/init", root);
	if (write_file(path, init, strlen(init), 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s.list", base_dir, name);
	if (write_file(path, list, strlen(list), 0644) < 0)
		return -1;
	snprintf(out, outlen, "%s/%s.cpio", base_dir, name);
	return run_tool(cpio, root, path, out);
}

/* --- helpers --------------------------------------------------------- */

static void vm_config(struct lg_vm_config *cfg, const char *initrd)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->kernel = kernel;
	cfg->initrd = initrd;
	cfg->vcpus = 1;
	cfg->mem_mib = 256;
	cfg->accel = LG_ACCEL_AUTO;
	cfg->boot_timeout_ms = 60000;
}

/* Each check gets a private runtime parent, LUMINAGUARD_RUNTIME_DIR. */
static void use_runtime_dir(const char *name, char *dir, size_t len)
{
	snprintf(dir, len, "%s/run-%s", base_dir, name);
	setenv("LUMINAGUARD_RUNTIME_DIR", dir, 1);
}

static int count_entries(const char *dir)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	}
	closedir(d);
	return n;
}

static void check_empty_and_remove(const char *dir)
{
	check(count_entries(dir) == 0, "runtime parent %s is empty", dir);
	rmdir(dir);
}

static bool path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool pid_gone(long pid)
{
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Writes msg to fd and reads the same bytes back. */
static bool round_trip(int fd, const char *msg)
{
	size_t len = strlen(msg), got = 0;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	char buf[256];
	ssize_t n;

	if (write(fd, msg, len) != (ssize_t)len)
		return false;
	while (got < len && poll(&pfd, 1, IO_TIMEOUT_MS) == 1) {
		n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (got != len || memcmp(buf, msg, len) != 0)
		printf("# sent \"%s\", got \"%s\"\n", msg, buf);
	return got == len && memcmp(buf, msg, len) == 0;
}

static enum lg_vm_state state_of(struct lg_vm *vm, char *reason, size_t len)
{
	struct lg_vm_status st;

	if (lg_vm_status(vm, &st) < 0)
		printf("# lg_vm_status failed: %s\n", st.reason);
	if (reason)
		snprintf(reason, len, "%s", st.reason);
	return st.state;
}

/* Polls status until it is not running/starting (up to ms). */
static enum lg_vm_state wait_end(struct lg_vm *vm, char *reason, size_t len,
				 unsigned ms)
{
	enum lg_vm_state s = LG_VM_RUNNING;
	uint64_t end = lg_now_ns() + (uint64_t)ms * 1000000ull;

	while (lg_now_ns() < end) {
		s = state_of(vm, reason, len);
		if (s == LG_VM_STOPPED || s == LG_VM_FAILED)
			break;
		usleep(20000);
	}
	return s;
}

static struct lg_vm *spawn_vm_cfg(const struct lg_vm_config *cfg)
{
	struct lg_vm *vm = NULL;
	char err[1024];

	if (!check(lg_vm_spawn("qemu", cfg, &vm, err, sizeof(err)) == 0,
		   "spawn a VM with %s", cfg->initrd))
		printf("# %s\n", err);
	return vm;
}

static struct lg_vm *spawn_vm(const char *initrd, unsigned timeout_ms)
{
	struct lg_vm_config cfg;

	vm_config(&cfg, initrd);
	cfg.boot_timeout_ms = timeout_ms;
	return spawn_vm_cfg(&cfg);
}

static int open_channel(struct lg_vm *vm, char *err, size_t len)
{
	int fd = -1;

	if (lg_vm_agent_channel(vm, &fd, err, len) < 0)
		return -1;
	return fd;
}

/* --- checks ------------------------------------------------------------ */

static void expect_parent(const char *want, const char *what)
{
	char got[512];
	int ret = lg_runtime_parent(got, sizeof(got));

	check(ret == 0 && !strcmp(got, want),
	      "lg_runtime_parent: %s gives %s (got %s, ret %d)", what, want,
	      ret == 0 ? got : "-", ret);
}

static void test_runtime_parent(void)
{
	char lg[300], xdg[300], want[320];
	bool had_run = path_exists("/run/luminaguard");

	snprintf(lg, sizeof(lg), "%s/env-lg", base_dir);
	snprintf(xdg, sizeof(xdg), "%s/env-xdg", base_dir);
	mkdir(xdg, 0700);
	setenv("LUMINAGUARD_RUNTIME_DIR", lg, 1);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	expect_parent(lg, "LUMINAGUARD_RUNTIME_DIR over XDG_RUNTIME_DIR");
	setenv("LUMINAGUARD_RUNTIME_DIR", "", 1);
	snprintf(want, sizeof(want), "%s/luminaguard", xdg);
	expect_parent(want, "empty LUMINAGUARD_RUNTIME_DIR -> XDG");
	unsetenv("LUMINAGUARD_RUNTIME_DIR");
	expect_parent(want, "XDG_RUNTIME_DIR/luminaguard");
	unsetenv("XDG_RUNTIME_DIR");
	setenv("TMPDIR", base_dir, 1);
	snprintf(want, sizeof(want), "%s/luminaguard-%u", base_dir,
		 (unsigned)geteuid());
	expect_parent(geteuid() == 0 ? "/run/luminaguard" : want,
		      geteuid() == 0 ? "root default" : "TMPDIR fallback");
	if (geteuid() == 0 && !had_run)
		rmdir("/run/luminaguard");
	rmdir(want);
	rmdir(lg);
	snprintf(want, sizeof(want), "%s/luminaguard", xdg);
	rmdir(want);
	rmdir(xdg);
	unsetenv("TMPDIR");
}

/* Spawn must fail with needle in the error and leave dir empty. */
static void expect_spawn_fails_in(const char *what, const char *dir,
				  const char *kpath, const char *needle)
{
	struct lg_vm_config cfg;
	struct lg_vm *vm = NULL;
	char err[2048];
	int ret;

	vm_config(&cfg, echo_initrd);
	cfg.kernel = kpath;
	ret = lg_vm_spawn("qemu", &cfg, &vm, err, sizeof(err));
	check(ret < 0 && !vm, "%s: spawn fails (ret %d)", what, ret);
	check(strstr(err, needle) != NULL, "%s: error mentions \"%s\": %s",
	      what, needle, err);
	check(count_entries(dir) == 0, "%s: nothing left in %s", what, dir);
}

static void expect_spawn_fails(const char *what, const char *kpath,
			       const char *needle)
{
	char dir[300];

	use_runtime_dir(what, dir, sizeof(dir));
	expect_spawn_fails_in(what, dir, kpath, needle);
	check_empty_and_remove(dir);
}

/* A runtime parent so long that RUNDIR/agent.sock exceeds sun_path. */
static void expect_long_parent_fails(void)
{
	char dir[300], deep[512];

	use_runtime_dir("long", dir, sizeof(dir));
	mkdir(dir, 0700);
	snprintf(deep, sizeof(deep), "%s/%0100d", dir, 0);
	setenv("LUMINAGUARD_RUNTIME_DIR", deep, 1);
	expect_spawn_fails_in("too-long-runtime-dir", deep, kernel,
			      "too long for Unix socket paths");
	rmdir(deep);
	check_empty_and_remove(dir);
}

/* Where KVM is not hardware accelerated, asking for it must fail. */
static void expect_kvm_refused(void)
{
	struct lg_vm_config cfg;
	struct lg_vm *vm = NULL;
	const char *why;
	char err[512], dir[300];
	int ret;

	if (lg_kvm_hw_accelerated(&why))
		return;
	use_runtime_dir("kvm-refused", dir, sizeof(dir));
	vm_config(&cfg, echo_initrd);
	cfg.accel = LG_ACCEL_KVM;
	ret = lg_vm_spawn("qemu", &cfg, &vm, err, sizeof(err));
	check(ret < 0 && !vm && strstr(err, "KVM requested but not usable"),
	      "LG_ACCEL_KVM without hardware KVM is refused: %s", err);
	check_empty_and_remove(dir);
}

static void test_spawn_failures(void)
{
	char junk[512];
	struct lg_vm_config cfg;
	struct lg_vm *vm = NULL;
	char err[512];

	expect_spawn_fails("bad-kernel-path", "/nonexistent/vmlinux",
			   "No such file or directory");
	snprintf(junk, sizeof(junk), "%s/junk-kernel", base_dir);
	write_file(junk, "not a kernel\n", 13, 0644);
	/* QEMU starts, rejects the image and exits: its log is the reason. */
	expect_spawn_fails("junk-kernel", junk, "qemu exited with status 1");
	unlink(junk);
	expect_long_parent_fails();
	expect_kvm_refused();
	vm_config(&cfg, echo_initrd);
	check(lg_vm_spawn("nosuch", &cfg, &vm, err, sizeof(err)) < 0 &&
		      strstr(err, lg_hv_backend_names()),
	      "unknown backend is refused: %s", err);
}

static void check_pause_resume(struct lg_vm *vm, int fd)
{
	char reason[512];

	check(lg_vm_pause(vm) == 0, "pause");
	check(state_of(vm, reason, sizeof(reason)) == LG_VM_PAUSED,
	      "status is paused");
	check(lg_vm_resume(vm) == 0, "resume");
	check(state_of(vm, reason, sizeof(reason)) == LG_VM_RUNNING,
	      "status is running again");
	check(round_trip(fd, "after resume\n"), "echo works after resume");
}

static void check_times(struct lg_vm *vm)
{
	const struct lg_vm_times *t = lg_vm_times(vm);

	check(t->spawn_start && t->spawn_start <= t->process_ready &&
		      t->process_ready <= t->guest_start &&
		      t->guest_start <= t->agent_open &&
		      t->agent_open <= t->stop_done,
	      "times are recorded in order (ready +%.3f s, guest started "
	      "+%.3f s, agent +%.3f s)",
	      (double)(t->process_ready - t->spawn_start) / 1e9,
	      (double)(t->guest_start - t->spawn_start) / 1e9,
	      (double)(t->agent_open - t->spawn_start) / 1e9);
}

static void check_stop(struct lg_vm *vm, long pid)
{
	char reason[512];

	check(lg_vm_stop(vm) == 0, "stop");
	check(pid_gone(pid), "qemu pid %ld is gone after stop", pid);
	check(state_of(vm, reason, sizeof(reason)) == LG_VM_STOPPED,
	      "status is stopped (%s)", reason);
	check(lg_vm_stop(vm) == 0, "stop again is a no-op");
	check_times(vm);
}

static int truncate_new(const char *path, off_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ret = fd < 0 ? -1 : ftruncate(fd, size);

	if (fd >= 0)
		close(fd);
	return ret;
}

/* The guest printed its view of the rootfs disk and command line. */
static void check_console(struct lg_vm *vm)
{
	char tail[4096];

	lg_vm_console_tail(vm, tail, sizeof(tail), 5);
	check(strstr(tail, "echo-init: vda present") != NULL,
	      "rootfs is the guest's /dev/vda");
	check(strstr(tail, "lg.rootfs=/dev/vda") &&
		      strstr(tail, "lg.test=echo") &&
		      strstr(tail, "virtio_mmio.device="),
	      "guest cmdline has lg.rootfs, the extra cmdline and the "
	      "virtio-mmio devices");
	printf("# console tail:\n%s\n", tail);
}

/* PARENT/vm-PID-test with a file in it, as a killed luminaguard leaves. */
static void make_run_dir(const char *parent, long pid, char *out, size_t len)
{
	char file[600];

	snprintf(out, len, "%s/vm-%ld-test", parent, pid);
	mkdir(out, 0700);
	snprintf(file, sizeof(file), "%s/qmp.sock", out);
	write_file(file, "", 0, 0600);
}

static pid_t child_exiting(bool reap)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (reap)
		waitpid(pid, NULL, 0);
	else
		usleep(100000); /* becomes a zombie */
	return pid;
}

static void remove_run_dir(const char *dir)
{
	char file[600];

	snprintf(file, sizeof(file), "%s/qmp.sock", dir);
	unlink(file);
	rmdir(dir);
}

/*
 * Spawning sweeps vm-PID-* dirs whose PID is dead, a zombie, or a process
 * younger than the dir (reused pid), and keeps those of live owners.
 */
static void test_sweep(void)
{
	struct timespec old[2] = {{.tv_sec = time(NULL) - 3600},
				  {.tv_sec = time(NULL) - 3600}};
	char dir[300], dead[400], zombie[400], reused[400], live[400], own[400];
	pid_t zpid, young;
	struct lg_vm *vm;

	use_runtime_dir("sweep", dir, sizeof(dir));
	mkdir(dir, 0700);
	make_run_dir(dir, child_exiting(true), dead, sizeof(dead));
	zpid = child_exiting(false);
	make_run_dir(dir, zpid, zombie, sizeof(zombie));
	young = fork();
	if (young == 0) {
		pause();
		_exit(0);
	}
	make_run_dir(dir, young, reused, sizeof(reused));
	utimensat(AT_FDCWD, reused, old, 0);
	make_run_dir(dir, getppid(), live, sizeof(live));
	make_run_dir(dir, getpid(), own, sizeof(own));
	vm = spawn_vm(echo_initrd, 60000);
	check(!path_exists(dead), "sweep: dir of a dead pid is removed");
	check(!path_exists(zombie), "sweep: dir of a zombie pid is removed");
	check(!path_exists(reused), "sweep: dir of a reused pid is removed");
	check(path_exists(live), "sweep: dir of a live owner is kept");
	check(path_exists(own), "sweep: our own pid's dir is kept");
	lg_vm_destroy(vm);
	kill(young, SIGKILL);
	waitpid(young, NULL, 0);
	waitpid(zpid, NULL, 0);
	remove_run_dir(live);
	remove_run_dir(own);
	check_empty_and_remove(dir);
}

static void test_echo_vm(void)
{
	char dir[300], err[4096], rundir[512], rootfs[300];
	struct lg_vm_config cfg;
	struct lg_vm *vm;
	long pid;
	int fd;

	use_runtime_dir("echo", dir, sizeof(dir));
	vm_config(&cfg, echo_initrd);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs.img", base_dir);
	check(truncate_new(rootfs, 1 << 20) == 0, "make %s", rootfs);
	cfg.rootfs = rootfs;
	cfg.cmdline = "lg.test=echo";
	vm = spawn_vm_cfg(&cfg);
	if (!vm)
		return check_empty_and_remove(dir);
	snprintf(rundir, sizeof(rundir), "%s", lg_vm_runtime_dir(vm));
	pid = lg_vm_pid(vm);
	printf("# accel %s, pid %ld, rundir %s\n", lg_vm_accel_name(vm), pid,
	       rundir);
	/* QEMU starts paused (-S); spawn lets the guest run once QMP is up. */
	check(state_of(vm, err, sizeof(err)) == LG_VM_RUNNING,
	      "status is running right after spawn (%s)", err);
	fd = open_channel(vm, err, sizeof(err));
	if (check(fd >= 0, "agent channel opens")) {
		check(round_trip(fd, "hello luminaguard\n"), "echo round trip");
		check_console(vm);
		check(state_of(vm, NULL, 0) == LG_VM_RUNNING, "status running");
		check_pause_resume(vm, fd);
	} else {
		printf("# %s\n", err);
	}
	check_stop(vm, pid);
	lg_vm_destroy(vm);
	check(!path_exists(rundir), "runtime dir removed by destroy");
	check_empty_and_remove(dir);
}

static void test_panic_vm(void)
{
	char dir[300], err[4096], reason[512];
	struct lg_vm *vm;

	use_runtime_dir("panic", dir, sizeof(dir));
	vm = spawn_vm(panic_initrd, 60000);
	if (!vm)
		return check_empty_and_remove(dir);
	check(open_channel(vm, err, sizeof(err)) < 0 && strstr(err, "panic"),
	      "agent channel fails, naming the panic");
	printf("# %s\n", err);
	check(wait_end(vm, reason, sizeof(reason), 10000) == LG_VM_FAILED &&
		      strstr(reason, "panic"),
	      "status is failed with a panic reason: %s", reason);
	lg_vm_destroy(vm);
	check_empty_and_remove(dir);
}

static void test_killed_vm(void)
{
	char dir[300], err[4096], reason[512];
	struct lg_vm *vm;
	long pid;

	use_runtime_dir("killed", dir, sizeof(dir));
	vm = spawn_vm(echo_initrd, 60000);
	if (!vm)
		return check_empty_and_remove(dir);
	if (open_channel(vm, err, sizeof(err)) < 0)
		printf("# channel: %s\n", err);
	pid = lg_vm_pid(vm);
	check(pid > 0 && kill((pid_t)pid, SIGKILL) == 0, "SIGKILL qemu %ld",
	      pid);
	check(wait_end(vm, reason, sizeof(reason), 10000) == LG_VM_FAILED &&
		      strstr(reason, "signal 9"),
	      "status is failed naming the signal: %s", reason);
	check(lg_vm_stop(vm) == 0 && state_of(vm, NULL, 0) == LG_VM_FAILED,
	      "stop after the kill keeps it failed");
	lg_vm_destroy(vm);
	check_empty_and_remove(dir);
}

static void test_boot_timeout(void)
{
	char dir[300], err[4096];
	struct lg_vm *vm;

	use_runtime_dir("timeout", dir, sizeof(dir));
	vm = spawn_vm(echo_initrd, 1);
	if (!vm)
		return check_empty_and_remove(dir);
	check(open_channel(vm, err, sizeof(err)) < 0 &&
		      strstr(err, "did not open its channel within"),
	      "a too short boot timeout is reported: %.80s", err);
	lg_vm_destroy(vm);
	check_empty_and_remove(dir);
}

/*
 * A guest writing 4x the console cap to /dev/console: the log stops at
 * the cap, QEMU keeps running and the guest carries on (its agent port
 * opens after the flood, and echoes).
 */
static void test_console_cap(void)
{
	char dir[300], err[4096], path[600], tail[256];
	struct lg_vm_config cfg;
	struct stat st;
	struct lg_vm *vm;
	long long size;
	long pid;
	int fd;

	use_runtime_dir("flood", dir, sizeof(dir));
	vm_config(&cfg, flood_initrd);
	cfg.console_max_bytes = FLOOD_CAP;
	vm = spawn_vm_cfg(&cfg);
	if (!vm)
		return check_empty_and_remove(dir);
	pid = lg_vm_pid(vm);
	fd = open_channel(vm, err, sizeof(err));
	if (check(fd >= 0, "flood: agent channel opens after the flood"))
		check(round_trip(fd, "after the flood\n"),
		      "flood: echo round trip");
	else
		printf("# %s\n", err);
	check(!pid_gone(pid) && state_of(vm, NULL, 0) == LG_VM_RUNNING,
	      "flood: qemu %ld still runs", pid);
	snprintf(path, sizeof(path), "%s/console.log", lg_vm_runtime_dir(vm));
	size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
	check(size == FLOOD_CAP,
	      "flood: console.log stopped at the cap (%lld of %u bytes)", size,
	      FLOOD_CAP);
	lg_vm_console_tail(vm, tail, sizeof(tail), 2);
	if (!check(strstr(tail, "0123456789abcdef") &&
			   !strstr(tail, "flood-init: done"),
		   "flood: the log ends in the flood (later output is lost)"))
		printf("# console tail:\n%s\n", tail);
	snprintf(path, sizeof(path), "%s/qemu.log", lg_vm_runtime_dir(vm));
	size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
	check(size == 0, "flood: qemu.log is empty (%lld bytes)", size);
	lg_vm_destroy(vm);
	check_empty_and_remove(dir);
}

/* --- runtime directory preparation ------------------------------------ */

static void expect_prepare(const char *path, int want, const char *what)
{
	int ret = lg_runtime_dir_prepare(path);

	check(ret == want, "lg_runtime_dir_prepare: %s (ret %d, want %d)", what,
	      ret, want);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

/* A symlink in a shared directory must not take a VM's runtime dir. */
static void expect_spawn_refuses_link(const char *link, const char *target)
{
	struct lg_vm_config cfg;
	struct lg_vm *vm = NULL;
	char err[1024];
	int ret;

	vm_config(&cfg, echo_initrd);
	cfg.runtime_parent = link;
	ret = lg_vm_spawn("qemu", &cfg, &vm, err, sizeof(err));
	check(ret < 0 && !vm && strstr(err, "runtime directory"),
	      "spawn refuses a runtime_parent that is a symlink in a shared "
	      "dir: %s",
	      err);
	check(count_entries(target) == 0, "nothing was created behind it");
	lg_vm_destroy(vm);
}

static void test_runtime_dir_prepare(void)
{
	char shared[300], p[400], target[400], file[400];

	snprintf(shared, sizeof(shared), "%s/shared", base_dir);
	snprintf(target, sizeof(target), "%s/target", base_dir);
	mkdir(shared, 0700);
	chmod(shared, 01777);
	mkdir(target, 0700);
	snprintf(p, sizeof(p), "%s/new", shared);
	expect_prepare(p, 0, "a new dir in a shared dir");
	check(mode_of(p) == 0700, "it is created 0700 (%o)", mode_of(p));
	rmdir(p);
	snprintf(p, sizeof(p), "%s/loose", shared);
	mkdir(p, 0700);
	chmod(p, 0777);
	expect_prepare(p, 0, "our own 0777 dir in a shared dir");
	check(mode_of(p) == 0700, "it is made 0700 (%o)", mode_of(p));
	rmdir(p);
	snprintf(p, sizeof(p), "%s/link", shared);
	if (symlink(target, p) == 0) {
		expect_prepare(p, -ELOOP, "a symlink in a shared dir");
		expect_spawn_refuses_link(p, target);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/privlink", base_dir);
	if (symlink(target, p) == 0) {
		expect_prepare(p, 0, "a symlink in a private dir is followed");
		unlink(p);
	}
	snprintf(file, sizeof(file), "%s/plain-file", base_dir);
	write_file(file, "", 0, 0600);
	expect_prepare(file, -ENOTDIR, "a regular file");
	unlink(file);
	if (geteuid() == 0) {
		snprintf(p, sizeof(p), "%s/other", shared);
		mkdir(p, 0700);
		if (chown(p, 65534, 65534) == 0)
			expect_prepare(p, -EPERM,
				       "another user's dir in a shared dir");
		rmdir(p);
	}
	rmdir(target);
	rmdir(shared);
}

/* --- process spawning and reaping (hv/proc.h) ------------------------- */

static int spawn_sleep(const char *secs, struct lg_proc *p)
{
	char *const argv[] = {"sleep", (char *)secs, NULL};
	struct lg_proc_opts opts = {.log_fd = 2};
	char err[256];
	int ret;

	ret = lg_proc_spawn("/bin/sleep", argv, &opts, p, err, sizeof(err));
	if (ret < 0)
		printf("# %s\n", err);
	return ret;
}

/* Is p dead already (not reaped: WNOWAIT)? */
static bool died(const struct lg_proc *p, siginfo_t *si)
{
	memset(si, 0, sizeof(*si));
	return waitid(P_PID, (id_t)p->pid, si, WEXITED | WNOHANG | WNOWAIT) ==
		       0 &&
	       si->si_pid == p->pid;
}

#define SIGINT_SPAWNS 300

/*
 * In a process group of our own, a pest keeps sending SIGINT to the
 * group (as a terminal's Ctrl-C would) while we, with SIGINT blocked,
 * spawn. Until setpgid each child is in our group and gets it: it must
 * be discarded, and every spawn that reports success must have exec'd.
 * Returns the number of bad spawns, as an exit status.
 */
static int spawn_under_sigint(void)
{
	int bad = 0, ws, i;
	struct lg_proc p;
	sigset_t set;
	siginfo_t si;
	pid_t pest;

	if (setpgid(0, 0) < 0)
		return 100;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	pest = fork();
	if (pest == 0) {
		signal(SIGINT, SIG_IGN);
		for (;;)
			kill(0, SIGINT);
	}
	for (i = 0; i < SIGINT_SPAWNS; i++) {
		if (spawn_sleep("30", &p) < 0) {
			bad++;
			continue;
		}
		if (died(&p, &si)) {
			printf("# spawn %d: reported started, but the child "
			       "died (code %d, status %d)\n",
			       i, si.si_code, si.si_status);
			bad++;
		}
		lg_proc_kill(&p, &ws);
		lg_proc_release(&p);
	}
	kill(pest, SIGKILL);
	waitpid(pest, NULL, 0);
	fflush(stdout);
	return bad > 99 ? 99 : bad;
}

static void test_proc_signals(void)
{
	pid_t helper;
	int st = 0;

	fflush(stdout);
	helper = fork();
	if (helper == 0)
		_exit(spawn_under_sigint());
	waitpid(helper, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "%d spawns under a SIGINT storm all exec (bad: %d)",
	      SIGINT_SPAWNS, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void test_proc(void)
{
	char *const argv[] = {"nosuch", NULL};
	struct lg_proc_opts opts = {.log_fd = 2};
	struct lg_proc p;
	char err[256];
	uint64_t t0;
	double ms;
	int ret, ws = 0;

	ret = lg_proc_spawn("/nonexistent/nosuch", argv, &opts, &p, err,
			    sizeof(err));
	check(ret == -ENOENT && p.pid == -1 && strstr(err, "exec"),
	      "proc: exec failure is reported: %s", err);
	if (spawn_sleep("0.3", &p) < 0)
		return (void)check(false, "proc: spawn sleep");
	check(p.pidfd >= 0, "proc: a pidfd is held (kernel has pidfd_open)");
	t0 = lg_now_ns();
	ret = lg_proc_reap(&p, 5000, &ws);
	ms = (double)(lg_now_ns() - t0) / 1e6;
	check(ret == 1 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0 && ms < 1000,
	      "proc: reap waits for the exit, then returns (%.0f ms)", ms);
	lg_proc_release(&p);
	check(p.pid == -1 && p.pidfd == -1, "proc: release forgets it");
	if (spawn_sleep("30", &p) < 0)
		return (void)check(false, "proc: spawn sleep");
	t0 = lg_now_ns();
	ret = lg_proc_reap(&p, 200, &ws);
	ms = (double)(lg_now_ns() - t0) / 1e6;
	check(ret == 0 && ms >= 190 && ms < 1000,
	      "proc: reap of a running process times out (%.0f ms)", ms);
	check(lg_proc_reap(&p, 0, &ws) == 0, "proc: reap 0 ms just looks");
	ret = lg_proc_kill(&p, &ws);
	check(ret == 0 && WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL,
	      "proc: kill SIGKILLs and reaps it");
	lg_proc_release(&p);
	test_proc_signals();
}

/* --- QMP client: sends have a deadline (hv/qmp.h) ---------------------- */

/* A QMP server that negotiates, then never reads again. */
static void fake_qmp_server(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char greeting[] = "{\"QMP\": {\"version\": {}}}\n";
	const char ok[] = "{\"return\": {}, \"id\": \"lg-0\"}\n";
	char buf[512];
	int s, c;

	if (strlen(path) >= sizeof(sa.sun_path))
		_exit(1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s, 1) < 0)
		_exit(1);
	c = accept(s, NULL, NULL);
	if (c < 0 || write(c, greeting, strlen(greeting)) < 0 ||
	    read(c, buf, sizeof(buf)) <= 0 || write(c, ok, strlen(ok)) < 0)
		_exit(1);
	for (;;)
		pause();
}

static void test_qmp_send_deadline(void)
{
	const size_t big = 8u << 20; /* far beyond a socket buffer */
	char path[400], err[256];
	struct lg_qmp *q = NULL;
	char *blob;
	uint64_t t0;
	double ms;
	pid_t srv;
	int ret;

	snprintf(path, sizeof(path), "%s/fake-qmp.sock", base_dir);
	srv = fork();
	if (srv == 0)
		fake_qmp_server(path);
	ret = lg_qmp_connect(path, 5000, NULL, NULL, &q, err, sizeof(err));
	if (!check(ret == 0, "qmp: connect to a fake server (%s)",
		   ret ? err : "ok"))
		goto out;
	blob = malloc(big + 1);
	if (!blob)
		goto out;
	memset(blob, 'x', big);
	blob[big] = '\0';
	t0 = lg_now_ns();
	ret = lg_qmp_execute(q, "x", json_pack("{s:s}", "blob", blob), 300,
			     NULL, err, sizeof(err));
	ms = (double)(lg_now_ns() - t0) / 1e6;
	free(blob);
	check(ret == -ETIMEDOUT && ms < 2000,
	      "qmp: a send QEMU does not read times out (%.0f ms): %s", ms,
	      err);
	ret = lg_qmp_execute(q, "query-status", NULL, 300, NULL, err,
			     sizeof(err));
	check(ret == -EPIPE, "qmp: then the connection refuses commands: %s",
	      err);
out:
	lg_qmp_close(q);
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	unlink(path);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Boots initrd n times: spawn to open agent channel; prints the median. */
static void time_boots(const char *what, const char *initrd, int n)
{
	char dir[300], err[4096];
	double secs[16];
	struct lg_vm *vm;
	uint64_t t0;
	int ok = 0;

	use_runtime_dir(what, dir, sizeof(dir));
	for (int i = 0; i < n && i < 16; i++) {
		t0 = lg_now_ns();
		vm = spawn_vm(initrd, 60000);
		if (!vm)
			continue;
		if (check(open_channel(vm, err, sizeof(err)) >= 0,
			  "%s: boot %d opens the agent channel", what, i + 1))
			secs[ok++] = (double)(lg_now_ns() - t0) / 1e9;
		else
			printf("# %s\n", err);
		lg_vm_destroy(vm);
	}
	qsort(secs, (size_t)ok, sizeof(secs[0]), cmp_double);
	if (ok)
		printf("# %s: spawn to agent channel, median of %d: %.3f s "
		       "(min %.3f, max %.3f)\n",
		       what, ok, secs[ok / 2], secs[0], secs[ok - 1]);
	check_empty_and_remove(dir);
}

/*
 * A loop of 2^32 iterations (minutes when emulated, seconds on hardware)
 * must be cut off at the bound, leaving no signal blocked or pending.
 */
static void test_kvm_probe_bound(void)
{
	sigset_t mask, pending;
	char err[256] = "";
	uint64_t ns = 0;
	int ret;

	ret = lg_kvm_run_loop(UINT32_MAX, 300, &ns, err, sizeof(err));
	check(ret == -ETIMEDOUT && ns >= 290000000ull && ns < 2000000000ull,
	      "KVM probe: an endless loop is cut off at 300 ms (%.0f ms): %s",
	      (double)ns / 1e6, err);
	sigprocmask(SIG_BLOCK, NULL, &mask);
	sigpending(&pending);
	check(!sigismember(&mask, SIGRTMAX - 1) &&
		      !sigismember(&pending, SIGRTMAX - 1),
	      "KVM probe: its timer signal is neither blocked nor pending");
}

static void test_kvm_probe(void)
{
	const char *why = NULL;
	bool hw = lg_kvm_hw_accelerated(&why);
	char err[256];
	uint64_t ns = 0;

	check(why && *why, "KVM probe: %s (%s)",
	      hw ? "hardware accelerated" : "not accelerated", why ?: "-");
	if (access("/dev/kvm", R_OK | W_OK) == 0) {
		int ret = lg_kvm_time_loop(&ns, err, sizeof(err));

		check(ret == 0 && ns > 0, "timed KVM loop runs: %.3f ms %s",
		      (double)ns / 1e6, ret ? err : "");
		test_kvm_probe_bound();
	}
}

/* --- main -------------------------------------------------------------- */

static bool usable_file(const char *env, const char **out)
{
	const char *v = getenv(env);

	*out = v;
	if (!v || !*v) {
		printf("SKIP: %s is not set\n", env);
		return false;
	}
	if (access(v, R_OK) < 0) {
		printf("SKIP: %s=%s: %s\n", env, v, strerror(errno));
		return false;
	}
	return true;
}

static int prepare_images(void)
{
	const char *echo = getenv("LG_TEST_ECHO_INITRD");

	if (echo && *echo)
		snprintf(echo_initrd, sizeof(echo_initrd), "%s", echo);
	else if (make_initramfs("echo", echo_init, echo_initrd,
				sizeof(echo_initrd)) < 0)
		return -1;
	if (make_initramfs("flood", flood_init, flood_initrd,
			   sizeof(flood_initrd)) < 0)
		return -1;
	return make_initramfs("panic", panic_init, panic_initrd,
			      sizeof(panic_initrd));
}

static void remove_tree(const char *dir)
{
	char *const rm[] = {"rm", "-rf", "--", (char *)dir, NULL};

	run_tool(rm, "/", "/dev/null", "/dev/null");
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	const char *runs = getenv("LG_TEST_BOOT_RUNS");

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN); /* a dead guest must fail a check, not us */
	if (!usable_file("LG_TEST_KERNEL", &kernel) ||
	    !usable_file("LG_TEST_INITRD", &project_initrd)) {
		/* run-tests.sh built the image: then missing is a failure. */
		const char *req = getenv("LG_REQUIRE_IMAGE");

		return req && !strcmp(req, "1") ? 1 : SKIP;
	}
	if (access(BUSYBOX, X_OK) < 0 && !getenv("LG_TEST_ECHO_INITRD")) {
		printf("SKIP: %s: %s\n", BUSYBOX, strerror(errno));
		return SKIP;
	}
	lg_log_set_level(getenv("LG_TEST_DEBUG") ? LG_LOG_DEBUG : LG_LOG_INFO);
	snprintf(base_dir, sizeof(base_dir), "%s/lg-hv-test.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(base_dir) || prepare_images() < 0) {
		printf("FAIL - cannot prepare %s: %s\n", base_dir,
		       strerror(errno));
		return 1;
	}
	test_runtime_parent();
	test_runtime_dir_prepare();
	test_proc();
	test_qmp_send_deadline();
	test_kvm_probe();
	test_spawn_failures();
	test_sweep();
	test_echo_vm();
	test_console_cap();
	test_panic_vm();
	test_killed_vm();
	test_boot_timeout();
	time_boots("echo-boot", echo_initrd, runs ? atoi(runs) : 3);
	time_boots("project-initrd", project_initrd, 1);
	remove_tree(base_dir);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
