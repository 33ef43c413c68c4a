/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lgvmm against real KVM with ring-3 test guests. Exit 77 (skip) when
 * KVM is not usable here; every guest run is bounded by the harness.
 * Guest images come from $LG_VMM_GUEST_DIR (set by meson).
 */
#include "check.h"
#include "harness.h"

#include "common/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *guest_dir;

#define STATUS(f0) (failures == (f0) ? "ok" : "FAILED")

/* Loads and runs one guest; false (and a failure) if that did not work. */
static bool run_guest(struct harness *h, const char *name)
{
	char path[4096];
	int err;

	err = harness_create(h);
	if (err < 0) {
		fprintf(stderr, "%s: harness: %s\n", name, strerror(-err));
		failures++;
		return false;
	}
	snprintf(path, sizeof(path), "%s/%s.bin", guest_dir, name);
	err = harness_load(h, path);
	if (err < 0) {
		fprintf(stderr, "%s: load %s: %s\n", name, path,
			strerror(-err));
		failures++;
		harness_destroy(h);
		return false;
	}
	err = harness_run(h);
	if (err < 0) {
		fprintf(stderr, "%s: run: %s\n", name, strerror(-err));
		failures++;
		harness_destroy(h);
		return false;
	}
	if (!h->dev.exited)
		harness_dump(h);
	return true;
}

static void test_hello(void)
{
	struct harness h;
	char out[256];
	int f0 = failures;

	if (!run_guest(&h, "hello"))
		return;
	CHECK_EQ(h.stop, VCPU_STOP_REQUESTED);
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.exit_code, 0x600d);
	CHECK_EQ(harness_uart_output(&h, out, sizeof(out)), 0);
	CHECK(strcmp(out, "hello from ring 3\n") == 0);
	CHECK_EQ(h.serial.tx_dropped, 0);
	printf("hello: %s (%.3f ms)\n", STATUS(f0), h.run_ns / 1e6);
	harness_destroy(&h);
}

static void test_mmio(void)
{
	static const struct harness_mmio_access want[] = {
		{0x00, 1, 0xab},
		{0x10, 2, 0xbeef},
		{0x20, 4, 0xdeadbeef},
		{0x30, 8, 0x0123456789abcdefull},
	};
	struct harness h;
	unsigned int i;
	int f0 = failures;

	if (!run_guest(&h, "mmio"))
		return;
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.exit_code, 0);
	CHECK_EQ(h.dev.nr_mmio_log, 4);
	for (i = 0; i < 4 && i < h.dev.nr_mmio_log; i++) {
		CHECK_EQ(h.dev.mmio_log[i].offset, want[i].offset);
		CHECK_EQ(h.dev.mmio_log[i].len, want[i].len);
		CHECK_EQ(h.dev.mmio_log[i].data, want[i].data);
	}
	/* Byte i of a read at offset o is 0x11 * (i + 1) + (o & 0xff). */
	CHECK_EQ(h.dev.nr_reports, 5);
	CHECK_EQ(h.dev.reports[0], 0x11);
	CHECK_EQ(h.dev.reports[1], 0x2211);
	CHECK_EQ(h.dev.reports[2], 0x44332211);
	CHECK_EQ(h.dev.reports[3], 0x44332211);
	CHECK_EQ(h.dev.reports[4], 0x88776655);
	printf("mmio: %s\n", STATUS(f0));
	harness_destroy(&h);
}

static void test_loop(void)
{
	struct harness h;
	int f0 = failures;

	if (!run_guest(&h, "loop"))
		return;
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.exit_code, 0);
	printf("loop: %s, 100M ring-3 iterations in %.1f ms (information)\n",
	       STATUS(f0), h.run_ns / 1e6);
	harness_destroy(&h);
}

static void test_exits(void)
{
	struct harness h;
	double pio, mmio;
	int f0 = failures;

	if (!run_guest(&h, "exits"))
		return;
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.pio_bench_n, 2000);
	CHECK_EQ(h.dev.mmio_bench_n, 20000);
	if (h.dev.pio_bench_n > 1 && h.dev.mmio_bench_n > 1) {
		pio = (double)(h.dev.pio_bench_last_ns -
			       h.dev.pio_bench_first_ns) /
		      (double)(h.dev.pio_bench_n - 1);
		mmio = (double)(h.dev.mmio_bench_last_ns -
				h.dev.mmio_bench_first_ns) /
		       (double)(h.dev.mmio_bench_n - 1);
		printf("exits: %s, PIO exit round trip %.0f ns, MMIO %.0f ns "
		       "(information)\n",
		       STATUS(f0), pio, mmio);
	}
	harness_destroy(&h);
}

static void test_hostile(void)
{
	struct bus_stats pio, mmio;
	struct harness h;
	int f0 = failures;

	if (!run_guest(&h, "hostile"))
		return;
	CHECK(h.dev.exited);
	CHECK_EQ(h.dev.exit_code, 0x0b5e);
	CHECK_EQ(h.dev.nr_reports, 10);
	CHECK_EQ(h.dev.reports[0], 0xff);
	CHECK_EQ(h.dev.reports[1], 0xffff);
	CHECK_EQ(h.dev.reports[2], 0xffffffff);
	CHECK_EQ(h.dev.reports[3], 16); /* rep insb: all 16 bytes 0xff */
	CHECK_EQ(h.dev.reports[4], 0xffffffff); /* straddles the UART end */
	CHECK_EQ(h.dev.reports[5], 0xff);
	CHECK_EQ(h.dev.reports[6], 0xffff);
	CHECK_EQ(h.dev.reports[7], 0xffffffff);
	CHECK_EQ(h.dev.reports[8], 0xffffffff);
	CHECK_EQ(h.dev.reports[9], 0xffffffff);
	bus_get_stats(&h.vm->pio, &pio);
	bus_get_stats(&h.vm->mmio, &mmio);
	CHECK_EQ(pio.unhandled_writes, 3 + 16);
	CHECK_EQ(pio.unhandled_reads, 3 + 16 + 1);
	CHECK_EQ(mmio.unhandled_writes, 1);
	CHECK_EQ(mmio.unhandled_reads, 4);
	printf("hostile: %s\n", STATUS(f0));
	harness_destroy(&h);
}

static void test_fault(void)
{
	struct harness h;
	char out[256];
	int f0 = failures;

	if (!run_guest(&h, "fault"))
		return;
	CHECK_EQ(h.stop, VCPU_STOP_SHUTDOWN);
	CHECK(!h.dev.exited);
	CHECK_EQ(harness_uart_output(&h, out, sizeof(out)), 0);
	CHECK(strcmp(out, "faulting\n") == 0);
	printf("fault: %s (%s)\n", STATUS(f0), vcpu_stop_reason_name(h.stop));
	harness_destroy(&h);
}

/* Skips (77) when there is no usable KVM here. */
static void skip_without_kvm(void)
{
	struct vm *vm;
	int err;

	err = vm_create(2ull << 20, &vm);
	if (err < 0) {
		printf("SKIP: KVM unavailable (%s)\n", strerror(-err));
		exit(77);
	}
	vm_destroy(vm);
}

int main(void)
{
	lg_log_set_ident("test-vmm");
	guest_dir = getenv("LG_VMM_GUEST_DIR");
	if (!guest_dir) {
		fprintf(stderr, "LG_VMM_GUEST_DIR is not set\n");
		return 1;
	}
	skip_without_kvm();
	test_hello();
	test_mmio();
	test_loop();
	test_exits();
	test_hostile();
	test_fault();
	if (failures) {
		fprintf(stderr, "%d check(s) failed\n", failures);
		return 1;
	}
	printf("all vmm guest tests passed\n");
	return 0;
}
