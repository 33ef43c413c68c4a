/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fake bzImage for the 64-bit boot protocol test: a setup header
 * (protocol 2.15, XLF_KERNEL_64, one setup sector) and a "kernel" whose
 * 64-bit entry at +0x200 reports what it received as dwords on port
 * 0x503, the command line bytes on port 0x504, then writes 0x600d to
 * the exit port 0x501 and halts. Linked at 0 as a flat file; the kernel
 * part runs at 1 MiB, so its code only uses RIP-relative and absolute
 * guest-physical addresses. No stack, no SIMD, a few hundred
 * instructions (ring 0 is emulated slowly on some hosts).
 *
 * Report order: rsi lo/hi, rsp lo, cs, ds, es, ss, cr0, cr3, cr4,
 * efer, rflags; boot_params: "HdrS", version, type_of_loader, loadflags,
 * cmd_line_ptr, ramdisk_image, ramdisk_size, ext_ramdisk_image,
 * setup_sects, syssize, e820_entries, then per entry (at most 8) addr
 * lo/hi, size lo/hi, type; the first dword of the kernel at 1 MiB; the
 * first and last dword of the initrd; the dword at 0x9fc00 ("_MP_")
 * and the byte sum of the MP configuration table it points to.
 */
#define PORT_EXIT 0x501
#define PORT_REPORT 0x503
#define PORT_CMDLINE 0x504
#define MAX_E820 8
#define MAX_CMDLINE 512
#define KERNEL_MAGIC 0x4c47425a /* "ZBGL" */

	.section .text, "ax"
	.code16
	.globl _start
_start:
	/* Boot sector: never run (the 64-bit entry skips it). */
	.org 0x1f1
setup_sects:	.byte 1		/* setup: (1 + 1) * 512 bytes */
root_flags:	.word 0
syssize:	.long (kernel_end - kernel_start) / 16
ram_size:	.word 0
vid_mode:	.word 0xffff
root_dev:	.word 0
boot_flag:	.word 0xaa55
jump:		.byte 0xeb, hdr_end - 0x202
header:		.ascii "HdrS"
version:	.word 0x020f
realmode_swtch:	.long 0
start_sys_seg:	.word 0x1000
kernel_version:	.word 0
type_of_loader:	.byte 0
loadflags:	.byte 0x01	/* LOADED_HIGH */
setup_move_size: .word 0x8000
code32_start:	.long 0x100000
ramdisk_image:	.long 0
ramdisk_size:	.long 0
bootsect_kludge: .long 0
heap_end_ptr:	.word 0
ext_loader_ver:	.byte 0
ext_loader_type: .byte 0
cmd_line_ptr:	.long 0
initrd_addr_max: .long 0x7fffffff
kernel_alignment: .long 0x200000
relocatable_kernel: .byte 1
min_alignment:	.byte 21
xloadflags:	.word 0x03	/* KERNEL_64, CAN_BE_LOADED_ABOVE_4G */
cmdline_size:	.long 2047
hardware_subarch: .long 0
hardware_subarch_data: .quad 0
payload_offset:	.long 0
payload_length:	.long 0
setup_data:	.quad 0
pref_address:	.quad 0x100000
init_size:	.long kernel_end - kernel_start + 0x1000
handover_offset: .long 0
kernel_info_offset: .long 0
hdr_end:
	.org 0x400

	/* The protected-mode kernel: copied to 1 MiB. */
kernel_start:
	.long KERNEL_MAGIC
	.org kernel_start + 0x200
	.code64
startup_64:
	mov %rsi, %rbx			/* boot_params */
	mov $PORT_REPORT, %dx
	mov %esi, %eax
	out %eax, %dx
	mov %rsi, %rax
	shr $32, %rax
	out %eax, %dx
	mov %esp, %eax
	out %eax, %dx
	mov %cs, %eax
	out %eax, %dx
	mov %ds, %eax
	out %eax, %dx
	mov %es, %eax
	out %eax, %dx
	mov %ss, %eax
	out %eax, %dx
	mov %cr0, %rax
	out %eax, %dx
	mov %cr3, %rax
	out %eax, %dx
	mov %cr4, %rax
	out %eax, %dx
	mov $0xc0000080, %ecx		/* EFER */
	rdmsr
	mov $PORT_REPORT, %dx
	out %eax, %dx
	pushfq
	pop %rax
	out %eax, %dx

	mov 0x202(%rbx), %eax		/* "HdrS" */
	out %eax, %dx
	movzwl 0x206(%rbx), %eax	/* version */
	out %eax, %dx
	movzbl 0x210(%rbx), %eax	/* type_of_loader */
	out %eax, %dx
	movzbl 0x211(%rbx), %eax	/* loadflags */
	out %eax, %dx
	mov 0x228(%rbx), %eax		/* cmd_line_ptr */
	out %eax, %dx
	mov 0x218(%rbx), %eax		/* ramdisk_image */
	out %eax, %dx
	mov 0x21c(%rbx), %eax		/* ramdisk_size */
	out %eax, %dx
	mov 0x0c0(%rbx), %eax		/* ext_ramdisk_image */
	out %eax, %dx
	movzbl 0x1f1(%rbx), %eax	/* setup_sects */
	out %eax, %dx
	mov 0x1f4(%rbx), %eax		/* syssize */
	out %eax, %dx
	movzbl 0x1e8(%rbx), %ecx	/* e820_entries */
	mov %ecx, %eax
	out %eax, %dx
	cmp $MAX_E820, %ecx
	jbe 1f
	mov $MAX_E820, %ecx
1:	lea 0x2d0(%rbx), %rsi		/* e820_table */
	jrcxz 3f
2:	mov 0(%rsi), %eax
	out %eax, %dx
	mov 4(%rsi), %eax
	out %eax, %dx
	mov 8(%rsi), %eax
	out %eax, %dx
	mov 12(%rsi), %eax
	out %eax, %dx
	mov 16(%rsi), %eax
	out %eax, %dx
	add $20, %rsi
	loop 2b

3:	mov 0x100000, %eax		/* the kernel's first dword */
	out %eax, %dx
	mov 0x218(%rbx), %esi		/* the initrd, through the page tables */
	mov (%rsi), %eax
	out %eax, %dx
	mov 0x21c(%rbx), %ecx
	mov -4(%rsi,%rcx), %eax
	out %eax, %dx

	mov 0x9fc00, %eax		/* MP floating pointer */
	out %eax, %dx
	mov 0x9fc04, %esi		/* physptr */
	movzwl 4(%rsi), %ecx		/* table length */
	xor %eax, %eax
	xor %edi, %edi
4:	movzbl (%rsi,%rdi), %r8d
	add %r8d, %eax
	inc %edi
	cmp %ecx, %edi
	jb 4b
	movzbl %al, %eax
	out %eax, %dx

	mov 0x228(%rbx), %esi		/* cmd_line_ptr */
	mov $PORT_CMDLINE, %dx
	mov $MAX_CMDLINE, %ecx
5:	movzbl (%rsi), %eax
	out %al, %dx
	test %al, %al
	jz 6f
	inc %rsi
	loop 5b
6:	mov $PORT_EXIT, %dx
	mov $0x600d, %eax
	out %eax, %dx
7:	hlt
	jmp 7b

	.balign 16
kernel_end:

	.section .note.GNU-stack, "", @progbits
