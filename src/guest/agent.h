/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lg-agent: the guest side of the host <-> guest channel (PID 1 of each
 * micro-VM). Declarations shared by its source files that do not belong to
 * one subsystem: run mode, console logging, PID-1 setup, environment.
 */
#ifndef LG_GUEST_AGENT_H
#define LG_GUEST_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/proto.h"
#include "config.h"

#define AGENT_VERSION_STRING "lg-agent " LG_VERSION

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member)                                        \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

struct session;

/* main.c: how the agent was started decides what SHUTDOWN means. */
enum agent_mode {
	AGENT_GUEST, /* PID 1 in the micro-VM: vsock + virtio-serial */
	AGENT_UNIX,  /* host-side test mode: --unix PATH */
};

extern enum agent_mode agent_mode;

/* Answers SHUTDOWN: flushes s, kills every exec, powers off or exits. */
void agent_shutdown(struct session *s) __attribute__((noreturn));
/* SIGTERM/SIGINT in --unix mode: kill every exec and exit. */
void agent_terminate(void) __attribute__((noreturn));

/* log.c: one line to stderr (the console when PID 1), never blocks long. */
void agent_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* init.c */
void pid1_setup(void);
void ensure_std_fds(void);
void agent_power_off(void) __attribute__((noreturn));
/* Logs the reason; powers off as PID 1 (PID 1 must never exit), else exit 1. */
void agent_fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* rootfs.c: lg.rootfs=DEV on the kernel command line. */
void rootfs_switch_from_cmdline(void);

/* env.c */
void env_set_defaults(void);
/* Default env overridden/extended by req; *out is freed with free() only. */
int env_build(char *const *req, size_t n, char ***out);

#endif
