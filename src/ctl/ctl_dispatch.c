/*
 * The command table and dispatch. Commands come from every module's *_ctl.c
 * through constructors; dispatch checks the argument count and runs the
 * handler, which fills data/text or an error.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define CTL_MAX_CMDS 128

static const struct ctl_cmd *cmds[CTL_MAX_CMDS];
static size_t n_cmds;

void ctl_register(const struct ctl_cmd *arr, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* A constructor cannot report failure; the table is sized for
		 * every command the tree has, so overflow is a build bug. */
		if (n_cmds == CTL_MAX_CMDS) {
			fprintf(stderr, "ctl: command table full at %s\n", arr[i].name);
			abort();
		}
		cmds[n_cmds++] = &arr[i];
	}
}

static const struct ctl_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < n_cmds; i++)
		if (!strcmp(cmds[i]->name, name))
			return cmds[i];
	return NULL;
}

static void vappend(struct ctl_req *req, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if (req->text_len + (size_t)n + 1 > req->text_cap) {
		size_t cap = MAX(req->text_cap * 2, req->text_len + (size_t)n + 256);
		char *t = realloc(req->text, cap);

		if (!t)
			return;
		req->text = t;
		req->text_cap = cap;
	}
	vsnprintf(req->text + req->text_len, req->text_cap - req->text_len, fmt, ap);
	req->text_len += (size_t)n;
}

void ctl_printf(struct ctl_req *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vappend(req, fmt, ap);
	va_end(ap);
}

int ctl_error(struct ctl_req *req, int err, const char *fmt, ...)
{
	const char *cmd = req->argc > 0 ? req->argv[0] : "?";
	size_t off;
	va_list ap;

	off = (size_t)snprintf(req->err, sizeof(req->err), "%s: ", cmd);
	if (off >= sizeof(req->err))
		off = sizeof(req->err) - 1;
	va_start(ap, fmt);
	vsnprintf(req->err + off, sizeof(req->err) - off, fmt, ap);
	va_end(ap);
	return -(err > 0 ? err : EINVAL);
}

void ctl_req_release(struct ctl_req *req)
{
	json_decref(req->data);
	free(req->text);
	memset(req, 0, sizeof(*req));
}

int ctl_exec(struct ctl_req *req, int argc, char **argv)
{
	const struct ctl_cmd *cmd;
	int n_args = argc - 1, rc;

	memset(req, 0, sizeof(*req));
	req->argc = argc;
	req->argv = argv;
	if (argc < 1)
		return ctl_error(req, EINVAL, "empty command");
	cmd = find_cmd(argv[0]);
	if (!cmd)
		return ctl_error(req, ENOENT, "unknown command (try 'help')");
	if (n_args < cmd->min_args || (cmd->max_args >= 0 && n_args > cmd->max_args))
		return ctl_error(req, EINVAL, "wrong number of arguments; usage: %s %s",
				 cmd->name, cmd->usage);
	rc = cmd->fn(req);
	if (rc >= 0 && cmd->persist)
		ctl_state_record(req);
	return rc;
}

const struct ctl_cmd *ctl_cmd_find(const char *name)
{
	return find_cmd(name);
}

static int cmd_help(struct ctl_req *req)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n_cmds; i++) {
		ctl_printf(req, "  %-18s %s\n", cmds[i]->name, cmds[i]->usage);
		json_array_append_new(arr, json_pack("{s:s,s:s}", "name", cmds[i]->name,
						     "usage", cmds[i]->usage));
	}
	req->data = arr;
	return 0;
}

static const struct ctl_cmd dispatch_cmds[] = {
	{ "help", "", 0, 0, cmd_help, false },
};
CTL_COMMANDS(dispatch_cmds)
