/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The machine a user asked for, in Firecracker's terms: what the API's
 * PUT requests and --config-file fill in, what GET /vm/config shows, and
 * what the VMM builds at InstanceStart. Strings are owned (malloc'd) and
 * freed by vmm_config_free(); NULL means "not given".
 */
#ifndef LG_VMM_CONFIG_H
#define LG_VMM_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMM_MAX_VCPUS 32u
#define VMM_MAX_DRIVES 8u
#define VMM_MAX_NETS 4u
#define VMM_DEFAULT_VCPUS 1u
#define VMM_DEFAULT_MEM_MIB 128u
/* Bounds the API enforces (see docs/lgvmm-api.md). */
#define VMM_MAX_MEM_MIB (256u * 1024u)
#define VMM_MAX_ID_LEN 64u	    /* drive_id, iface_id: [A-Za-z0-9_] */
#define VMM_MAX_PATH_LEN 4095u	    /* any host path */
#define VMM_MAX_BOOT_ARGS_LEN 2047u /* x86 COMMAND_LINE_SIZE - 1 */
#define VMM_MAX_IFNAME_LEN 15u	    /* IFNAMSIZ - 1 */
/* sun_path is 108 bytes and guest-initiated connections use
 * "<uds_path>_<port>" (up to 11 more bytes). */
#define VMM_MAX_VSOCK_UDS_LEN 96u
/* Firecracker's default kernel command line. */
#define VMM_DEFAULT_BOOT_ARGS                                                  \
	"reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 i8042.noaux "       \
	"i8042.nomux i8042.nopnp i8042.dumbkbd"

enum vmm_cache_type { VMM_CACHE_UNSAFE, VMM_CACHE_WRITEBACK };

enum vmm_log_level {
	VMM_LOG_OFF,
	VMM_LOG_ERROR,
	VMM_LOG_WARNING,
	VMM_LOG_INFO,
	VMM_LOG_DEBUG,
	VMM_LOG_TRACE,
};

struct vmm_boot_source {
	bool set;
	char *kernel_image_path;
	char *initrd_path;
	char *boot_args; /* NULL: VMM_DEFAULT_BOOT_ARGS */
};

struct vmm_machine_config {
	uint32_t vcpu_count;   /* 1 .. VMM_MAX_VCPUS */
	uint32_t mem_size_mib; /* >= 1 */
	bool smt;
	bool track_dirty_pages;
};

struct vmm_drive {
	char *drive_id;
	char *path_on_host;
	bool is_root_device;
	bool is_read_only;
	char *partuuid;
	enum vmm_cache_type cache_type;
};

struct vmm_net {
	char *iface_id;
	char *host_dev_name; /* a TAP device */
	bool has_guest_mac;
	uint8_t guest_mac[6];
};

struct vmm_vsock {
	bool set;
	uint32_t guest_cid; /* >= 3 */
	char *uds_path;
};

struct vmm_entropy {
	bool set;
};

struct vmm_logger {
	bool set;
	char *log_path;
	enum vmm_log_level level;
	bool show_level;
	bool show_log_origin;
	char *module;
};

/* PUT /serial: the UART's output to a file or FIFO instead of stdout. */
struct vmm_serial {
	bool set;
	char *serial_out_path;
};

struct vmm_metrics {
	bool set;
	char *metrics_path;
};

struct vmm_config {
	struct vmm_boot_source boot;
	struct vmm_machine_config machine;
	struct vmm_drive drives[VMM_MAX_DRIVES];
	unsigned int nr_drives;
	struct vmm_net nets[VMM_MAX_NETS];
	unsigned int nr_nets;
	struct vmm_vsock vsock;
	struct vmm_entropy entropy;
	struct vmm_logger logger;
	struct vmm_metrics metrics;
	struct vmm_serial serial; /* API only: not in the config file */
};

/* Defaults: 1 vCPU, 128 MiB, nothing else. */
void vmm_config_init(struct vmm_config *cfg);
void vmm_config_free(struct vmm_config *cfg);

/* The kernel command line to use (boot_args or the default). */
const char *vmm_config_boot_args(const struct vmm_config *cfg);

/*
 * Fills cfg from a --config-file / GET /vm/config shaped JSON object.
 * 0, or -EINVAL with a Firecracker-style fault message in err.
 * cfg must have been vmm_config_init()ed (or filled before: it is freed
 * and replaced on success, untouched on failure). Sections lgvmm lacks
 * (balloon, mmds-config, cpu-config, pmem, memory-hotplug) must be
 * absent, null or empty.
 */
int vmm_config_from_json(struct vmm_config *cfg, const json_t *root, char *err,
			 size_t err_size);

/* The GET /vm/config object; NULL on allocation failure. */
json_t *vmm_config_to_json(const struct vmm_config *cfg);

/*
 * One section at a time, as the API's PUT requests deliver them. All
 * write a message naming the offending field into err and return:
 *   -EINVAL      malformed: wrong JSON type, unknown or missing field;
 *   -ERANGE      a value out of range or of the wrong form;
 *   -EOPNOTSUPP  a Firecracker feature lgvmm does not implement;
 *   -ENOMEM.
 * On success *out is filled and owned by the caller (free with the
 * matching _free); on failure *out is left empty.
 */
int vmm_boot_source_from_json(struct vmm_boot_source *out, const json_t *obj,
			      char *err, size_t err_size);
/* Updates *mc; partial: PATCH semantics (any subset, at least one). */
int vmm_machine_config_from_json(struct vmm_machine_config *mc,
				 const json_t *obj, bool partial, char *err,
				 size_t err_size);
int vmm_drive_from_json(struct vmm_drive *out, const json_t *obj, char *err,
			size_t err_size);
int vmm_net_from_json(struct vmm_net *out, const json_t *obj, char *err,
		      size_t err_size);
int vmm_vsock_from_json(struct vmm_vsock *out, const json_t *obj, char *err,
			size_t err_size);
int vmm_entropy_from_json(struct vmm_entropy *out, const json_t *obj, char *err,
			  size_t err_size);
int vmm_logger_from_json(struct vmm_logger *out, const json_t *obj, char *err,
			 size_t err_size);
int vmm_metrics_from_json(struct vmm_metrics *out, const json_t *obj, char *err,
			  size_t err_size);

void vmm_boot_source_free(struct vmm_boot_source *bs);
void vmm_drive_free(struct vmm_drive *d);
void vmm_net_free(struct vmm_net *n);
void vmm_vsock_free(struct vmm_vsock *v);
void vmm_logger_free(struct vmm_logger *l);
void vmm_metrics_free(struct vmm_metrics *m);
int vmm_serial_from_json(struct vmm_serial *out, const json_t *obj, char *err,
			 size_t err_size);
void vmm_serial_free(struct vmm_serial *s);

/*
 * Adds the drive or replaces the one with its drive_id (Firecracker's
 * PUT semantics); a root device is kept first. Takes ownership of *d
 * on success (and clears it). -ERANGE: a second root device, too many
 * drives.
 */
int vmm_config_put_drive(struct vmm_config *cfg, struct vmm_drive *d, char *err,
			 size_t err_size);
/* Same for interfaces; host_dev_name and guest_mac must be unique. */
int vmm_config_put_net(struct vmm_config *cfg, struct vmm_net *n, char *err,
		       size_t err_size);
/* Index of the drive / interface with that id, or -1. */
int vmm_config_find_drive(const struct vmm_config *cfg, const char *drive_id);
int vmm_config_find_net(const struct vmm_config *cfg, const char *iface_id);

/* [A-Za-z0-9_]{1,VMM_MAX_ID_LEN} */
bool vmm_config_id_valid(const char *id);

/* Deep copy; 0 or -ENOMEM (dst is then empty). dst is overwritten. */
int vmm_config_copy(struct vmm_config *dst, const struct vmm_config *src);

/* Names as the API spells them ("Unsafe", "Info", ...). */
const char *vmm_cache_type_name(enum vmm_cache_type t);
const char *vmm_log_level_name(enum vmm_log_level l);
json_t *vmm_machine_config_to_json(const struct vmm_machine_config *mc);

#endif
