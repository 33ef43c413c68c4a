/* SPDX-License-Identifier: Apache-2.0 */
/* The end of a log file (guest console, VMM log), made safe to print. */
#ifndef LG_HV_TAIL_H
#define LG_HV_TAIL_H

#include <stddef.h>

/* How much of the file's end is looked at. */
#define LG_TAIL_WINDOW 65536u

/*
 * The last `lines` lines of path into buf (NUL-terminated; the end is
 * kept when it does not fit). CRs are dropped, other control and
 * non-ASCII bytes become '?'. Returns the length; 0 when unreadable.
 */
size_t lg_tail_lines(const char *path, char *buf, size_t len, unsigned lines);

/*
 * The last line near the end of path that contains needle, cleaned the
 * same way, into buf. Returns its length, 0 when there is none.
 */
size_t lg_tail_find(const char *path, const char *needle, char *buf,
		    size_t len);

#endif
