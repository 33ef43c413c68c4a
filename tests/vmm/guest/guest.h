/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Freestanding helpers for ring-3 test guests. Ports and addresses are
 * the harness's (tests/vmm/harness.h); IOPL=3 lets ring 3 use in/out.
 */
#ifndef LG_VMM_TEST_GUEST_H
#define LG_VMM_TEST_GUEST_H

#include <stdint.h>

#define GUEST_PORT_EXIT 0x501
#define GUEST_PORT_BENCH 0x502
#define GUEST_PORT_REPORT 0x503
#define GUEST_UART 0x3f8
#define GUEST_MMIO_TEST 0xd0000000ul

int guest_main(void);

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* One mov of exactly the given width, so the device sees that length. */
static inline void mmio_write8(uint64_t a, uint8_t v)
{
	__asm__ volatile("movb %0, (%1)" : : "q"(v), "r"(a) : "memory");
}

static inline void mmio_write16(uint64_t a, uint16_t v)
{
	__asm__ volatile("movw %0, (%1)" : : "r"(v), "r"(a) : "memory");
}

static inline void mmio_write32(uint64_t a, uint32_t v)
{
	__asm__ volatile("movl %0, (%1)" : : "r"(v), "r"(a) : "memory");
}

static inline void mmio_write64(uint64_t a, uint64_t v)
{
	__asm__ volatile("movq %0, (%1)" : : "r"(v), "r"(a) : "memory");
}

static inline uint8_t mmio_read8(uint64_t a)
{
	uint8_t v;

	__asm__ volatile("movb (%1), %0" : "=q"(v) : "r"(a) : "memory");
	return v;
}

static inline uint16_t mmio_read16(uint64_t a)
{
	uint16_t v;

	__asm__ volatile("movw (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint32_t mmio_read32(uint64_t a)
{
	uint32_t v;

	__asm__ volatile("movl (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline uint64_t mmio_read64(uint64_t a)
{
	uint64_t v;

	__asm__ volatile("movq (%1), %0" : "=r"(v) : "r"(a) : "memory");
	return v;
}

/* Hands a value to the harness, which collects them in order. */
static inline void report(uint32_t v)
{
	outl(GUEST_PORT_REPORT, v);
}

static inline void report64(uint64_t v)
{
	report((uint32_t)v);
	report((uint32_t)(v >> 32));
}

static inline void uart_putc(char c)
{
	while (!(inb(GUEST_UART + 5) & 0x20))
		;
	outb(GUEST_UART, (uint8_t)c);
}

static inline void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

#endif
