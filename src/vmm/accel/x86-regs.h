/* SPDX-License-Identifier: Apache-2.0 */
/*
 * x86-64 vCPU register state in accelerator-neutral form: what the VMM,
 * boot code and tests read and write. Each accelerator converts.
 */
#ifndef LG_VMM_ACCEL_X86_REGS_H
#define LG_VMM_ACCEL_X86_REGS_H

#include <stdint.h>

struct x86_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

/* A segment register's hidden (descriptor cache) part plus selector. */
struct x86_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type; /* descriptor type field, 4 bits */
	uint8_t present, dpl, db, s, l, g, avl;
	uint8_t unusable;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
};

struct x86_sregs {
	struct x86_segment cs, ds, es, fs, gs, ss;
	struct x86_segment tr, ldt;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t apic_base;
};

#define X86_CR0_PE (1ull << 0)
#define X86_CR0_MP (1ull << 1)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NE (1ull << 5)
#define X86_CR0_WP (1ull << 16)
#define X86_CR0_AM (1ull << 18)
#define X86_CR0_PG (1ull << 31)

#define X86_CR4_PAE (1ull << 5)
#define X86_CR4_OSFXSR (1ull << 9)
#define X86_CR4_OSXMMEXCPT (1ull << 10)

#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)

#define X86_RFLAGS_RESERVED1 (1ull << 1)
#define X86_RFLAGS_IOPL3 (3ull << 12)

#endif
