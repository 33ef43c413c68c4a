/* SPDX-License-Identifier: Apache-2.0 */
/* Puts a vCPU in 64-bit long mode at CPL3 with identity paging. */
#ifndef LG_VMM_TEST_LONGMODE_H
#define LG_VMM_TEST_LONGMODE_H

#include "vmm/memory.h"
#include "vmm/vcpu.h"

#include <stdint.h>

/* Guest-physical layout of the structures below the load address. */
#define LONGMODE_PML4 0x1000ull
#define LONGMODE_PDPT 0x2000ull
#define LONGMODE_PD 0x3000ull /* one page per GiB mapped, up to 4 */
#define LONGMODE_GDT 0x7000ull
#define LONGMODE_TSS 0x8000ull
#define LONGMODE_IDT 0x7100ull
#define LONGMODE_KSTACK_TOP 0x10000ull /* RSP0 for the I/O shim */
/* The image's #GP and #DB handlers (tests/vmm/guest/start.S). */
#define LONGMODE_GP_OFFSET 0x40ull
#define LONGMODE_DB_OFFSET 0xa0ull
#define LONGMODE_NR_VECTORS 14
#define LONGMODE_MAX_MAP (4ull << 30)

#define LONGMODE_SEL_UDATA (0x18 | 3)
#define LONGMODE_SEL_UCODE (0x20 | 3)
#define LONGMODE_SEL_TSS 0x28

/*
 * Writes page tables identity-mapping [0, map_size) with user-accessible
 * 2 MiB pages, a GDT and a TSS into guest RAM, then sets sregs and regs
 * so the vCPU starts at rip in ring 3 with IOPL 3, stack at rsp. The IDT
 * has only #DB and #GP, pointing at the image's I/O shim (rip + offsets).
 */
int longmode_setup(struct vcpu *vcpu, const struct vm_mem *mem,
		   uint64_t map_size, uint64_t rip, uint64_t rsp);

#endif
