/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host side of the agent channel against a scripted, hostile "guest":
 * a child process on the other end of a socketpair that answers the first
 * request with crafted frames, then reads and discards until EOF.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/client.h"

struct script {
	uint8_t buf[1 << 20];
	size_t len;
};

/* Pause between the scripted frames, to spread them over time. */
static unsigned pace_ms;

static void script_frame(struct script *sc, uint8_t type, uint32_t stream,
			 const void *p, size_t len)
{
	assert_true(sc->len + LG_FRAME_HDR_SIZE + len <= sizeof(sc->buf));
	lg_frame_hdr_encode(sc->buf + sc->len, type, stream, (uint32_t)len);
	if (len)
		memcpy(sc->buf + sc->len + LG_FRAME_HDR_SIZE, p, len);
	sc->len += LG_FRAME_HDR_SIZE + len;
}

static void script_u32(struct script *sc, uint8_t type, uint32_t stream,
		       uint16_t tag, uint32_t v)
{
	uint8_t buf[LG_TLV_U32_SIZE];

	script_frame(sc, type, stream, buf, lg_tlv_u32_payload(buf, tag, v));
}

/* Starts the fake guest; returns the host's end of the channel. */
static int fake_guest(const struct script *sc, pid_t *pid)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*pid = fork();
	assert_true(*pid >= 0);
	if (*pid == 0) {
		char sink[4096];
		size_t off = 0;

		close(sv[0]);
		/* Wait for the host's first request, then answer it. */
		if (read(sv[1], sink, sizeof(sink)) <= 0)
			_exit(1);
		while (off < sc->len) {
			size_t len = LG_FRAME_HDR_SIZE +
				     (sc->buf[off + 8] |
				      (size_t)sc->buf[off + 9] << 8 |
				      (size_t)sc->buf[off + 10] << 16);

			if (write(sv[1], sc->buf + off, len) != (ssize_t)len)
				_exit(1);
			off += len;
			if (pace_ms)
				usleep(pace_ms * 1000);
		}
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
		_exit(0);
	}
	close(sv[1]);
	return sv[0];
}

static void fake_guest_end(int fd, pid_t pid)
{
	close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static struct script sc;

static void test_error_errno_out_of_range(void **state)
{
	struct lg_file_get g = {.max_bytes = 1 << 20};
	uint8_t buf[64];
	struct lg_client c;
	char err[256];
	size_t len;
	pid_t pid;
	int fd, rc, sink[2];

	(void)state;
	sc.len = 0;
	/* errno 0xffffffff must not turn into success (-(int)e == 1). */
	assert_int_equal(
		lg_error_encode(buf, sizeof(buf), 0xffffffffu, "nope", &len),
		0);
	script_frame(&sc, LG_MSG_ERROR, 1, buf, len);
	fd = fake_guest(&sc, &pid);
	assert_int_equal(pipe(sink), 0);
	g.dst_fd = sink[1];
	assert_int_equal(lg_client_open(&c, fd), 0);
	rc = lg_client_get_file(&c, "/x", &g, err, sizeof(err));
	assert_int_equal(rc, -EIO);
	assert_non_null(strstr(err, "nope"));
	lg_client_close(&c);
	fake_guest_end(fd, pid);
	close(sink[0]);
	close(sink[1]);
}

static void test_copy_out_limit(void **state)
{
	static uint8_t data[60000];
	struct lg_file_get g = {.max_bytes = 100000};
	struct lg_client c;
	char err[256];
	pid_t pid;
	int fd, rc, sink;

	(void)state;
	sc.len = 0;
	for (int i = 0; i < 3; i++)
		script_frame(&sc, LG_MSG_FILE_DATA, 1, data, sizeof(data));
	script_frame(&sc, LG_MSG_FILE_END, 1, NULL, 0);
	fd = fake_guest(&sc, &pid);
	sink = open("/dev/null", O_WRONLY);
	g.dst_fd = sink;
	assert_int_equal(lg_client_open(&c, fd), 0);
	rc = lg_client_get_file(&c, "/big", &g, err, sizeof(err));
	assert_int_equal(rc, -EFBIG);
	assert_true(g.received <= g.max_bytes);
	assert_non_null(strstr(err, "copy limit"));
	lg_client_close(&c);
	fake_guest_end(fd, pid);
	close(sink);
}

static int run_exec(const struct script *script, unsigned timeout_ms,
		    struct lg_exec_result *r)
{
	char *argv[] = {"true", NULL};
	char *envp[] = {NULL};
	struct lg_exec_req req = {.argv = argv, .argc = 1, .envp = envp};
	struct lg_exec_io io = {
		.in_fd = -1,
		.cancel_fd = -1,
		.timeout_ms = timeout_ms,
	};
	struct lg_client c;
	pid_t pid;
	int fd, rc;

	io.out_fd = io.err_fd = open("/dev/null", O_WRONLY);
	fd = fake_guest(script, &pid);
	assert_int_equal(lg_client_open(&c, fd), 0);
	rc = lg_client_exec(&c, &req, &io, r);
	lg_client_close(&c);
	fake_guest_end(fd, pid);
	close(io.out_fd);
	return rc;
}

/* A guest that never reports STARTED is still bound by --timeout. */
static void test_timeout_without_started(void **state)
{
	struct lg_exec_result r;
	uint64_t t0 = lg_now_ns();

	(void)state;
	sc.len = 0;
	assert_int_equal(run_exec(&sc, 300, &r), 0);
	assert_int_equal(r.outcome, LG_EXEC_TIMED_OUT);
	assert_true(lg_now_ns() - t0 < 30ull * 1000000000ull);
}

/*
 * Repeated STARTED frames do not push the deadline back: 30 of them over
 * 3 s against a 0.3 s timeout. Honouring each would end after 3.3 s; the
 * bound below leaves a wide margin for a loaded machine.
 */
static void test_started_repeats_ignored(void **state)
{
	struct lg_exec_result r;
	uint64_t t0 = lg_now_ns();

	(void)state;
	sc.len = 0;
	for (int i = 0; i < 30; i++)
		script_u32(&sc, LG_MSG_STARTED, 1, LG_TAG_PID, 7);
	pace_ms = 100;
	assert_int_equal(run_exec(&sc, 300, &r), 0);
	pace_ms = 0;
	assert_int_equal(r.outcome, LG_EXEC_TIMED_OUT);
	assert_true(lg_now_ns() - t0 < 2500ull * 1000000ull);
}

static void test_exit_without_status(void **state)
{
	struct lg_exec_result r;

	(void)state;
	sc.len = 0;
	script_u32(&sc, LG_MSG_STARTED, 1, LG_TAG_PID, 7);
	script_frame(&sc, LG_MSG_EXIT, 1, NULL, 0);
	assert_int_equal(run_exec(&sc, 0, &r), 0);
	assert_int_equal(r.outcome, LG_EXEC_CHANNEL_LOST);
	assert_non_null(strstr(r.msg, "EXIT without a status"));
}

static void test_exit_code_and_signal(void **state)
{
	struct lg_exec_result r;

	(void)state;
	sc.len = 0;
	script_u32(&sc, LG_MSG_STARTED, 1, LG_TAG_PID, 7);
	script_frame(&sc, LG_MSG_STDOUT, 1, "hi\n", 3);
	script_u32(&sc, LG_MSG_EXIT, 1, LG_TAG_EXIT_CODE, 42);
	assert_int_equal(run_exec(&sc, 0, &r), 0);
	assert_int_equal(r.outcome, LG_EXEC_EXITED);
	assert_int_equal(r.code, 42);
	sc.len = 0;
	script_u32(&sc, LG_MSG_STARTED, 1, LG_TAG_PID, 7);
	script_u32(&sc, LG_MSG_EXIT, 1, LG_TAG_EXIT_SIGNAL, 9);
	assert_int_equal(run_exec(&sc, 0, &r), 0);
	assert_int_equal(r.outcome, LG_EXEC_SIGNALED);
	assert_int_equal(r.sig, 9);
}

static void test_guest_hangs_up(void **state)
{
	struct lg_exec_result r;

	(void)state;
	sc.len = 0;
	script_u32(&sc, LG_MSG_STARTED, 1, LG_TAG_PID, 7);
	/* The fake guest then reads until EOF; kill it to close the channel. */
	{
		char *argv[] = {"true", NULL};
		char *envp[] = {NULL};
		struct lg_exec_req req = {
			.argv = argv, .argc = 1, .envp = envp};
		struct lg_exec_io io = {.in_fd = -1, .cancel_fd = -1};
		struct lg_client c;
		pid_t pid;
		int fd = fake_guest(&sc, &pid);

		io.out_fd = io.err_fd = open("/dev/null", O_WRONLY);
		kill(pid, SIGKILL);
		assert_int_equal(lg_client_open(&c, fd), 0);
		assert_int_equal(lg_client_exec(&c, &req, &io, &r), 0);
		assert_int_equal(r.outcome, LG_EXEC_CHANNEL_LOST);
		lg_client_close(&c);
		fake_guest_end(fd, pid);
		close(io.out_fd);
	}
}

static void test_credit_capped(void **state)
{
	(void)state;
	assert_int_equal(lg_credit_add(LG_WINDOW_INITIAL, 0xffffffffu),
			 LG_WINDOW_INITIAL);
	assert_int_equal(lg_credit_add(0, 100), 100);
	assert_int_equal(lg_errno_from_peer(0), EIO);
	assert_int_equal(lg_errno_from_peer(ENOENT), ENOENT);
	assert_int_equal(lg_errno_from_peer(0x80000000u), EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_error_errno_out_of_range),
		cmocka_unit_test(test_copy_out_limit),
		cmocka_unit_test(test_timeout_without_started),
		cmocka_unit_test(test_started_repeats_ignored),
		cmocka_unit_test(test_exit_without_status),
		cmocka_unit_test(test_exit_code_and_signal),
		cmocka_unit_test(test_guest_hangs_up),
		cmocka_unit_test(test_credit_capped),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
