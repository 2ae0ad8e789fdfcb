/*
 * ctl: the control socket (JSON-RPC 2.0 over a unix stream socket, one JSON
 * object per line), the command table, and dispatch.
 *
 * Each module registers its commands from its own *_ctl.c with CTL_COMMANDS();
 * this module owns only the socket, parsing and dispatch.
 *
 * Request:  {"jsonrpc":"2.0","id":N,"method":"add-port","params":["vm1","vhost-user","path=/x"]}
 * Response: {"jsonrpc":"2.0","id":N,"result":{"data":<json>,"text":"<human text>"}}
 *       or  {"jsonrpc":"2.0","id":N,"error":{"code":-errno,"message":"add-port vm1: ..."}}
 * xvioctl prints "text", or "data" with --json.
 *
 * Thread-safety: everything here runs on the control thread.
 */
#ifndef XVIO_CTL_H
#define XVIO_CTL_H

#include <stdbool.h>
#include <jansson.h>

#include "../core/core.h"

/* Most arguments one request may carry. */
#define CTL_MAX_ARGS	64

struct ctl_req {
	int argc;		/* argv[0] is the command name */
	char **argv;
	json_t *data;		/* result for --json; handler sets it (owned reference) */
	char *text;		/* human output, appended with ctl_printf */
	size_t text_len, text_cap;
	char err[512];		/* set via ctl_error */
};

/* 0, or -errno after ctl_error() has filled req->err. */
typedef int ctl_cmd_fn(struct ctl_req *req);

struct ctl_cmd {
	const char *name;	/* "add-port" */
	const char *usage;	/* "NAME KIND [ARGS...]" */
	int min_args, max_args;	/* not counting argv[0]; max -1 = unlimited */
	ctl_cmd_fn *fn;
	bool persist;		/* changes configuration (saved for restart) */
};

void ctl_register(const struct ctl_cmd *cmds, size_t n);

#define CTL_COMMANDS(arr) \
	static void __attribute__((constructor)) ctl_register_##arr(void) \
	{ ctl_register(arr, ARRAY_SIZE(arr)); }

/* Append human text. */
void ctl_printf(struct ctl_req *req, const char *fmt, ...) __printf(2, 3);
/* Fill the error ("<cmd>: <message>") and return -err (err > 0 is an errno). */
int ctl_error(struct ctl_req *req, int err, const char *fmt, ...) __printf(3, 4);

/* Run one command line as the socket would (tests, config replay). The
 * caller frees req with ctl_req_release. Returns the handler's result. */
int ctl_exec(struct ctl_req *req, int argc, char **argv);
void ctl_req_release(struct ctl_req *req);
const struct ctl_cmd *ctl_cmd_find(const char *name);

/*
 * The state file (ctl_state.c): a replay log of every command with persist
 * set that succeeded, rewritten atomically (temp + fsync + rename) after
 * each one. A module persists its configuration by setting persist on its
 * configuration commands; nothing else. ctl_state_open replays an existing
 * file through ctl_exec (a line that fails now is logged, dropped and kept
 * in PATH.rejected), then records every later success; it refuses a file
 * that is not an xviod state file. 0 or -errno.
 */
int ctl_state_open(const char *path);
void ctl_state_close(void);
/* Called by ctl_exec after a persist command succeeded; 0, or -errno when
 * the change is live but could not be saved (req gets a warning). */
int ctl_state_record(struct ctl_req *req);

/* Default state file: the daemon with the default control socket. A daemon
 * started with --ctl PATH keeps PATH.state, so two daemons never share one. */
#define CTL_DEFAULT_STATE "/var/lib/xvio/xviod.state"

/* Open the socket at path (mode 0600), register it on the event loop. */
int ctl_server_start(const char *path);
void ctl_server_stop(void);

/* Default socket path. */
#define CTL_DEFAULT_PATH "/run/xvio/xviod.sock"

#endif
