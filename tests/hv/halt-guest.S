/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PVH test guest for the Firecracker-API backends: 32-bit, paging off,
 * ring 0. It prints "halt-guest: cmdline: <kernel command line>" on the
 * UART at 0x3f8 (so the test sees the boot arguments the backend passed)
 * and then halts with interrupts off for ever: a VM that keeps running,
 * idle, until it is paused, stopped or killed. Short, because ring 0 is
 * emulated slowly on some hosts.
 */
#define UART 0x3f8
#define LSR (UART + 5)

	.code32
	.section .text.start, "ax"
	.globl entry
entry:
	cli
	mov %ebx, %ebp			/* hvm_start_info */
	mov $stack_top, %esp
	mov $msg, %esi
	call puts
	mov 24(%ebp), %esi		/* cmdline_paddr (low half) */
	call puts
	mov $'\n', %al
	call putc
1:	hlt
	jmp 1b

/* putc: %al; waits for the transmitter. */
putc:
	push %edx
	push %eax
	mov $LSR, %dx
2:	in %dx, %al
	test $0x20, %al
	jz 2b
	pop %eax
	mov $UART, %dx
	out %al, %dx
	pop %edx
	ret

/* puts: NUL-terminated string at %esi, at most 2048 bytes. */
puts:
	push %ecx
	mov $2048, %ecx
3:	lodsb
	test %al, %al
	jz 4f
	call putc
	loop 3b
4:	pop %ecx
	ret

	.section .data
msg:	.asciz "halt-guest: cmdline: "

	/* XEN_ELFNOTE_PHYS32_ENTRY (18): the PVH entry point. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4
	.long 4
	.long 18
	.asciz "Xen"
	.balign 4
	.long entry

	.section .bss
	.balign 16
	.space 4096
stack_top:
