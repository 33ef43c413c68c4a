/* SPDX-License-Identifier: Apache-2.0 */
/*
 * PID-1 duties: API filesystems, console, hostname, environment, and
 * powering off. PID 1 must never exit (the kernel panics), so every
 * fatal path ends in agent_power_off().
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"

#define DEFAULT_HOSTNAME "luminaguard"

struct base_mount {
	const char *src, *target, *type, *data;
	unsigned long flags;
	mode_t mode;
	bool optional; /* ENODEV (not in this kernel) is fine */
};

static const struct base_mount base_mounts[] = {
	{"proc", "/proc", "proc", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555,
	 false},
	{"sysfs", "/sys", "sysfs", NULL, MS_NOSUID | MS_NODEV | MS_NOEXEC, 0555,
	 false},
	{"devtmpfs", "/dev", "devtmpfs", "mode=0755", MS_NOSUID, 0755, false},
	{"devpts", "/dev/pts", "devpts", "mode=0620,ptmxmode=0666",
	 MS_NOSUID | MS_NOEXEC, 0755, true},
	{"tmpfs", "/dev/shm", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 01777,
	 true},
	{"tmpfs", "/tmp", "tmpfs", "mode=1777", MS_NOSUID | MS_NODEV, 01777,
	 false},
	{"tmpfs", "/run", "tmpfs", "mode=0755", MS_NOSUID | MS_NODEV, 0755,
	 false},
};

/* Shell scripts expect these in /dev; devtmpfs does not create them. */
static const char *const dev_links[][2] = {
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
};

static void mount_base(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(base_mounts); i++) {
		const struct base_mount *m = &base_mounts[i];

		if (mkdir(m->target, m->mode) < 0 && errno != EEXIST)
			agent_log("mkdir %s: %s", m->target, strerror(errno));
		if (mount(m->src, m->target, m->type, m->flags, m->data) == 0)
			continue;
		if (!(m->optional && errno == ENODEV))
			agent_log("mount %s on %s: %s", m->type, m->target,
				  strerror(errno));
	}
	for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++)
		if (symlink(dev_links[i][0], dev_links[i][1]) < 0 &&
		    errno != EEXIST)
			agent_log("symlink %s: %s", dev_links[i][1],
				  strerror(errno));
}

/* fds 0-2 open, so no pipe or socket of the agent ever lands on them. */
void ensure_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		nfd = open("/dev/null", O_RDWR);
		if (nfd >= 0 && nfd != fd) {
			dup2(nfd, fd);
			close(nfd);
		}
	}
}

static void console_attach(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return; /* keep whatever the kernel gave us */
	for (int i = 0; i <= 2; i++)
		dup2(fd, i);
	if (fd > 2)
		close(fd);
}

static void set_hostname(void)
{
	char name[65] = "";
	int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, name, sizeof(name) - 1);

		close(fd);
		name[n > 0 ? n : 0] = '\0';
		name[strcspn(name, " \t\r\n")] = '\0';
	}
	if (!name[0])
		snprintf(name, sizeof(name), "%s", DEFAULT_HOSTNAME);
	if (sethostname(name, strlen(name)) < 0)
		agent_log("sethostname %s: %s", name, strerror(errno));
}

/* Programs expect localhost to work even with no network device. */
static void loopback_up(void)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		agent_log("loopback: socket: %s", strerror(errno));
		return;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
		agent_log("loopback: get flags: %s", strerror(errno));
	} else {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			agent_log("loopback: up: %s", strerror(errno));
	}
	close(fd);
}

void pid1_setup(void)
{
	umask(022);
	if (chdir("/") < 0)
		agent_log("chdir /: %s", strerror(errno));
	console_attach();
	ensure_std_fds();
	mount_base();
	rootfs_switch_from_cmdline();
	set_hostname();
	loopback_up();
	env_set_defaults();
}

void agent_power_off(void)
{
	/* kill(-1) anywhere but in the VM would hit all the user's processes.
	 */
	if (getpid() != 1) {
		agent_log("not PID 1: exiting instead of powering off");
		exit(1);
	}
	/* reboot=t + QEMU -no-reboot: a reboot ends the VM. */
	kill(-1, SIGKILL);
	sync();
	reboot(RB_AUTOBOOT);
	agent_log("reboot: %s; halting here", strerror(errno));
	for (;;)
		pause();
}

void agent_fatal(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	agent_log("fatal: %s", msg);
	if (agent_mode == AGENT_GUEST) {
		agent_log("powering off");
		agent_power_off();
	}
	exit(1);
}
