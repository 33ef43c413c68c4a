/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The snapshot state file: a versioned container of named sections, one
 * per piece of VM state, with a checksum over everything.
 *
 * Layout (all integers little endian):
 *
 *   header, 32 bytes:
 *     u64 magic         "LGSNAP" + architecture (0x86 0x64: x86_64)
 *     u16 major, u16 minor
 *     u32 nr_sections   1 .. SNAPSHOT_MAX_SECTIONS
 *     u64 file_size     the whole file, trailer included
 *     u64 reserved      0
 *   nr_sections times:
 *     char name[24]     [a-z0-9._-], 1..23 characters, NUL padded
 *     u64 length        payload bytes
 *     payload, then zeros up to a multiple of 8 bytes
 *   trailer: u64 CRC-64/XZ of everything before it (crc64.h)
 *
 * Versions: a reader refuses another MAJOR (the layout of some section
 * changed incompatibly). A newer MINOR only adds sections, which older
 * readers ignore. Every device section starts with its own u32 layout
 * version (see state-buf.h), so a device can refuse a layout it does not
 * know without the whole file's MAJOR changing for it.
 *
 * Sections written by the VMM core (src/vmm/snapshot/snapshot.h): "vm"
 * (RAM layout, vCPU count), "accel.vm" (irqchip, PIT, clock), "vcpu.N".
 *
 * Devices: each device saves and restores its own state as a byte blob,
 * with no knowledge of this file. The VMM stores the blob under the
 * device's name:
 *
 *     uint8_t buf[SERIAL_STATE_SIZE];
 *     size_t n;
 *     err = serial_save(&serial, buf, sizeof(buf), &n);
 *     if (!err)
 *             err = snapshot_writer_add(w, "serial", buf, n);
 *
 * and on load finds it and hands it back:
 *
 *     err = snapshot_reader_find(r, "serial", &buf, &len);
 *     if (!err)
 *             err = serial_restore(&serial, buf, len);
 *
 * Names are unique per file: use one per device instance ("virtio.blk0",
 * "virtio.net1", ...). A device's save must not depend on locks held by a
 * running vCPU: devices are saved with every vCPU stopped.
 *
 * The reader checks, before anything is used: size bounds, magic and
 * architecture, major version, the file size recorded in the header, the
 * checksum, then every section header and length against the file, the
 * section count, names, padding and duplicates. Every failure is a
 * negative errno plus a message in the caller's buffer; nothing in the
 * file can make the reader read outside it.
 */
#ifndef LG_VMM_SNAPSHOT_STATE_FILE_H
#define LG_VMM_SNAPSHOT_STATE_FILE_H

#include <stddef.h>
#include <stdint.h>

/* "LGSNAP" then the architecture in the top two bytes. */
#define SNAPSHOT_MAGIC_BASE 0x000050414e53474cull
#define SNAPSHOT_MAGIC_ARCH_MASK 0xffff000000000000ull
#define SNAPSHOT_ARCH_X86_64 0x6486ull
#define SNAPSHOT_MAGIC (SNAPSHOT_MAGIC_BASE | SNAPSHOT_ARCH_X86_64 << 48)

#define SNAPSHOT_VERSION_MAJOR 1u
#define SNAPSHOT_VERSION_MINOR 0u

#define SNAPSHOT_HEADER_SIZE 32u
#define SNAPSHOT_SECTION_HEADER_SIZE 32u
#define SNAPSHOT_NAME_SIZE 24u /* includes at least one NUL */
#define SNAPSHOT_CHECKSUM_SIZE 8u
#define SNAPSHOT_MAX_SECTIONS 256u
#define SNAPSHOT_MAX_SIZE (64u << 20)
#define SNAPSHOT_ERR_SIZE 256u /* enough for any message below */

struct snapshot_writer;
struct snapshot_reader;

int snapshot_writer_create(struct snapshot_writer **out);
void snapshot_writer_destroy(struct snapshot_writer *w);

/*
 * Copies [buf, buf + len) in as section `name`. -EINVAL for a bad name,
 * -EEXIST for a name already added, -E2BIG past the count or size bounds.
 */
int snapshot_writer_add(struct snapshot_writer *w, const char *name,
			const void *buf, size_t len);

/* The encoded file in a new buffer (free()): for tests and fuzzing. */
int snapshot_writer_encode(const struct snapshot_writer *w, uint8_t **out,
			   size_t *len);

/*
 * Writes the file to a temporary next to path, syncs it and renames it
 * over path (then syncs the directory): path holds either its old content
 * or the complete new file. Nothing is left behind on failure.
 */
int snapshot_writer_commit(const struct snapshot_writer *w, const char *path);

/*
 * Reads and validates a state file. On failure *out is NULL, the return
 * a negative errno (-EINVAL malformed, -EPROTONOSUPPORT other major or
 * architecture, -EBADMSG checksum, -EFBIG too large, or what reading
 * failed with) and err (if not NULL) says what was wrong.
 */
int snapshot_reader_open(const char *path, struct snapshot_reader **out,
			 char *err, size_t errlen);
/* The same for a file already in memory (copied). */
int snapshot_reader_parse(const void *data, size_t len,
			  struct snapshot_reader **out, char *err,
			  size_t errlen);
void snapshot_reader_destroy(struct snapshot_reader *r);

void snapshot_reader_version(const struct snapshot_reader *r, uint16_t *major,
			     uint16_t *minor);

/* Section `name`: 0 with *buf, *len (valid while r lives), or -ENOENT. */
int snapshot_reader_find(const struct snapshot_reader *r, const char *name,
			 const void **buf, size_t *len);

/* Sections in file order, for listing: i < snapshot_reader_count(r). */
unsigned int snapshot_reader_count(const struct snapshot_reader *r);
void snapshot_reader_section(const struct snapshot_reader *r, unsigned int i,
			     const char **name, const void **buf, size_t *len);

#endif
