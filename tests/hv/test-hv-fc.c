/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lgvmm and firecracker backends (fc-vm.h) through the hv interface.
 *
 * Always: firecracker missing gives its exact message; on a KVM that is
 * not hardware accelerated, lgvmm (and firecracker) are refused with the
 * reason and the default backend is qemu; a VMM executable that exits,
 * crashes, hangs before its API socket or cannot be executed is reported
 * with its exit and console tail. Those "VMMs" are small shell scripts
 * standing in for a broken binary: they exercise our process handling,
 * not the API.
 *
 * With lgvmm (LG_LGVMM, or the build tree's src/vmm/lgvmm; the test skips
 * these parts without it): the whole spawn sequence against the real API
 * up to InstanceStart with a bogus kernel (its fault_message must come
 * back), and with LG_TEST_HALT_GUEST (a PVH test guest that prints its
 * command line and halts) a running VM: boot arguments, GET / state,
 * PATCH /vm pause and resume, the vsock agent channel timing out cleanly
 * (no agent in that guest), stop and destroy. These run on this host's
 * software KVM too: the test guest is a few hundred ring-0 instructions.
 * After every case nothing may be left: no process, socket or directory.
 */
#include "check.h"
#include "common/clock.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "hv/backend.h"
#include "hv/fc-vm.h"
#include "hv/hv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SKIP 77

static int skipped;
static char dir[256], run[300], kernel[300], initrd[300], rootfs[300];

static bool starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void skip(const char *why)
{
	printf("skip - %s\n", why);
	skipped++;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int ret = fd < 0 ? -errno : lg_write_all(fd, text, strlen(text));

	if (fd >= 0)
		close(fd);
	return ret;
}

/* Does any process's command line mention our test directory? */
static bool process_mentions_dir(void)
{
	char path[300], buf[4096];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir("/proc");
	ssize_t n;
	int fd;

	while (d && !found && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t i = 0; i < n; i++)
			buf[i] = buf[i] ? buf[i] : ' ';
		buf[n > 0 ? n : 0] = '\0';
		found = strstr(buf, run) != NULL;
	}
	if (d)
		closedir(d);
	return found;
}

/* Nothing in the runtime parent, no process running from it. */
static void check_clean(const char *what)
{
	struct dirent *de;
	DIR *d = opendir(run);
	char left[512] = "";

	while (d && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			snprintf(left, sizeof(left), "%s", de->d_name);
	}
	if (d)
		closedir(d);
	check(!left[0] && !process_mentions_dir(),
	      "%s: nothing left behind%s%s", what, left[0] ? ": " : "", left);
}

static struct lg_vm_config base_config(void)
{
	return (struct lg_vm_config){
		.kernel = kernel,
		.initrd = initrd,
		.vcpus = 1,
		.mem_mib = 64,
		.runtime_parent = run,
		.boot_timeout_ms = 5000,
		.cancel_fd = -1,
	};
}

/* --- selection and missing binaries --------------------------------- */

static void test_firecracker_missing(void)
{
	struct lg_vm_config cfg = base_config();
	char empty[300], bogus[320], err[1024], want[600];
	struct lg_vm *vm = NULL;
	const char *old_path = getenv("PATH");
	char *saved = old_path ? strdup(old_path) : NULL;
	int ret;

	snprintf(empty, sizeof(empty), "%s/empty-bin", dir);
	mkdir(empty, 0700);
	setenv("PATH", empty, 1);
	unsetenv("LG_FIRECRACKER");
	ret = lg_vm_spawn("firecracker", &cfg, &vm, err, sizeof(err));
	check(ret == -ENOENT && !vm &&
		      !strcmp(err, "firecracker not found (looked in PATH; set "
				   "LG_FIRECRACKER)"),
	      "firecracker not installed: %d '%s'", ret, err);
	check_clean("firecracker not installed");

	snprintf(bogus, sizeof(bogus), "%s/no-such-firecracker", dir);
	setenv("LG_FIRECRACKER", bogus, 1);
	ret = lg_vm_spawn("firecracker", &cfg, &vm, err, sizeof(err));
	snprintf(want, sizeof(want),
		 "firecracker not found: LG_FIRECRACKER=%s: No such file or "
		 "directory",
		 bogus);
	check(ret == -ENOENT && !strcmp(err, want),
	      "LG_FIRECRACKER naming nothing: '%s'", err);
	unsetenv("LG_FIRECRACKER");
	if (saved)
		setenv("PATH", saved, 1);
	free(saved);
	check_clean("LG_FIRECRACKER naming nothing");
}

static void test_software_kvm(void)
{
	struct lg_vm_config cfg = base_config();
	struct lg_vm *vm = NULL;
	const char *why = "";
	char err[1024], reason[1024];
	const char *name;
	int ret;

	if (lg_kvm_hw_accelerated(&why)) {
		skip("KVM is hardware accelerated here: the refusals of a "
		     "software KVM cannot be checked");
		return;
	}
	ret = lg_vm_spawn("lgvmm", &cfg, &vm, err, sizeof(err));
	check(ret == -ENODEV && !vm &&
		      starts_with(err,
				  "lgvmm needs hardware KVM to boot Linux, and "
				  "KVM here is not hardware accelerated (") &&
		      strstr(err, "); use --backend qemu"),
	      "lgvmm on a software KVM: %d '%s'", ret, err);
	check_clean("lgvmm on a software KVM");

	setenv("LG_FIRECRACKER", "/bin/true", 1);
	ret = lg_vm_spawn("firecracker", &cfg, &vm, err, sizeof(err));
	check(ret == -ENODEV &&
		      starts_with(err, "firecracker needs hardware KVM"),
	      "firecracker on a software KVM: '%s'", err);
	unsetenv("LG_FIRECRACKER");
	check_clean("firecracker on a software KVM");

	cfg.accel = LG_ACCEL_TCG;
	ret = lg_vm_spawn("lgvmm", &cfg, &vm, err, sizeof(err));
	check(ret == -ENOTSUP &&
		      !strcmp(err, "lgvmm runs guests on KVM only; --accel tcg "
				   "needs --backend qemu"),
	      "lgvmm with --accel tcg: '%s'", err);

	name = lg_hv_default_backend(LG_ACCEL_AUTO, reason, sizeof(reason));
	check(!strcmp(name, "qemu") &&
		      strstr(reason, "KVM is not hardware accelerated"),
	      "default backend: %s (%s)", name, reason);
	name = lg_hv_default_backend(LG_ACCEL_TCG, reason, sizeof(reason));
	check(!strcmp(name, "qemu"), "default with --accel tcg: %s (%s)", name,
	      reason);
	check(!strcmp(lg_hv_backend_names(), "qemu,lgvmm,firecracker"),
	      "backends registered: %s", lg_hv_backend_names());
}

/* --- VMM executables that fail --------------------------------------- */

static void test_vmm_fails(void)
{
	struct lg_vm_config cfg = base_config();
	char exe[320], pidfile[320], script[900], err[4096], buf[32];
	void *impl = NULL;
	uint64_t t0, ms;
	long pid = 0;
	int ret, fd;

	snprintf(exe, sizeof(exe), "%s/exits.sh", dir);
	write_file(exe,
		   "#!/bin/sh\necho 'vmm: bad things on stdout'\n"
		   "echo 'vmm: more on stderr' >&2\nexit 3\n",
		   0700);
	ret = lg_fc_vm_spawn("lgvmm", exe, &cfg, &impl, err, sizeof(err));
	check(ret == -ECHILD &&
		      starts_with(err, "lgvmm exited with status 3 before "
				       "its API socket was ready\n"
				       "console tail:\n"),
	      "VMM exits at once: %d '%s'", ret, err);
	check(strstr(err, "bad things on stdout") &&
		      strstr(err, "more on stderr"),
	      "its stdout and stderr are in the console tail");
	check_clean("VMM exits at once");

	snprintf(pidfile, sizeof(pidfile), "%s/hang.pid", dir);
	snprintf(exe, sizeof(exe), "%s/hangs.sh", dir);
	snprintf(script, sizeof(script),
		 "#!/bin/sh\necho $$ > '%s'\nexec sleep 60\n", pidfile);
	write_file(exe, script, 0700);
	cfg.boot_timeout_ms = 400;
	t0 = lg_now_ns();
	ret = lg_fc_vm_spawn("lgvmm", exe, &cfg, &impl, err, sizeof(err));
	ms = (lg_now_ns() - t0) / 1000000;
	check(ret == -ETIMEDOUT &&
		      strstr(err, "lgvmm did not open its API socket"),
	      "VMM never opens its socket: %d '%s'", ret, err);
	check(ms >= 390 && ms < 3000, "gave up after the boot timeout: %llu ms",
	      (unsigned long long)ms);
	fd = open(pidfile, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
		pid = strtol(buf, NULL, 10);
	if (fd >= 0)
		close(fd);
	check(pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH,
	      "the hung VMM (pid %ld) was killed and reaped", pid);
	unlink(pidfile);
	check_clean("VMM never opens its socket");

	cfg.boot_timeout_ms = 5000;
	snprintf(exe, sizeof(exe), "%s/not-executable", dir);
	write_file(exe, "#!/bin/sh\n", 0600);
	ret = lg_fc_vm_spawn("lgvmm", exe, &cfg, &impl, err, sizeof(err));
	check(ret == -EACCES && strstr(err, "Permission denied"),
	      "VMM not executable: %d '%s'", ret, err);
	check_clean("VMM not executable");

	cfg.kernel = "/nonexistent/vmlinux";
	ret = lg_fc_vm_spawn("lgvmm", "/bin/true", &cfg, &impl, err,
			     sizeof(err));
	check(ret == -ENOENT &&
		      !strcmp(err, "kernel /nonexistent/vmlinux: No such file "
				   "or directory"),
	      "missing kernel: '%s'", err);
	check_clean("missing kernel");
}

/* --- the real lgvmm -------------------------------------------------- */

static void test_lgvmm_bogus_kernel(const char *exe)
{
	struct lg_vm_config cfg = base_config();
	char err[4096];
	void *impl = NULL;
	int ret;

	/* kernel: a file of text, which no loader takes. */
	ret = lg_fc_vm_spawn("lgvmm", exe, &cfg, &impl, err, sizeof(err));
	check(ret == -EREMOTEIO &&
		      starts_with(err, "lgvmm: PUT /actions: 400 ") &&
		      !strchr(err, '\n'),
	      "lgvmm, bogus kernel: InstanceStart's fault_message comes back: "
	      "%d '%s'",
	      ret, err);
	check_clean("lgvmm, bogus kernel");
}

static void test_lgvmm_running(const char *exe, const char *guest)
{
	struct lg_vm_config cfg = base_config();
	const struct lg_vm_times *times;
	struct lg_vm_status st;
	char err[4096], tail[4096] = "", path[PATH_MAX];
	void *impl = NULL;
	uint64_t t0;
	int ret, fd = -1;

	cfg.kernel = guest;
	cfg.initrd = NULL;
	cfg.rootfs = rootfs;
	cfg.cmdline = "lg.test=halt";
	cfg.boot_timeout_ms = 1500;
	ret = lg_fc_vm_spawn("lgvmm", exe, &cfg, &impl, err, sizeof(err));
	if (!check(ret == 0, "lgvmm runs the halt guest: %d %s", ret,
		   ret ? err : ""))
		return;
	times = lg_fc_vm_times(impl);
	if (check(times->guest_start > 0, "InstanceStart recorded"))
		printf("# lgvmm backend: spawn to API ready %.2f ms, to "
		       "InstanceStart done %.2f ms\n",
		       (double)(times->process_ready - times->spawn_start) /
			       1e6,
		       (double)(times->guest_start - times->spawn_start) / 1e6);
	snprintf(path, sizeof(path), "%s/%s", lg_fc_vm_runtime_dir(impl),
		 LG_FC_VSOCK_SOCK);
	check(access(path, F_OK) == 0, "vsock uds_path exists after start");

	/* The guest prints within moments even with ring 0 emulated; wait
	 * for the whole line (its end is the last boot argument). */
	t0 = lg_now_ns();
	while (!strstr(tail, "lg.test=halt") &&
	       lg_now_ns() - t0 < 10000000000ull) {
		tail[0] = '\0';
		lg_fc_vm_console_tail(impl, tail, sizeof(tail), 5);
		if (!strstr(tail, "lg.test=halt"))
			usleep(20000);
	}
	check(strstr(tail,
		     "halt-guest: cmdline: console=ttyS0 reboot=k panic=1 "
		     "pci=off") &&
		      strstr(tail, "lg.rootfs=/dev/vda lg.test=halt"),
	      "boot args reached the guest: '%s'", tail);

	ret = lg_fc_vm_status(impl, &st);
	check(ret == 0 && st.state == LG_VM_RUNNING, "GET /: running (%d %s)",
	      ret, st.reason);
	ret = lg_fc_vm_pause(impl);
	check(ret == 0, "PATCH /vm Paused: %d", ret);
	ret = lg_fc_vm_status(impl, &st);
	check(ret == 0 && st.state == LG_VM_PAUSED, "GET /: paused (%s)",
	      lg_vm_state_name(st.state));
	ret = lg_fc_vm_resume(impl);
	check(ret == 0, "PATCH /vm Resumed: %d", ret);
	ret = lg_fc_vm_status(impl, &st);
	check(ret == 0 && st.state == LG_VM_RUNNING, "GET /: running again");

	/* The halt guest has no agent: the vsock wait must end cleanly. */
	t0 = lg_now_ns();
	ret = lg_fc_vm_agent_channel(impl, &fd, err, sizeof(err));
	check(ret == -ETIMEDOUT &&
		      starts_with(
			      err,
			      "guest agent did not answer on vsock port 5123 "
			      "within 2 s\nconsole tail:\n"),
	      "no guest agent: %d '%s'", ret, err);
	check(lg_now_ns() - t0 < 4000000000ull,
	      "the agent wait kept to the boot timeout");

	t0 = lg_now_ns();
	ret = lg_fc_vm_stop(impl);
	check(ret == 0 && lg_fc_vm_pid(impl) < 0, "stopped, process reaped");
	check(lg_now_ns() - t0 < 3000000000ull, "stop is quick: %llu ms",
	      (unsigned long long)((lg_now_ns() - t0) / 1000000));
	ret = lg_fc_vm_status(impl, &st);
	check(ret == 0 && st.state == LG_VM_STOPPED &&
		      starts_with(st.reason, "stopped on request (lgvmm "),
	      "status after stop: %s: %s", lg_vm_state_name(st.state),
	      st.reason);
	lg_fc_vm_destroy(impl);
	check_clean("lgvmm running the halt guest");
}

static void test_lgvmm(void)
{
	const char *guest = getenv("LG_TEST_HALT_GUEST");
	char exe[PATH_MAX], err[1024];

	if (lg_lgvmm_find(exe, sizeof(exe), err, sizeof(err)) < 0) {
		skip(err);
		return;
	}
	printf("# lgvmm: %s\n", exe);
	test_lgvmm_bogus_kernel(exe);
	if (guest && *guest)
		test_lgvmm_running(exe, guest);
	else
		skip("LG_TEST_HALT_GUEST not set: no running-VM checks");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (getenv("LG_TEST_DEBUG"))
		lg_log_set_level(LG_LOG_DEBUG);
	snprintf(dir, sizeof(dir), "%s/lg-hv-fc.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(run, sizeof(run), "%s/run", dir);
	snprintf(kernel, sizeof(kernel), "%s/vmlinux", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", dir);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs.img", dir);
	mkdir(run, 0700);
	write_file(kernel, "not a kernel\n", 0600);
	write_file(initrd, "not an initramfs\n", 0600);
	/* 64 KiB of zeros: a disk no guest here reads. */
	if (write_file(rootfs, "", 0600) < 0 || truncate(rootfs, 65536) < 0)
		perror(rootfs);

	test_firecracker_missing();
	test_software_kvm();
	test_vmm_fails();
	test_lgvmm();

	if (lg_rm_rf(dir) < 0)
		printf("# could not remove %s\n", dir);
	printf("%s (%d skipped)\n", failures ? "FAILED" : "PASSED", skipped);
	return failures ? 1 : 0;
}
