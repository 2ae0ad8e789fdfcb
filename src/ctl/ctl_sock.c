/*
 * The control socket: a unix stream socket, mode 0600, one JSON-RPC request
 * per line. Everything is non-blocking on the control thread's event loop;
 * a client that sends an over-long line or never reads its replies is
 * dropped rather than allowed to stall the daemon.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

/* One request line: add-flows sends a whole file (100k rules are ~8 MB); the
 * socket is root-only, so the bound is against mistakes, not attackers. */
#define CTL_IN_MAX	(128 << 20)
#define CTL_OUT_MAX	(64 << 20)	/* replies queued to a slow reader */

struct ctl_conn {
	int fd;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_off;
	struct ctl_conn *next;
};

static int listen_fd = -1;
static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static struct ctl_conn *conns;

static void conn_close(struct ctl_conn *c)
{
	struct ctl_conn **pp;

	for (pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ev_del(c->fd);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

/* Returns false if the connection had to be closed. */
static bool conn_flush(struct ctl_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			conn_close(c);
			return false;
		}
		c->out_off += (size_t)n;
	}
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		ev_mod(c->fd, EPOLLIN);
	} else {
		ev_mod(c->fd, EPOLLIN | EPOLLOUT);
	}
	return true;
}

static bool conn_queue(struct ctl_conn *c, const char *s, size_t len)
{
	char *o;

	if (c->out_len + len + 1 > CTL_OUT_MAX) {
		LOG(LOG_WARN, "ctl", "client does not read its replies; dropping it");
		conn_close(c);
		return false;
	}
	o = realloc(c->out, c->out_len + len + 1);
	if (!o) {
		conn_close(c);
		return false;
	}
	c->out = o;
	memcpy(c->out + c->out_len, s, len);
	c->out[c->out_len + len] = '\n';
	c->out_len += len + 1;
	return conn_flush(c);
}

static json_t *rpc_error(json_t *id, int code, const char *msg)
{
	return json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id", id ? id : json_null(),
			 "error", "code", code, "message", msg);
}

/* Build the reply for one request line. Never returns NULL unless out of memory. */
static json_t *handle_line(const char *line, size_t len)
{
	char *argv[CTL_MAX_ARGS + 1];
	json_t *req, *id, *method, *params, *reply;
	struct ctl_req r;
	json_error_t jerr;
	int argc = 0, rc;
	size_t i;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req)
		return rpc_error(NULL, -32700, jerr.text);
	id = json_object_get(req, "id");
	method = json_object_get(req, "method");
	params = json_object_get(req, "params");
	if (!json_is_object(req) || !json_is_string(method) ||
	    (params && !json_is_array(params))) {
		reply = rpc_error(id, -32600, "invalid request: need method (string) and params (array)");
		goto out;
	}
	argv[argc++] = (char *)json_string_value(method);
	if (params && json_array_size(params) > CTL_MAX_ARGS) {
		reply = rpc_error(id, -32602, "too many parameters");
		goto out;
	}
	for (i = 0; params && i < json_array_size(params); i++) {
		json_t *p = json_array_get(params, i);

		if (!json_is_string(p)) {
			reply = rpc_error(id, -32602, "parameters must be strings");
			goto out;
		}
		argv[argc++] = (char *)json_string_value(p);
	}
	argv[argc] = NULL;
	rc = ctl_exec(&r, argc, argv);
	if (rc < 0) {
		reply = rpc_error(id, rc, r.err);
	} else {
		reply = json_pack("{s:s,s:O,s:{s:O,s:s}}", "jsonrpc", "2.0",
				  "id", id ? id : json_null(),
				  "result", "data", r.data ? r.data : json_null(),
				  "text", r.text ? r.text : "");
	}
	ctl_req_release(&r);
out:
	json_decref(req);
	return reply;
}

/* Returns false if the connection had to be closed. */
static bool conn_process(struct ctl_conn *c)
{
	char *nl;

	while ((nl = memchr(c->in, '\n', c->in_len))) {
		size_t len = (size_t)(nl - c->in);
		json_t *reply = handle_line(c->in, len);
		char *s = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
		bool alive;

		json_decref(reply);
		memmove(c->in, nl + 1, c->in_len - len - 1);
		c->in_len -= len + 1;
		if (!s) {
			conn_close(c);
			return false;
		}
		alive = conn_queue(c, s, strlen(s));
		free(s);
		if (!alive)
			return false;
	}
	return true;
}

static void conn_event(int fd, uint32_t events, void *arg)
{
	struct ctl_conn *c = arg;

	(void)fd;
	if (events & EPOLLOUT && !conn_flush(c))
		return;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n;

		if (c->in_cap - c->in_len < 4096) {
			size_t cap = MAX(c->in_cap * 2, 8192);
			char *in;

			if (cap > CTL_IN_MAX + 8192) {
				LOG(LOG_WARN, "ctl", "request line over %d bytes; dropping client", CTL_IN_MAX);
				conn_close(c);
				return;
			}
			in = realloc(c->in, cap);
			if (!in) {
				conn_close(c);
				return;
			}
			c->in = in;
			c->in_cap = cap;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n == 0) {
			conn_close(c);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(c);
			return;
		}
		c->in_len += (size_t)n;
		if (!conn_process(c))
			return;
	}
}

static void accept_event(int fd, uint32_t events, void *arg)
{
	(void)events;
	(void)arg;
	for (;;) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_conn *c;

		if (cfd < 0)
			return;
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->fd = cfd;
		if (ev_add(cfd, EPOLLIN, conn_event, c) < 0) {
			close(cfd);
			free(c);
			continue;
		}
		c->next = conns;
		conns = c;
	}
}

int ctl_server_start(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old_umask;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	err = mkdir_parents(path);
	if (err)
		return err;
	strcpy(sa.sun_path, path);
	/* A socket file left by a daemon that died is stale only if nobody
	 * answers on it; never steal a live daemon's socket. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (err == 0)
		return -EADDRINUSE;
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old_umask = umask(0177);	/* the socket is born 0600 */
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old_umask);
	if (err < 0 || listen(fd, 16) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	err = ev_add(fd, EPOLLIN, accept_event, NULL);
	if (err) {
		close(fd);
		unlink(path);
		return err;
	}
	listen_fd = fd;
	snprintf(sock_path, sizeof(sock_path), "%s", path);
	return 0;
}

void ctl_server_stop(void)
{
	while (conns)
		conn_close(conns);
	if (listen_fd >= 0) {
		ev_del(listen_fd);
		close(listen_fd);
		unlink(sock_path);
		listen_fd = -1;
	}
}
