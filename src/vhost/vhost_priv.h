/*
 * vhost private: the vhost-user wire format (QEMU docs/interop/vhost-user.rst)
 * and the calls between the socket, message and device layers. Control
 * thread only.
 */
#ifndef XVIO_VHOST_PRIV_H
#define XVIO_VHOST_PRIV_H

#include <urcu-qsbr.h>

#include "vhost.h"

#define VHOST_LOG(lvl, dev, fmt, ...) \
	LOG(lvl, "vhost", "%s: " fmt, (dev)->name, ##__VA_ARGS__)

/* ---- wire format ---- */

#define VHOST_USER_VERSION_MASK		0x3
#define VHOST_USER_VERSION		0x1
#define VHOST_USER_REPLY_MASK		(1u << 2)
#define VHOST_USER_NEED_REPLY_MASK	(1u << 3)
#define VHOST_USER_VRING_IDX_MASK	0xffull
#define VHOST_USER_VRING_NOFD_MASK	(1ull << 8)

#define VHOST_USER_F_PROTOCOL_FEATURES	30

#define VHOST_USER_PROTOCOL_F_MQ		0
#define VHOST_USER_PROTOCOL_F_LOG_SHMFD		1
#define VHOST_USER_PROTOCOL_F_RARP		2
#define VHOST_USER_PROTOCOL_F_REPLY_ACK		3
#define VHOST_USER_PROTOCOL_F_NET_MTU		4
#define VHOST_USER_PROTOCOL_F_STATUS		16

#define VIRTIO_CONFIG_S_DRIVER_OK	4

/* Requests, front-end to back-end (vhost-user.rst "Front-end message types"). */
#define VHOST_USER_REQUESTS(X) \
	X(GET_FEATURES,          1) \
	X(SET_FEATURES,          2) \
	X(SET_OWNER,             3) \
	X(RESET_OWNER,           4) \
	X(SET_MEM_TABLE,         5) \
	X(SET_LOG_BASE,          6) \
	X(SET_LOG_FD,            7) \
	X(SET_VRING_NUM,         8) \
	X(SET_VRING_ADDR,        9) \
	X(SET_VRING_BASE,       10) \
	X(GET_VRING_BASE,       11) \
	X(SET_VRING_KICK,       12) \
	X(SET_VRING_CALL,       13) \
	X(SET_VRING_ERR,        14) \
	X(GET_PROTOCOL_FEATURES, 15) \
	X(SET_PROTOCOL_FEATURES, 16) \
	X(GET_QUEUE_NUM,        17) \
	X(SET_VRING_ENABLE,     18) \
	X(SEND_RARP,            19) \
	X(NET_SET_MTU,          20) \
	X(RESET_DEVICE,         34) \
	X(SET_STATUS,           39) \
	X(GET_STATUS,           40)

enum vhost_user_req {
#define X(n, v) VHOST_USER_##n = v,
	VHOST_USER_REQUESTS(X)
#undef X
	VHOST_USER_MAX = 41
};

struct vhost_user_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* payload bytes that follow */
} __attribute__((packed));

struct vhost_user_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vhost_user_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vhost_user_region {
	uint64_t gpa;
	uint64_t size;
	uint64_t uva;
	uint64_t mmap_offset;
};

struct vhost_user_memory {
	uint32_t nregions;
	uint32_t padding;
	struct vhost_user_region regions[GM_MAX_REGIONS];
};

struct vhost_user_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

/* Largest payload we accept; anything longer is malformed. */
#define VHOST_USER_PAYLOAD_MAX	sizeof(struct vhost_user_memory)

struct vhost_user_msg {
	struct vhost_user_hdr hdr;
	union {
		uint64_t u64;
		struct vhost_user_vring_state state;
		struct vhost_user_vring_addr addr;
		struct vhost_user_memory memory;
		struct vhost_user_log log;
		uint8_t bytes[VHOST_USER_PAYLOAD_MAX];
	} payload;
} __attribute__((packed));

#define VHOST_USER_HDR_SIZE	sizeof(struct vhost_user_hdr)
/* Fds one message may carry: 8 regions, with room to detect more. */
#define VHOST_MAX_FDS		16

/* ---- message handling (vhost_msg.c) ---- */

enum vhost_msg_res {
	VHOST_MSG_ERR,		/* malformed or failed: disconnect */
	VHOST_MSG_OK,		/* done; ack with 0 if NEED_REPLY was set */
	VHOST_MSG_REPLY,	/* handler filled msg->payload and hdr.size: send it */
};

/*
 * Handle one complete message. fds[0..n_fds) arrived with it; handlers take
 * the ones they keep (set to -1), the rest are closed here. Sends the reply
 * through dev->conn_fd. Returns 0, or -errno when the frontend must be
 * disconnected (the caller does that).
 */
int vhost_msg_dispatch(struct vhost_dev *dev, struct vhost_user_msg *msg,
		       int *fds, unsigned n_fds);
const char *vhost_req_name(uint32_t req);
/* Features we offer. */
uint64_t vhost_offered_features(void);
uint64_t vhost_offered_protocol_features(void);

/* ---- device state (vhost_dev.c) ---- */

/* Allocate a device with no socket (tests, fuzzing use it directly). */
struct vhost_dev *vhost_dev_alloc(const char *name, uint16_t max_qp);
void vhost_dev_free(struct vhost_dev *dev);
/* Stop every ring, unmap memory and the log, close fds, forget features. */
void vhost_dev_reset(struct vhost_dev *dev);
/* Re-evaluate which vqs should run, start/stop them, publish the ready
 * mask; calls pmd_reconfigure() when something changed. -errno if a vq
 * that should start cannot (bad rings): the caller disconnects. */
int vhost_dev_update(struct vhost_dev *dev);
/* Stop all started vqs and wait a grace period (they restart through
 * vhost_dev_update). */
void vhost_dev_stop_all(struct vhost_dev *dev);
/* Publish a new memory table (takes it); the old one is unmapped after a
 * grace period. */
int vhost_dev_set_mem(struct vhost_dev *dev, struct guest_mem *mem);
/* Replace the kick/call/err fd of a vq (takes fd; -1 = none). */
void vhost_vq_set_kick(struct vhost_dev *dev, struct vhost_vq *vv, int fd, bool polling);
void vhost_vq_set_call(struct vhost_dev *dev, struct vhost_vq *vv, int fd);
void vhost_vq_set_err(struct vhost_dev *dev, struct vhost_vq *vv, int fd);
/* Map a new dirty log (fd not taken). */
int vhost_dev_set_log(struct vhost_dev *dev, int fd, uint64_t size, uint64_t offset);
void vhost_dev_notify_change(struct vhost_dev *dev);
/* Wrapper that tolerates a missing PMD module (unit tests). */
void vhost_pmd_reconfigure(void);

/* ---- sockets (vhost_sock.c) ---- */

struct vhost_conn {
	size_t have;			/* bytes of msg received */
	unsigned n_fds;
	int fds[VHOST_MAX_FDS];
	struct vhost_user_msg msg;
};

int vhost_sock_open(struct vhost_dev *dev, char *err, size_t errlen);
void vhost_sock_close(struct vhost_dev *dev);
/* Adopt a connected socket as the frontend connection (accept, connect,
 * tests). Takes fd. 0 or -errno. */
int vhost_conn_attach(struct vhost_dev *dev, int fd);
/* Drop the frontend: reset the device, listen again or reconnect. */
void vhost_conn_drop(struct vhost_dev *dev, const char *why);
/* Read and handle everything available (the epoll callback's body). */
void vhost_conn_input(struct vhost_dev *dev);
/* Send a reply without blocking; -errno if it could not go out whole. */
int vhost_conn_send(struct vhost_dev *dev, const void *buf, size_t len);

#endif
