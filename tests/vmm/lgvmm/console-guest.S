/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A PVH test guest for the lgvmm executable: 32-bit, paging off, ring 0,
 * no interrupts. It talks only through the UART at 0x3f8, as a real
 * kernel's early console would, and picks its behaviour from the kernel
 * command line, which must start with "mode=X":
 *   mode=h  print a greeting and the command line, then reset
 *   mode=e  same, then read one line of console input, print
 *           "got: <line>", then reset
 *   mode=t  print "tick N" lines about every 2^26 TSC cycles for ever
 *   mode=k  print "keys: waiting", then poll the i8042 (status port 0x64,
 *           bit 0: output buffer full) and print each byte read from
 *           port 0x60 as "key XX" (hex); once the Delete key's make code
 *           (set 2: e0 71, the last of SendCtrlAltDel's Ctrl, Alt,
 *           Delete) has come, reset
 * The reset goes through the i8042's reset line (command 0xfe on port
 * 0x64, what Linux does with reboot=k), which ends lgvmm as a CPU reset
 * ends Firecracker. A few
 * thousand instructions per line: ring 0 is emulated slowly on some
 * hosts.
 */
#define UART 0x3f8
#define LSR (UART + 5)

	.code32
	.section .text.start, "ax"
	.globl entry
entry:
	mov %ebx, %ebp			/* hvm_start_info */
	mov $stack_top, %esp
	mov $msg_up, %esi
	call puts
	mov $msg_cmdline, %esi
	call puts
	mov 24(%ebp), %esi		/* cmdline_paddr (low half) */
	call puts
	mov $'\n', %al
	call putc
	mov 24(%ebp), %esi
	movzbl 5(%esi), %eax		/* the X of mode=X */
	cmp $'e', %al
	je echo
	cmp $'t', %al
	je tick
	cmp $'k', %al
	je keys
reset:
	mov $0xfe, %al
	out %al, $0x64
1:	hlt
	jmp 1b

echo:
	mov $msg_got, %esi
	call puts
2:	call getc
	cmp $'\n', %al
	je 3f
	call putc
	jmp 2b
3:	call putc
	jmp reset

tick:
	xor %edi, %edi
4:	mov $msg_tick, %esi
	call puts
	mov %edi, %eax
	call putdec
	mov $'\n', %al
	call putc
	inc %edi
	rdtsc
	mov %edx, %ecx
	mov %eax, %ebx
	add $(1 << 26), %ebx
	adc $0, %ecx
5:	rdtsc
	cmp %ecx, %edx
	jb 5b
	ja 4b
	cmp %ebx, %eax
	jb 5b
	jmp 4b

keys:
	mov $msg_keys, %esi
	call puts
	xor %edi, %edi			/* the byte before, 0 at first */
12:	in $0x64, %al
	test $0x01, %al
	jz 12b
	in $0x60, %al
	movzbl %al, %ebx
	mov $msg_key, %esi
	call puts
	mov %ebx, %eax
	call puthex8
	mov $'\n', %al
	call putc
	cmp $0xe0, %edi
	jne 13f
	cmp $0x71, %ebx
	je reset
13:	mov %ebx, %edi
	jmp 12b

/* puthex8: %al as two lower-case hex digits. */
puthex8:
	push %eax
	shr $4, %al
	call puthex4
	pop %eax
puthex4:
	push %eax
	and $0x0f, %al
	add $'0', %al
	cmp $'9', %al
	jbe 14f
	add $('a' - '9' - 1), %al
14:	call putc
	pop %eax
	ret

/* putc: %al; waits for the transmitter. */
putc:
	push %edx
	push %eax
	mov $LSR, %dx
6:	in %dx, %al
	test $0x20, %al
	jz 6b
	pop %eax
	mov $UART, %dx
	out %al, %dx
	pop %edx
	ret

/* puts: NUL-terminated string at %esi, at most 1024 bytes. */
puts:
	push %ecx
	mov $1024, %ecx
7:	lodsb
	test %al, %al
	jz 8f
	call putc
	loop 7b
8:	pop %ecx
	ret

/* getc: waits for a received byte, returns it in %al. */
getc:
	push %edx
	mov $LSR, %dx
9:	in %dx, %al
	test $0x01, %al
	jz 9b
	mov $UART, %dx
	in %dx, %al
	pop %edx
	ret

/* putdec: %eax as unsigned decimal. */
putdec:
	push %ebx
	push %ecx
	push %edx
	mov $10, %ebx
	xor %ecx, %ecx
10:	xor %edx, %edx
	div %ebx
	push %edx
	inc %ecx
	test %eax, %eax
	jnz 10b
11:	pop %eax
	add $'0', %al
	call putc
	loop 11b
	pop %edx
	pop %ecx
	pop %ebx
	ret

	.section .data
msg_up:		.asciz "lgvmm-guest: up\n"
msg_cmdline:	.asciz "cmdline: "
msg_got:	.asciz "got: "
msg_tick:	.asciz "tick "
msg_keys:	.asciz "keys: waiting\n"
msg_key:	.asciz "key "

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
