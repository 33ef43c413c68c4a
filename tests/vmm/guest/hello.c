/* SPDX-License-Identifier: Apache-2.0 */
/* Prints over the UART from ring 3 and exits with a known code. */
#include "guest.h"

int guest_main(void)
{
	uart_puts("hello from ring 3\n");
	return 0x600d;
}
