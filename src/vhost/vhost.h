/*
 * vhost: the vhost-user protocol — the unix socket (server or client mode),
 * the message handler and the device state a frontend (QEMU, DPDK
 * virtio-user) configures through it. src/port/port_vhost.c glues a device
 * to the port interface; the rings themselves are src/virtio's.
 *
 * A device is created with its socket and lives until vhost_dev_destroy.
 * Frontends come and go: on a disconnect the device state is reset (rings
 * stopped, memory unmapped, fds closed), the device stays, a server listens
 * again and a client reconnects with exponential backoff (100 ms → 5 s).
 *
 * Queues: the frontend's vq 2k is the guest's RX queue of pair k (we
 * enqueue into it), 2k+1 its TX queue (we dequeue from it); up to max_qp
 * pairs.
 *
 * Thread-safety. Everything except the hot-path helpers below runs on the
 * control thread (the event loop of core.h). PMD threads are liburcu QSBR
 * readers: they read dev->mem with rcu_dereference() and each vq's state
 * (vq_ready) between two quiescent states. Before the control thread
 * changes anything a PMD may use — stopping a ring for GET_VRING_BASE, new
 * ring addresses, a new memory table, a reset or a disconnect — it makes the
 * vq not live with a release store (vq_stop) and waits synchronize_rcu();
 * only then does it touch the ring, unmap memory or close an fd. New memory
 * tables are published with rcu_assign_pointer and the old one is unmapped
 * after the grace period. Whenever the set of ready queues or a kick fd
 * changes, pmd_reconfigure() tells sleeping PMDs to rebuild their
 * notification sets.
 *
 * Security model. The frontend is trusted only as far as the protocol:
 * every message is size-checked against the table in vhost_msg.c, carries
 * exactly the number of fds its request expects (the fds of a rejected
 * message are closed), every index is checked against the queue count and
 * every memory region is bounded by guest_mem_map() against its fd's real
 * size. A malformed message, or a ring the guest broke, disconnects that
 * frontend and resets the device; it never stops the daemon or another
 * device. Sockets are non-blocking, replies never block: a frontend that
 * does not read its replies is disconnected.
 */
#ifndef XVIO_VHOST_H
#define XVIO_VHOST_H

#include <stdalign.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/core.h"
#include "../virtio/virtio.h"

#define VHOST_MAX_QP		8
#define VHOST_MAX_VQS		(2 * VHOST_MAX_QP)

/* Device-level counters, listed once (show/stats print the names). */
#define VHOST_COUNTERS(X) \
	X(CONNECTS,      "connects")         /* frontend connections accepted/made */ \
	X(DISCONNECTS,   "disconnects")      \
	X(RECONNECTS,    "reconnect_tries")  /* client mode connect attempts after the first */ \
	X(MSG_ERRORS,    "msg_errors")       /* malformed/unknown message: disconnected */ \
	X(BROKEN_RINGS,  "broken_rings")     /* a guest broke a ring: disconnected */ \
	X(REPLY_FAIL,    "reply_fail")       /* peer did not read its replies */ \
	X(REJECTED_PEER, "rejected_peers")   /* second frontend while one is connected */ \
	X(RARP,          "rarp")             /* SEND_RARP requests */

enum vhost_counter {
#define X(e, s) VHOST_C_##e,
	VHOST_COUNTERS(X)
#undef X
	VHOST_C_MAX
};

extern const char *const vhost_counter_names[VHOST_C_MAX];

/* One virtqueue and the vhost side's bookkeeping around it. */
struct vhost_vq {
	struct vq vq;			/* src/virtio's; first, hot */
	/* Serialises enqueue when several PMDs map onto this guest RX vq;
	 * taken once per burst, never per packet. */
	alignas(CACHE_LINE) uint8_t tx_lock;
	/* Kick fd the PMD sleeps on, -1 = none; release-stored by the
	 * control thread, read by PMDs through vhost_vq_kickfd. */
	int kickfd;
	/* Control thread only. */
	int callfd;
	int errfd;
	bool kick_set;			/* SET_VRING_KICK seen since last stop */
	bool polling;			/* kick came with VHOST_USER_VRING_NOFD_MASK */
	uint64_t n_broken_seen[VQ_BROKEN_MAX];	/* survives resets, for stats */
};

struct vhost_dev {
	/* Read by PMDs. */
	struct guest_mem *mem;		/* RCU: rcu_dereference() on PMDs */
	/* Bit k set: guest RX vq 2k is live (control thread, release store). */
	uint32_t rx_ready_mask;
	uint16_t max_qp;
	uint8_t broken_reported;	/* a PMD saw a broken ring (once) */
	int broken_efd;			/* PMD → control: "a ring broke" */

	struct vhost_vq vqs[VHOST_MAX_VQS];

	/* Control thread only. */
	alignas(CACHE_LINE) char name[32];
	char path[108];
	bool client;
	bool connected;
	int listen_fd;
	int conn_fd;
	struct vhost_conn *conn;	/* input buffer of the current frontend */
	uint32_t live_mask;		/* bit per live vq, as last told to the PMDs */
	struct ev_timer *reconnect_timer;
	uint32_t backoff_ms;

	uint64_t features;		/* acked by SET_FEATURES */
	uint64_t protocol_features;
	bool features_set;
	bool owner_set;
	bool status_set;
	uint8_t status;			/* SET_STATUS */
	uint16_t mtu;			/* NET_SET_MTU, 0 = not set */
	uint8_t rarp_mac[6];		/* last SEND_RARP */
	uint8_t rarp_pending;		/* set by SEND_RARP, taken by vhost_dev_take_rarp */
	void *log_map;			/* SET_LOG_BASE mapping */
	uint64_t log_map_len;
	struct dirty_log *log;
	int log_fd;			/* SET_LOG_FD */
	uint64_t counters[VHOST_C_MAX];
	/* Called after the state of the device changed (connect,
	 * disconnect, queue ready or stopped; control thread): the port
	 * reports link changes through it, tests watch it. */
	void (*on_change)(struct vhost_dev *dev, void *arg);
	void *on_change_arg;
};

/*
 * Create a device for socket `path`. Server mode: unlink a stale socket,
 * bind and listen. Client mode: try to connect now and keep retrying with
 * backoff. max_qp is 1..VHOST_MAX_QP. Returns NULL with errno and a reason
 * ("<path>: Permission denied") in err. Needs ev_init() done.
 */
struct vhost_dev *vhost_dev_create(const char *name, const char *path, bool client,
				   uint16_t max_qp, char *err, size_t errlen);
/* Disconnect, remove the socket file (server mode), free everything. */
void vhost_dev_destroy(struct vhost_dev *dev);

/* Link: a frontend is connected and at least one queue pair is ready. */
bool vhost_dev_link_up(const struct vhost_dev *dev);
/* Kind-specific show/stats for the port (control thread). */
void vhost_dev_show(struct vhost_dev *dev, json_t *obj);
void vhost_dev_stats(struct vhost_dev *dev, json_t *extra);
/* Names of the feature bits in `features` (protocol: the vhost-user ones). */
json_t *vhost_feature_names(uint64_t features, bool protocol);

/*
 * SEND_RARP hook: if a RARP was requested since the last call, copy the MAC
 * and return true (the datapath then emits a RARP/gratuitous frame from the
 * port so switches relearn the migrated guest). Any thread.
 */
bool vhost_dev_take_rarp(struct vhost_dev *dev, uint8_t mac[6]);

/* ---- hot path helpers (PMD threads) ---- */

static inline struct vq *vhost_vq_get(struct vhost_dev *dev, uint16_t idx)
{
	return &dev->vqs[idx].vq;
}

static inline int vhost_vq_kickfd(const struct vhost_dev *dev, uint16_t idx)
{
	return __atomic_load_n(&dev->vqs[idx].kickfd, __ATOMIC_ACQUIRE);
}

/* A PMD found a broken ring: tell the control thread once (one eventfd
 * write), which disconnects the frontend. Cold. */
void vhost_dev_report_broken(struct vhost_dev *dev) __cold;

#endif
