/* SPDX-License-Identifier: Apache-2.0 */
#include "hv/tail.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Reads up to LG_TAIL_WINDOW bytes from the end of path, cleaned. */
static char *read_end(const char *path, size_t *outlen)
{
	struct stat st;
	off_t start;
	ssize_t n;
	char *data;
	int fd;

	*outlen = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	data = malloc(LG_TAIL_WINDOW + 1);
	if (!data || fstat(fd, &st) < 0) {
		free(data);
		close(fd);
		return NULL;
	}
	start = st.st_size > (off_t)LG_TAIL_WINDOW
			? st.st_size - (off_t)LG_TAIL_WINDOW
			: 0;
	do {
		n = pread(fd, data, LG_TAIL_WINDOW, start);
	} while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0) {
		free(data);
		return NULL;
	}
	*outlen = (size_t)n;
	return data;
}

/* Drops CRs, replaces what is not printable ASCII; NUL-terminates. */
static size_t clean(char *s, size_t n)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			continue;
		if (c != '\n' && c != '\t' && (c < 0x20 || c >= 0x7f))
			c = '?';
		s[out++] = (char)c;
	}
	while (out && s[out - 1] == '\n')
		out--;
	s[out] = '\0';
	return out;
}

/* Copies the end of src[0..n) that fits into buf. */
static size_t copy_end(char *buf, size_t len, const char *src, size_t n)
{
	if (!len)
		return 0;
	if (n >= len) {
		src += n - (len - 1);
		n = len - 1;
	}
	memcpy(buf, src, n);
	buf[n] = '\0';
	return n;
}

size_t lg_tail_lines(const char *path, char *buf, size_t len, unsigned lines)
{
	size_t n, start, ret;
	char *data;

	if (len)
		buf[0] = '\0';
	data = read_end(path, &n);
	if (!data)
		return 0;
	n = clean(data, n);
	start = n;
	while (start > 0 && lines > 0) {
		start--;
		if (data[start] == '\n' && --lines == 0)
			start++;
	}
	ret = copy_end(buf, len, data + start, n - start);
	free(data);
	return ret;
}

size_t lg_tail_find(const char *path, const char *needle, char *buf, size_t len)
{
	char *data, *line, *hit = NULL, *save = NULL;
	size_t n, ret = 0;

	if (len)
		buf[0] = '\0';
	data = read_end(path, &n);
	if (!data)
		return 0;
	clean(data, n);
	for (line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, needle))
			hit = line;
	}
	if (hit && len) {
		ret = strnlen(hit, len - 1); /* keep the start of the line */
		memcpy(buf, hit, ret);
		buf[ret] = '\0';
	}
	free(data);
	return ret;
}
