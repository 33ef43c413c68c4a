/* SPDX-License-Identifier: Apache-2.0 */
/* Where sessions come from: listening sockets and the virtio-serial port. */
#ifndef LG_GUEST_CHANNEL_H
#define LG_GUEST_CHANNEL_H

#include <stdbool.h>

/* 0 or -errno; each accepted connection becomes a session. */
int listener_start_vsock(void);
int listener_start_unix(const char *path);
/* Removes the --unix socket file, if one was created. */
void listener_cleanup_unix(void);

/* Finds and serves the port; when required, giving up is fatal. */
void serial_start(bool required);

/* reap.c: SIGCHLD (and, if catch_term, SIGTERM/SIGINT) via signalfd. */
int reaper_init(bool catch_term);

#endif
