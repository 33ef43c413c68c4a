/* SPDX-License-Identifier: Apache-2.0 */
/* Every MMIO width to the harness's test device, both directions. */
#include "guest.h"

int guest_main(void)
{
	const uint64_t d = GUEST_MMIO_TEST;

	mmio_write8(d + 0x00, 0xab);
	mmio_write16(d + 0x10, 0xbeef);
	mmio_write32(d + 0x20, 0xdeadbeef);
	mmio_write64(d + 0x30, 0x0123456789abcdefull);
	report(mmio_read8(d + 0x100));
	report(mmio_read16(d + 0x200));
	report(mmio_read32(d + 0x300));
	report64(mmio_read64(d + 0x400));
	return 0;
}
