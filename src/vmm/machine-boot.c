/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading the guest kernel: an ELF vmlinux boots through its PVH entry,
 * anything else is tried as a bzImage. The initrd goes to the top of RAM
 * below the MMIO hole, where both boot protocols can reach it.
 */
#include "vmm/machine-priv.h"

#include "common/log.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/e820.h"
#include "vmm/boot/elf.h"
#include "vmm/boot/mptable.h"
#include "vmm/boot/pvh.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INITRD_ALIGN 0x1000ull

/* Highest usable byte + 1 of RAM below the hole. */
static uint64_t low_ram_end(const struct machine *m)
{
	uint64_t ram = (uint64_t)m->cfg->machine.mem_size_mib << 20;

	return ram < E820_MMIO_HOLE_START ? ram : E820_MMIO_HOLE_START;
}

static int read_full(int fd, uint8_t *dst, uint64_t len)
{
	while (len) {
		ssize_t n = read(fd, dst, len > (1u << 30) ? (1u << 30) : len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file shrank under us */
		dst += n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Loads the initrd below the end of low RAM and above kernel_end. */
static int load_initrd(struct machine *m, uint64_t kernel_end, uint64_t *paddr,
		       uint64_t *size, char *err, size_t err_size)
{
	const char *path = m->cfg->boot.initrd_path;
	struct stat st;
	uint64_t top = low_ram_end(m), at;
	uint8_t *dst;
	int fd, r;

	*paddr = *size = 0;
	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		snprintf(err, err_size, "cannot open initrd %s: %s", path,
			 strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > top - kernel_end) {
		r = -EINVAL;
		snprintf(err, err_size,
			 "initrd %s: not a regular file or does not fit in "
			 "guest RAM above the kernel",
			 path);
		goto out;
	}
	at = (top - (uint64_t)st.st_size) & ~(INITRD_ALIGN - 1);
	if (at < kernel_end) {
		r = -EINVAL;
		snprintf(err, err_size,
			 "initrd %s does not fit above the "
			 "kernel",
			 path);
		goto out;
	}
	dst = vm_mem_ptr(&m->vm->mem, at, (uint64_t)st.st_size);
	r = dst ? read_full(fd, dst, (uint64_t)st.st_size) : -EFAULT;
	if (r < 0) {
		snprintf(err, err_size, "cannot read initrd %s: %s", path,
			 strerror(-r));
		goto out;
	}
	*paddr = at;
	*size = (uint64_t)st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

static int load_pvh(struct machine *m, const char *cmdline, char *err,
		    size_t err_size)
{
	struct pvh_config pc = {
		.ram_size = (uint64_t)m->cfg->machine.mem_size_mib << 20,
		.cmdline = cmdline,
	};
	struct elf_image img;
	const char *why = NULL;
	int r;

	r = elf_load_file(&m->vm->mem, m->cfg->boot.kernel_image_path, &img,
			  &why);
	if (r < 0) {
		snprintf(err, err_size, "kernel %s: %s",
			 m->cfg->boot.kernel_image_path,
			 why ? why : strerror(-r));
		return r;
	}
	r = load_initrd(m, img.load_end, &pc.initrd_paddr, &pc.initrd_size, err,
			err_size);
	if (r < 0)
		return r;
	r = pvh_write_boot_info(&m->vm->mem, &pc, &why);
	if (r < 0) {
		snprintf(err, err_size, "PVH boot information: %s",
			 why ? why : strerror(-r));
		return r;
	}
	r = pvh_setup_vcpu(m->vcpus[0]->acc, img.pvh_entry);
	if (r < 0)
		snprintf(err, err_size, "cannot set the boot vCPU's state: %s",
			 strerror(-r));
	return r;
}

static int load_bzimage(struct machine *m, const char *cmdline, char *err,
			size_t err_size)
{
	struct bzimage_config bc = {
		.ram_size = (uint64_t)m->cfg->machine.mem_size_mib << 20,
		.cmdline = cmdline,
	};
	struct bzimage_info info;
	const char *why = NULL;
	int r;

	r = bzimage_load_file(&m->vm->mem, m->cfg->boot.kernel_image_path,
			      m->cfg->boot.initrd_path, &bc, &info, &why);
	if (r < 0) {
		snprintf(err, err_size, "kernel %s: %s",
			 m->cfg->boot.kernel_image_path,
			 why ? why : strerror(-r));
		return r;
	}
	r = bzimage_setup_vcpu(m->vcpus[0]->acc, &info);
	if (r < 0)
		snprintf(err, err_size, "cannot set the boot vCPU's state: %s",
			 strerror(-r));
	return r;
}

/* So that an SMP guest finds its CPUs, the IOAPIC and the device IRQs. */
static int write_mptable(struct machine *m, char *err, size_t err_size)
{
	uint8_t irqs[MACHINE_MAX_VIRTIO];
	struct mptable_config mc = {
		.nr_cpus = m->nr_vcpus,
		.irqs = irqs,
	};
	const char *why = NULL;
	unsigned int i;
	int r;

	for (i = 0; i < MACHINE_MAX_VIRTIO; i++)
		irqs[i] = (uint8_t)(MACHINE_VIRTIO_FIRST_GSI + i);
	mc.nr_irqs = MACHINE_MAX_VIRTIO;
	r = mptable_write(&m->vm->mem, &mc, &why);
	if (r < 0)
		snprintf(err, err_size, "MP table: %s",
			 why ? why : strerror(-r));
	return r;
}

int machine_load_kernel(struct machine *m, const char *cmdline, char *err,
			size_t err_size)
{
	const char *path = m->cfg->boot.kernel_image_path;
	int bz, r;

	if (!m->cfg->boot.set || !path) {
		snprintf(err, err_size,
			 "no boot source: PUT /boot-source "
			 "first");
		return -EINVAL;
	}
	bz = bzimage_detect_file(path);
	if (bz < 0) {
		snprintf(err, err_size, "cannot read kernel %s: %s", path,
			 strerror(-bz));
		return bz;
	}
	r = write_mptable(m, err, err_size);
	if (r < 0)
		return r;
	/* Not a bzImage: an ELF vmlinux with a PVH note, or an error. */
	if (bz)
		return load_bzimage(m, cmdline, err, err_size);
	return load_pvh(m, cmdline, err, err_size);
}
