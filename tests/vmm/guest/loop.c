/* SPDX-License-Identifier: Apache-2.0 */
/* 100M iterations in ring 3: runs natively or not at all. */
#include "guest.h"

int guest_main(void)
{
	uint64_t n = 100000000;

	__asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(n));
	return (int)n;
}
