/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-guest image layout (the harness relies on it):
 *   +0x00 entry, at CPL3, rsp set by the harness: exit(guest_main())
 *   +0x40 #GP handler, +0xa0 #DB handler: the port-I/O shim.
 *
 * The shim: the harness starts guests with IOPL=3 so in/out at CPL3 exit
 * to the VMM directly. A KVM that ignores IOPL for ring 3 (kvm_pvm, see
 * ENVIRONMENT.md) raises #GP instead; the #GP handler then re-runs the
 * faulting I/O instruction at CPL0 with TF set, and the #DB handler
 * returns to CPL3 after it. Any other #GP becomes a triple fault (the
 * IDT has no other gates), which the VMM sees as a shutdown.
 */
	.section .text.start, "ax"
	.globl _start
_start:
	call guest_main
	mov $0x501, %dx
	outl %eax, %dx
	/* The harness stops at the exit port; never reached. */
1:	jmp 1b

	.org 0x40
gp_handler:			/* error code, rip, cs, rflags, rsp, ss */
	push %rax
	push %rcx
	mov 24(%rsp), %rax	/* faulting rip */
2:	movzbl (%rax), %ecx
	inc %rax
	cmp $0x66, %cl		/* operand-size and rep prefixes */
	je 2b
	cmp $0xf3, %cl
	je 2b
	mov %ecx, %eax
	and $0xf4, %al		/* in/out: e4-e7, ec-ef */
	cmp $0xe4, %al
	je 3f
	and $0xfc, %cl		/* ins/outs: 6c-6f */
	cmp $0x6c, %cl
	je 3f
	ud2			/* not I/O: no #UD gate, triple fault */
3:	pop %rcx
	pop %rax
	add $8, %rsp
	movq $0x08, 8(%rsp)	/* kernel code */
	orq $0x100, 16(%rsp)	/* TF: trap after one instruction */
	movq $0x10, 32(%rsp)	/* kernel data */
	iretq

	.org 0xa0
db_handler:			/* rip, cs, rflags, rsp, ss */
	movq $0x23, 8(%rsp)	/* user code */
	andq $~0x100, 16(%rsp)
	movq $0x1b, 32(%rsp)	/* user data */
	iretq

	.section .note.GNU-stack, "", @progbits
