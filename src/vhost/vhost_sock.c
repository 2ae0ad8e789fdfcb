/*
 * vhost-user sockets: the listening socket (server mode), the outgoing
 * connection with backoff (client mode) and the frontend connection — its
 * input reassembly, fd passing and non-blocking replies. Control thread.
 *
 * One frontend at a time: a second connection to a server socket is
 * accepted and closed at once. Reads never span two messages (first the
 * 12-byte header, then exactly `size` payload bytes), so the SCM_RIGHTS fds
 * that arrive during a message's reads belong to that message.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vhost_priv.h"

#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	5000
/* Messages handled per wakeup before yielding to other fds. */
#define MSGS_PER_WAKEUP	64

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void conn_clear(struct vhost_conn *c)
{
	close_fds(c->fds, c->n_fds);
	c->n_fds = 0;
	c->have = 0;
}

static int sun_fill(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path))
		return -ENAMETOOLONG;
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

/* ---- connection ---- */

static void conn_event(int fd __unused, uint32_t events, void *arg)
{
	struct vhost_dev *dev = arg;

	if (events & EPOLLIN) {
		vhost_conn_input(dev);
		return;
	}
	if (events & (EPOLLERR | EPOLLHUP))
		vhost_conn_drop(dev, "connection closed by peer");
}

int vhost_conn_attach(struct vhost_dev *dev, int fd)
{
	int err;

	if (dev->connected) {
		close(fd);
		return -EBUSY;
	}
	err = fd_set_nonblock(fd);
	if (!err)
		err = ev_add(fd, EPOLLIN, conn_event, dev);
	if (err) {
		close(fd);
		return err;
	}
	conn_clear(dev->conn);
	dev->conn_fd = fd;
	dev->connected = true;
	dev->backoff_ms = BACKOFF_MIN_MS;
	dev->counters[VHOST_C_CONNECTS]++;
	VHOST_LOG(LOG_INFO, dev, "frontend connected on %s (%s mode)", dev->path,
		  dev->client ? "client" : "server");
	vhost_dev_notify_change(dev);
	return 0;
}

static void try_connect(void *arg);

static void schedule_reconnect(struct vhost_dev *dev)
{
	if (dev->reconnect_timer || dev->listen_fd == -2)
		return;
	dev->reconnect_timer = ev_timer_add(dev->backoff_ms, 0, try_connect, dev);
	if (!dev->reconnect_timer)
		VHOST_LOG(LOG_ERR, dev, "cannot arm the reconnect timer: %s", strerror(errno));
	dev->backoff_ms = MIN(dev->backoff_ms * 2, BACKOFF_MAX_MS);
}

void vhost_conn_drop(struct vhost_dev *dev, const char *why)
{
	if (!dev->connected)
		return;
	VHOST_LOG(LOG_WARN, dev, "frontend disconnected: %s", why);
	ev_del(dev->conn_fd);
	close(dev->conn_fd);
	dev->conn_fd = -1;
	dev->connected = false;
	conn_clear(dev->conn);
	dev->counters[VHOST_C_DISCONNECTS]++;
	vhost_dev_reset(dev);
	if (dev->client)
		schedule_reconnect(dev);
	vhost_dev_notify_change(dev);
}

int vhost_conn_send(struct vhost_dev *dev, const void *buf, size_t len)
{
	ssize_t n;

	if (dev->conn_fd < 0)
		return -ENOTCONN;
	do {
		n = send(dev->conn_fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	/* A reply that does not fit a socket buffer of ~200 KiB means the
	 * frontend stopped reading: never wait for it. */
	dev->counters[VHOST_C_REPLY_FAIL]++;
	return n < 0 ? -errno : -EAGAIN;
}

/* Take the SCM_RIGHTS fds of one recvmsg into the connection. Returns
 * -EMSGSIZE if there were more than a message may carry (all closed). */
static int take_fds(struct vhost_conn *c, struct msghdr *mh)
{
	int err = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		unsigned n;
		int *p;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		p = (int *)CMSG_DATA(cm);
		for (unsigned i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, p + i, sizeof(fd));
			if (c->n_fds < VHOST_MAX_FDS) {
				c->fds[c->n_fds++] = fd;
			} else {
				close(fd);
				err = -EMSGSIZE;
			}
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		err = -EMSGSIZE;
	return err;
}

/* One recvmsg; 1 = message complete, 0 = need more (EAGAIN), -errno. */
static int conn_read(struct vhost_dev *dev)
{
	struct vhost_conn *c = dev->conn;
	union {
		char buf[CMSG_SPACE(VHOST_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cbuf;
	size_t want = c->have < VHOST_USER_HDR_SIZE ? VHOST_USER_HDR_SIZE - c->have :
		      VHOST_USER_HDR_SIZE + c->msg.hdr.size - c->have;
	struct iovec iov = { .iov_base = (uint8_t *)&c->msg + c->have, .iov_len = want };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	ssize_t n;
	int err;

	do {
		n = recvmsg(dev->conn_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	err = take_fds(c, &mh);
	if (err) {
		VHOST_LOG(LOG_ERR, dev, "too many fds with one message (max %d)", VHOST_MAX_FDS);
		return err;
	}
	c->have += (size_t)n;
	if (c->have == VHOST_USER_HDR_SIZE && c->msg.hdr.size > VHOST_USER_PAYLOAD_MAX) {
		VHOST_LOG(LOG_ERR, dev, "%s: payload size %u over %zu",
			  vhost_req_name(c->msg.hdr.request), c->msg.hdr.size,
			  VHOST_USER_PAYLOAD_MAX);
		return -EMSGSIZE;
	}
	if (c->have >= VHOST_USER_HDR_SIZE && c->have == VHOST_USER_HDR_SIZE + c->msg.hdr.size)
		return 1;
	return 2;	/* read on until EAGAIN */
}

void vhost_conn_input(struct vhost_dev *dev)
{
	struct vhost_conn *c = dev->conn;
	int handled = 0;

	while (dev->connected && handled < MSGS_PER_WAKEUP) {
		int rc = conn_read(dev), err;

		if (rc == 0)
			return;
		if (rc < 0) {
			if (rc != -ECONNRESET)
				dev->counters[VHOST_C_MSG_ERRORS]++;
			vhost_conn_drop(dev, rc == -ECONNRESET ? "connection closed by peer" :
					     strerror(-rc));
			return;
		}
		if (rc == 2)
			continue;
		handled++;
		err = vhost_msg_dispatch(dev, &c->msg, c->fds, c->n_fds);
		/* dispatch consumed or closed every fd */
		c->n_fds = 0;
		c->have = 0;
		if (err) {
			dev->counters[VHOST_C_MSG_ERRORS]++;
			vhost_conn_drop(dev, "protocol error");
			return;
		}
	}
}

/* ---- server mode ---- */

static void listen_event(int fd, uint32_t events __unused, void *arg)
{
	struct vhost_dev *dev = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR)
			VHOST_LOG(LOG_WARN, dev, "accept: %s", strerror(errno));
		return;
	}
	if (dev->connected) {
		VHOST_LOG(LOG_WARN, dev, "second frontend on %s refused: one is connected",
			  dev->path);
		dev->counters[VHOST_C_REJECTED_PEER]++;
		close(c);
		return;
	}
	if (vhost_conn_attach(dev, c) < 0)
		VHOST_LOG(LOG_ERR, dev, "cannot watch the frontend connection");
}

static int listen_open(struct vhost_dev *dev, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, rc;

	rc = sun_fill(&sun, dev->path);
	if (rc)
		goto err_msg;
	if (lstat(dev->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			rc = -EEXIST;
			snprintf(err, errlen, "path=%s: exists and is not a socket", dev->path);
			return rc;
		}
		/* A stale socket of an earlier run: nobody can connect to it. */
		if (unlink(dev->path) < 0) {
			rc = -errno;
			goto err_msg;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		goto err_msg;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 1) < 0) {
		rc = -errno;
		goto err_close;
	}
	rc = ev_add(fd, EPOLLIN, listen_event, dev);
	if (rc)
		goto err_unlink;
	dev->listen_fd = fd;
	VHOST_LOG(LOG_INFO, dev, "listening on %s", dev->path);
	return 0;

err_unlink:
	unlink(dev->path);
err_close:
	close(fd);
err_msg:
	snprintf(err, errlen, "path=%s: %s", dev->path, strerror(-rc));
	return rc;
}

/* ---- client mode ---- */

static void try_connect(void *arg)
{
	struct vhost_dev *dev = arg;
	struct sockaddr_un sun;
	int fd;

	dev->reconnect_timer = NULL;
	if (dev->connected)
		return;
	if (dev->counters[VHOST_C_CONNECTS] || dev->counters[VHOST_C_RECONNECTS] ||
	    dev->backoff_ms > BACKOFF_MIN_MS)
		dev->counters[VHOST_C_RECONNECTS]++;
	if (sun_fill(&sun, dev->path) < 0)
		return;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto retry;
	/* A unix connect completes or fails at once; EAGAIN means the
	 * listener's backlog is full: retry later like any failure. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		DLOG("vhost", "%s: connect %s: %s", dev->name, dev->path, strerror(errno));
		close(fd);
		goto retry;
	}
	if (vhost_conn_attach(dev, fd) == 0)
		return;
retry:
	schedule_reconnect(dev);
}

/* ---- open/close ---- */

int vhost_sock_open(struct vhost_dev *dev, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	int rc;

	dev->backoff_ms = BACKOFF_MIN_MS;
	if (!dev->client)
		return listen_open(dev, err, errlen);
	rc = sun_fill(&sun, dev->path);
	if (rc) {
		snprintf(err, errlen, "path=%s: %s", dev->path, strerror(-rc));
		return rc;
	}
	/* First attempt right away; a missing peer is not an error in client
	 * mode, the backoff timer keeps trying. */
	try_connect(dev);
	return 0;
}

void vhost_sock_close(struct vhost_dev *dev)
{
	bool server = !dev->client && dev->listen_fd >= 0;

	ev_timer_del(dev->reconnect_timer);
	dev->reconnect_timer = NULL;
	if (dev->listen_fd >= 0) {
		ev_del(dev->listen_fd);
		close(dev->listen_fd);
	}
	/* -2: closing, schedule_reconnect must not re-arm. */
	dev->listen_fd = -2;
	vhost_conn_drop(dev, "port closed");
	if (server)
		unlink(dev->path);
}
