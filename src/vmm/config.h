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
/* Firecracker's default kernel command line. */
#define VMM_DEFAULT_BOOT_ARGS                                                  \
	"reboot=k panic=1 pci=off nomodule 8250.nr_uarts=0 i8042.noaux "      \
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
};

/* Defaults: 1 vCPU, 128 MiB, nothing else. */
void vmm_config_init(struct vmm_config *cfg);
void vmm_config_free(struct vmm_config *cfg);

/* The kernel command line to use (boot_args or the default). */
const char *vmm_config_boot_args(const struct vmm_config *cfg);

/*
 * Fills cfg from a --config-file / GET /vm/config shaped JSON object.
 * 0, or -EINVAL with a Firecracker-style fault message in err.
 */
int vmm_config_from_json(struct vmm_config *cfg, const json_t *root,
			 char *err, size_t err_size);

/* The GET /vm/config object; NULL on allocation failure. */
json_t *vmm_config_to_json(const struct vmm_config *cfg);

#endif
