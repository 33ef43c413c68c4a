/* SPDX-License-Identifier: Apache-2.0 */
/* Long mode, ring 3, straight from sregs: no ring-0 code runs. */
#include "longmode.h"

#include <errno.h>
#include <string.h>

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_PS 0x80ull
#define PAGE_2M (2ull << 20)
#define TSS_LIMIT 0x67u

static uint64_t gdt_entry(uint8_t access, uint8_t flags)
{
	/* Base 0, limit 0xfffff (with G: 4 GiB). */
	return 0xffffull | (uint64_t)access << 40 | 0xfull << 48 |
	       (uint64_t)flags << 52;
}

static int longmode_write_tables(const struct vm_mem *mem, uint64_t map_size)
{
	uint64_t *pml4, *pdpt, *pd, i, nr_pd;

	if (map_size == 0 || map_size > LONGMODE_MAX_MAP || map_size % PAGE_2M)
		return -EINVAL;
	nr_pd = (map_size + (1ull << 30) - 1) >> 30;
	pml4 = vm_mem_ptr(mem, LONGMODE_PML4, 4096);
	pdpt = vm_mem_ptr(mem, LONGMODE_PDPT, 4096);
	pd = vm_mem_ptr(mem, LONGMODE_PD, nr_pd * 4096);
	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	memset(pd, 0, nr_pd * 4096);
	pml4[0] = LONGMODE_PDPT | PTE_P | PTE_RW | PTE_US;
	for (i = 0; i < nr_pd; i++)
		pdpt[i] = (LONGMODE_PD + i * 4096) | PTE_P | PTE_RW | PTE_US;
	for (i = 0; i < map_size / PAGE_2M; i++)
		pd[i] = i * PAGE_2M | PTE_P | PTE_RW | PTE_US | PTE_PS;
	return 0;
}

/* A present 64-bit interrupt gate, DPL 0, kernel code. */
static void idt_gate(uint64_t gate[2], uint64_t handler)
{
	gate[0] = (handler & 0xffff) | 0x08ull << 16 | 0x8eull << 40 |
		  ((handler >> 16) & 0xffff) << 48;
	gate[1] = handler >> 32;
}

static int longmode_write_idt(const struct vm_mem *mem, uint64_t image)
{
	uint64_t idt[LONGMODE_NR_VECTORS][2] = {{0}};

	idt_gate(idt[1], image + LONGMODE_DB_OFFSET);
	idt_gate(idt[13], image + LONGMODE_GP_OFFSET);
	return vm_mem_write(mem, LONGMODE_IDT, idt, sizeof(idt));
}

static int longmode_write_gdt(const struct vm_mem *mem)
{
	uint64_t gdt[7] = {
		0,
		gdt_entry(0x9b, 0xa), /* 0x08 kernel code, L */
		gdt_entry(0x93, 0xc), /* 0x10 kernel data */
		gdt_entry(0xf3, 0xc), /* 0x18 user data, DPL3 */
		gdt_entry(0xfb, 0xa), /* 0x20 user code, DPL3, L */
		/* 0x28: busy 64-bit TSS, 16 bytes */
		TSS_LIMIT | (LONGMODE_TSS & 0xffffff) << 16 | 0x8bull << 40 |
			(LONGMODE_TSS >> 24 & 0xff) << 56,
		LONGMODE_TSS >> 32,
	};
	uint8_t tss[TSS_LIMIT + 1] = {0};
	uint64_t rsp0 = LONGMODE_KSTACK_TOP;

	memcpy(tss + 4, &rsp0, sizeof(rsp0));

	if (vm_mem_write(mem, LONGMODE_TSS, tss, sizeof(tss)) < 0)
		return -EFAULT;
	return vm_mem_write(mem, LONGMODE_GDT, gdt, sizeof(gdt));
}

static struct x86_segment seg_user_data(void)
{
	return (struct x86_segment){
		.selector = LONGMODE_SEL_UDATA,
		.limit = 0xffffffff,
		.type = 0x3, /* read/write, accessed */
		.present = 1,
		.dpl = 3,
		.db = 1,
		.s = 1,
		.g = 1,
	};
}

int longmode_setup(struct vcpu *vcpu, const struct vm_mem *mem,
		   uint64_t map_size, uint64_t rip, uint64_t rsp)
{
	struct x86_sregs s;
	struct x86_regs r = {0};
	int err;

	err = longmode_write_tables(mem, map_size);
	if (err < 0)
		return err;
	err = longmode_write_gdt(mem);
	if (err < 0)
		return err;
	err = longmode_write_idt(mem, rip);
	if (err < 0)
		return err;
	err = accel_vcpu_get_sregs(vcpu->acc, &s);
	if (err < 0)
		return err;
	s.cs = (struct x86_segment){
		.selector = LONGMODE_SEL_UCODE,
		.limit = 0xffffffff,
		.type = 0xb, /* execute/read, accessed */
		.present = 1,
		.dpl = 3,
		.s = 1,
		.l = 1,
		.g = 1,
	};
	s.ds = s.es = s.fs = s.gs = s.ss = seg_user_data();
	s.tr = (struct x86_segment){
		.selector = LONGMODE_SEL_TSS,
		.base = LONGMODE_TSS,
		.limit = TSS_LIMIT,
		.type = 0xb, /* busy 64-bit TSS */
		.present = 1,
	};
	s.ldt = (struct x86_segment){.type = 0x2, .unusable = 1};
	s.gdt = (struct x86_dtable){LONGMODE_GDT, 7 * 8 - 1};
	/* Only the I/O shim's gates: other exceptions triple-fault. */
	s.idt = (struct x86_dtable){LONGMODE_IDT, LONGMODE_NR_VECTORS * 16 - 1};
	s.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP |
		X86_CR0_PG;
	s.cr3 = LONGMODE_PML4;
	s.cr4 = X86_CR4_PAE | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT;
	s.efer = X86_EFER_LME | X86_EFER_LMA;
	err = accel_vcpu_set_sregs(vcpu->acc, &s);
	if (err < 0)
		return err;
	r.rip = rip;
	r.rsp = rsp;
	r.rflags = X86_RFLAGS_RESERVED1 | X86_RFLAGS_IOPL3;
	return accel_vcpu_set_regs(vcpu->acc, &r);
}
