/* SPDX-License-Identifier: Apache-2.0 */
/* The boot test guests' VM, report ports and bounded run. */
#include "boot-rig.h"

#include "vmm/bus.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PORT_BASE 0x500u
#define PORT_EXIT 0x501u
#define PORT_REPORT 0x503u
#define PORT_CMDLINE 0x504u

static uint32_t le32(const uint8_t *data, uint32_t len)
{
	uint32_t v = 0, i;

	for (i = 0; i < len && i < 4; i++)
		v |= (uint32_t)data[i] << (8 * i);
	return v;
}

static int rec_write(void *opaque, uint64_t offset, const uint8_t *data,
		     uint32_t len)
{
	struct rig_recorder *r = opaque;

	switch (offset + PORT_BASE) {
	case PORT_EXIT:
		r->exit_code = le32(data, len);
		r->exited = true;
		break;
	case PORT_REPORT:
		if (r->nr_reports < RIG_MAX_REPORTS)
			r->reports[r->nr_reports++] = le32(data, len);
		else
			r->overflow++;
		break;
	case PORT_CMDLINE:
		if (r->cmdlen < sizeof(r->cmdline))
			r->cmdline[r->cmdlen++] = (char)data[0];
		else
			r->overflow++;
		break;
	default:
		break;
	}
	return 0;
}

static const struct bus_device_ops rec_ops = {
	.name = "boot-test",
	.write = rec_write,
};

int rig_create(uint64_t ram_size, struct rig_recorder *rec, struct vm **vm,
	       struct vcpu **vcpu)
{
	int err;

	*vcpu = NULL;
	err = vm_create(ram_size, vm);
	if (err < 0) {
		printf("SKIP: KVM unavailable (%s)\n", strerror(-err));
		return 77;
	}
	/* Never hang: the default SIGALRM action ends the process. */
	alarm(20);
	err = bus_register(&(*vm)->pio, PORT_BASE, 16, &rec_ops, rec);
	if (err == 0)
		err = vcpu_create(*vm, 0, vcpu);
	if (err < 0) {
		fprintf(stderr, "setup: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

bool rig_run(struct vcpu *vcpu)
{
	enum vcpu_stop_reason why = VCPU_STOP_REQUESTED;
	int err = vcpu_run(vcpu, &why);

	alarm(0);
	if (err < 0) {
		fprintf(stderr, "vcpu_run: %s\n", strerror(-err));
		return false;
	}
	if (why != VCPU_STOP_HLT) {
		fprintf(stderr, "the guest stopped with %s, not hlt\n",
			vcpu_stop_reason_name(why));
		return false;
	}
	return true;
}

uint32_t rig_next(struct rig_recorder *rec, unsigned int *i)
{
	if (*i >= rec->nr_reports) {
		fprintf(stderr, "missing report %u\n", *i);
		rec->missing++;
		return 0xdeadbeef;
	}
	return rec->reports[(*i)++];
}
