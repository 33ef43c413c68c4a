/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PVH boot stub for running the ring-3 test guests (tests/vmm/guest/)
 * under a whole VMM (QEMU microvm, the lgvmm executable) exactly as our
 * harness runs them.
 *
 * Entered through the Xen PVH note in 32-bit protected mode, paging
 * off (EBX = hvm_start_info, unused: the command line is ignored; ESP
 * is undefined, so the stub takes its own stack first). It builds what
 * the harness builds from outside (tests/vmm/longmode.c): identity page
 * tables for 4 GiB with user-accessible 2 MiB pages, the same GDT (0x08
 * kernel code, 0x10 kernel data, 0x18|3 user data, 0x20|3 user code,
 * 0x28 TSS), a TSS whose RSP0 is a small kernel stack (also the stub's
 * own stack until it drops to ring 3), an IDT with only #DB and #GP
 * pointing at the guest image's I/O shim (_start + 0x40 / + 0xa0, see
 * guest/start.S), CR0/CR4/EFER as the harness sets them; then it enters
 * long mode and drops to ring 3 at _start with IOPL 3 and RSP at 16 MiB
 * (the harness's RAM top), so the guest code runs unmodified.
 *
 * All of it lives in .pvhstub.* sections that the linker script puts
 * after the guest's own sections, so the guest's code and data sit at
 * the same addresses as in its flat image.
 */
#define STACK_TOP 0x1000000 /* HARNESS_RAM_SIZE */
#define GP_OFFSET 0x40
#define DB_OFFSET 0xa0
#define NR_VECTORS 14
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA (0x18 | 3)
#define SEL_UCODE (0x20 | 3)
#define SEL_TSS 0x28
#define TSS_LIMIT 0x67
#define PTE_USER_2M 0x87 /* present, writable, user, 2 MiB */
#define PTE_USER 0x7
#define CR0_LONG 0x80010033 /* PG | WP | NE | ET | MP | PE */
#define CR4_LONG 0x620	    /* OSXMMEXCPT | OSFXSR | PAE */
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define RFLAGS_USER 0x3002 /* IOPL 3, reserved bit 1 */

	.section .pvhstub.text, "ax"
	.code32
	.globl pvh_stub
pvh_stub:
	cli
	cld
	/* PVH leaves ESP undefined (lgvmm: 0), and set_gate is called. */
	mov $stub_kstack_top, %esp
	/* Zero every bss (the guest's and ours), whatever the loader did. */
	mov $__bss_start, %edi
	mov $__bss_end, %ecx
	sub %edi, %ecx
	xor %eax, %eax
	rep stosb
	mov $__stub_bss_start, %edi
	mov $__stub_bss_end, %ecx
	sub %edi, %ecx
	rep stosb

	/* PML4[0] -> PDPT; PDPT[0..3] -> four PDs; PDs map 4 GiB. */
	mov $stub_pdpt + PTE_USER, %eax
	mov %eax, stub_pml4
	mov $stub_pdpt, %edi
	mov $stub_pd + PTE_USER, %eax
	mov $4, %ecx
1:	mov %eax, (%edi)
	add $0x1000, %eax
	add $8, %edi
	loop 1b
	mov $stub_pd, %edi
	mov $PTE_USER_2M, %eax
	xor %edx, %edx
	mov $2048, %ecx
2:	mov %eax, (%edi)
	mov %edx, 4(%edi)
	add $0x200000, %eax
	adc $0, %edx
	add $8, %edi
	loop 2b

	/* TSS: RSP0 = our kernel stack; descriptor at 0x28 (available). */
	movl $stub_kstack_top, stub_tss + 4
	mov $stub_tss, %eax
	mov %eax, %edx
	shl $16, %eax
	or $TSS_LIMIT, %eax
	mov %eax, stub_gdt + SEL_TSS
	mov %edx, %eax
	shr $16, %eax
	and $0xff, %eax
	or $0x8900, %eax
	and $0xff000000, %edx
	or %edx, %eax
	mov %eax, stub_gdt + SEL_TSS + 4

	/* IDT: #DB and #GP, 64-bit interrupt gates to the image's shim. */
	mov $_start + DB_OFFSET, %eax
	mov $stub_idt + 1 * 16, %edi
	call set_gate
	mov $_start + GP_OFFSET, %eax
	mov $stub_idt + 13 * 16, %edi
	call set_gate

	lgdt stub_gdt_ptr32
	mov $CR4_LONG, %eax
	mov %eax, %cr4
	mov $stub_pml4, %eax
	mov %eax, %cr3
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov $CR0_LONG, %eax
	mov %eax, %cr0
	ljmp $SEL_KCODE, $stub_long

/* Writes the gate for handler EAX at EDI (kernel code, DPL 0). */
set_gate:
	mov %eax, %edx
	and $0xffff, %eax
	or $SEL_KCODE << 16, %eax
	mov %eax, (%edi)
	and $0xffff0000, %edx
	or $0x8e00, %edx
	mov %edx, 4(%edi)
	ret

	.code64
stub_long:
	mov $SEL_KDATA, %eax
	mov %eax, %ss
	mov $stub_kstack_top, %esp
	mov $SEL_TSS, %eax
	ltr %ax
	lidt stub_idt_ptr
	mov $SEL_UDATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %fs
	mov %eax, %gs
	/* Ring 3 at _start, as the harness starts the vCPU. */
	pushq $SEL_UDATA
	pushq $STACK_TOP
	pushq $RFLAGS_USER
	pushq $SEL_UCODE
	pushq $_start
	xor %eax, %eax
	xor %ecx, %ecx
	xor %edx, %edx
	xor %ebx, %ebx
	xor %esi, %esi
	xor %edi, %edi
	iretq

	.section .pvhstub.data, "aw"
	.balign 8
stub_gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x08 kernel code, L */
	.quad 0x00cf93000000ffff	/* 0x10 kernel data */
	.quad 0x00cff3000000ffff	/* 0x18 user data, DPL 3 */
	.quad 0x00affb000000ffff	/* 0x20 user code, DPL 3, L */
	.quad 0, 0			/* 0x28 TSS, filled in */
stub_gdt_end:
stub_gdt_ptr32:
	.word stub_gdt_end - stub_gdt - 1
	.long stub_gdt
	.balign 8
stub_idt_ptr:
	.word NR_VECTORS * 16 - 1
	.quad stub_idt

	.section .pvhstub.bss, "aw", @nobits
	.balign 4096
stub_pml4:
	.space 4096
stub_pdpt:
	.space 4096
stub_pd:
	.space 4 * 4096
stub_kstack:
	.space 4096
stub_kstack_top:
stub_idt:
	.space NR_VECTORS * 16
	.balign 16
stub_tss:
	.space TSS_LIMIT + 1

	/* The PVH entry note: name "Xen", type 18 (PHYS32_ENTRY). */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4
	.long 4
	.long 18
	.asciz "Xen"
	.balign 4
	.long pvh_stub

	.section .note.GNU-stack, "", @progbits
