// SPDX-License-Identifier: Apache-2.0
/*
 * The npm MCP servers for the tests; see npm-servers.h.
 */
#include "npm-servers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Every process group started here and not yet stopped. A failing
 * cmocka assertion ends the test with a longjmp (or the program with
 * exit), past the test's npm_server_stop: the atexit handler kills what
 * is left, so no server outlives its test program.
 */
#define NPM_MAX_STARTED 32
static pid_t started[NPM_MAX_STARTED];
static bool atexit_set;

static void group_kill(pid_t pgid)
{
	int st;

	kill(-pgid, SIGKILL);
	waitpid(pgid, &st, 0);
}

static void started_kill_all(void)
{
	for (size_t i = 0; i < NPM_MAX_STARTED; i++) {
		if (started[i] > 0)
			group_kill(started[i]);
		started[i] = 0;
	}
}

/* Remembers pgid; -ENOSPC when too many run at once. */
static int started_add(pid_t pgid)
{
	for (size_t i = 0; i < NPM_MAX_STARTED; i++) {
		if (started[i] == 0) {
			started[i] = pgid;
			return 0;
		}
	}
	return -ENOSPC;
}

static void started_forget(pid_t pgid)
{
	for (size_t i = 0; i < NPM_MAX_STARTED; i++)
		if (started[i] == pgid)
			started[i] = 0;
}

int npm_servers_find(char *dir, size_t size, bool quiet)
{
	const char *env = getenv("LG_MCP_BIN");
	const char *setup = getenv("LG_MCP_SETUP");
	char cmd[4200], exe[4200];
	FILE *p;

	dir[0] = '\0';
	if (env && env[0]) {
		snprintf(dir, size, "%s", env);
	} else if (setup) {
		snprintf(cmd, sizeof(cmd), "'%s'%s", setup,
			 quiet ? " 2>/dev/null" : "");
		p = popen(cmd, "r");
		if (p && fgets(dir, (int)size, p))
			dir[strcspn(dir, "\n")] = '\0';
		if (p)
			pclose(p);
	}
	snprintf(exe, sizeof(exe), "%s/mcp-server-everything", dir);
	return dir[0] && access(exe, X_OK) == 0 ? 0 : -ENOENT;
}

bool npm_servers_required(void)
{
	const char *v = getenv("LG_REQUIRE_MCP");

	return v && strcmp(v, "1") == 0;
}

void npm_servers_find_or_skip(char *dir, size_t size)
{
	if (npm_servers_find(dir, size, false) == 0)
		return;
	fprintf(stderr, "npm MCP servers not available (%s)\n",
		dir[0] ? dir : "setup-servers.sh failed");
	exit(npm_servers_required() ? 1 : 77);
}

unsigned short npm_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned short port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &l) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

bool npm_port_open(unsigned short port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

int npm_everything_start(struct npm_server *s, const char *bin_dir,
			 const char *mode)
{
	char exe[4200], port[16];
	int fd, err;

	/* Registered before the first fork: the handler must exist by the
	 * time a server does. */
	if (!atexit_set && atexit(started_kill_all) != 0)
		return -ENOMEM;
	atexit_set = true;
	if (!s->port)
		s->port = npm_free_port();
	if (!s->port)
		return -EADDRNOTAVAIL;
	snprintf(exe, sizeof(exe), "%s/mcp-server-everything", bin_dir);
	snprintf(port, sizeof(port), "%u", s->port);
	s->pid = fork();
	if (s->pid < 0) {
		err = -errno;
		s->pid = 0;
		return err;
	}
	if (s->pid == 0) {
		setpgid(0, 0);
		if (s->log[0])
			fd = open(s->log,
				  O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				  0600);
		else
			fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("PORT", port, 1);
		execl(exe, exe, mode, (char *)NULL);
		_exit(127);
	}
	/* Also here: kill(-pid) must find the group even before the child
	 * has run its own setpgid. */
	setpgid(s->pid, s->pid);
	err = started_add(s->pid);
	if (err) {
		group_kill(s->pid);
		s->pid = 0;
		return err;
	}
	for (int i = 0; i < 300 && !npm_port_open(s->port); i++)
		usleep(50000);
	if (npm_port_open(s->port))
		return 0;
	npm_server_stop(s);
	return -ETIMEDOUT;
}

void npm_server_stop(struct npm_server *s)
{
	pid_t pgid = s->pid;
	bool reaped = false;
	int st;

	if (pgid <= 0)
		return;
	kill(-pgid, SIGTERM);
	for (int i = 0; i < 100 && !reaped; i++) {
		reaped = waitpid(pgid, &st, WNOHANG) == pgid;
		if (!reaped)
			usleep(50000);
	}
	kill(-pgid, SIGKILL); /* anything left in its group */
	if (!reaped)
		waitpid(pgid, &st, 0);
	started_forget(pgid);
	s->pid = 0;
}
