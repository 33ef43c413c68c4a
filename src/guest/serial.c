/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-serial port named LG_AGENT_SERIAL_NAME: one session at a
 * time. While no host is connected the port polls as HUP (and reads as
 * EOF), so it is kept out of epoll and checked every SERIAL_TICK_MS
 * instead. When a host session ends, the port is closed (dropping any
 * half-read frame) and reopened for the next host.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "channel.h"
#include "loop.h"
#include "session.h"

#define SERIAL_CLASS_DIR "/sys/class/virtio-ports"
#define SERIAL_TICK_MS 100u
/* Devices may appear after init starts: look for 5 s. */
#define SERIAL_LOOKUP_TRIES 50u

enum serial_state {
	SERIAL_IDLE,
	SERIAL_LOOKUP,	  /* find and open the port */
	SERIAL_WAIT_HOST, /* port open, host side not connected */
	SERIAL_SESSION,	  /* a session owns the fd */
};

static struct {
	enum serial_state state;
	struct timer tick;
	int fd;
	unsigned tries;
	bool required;
	bool announced;
	char dev[64];
} port = {.fd = -1};

/* Reads /sys/class/virtio-ports/<vport>/name, without the newline. */
static int read_port_name(const char *vport, char *name, size_t cap)
{
	char path[sizeof(SERIAL_CLASS_DIR) + 256 + sizeof("/name")];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), SERIAL_CLASS_DIR "/%s/name", vport);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, name, cap - 1);
	close(fd);
	if (n < 0)
		return -errno;
	name[n] = '\0';
	name[strcspn(name, "\n")] = '\0';
	return 0;
}

static int serial_find(char *dev, size_t cap)
{
	DIR *d = opendir(SERIAL_CLASS_DIR);
	struct dirent *de;
	char name[128];
	int rc = -ENOENT;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "vport", 5) != 0 ||
		    read_port_name(de->d_name, name, sizeof(name)) < 0 ||
		    strcmp(name, LG_AGENT_SERIAL_NAME) != 0)
			continue;
		if ((size_t)snprintf(dev, cap, "/dev/%s", de->d_name) < cap)
			rc = 0;
		break;
	}
	closedir(d);
	return rc;
}

static void serial_lookup_again(unsigned delay_ms)
{
	port.state = SERIAL_LOOKUP;
	port.tries = 0;
	timer_arm(&port.tick, delay_ms);
}

static void serial_session_ended(void *ctx)
{
	(void)ctx;
	port.fd = -1; /* the session closed it */
	serial_lookup_again(SERIAL_TICK_MS);
}

static void serial_check_host(void)
{
	struct pollfd pfd = {.fd = port.fd, .events = POLLIN};

	if (poll(&pfd, 1, 0) < 0 || (pfd.revents & (POLLERR | POLLNVAL))) {
		close(port.fd);
		port.fd = -1;
		serial_lookup_again(SERIAL_TICK_MS);
		return;
	}
	if (pfd.revents & POLLHUP) {
		timer_arm(&port.tick, SERIAL_TICK_MS);
		return;
	}
	if (!session_new(port.fd, false, serial_session_ended, NULL)) {
		close(port.fd);
		port.fd = -1;
		serial_lookup_again(SERIAL_TICK_MS);
		return;
	}
	port.state = SERIAL_SESSION;
}

static void serial_try_open(void)
{
	if (serial_find(port.dev, sizeof(port.dev)) == 0) {
		port.fd = open(port.dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (port.fd >= 0) {
			if (!port.announced)
				agent_log("serving virtio-serial port %s",
					  port.dev);
			port.announced = true;
			port.state = SERIAL_WAIT_HOST;
			serial_check_host();
			return;
		}
	}
	if (++port.tries < SERIAL_LOOKUP_TRIES) {
		timer_arm(&port.tick, SERIAL_TICK_MS);
		return;
	}
	port.state = SERIAL_IDLE;
	if (port.required)
		agent_fatal("no vsock and no virtio-serial port named %s",
			    LG_AGENT_SERIAL_NAME);
	agent_log("no virtio-serial port named %s; vsock only",
		  LG_AGENT_SERIAL_NAME);
}

static void serial_tick(struct timer *t)
{
	(void)t;
	if (port.state == SERIAL_LOOKUP)
		serial_try_open();
	else if (port.state == SERIAL_WAIT_HOST)
		serial_check_host();
}

void serial_start(bool required)
{
	port.required = required;
	timer_init(&port.tick, serial_tick);
	serial_lookup_again(0);
}
