/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ELF64 x86-64 loader for vmlinux and test guests: copies each PT_LOAD
 * to its physical address in guest RAM and finds the PVH entry point
 * (the "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY in a PT_NOTE).
 *
 * Everything read from the file is checked before use: header fields,
 * program header table bounds, each segment's file range and guest
 * range (through vm_mem_ptr), note sizes. Nothing is written to guest
 * memory unless the whole image is valid.
 */
#ifndef LG_VMM_BOOT_ELF_H
#define LG_VMM_BOOT_ELF_H

#include "vmm/memory.h"

#include <stddef.h>
#include <stdint.h>

#define ELF_XEN_NOTE_NAME "Xen"
#define XEN_ELFNOTE_PHYS32_ENTRY 18u
#define ELF_MAX_PHDRS 64u

struct elf_image {
	uint64_t e_entry;    /* the ELF entry (64-bit, virtual) */
	uint64_t pvh_entry;  /* 32-bit physical PVH entry */
	uint64_t load_start; /* lowest paddr loaded */
	uint64_t load_end;   /* highest paddr + memsz loaded */
};

/*
 * Validates the ELF in buf[0..len) and loads it into mem. 0, or
 * -ENOEXEC (not a valid x86-64 ELF64 executable, or no PVH note),
 * -EFAULT (a segment outside guest RAM); *why (when why is not NULL)
 * then names the reason.
 */
int elf_load(const struct vm_mem *mem, const void *buf, size_t len,
	     struct elf_image *img, const char **why);

/* The same for a file; other errors are the file's (negative errno). */
int elf_load_file(const struct vm_mem *mem, const char *path,
		  struct elf_image *img, const char **why);

#endif
