/*
 * Fuzz the vhost-user message handler: the input is a stream of messages
 * (12-byte header + payload, as on the socket). Each message gets the fds
 * its request would carry, made by the harness: memfds (1 MiB, so region
 * bounds matter) for SET_MEM_TABLE, a memfd for SET_LOG_BASE, eventfds for
 * the vring fd messages unless the NOFD bit is set. A message the handler
 * rejects resets the device, as a disconnect would, and the stream goes on
 * with a fresh connection. Replies go to a socketpair that is drained.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vhost/vhost_priv.h"

#define FUZZ_MEM_SIZE	(1u << 20)

static struct vhost_dev *dev;
static int sv[2] = { -1, -1 };

static void init_once(void)
{
	if (dev)
		return;
	if (!getenv("FUZZ_LOG"))
		log_set_file(fopen("/dev/null", "w"));
	dev = vhost_dev_alloc("fuzz", 2);
	if (!dev || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* Never blocks: replies that do not fit count as a slow peer. */
	fd_set_nonblock(sv[0]);
	fd_set_nonblock(sv[1]);
	dev->conn_fd = sv[0];
	dev->connected = true;
}

static void drain(void)
{
	char buf[4096];

	while (recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static int make_memfd(uint64_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The fds a frontend would send with this message. */
static unsigned make_fds(const struct vhost_user_msg *msg, int *fds)
{
	uint32_t req = msg->hdr.request;
	unsigned n = 0;

	switch (req) {
	case VHOST_USER_SET_MEM_TABLE: {
		uint32_t nr;

		memcpy(&nr, msg->payload.bytes, sizeof(nr));
		n = MIN(nr, (uint32_t)GM_MAX_REGIONS);
		for (unsigned i = 0; i < n; i++)
			fds[i] = make_memfd(FUZZ_MEM_SIZE);
		break;
	}
	case VHOST_USER_SET_LOG_BASE:
		fds[n++] = make_memfd(4096);
		break;
	case VHOST_USER_SET_LOG_FD:
		fds[n++] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		break;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		if (!(msg->payload.u64 & VHOST_USER_VRING_NOFD_MASK))
			fds[n++] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		break;
	default:
		break;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vhost_user_msg msg;

	init_once();
	while (size >= VHOST_USER_HDR_SIZE) {
		int fds[VHOST_MAX_FDS];
		unsigned n_fds;
		size_t len;

		memcpy(&msg.hdr, data, VHOST_USER_HDR_SIZE);
		data += VHOST_USER_HDR_SIZE;
		size -= VHOST_USER_HDR_SIZE;
		/* The socket layer rejects oversized payloads before dispatch. */
		if (msg.hdr.size > VHOST_USER_PAYLOAD_MAX) {
			vhost_dev_reset(dev);
			break;
		}
		len = MIN((size_t)msg.hdr.size, size);
		memset(msg.payload.bytes, 0xa5, sizeof(msg.payload.bytes));
		memcpy(msg.payload.bytes, data, len);
		msg.hdr.size = (uint32_t)len;
		data += len;
		size -= len;
		n_fds = make_fds(&msg, fds);
		if (vhost_msg_dispatch(dev, &msg, fds, n_fds) < 0)
			vhost_dev_reset(dev);
		drain();
	}
	/* Next input starts from a fresh connection. */
	vhost_dev_reset(dev);
	return 0;
}
