/*
 * vhost device state: memory table, rings, notification fds, dirty log,
 * and the life cycle create → connect → configure → disconnect → destroy.
 * Control thread only, except vhost_dev_report_broken and
 * vhost_dev_take_rarp.
 *
 * Every change a PMD could observe follows one pattern: unpublish (vq_stop,
 * a -1 fd, a NULL pointer — release stores), synchronize_rcu(), then free,
 * close or unmap. PMDs are QSBR readers that report a quiescent state once
 * per loop and go offline while they sleep, so a grace period is short; the
 * control thread is not a reader and may wait for one anywhere.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include "../pmd/pmd.h"
#include "vhost_priv.h"

const char *const vhost_counter_names[VHOST_C_MAX] = {
#define X(e, s) [VHOST_C_##e] = s,
	VHOST_COUNTERS(X)
#undef X
};

void vhost_pmd_reconfigure(void)
{
	pmd_reconfigure();
}

void vhost_dev_notify_change(struct vhost_dev *dev)
{
	if (dev->on_change)
		dev->on_change(dev, dev->on_change_arg);
}

struct vhost_dev *vhost_dev_alloc(const char *name, uint16_t max_qp)
{
	struct vhost_dev *dev;

	if (max_qp == 0 || max_qp > VHOST_MAX_QP) {
		errno = EINVAL;
		return NULL;
	}
	dev = aligned_alloc(CACHE_LINE, ALIGN_UP(sizeof(*dev), CACHE_LINE));
	if (!dev)
		return NULL;
	memset(dev, 0, sizeof(*dev));
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	dev->max_qp = max_qp;
	dev->listen_fd = dev->conn_fd = dev->log_fd = -1;
	dev->conn = calloc(1, sizeof(*dev->conn));
	dev->broken_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!dev->conn || dev->broken_efd < 0) {
		int err = errno;

		if (dev->broken_efd >= 0)
			close(dev->broken_efd);
		free(dev->conn);
		free(dev);
		errno = err;
		return NULL;
	}
	for (uint16_t i = 0; i < VHOST_MAX_VQS; i++) {
		struct vhost_vq *vv = &dev->vqs[i];

		vq_init(&vv->vq, i);
		vv->kickfd = vv->callfd = vv->errfd = -1;
	}
	return dev;
}

void vhost_dev_free(struct vhost_dev *dev)
{
	if (!dev)
		return;
	vhost_dev_reset(dev);
	close(dev->broken_efd);
	free(dev->conn);
	free(dev);
}

static bool stop_all_nosync(struct vhost_dev *dev)
{
	bool any = false;

	for (unsigned i = 0; i < 2u * dev->max_qp; i++) {
		if (dev->vqs[i].vq.started) {
			vq_stop(&dev->vqs[i].vq);
			any = true;
		}
	}
	return any;
}

void vhost_dev_stop_all(struct vhost_dev *dev)
{
	if (stop_all_nosync(dev))
		synchronize_rcu();
}

void vhost_dev_reset(struct vhost_dev *dev)
{
	struct guest_mem *old_mem = dev->mem;
	struct dirty_log *old_log = dev->log;

	/* Unpublish everything a PMD can reach... */
	stop_all_nosync(dev);
	for (unsigned i = 0; i < VHOST_MAX_VQS; i++) {
		struct vhost_vq *vv = &dev->vqs[i];

		__atomic_store_n(&vv->kickfd, -1, __ATOMIC_RELEASE);
		vq_set_callfd(&vv->vq, -1);
		vq_set_dirty_log(&vv->vq, NULL);
		vq_set_enabled(&vv->vq, false);
	}
	__atomic_store_n(&dev->rx_ready_mask, 0, __ATOMIC_RELEASE);
	dev->live_mask = 0;
	rcu_assign_pointer(dev->mem, NULL);
	/* ...wait until no PMD is inside a burst that saw it... */
	synchronize_rcu();
	/* ...then release it. */
	for (unsigned i = 0; i < VHOST_MAX_VQS; i++) {
		struct vhost_vq *vv = &dev->vqs[i];
		int kick = vv->vq.kickfd;

		if (kick >= 0)
			close(kick);
		if (vv->callfd >= 0)
			close(vv->callfd);
		if (vv->errfd >= 0)
			close(vv->errfd);
		for (int r = 0; r < VQ_BROKEN_MAX; r++)
			vv->n_broken_seen[r] += vv->vq.n_broken[r];
		vq_init(&vv->vq, (uint16_t)i);
		vv->kickfd = vv->callfd = vv->errfd = -1;
		vv->kick_set = vv->polling = false;
	}
	guest_mem_unmap(old_mem);
	if (dev->log_map)
		munmap(dev->log_map, dev->log_map_len);
	free(old_log);
	dev->log = NULL;
	dev->log_map = NULL;
	dev->log_map_len = 0;
	if (dev->log_fd >= 0)
		close(dev->log_fd);
	dev->log_fd = -1;
	dev->features = dev->protocol_features = 0;
	dev->features_set = dev->owner_set = dev->status_set = false;
	dev->status = 0;
	dev->mtu = 0;
	__atomic_store_n(&dev->broken_reported, 0, __ATOMIC_RELEASE);
	vhost_pmd_reconfigure();
}

/* A vq runs when the frontend gave it everything (vhost-user.rst "Ring
 * states": started by SET_VRING_KICK, stopped by GET_VRING_BASE) and the
 * driver is running (DRIVER_OK when the frontend uses SET_STATUS). */
static bool vq_should_run(const struct vhost_dev *dev, const struct vhost_vq *vv)
{
	if (!dev->mem || !dev->features_set || !vv->kick_set)
		return false;
	if (!vv->vq.addr_set || vv->vq.num == 0 || vv->vq.broken)
		return false;
	if (dev->status_set && !(dev->status & VIRTIO_CONFIG_S_DRIVER_OK))
		return false;
	return true;
}

/* What the guest had done when the ring started (after a migration: what
 * the source left behind): its avail idx, the used idx in its memory and
 * the used_event it is waiting for. */
static void vhost_log_start(struct vhost_dev *dev, const struct vhost_vq *vv, unsigned i)
{
	struct vq_ring_state st;

	vq_ring_state(&vv->vq, &st);
	if (!st.guest_valid) {
		VHOST_LOG(LOG_INFO, dev, "vq %u started: packed ring, size %u, base 0x%x, %s", i,
			  vv->vq.size, vv->vq.base, vv->vq.enabled ? "enabled" : "disabled");
		return;
	}
	VHOST_LOG(LOG_INFO, dev, "vq %u started: split ring, size %u, base 0x%x, %s; guest avail "
		  "idx 0x%x flags 0x%x, used idx 0x%x, used_event 0x%x", i, vv->vq.size,
		  vv->vq.base, vv->vq.enabled ? "enabled" : "disabled", st.avail_idx,
		  st.avail_flags, st.used_idx, st.used_event);
}

int vhost_dev_update(struct vhost_dev *dev)
{
	bool stopped = false;
	uint32_t rx_mask = 0, live_mask = 0;

	for (unsigned i = 0; i < 2u * dev->max_qp; i++) {
		struct vhost_vq *vv = &dev->vqs[i];
		bool run = vq_should_run(dev, vv);
		int rc;

		if (run && !vv->vq.started) {
			vq_set_features(&vv->vq, dev->features);
			rc = vq_start(&vv->vq, dev->mem);
			if (rc) {
				VHOST_LOG(LOG_ERR, dev, "vq %u: cannot start (size %u): %s", i,
					  vv->vq.num, rc == -EFAULT ? "ring outside guest memory" :
					  strerror(-rc));
				return rc;
			}
			vhost_log_start(dev, vv, i);
		} else if (!run && vv->vq.started) {
			vq_stop(&vv->vq);
			stopped = true;
		}
	}
	if (stopped)
		synchronize_rcu();
	for (unsigned i = 0; i < 2u * dev->max_qp; i++)
		if (vq_ready(&dev->vqs[i].vq))
			live_mask |= 1u << i;
	for (unsigned k = 0; k < dev->max_qp; k++)
		if (live_mask & (1u << (2 * k)))
			rx_mask |= 1u << k;
	__atomic_store_n(&dev->rx_ready_mask, rx_mask, __ATOMIC_RELEASE);
	/* A queue that went live or dead changes what the PMDs poll and
	 * sleep on; nothing else does (kick fd changes tell them apart). */
	if (live_mask != dev->live_mask) {
		dev->live_mask = live_mask;
		vhost_pmd_reconfigure();
	}
	vhost_dev_notify_change(dev);
	return 0;
}

int vhost_dev_set_mem(struct vhost_dev *dev, struct guest_mem *mem)
{
	struct guest_mem *old = dev->mem;

	/* The rings point into the old table: stop them, publish the new
	 * table, wait for every PMD to drop the old one, unmap it, and
	 * restart the rings against the new table (they resume at their
	 * saved base). One grace period covers both. */
	stop_all_nosync(dev);
	rcu_assign_pointer(dev->mem, mem);
	synchronize_rcu();
	guest_mem_unmap(old);
	return vhost_dev_update(dev);
}

void vhost_vq_set_kick(struct vhost_dev *dev __unused, struct vhost_vq *vv, int fd, bool polling)
{
	int old = vv->vq.kickfd;

	vq_set_kickfd(&vv->vq, fd);
	__atomic_store_n(&vv->kickfd, fd, __ATOMIC_RELEASE);
	vv->polling = polling;
	if (old >= 0 && old != fd) {
		/* A PMD that read the old fd number is past its use of it. */
		synchronize_rcu();
		close(old);
	}
	vhost_pmd_reconfigure();
}

void vhost_vq_set_call(struct vhost_dev *dev __unused, struct vhost_vq *vv, int fd)
{
	int old = vv->callfd;

	vq_set_callfd(&vv->vq, fd);
	vv->callfd = fd;
	if (old >= 0 && old != fd) {
		/* No PMD still writes to the old call fd. */
		synchronize_rcu();
		close(old);
	}
}

void vhost_vq_set_err(struct vhost_dev *dev __unused, struct vhost_vq *vv, int fd)
{
	/* We never signal ring errors through it (we disconnect); keep it
	 * only so the frontend's fd lives as long as the ring. */
	if (vv->errfd >= 0 && vv->errfd != fd)
		close(vv->errfd);
	vv->errfd = fd;
}

/* Largest log we map: one bit per 4 KiB page, 2^34 bytes cover 512 TiB. */
#define LOG_SIZE_MAX	(1ull << 34)

int vhost_dev_set_log(struct vhost_dev *dev, int fd, uint64_t size, uint64_t offset)
{
	struct dirty_log *log, *old_log = dev->log;
	void *old_map = dev->log_map, *map;
	uint64_t old_len = dev->log_map_len;
	struct stat st;

	if (size == 0 || size > LOG_SIZE_MAX || offset > LOG_SIZE_MAX)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	/* Past the file's end the mapping would SIGBUS on first write. */
	if (st.st_size < 0 || offset + size > (uint64_t)st.st_size)
		return -ERANGE;
	map = mmap(NULL, size + offset, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -errno;
	log = calloc(1, sizeof(*log));
	if (!log) {
		munmap(map, size + offset);
		return -ENOMEM;
	}
	dirty_log_init(log, (uint8_t *)map + offset, size);
	dev->log = log;
	dev->log_map = map;
	dev->log_map_len = size + offset;
	for (unsigned i = 0; i < VHOST_MAX_VQS; i++)
		vq_set_dirty_log(&dev->vqs[i].vq, log);
	if (old_log) {
		/* No PMD marks pages in the old log any more. */
		synchronize_rcu();
		munmap(old_map, old_len);
		free(old_log);
	}
	VHOST_LOG(LOG_INFO, dev, "dirty log: %llu bytes", (unsigned long long)size);
	return 0;
}

bool vhost_dev_take_rarp(struct vhost_dev *dev, uint8_t mac[6])
{
	if (!__atomic_exchange_n(&dev->rarp_pending, 0, __ATOMIC_ACQ_REL))
		return false;
	memcpy(mac, dev->rarp_mac, 6);
	return true;
}

void vhost_dev_report_broken(struct vhost_dev *dev)
{
	uint64_t one = 1;

	if (__atomic_load_n(&dev->broken_reported, __ATOMIC_RELAXED) ||
	    __atomic_exchange_n(&dev->broken_reported, 1, __ATOMIC_ACQ_REL))
		return;
	/* Non-blocking eventfd; the control thread disconnects the frontend. */
	if (write(dev->broken_efd, &one, sizeof(one)) < 0)
		__atomic_store_n(&dev->broken_reported, 0, __ATOMIC_RELAXED);
}

static void broken_event(int fd, uint32_t events __unused, void *arg)
{
	struct vhost_dev *dev = arg;
	char why[128] = "ring broken";
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	for (unsigned i = 0; i < 2u * dev->max_qp; i++) {
		uint8_t b = __atomic_load_n(&dev->vqs[i].vq.broken, __ATOMIC_RELAXED);

		if (b && b < VQ_BROKEN_MAX) {
			snprintf(why, sizeof(why), "guest broke vq %u: %s", i, vq_broken_names[b]);
			break;
		}
	}
	if (!dev->connected) {
		__atomic_store_n(&dev->broken_reported, 0, __ATOMIC_RELAXED);
		return;
	}
	dev->counters[VHOST_C_BROKEN_RINGS]++;
	vhost_conn_drop(dev, why);
}

struct vhost_dev *vhost_dev_create(const char *name, const char *path, bool client,
				   uint16_t max_qp, char *err, size_t errlen)
{
	struct vhost_dev *dev;
	int rc;

	if (strlen(path) >= sizeof(dev->path)) {
		snprintf(err, errlen, "path=%s: too long (max %zu)", path, sizeof(dev->path) - 1);
		errno = ENAMETOOLONG;
		return NULL;
	}
	dev = vhost_dev_alloc(name, max_qp);
	if (!dev) {
		snprintf(err, errlen, "%s", strerror(errno));
		return NULL;
	}
	snprintf(dev->path, sizeof(dev->path), "%s", path);
	dev->client = client;
	rc = ev_add(dev->broken_efd, EPOLLIN, broken_event, dev);
	if (rc) {
		snprintf(err, errlen, "event loop: %s", strerror(-rc));
		goto err_free;
	}
	rc = vhost_sock_open(dev, err, errlen);
	if (rc)
		goto err_ev;
	return dev;

err_ev:
	ev_del(dev->broken_efd);
err_free:
	vhost_dev_free(dev);
	errno = -rc;
	return NULL;
}

void vhost_dev_destroy(struct vhost_dev *dev)
{
	if (!dev)
		return;
	vhost_sock_close(dev);
	ev_del(dev->broken_efd);
	vhost_dev_free(dev);
}

bool vhost_dev_link_up(const struct vhost_dev *dev)
{
	if (!dev->connected)
		return false;
	for (unsigned k = 0; k < dev->max_qp; k++)
		if (vq_ready(&dev->vqs[2 * k].vq) && vq_ready(&dev->vqs[2 * k + 1].vq))
			return true;
	return false;
}
