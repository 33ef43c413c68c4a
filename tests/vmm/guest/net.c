/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-net through its real interface, with a host peer on the TAP:
 * the guest reads its MAC, sends a broadcast frame (ethertype 0x88b5,
 * "hello from guest"), then one asking for TCP segmentation it never
 * negotiated (the device must drop it), and waits for the host's answer
 * (ethertype 0x88b6, "hello from host"). Frames of other types (the
 * host kernel's own traffic) are skipped.
 */
#include "virtio.h"

#define VIRTIO_ID_NET 1
#define NET_F_MAC (1ull << 5)
#define RXQ 0
#define TXQ 1
#define NR_RX 8u
#define RX_SIZE 2048u
#define GSO_TCPV4 1
#define TYPE_GUEST 0x88b5
#define TYPE_HOST 0x88b6
#define FRAME_PAYLOAD 64u

struct net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;
} __attribute__((packed));

struct frame {
	struct net_hdr h;
	uint8_t dst[6];
	uint8_t src[6];
	uint8_t type[2];
	char payload[FRAME_PAYLOAD];
} __attribute__((packed));

static struct vdev dev;
static struct vq rxq, txq;
static uint8_t rx[NR_RX][RX_SIZE];
static int rx_of_head[VQ_MAX];
static struct frame tx;
static uint8_t mac[6];
static int failures;

static void rx_post(int i)
{
	struct vbuf b = {rx[i], RX_SIZE, 1};
	int head = vq_add(&rxq, &b, 1);

	if (head >= 0)
		rx_of_head[head] = i;
}

static void send_frame(const char *text, uint8_t gso)
{
	struct vbuf b = {&tx, sizeof(tx), 0};
	unsigned int i;

	memset(&tx, 0, sizeof(tx));
	tx.h.gso_type = gso;
	for (i = 0; i < 6; i++) {
		tx.dst[i] = 0xff;
		tx.src[i] = mac[i];
	}
	tx.type[0] = TYPE_GUEST >> 8;
	tx.type[1] = TYPE_GUEST & 0xff;
	for (i = 0; text[i] && i < FRAME_PAYLOAD - 1; i++)
		tx.payload[i] = text[i];
	if (vq_transfer(&txq, &b, 1) < 0) {
		uart_puts("net: FAIL tx not completed\n");
		failures++;
	}
}

/* Waits for the host's frame; prints its text. */
static void receive_host_frame(void)
{
	uint64_t t0 = rdtsc();
	uint32_t id, len, skipped = 0;

	while (rdtsc() - t0 < VIRTIO_TIMEOUT_CYCLES) {
		const struct frame *f;
		int i;

		if (!vq_get_used(&rxq, &id, &len)) {
			cpu_relax();
			continue;
		}
		i = rx_of_head[id];
		f = (const struct frame *)rx[i];
		if (len >= sizeof(struct net_hdr) + 14 &&
		    f->type[0] == (TYPE_HOST >> 8) &&
		    f->type[1] == (TYPE_HOST & 0xff)) {
			char text[FRAME_PAYLOAD];
			unsigned int k;

			for (k = 0; k + 1 < sizeof(text) &&
				    sizeof(struct net_hdr) + 14 + k < len &&
				    f->payload[k];
			     k++)
				text[k] = f->payload[k];
			text[k] = 0;
			put_kv("net: ", "host frame num_buffers ",
			       f->h.num_buffers);
			uart_puts("net: received from host: ");
			uart_puts(text);
			uart_putc('\n');
			report(skipped);
			rx_post(i);
			vq_kick(&rxq);
			return;
		}
		skipped++;
		rx_post(i);
		vq_kick(&rxq);
	}
	uart_puts("net: FAIL no frame from the host\n");
	failures++;
}

int guest_main(void)
{
	unsigned int i;

	if (!vdev_find(VIRTIO_ID_NET, 0, &dev)) {
		uart_puts("net: no device\n");
		return 1;
	}
	if (vdev_begin(&dev, NET_F_MAC) < 0 || vq_setup(&dev, &rxq, RXQ) < 0 ||
	    vq_setup(&dev, &txq, TXQ) < 0) {
		uart_puts("net: setup failed\n");
		return 2;
	}
	vdev_driver_ok(&dev);
	for (i = 0; i < 6; i++)
		mac[i] = vdev_config8(&dev, i);
	uart_puts("net: mac");
	for (i = 0; i < 6; i++) {
		uart_putc(i ? ':' : ' ');
		put_hex(mac[i]);
	}
	uart_putc('\n');
	for (i = 0; i < NR_RX; i++)
		rx_post((int)i);
	vq_kick(&rxq);

	send_frame("hello from guest", 0);
	uart_puts("net: sent hello frame\n");
	send_frame("bad gso", GSO_TCPV4);
	uart_puts("net: sent a frame asking for unnegotiated gso\n");
	receive_host_frame();
	if (vdev_status(&dev) & (VSTAT_NEEDS_RESET | VSTAT_FAILED)) {
		uart_puts("net: FAIL device needs reset\n");
		failures++;
	}
	put_kv("net: ", "done failures ", (uint64_t)failures);
	return failures;
}
