// SPDX-License-Identifier: Apache-2.0
#include "mcp/sse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sse_init(struct sse_parser *p, size_t max_line, size_t max_event,
	      sse_event_fn event, sse_retry_fn retry, void *opaque)
{
	memset(p, 0, sizeof(*p));
	p->event = event;
	p->retry = retry;
	p->opaque = opaque;
	p->max_line = max_line ? max_line : SSE_DEFAULT_MAX_LINE;
	p->max_event = max_event ? max_event : SSE_DEFAULT_MAX_EVENT;
}

void sse_free(struct sse_parser *p)
{
	free(p->line);
	free(p->data);
	p->line = p->data = NULL;
	p->line_len = p->line_cap = p->data_len = p->data_cap = 0;
}

const char *sse_last_id(const struct sse_parser *p)
{
	return p->last_id;
}

/* Grows *buf to hold need bytes plus a NUL, doubling. */
static int buf_reserve(char **buf, size_t *cap, size_t need)
{
	size_t ncap;
	char *n;

	if (need + 1 <= *cap)
		return 0;
	ncap = *cap ? *cap : 256;
	while (ncap < need + 1)
		ncap *= 2;
	n = realloc(*buf, ncap);
	if (!n)
		return -ENOMEM;
	*buf = n;
	*cap = ncap;
	return 0;
}

static int dispatch(struct sse_parser *p)
{
	const char *type;
	int ret;

	/* The id becomes the stream's even when there is no data. */
	memcpy(p->last_id, p->id, sizeof(p->last_id));
	if (p->data_len == 0 || p->type_too_long) {
		p->data_len = 0;
		p->type[0] = '\0';
		p->type_too_long = false;
		return 0;
	}
	p->data_len--; /* the trailing LF */
	p->data[p->data_len] = '\0';
	type = p->type[0] ? p->type : "message";
	ret = p->event(p->opaque, type, p->data, p->data_len, p->last_id);
	p->data_len = 0;
	p->type[0] = '\0';
	return ret;
}

static bool all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int process_field(struct sse_parser *p, const char *name,
			 size_t name_len, const char *val, size_t val_len)
{
	int ret;

	if (name_len == 4 && memcmp(name, "data", 4) == 0) {
		if (p->data_len + val_len + 1 > p->max_event)
			return -EMSGSIZE;
		ret = buf_reserve(&p->data, &p->data_cap,
				  p->data_len + val_len + 1);
		if (ret)
			return ret;
		memcpy(p->data + p->data_len, val, val_len);
		p->data_len += val_len;
		p->data[p->data_len++] = '\n';
	} else if (name_len == 5 && memcmp(name, "event", 5) == 0) {
		if (val_len >= sizeof(p->type)) {
			p->type_too_long = true;
		} else {
			memcpy(p->type, val, val_len);
			p->type[val_len] = '\0';
			p->type_too_long = false;
		}
	} else if (name_len == 2 && memcmp(name, "id", 2) == 0) {
		/* NUL: ignored (the standard); too long: ignored (ours). */
		if (!memchr(val, '\0', val_len) && val_len <= SSE_MAX_ID) {
			memcpy(p->id, val, val_len);
			p->id[val_len] = '\0';
		}
	} else if (name_len == 5 && memcmp(name, "retry", 5) == 0) {
		if (all_digits(val, val_len) && p->retry) {
			unsigned long long ms = 0;

			for (size_t i = 0; i < val_len; i++) {
				unsigned d = (unsigned)(val[i] - '0');

				if (ms > (~0ull - d) / 10) {
					ms = ~0ull;
					break;
				}
				ms = ms * 10 + d;
			}
			p->retry(p->opaque, ms);
		}
	}
	/* Any other field is ignored. */
	return 0;
}

static int process_line(struct sse_parser *p)
{
	const char *line = p->line ? p->line : "";
	size_t len = p->line_len;
	const char *colon;

	p->line_len = 0;
	if (len == 0)
		return dispatch(p);
	if (line[0] == ':')
		return 0; /* a comment */
	colon = memchr(line, ':', len);
	if (!colon)
		return process_field(p, line, len, "", 0);
	{
		size_t name_len = (size_t)(colon - line);
		const char *val = colon + 1;
		size_t val_len = len - name_len - 1;

		if (val_len && val[0] == ' ') {
			val++;
			val_len--;
		}
		return process_field(p, line, name_len, val, val_len);
	}
}

static const unsigned char bom[3] = {0xef, 0xbb, 0xbf};

int sse_feed(struct sse_parser *p, const char *buf, size_t len)
{
	size_t i = 0;
	int ret;

	if (p->error)
		return p->error;
	/* A BOM, possibly split across feeds, only at the very start. */
	while (!p->started && i < len) {
		if ((unsigned char)buf[i] == bom[p->bom_seen]) {
			p->bom_seen++;
			i++;
			if (p->bom_seen == sizeof(bom))
				p->started = true;
			continue;
		}
		p->started = true;
		if (p->bom_seen) {
			/* A partial BOM was data: keep those bytes. */
			ret = buf_reserve(&p->line, &p->line_cap, p->bom_seen);
			if (ret)
				return p->error = ret;
			memcpy(p->line, bom, p->bom_seen);
			p->line_len = p->bom_seen;
		}
	}
	while (i < len) {
		const char *start = buf + i;
		size_t n = len - i, k;

		if (p->after_cr) {
			p->after_cr = false;
			if (*start == '\n') {
				i++;
				continue;
			}
		}
		/* The run up to the next line end. */
		for (k = 0; k < n; k++)
			if (start[k] == '\n' || start[k] == '\r')
				break;
		if (p->line_len + k > p->max_line)
			return p->error = -EMSGSIZE;
		if (k) {
			ret = buf_reserve(&p->line, &p->line_cap,
					  p->line_len + k);
			if (ret)
				return p->error = ret;
			memcpy(p->line + p->line_len, start, k);
			p->line_len += k;
		}
		i += k;
		if (k == n)
			break; /* the line continues in the next feed */
		p->after_cr = start[k] == '\r';
		i++;
		ret = process_line(p);
		if (ret)
			return p->error = ret;
	}
	return 0;
}
