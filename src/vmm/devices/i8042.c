/* SPDX-License-Identifier: Apache-2.0 */
/* i8042: status, control register, output buffer, reset line. */
#include "vmm/devices/i8042.h"

#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* Status register. */
#define STS_OBF 0x01	  /* output buffer full: data at 0x60 */
#define STS_SYS 0x04	  /* self test passed */
#define STS_CMD 0x08	  /* last write was to 0x64 */
#define STS_UNLOCKED 0x10 /* keyboard not inhibited */

/* Control register. */
#define CTR_KBDINT 0x01
#define CTR_SYS 0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20

/* Commands. */
#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_AUX_DISABLE 0xa7
#define CMD_AUX_ENABLE 0xa8
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_KBD_DISABLE 0xad
#define CMD_KBD_ENABLE 0xae
#define CMD_READ_OUTP 0xd0
#define CMD_WRITE_OUTP 0xd1
#define CMD_PULSE_FIRST 0xf0

#define REPLY_SELF_TEST_OK 0x55
#define REPLY_KBD_TEST_OK 0x00
#define KBD_ACK 0xfa

/* Set-2 make codes. */
static const uint8_t ctrl_alt_del[] = {0x14, 0x11, 0xe0, 0x71};

struct i8042 {
	pthread_mutex_t lock;
	i8042_reset_fn reset;
	void *reset_opaque;
	i8042_irq_fn irq;
	void *irq_opaque;
	uint8_t status;
	uint8_t ctr;
	uint8_t outp;
	uint8_t pending_cmd; /* awaiting its data byte at 0x60, or 0 */
	uint8_t buf[I8042_BUF_SIZE];
	unsigned int head, len;
	struct i8042_stats stats;
};

int i8042_create(i8042_reset_fn reset, void *reset_opaque, i8042_irq_fn irq,
		 void *irq_opaque, struct i8042 **out)
{
	struct i8042 *dev;
	int err;

	*out = NULL;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	err = pthread_mutex_init(&dev->lock, NULL);
	if (err) {
		free(dev);
		return -err;
	}
	dev->reset = reset;
	dev->reset_opaque = reset_opaque;
	dev->irq = irq;
	dev->irq_opaque = irq_opaque;
	/* As firmware leaves it: keyboard interrupt on, no translation. */
	dev->status = STS_SYS | STS_UNLOCKED;
	dev->ctr = CTR_KBDINT | CTR_SYS;
	*out = dev;
	return 0;
}

void i8042_destroy(struct i8042 *dev)
{
	if (!dev)
		return;
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

/* All ports are one byte wide; other accesses are only counted. */
static bool byte_access(struct i8042 *dev, uint32_t len)
{
	if (len == 1)
		return true;
	pthread_mutex_lock(&dev->lock);
	dev->stats.missed++;
	pthread_mutex_unlock(&dev->lock);
	return false;
}

static void buf_flush(struct i8042 *dev)
{
	dev->head = 0;
	dev->len = 0;
	dev->status &= ~STS_OBF;
}

static bool buf_push(struct i8042 *dev, uint8_t byte)
{
	if (dev->len == I8042_BUF_SIZE)
		return false;
	dev->buf[(dev->head + dev->len) % I8042_BUF_SIZE] = byte;
	dev->len++;
	dev->status |= STS_OBF;
	return true;
}

static uint8_t buf_pop(struct i8042 *dev)
{
	uint8_t byte;

	if (dev->len == 0)
		return 0;
	byte = dev->buf[dev->head];
	dev->head = (dev->head + 1) % I8042_BUF_SIZE;
	if (--dev->len == 0)
		dev->status &= ~STS_OBF;
	return byte;
}

/* Whether keyboard data may interrupt now; counts the interrupt. */
static bool kbd_irq_wanted(struct i8042 *dev)
{
	if (!(dev->ctr & CTR_KBDINT) || !dev->len)
		return false;
	dev->stats.irqs++;
	return true;
}

static void fire(struct i8042 *dev, bool irq, bool reset)
{
	if (irq && dev->irq)
		dev->irq(dev->irq_opaque);
	if (reset && dev->reset)
		dev->reset(dev->reset_opaque);
}

/* A command's reply replaces whatever was waiting in the buffer. */
static void reply(struct i8042 *dev, uint8_t byte)
{
	buf_flush(dev);
	buf_push(dev, byte);
}

static int data_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct i8042 *dev = opaque;
	bool irq = false;

	(void)offset;
	if (!byte_access(dev, len))
		return 0;
	pthread_mutex_lock(&dev->lock);
	dev->stats.reads++;
	data[0] = buf_pop(dev);
	/* More bytes waiting: another interrupt for the next read. */
	irq = kbd_irq_wanted(dev);
	pthread_mutex_unlock(&dev->lock);
	fire(dev, irq, false);
	return 0;
}

static int data_write(void *opaque, uint64_t offset, const uint8_t *data,
		      uint32_t len)
{
	struct i8042 *dev = opaque;
	bool irq = false;

	(void)offset;
	if (!byte_access(dev, len))
		return 0;
	pthread_mutex_lock(&dev->lock);
	dev->stats.writes++;
	dev->status &= ~STS_CMD;
	switch (dev->pending_cmd) {
	case CMD_WRITE_CTR:
		dev->ctr = data[0];
		break;
	case CMD_WRITE_OUTP:
		dev->outp = data[0];
		break;
	default:
		/* A byte for the keyboard: a dumb one acknowledges all. */
		reply(dev, KBD_ACK);
		irq = kbd_irq_wanted(dev);
		break;
	}
	dev->pending_cmd = 0;
	pthread_mutex_unlock(&dev->lock);
	fire(dev, irq, false);
	return 0;
}

static int status_read(void *opaque, uint64_t offset, uint8_t *data,
		       uint32_t len)
{
	struct i8042 *dev = opaque;

	(void)offset;
	if (!byte_access(dev, len))
		return 0;
	pthread_mutex_lock(&dev->lock);
	dev->stats.reads++;
	data[0] = dev->status;
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

static int command_write(void *opaque, uint64_t offset, const uint8_t *data,
			 uint32_t len)
{
	struct i8042 *dev = opaque;
	bool reset = false;
	uint8_t cmd;

	(void)offset;
	if (!byte_access(dev, len))
		return 0;
	cmd = data[0];
	pthread_mutex_lock(&dev->lock);
	dev->stats.writes++;
	dev->status |= STS_CMD;
	dev->pending_cmd = 0;
	switch (cmd) {
	case CMD_READ_CTR:
		reply(dev, dev->ctr);
		break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP:
		dev->pending_cmd = cmd;
		break;
	case CMD_AUX_DISABLE:
		dev->ctr |= CTR_AUXDIS;
		break;
	case CMD_AUX_ENABLE:
		dev->ctr &= ~CTR_AUXDIS;
		break;
	case CMD_SELF_TEST:
		reply(dev, REPLY_SELF_TEST_OK);
		break;
	case CMD_KBD_TEST:
		reply(dev, REPLY_KBD_TEST_OK);
		break;
	case CMD_KBD_DISABLE:
		dev->ctr |= CTR_KBDDIS;
		break;
	case CMD_KBD_ENABLE:
		dev->ctr &= ~CTR_KBDDIS;
		break;
	case CMD_READ_OUTP:
		reply(dev, dev->outp);
		break;
	default:
		/* 0xF0-0xFF pulse output lines low; bit 0 is CPU reset. */
		if (cmd >= CMD_PULSE_FIRST && !(cmd & 1)) {
			dev->stats.resets++;
			reset = true;
		}
		break;
	}
	pthread_mutex_unlock(&dev->lock);
	if (reset)
		lg_info("i8042: the guest reset the machine");
	fire(dev, false, reset);
	return 0;
}

const struct bus_device_ops i8042_data_ops = {
	.name = "i8042-data",
	.read = data_read,
	.write = data_write,
};

const struct bus_device_ops i8042_command_ops = {
	.name = "i8042-command",
	.read = status_read,
	.write = command_write,
};

int i8042_attach(struct i8042 *dev, struct bus *pio)
{
	int err;

	err = bus_register(pio, I8042_DATA_PORT, 1, &i8042_data_ops, dev);
	if (err < 0)
		return err;
	return bus_register(pio, I8042_COMMAND_PORT, 1, &i8042_command_ops,
			    dev);
}

int i8042_send_ctrl_alt_del(struct i8042 *dev)
{
	unsigned int i;
	bool irq;

	pthread_mutex_lock(&dev->lock);
	if (I8042_BUF_SIZE - dev->len < sizeof(ctrl_alt_del)) {
		pthread_mutex_unlock(&dev->lock);
		return -ENOSPC;
	}
	for (i = 0; i < sizeof(ctrl_alt_del); i++)
		buf_push(dev, ctrl_alt_del[i]);
	irq = kbd_irq_wanted(dev);
	pthread_mutex_unlock(&dev->lock);
	fire(dev, irq, false);
	return 0;
}

void i8042_get_stats(struct i8042 *dev, struct i8042_stats *st)
{
	pthread_mutex_lock(&dev->lock);
	*st = dev->stats;
	pthread_mutex_unlock(&dev->lock);
}
