/* SPDX-License-Identifier: Apache-2.0 */
/* Running helper programs from an argv vector: never through a shell. */
#ifndef LG_COMMON_SUBPROCESS_H
#define LG_COMMON_SUBPROCESS_H

#include <stddef.h>

/*
 * Runs argv[0] (looked up in PATH) with stdin from /dev/null and the
 * caller's stdout/stderr, and waits. Returns the exit status (0..255),
 * 128+N if killed by signal N, or -errno if it could not be started.
 */
int lg_spawn_wait(char *const argv[]);

/* Same, capturing up to len-1 bytes of stdout into buf (NUL-terminated). */
int lg_spawn_capture(char *const argv[], char *buf, size_t len);

#endif
