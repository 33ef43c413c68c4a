/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test-guest image layout (the harness relies on it):
 *   +0x00 entry, at CPL3, rsp set by the harness: exit(guest_main())
 *   +0x40 #GP handler, +0xa0 #DB handler: the port-I/O shim.
 *
 * exit(code) writes the code to port 0x501, where the harness stops the
 * vCPU and QEMU's isa-debug-exit ends QEMU. A VMM with nothing at 0x501
 * (lgvmm, Firecracker) lets the guest go on: it then prints a last UART
 * line "exit 0x%08x\n" with the code and resets the machine through the
 * i8042 (0xfe to port 0x64), which ends lgvmm with status 0. So a runner
 * under lgvmm takes the code from that line (tests/vmm/xcheck/).
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
	/* The harness and QEMU stop at the exit port: lgvmm only. */
	jmp exit_by_reset

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

/* "exit 0x" and the code in EAX as 8 hex digits, then the i8042 reset. */
exit_by_reset:
	mov %eax, %r8d
	mov $exit_text, %esi
4:	movzbl (%rsi), %ecx
	test %cl, %cl
	jz 5f
	call exit_putc
	inc %rsi
	jmp 4b
5:	mov $8, %r9d
6:	rol $4, %r8d
	mov %r8d, %ecx
	and $15, %ecx
	movzbl exit_digits(%rcx), %ecx
	call exit_putc
	dec %r9d
	jnz 6b
	mov $'\n', %cl
	call exit_putc
	mov $0xfe, %al		/* pulse the reset line */
	out %al, $0x64
	/* The VMM stops the vCPU; nothing is left to do without a reset. */
7:	pause
	jmp 7b

/* The byte in CL to the UART at 0x3f8, once its transmitter is empty. */
exit_putc:
	mov $0x3fd, %dx
8:	in %dx, %al
	test $0x20, %al
	jz 8b
	mov $0x3f8, %dx
	mov %cl, %al
	out %al, %dx
	ret

exit_text:
	.asciz "exit 0x"
exit_digits:
	.ascii "0123456789abcdef"

	.section .note.GNU-stack, "", @progbits
