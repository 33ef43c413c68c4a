/* SPDX-License-Identifier: Apache-2.0 */
/* State file: encoding, atomic write, validating reader. */
#include "vmm/snapshot/state-file.h"
#include "vmm/snapshot/crc64.h"
#include "vmm/snapshot/snapshot-util.h"
#include "vmm/snapshot/state-buf.h"

#include "common/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAD8(n) (((n) + 7u) & ~(size_t)7u)

struct snapshot_section {
	char name[SNAPSHOT_NAME_SIZE];
	const uint8_t *data;
	size_t len;
};

struct snapshot_writer {
	struct snapshot_section sections[SNAPSHOT_MAX_SECTIONS];
	unsigned int nr;
	size_t file_size; /* as encoded now */
};

struct snapshot_reader {
	uint8_t *file;
	size_t file_size;
	uint16_t major, minor;
	unsigned int nr;
	struct snapshot_section sections[SNAPSHOT_MAX_SECTIONS];
};

static bool name_valid(const char *name, size_t max)
{
	size_t i;

	for (i = 0; i < max && name[i]; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return i > 0 && i < max;
}

static void checksum_put(uint8_t *file, size_t body)
{
	struct state_wr w;

	state_wr_init(&w, file + body, SNAPSHOT_CHECKSUM_SIZE);
	state_put_u64(&w, crc64(file, body));
}

int snapshot_writer_create(struct snapshot_writer **out)
{
	struct snapshot_writer *w = calloc(1, sizeof(*w));

	*out = w;
	if (!w)
		return -ENOMEM;
	w->file_size = SNAPSHOT_HEADER_SIZE + SNAPSHOT_CHECKSUM_SIZE;
	return 0;
}

void snapshot_writer_destroy(struct snapshot_writer *w)
{
	unsigned int i;

	if (!w)
		return;
	for (i = 0; i < w->nr; i++)
		free((void *)w->sections[i].data);
	free(w);
}

int snapshot_writer_add(struct snapshot_writer *w, const char *name,
			const void *buf, size_t len)
{
	struct snapshot_section *s;
	unsigned int i;
	uint8_t *copy;
	size_t room;

	if (!name || !name_valid(name, SNAPSHOT_NAME_SIZE) || (len && !buf))
		return -EINVAL;
	for (i = 0; i < w->nr; i++)
		if (!strcmp(w->sections[i].name, name))
			return -EEXIST;
	room = SNAPSHOT_MAX_SIZE - w->file_size;
	if (w->nr == SNAPSHOT_MAX_SECTIONS ||
	    room < SNAPSHOT_SECTION_HEADER_SIZE ||
	    len > (room - SNAPSHOT_SECTION_HEADER_SIZE) / 8 * 8)
		return -E2BIG;
	copy = malloc(len ? len : 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, buf, len);
	s = &w->sections[w->nr++];
	memset(s->name, 0, sizeof(s->name));
	strcpy(s->name, name);
	s->data = copy;
	s->len = len;
	w->file_size += SNAPSHOT_SECTION_HEADER_SIZE + PAD8(len);
	return 0;
}

int snapshot_writer_encode(const struct snapshot_writer *w, uint8_t **out,
			   size_t *len)
{
	struct state_wr b;
	size_t body = w->file_size - SNAPSHOT_CHECKSUM_SIZE;
	uint8_t *file;
	unsigned int i;

	*out = NULL;
	*len = 0;
	if (w->nr == 0)
		return -EINVAL;
	file = calloc(1, w->file_size);
	if (!file)
		return -ENOMEM;
	state_wr_init(&b, file, body);
	state_put_u64(&b, SNAPSHOT_MAGIC);
	state_put_u16(&b, SNAPSHOT_VERSION_MAJOR);
	state_put_u16(&b, SNAPSHOT_VERSION_MINOR);
	state_put_u32(&b, w->nr);
	state_put_u64(&b, w->file_size);
	state_put_u64(&b, 0);
	for (i = 0; i < w->nr; i++) {
		const struct snapshot_section *s = &w->sections[i];

		state_put_bytes(&b, s->name, SNAPSHOT_NAME_SIZE);
		state_put_u64(&b, s->len);
		state_put_bytes(&b, s->data, s->len);
		/* calloc left the padding zero. */
		if (!b.overflow && PAD8(s->len) - s->len <= b.size - b.pos)
			b.pos += PAD8(s->len) - s->len;
	}
	if (b.overflow || b.pos != body) {
		free(file);
		return -EIO;
	}
	checksum_put(file, body);
	*out = file;
	*len = w->file_size;
	return 0;
}

static int writer_fill(int fd, void *w)
{
	uint8_t *file;
	size_t len;
	int err;

	err = snapshot_writer_encode(w, &file, &len);
	if (err < 0)
		return err;
	err = lg_write_all(fd, file, len);
	free(file);
	return err;
}

int snapshot_writer_commit(const struct snapshot_writer *w, const char *path)
{
	return snapshot_file_replace(path, writer_fill, (void *)w);
}

static int parse_header(struct snapshot_reader *r, char *err, size_t errlen)
{
	struct state_rd b;
	uint64_t magic, size, reserved;

	if (r->file_size < SNAPSHOT_HEADER_SIZE + SNAPSHOT_CHECKSUM_SIZE)
		return snapshot_fail(
			err, errlen, -EINVAL,
			"truncated: %zu bytes is shorter than a header "
			"and checksum",
			r->file_size);
	state_rd_init(&b, r->file, r->file_size);
	magic = state_get_u64(&b);
	r->major = state_get_u16(&b);
	r->minor = state_get_u16(&b);
	r->nr = state_get_u32(&b);
	size = state_get_u64(&b);
	reserved = state_get_u64(&b);
	if ((magic & ~SNAPSHOT_MAGIC_ARCH_MASK) != SNAPSHOT_MAGIC_BASE)
		return snapshot_fail(
			err, errlen, -EINVAL,
			"not a snapshot state file (bad magic %#llx)",
			(unsigned long long)magic);
	if (magic != SNAPSHOT_MAGIC)
		return snapshot_fail(
			err, errlen, -EPROTONOSUPPORT,
			"snapshot of another architecture (%#llx), this is "
			"x86_64",
			(unsigned long long)(magic >> 48));
	if (r->major != SNAPSHOT_VERSION_MAJOR)
		return snapshot_fail(
			err, errlen, -EPROTONOSUPPORT,
			"state file version %u.%u is not supported: this "
			"build reads version %u.x (%u.%u)",
			r->major, r->minor, SNAPSHOT_VERSION_MAJOR,
			SNAPSHOT_VERSION_MAJOR, SNAPSHOT_VERSION_MINOR);
	if (size != r->file_size)
		return snapshot_fail(
			err, errlen, -EINVAL,
			"size mismatch: header says %llu bytes, file has "
			"%zu (truncated or extended)",
			(unsigned long long)size, r->file_size);
	if (reserved != 0)
		return snapshot_fail(err, errlen, -EINVAL,
				     "reserved header field is not zero");
	return 0;
}

static int check_sum(const struct snapshot_reader *r, char *err, size_t errlen)
{
	size_t body = r->file_size - SNAPSHOT_CHECKSUM_SIZE;
	struct state_rd b;

	state_rd_init(&b, r->file + body, SNAPSHOT_CHECKSUM_SIZE);
	if (state_get_u64(&b) != crc64(r->file, body))
		return snapshot_fail(err, errlen, -EBADMSG,
				     "checksum mismatch: the file is corrupt");
	return 0;
}

static bool zeros(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static int parse_sections(struct snapshot_reader *r, char *err, size_t errlen)
{
	size_t body = r->file_size - SNAPSHOT_CHECKSUM_SIZE;
	size_t pos = SNAPSHOT_HEADER_SIZE;
	unsigned int i, j;

	if (r->nr == 0 || r->nr > SNAPSHOT_MAX_SECTIONS)
		return snapshot_fail(err, errlen, -EINVAL,
				     "%u sections (allowed: 1 to %u)", r->nr,
				     SNAPSHOT_MAX_SECTIONS);
	for (i = 0; i < r->nr; i++) {
		struct snapshot_section *s = &r->sections[i];
		struct state_rd b;
		uint64_t len;
		size_t pad;

		if (body - pos < SNAPSHOT_SECTION_HEADER_SIZE)
			return snapshot_fail(err, errlen, -EINVAL,
					     "section %u: header past the end",
					     i);
		state_rd_init(&b, r->file + pos, SNAPSHOT_SECTION_HEADER_SIZE);
		state_get_bytes(&b, s->name, SNAPSHOT_NAME_SIZE);
		len = state_get_u64(&b);
		pos += SNAPSHOT_SECTION_HEADER_SIZE;
		if (!name_valid(s->name, SNAPSHOT_NAME_SIZE) ||
		    !zeros((const uint8_t *)s->name + strlen(s->name),
			   SNAPSHOT_NAME_SIZE - strlen(s->name)))
			return snapshot_fail(err, errlen, -EINVAL,
					     "section %u: bad name", i);
		if (len > body - pos)
			return snapshot_fail(
				err, errlen, -EINVAL,
				"section %s: length %llu past the end "
				"(%zu bytes left)",
				s->name, (unsigned long long)len, body - pos);
		s->data = r->file + pos;
		s->len = (size_t)len;
		pos += s->len;
		pad = PAD8(s->len) - s->len;
		if (pad > body - pos || !zeros(r->file + pos, pad))
			return snapshot_fail(err, errlen, -EINVAL,
					     "section %s: bad padding",
					     s->name);
		pos += pad;
		for (j = 0; j < i; j++)
			if (!strcmp(r->sections[j].name, s->name))
				return snapshot_fail(err, errlen, -EINVAL,
						     "duplicate section %s",
						     s->name);
	}
	if (pos != body)
		return snapshot_fail(
			err, errlen, -EINVAL,
			"%zu bytes of garbage after the last section",
			body - pos);
	return 0;
}

static int reader_take(uint8_t *file, size_t len, struct snapshot_reader **out,
		       char *err, size_t errlen)
{
	struct snapshot_reader *r;
	int e;

	r = calloc(1, sizeof(*r));
	if (!r) {
		free(file);
		return snapshot_fail(err, errlen, -ENOMEM, "out of memory");
	}
	r->file = file;
	r->file_size = len;
	e = parse_header(r, err, errlen);
	if (!e)
		e = check_sum(r, err, errlen);
	if (!e)
		e = parse_sections(r, err, errlen);
	if (e) {
		snapshot_reader_destroy(r);
		return e;
	}
	*out = r;
	return 0;
}

int snapshot_reader_parse(const void *data, size_t len,
			  struct snapshot_reader **out, char *err,
			  size_t errlen)
{
	uint8_t *copy;

	*out = NULL;
	if (len > SNAPSHOT_MAX_SIZE)
		return snapshot_fail(err, errlen, -EFBIG,
				     "%zu bytes is larger than the limit of %u",
				     len, SNAPSHOT_MAX_SIZE);
	copy = malloc(len ? len : 1);
	if (!copy)
		return snapshot_fail(err, errlen, -ENOMEM, "out of memory");
	if (len)
		memcpy(copy, data, len);
	return reader_take(copy, len, out, err, errlen);
}

static int read_file(const char *path, uint8_t **out, size_t *len, char *err,
		     size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return snapshot_fail(err, errlen, -errno, "%s: %s", path,
				     strerror(errno));
	if (fstat(fd, &st) < 0) {
		e = -errno;
		close(fd);
		return snapshot_fail(err, errlen, e, "%s: %s", path,
				     strerror(-e));
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SNAPSHOT_MAX_SIZE) {
		close(fd);
		return snapshot_fail(
			err, errlen, S_ISREG(st.st_mode) ? -EFBIG : -EINVAL,
			"%s: %s", path,
			S_ISREG(st.st_mode) ? "larger than the state file limit"
					    : "not a regular file");
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return snapshot_fail(err, errlen, -ENOMEM, "out of memory");
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? -errno : -EIO;
			free(buf);
			close(fd);
			return snapshot_fail(
				err, errlen, e, "%s: read: %s", path,
				n < 0 ? strerror(-e) : "file shrank");
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = got;
	return 0;
}

int snapshot_reader_open(const char *path, struct snapshot_reader **out,
			 char *err, size_t errlen)
{
	char why[SNAPSHOT_ERR_SIZE] = "";
	uint8_t *file = NULL;
	size_t len = 0;
	int e;

	*out = NULL;
	e = read_file(path, &file, &len, err, errlen);
	if (e < 0)
		return e;
	e = reader_take(file, len, out, why, sizeof(why));
	if (e < 0)
		return snapshot_fail(err, errlen, e, "state file %s: %s", path,
				     why);
	return 0;
}

void snapshot_reader_destroy(struct snapshot_reader *r)
{
	if (!r)
		return;
	free(r->file);
	free(r);
}

void snapshot_reader_version(const struct snapshot_reader *r, uint16_t *major,
			     uint16_t *minor)
{
	*major = r->major;
	*minor = r->minor;
}

int snapshot_reader_find(const struct snapshot_reader *r, const char *name,
			 const void **buf, size_t *len)
{
	unsigned int i;

	for (i = 0; i < r->nr; i++) {
		if (!strcmp(r->sections[i].name, name)) {
			*buf = r->sections[i].data;
			*len = r->sections[i].len;
			return 0;
		}
	}
	*buf = NULL;
	*len = 0;
	return -ENOENT;
}

unsigned int snapshot_reader_count(const struct snapshot_reader *r)
{
	return r->nr;
}

void snapshot_reader_section(const struct snapshot_reader *r, unsigned int i,
			     const char **name, const void **buf, size_t *len)
{
	const struct snapshot_section *s = &r->sections[i < r->nr ? i : 0];

	*name = s->name;
	*buf = s->data;
	*len = s->len;
}
