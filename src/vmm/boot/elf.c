/* SPDX-License-Identifier: Apache-2.0 */
/* ELF64 loader with PVH entry discovery (see elf.h). */
#include "vmm/boot/elf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PVH_ENTRY_LIMIT 0x100000000ull

static int fail(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

/* [off, off + size) within [0, len), without overflow. */
static bool in_file(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static int elf_check_header(const Elf64_Ehdr *eh, size_t len, const char **why)
{
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return fail(why, "not an ELF file (bad magic)", -ENOEXEC);
	if (eh->e_ident[EI_CLASS] != ELFCLASS64)
		return fail(why, "not a 64-bit ELF", -ENOEXEC);
	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return fail(why, "not a little-endian ELF", -ENOEXEC);
	if (eh->e_ident[EI_VERSION] != EV_CURRENT ||
	    eh->e_version != EV_CURRENT)
		return fail(why, "unknown ELF version", -ENOEXEC);
	if (eh->e_machine != EM_X86_64)
		return fail(why, "not an x86-64 ELF", -ENOEXEC);
	if (eh->e_type != ET_EXEC)
		return fail(why, "not an executable ELF (ET_EXEC)", -ENOEXEC);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return fail(why, "bad program header size", -ENOEXEC);
	if (eh->e_phnum == 0 || eh->e_phnum > ELF_MAX_PHDRS)
		return fail(why, "bad number of program headers", -ENOEXEC);
	if (!in_file(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr),
		     len))
		return fail(why, "program headers outside the file", -ENOEXEC);
	return 0;
}

static uint64_t le_read(const uint8_t *p, unsigned int n)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/*
 * Looks for the Xen PHYS32_ENTRY note in one PT_NOTE segment: 1 and
 * *entry when found, 0 when not, -ENOEXEC for a malformed note.
 */
static int elf_find_pvh_note(const uint8_t *notes, uint64_t size,
			     uint64_t *entry, const char **why)
{
	uint64_t off = 0;

	while (size - off >= 12) {
		uint32_t namesz = (uint32_t)le_read(notes + off, 4);
		uint32_t descsz = (uint32_t)le_read(notes + off + 4, 4);
		uint32_t type = (uint32_t)le_read(notes + off + 8, 4);
		uint64_t name = off + 12;
		uint64_t desc = name + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ull);

		if (desc > size || next > size ||
		    (uint64_t)descsz > size - desc)
			return fail(why, "malformed ELF note", -ENOEXEC);
		if (namesz == sizeof(ELF_XEN_NOTE_NAME) &&
		    memcmp(notes + name, ELF_XEN_NOTE_NAME,
			   sizeof(ELF_XEN_NOTE_NAME)) == 0 &&
		    type == XEN_ELFNOTE_PHYS32_ENTRY) {
			if (descsz != 4 && descsz != 8)
				return fail(why,
					    "bad size of the PVH entry note",
					    -ENOEXEC);
			*entry = le_read(notes + desc, descsz);
			return 1;
		}
		off = next;
	}
	return 0;
}

/* Program header i, copied out (the file need not be aligned). */
static const Elf64_Phdr *elf_phdr(const uint8_t *file, const Elf64_Ehdr *eh,
				  unsigned int i, Elf64_Phdr *ph)
{
	memcpy(ph, file + eh->e_phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
	return ph;
}

int elf_load(const struct vm_mem *mem, const void *buf, size_t len,
	     struct elf_image *img, const char **why)
{
	const uint8_t *file = buf;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	bool have_pvh = false, have_load = false;
	uint64_t entry = 0, lo = UINT64_MAX, hi = 0;
	unsigned int i;
	int err;

	memset(img, 0, sizeof(*img));
	if (len < sizeof(eh))
		return fail(why, "file too short for an ELF header", -ENOEXEC);
	memcpy(&eh, file, sizeof(eh));
	err = elf_check_header(&eh, len, why);
	if (err < 0)
		return err;

	/* Pass 1: validate everything. */
	for (i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = elf_phdr(file, &eh, i, &ph);

		if (p->p_type == PT_NOTE && !have_pvh) {
			if (!in_file(p->p_offset, p->p_filesz, len))
				return fail(why, "PT_NOTE outside the file",
					    -ENOEXEC);
			err = elf_find_pvh_note(file + p->p_offset, p->p_filesz,
						&entry, why);
			if (err < 0)
				return err;
			have_pvh = err == 1;
			continue;
		}
		if (p->p_type != PT_LOAD)
			continue;
		if (p->p_filesz > p->p_memsz)
			return fail(why, "PT_LOAD with filesz > memsz",
				    -ENOEXEC);
		if (!in_file(p->p_offset, p->p_filesz, len))
			return fail(why, "PT_LOAD outside the file", -ENOEXEC);
		if (p->p_memsz == 0)
			continue;
		if (p->p_paddr + p->p_memsz < p->p_paddr)
			return fail(why, "PT_LOAD address overflows", -ENOEXEC);
		if (!vm_mem_ptr(mem, p->p_paddr, p->p_memsz))
			return fail(why, "PT_LOAD outside guest RAM", -EFAULT);
		have_load = true;
		if (p->p_paddr < lo)
			lo = p->p_paddr;
		if (p->p_paddr + p->p_memsz > hi)
			hi = p->p_paddr + p->p_memsz;
	}
	if (!have_load)
		return fail(why, "no loadable segment", -ENOEXEC);
	if (!have_pvh)
		return fail(why,
			    "no PVH entry: the ELF lacks the Xen "
			    "PHYS32_ENTRY note (kernel built without "
			    "CONFIG_PVH?)",
			    -ENOEXEC);
	if (entry >= PVH_ENTRY_LIMIT || !vm_mem_ptr(mem, entry, 1))
		return fail(why, "PVH entry outside 32-bit guest RAM",
			    -ENOEXEC);

	/* Pass 2: copy and zero; every range was checked above. */
	for (i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = elf_phdr(file, &eh, i, &ph);
		uint8_t *dst;

		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		dst = vm_mem_ptr(mem, p->p_paddr, p->p_memsz);
		memcpy(dst, file + p->p_offset, p->p_filesz);
		memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
	}
	img->e_entry = eh.e_entry;
	img->pvh_entry = entry;
	img->load_start = lo;
	img->load_end = hi;
	return 0;
}

int elf_load_file(const struct vm_mem *mem, const char *path,
		  struct elf_image *img, const char **why)
{
	struct stat st;
	void *map;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(why, "cannot open the kernel", -errno);
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return fail(why, "cannot stat the kernel", err);
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
		close(fd);
		return fail(why, "the kernel is not a non-empty regular file",
			    -ENOEXEC);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	err = -errno;
	close(fd);
	if (map == MAP_FAILED)
		return fail(why, "cannot map the kernel", err);
	err = elf_load(mem, map, (size_t)st.st_size, img, why);
	munmap(map, (size_t)st.st_size);
	return err;
}
