/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-blk: request parsing, bounds checks and synchronous file I/O. */
#include "vmm/devices/virtio-blk.h"
#include "vmm/devices/chain-iov.h"

#include "common/log.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define BLK_HDR_SIZE 16u

struct virtio_blk {
	struct virtio_mmio mmio;
	struct virtio_backend_ops ops;
	int fd;
	bool read_only;
	uint64_t capacity; /* sectors */
	char id[VIRTIO_BLK_ID_BYTES];
	struct virtio_blk_stats stats;
	struct virtq_chain chain;
	struct iovec iov[VIRTQ_MAX_SEGS];
};

struct blk_req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

/* Opens path and measures it; the fd or a negative errno. */
static int open_backing(const char *path, bool read_only, uint64_t *capacity)
{
	struct stat st;
	int fd, err;

	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);

		if (end < 0) {
			err = -errno;
			close(fd);
			return err;
		}
		st.st_size = end;
	}
	if (st.st_size % VIRTIO_BLK_SECTOR_SIZE)
		lg_warn("virtio-blk: %s: size %lld is not a whole number of "
			"sectors; the tail is not accessible",
			path, (long long)st.st_size);
	*capacity = (uint64_t)st.st_size / VIRTIO_BLK_SECTOR_SIZE;
	return fd;
}

/*
 * Gathers len bytes of chain segments [first, last), starting skip
 * bytes in, into blk->iov. Returns the number of iovecs.
 */
static int gather(struct virtio_blk *blk, unsigned int first, unsigned int last,
		  uint64_t skip, uint64_t len)
{
	return chain_iov_gather(&blk->chain, first, last, skip, len, blk->iov,
				VIRTQ_MAX_SEGS);
}

/* Drops the first `done` bytes of iov[0..*n); returns the new start. */
static struct iovec *iov_advance(struct iovec *iov, int *n, size_t done)
{
	while (*n && done >= iov->iov_len) {
		done -= iov->iov_len;
		iov++;
		(*n)--;
	}
	if (*n && done) {
		iov->iov_base = (uint8_t *)iov->iov_base + done;
		iov->iov_len -= done;
	}
	return iov;
}

/* The whole transfer or -EIO; never short. */
static int file_io(struct virtio_blk *blk, int n, uint64_t off, uint64_t len,
		   bool write)
{
	struct iovec *iov = blk->iov;

	while (len) {
		ssize_t r;

		if (write)
			r = pwritev(blk->fd, iov, n, (off_t)off);
		else
			r = preadv(blk->fd, iov, n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			lg_warn("virtio-blk: %s at sector %llu: %s",
				write ? "write" : "read",
				(unsigned long long)(off /
						     VIRTIO_BLK_SECTOR_SIZE),
				strerror(errno));
			return -EIO;
		}
		if (r == 0) /* the file shrank under us */
			return -EIO;
		len -= (uint64_t)r;
		off += (uint64_t)r;
		iov = iov_advance(iov, &n, (size_t)r);
	}
	return 0;
}

/* Whether [sector, sector + len bytes) is whole sectors inside the disk. */
static bool range_ok(const struct virtio_blk *blk, uint64_t sector,
		     uint64_t len)
{
	if (len % VIRTIO_BLK_SECTOR_SIZE)
		return false;
	return sector <= blk->capacity &&
	       len / VIRTIO_BLK_SECTOR_SIZE <= blk->capacity - sector;
}

/*
 * Serves the popped chain; returns the status and sets *written to the
 * bytes put in its writable buffers before the status byte.
 */
static uint8_t blk_serve(struct virtio_blk *blk, uint32_t *written)
{
	const struct virtq_chain *c = &blk->chain;
	/* The status is the last writable byte; data writable ones before. */
	uint64_t in_len = c->write_len - 1;
	struct blk_req_hdr hdr;
	uint64_t len;
	int n;

	*written = 0;
	if (c->read_len < BLK_HDR_SIZE)
		return VIRTIO_BLK_S_IOERR;
	virtq_chain_read(c, 0, &hdr, sizeof(hdr));
	hdr.type = le32toh(hdr.type);
	hdr.sector = le64toh(hdr.sector);

	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		len = in_len;
		if (!range_ok(blk, hdr.sector, len) || len > UINT32_MAX - 1)
			return VIRTIO_BLK_S_IOERR;
		n = gather(blk, c->nr_readable, c->nr_segs, 0, len);
		if (file_io(blk, n, hdr.sector * VIRTIO_BLK_SECTOR_SIZE, len,
			    false) < 0)
			return VIRTIO_BLK_S_IOERR;
		blk->stats.reads++;
		blk->stats.read_bytes += len;
		*written = (uint32_t)len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		len = c->read_len - BLK_HDR_SIZE;
		if (blk->read_only || !range_ok(blk, hdr.sector, len))
			return VIRTIO_BLK_S_IOERR;
		n = gather(blk, 0, c->nr_readable, BLK_HDR_SIZE, len);
		if (file_io(blk, n, hdr.sector * VIRTIO_BLK_SECTOR_SIZE, len,
			    true) < 0)
			return VIRTIO_BLK_S_IOERR;
		blk->stats.writes++;
		blk->stats.write_bytes += len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		blk->stats.flushes++;
		if (!blk->read_only && fdatasync(blk->fd) < 0) {
			lg_warn("virtio-blk: flush: %s", strerror(errno));
			return VIRTIO_BLK_S_IOERR;
		}
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		len = in_len < VIRTIO_BLK_ID_BYTES ? in_len
						   : VIRTIO_BLK_ID_BYTES;
		*written = (uint32_t)virtq_chain_write(c, 0, blk->id, len);
		return VIRTIO_BLK_S_OK;
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

static void blk_notify(void *opaque, struct virtio_mmio *dev, unsigned int qidx)
{
	struct virtio_blk *blk = opaque;
	struct virtq *q = virtio_mmio_queue(dev, qidx);
	bool pushed = false;
	unsigned int budget = q->size;
	int rc = 0;

	/* At most a ring's worth per notify: the vCPU goes back soon. */
	while (budget-- && (rc = virtq_pop(q, &blk->chain)) == 1) {
		struct virtq_chain *c = &blk->chain;
		uint32_t written = 0;
		uint8_t status;

		if (c->write_len == 0) {
			/* Nowhere to put a status: give it back untouched. */
			blk->stats.dropped++;
		} else {
			status = blk_serve(blk, &written);
			if (status != VIRTIO_BLK_S_OK)
				blk->stats.errors++;
			virtq_chain_write(c, c->write_len - 1, &status, 1);
			written++;
		}
		if (virtq_push(q, c->head, written) < 0)
			break;
		pushed = true;
	}
	if (pushed || rc < 0)
		virtio_mmio_notify_used(dev, qidx);
}

static void blk_config_read(void *opaque, uint32_t offset, uint8_t *data,
			    uint32_t len)
{
	struct virtio_blk *blk = opaque;
	uint64_t cap = htole64(blk->capacity);

	/* The transport keeps [offset, offset + len) within config_size. */
	memcpy(data, (const uint8_t *)&cap + offset, len);
}

int virtio_blk_create(const struct virtio_blk_params *params,
		      const struct vm_mem *mem, virtio_irq_fn irq,
		      void *irq_opaque, struct virtio_blk **out)
{
	struct virtio_blk *blk;
	int err;

	*out = NULL;
	if (!params || !params->path)
		return -EINVAL;
	blk = calloc(1, sizeof(*blk));
	if (!blk)
		return -ENOMEM;
	blk->read_only = params->read_only;
	/* NUL-padded, not terminated when it fills all 20 bytes (5.2.6). */
	if (params->drive_id)
		memcpy(blk->id, params->drive_id,
		       strnlen(params->drive_id, sizeof(blk->id)));
	blk->fd = open_backing(params->path, blk->read_only, &blk->capacity);
	if (blk->fd < 0) {
		err = blk->fd;
		lg_err("virtio-blk: %s: %s", params->path, strerror(-err));
		free(blk);
		return err;
	}
	blk->ops = (struct virtio_backend_ops){
		.name = "virtio-blk",
		.device_id = VIRTIO_ID_BLOCK,
		.features = (params->read_only ? 1ull << VIRTIO_BLK_F_RO : 0) |
			    (params->flush ? 1ull << VIRTIO_BLK_F_FLUSH : 0),
		.config_size = sizeof(uint64_t),
		.config_read = blk_config_read,
		.queue_notify = blk_notify,
	};
	err = virtio_mmio_init(&blk->mmio, mem, &blk->ops, blk, 1,
			       VIRTIO_BLK_QUEUE_SIZE, irq, irq_opaque);
	if (err < 0) {
		close(blk->fd);
		free(blk);
		return err;
	}
	*out = blk;
	return 0;
}

void virtio_blk_destroy(struct virtio_blk *blk)
{
	if (!blk)
		return;
	virtio_mmio_destroy(&blk->mmio);
	close(blk->fd);
	free(blk);
}

struct virtio_mmio *virtio_blk_mmio(struct virtio_blk *blk)
{
	return &blk->mmio;
}

uint64_t virtio_blk_capacity(struct virtio_blk *blk)
{
	uint64_t cap;

	virtio_mmio_lock(&blk->mmio);
	cap = blk->capacity;
	virtio_mmio_unlock(&blk->mmio);
	return cap;
}

void virtio_blk_get_stats(struct virtio_blk *blk, struct virtio_blk_stats *st)
{
	virtio_mmio_lock(&blk->mmio);
	*st = blk->stats;
	virtio_mmio_unlock(&blk->mmio);
}

int virtio_blk_update_path(struct virtio_blk *blk, const char *path)
{
	uint64_t capacity;
	int fd, old;

	fd = open_backing(path, blk->read_only, &capacity);
	if (fd < 0)
		return fd;
	virtio_mmio_lock(&blk->mmio);
	old = blk->fd;
	blk->fd = fd;
	blk->capacity = capacity;
	virtio_mmio_config_changed(&blk->mmio);
	virtio_mmio_unlock(&blk->mmio);
	close(old);
	return 0;
}
