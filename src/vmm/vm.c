/* SPDX-License-Identifier: Apache-2.0 */
/* VM assembly: RAM is allocated here and handed to the accelerator. */
#include "vmm/vm.h"

#include <errno.h>
#include <stdlib.h>

static int vm_map_ram(struct vm *vm)
{
	unsigned int i;
	int err;

	for (i = 0; i < vm->mem.nr_regions; i++) {
		const struct vm_mem_region *r = &vm->mem.regions[i];

		err = accel_map_memory(vm->acc, i, r->gpa, r->size, r->hva);
		if (err < 0)
			return err;
	}
	return 0;
}

int vm_create(uint64_t ram_size, struct vm **out)
{
	const uint64_t gpa = 0;

	return vm_create_regions(&gpa, &ram_size, 1, out);
}

int vm_create_regions(const uint64_t *gpa, const uint64_t *size,
		      unsigned int nr, struct vm **out)
{
	struct vm *vm;
	unsigned int i;
	int err;

	*out = NULL;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return -ENOMEM;
	vm_mem_init(&vm->mem);
	bus_init(&vm->pio, "pio", BUS_PIO_LAST);
	bus_init(&vm->mmio, "mmio", BUS_MMIO_LAST);
	err = accel_create(&vm->acc);
	if (err < 0)
		goto fail;
	for (i = 0; i < nr; i++) {
		err = vm_mem_add(&vm->mem, gpa[i], size[i]);
		if (err < 0)
			goto fail;
	}
	err = vm_map_ram(vm);
	if (err < 0)
		goto fail;
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return err;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	/* The VM goes first: it holds the RAM mappings. */
	accel_destroy(vm->acc);
	vm_mem_free(&vm->mem);
	bus_free(&vm->pio);
	bus_free(&vm->mmio);
	free(vm);
}
