// SPDX-License-Identifier: Apache-2.0
/*
 * The machine configuration: Firecracker's JSON sections read strictly
 * (src/vmm/api/jfield.h) and checked, and GET /vm/config written back.
 */
#include "vmm/config.h"

#include "vmm/api/jfield.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MODULE_MAX_LEN 256u
#define PARTUUID_MAX_LEN 36u

static const char *const cache_names[] = {
	[VMM_CACHE_UNSAFE] = "Unsafe",
	[VMM_CACHE_WRITEBACK] = "Writeback",
	NULL,
};

static const char *const level_names[] = {
	[VMM_LOG_OFF] = "Off",	       [VMM_LOG_ERROR] = "Error",
	[VMM_LOG_WARNING] = "Warning", [VMM_LOG_INFO] = "Info",
	[VMM_LOG_DEBUG] = "Debug",     [VMM_LOG_TRACE] = "Trace",
};

const char *vmm_cache_type_name(enum vmm_cache_type t)
{
	return t == VMM_CACHE_WRITEBACK ? "Writeback" : "Unsafe";
}

const char *vmm_log_level_name(enum vmm_log_level l)
{
	if ((unsigned int)l >= sizeof(level_names) / sizeof(level_names[0]))
		return "Info";
	return level_names[l];
}

void vmm_config_init(struct vmm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->machine.vcpu_count = VMM_DEFAULT_VCPUS;
	cfg->machine.mem_size_mib = VMM_DEFAULT_MEM_MIB;
	cfg->logger.level = VMM_LOG_INFO;
}

void vmm_boot_source_free(struct vmm_boot_source *bs)
{
	free(bs->kernel_image_path);
	free(bs->initrd_path);
	free(bs->boot_args);
	memset(bs, 0, sizeof(*bs));
}

void vmm_drive_free(struct vmm_drive *d)
{
	free(d->drive_id);
	free(d->path_on_host);
	free(d->partuuid);
	memset(d, 0, sizeof(*d));
}

void vmm_net_free(struct vmm_net *n)
{
	free(n->iface_id);
	free(n->host_dev_name);
	memset(n, 0, sizeof(*n));
}

void vmm_vsock_free(struct vmm_vsock *v)
{
	free(v->uds_path);
	memset(v, 0, sizeof(*v));
}

void vmm_logger_free(struct vmm_logger *l)
{
	free(l->log_path);
	free(l->module);
	memset(l, 0, sizeof(*l));
	l->level = VMM_LOG_INFO;
}

void vmm_metrics_free(struct vmm_metrics *m)
{
	free(m->metrics_path);
	memset(m, 0, sizeof(*m));
}

void vmm_config_free(struct vmm_config *cfg)
{
	unsigned int i;

	vmm_boot_source_free(&cfg->boot);
	for (i = 0; i < cfg->nr_drives && i < VMM_MAX_DRIVES; i++)
		vmm_drive_free(&cfg->drives[i]);
	for (i = 0; i < cfg->nr_nets && i < VMM_MAX_NETS; i++)
		vmm_net_free(&cfg->nets[i]);
	vmm_vsock_free(&cfg->vsock);
	vmm_logger_free(&cfg->logger);
	vmm_metrics_free(&cfg->metrics);
	vmm_serial_free(&cfg->serial);
	vmm_config_init(cfg);
}

const char *vmm_config_boot_args(const struct vmm_config *cfg)
{
	return cfg->boot.boot_args ? cfg->boot.boot_args
				   : VMM_DEFAULT_BOOT_ARGS;
}

bool vmm_config_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++) {
		unsigned char c = (unsigned char)id[i];

		if (i >= VMM_MAX_ID_LEN || !(isalnum(c) || c == '_'))
			return false;
	}
	return i > 0;
}

static int bad_value(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad_value(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return -ERANGE;
}

static int check_id(const char *key, const char *id, char *err, size_t err_size)
{
	if (vmm_config_id_valid(id))
		return 0;
	return bad_value(err, err_size,
			 "`%s` must be 1 to %u characters from [A-Za-z0-9_]",
			 key, VMM_MAX_ID_LEN);
}

int vmm_boot_source_from_json(struct vmm_boot_source *out, const json_t *obj,
			      char *err, size_t err_size)
{
	static const char *const keys[] = {"kernel_image_path", "initrd_path",
					   "boot_args", NULL};
	struct vmm_boot_source bs = {.set = true};
	const json_t *args;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = jf_expect_keys(obj, "boot-source", keys, err, err_size);
	if (!ret)
		ret = jf_string(obj, "kernel_image_path", true,
				VMM_MAX_PATH_LEN, &bs.kernel_image_path, err,
				err_size);
	if (!ret)
		ret = jf_string(obj, "initrd_path", false, VMM_MAX_PATH_LEN,
				&bs.initrd_path, err, err_size);
	if (ret)
		goto fail;
	/* An empty command line is legitimate, so not jf_string(). */
	args = jf_get(obj, "boot_args");
	if (args && !json_is_string(args)) {
		snprintf(err, err_size,
			 "invalid type: expected a string for `boot_args`");
		ret = -EINVAL;
		goto fail;
	}
	if (args) {
		if (json_string_length(args) > VMM_MAX_BOOT_ARGS_LEN ||
		    strlen(json_string_value(args)) !=
			    json_string_length(args)) {
			ret = bad_value(err, err_size,
					"`boot_args` is too long (at most %u "
					"bytes) or contains a NUL character",
					VMM_MAX_BOOT_ARGS_LEN);
			goto fail;
		}
		bs.boot_args = strdup(json_string_value(args));
		if (!bs.boot_args) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	*out = bs;
	return 0;
fail:
	vmm_boot_source_free(&bs);
	return ret;
}

/* Whether any field of obj is given (present and not null). */
static bool any_given(const json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key,
			    v) if (!json_is_null(v)) return true;
	return false;
}

int vmm_machine_config_from_json(struct vmm_machine_config *mc,
				 const json_t *obj, bool partial, char *err,
				 size_t err_size)
{
	static const char *const keys[] = {
		"vcpu_count", "mem_size_mib", "smt", "track_dirty_pages",
		"huge_pages", "cpu_template", NULL,
	};
	static const char *const huge_names[] = {"None", "Transparent", "2M",
						 NULL};
	static const char *const tmpl_names[] = {
		"None", "C3", "T2", "T2S", "T2CL", "T2A", "V1N1", NULL,
	};
	struct vmm_machine_config m;
	int huge = 0, tmpl = 0, ret;

	if (partial) {
		m = *mc;
	} else {
		memset(&m, 0, sizeof(m));
	}
	ret = jf_expect_keys(obj, "machine-config", keys, err, err_size);
	if (!ret)
		ret = jf_u32(obj, "vcpu_count", !partial, &m.vcpu_count, err,
			     err_size);
	if (!ret)
		ret = jf_u32(obj, "mem_size_mib", !partial, &m.mem_size_mib,
			     err, err_size);
	if (!ret)
		ret = jf_bool(obj, "smt", false, &m.smt, err, err_size);
	if (!ret)
		ret = jf_bool(obj, "track_dirty_pages", false,
			      &m.track_dirty_pages, err, err_size);
	if (!ret)
		ret = jf_enum(obj, "huge_pages", false, huge_names, &huge, err,
			      err_size);
	if (!ret)
		ret = jf_enum(obj, "cpu_template", false, tmpl_names, &tmpl,
			      err, err_size);
	if (ret)
		return ret;
	if (partial && !any_given(obj)) {
		snprintf(err, err_size,
			 "empty machine configuration update: give at least "
			 "one field");
		return -EINVAL;
	}
	if (huge)
		return jf_unsupported(obj, "huge_pages",
				      "huge pages are not implemented", err,
				      err_size);
	if (tmpl)
		return jf_unsupported(obj, "cpu_template",
				      "CPU templates are not implemented", err,
				      err_size);
	if (m.vcpu_count < 1 || m.vcpu_count > VMM_MAX_VCPUS)
		return bad_value(err, err_size,
				 "`vcpu_count` must be from 1 to %u (got %u)",
				 VMM_MAX_VCPUS, m.vcpu_count);
	if (m.smt && m.vcpu_count > 1 && m.vcpu_count % 2)
		return bad_value(err, err_size,
				 "`vcpu_count` must be 1 or an even number "
				 "when `smt` is enabled (got %u)",
				 m.vcpu_count);
	if (m.mem_size_mib < 1 || m.mem_size_mib > VMM_MAX_MEM_MIB)
		return bad_value(err, err_size,
				 "`mem_size_mib` must be from 1 to %u (got %u)",
				 VMM_MAX_MEM_MIB, m.mem_size_mib);
	*mc = m;
	return 0;
}

json_t *vmm_machine_config_to_json(const struct vmm_machine_config *mc)
{
	return json_pack("{s:I, s:I, s:b, s:b, s:s}", "vcpu_count",
			 (json_int_t)mc->vcpu_count, "mem_size_mib",
			 (json_int_t)mc->mem_size_mib, "smt", mc->smt,
			 "track_dirty_pages", mc->track_dirty_pages,
			 "huge_pages", "None");
}

/*
 * A partuuid ends up on the kernel command line (root=PARTUUID=...), so
 * only the characters of a GPT or MBR partition UUID are let through.
 */
static bool partuuid_valid(const char *s)
{
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s) && *s != '-')
			return false;
	return true;
}

int vmm_drive_from_json(struct vmm_drive *out, const json_t *obj, char *err,
			size_t err_size)
{
	static const char *const keys[] = {
		"drive_id", "path_on_host", "is_root_device", "is_read_only",
		"partuuid", "cache_type",   "io_engine",      "rate_limiter",
		"socket",   NULL,
	};
	static const char *const engine_names[] = {"Sync", "Async", NULL};
	struct vmm_drive d;
	int cache = VMM_CACHE_UNSAFE, engine = 0, ret;

	memset(&d, 0, sizeof(d));
	memset(out, 0, sizeof(*out));
	ret = jf_expect_keys(obj, "a drive", keys, err, err_size);
	if (!ret)
		ret = jf_string(obj, "drive_id", true, VMM_MAX_ID_LEN + 1,
				&d.drive_id, err, err_size);
	if (!ret)
		ret = check_id("drive_id", d.drive_id, err, err_size);
	if (!ret)
		ret = jf_unsupported(obj, "socket",
				     "vhost-user block devices are not "
				     "implemented",
				     err, err_size);
	if (!ret)
		ret = jf_unsupported(obj, "rate_limiter",
				     "rate limiters are not implemented", err,
				     err_size);
	if (!ret)
		ret = jf_bool(obj, "is_root_device", true, &d.is_root_device,
			      err, err_size);
	if (!ret)
		ret = jf_string(obj, "path_on_host", true, VMM_MAX_PATH_LEN,
				&d.path_on_host, err, err_size);
	if (!ret)
		ret = jf_bool(obj, "is_read_only", false, &d.is_read_only, err,
			      err_size);
	if (!ret)
		ret = jf_string(obj, "partuuid", false, PARTUUID_MAX_LEN,
				&d.partuuid, err, err_size);
	if (!ret && d.partuuid && !partuuid_valid(d.partuuid))
		ret = bad_value(err, err_size,
				"`partuuid` may only contain hexadecimal "
				"digits and '-'");
	if (!ret)
		ret = jf_enum(obj, "cache_type", false, cache_names, &cache,
			      err, err_size);
	if (!ret)
		ret = jf_enum(obj, "io_engine", false, engine_names, &engine,
			      err, err_size);
	if (!ret && engine) {
		snprintf(err, err_size,
			 "`io_engine` \"Async\" is not supported by lgvmm "
			 "(only \"Sync\")");
		ret = -EOPNOTSUPP;
	}
	if (ret) {
		vmm_drive_free(&d);
		return ret;
	}
	d.cache_type = (enum vmm_cache_type)cache;
	*out = d;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int i;

	if (strlen(s) != 17)
		return -1;
	for (i = 0; i < 6; i++) {
		const char *p = s + i * 3;
		char hex[3] = {p[0], p[1], 0};

		if (!isxdigit((unsigned char)p[0]) ||
		    !isxdigit((unsigned char)p[1]) || (i < 5 && p[2] != ':'))
			return -1;
		mac[i] = (uint8_t)strtoul(hex, NULL, 16);
	}
	return 0;
}

/* As the kernel's dev_valid_name(). */
static bool ifname_valid(const char *s)
{
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) ||
		    !isprint((unsigned char)*s))
			return false;
	return true;
}

int vmm_net_from_json(struct vmm_net *out, const json_t *obj, char *err,
		      size_t err_size)
{
	static const char *const keys[] = {
		"iface_id",	   "host_dev_name",   "guest_mac", "mtu",
		"rx_rate_limiter", "tx_rate_limiter", NULL,
	};
	struct vmm_net n;
	char *mac = NULL;
	int ret;

	memset(&n, 0, sizeof(n));
	memset(out, 0, sizeof(*out));
	ret = jf_expect_keys(obj, "a network interface", keys, err, err_size);
	if (!ret)
		ret = jf_string(obj, "iface_id", true, VMM_MAX_ID_LEN + 1,
				&n.iface_id, err, err_size);
	if (!ret)
		ret = check_id("iface_id", n.iface_id, err, err_size);
	if (!ret)
		ret = jf_string(obj, "host_dev_name", true, VMM_MAX_IFNAME_LEN,
				&n.host_dev_name, err, err_size);
	if (!ret && !ifname_valid(n.host_dev_name))
		ret = bad_value(err, err_size,
				"`host_dev_name` is not a valid interface "
				"name");
	if (!ret)
		ret = jf_string(obj, "guest_mac", false, 17, &mac, err,
				err_size);
	if (!ret && mac) {
		if (parse_mac(mac, n.guest_mac))
			ret = bad_value(err, err_size,
					"`guest_mac` must be six hexadecimal "
					"bytes separated by ':'");
		else if (n.guest_mac[0] & 1)
			ret = bad_value(err, err_size,
					"`guest_mac` is a multicast address");
		n.has_guest_mac = true;
	}
	if (!ret)
		ret = jf_unsupported(obj, "mtu",
				     "VIRTIO_NET_F_MTU is not implemented", err,
				     err_size);
	if (!ret)
		ret = jf_unsupported(obj, "rx_rate_limiter",
				     "rate limiters are not implemented", err,
				     err_size);
	if (!ret)
		ret = jf_unsupported(obj, "tx_rate_limiter",
				     "rate limiters are not implemented", err,
				     err_size);
	free(mac);
	if (ret) {
		vmm_net_free(&n);
		return ret;
	}
	*out = n;
	return 0;
}

int vmm_vsock_from_json(struct vmm_vsock *out, const json_t *obj, char *err,
			size_t err_size)
{
	static const char *const keys[] = {"guest_cid", "uds_path", "vsock_id",
					   NULL};
	struct vmm_vsock v = {.set = true};
	char *ignored = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = jf_expect_keys(obj, "vsock", keys, err, err_size);
	if (!ret)
		ret = jf_u32(obj, "guest_cid", true, &v.guest_cid, err,
			     err_size);
	/* 0-2 are reserved; 0xffffffff is VMADDR_CID_ANY. */
	if (!ret && (v.guest_cid < 3 || v.guest_cid == UINT32_MAX))
		ret = bad_value(err, err_size,
				"`guest_cid` must be from 3 to %u (got %u)",
				UINT32_MAX - 1, v.guest_cid);
	if (!ret)
		ret = jf_string(obj, "uds_path", true, VMM_MAX_VSOCK_UDS_LEN,
				&v.uds_path, err, err_size);
	/* vsock_id is deprecated in Firecracker and has no meaning. */
	if (!ret)
		ret = jf_string(obj, "vsock_id", false, VMM_MAX_ID_LEN,
				&ignored, err, err_size);
	free(ignored);
	if (ret) {
		vmm_vsock_free(&v);
		return ret;
	}
	*out = v;
	return 0;
}

int vmm_entropy_from_json(struct vmm_entropy *out, const json_t *obj, char *err,
			  size_t err_size)
{
	static const char *const keys[] = {"rate_limiter", NULL};
	int ret;

	memset(out, 0, sizeof(*out));
	ret = jf_expect_keys(obj, "entropy", keys, err, err_size);
	if (!ret)
		ret = jf_unsupported(obj, "rate_limiter",
				     "rate limiters are not implemented", err,
				     err_size);
	if (ret)
		return ret;
	out->set = true;
	return 0;
}

/* Firecracker takes the level in any case; "Warn" is an alias. */
static int parse_level(const json_t *obj, enum vmm_log_level *out, char *err,
		       size_t err_size)
{
	const json_t *v = jf_get(obj, "level");
	unsigned int i;
	char q[72];

	if (!v)
		return 0;
	if (!json_is_string(v)) {
		snprintf(err, err_size,
			 "invalid type: expected a string for `level`");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (!strcasecmp(json_string_value(v), level_names[i])) {
			*out = (enum vmm_log_level)i;
			return 0;
		}
	}
	if (!strcasecmp(json_string_value(v), "Warn")) {
		*out = VMM_LOG_WARNING;
		return 0;
	}
	jf_quote(q, sizeof(q), json_string_value(v));
	snprintf(err, err_size,
		 "unknown variant `%s`, expected one of `Error`, `Warning`, "
		 "`Info`, `Debug`, `Trace`, `Off` for `level`",
		 q);
	return -EINVAL;
}

int vmm_logger_from_json(struct vmm_logger *out, const json_t *obj, char *err,
			 size_t err_size)
{
	static const char *const keys[] = {
		"log_path",	   "level",  "show_level",
		"show_log_origin", "module", NULL,
	};
	struct vmm_logger l = {.set = true, .level = VMM_LOG_INFO};
	int ret;

	memset(out, 0, sizeof(*out));
	out->level = VMM_LOG_INFO;
	ret = jf_expect_keys(obj, "logger", keys, err, err_size);
	if (!ret)
		ret = jf_string(obj, "log_path", false, VMM_MAX_PATH_LEN,
				&l.log_path, err, err_size);
	if (!ret)
		ret = parse_level(obj, &l.level, err, err_size);
	if (!ret)
		ret = jf_bool(obj, "show_level", false, &l.show_level, err,
			      err_size);
	if (!ret)
		ret = jf_bool(obj, "show_log_origin", false, &l.show_log_origin,
			      err, err_size);
	if (!ret)
		ret = jf_string(obj, "module", false, MODULE_MAX_LEN, &l.module,
				err, err_size);
	if (ret) {
		vmm_logger_free(&l);
		return ret;
	}
	*out = l;
	return 0;
}

int vmm_metrics_from_json(struct vmm_metrics *out, const json_t *obj, char *err,
			  size_t err_size)
{
	static const char *const keys[] = {"metrics_path", NULL};
	struct vmm_metrics m = {.set = true};
	int ret;

	memset(out, 0, sizeof(*out));
	ret = jf_expect_keys(obj, "metrics", keys, err, err_size);
	if (!ret)
		ret = jf_string(obj, "metrics_path", true, VMM_MAX_PATH_LEN,
				&m.metrics_path, err, err_size);
	if (ret) {
		vmm_metrics_free(&m);
		return ret;
	}
	*out = m;
	return 0;
}

int vmm_serial_from_json(struct vmm_serial *out, const json_t *obj, char *err,
			 size_t err_size)
{
	static const char *const keys[] = {"serial_out_path", "rate_limiter",
					   NULL};
	struct vmm_serial s = {.set = true};
	int ret;

	memset(out, 0, sizeof(*out));
	ret = jf_expect_keys(obj, "serial", keys, err, err_size);
	if (!ret)
		ret = jf_unsupported(obj, "rate_limiter",
				     "rate limiters are not implemented", err,
				     err_size);
	if (!ret)
		ret = jf_string(obj, "serial_out_path", false, VMM_MAX_PATH_LEN,
				&s.serial_out_path, err, err_size);
	if (ret) {
		vmm_serial_free(&s);
		return ret;
	}
	*out = s;
	return 0;
}

void vmm_serial_free(struct vmm_serial *s)
{
	free(s->serial_out_path);
	memset(s, 0, sizeof(*s));
}

int vmm_config_find_drive(const struct vmm_config *cfg, const char *drive_id)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_drives; i++)
		if (!strcmp(cfg->drives[i].drive_id, drive_id))
			return (int)i;
	return -1;
}

int vmm_config_find_net(const struct vmm_config *cfg, const char *iface_id)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_nets; i++)
		if (!strcmp(cfg->nets[i].iface_id, iface_id))
			return (int)i;
	return -1;
}

int vmm_config_put_drive(struct vmm_config *cfg, struct vmm_drive *d, char *err,
			 size_t err_size)
{
	int pos = vmm_config_find_drive(cfg, d->drive_id);
	struct vmm_drive tmp;

	/* A root device, if any, is drives[0]. */
	if (d->is_root_device && cfg->nr_drives &&
	    cfg->drives[0].is_root_device && pos != 0)
		return bad_value(err, err_size,
				 "A root block device already exists! (drive "
				 "`%s`)",
				 cfg->drives[0].drive_id);
	if (pos < 0) {
		if (cfg->nr_drives >= VMM_MAX_DRIVES)
			return bad_value(err, err_size,
					 "too many drives (at most %u)",
					 VMM_MAX_DRIVES);
		pos = (int)cfg->nr_drives++;
	} else {
		vmm_drive_free(&cfg->drives[pos]);
	}
	cfg->drives[pos] = *d;
	memset(d, 0, sizeof(*d));
	if (cfg->drives[pos].is_root_device && pos > 0) {
		/* Move it to the front, keeping the others in order. */
		tmp = cfg->drives[pos];
		memmove(&cfg->drives[1], &cfg->drives[0],
			(size_t)pos * sizeof(tmp));
		cfg->drives[0] = tmp;
	}
	return 0;
}

int vmm_config_put_net(struct vmm_config *cfg, struct vmm_net *n, char *err,
		       size_t err_size)
{
	int pos = vmm_config_find_net(cfg, n->iface_id);
	unsigned int i;

	for (i = 0; i < cfg->nr_nets; i++) {
		const struct vmm_net *o = &cfg->nets[i];

		if ((int)i == pos)
			continue;
		if (!strcmp(o->host_dev_name, n->host_dev_name))
			return bad_value(err, err_size,
					 "The host device name `%s` is already "
					 "in use by interface `%s`",
					 n->host_dev_name, o->iface_id);
		if (n->has_guest_mac && o->has_guest_mac &&
		    !memcmp(o->guest_mac, n->guest_mac, 6))
			return bad_value(err, err_size,
					 "The guest MAC address is already in "
					 "use by interface `%s`",
					 o->iface_id);
	}
	if (pos < 0) {
		if (cfg->nr_nets >= VMM_MAX_NETS)
			return bad_value(err, err_size,
					 "too many network interfaces (at "
					 "most %u)",
					 VMM_MAX_NETS);
		pos = (int)cfg->nr_nets++;
	} else {
		vmm_net_free(&cfg->nets[pos]);
	}
	cfg->nets[pos] = *n;
	memset(n, 0, sizeof(*n));
	return 0;
}

/* Section `key` of a config file: -EOPNOTSUPP unless absent or null. */
static int config_unsupported(const json_t *root, const char *key,
			      const char *what, char *err, size_t err_size)
{
	const json_t *v = jf_get(root, key);

	if (!v || (json_is_array(v) && json_array_size(v) == 0))
		return 0;
	snprintf(err, err_size, "%s: %s not supported by lgvmm", key, what);
	return -EOPNOTSUPP;
}

static int config_array(const json_t *root, const char *key, const json_t **out,
			char *err, size_t err_size)
{
	*out = jf_get(root, key);
	if (*out && !json_is_array(*out)) {
		snprintf(err, err_size,
			 "invalid type: expected an array for "
			 "`%s`",
			 key);
		return -EINVAL;
	}
	return 0;
}

/* Reads everything into tmp; the error text is prefixed by the section. */
static int config_read(struct vmm_config *tmp, const json_t *root, char *err,
		       size_t err_size)
{
	static const char *const keys[] = {
		"boot-source",	  "drives",
		"machine-config", "network-interfaces",
		"vsock",	  "entropy",
		"logger",	  "metrics",
		"balloon",	  "mmds-config",
		"cpu-config",	  "pmem",
		"memory-hotplug", NULL,
	};
	char sub[512];
	const json_t *v, *arr;
	size_t i;
	int ret;

	ret = jf_expect_keys(root, "the configuration", keys, err, err_size);
	if (!ret)
		ret = config_unsupported(root, "balloon", "balloon devices are",
					 err, err_size);
	if (!ret)
		ret = config_unsupported(root, "mmds-config", "MMDS is", err,
					 err_size);
	if (!ret)
		ret = config_unsupported(root, "cpu-config",
					 "custom CPU templates are", err,
					 err_size);
	if (!ret)
		ret = config_unsupported(root, "pmem", "pmem devices are", err,
					 err_size);
	if (!ret)
		ret = config_unsupported(root, "memory-hotplug",
					 "memory hotplug is", err, err_size);
	if (ret)
		return ret;

#define SECTION(name, call)                                                    \
	do {                                                                   \
		v = jf_get(root, name);                                        \
		if (v) {                                                       \
			ret = (call);                                          \
			if (ret) {                                             \
				snprintf(err, err_size, "%s: %s", name, sub);  \
				return ret;                                    \
			}                                                      \
		}                                                              \
	} while (0)

	SECTION("boot-source",
		vmm_boot_source_from_json(&tmp->boot, v, sub, sizeof(sub)));
	SECTION("machine-config",
		vmm_machine_config_from_json(&tmp->machine, v, false, sub,
					     sizeof(sub)));
	SECTION("vsock", vmm_vsock_from_json(&tmp->vsock, v, sub, sizeof(sub)));
	SECTION("entropy",
		vmm_entropy_from_json(&tmp->entropy, v, sub, sizeof(sub)));
	SECTION("logger",
		vmm_logger_from_json(&tmp->logger, v, sub, sizeof(sub)));
	SECTION("metrics",
		vmm_metrics_from_json(&tmp->metrics, v, sub, sizeof(sub)));
#undef SECTION

	ret = config_array(root, "drives", &arr, err, err_size);
	for (i = 0; !ret && arr && i < json_array_size(arr); i++) {
		struct vmm_drive d;

		ret = vmm_drive_from_json(&d, json_array_get(arr, i), sub,
					  sizeof(sub));
		if (!ret) {
			ret = vmm_config_put_drive(tmp, &d, sub, sizeof(sub));
			vmm_drive_free(&d);
		}
		if (ret)
			snprintf(err, err_size, "drives[%zu]: %s", i, sub);
	}
	if (!ret)
		ret = config_array(root, "network-interfaces", &arr, err,
				   err_size);
	for (i = 0; !ret && arr && i < json_array_size(arr); i++) {
		struct vmm_net n;

		ret = vmm_net_from_json(&n, json_array_get(arr, i), sub,
					sizeof(sub));
		if (!ret) {
			ret = vmm_config_put_net(tmp, &n, sub, sizeof(sub));
			vmm_net_free(&n);
		}
		if (ret)
			snprintf(err, err_size, "network-interfaces[%zu]: %s",
				 i, sub);
	}
	return ret;
}

int vmm_config_from_json(struct vmm_config *cfg, const json_t *root, char *err,
			 size_t err_size)
{
	struct vmm_config tmp;
	int ret;

	vmm_config_init(&tmp);
	ret = config_read(&tmp, root, err, err_size);
	if (ret) {
		vmm_config_free(&tmp);
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	vmm_config_free(cfg);
	*cfg = tmp;
	return 0;
}

static json_t *drive_to_json(const struct vmm_drive *d)
{
	return json_pack(
		"{s:s, s:s, s:b, s:b, s:s?, s:s, s:s, s:n}", "drive_id",
		d->drive_id, "path_on_host", d->path_on_host, "is_root_device",
		d->is_root_device, "is_read_only", d->is_read_only, "partuuid",
		d->partuuid, "cache_type", vmm_cache_type_name(d->cache_type),
		"io_engine", "Sync", "rate_limiter");
}

static json_t *net_to_json(const struct vmm_net *n)
{
	char mac[18];

	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		 n->guest_mac[0], n->guest_mac[1], n->guest_mac[2],
		 n->guest_mac[3], n->guest_mac[4], n->guest_mac[5]);
	return json_pack("{s:s, s:s, s:s?, s:n, s:n}", "iface_id", n->iface_id,
			 "host_dev_name", n->host_dev_name, "guest_mac",
			 n->has_guest_mac ? mac : NULL, "rx_rate_limiter",
			 "tx_rate_limiter");
}

json_t *vmm_config_to_json(const struct vmm_config *cfg)
{
	json_t *root, *drives, *nets, *o;
	unsigned int i;

	drives = json_array();
	nets = json_array();
	for (i = 0; drives && i < cfg->nr_drives; i++)
		if (json_array_append_new(drives,
					  drive_to_json(&cfg->drives[i])))
			goto fail;
	for (i = 0; nets && i < cfg->nr_nets; i++)
		if (json_array_append_new(nets, net_to_json(&cfg->nets[i])))
			goto fail;
	root = json_pack(
		"{s:o?, s:o, s:o, s:o, s:n, s:n}", "boot-source",
		cfg->boot.set
			? json_pack("{s:s, s:s?, s:s?}", "kernel_image_path",
				    cfg->boot.kernel_image_path, "initrd_path",
				    cfg->boot.initrd_path, "boot_args",
				    cfg->boot.boot_args)
			: NULL,
		"drives", drives, "network-interfaces", nets, "machine-config",
		vmm_machine_config_to_json(&cfg->machine), "balloon",
		"mmds-config");
	/* json_pack stole drives and nets, on failure too. */
	drives = nets = NULL;
	if (!root)
		return NULL;
	o = cfg->vsock.set ? json_pack("{s:I, s:s}", "guest_cid",
				       (json_int_t)cfg->vsock.guest_cid,
				       "uds_path", cfg->vsock.uds_path)
			   : json_null();
	if (json_object_set_new(root, "vsock", o))
		goto fail_root;
	o = cfg->entropy.set ? json_object() : json_null();
	if (json_object_set_new(root, "entropy", o))
		goto fail_root;
	o = cfg->logger.set
		    ? json_pack("{s:s?, s:s, s:b, s:b, s:s?}", "log_path",
				cfg->logger.log_path, "level",
				vmm_log_level_name(cfg->logger.level),
				"show_level", cfg->logger.show_level,
				"show_log_origin", cfg->logger.show_log_origin,
				"module", cfg->logger.module)
		    : json_null();
	if (json_object_set_new(root, "logger", o))
		goto fail_root;
	o = cfg->metrics.set ? json_pack("{s:s}", "metrics_path",
					 cfg->metrics.metrics_path)
			     : json_null();
	if (json_object_set_new(root, "metrics", o))
		goto fail_root;
	return root;
fail_root:
	json_decref(root);
	return NULL;
fail:
	json_decref(drives);
	json_decref(nets);
	return NULL;
}

static int dup_str(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return 0;
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

int vmm_config_copy(struct vmm_config *dst, const struct vmm_config *src)
{
	unsigned int i;
	int ret = 0;

	*dst = *src;
	ret |= dup_str(&dst->boot.kernel_image_path,
		       src->boot.kernel_image_path);
	ret |= dup_str(&dst->boot.initrd_path, src->boot.initrd_path);
	ret |= dup_str(&dst->boot.boot_args, src->boot.boot_args);
	for (i = 0; i < src->nr_drives; i++) {
		ret |= dup_str(&dst->drives[i].drive_id,
			       src->drives[i].drive_id);
		ret |= dup_str(&dst->drives[i].path_on_host,
			       src->drives[i].path_on_host);
		ret |= dup_str(&dst->drives[i].partuuid,
			       src->drives[i].partuuid);
	}
	for (i = 0; i < src->nr_nets; i++) {
		ret |= dup_str(&dst->nets[i].iface_id, src->nets[i].iface_id);
		ret |= dup_str(&dst->nets[i].host_dev_name,
			       src->nets[i].host_dev_name);
	}
	ret |= dup_str(&dst->vsock.uds_path, src->vsock.uds_path);
	ret |= dup_str(&dst->logger.log_path, src->logger.log_path);
	ret |= dup_str(&dst->logger.module, src->logger.module);
	ret |= dup_str(&dst->metrics.metrics_path, src->metrics.metrics_path);
	ret |= dup_str(&dst->serial.serial_out_path,
		       src->serial.serial_out_path);
	if (ret) {
		vmm_config_free(dst);
		return -ENOMEM;
	}
	return 0;
}
