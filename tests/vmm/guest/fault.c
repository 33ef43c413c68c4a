/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hlt at CPL3 raises #GP; with no IDT that becomes a triple fault. The
 * VMM must report a shutdown, not hang or crash.
 */
#include "guest.h"

int guest_main(void)
{
	uart_puts("faulting\n");
	__asm__ volatile("hlt");
	return 1;
}
