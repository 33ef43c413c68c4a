/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The QEMU command line for a LuminaGuard micro-VM.
 *
 * microvm with acpi=off: the guest kernel has no ACPI, and only without
 * ACPI does QEMU append "virtio_mmio.device=..." for each virtio-mmio
 * device to the kernel command line (auto-kernel-cmdline), which the
 * kernel's VIRTIO_MMIO_CMDLINE_DEVICES needs to find them. The PIT, PIC
 * and RTC stay: without the PIT the kernel panics ("IO-APIC + timer
 * doesn't work"), without the PIC its TSC calibration sometimes hangs
 * under TCG, and without the RTC it boots slower.
 */
#include "hv/qemu.h"

#include "agent/proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MACHINE "microvm,acpi=off,x-option-roms=off,isa-serial=on"
#define BASE_CMDLINE "console=ttyS0 reboot=t panic=-1"
#define ROOTFS_CMDLINE "lg.rootfs=/dev/vda"
#define DEFAULT_MEM_MIB 256u
#define DEFAULT_VCPUS 1u

struct strv {
	char **v;
	size_t n, cap;
	bool oom;
};

static void strv_take(struct strv *s, char *str)
{
	char **nv;

	if (!str || s->oom) {
		free(str);
		s->oom = true;
		return;
	}
	if (s->n + 2 > s->cap) {
		nv = realloc(s->v, (s->cap ? s->cap * 2 : 64) * sizeof(*nv));
		if (!nv) {
			free(str);
			s->oom = true;
			return;
		}
		s->v = nv;
		s->cap = s->cap ? s->cap * 2 : 64;
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

static void strv_add(struct strv *s, const char *str)
{
	strv_take(s, strdup(str));
}

__attribute__((format(printf, 2, 3))) static void
strv_addf(struct strv *s, const char *fmt, ...)
{
	char *str = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&str, fmt, ap) < 0)
		str = NULL;
	va_end(ap);
	strv_take(s, str);
}

/* QEMU option values escape ',' as ",,". Returns malloc'd text. */
static char *opt_escape(const char *s)
{
	size_t n = strlen(s), commas = 0;
	char *out, *p;

	for (size_t i = 0; i < n; i++)
		commas += s[i] == ',';
	out = malloc(n + commas + 1);
	if (!out)
		return NULL;
	for (p = out; *s; s++) {
		*p++ = *s;
		if (*s == ',')
			*p++ = ',';
	}
	*p = '\0';
	return out;
}

/* "-chardev KIND,id=ID,path=RUNDIR/FILE[SUFFIX]", path escaped. */
static void add_chardev(struct strv *s, const char *kind, const char *id,
			const char *rundir, const char *file,
			const char *suffix)
{
	char *dir = opt_escape(rundir);

	strv_add(s, "-chardev");
	if (!dir) {
		s->oom = true;
		return;
	}
	strv_addf(s, "%s,id=%s,path=%s/%s%s", kind, id, dir, file, suffix);
	free(dir);
}

static void add_machine(struct strv *s, const struct lg_qemu_args *a)
{
	const struct lg_vm_config *cfg = a->cfg;

	strv_add(s, a->exe);
	strv_add(s, "-M");
	strv_add(s, MACHINE);
	strv_add(s, "-accel");
	strv_add(s, a->kvm ? "kvm" : "tcg");
	strv_add(s, "-cpu");
	strv_add(s, a->kvm ? "host" : "max");
	strv_add(s, "-m");
	strv_addf(s, "%u", cfg->mem_mib ? cfg->mem_mib : DEFAULT_MEM_MIB);
	strv_add(s, "-smp");
	strv_addf(s, "%u", cfg->vcpus ? cfg->vcpus : DEFAULT_VCPUS);
	strv_add(s, "-nodefaults");
	strv_add(s, "-no-user-config");
	strv_add(s, "-nographic");
	strv_add(s, "-no-reboot");
	/* Paused until QMP is negotiated and sends "cont" (qemu-spawn.c). */
	strv_add(s, "-S");
}

static void add_boot(struct strv *s, const struct lg_vm_config *cfg)
{
	strv_add(s, "-kernel");
	strv_add(s, cfg->kernel);
	if (cfg->initrd) {
		strv_add(s, "-initrd");
		strv_add(s, cfg->initrd);
	}
	strv_add(s, "-append");
	strv_addf(s, "%s%s%s%s", BASE_CMDLINE,
		  cfg->rootfs ? " " ROOTFS_CMDLINE : "",
		  cfg->cmdline && *cfg->cmdline ? " " : "",
		  cfg->cmdline ? cfg->cmdline : "");
}

static void add_channels(struct strv *s, const char *rundir)
{
	add_chardev(s, "file", "console", rundir, LG_QEMU_CONSOLE_LOG, "");
	strv_add(s, "-serial");
	strv_add(s, "chardev:console");
	add_chardev(s, "socket", "qmp", rundir, LG_QEMU_QMP_SOCK,
		    ",server=on,wait=off");
	strv_add(s, "-mon");
	strv_add(s, "chardev=qmp,mode=control");
	strv_add(s, "-device");
	strv_add(s, "virtio-serial-device");
	add_chardev(s, "socket", "agent", rundir, LG_QEMU_AGENT_SOCK,
		    ",server=on,wait=off");
	strv_add(s, "-device");
	strv_add(s, "virtserialport,chardev=agent,id=" LG_QEMU_AGENT_PORT_ID
		    ",name=" LG_AGENT_SERIAL_NAME);
}

static void add_rootfs(struct strv *s, const char *rootfs)
{
	char *file = opt_escape(rootfs);

	if (!file) {
		s->oom = true;
		return;
	}
	strv_add(s, "-drive");
	strv_addf(s, "id=rootfs,file=%s,format=raw,if=none,readonly=on", file);
	strv_add(s, "-device");
	strv_add(s, "virtio-blk-device,drive=rootfs");
	free(file);
}

char **lg_qemu_argv(const struct lg_qemu_args *a, char *err, size_t errlen)
{
	struct strv s = {0};

	add_machine(&s, a);
	add_boot(&s, a->cfg);
	add_channels(&s, a->rundir);
	if (a->cfg->rootfs)
		add_rootfs(&s, a->cfg->rootfs);
	if (s.oom) {
		lg_qemu_argv_free(s.v);
		snprintf(err, errlen, "building the QEMU command line: %s",
			 strerror(ENOMEM));
		return NULL;
	}
	return s.v;
}

void lg_qemu_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}
