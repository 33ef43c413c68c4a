/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Accesses nobody owns: unregistered ports (single and rep string),
 * an access straddling the end of the UART, unregistered MMIO. The
 * VMM must keep running and read all-ones.
 */
#include "guest.h"

#define NOBODY_PORT 0x1234
#define NOBODY_MMIO 0xe0000000ul

static uint8_t buf[16];

static uint32_t count_ff(void)
{
	uint32_t i, n = 0;

	for (i = 0; i < sizeof(buf); i++)
		n += buf[i] == 0xff;
	return n;
}

int guest_main(void)
{
	const uint8_t *src = buf;
	uint8_t *dst = buf;
	uint64_t cnt = sizeof(buf);

	outb(NOBODY_PORT, 1);
	outw(NOBODY_PORT, 2);
	outl(NOBODY_PORT, 3);
	report(inb(NOBODY_PORT));
	report(inw(NOBODY_PORT));
	report(inl(NOBODY_PORT));
	__asm__ volatile("rep outsb"
			 : "+S"(src), "+c"(cnt)
			 : "d"(NOBODY_PORT)
			 : "memory");
	cnt = sizeof(buf);
	__asm__ volatile("rep insb"
			 : "+D"(dst), "+c"(cnt)
			 : "d"(NOBODY_PORT)
			 : "memory");
	report(count_ff());
	/* 0x3ff..0x402: starts in the UART, ends outside it. */
	report(inl(GUEST_UART + 7));
	mmio_write32(NOBODY_MMIO, 0x12345678);
	report(mmio_read8(NOBODY_MMIO));
	report(mmio_read16(NOBODY_MMIO));
	report(mmio_read32(NOBODY_MMIO));
	report64(mmio_read64(NOBODY_MMIO + 8));
	return 0x0b5e;
}
