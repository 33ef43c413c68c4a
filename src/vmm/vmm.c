/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lgvmm process around the machine: the API's actions become machine
 * operations here, signals and the guest's end stop the event loop, and
 * everything is torn down in one place.
 */
#include "vmm/vmm.h"

#include "common/log.h"
#include "vmm/api/api.h"
#include "vmm/api/outfile.h"
#include "vmm/event-loop.h"
#include "vmm/machine.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

/* Loop turns after the guest ended, to flush what its devices queued. */
#define VMM_DRAIN_TURNS 8u

struct vmm {
	struct evloop *loop;
	struct api *api;
	struct machine *machine;
	int sig_fd;
	int serial_fd; /* PUT /serial's file, or -1 (stdout) */
	bool tty_raw;  /* stdin is a terminal we put in raw mode */
	struct termios tty_saved;
	int status; /* exit status, set once */
	int exited; /* atomic */
};

static void vmm_finish(struct vmm *v, int status, const char *why)
{
	if (__atomic_exchange_n(&v->exited, 1, __ATOMIC_SEQ_CST))
		return;
	v->status = status;
	if (status)
		lg_err("%s", why);
	else
		lg_info("%s", why);
	evloop_stop(v->loop);
}

static void on_guest_exit(void *opaque, int status, const char *why)
{
	vmm_finish(opaque, status, why);
}

/* The console goes to PUT /serial's file or FIFO, else to stdout. */
static int serial_out(struct vmm *v, const char *path, char *err,
		      size_t err_size)
{
	int fd;

	if (!path)
		return STDOUT_FILENO;
	if (v->serial_fd < 0) {
		fd = api_outfile_open(path, err, err_size);
		if (fd < 0)
			return fd;
		v->serial_fd = fd;
	}
	return v->serial_fd;
}

static int op_instance_start(void *opaque, const struct vmm_config *cfg,
			     char *err, size_t err_size)
{
	struct vmm *v = opaque;
	struct machine_params p = {
		.cfg = cfg,
		.loop = v->loop,
		.serial_in_fd = STDIN_FILENO,
		.on_exit = on_guest_exit,
		.opaque = v,
	};
	int r;

	if (v->machine) {
		snprintf(err, err_size, "the microVM is already running");
		return -EALREADY;
	}
	p.serial_out_fd =
		serial_out(v, cfg->serial.serial_out_path, err, err_size);
	if (p.serial_out_fd < 0)
		return p.serial_out_fd;
	r = machine_create(&p, &v->machine, err, err_size);
	if (r < 0)
		return r;
	r = machine_start(v->machine, err, err_size);
	if (r < 0) {
		machine_destroy(v->machine);
		v->machine = NULL;
	}
	return r;
}

static int op_pause(void *opaque, char *err, size_t err_size)
{
	struct vmm *v = opaque;
	int r = v->machine ? machine_pause(v->machine) : -ENODEV;

	if (r < 0)
		snprintf(err, err_size, "cannot pause the microVM: %s",
			 strerror(-r));
	return r;
}

static int op_resume(void *opaque, char *err, size_t err_size)
{
	struct vmm *v = opaque;
	int r = v->machine ? machine_resume(v->machine) : -ENODEV;

	if (r < 0)
		snprintf(err, err_size, "cannot resume the microVM: %s",
			 strerror(-r));
	return r;
}

static int op_ctrl_alt_del(void *opaque, char *err, size_t err_size)
{
	struct vmm *v = opaque;
	int r = v->machine ? machine_ctrl_alt_del(v->machine) : -ENODEV;

	if (r < 0)
		snprintf(err, err_size, "cannot send Ctrl+Alt+Del: %s",
			 strerror(-r));
	return r;
}

static int op_snapshot_create(void *opaque,
			      const struct vmm_snapshot_create_params *p,
			      char *err, size_t err_size)
{
	struct vmm *v = opaque;

	if (p->diff) {
		snprintf(err, err_size, "diff snapshots are not supported");
		return -ENOTSUP;
	}
	if (!v->machine) {
		snprintf(err, err_size, "the microVM is not running");
		return -ENODEV;
	}
	return machine_snapshot_create(v->machine, p->snapshot_path,
				       p->mem_file_path, err, err_size);
}

static int op_snapshot_load(void *opaque,
			    const struct vmm_snapshot_load_params *p,
			    struct vmm_config *cfg, char *err, size_t err_size)
{
	struct vmm *v = opaque;
	struct machine_params mp = {
		.loop = v->loop,
		.serial_in_fd = STDIN_FILENO,
		.on_exit = on_guest_exit,
		.opaque = v,
	};

	mp.serial_out_fd = serial_out(v, p->serial_out_path, err, err_size);
	if (mp.serial_out_fd < 0)
		return mp.serial_out_fd;
	if (v->machine) {
		snprintf(err, err_size, "the microVM is already running");
		return -EALREADY;
	}
	if (p->track_dirty_pages) {
		snprintf(err, err_size, "dirty page tracking is not supported");
		return -ENOTSUP;
	}
	return machine_restore(&mp, p, cfg, &v->machine, err, err_size);
}

static int op_drive_update(void *opaque, const char *drive_id, const char *path,
			   char *err, size_t err_size)
{
	struct vmm *v = opaque;

	if (!v->machine) {
		snprintf(err, err_size, "the microVM is not running");
		return -ENODEV;
	}
	return machine_drive_update(v->machine, drive_id, path, err, err_size);
}

static void op_metrics_fill(void *opaque, json_t *metrics)
{
	struct vmm *v = opaque;
	struct machine_stats st;
	json_t *o;

	if (!v->machine || !metrics)
		return;
	machine_get_stats(v->machine, &st);
	o = json_pack("{s:I,s:I,s:I}", "exit_io", (json_int_t)st.exits_io,
		      "exit_mmio", (json_int_t)st.exits_mmio, "exit_intr",
		      (json_int_t)st.exits_intr);
	if (o)
		json_object_set_new(metrics, "vcpu", o);
	o = json_pack("{s:I,s:I}", "tx_bytes", (json_int_t)st.serial_tx_bytes,
		      "missed_write_count", (json_int_t)st.serial_tx_dropped);
	if (o)
		json_object_set_new(metrics, "uart", o);
}

static const struct api_vmm_ops vmm_ops = {
	.instance_start = op_instance_start,
	.pause = op_pause,
	.resume = op_resume,
	.send_ctrl_alt_del = op_ctrl_alt_del,
	.snapshot_create = op_snapshot_create,
	.snapshot_load = op_snapshot_load,
	.drive_update = op_drive_update,
	.metrics_fill = op_metrics_fill,
};

static void on_signal(void *opaque, uint32_t events)
{
	struct vmm *v = opaque;
	struct signalfd_siginfo si;
	char why[64];

	(void)events;
	if (read(v->sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	snprintf(why, sizeof(why), "stopped by signal %s",
		 strsignal((int)si.ssi_signo));
	vmm_finish(v, 128 + (int)si.ssi_signo, why);
}

/* SIGINT/SIGTERM/SIGHUP arrive through the loop; threads inherit the
 * blocked mask, so this runs before any thread starts. */
static int vmm_signals(struct vmm *v)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -EINVAL;
	v->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (v->sig_fd < 0)
		return -errno;
	return evloop_add(v->loop, v->sig_fd, EPOLLIN, on_signal, v);
}

/*
 * A terminal on stdin: keys go to the guest as typed, and the guest's
 * console echoes them (not the terminal). Ctrl-C still stops lgvmm.
 */
static void tty_raw_enter(struct vmm *v)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &v->tty_saved))
		return;
	t = v->tty_saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
	t.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	v->tty_raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
}

static void tty_raw_leave(struct vmm *v)
{
	if (v->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &v->tty_saved);
}

/* --log-path & co. go through PUT /logger and PUT /metrics, so that
 * they are validated exactly as API requests are. */
static int vmm_put_json(struct vmm *v, const char *path, json_t *body)
{
	struct api_response resp = {0};
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	int r = -ENOMEM;

	json_decref(body);
	if (!s)
		return r;
	r = api_handle(v->api, "PUT", path, s, strlen(s), &resp);
	if (r == 0 && resp.status != 204) {
		lg_err("%s: %s", path, resp.body ? resp.body : "failed");
		r = -EINVAL;
	}
	api_response_free(&resp);
	free(s);
	return r;
}

static int vmm_telemetry(struct vmm *v, const struct vmm_opts *o)
{
	int r = 0;

	if (o->log_path || o->level) {
		json_t *b = json_object();

		if (b && o->log_path)
			json_object_set_new(b, "log_path",
					    json_string(o->log_path));
		if (b && o->level)
			json_object_set_new(b, "level", json_string(o->level));
		if (b && o->show_level)
			json_object_set_new(b, "show_level", json_true());
		if (b && o->show_log_origin)
			json_object_set_new(b, "show_log_origin", json_true());
		r = vmm_put_json(v, "/logger", b);
	}
	if (r == 0 && o->metrics_path)
		r = vmm_put_json(
			v, "/metrics",
			json_pack("{s:s}", "metrics_path", o->metrics_path));
	return r;
}

static int vmm_boot_from_file(struct vmm *v, const char *path)
{
	char err[512] = "";
	int r;

	r = api_apply_config_file(v->api, path, err, sizeof(err));
	if (r == 0)
		r = api_instance_start(v->api, err, sizeof(err));
	if (r < 0)
		lg_err("%s: %s", path, err);
	return r;
}

int vmm_main(const struct vmm_opts *o)
{
	struct vmm v = {.sig_fd = -1, .serial_fd = -1};
	struct api_server *srv = NULL;
	unsigned int i;
	int r;

	r = evloop_create(&v.loop);
	if (r == 0)
		r = vmm_signals(&v);
	if (r == 0)
		r = api_create(&vmm_ops, &v, o->id, &v.api);
	if (r == 0)
		r = vmm_telemetry(&v, o);
	if (r == 0 && o->api_sock) {
		r = api_server_start(v.api, o->api_sock, o->max_payload, &srv);
		if (r < 0)
			lg_err("cannot serve the API on %s: %s", o->api_sock,
			       strerror(-r));
	}
	if (r == 0)
		tty_raw_enter(&v);
	if (r == 0 && o->config_file)
		r = vmm_boot_from_file(&v, o->config_file);
	if (r == 0)
		r = evloop_run(v.loop);
	if (r < 0 && !v.exited)
		v.status = 1;
	/* No request or metrics tick may reach the machine once it goes;
	 * the machine keeps no use of the API's configuration after create. */
	api_server_stop(srv);
	api_destroy(v.api);
	/* What the guest sent just before it reset (the agent's last
	 * answer on vsock, say) is queued for the loop: deliver it. */
	machine_stop(v.machine);
	for (i = 0; i < VMM_DRAIN_TURNS && evloop_run_once(v.loop, 0) > 0; i++)
		;
	machine_destroy(v.machine);
	if (v.sig_fd >= 0)
		close(v.sig_fd);
	if (v.serial_fd >= 0)
		close(v.serial_fd);
	tty_raw_leave(&v);
	evloop_destroy(v.loop);
	return v.status;
}
