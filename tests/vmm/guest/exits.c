/* SPDX-License-Identifier: Apache-2.0 */
/* Back-to-back PIO then MMIO exits, timed by the harness's bench device. */
#include "guest.h"

/*
 * PIO: where ring-3 I/O goes through the #GP shim (kvm_pvm), each one
 * costs two exceptions and ~25 emulated ring-0 instructions; MMIO exits
 * cost ~60 us there. Counts keep the run well inside the 10 s bound.
 */
#define PIO_EXITS 2000u
#define MMIO_EXITS 20000u

int guest_main(void)
{
	uint32_t i;

	for (i = 0; i < PIO_EXITS; i++)
		outl(GUEST_PORT_BENCH, i);
	for (i = 0; i < MMIO_EXITS; i++)
		mmio_write32(GUEST_MMIO_TEST + 0x800, i);
	return 0;
}
