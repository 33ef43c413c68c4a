/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshot end to end under KVM: the count guest runs, is stopped and
 * snapshotted (state file + memory file); a new process (this program
 * again, with --restore) builds a fresh VM, maps the memory file
 * privately, restores vCPU, VM and UART state and resumes; the guest must
 * carry on exactly where it was. Also: the original VM resumes after the
 * snapshot, a corrupt or mismatched snapshot is refused with a clear
 * error and nothing left behind, and restore times for 128 MiB and 1 GiB
 * guests (printed, not asserted). Exit 77 where KVM is unusable.
 */
#include "check.h"
#include "snap-vm.h"

#include "common/clock.h"
#include "common/fsutil.h"
#include "common/hash.h"
#include "common/log.h"
#include "vmm/accel/accel-irq.h"
#include "vmm/serial-state.h"
#include "vmm/snapshot/snapshot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MIB (1ull << 20)
#define RESTORE_REFUSED 2 /* the child's exit code for a refused load */
#define CHILD_TIMEOUT_S 60
#define GUEST_TIMEOUT_MS 30000
#define LCG_MUL 6364136223846793005ull
/* The snapshotted vCPU's CPUID tells of this many CPUs; the restoring
 * process configures none, so only a restored CPUID shows it. */
#define SNAP_CPUID_CPUS 7u

static const char *guest_dir;
static char tmpdir[PATH_MAX];

/* The guest's LCG, replayed: low halves at each tick, the final state. */
static uint32_t want_x[SNAP_NR_TICKS + 1];
static uint64_t want_final_x;

static void expect_compute(void)
{
	uint64_t i, x = 1;

	for (i = 1; i <= SNAP_COUNT_TOTAL; i++) {
		x = x * LCG_MUL + i;
		if (!(i & ((1ull << SNAP_COUNT_TICK_SHIFT) - 1)))
			want_x[i >> SNAP_COUNT_TICK_SHIFT] = (uint32_t)x;
	}
	want_final_x = x;
}

/* Where a snapshot was taken, for the restoring process to check. */
struct snap_point {
	uint32_t last_tick;
	uint32_t tick_reads;
	uint32_t last_tsc;
	uint32_t last_clock_us;
	uint64_t rip;
};

/* The guest's final reports (count.c: marks, ticks, state). */
static void check_final(const struct snap_dev *d, const char *who)
{
	int f0 = failures, i;

	CHECK(d->exited);
	CHECK_EQ(d->exit_code, 0x5a5a);
	CHECK_EQ(d->nr_reports, 16);
	CHECK_EQ(d->reports[0], 0xa5);	     /* PIC master IMR */
	CHECK_EQ(d->reports[1], 0x5a);	     /* PIC slave IMR */
	CHECK_EQ(d->reports[2], 0x34);	     /* PIT channel 2 mode */
	CHECK_EQ(d->reports[3], 0x00010035); /* IOAPIC pin 3 */
	CHECK_EQ(d->reports[4], 0x00010042); /* LAPIC LVT error */
	CHECK_EQ(d->reports[5], 0x5c);	     /* UART scratch */
	for (i = 6; i < 11; i++)
		CHECK_EQ(d->reports[i], 1);	   /* MSR marks kept */
	CHECK_EQ(d->reports[11], SNAP_CPUID_CPUS); /* restored CPUID */
	CHECK_EQ(d->reports[12], SNAP_NR_TICKS);   /* xmm7 */
	CHECK_EQ(d->reports[13], 0);		   /* tick read-backs */
	CHECK_EQ(d->reports[14] | (uint64_t)d->reports[15] << 32, want_final_x);
	CHECK(d->ticks_in_order);
	CHECK_EQ(d->bad_accesses, 0);
	if (failures != f0)
		fprintf(stderr, "%s: final state wrong\n", who);
}

static bool ticks_match(const struct snap_dev *d, uint32_t from)
{
	uint32_t t;

	for (t = from; t <= SNAP_NR_TICKS; t++)
		if (d->x_lo[t] != want_x[t]) {
			fprintf(stderr, "tick %u: x %#x, want %#x\n", t,
				d->x_lo[t], want_x[t]);
			return false;
		}
	return true;
}

/* ---- the restoring process ---- */

static double ms(uint64_t ns)
{
	return ns / 1e6;
}

static int restore_sections(struct snap_vm *s, const char *state,
			    const char *mem, uint64_t t[4])
{
	struct snapshot_reader *r;
	struct snapshot_vm_info info;
	char err[SNAPSHOT_ERR_SIZE];
	const void *buf;
	size_t len;
	int e;

	e = snapshot_reader_open(state, &r, err, sizeof(err));
	if (!e)
		e = snapshot_vm_info(r, &info, err, sizeof(err));
	if (e) {
		fprintf(stderr, "restore refused: %s\n", err);
		snapshot_reader_destroy(r);
		return e;
	}
	if (info.nr_regions != 1 || info.region_gpa[0] != 0) {
		fprintf(stderr, "restore: RAM layout not for this test\n");
		snapshot_reader_destroy(r);
		return -EINVAL;
	}
	t[0] = lg_now_ns();
	e = snap_vm_create(s, info.ram_size);
	if (e) {
		fprintf(stderr, "restore: VM: %s\n", strerror(-e));
		snapshot_reader_destroy(r);
		return e;
	}
	t[1] = lg_now_ns();
	e = snapshot_mem_load(s->vm, mem, err, sizeof(err));
	t[2] = lg_now_ns();
	if (!e)
		e = snapshot_vm_restore(r, s->vm, &s->vcpu, 1, err,
					sizeof(err));
	if (!e && snapshot_reader_find(r, "serial", &buf, &len) < 0) {
		snprintf(err, sizeof(err), "no serial section");
		e = -EINVAL;
	}
	if (!e && serial_restore(&s->serial, buf, len) < 0) {
		snprintf(err, sizeof(err), "bad serial section");
		e = -EINVAL;
	}
	t[3] = lg_now_ns();
	snapshot_reader_destroy(r);
	if (e)
		fprintf(stderr, "restore refused: %s\n", err);
	return e;
}

static void restore_check_run(struct snap_vm *s, const struct snap_point *p)
{
	char out[256];
	uint32_t next = p->last_tick + 1;

	CHECK(snap_vm_wait(s, GUEST_TIMEOUT_MS));
	CHECK_EQ(snap_vm_stop(s), 0);
	check_final(&s->dev, "restored");
	/* On from the next tick: none repeated, none lost. */
	CHECK_EQ(s->dev.first_tick, next);
	CHECK_EQ(s->dev.nr_ticks, SNAP_NR_TICKS - p->last_tick);
	CHECK(ticks_match(&s->dev, next));
	/* Each read-back once: one the snapshot stopped in was finished. */
	CHECK_EQ(p->tick_reads + s->dev.tick_reads, SNAP_NR_TICKS);
	/* TSC and kvm-clock go on from the snapshot, not from zero. */
	/* (TSC / 256 in 32 bits wraps every few minutes: compare mod 2^32.) */
	CHECK(p->last_tsc != 0 && p->last_clock_us != 0);
	CHECK((int32_t)(s->dev.tsc[next] - p->last_tsc) >= 0);
	CHECK(s->dev.clock_us[next] >= p->last_clock_us);
	CHECK(s->dev.clock_us[next] - p->last_clock_us < 1000000);
	if (s->dev.clock_us[next] < p->last_clock_us)
		fprintf(stderr, "kvm-clock %u us after restore, %u us before\n",
			s->dev.clock_us[next], p->last_clock_us);
	CHECK_EQ(snap_vm_uart(s, out, sizeof(out)), 0);
	CHECK(strcmp(out, "count: done\n") == 0);
	if (strcmp(out, "count: done\n"))
		fprintf(stderr, "restored UART output: \"%s\"\n", out);
}

/*
 * argv: --restore STATE MEM MODE LAST_TICK READS TSC CLOCK RIP; MODE "full"
 * (run to the end, check everything) or "time" (to the first exit).
 * Exit 0 ok, 1 check failed, 2 restore refused.
 */
static int restore_main(char **argv)
{
	struct snap_point p;
	struct snap_vm s = {.uart_fd = -1};
	struct x86_regs regs;
	uint64_t t0, t[4], ready;
	bool full = !strcmp(argv[3], "full");
	int e;

	p.last_tick = (uint32_t)strtoul(argv[4], NULL, 0);
	p.tick_reads = (uint32_t)strtoul(argv[5], NULL, 0);
	p.last_tsc = (uint32_t)strtoul(argv[6], NULL, 0);
	p.last_clock_us = (uint32_t)strtoul(argv[7], NULL, 0);
	p.rip = strtoull(argv[8], NULL, 0);
	if (full)
		expect_compute();
	t0 = lg_now_ns();
	e = restore_sections(&s, argv[1], argv[2], t);
	if (e) {
		snap_vm_destroy(&s);
		return RESTORE_REFUSED;
	}
	ready = lg_now_ns();
	CHECK_EQ(accel_vcpu_get_regs(s.vcpu->acc, &regs), 0);
	CHECK_EQ(regs.rip, p.rip);
	/* The guest's next TICK_X/TSC belong to the tick it was in. */
	s.dev.cur_tick = p.last_tick;
	CHECK_EQ(snap_vm_start(&s), 0);
	if (full) {
		restore_check_run(&s, &p);
	} else {
		uint64_t deadline = lg_now_ns() + 10000000000ull;

		while (!__atomic_load_n(&s.dev.first_exit_ns,
					__ATOMIC_ACQUIRE) &&
		       lg_now_ns() < deadline)
			sched_yield();
		CHECK_EQ(snap_vm_stop(&s), 0);
		CHECK(s.dev.first_exit_ns != 0);
	}
	printf("  restore %llu MiB: state file %.3f ms, VM %.3f ms, memory "
	       "map %.3f ms, state %.3f ms; ready %.3f ms, first guest exit "
	       "%.3f ms after start\n",
	       (unsigned long long)(vm_mem_size(&s.vm->mem) / MIB),
	       ms(t[0] - t0), ms(t[1] - t[0]), ms(t[2] - t[1]), ms(t[3] - t[2]),
	       ms(ready - t0),
	       s.dev.first_exit_ns ? ms(s.dev.first_exit_ns - t0) : -1.0);
	snap_vm_destroy(&s);
	return failures ? 1 : 0;
}

/* ---- the snapshotting process ---- */

static void path_in(char *buf, const char *name)
{
	if (lg_path_fmt(buf, PATH_MAX, "%s/%s", tmpdir, name) < 0)
		abort();
}

/* Child with --restore; its stderr into err_fd if >= 0. Exit status. */
static int spawn_restore(const char *state, const char *mem, const char *mode,
			 const struct snap_point *p, int err_fd)
{
	char tick[16], reads[16], tsc[16], clock[16], rip[32];
	char *argv[] = {"test-snapshot-vm",
			"--restore",
			(char *)state,
			(char *)mem,
			(char *)mode,
			tick,
			reads,
			tsc,
			clock,
			rip,
			NULL};
	uint64_t deadline;
	int status;
	pid_t pid, w;

	snprintf(tick, sizeof(tick), "%u", p->last_tick);
	snprintf(reads, sizeof(reads), "%u", p->tick_reads);
	snprintf(tsc, sizeof(tsc), "%u", p->last_tsc);
	snprintf(clock, sizeof(clock), "%u", p->last_clock_us);
	snprintf(rip, sizeof(rip), "%#llx", (unsigned long long)p->rip);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (err_fd >= 0)
			dup2(err_fd, STDERR_FILENO);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	deadline = lg_now_ns() + CHILD_TIMEOUT_S * 1000000000ull;
	for (;;) {
		struct timespec ts = {0, 10000000};

		w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 || lg_now_ns() > deadline) {
			fprintf(stderr, "restore child timed out\n");
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int count_files(void)
{
	struct dirent *de;
	DIR *d = opendir(tmpdir);
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Runs the count guest in a new VM until it has ticked `ticks` times. */
static bool start_count(struct snap_vm *s, uint64_t ram, uint32_t ticks,
			uint32_t stop_at_tick, unsigned int clock_gap_ms)
{
	struct timespec gap = {clock_gap_ms / 1000,
			       (long)(clock_gap_ms % 1000) * 1000000};
	char path[PATH_MAX];
	uint64_t deadline;
	int err;

	err = snap_vm_create(s, ram);
	if (err) {
		fprintf(stderr, "VM: %s\n", strerror(-err));
		failures++;
		return false;
	}
	err = accel_vcpu_configure(
		s->vcpu->acc,
		&(struct accel_cpu_topology){.nr_vcpus = SNAP_CPUID_CPUS},
		true);
	if (err) {
		fprintf(stderr, "vCPU configure: %s\n", strerror(-err));
		failures++;
		return false;
	}
	snprintf(path, sizeof(path), "%s/count.bin", guest_dir);
	err = snap_vm_load(s, path);
	if (err) {
		fprintf(stderr, "load %s: %s\n", path, strerror(-err));
		failures++;
		return false;
	}
	s->dev.stop_at_tick = stop_at_tick;
	/*
	 * kvm-clock counts from VM creation: a gap before the guest starts
	 * makes a restored clock clearly ahead of a fresh VM's.
	 */
	nanosleep(&gap, NULL);
	CHECK_EQ(snap_vm_start(s), 0);
	if (stop_at_tick) {
		CHECK(snap_vm_wait(s, GUEST_TIMEOUT_MS));
	} else {
		deadline = lg_now_ns() + GUEST_TIMEOUT_MS * 1000000ull;
		while (__atomic_load_n(&s->dev.nr_ticks, __ATOMIC_ACQUIRE) <
			       ticks &&
		       !__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) &&
		       lg_now_ns() < deadline)
			sched_yield();
	}
	CHECK_EQ(snap_vm_stop(s), 0);
	CHECK(!s->dev.exited);
	CHECK(s->dev.nr_ticks >= ticks);
	return !s->dev.exited && s->dev.nr_ticks >= ticks;
}

/* Snapshot create, as the VMM does it with the VM paused. */
static int take_snapshot(struct snap_vm *s, const char *state, const char *mem,
			 struct snap_point *p)
{
	uint8_t buf[SERIAL_STATE_SIZE];
	struct snapshot_writer *w;
	struct x86_regs regs;
	size_t n;
	int err;

	err = snapshot_writer_create(&w);
	if (err)
		return err;
	err = snapshot_vm_save(w, s->vm, &s->vcpu, 1);
	if (!err)
		err = serial_save(&s->serial, buf, sizeof(buf), &n);
	if (!err)
		err = snapshot_writer_add(w, "serial", buf, n);
	if (!err)
		err = snapshot_mem_save(s->vm, mem);
	if (!err)
		err = snapshot_writer_commit(w, state);
	snapshot_writer_destroy(w);
	if (err)
		return err;
	/* After the save: any I/O the vCPU was stopped in is complete. */
	err = accel_vcpu_get_regs(s->vcpu->acc, &regs);
	p->rip = regs.rip;
	p->last_tick = s->dev.cur_tick;
	p->tick_reads = s->dev.tick_reads;
	/* The stop may fall between a tick's writes: the latest of each. */
	p->last_tsc = s->dev.last_tsc;
	p->last_clock_us = s->dev.last_clock_us;
	return err;
}

static bool file_sha(const char *path, char hex[LG_SHA256_HEX])
{
	return lg_sha256_file_hex(path, hex) == 0;
}

/*
 * The main case: stopped at an arbitrary point, snapshotted, resumed in
 * this process and restored in another; both finish as one straight run.
 */
static void test_resume(bool at_exit)
{
	const char *name = at_exit ? "stopped in a port read" : "stopped";
	char state[PATH_MAX], mem[PATH_MAX], out[256];
	char sum0[LG_SHA256_HEX], sum1[LG_SHA256_HEX];
	struct snap_vm s = {.uart_fd = -1};
	struct snap_point p = {0};
	int f0 = failures, rc;

	path_in(state, "state");
	path_in(mem, "mem");
	if (!start_count(&s, 64 * MIB, at_exit ? 5 : 8, at_exit ? 5 : 0,
			 at_exit ? 0 : 300))
		goto out;
	CHECK_EQ(take_snapshot(&s, state, mem, &p), 0);
	CHECK_EQ(snap_vm_uart(&s, out, sizeof(out)), 0);
	CHECK(strcmp(out, "count: start\n") == 0);
	CHECK(file_sha(mem, sum0));
	if (at_exit)
		CHECK_EQ(p.last_tick, 5);
	if (!at_exit) {
		/* The paused original resumes after its snapshot. */
		__atomic_store_n(&s.vcpu->stop_requested, 0, __ATOMIC_SEQ_CST);
		CHECK_EQ(snap_vm_start(&s), 0);
		CHECK(snap_vm_wait(&s, GUEST_TIMEOUT_MS));
		CHECK_EQ(snap_vm_stop(&s), 0);
		check_final(&s.dev, "original");
		CHECK(ticks_match(&s.dev, 1));
		CHECK_EQ(s.dev.tick_reads, SNAP_NR_TICKS);
	}
	snap_vm_destroy(&s);
	rc = spawn_restore(state, mem, "full", &p, -1);
	CHECK_EQ(rc, 0);
	/* Mapped privately: the guest's writes never reached the file. */
	CHECK(file_sha(mem, sum1));
	CHECK(strcmp(sum0, sum1) == 0);
	CHECK_EQ(count_files(), 2);
out:
	snap_vm_destroy(&s);
	printf("snapshot %s at tick %u, restored in a new process: %s\n", name,
	       p.last_tick, failures == f0 ? "ok" : "FAILED");
}

/* A state file with one byte flipped at off: refused, says `why`. */
static void expect_refused(const char *state, const char *mem,
			   const struct snap_point *p, const char *why,
			   const char *what)
{
	char msg[1024] = "";
	int fd, rc, before = count_files();
	ssize_t n;

	fd = memfd_create("restore-stderr", MFD_CLOEXEC);
	if (fd < 0) {
		failures++;
		return;
	}
	rc = spawn_restore(state, mem, "full", p, fd);
	n = pread(fd, msg, sizeof(msg) - 1, 0);
	msg[n > 0 ? n : 0] = '\0';
	close(fd);
	CHECK_EQ(rc, RESTORE_REFUSED);
	CHECK(strstr(msg, why) != NULL);
	CHECK_EQ(count_files(), before); /* nothing left behind */
	printf("  %s: %s", what, msg[0] ? msg : "(no message)\n");
}

static int flip_copy(const char *src, const char *dst, long off, bool trunc)
{
	char buf[1 << 16];
	int in, outfd;
	ssize_t n;
	struct stat st;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		return -1;
	if (off < 0)
		off += st.st_size;
	outfd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (outfd < 0) {
		close(in);
		return -1;
	}
	n = read(in, buf, sizeof(buf));
	close(in);
	if (n <= 0 || n == (ssize_t)sizeof(buf) || off >= n) {
		close(outfd);
		return -1;
	}
	if (trunc)
		n = off;
	else
		buf[off] ^= 0x40;
	if (lg_write_all(outfd, buf, (size_t)n) < 0) {
		close(outfd);
		return -1;
	}
	return close(outfd);
}

/*
 * Restoring into a VM that does not match the snapshot (checked before
 * any state is loaded): 0 if refused with `why` in the message.
 */
static void expect_mismatch(const char *state, uint64_t ram, bool irqchip,
			    unsigned int nr_vcpus, const char *why)
{
	char err[SNAPSHOT_ERR_SIZE] = "";
	struct snapshot_reader *r = NULL;
	struct vcpu *vcpus[2] = {NULL, NULL};
	struct vm *vm = NULL;
	unsigned int i;
	int e;

	e = vm_create(ram, &vm);
	if (!e && irqchip)
		e = accel_create_irqchip(vm->acc);
	for (i = 0; !e && i < nr_vcpus; i++)
		e = vcpu_create(vm, i, &vcpus[i]);
	if (!e)
		e = snapshot_reader_open(state, &r, err, sizeof(err));
	CHECK_EQ(e, 0);
	if (!e) {
		e = snapshot_vm_restore(r, vm, vcpus, nr_vcpus, err,
					sizeof(err));
		CHECK(e < 0);
		CHECK(strstr(err, why) != NULL);
		printf("  %s\n", err);
	}
	snapshot_reader_destroy(r);
	for (i = 0; i < 2; i++)
		vcpu_destroy(vcpus[i]);
	vm_destroy(vm);
}

static void test_refused(void)
{
	static const struct {
		long off;
		bool trunc;
		const char *why, *what;
	} cases[] = {
		{0, false, "bad magic", "magic flipped"},
		{8, false, "version", "major version flipped"},
		{100, false, "checksum mismatch", "a state byte flipped"},
		{-1, false, "checksum mismatch", "a checksum byte flipped"},
		{200, true, "size mismatch", "truncated"},
	};
	char state[PATH_MAX], mem[PATH_MAX], bad[PATH_MAX], sum0[LG_SHA256_HEX],
		sum1[LG_SHA256_HEX];
	struct snap_vm s = {.uart_fd = -1};
	struct snap_point p = {0};
	unsigned int i;
	int f0 = failures;

	path_in(state, "state");
	path_in(mem, "mem");
	path_in(bad, "bad");
	if (!start_count(&s, 16 * MIB, 2, 2, 0))
		goto out;
	CHECK_EQ(take_snapshot(&s, state, mem, &p), 0);
	snap_vm_destroy(&s);
	CHECK(file_sha(mem, sum0));
	printf("mismatched VMs:\n");
	expect_mismatch(state, 16 * MIB, false, 1, "in-kernel devices");
	expect_mismatch(state, 32 * MIB, true, 1, "RAM region 0 differs");
	expect_mismatch(state, 16 * MIB, true, 2, "snapshot has 1 vCPUs");
	printf("corrupt or mismatched snapshots:\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(flip_copy(state, bad, cases[i].off, cases[i].trunc),
			 0);
		expect_refused(bad, mem, &p, cases[i].why, cases[i].what);
	}
	/* A memory file that is not this snapshot's (too short). */
	CHECK_EQ(truncate(mem, 8 * MIB), 0);
	expect_refused(state, mem, &p, "memory file", "short memory file");
	CHECK(file_sha(mem, sum1));
	CHECK(strcmp(sum0, sum1) != 0);
	unlink(bad);
out:
	snap_vm_destroy(&s);
	unlink(state);
	unlink(mem);
	printf("corrupt snapshots refused: %s\n",
	       failures == f0 ? "ok" : "FAILED");
}

static void test_timing(uint64_t ram)
{
	char state[PATH_MAX], mem[PATH_MAX];
	struct snap_vm s = {.uart_fd = -1};
	struct snap_point p = {0};
	struct stat st;
	uint64_t t0, t1;
	int f0 = failures;

	path_in(state, "state");
	path_in(mem, "mem");
	if (!start_count(&s, ram, 2, 2, 0))
		goto out;
	t0 = lg_now_ns();
	CHECK_EQ(take_snapshot(&s, state, mem, &p), 0);
	t1 = lg_now_ns();
	snap_vm_destroy(&s);
	if (stat(mem, &st) == 0)
		printf("  snapshot %llu MiB: %.1f ms, memory file %llu KiB on "
		       "disk\n",
		       (unsigned long long)(ram / MIB), ms(t1 - t0),
		       (unsigned long long)st.st_blocks / 2);
	CHECK_EQ(spawn_restore(state, mem, "time", &p, -1), 0);
out:
	snap_vm_destroy(&s);
	unlink(state);
	unlink(mem);
	printf("restore timing %llu MiB: %s\n", (unsigned long long)(ram / MIB),
	       failures == f0 ? "ok" : "FAILED");
}

static void skip_without_kvm(void)
{
	struct vm *vm;
	int err;

	err = vm_create(2 * MIB, &vm);
	if (err < 0) {
		printf("SKIP: KVM unavailable (%s)\n", strerror(-err));
		exit(77);
	}
	vm_destroy(vm);
}

int main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR");

	lg_log_set_ident("test-snapshot-vm");
	if (argc == 10 && !strcmp(argv[1], "--restore"))
		return restore_main(argv + 1);
	guest_dir = getenv("LG_VMM_GUEST_DIR");
	if (!guest_dir) {
		fprintf(stderr, "LG_VMM_GUEST_DIR is not set\n");
		return 1;
	}
	skip_without_kvm();
	if (lg_path_fmt(tmpdir, sizeof(tmpdir), "%s/lg-snap-XXXXXX",
			base ? base : "/tmp") < 0 ||
	    !mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	expect_compute();
	test_resume(false);
	test_resume(true);
	test_refused();
	test_timing(128 * MIB);
	test_timing(1024 * MIB);
	lg_rm_rf(tmpdir);
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all snapshot tests passed\n");
	return 0;
}
