/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PVH test guest: entered in 32-bit protected mode, paging off, with
 * EBX = hvm_start_info. Reports what it received as dwords on port
 * 0x503, the command line bytes on port 0x504, then writes 0x600d to
 * the exit port 0x501 and halts. No stack, no SIMD, a few hundred
 * instructions (ring 0 is emulated slowly on some hosts).
 *
 * Report order: magic, version, flags, nr_modules, then per module
 * paddr lo/hi, size lo/hi; memmap_entries, then per entry addr lo/hi,
 * size lo/hi, type; then cs, ds, ss selectors, cr0, and the bss word.
 */
#define PORT_EXIT 0x501
#define PORT_REPORT 0x503
#define PORT_CMDLINE 0x504
#define MAX_ITEMS 8
#define MAX_CMDLINE 512

	.code32
	.section .text.start, "ax"
	.globl pvh_entry
pvh_entry:
	mov $PORT_REPORT, %dx
	mov 0(%ebx), %eax	/* magic */
	out %eax, %dx
	mov 4(%ebx), %eax	/* version */
	out %eax, %dx
	mov 8(%ebx), %eax	/* flags */
	out %eax, %dx
	mov 12(%ebx), %ecx	/* nr_modules */
	mov %ecx, %eax
	out %eax, %dx
	cmp $MAX_ITEMS, %ecx
	jbe 1f
	mov $MAX_ITEMS, %ecx
1:	mov 16(%ebx), %esi	/* modlist_paddr (low half) */
	jecxz 3f
2:	mov 0(%esi), %eax
	out %eax, %dx
	mov 4(%esi), %eax
	out %eax, %dx
	mov 8(%esi), %eax
	out %eax, %dx
	mov 12(%esi), %eax
	out %eax, %dx
	add $32, %esi
	loop 2b
3:	mov 48(%ebx), %ecx	/* memmap_entries */
	mov %ecx, %eax
	out %eax, %dx
	cmp $MAX_ITEMS, %ecx
	jbe 4f
	mov $MAX_ITEMS, %ecx
4:	mov 40(%ebx), %esi	/* memmap_paddr (low half) */
	jecxz 6f
5:	mov 0(%esi), %eax
	out %eax, %dx
	mov 4(%esi), %eax
	out %eax, %dx
	mov 8(%esi), %eax
	out %eax, %dx
	mov 12(%esi), %eax
	out %eax, %dx
	mov 16(%esi), %eax
	out %eax, %dx
	add $24, %esi
	loop 5b
6:	mov %cs, %eax
	out %eax, %dx
	mov %ds, %eax
	out %eax, %dx
	mov %ss, %eax
	out %eax, %dx
	mov %cr0, %eax
	out %eax, %dx
	mov bss_word, %eax
	out %eax, %dx

	mov 24(%ebx), %esi	/* cmdline_paddr (low half) */
	mov $PORT_CMDLINE, %dx
	mov $MAX_CMDLINE, %ecx
7:	movzbl (%esi), %eax
	out %al, %dx
	test %al, %al
	jz 8f
	inc %esi
	loop 7b
8:	mov $PORT_EXIT, %dx
	mov $0x600d, %eax
	out %eax, %dx
9:	hlt
	jmp 9b

	/* The PVH entry note: name "Xen", type 18, 32-bit entry. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4
	.long 4
	.long 18
	.asciz "Xen"
	.balign 4
	.long pvh_entry

	.section .bss
	.balign 4
bss_word:
	.long 0
	.space 60
