/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The same steps `luminaguard exec` takes (spawn, agent channel, HELLO,
 * copy-in, EXEC, copy-out, SHUTDOWN, destroy), as a library: output goes
 * to memory instead of our stdout, and cancellation comes from an
 * eventfd instead of a signalfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "image/image.h"
#include "mcp/sandbox.h"

#define HELLO_TIMEOUT_MS 10000
/* A finished sandbox need not sync anything: power off or be killed. */
#define SHUTDOWN_ACK_MS 500

int lg_sandbox_start(const struct lg_sandbox_opts *o, struct lg_sandbox *sb,
		     char *err, size_t errlen)
{
	struct lg_vm_config cfg = {0};
	struct lg_image img;
	const char *backend = o->backend;
	char why[512];
	int rc, fd;

	memset(sb, 0, sizeof(*sb));
	sb->c.fd = -1;
	rc = o->image ? lg_image_open(&img, o->image, err, errlen)
		      : lg_image_default(&img, err, errlen);
	if (rc)
		return rc;
	cfg.kernel = img.vmlinux;
	cfg.initrd = img.initrd;
	cfg.vcpus = o->vcpus ? o->vcpus : 1;
	cfg.mem_mib = o->mem_mib ? o->mem_mib : 256;
	cfg.accel = LG_ACCEL_AUTO;
	cfg.boot_timeout_ms =
		(o->boot_timeout_s ? o->boot_timeout_s : 60) * 1000u;
	cfg.cancel_fd = o->cancel_fd;
	if (!backend) {
		backend = lg_hv_default_backend(cfg.accel, why, sizeof(why));
		lg_debug("sandbox: backend %s (%s)", backend, why);
	}
	rc = lg_vm_spawn(backend, &cfg, &sb->vm, err, errlen);
	if (rc < 0)
		return rc;
	rc = lg_vm_agent_channel(sb->vm, &fd, err, errlen);
	if (!rc) {
		rc = lg_client_open(&sb->c, fd);
		if (rc < 0)
			snprintf(err, errlen, "agent channel: %s",
				 strerror(-rc));
	}
	if (!rc) {
		sb->c.cancel_fd = o->cancel_fd >= 0 ? o->cancel_fd : -1;
		rc = lg_client_hello(&sb->c, HELLO_TIMEOUT_MS, err, errlen);
		sb->c.cancel_fd = -1;
	}
	if (rc < 0) {
		lg_client_close(&sb->c);
		lg_vm_destroy(sb->vm);
		sb->vm = NULL;
		return rc;
	}
	return 0;
}

void lg_sandbox_stop(struct lg_sandbox *sb)
{
	if (!sb->vm)
		return;
	if (sb->c.dec && lg_client_shutdown(&sb->c, SHUTDOWN_ACK_MS) < 0)
		lg_debug("sandbox: no shutdown acknowledgement; stopping");
	lg_client_close(&sb->c);
	lg_vm_destroy(sb->vm);
	sb->vm = NULL;
}

static int memfd_with(const void *data, size_t len)
{
	int fd = memfd_create("lg-sandbox", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if ((len && lg_write_all(fd, data, len) < 0) ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}

int lg_sandbox_put(struct lg_sandbox *sb, const void *data, size_t len,
		   unsigned mode, const char *guest_path, char *err,
		   size_t errlen)
{
	int fd = memfd_with(data, len), rc;

	if (fd < 0) {
		snprintf(err, errlen, "memfd: %s", strerror(-fd));
		return fd;
	}
	rc = lg_client_put_file(&sb->c, fd, mode & 07777, guest_path, err,
				errlen);
	close(fd);
	return rc;
}

int lg_sandbox_put_path(struct lg_sandbox *sb, const char *host_path,
			const char *guest_path, char *err, size_t errlen)
{
	int fd = open(host_path, O_RDONLY | O_CLOEXEC), rc;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = fd < 0 ? -errno : -EINVAL;
		snprintf(err, errlen, "copy-in source %s: %s", host_path,
			 fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return rc;
	}
	rc = lg_client_put_file(&sb->c, fd, st.st_mode & 07777, guest_path, err,
				errlen);
	close(fd);
	return rc;
}

/* Contents of fd from 0 to len, NUL-terminated. */
static char *memfd_read(int fd, size_t len)
{
	char *b = malloc(len + 1);
	size_t got = 0;

	if (!b)
		return NULL;
	while (got < len) {
		ssize_t n = pread(fd, b + got, len - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	b[got] = '\0';
	return b;
}

int lg_sandbox_get(struct lg_sandbox *sb, const char *guest_path, size_t max,
		   void **data, size_t *len, char *err, size_t errlen)
{
	struct lg_file_get g = {0};
	int fd = memfd_create("lg-sandbox-get", MFD_CLOEXEC), rc;

	*data = NULL;
	*len = 0;
	if (fd < 0) {
		snprintf(err, errlen, "memfd: %s", strerror(errno));
		return -errno;
	}
	g.dst_fd = fd;
	g.max_bytes = max;
	err[0] = '\0';
	rc = lg_client_get_file(&sb->c, guest_path, &g, err, errlen);
	if (!rc) {
		*data = memfd_read(fd, (size_t)g.received);
		*len = (size_t)g.received;
		if (!*data)
			rc = -ENOMEM;
	}
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "copy-out of %s: %s", guest_path,
			 strerror(-rc));
	close(fd);
	return rc;
}

/*
 * A memfd that cannot grow past max: the agent client discards what does
 * not fit (a write fails with EPERM), so a guest printing forever costs
 * at most max bytes here.
 */
static int capture_fd(size_t max)
{
	int fd =
		memfd_create("lg-sandbox-out", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)max) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SHRINK) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/*
 * lg_client_exec reads a signalfd_siginfo from its cancel fd: turn the
 * caller's eventfd into one SIGKILL for the guest command (or, before it
 * started, the end of the exec).
 */
struct cancel_bridge {
	int src, stop[2], dst[2];
	pthread_t t;
	bool running;
};

static void *bridge_run(void *arg)
{
	struct cancel_bridge *b = arg;
	struct pollfd p[2] = {{.fd = b->src, .events = POLLIN},
			      {.fd = b->stop[0], .events = POLLIN}};

	while (poll(p, 2, -1) < 0 && errno == EINTR)
		;
	if (p[0].revents && !p[1].revents) {
		struct signalfd_siginfo si = {.ssi_signo = SIGKILL};

		if (write(b->dst[1], &si, sizeof(si)) < 0)
			lg_debug("sandbox: cancel pipe: %s", strerror(errno));
	}
	return NULL;
}

static int bridge_start(struct cancel_bridge *b, int src)
{
	b->src = src;
	b->running = false;
	b->stop[0] = b->stop[1] = b->dst[0] = b->dst[1] = -1;
	if (src < 0)
		return 0;
	if (pipe2(b->stop, O_CLOEXEC) < 0 || pipe2(b->dst, O_CLOEXEC) < 0)
		return -errno;
	if (pthread_create(&b->t, NULL, bridge_run, b))
		return -EAGAIN;
	b->running = true;
	return 0;
}

static void bridge_stop(struct cancel_bridge *b)
{
	if (b->running) {
		if (write(b->stop[1], "x", 1) < 0)
			lg_debug("sandbox: stop pipe: %s", strerror(errno));
		pthread_join(b->t, NULL);
	}
	for (int i = 0; i < 2; i++) {
		if (b->stop[i] >= 0)
			close(b->stop[i]);
		if (b->dst[i] >= 0)
			close(b->dst[i]);
	}
}

static size_t capture_len(int fd)
{
	off_t pos = lseek(fd, 0, SEEK_CUR);

	return pos > 0 ? (size_t)pos : 0;
}

int lg_sandbox_run(struct lg_sandbox *sb, const struct lg_sandbox_cmd *cmd,
		   struct lg_sandbox_output *res, char *err, size_t errlen)
{
	struct lg_exec_req req = {0};
	struct lg_exec_io io = {.in_fd = -1, .out_fd = -1, .err_fd = -1};
	struct cancel_bridge b;
	size_t max = cmd->max_output ? cmd->max_output : (1u << 20);
	int rc;

	memset(res, 0, sizeof(*res));
	for (char **a = cmd->argv; *a; a++)
		req.argc++;
	for (char **e = cmd->envp; e && *e; e++)
		req.envc++;
	req.argv = cmd->argv;
	req.envp = cmd->envp;
	req.cwd = (char *)cmd->cwd;
	req.stdin_attached = cmd->stdin_data != NULL;
	io.timeout_ms = cmd->timeout_ms;
	rc = bridge_start(&b, cmd->cancel_fd);
	if (!rc && cmd->stdin_data) {
		io.in_fd = memfd_with(cmd->stdin_data, cmd->stdin_len);
		rc = io.in_fd < 0 ? io.in_fd : 0;
	}
	if (!rc) {
		io.out_fd = capture_fd(max);
		io.err_fd = io.out_fd < 0 ? -1 : capture_fd(max);
		if (io.out_fd < 0 || io.err_fd < 0)
			rc = -EMFILE;
	}
	io.cancel_fd = b.running ? b.dst[0] : -1;
	if (!rc)
		rc = lg_client_exec(&sb->c, &req, &io, &res->r);
	if (rc < 0) {
		snprintf(err, errlen, "%s",
			 res->r.msg[0] ? res->r.msg : strerror(-rc));
	} else {
		res->out_len = capture_len(io.out_fd);
		res->err_len = capture_len(io.err_fd);
		/* At the cap, some output was (or may have been) dropped. */
		res->out_truncated = res->out_len + 4096 > max;
		res->err_truncated = res->err_len + 4096 > max;
		res->out = memfd_read(io.out_fd, res->out_len);
		res->err = memfd_read(io.err_fd, res->err_len);
		if (!res->out || !res->err) {
			lg_sandbox_output_free(res);
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
		}
	}
	bridge_stop(&b);
	if (io.in_fd >= 0)
		close(io.in_fd);
	if (io.out_fd >= 0)
		close(io.out_fd);
	if (io.err_fd >= 0)
		close(io.err_fd);
	return rc;
}

void lg_sandbox_output_free(struct lg_sandbox_output *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}
