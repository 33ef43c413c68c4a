/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A static helper for the nested test VM, which has busybox but no HTTP
 * or Unix-socket client:
 *   nested-tool api SOCK METHOD PATH [BODY]   one request to a
 *       Firecracker-style API socket; prints the status line and body,
 *       exits 0 for a 2xx status
 *   nested-tool vsock UDS PORT SECONDS   Firecracker's host-side vsock
 *       handshake ("CONNECT PORT\n" -> "OK N\n"), retried until SECONDS
 *       pass; prints the answer, exits 0 once the guest accepted
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 5};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cmd_api(int argc, char **argv)
{
	const char *body = argc > 5 ? argv[5] : "";
	char req[8192], resp[8192];
	size_t got = 0;
	ssize_t n;
	int fd, len, status = 0;

	len = snprintf(req, sizeof(req),
		       "%s %s HTTP/1.1\r\nHost: localhost\r\n"
		       "Content-Type: application/json\r\n"
		       "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		       argv[3], argv[4], strlen(body), body);
	if (len < 0 || (size_t)len >= sizeof(req))
		return 2;
	fd = unix_connect(argv[2]);
	if (fd < 0 || write_all(fd, req, (size_t)len) < 0) {
		perror(argv[2]);
		return 1;
	}
	while (got < sizeof(resp) - 1 &&
	       (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	resp[got] = '\0';
	sscanf(resp, "HTTP/1.1 %d", &status);
	printf("%d %s\n", status,
	       strstr(resp, "\r\n\r\n") ? strstr(resp, "\r\n\r\n") + 4 : "");
	return status >= 200 && status < 300 ? 0 : 1;
}

/* One handshake: 0 and the answer in line, or -1. */
static int vsock_try(const char *uds, const char *port, char *line, size_t size)
{
	char req[64];
	size_t got = 0;
	int fd = unix_connect(uds);

	if (fd < 0)
		return -1;
	snprintf(req, sizeof(req), "CONNECT %s\n", port);
	if (write_all(fd, req, strlen(req)) == 0) {
		while (got < size - 1 && read(fd, line + got, 1) == 1 &&
		       line[got] != '\n')
			got++;
	}
	close(fd);
	line[got] = '\0';
	return strncmp(line, "OK ", 3) == 0 ? 0 : -1;
}

static int cmd_vsock(char **argv)
{
	time_t end = time(NULL) + atoi(argv[4]);
	char line[64] = "";

	do {
		if (vsock_try(argv[2], argv[3], line, sizeof(line)) == 0) {
			printf("%s\n", line);
			return 0;
		}
		usleep(200 * 1000);
	} while (time(NULL) < end);
	printf("no answer (last: '%s')\n", line);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "api"))
		return cmd_api(argc, argv);
	if (argc == 5 && !strcmp(argv[1], "vsock"))
		return cmd_vsock(argv);
	fprintf(stderr, "usage: nested-tool api SOCK METHOD PATH [BODY]\n"
			"       nested-tool vsock UDS PORT SECONDS\n");
	return 2;
}
