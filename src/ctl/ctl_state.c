/*
 * The state file: the replay log of every command that changed the
 * configuration and succeeded (ctl_cmd.persist), so a daemon that died —
 * kill -9 included — comes back with its ports, flows, groups, meters and
 * whatever later modules configure through the control socket.
 *
 * Why a replay log of commands and not a snapshot of the objects: the
 * commands are the one interface every module already validates, so a
 * replayed line goes through exactly the checks it passed the first time,
 * in the same order (port ids, group references, flows removed with their
 * port all come out the same); a module joins by setting persist on its
 * commands, with no second serialisation format to keep in step with the
 * first. The cost is a log that grows with every change, not with the size
 * of the configuration (DESIGN.md, "Restart").
 *
 * Format: a header line {"xviod_state":1}, then one JSON array of strings
 * per command (argv, the command name first). JSON keeps add-flows' embedded
 * newlines on one line. The whole file is rewritten for each change: temp
 * file, fsync, rename over the old one, fsync of the directory, so the file
 * on disk is always either the old log or the new one.
 */
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"

#define STATE_VERSION 1

static struct {
	char path[PATH_MAX];
	char **lines;		/* serialised argv arrays, in order */
	size_t n, cap;
	bool on;
	bool replaying;		/* ctl_exec records, but nothing is written */
	uint64_t n_saves, n_save_errors;
} st;

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t w = write(fd, s, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	int fd, err = 0;

	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Write the whole log to path.tmp, fsync, rename over path. */
static int save(void)
{
	char tmp[PATH_MAX + 8];
	static const char hdr[] = "{\"xviod_state\":1}\n";
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", st.path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, hdr, sizeof(hdr) - 1);
	for (size_t i = 0; !err && i < st.n; i++) {
		err = write_all(fd, st.lines[i], strlen(st.lines[i]));
		if (!err)
			err = write_all(fd, "\n", 1);
	}
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, st.path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	st.n_saves++;
	return fsync_dir(st.path);
}

static int append_line(char *line)
{
	if (st.n == st.cap) {
		size_t cap = st.cap ? st.cap * 2 : 64;
		char **v = realloc(st.lines, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		st.lines = v;
		st.cap = cap;
	}
	st.lines[st.n++] = line;
	return 0;
}

static char *encode(int argc, char **argv)
{
	json_t *a = json_array();
	char *s;

	for (int i = 0; a && i < argc; i++)
		if (json_array_append_new(a, json_string(argv[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	s = a ? json_dumps(a, JSON_COMPACT) : NULL;
	json_decref(a);
	return s;
}

int ctl_state_record(struct ctl_req *req)
{
	char *line;
	int err;

	if (!st.on)
		return 0;
	line = encode(req->argc, req->argv);
	if (!line || append_line(line) < 0) {
		free(line);
		err = -ENOMEM;
	} else {
		err = st.replaying ? 0 : save();
	}
	if (err) {
		/* The change is live and cannot be undone; keep it in memory
		 * (the next successful save writes it) and say so. */
		st.n_save_errors++;
		LOG(LOG_ERR, "ctl", "state %s: not saved: %s", st.path, strerror(-err));
		ctl_printf(req, "warning: configuration not saved to %s: %s\n",
			   st.path, strerror(-err));
	}
	return err;
}

/* argv of one log line, or -EINVAL; *argv_out borrows from *arr. */
static int decode(const char *line, json_t **arr, char ***argv_out, int *argc_out)
{
	json_t *a = json_loads(line, 0, NULL);
	size_t n = json_is_array(a) ? json_array_size(a) : 0;
	char **argv;

	*arr = a;
	if (!n || n > CTL_MAX_ARGS)
		return -EINVAL;
	argv = calloc(n + 1, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *s = json_array_get(a, i);

		if (!json_is_string(s)) {
			free(argv);
			return -EINVAL;
		}
		argv[i] = (char *)json_string_value(s);
	}
	*argv_out = argv;
	*argc_out = (int)n;
	return 0;
}

static char *read_all(const char *path, int *err)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, r;

	if (!f) {
		*err = -errno;
		return NULL;
	}
	do {
		if (len + 65536 + 1 > cap) {
			char *b = realloc(buf, cap = cap ? cap * 2 : 131072);

			if (!b) {
				free(buf);
				fclose(f);
				*err = -ENOMEM;
				return NULL;
			}
			buf = b;
		}
		r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
	} while (r > 0);
	*err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (*err) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Replay one line; false if it was rejected (logged). */
static bool replay_line(const char *line, size_t lineno)
{
	struct ctl_req req;
	json_t *arr = NULL;
	char **argv = NULL;
	int argc, rc;

	rc = decode(line, &arr, &argv, &argc);
	if (rc) {
		LOG(LOG_ERR, "ctl", "state %s:%zu: not a command line, dropped", st.path, lineno);
	} else {
		const struct ctl_cmd *cmd = ctl_cmd_find(argv[0]);

		if (!cmd || !cmd->persist) {
			LOG(LOG_ERR, "ctl", "state %s:%zu: '%s' is not a configuration command, dropped",
			    st.path, lineno, argv[0]);
			rc = -EINVAL;
		} else {
			rc = ctl_exec(&req, argc, argv);
			if (rc < 0)
				LOG(LOG_ERR, "ctl", "state %s:%zu: %s (dropped)", st.path, lineno, req.err);
			ctl_req_release(&req);
		}
	}
	free(argv);
	json_decref(arr);
	return rc >= 0;
}

/* Keep what replay dropped beside the state, so nothing the operator
 * configured vanishes without a trace. */
static void keep_rejected(const char *line)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s.rejected", st.path);
	f = fopen(path, "ae");
	if (f) {
		fprintf(f, "%s\n", line);
		fclose(f);
	}
}

int ctl_state_open(const char *path)
{
	char *buf, *line, *next;
	size_t lineno = 0, n_bad = 0;
	int err;

	if (strlen(path) >= sizeof(st.path))
		return -ENAMETOOLONG;
	snprintf(st.path, sizeof(st.path), "%s", path);
	err = mkdir_parents(path);
	if (err)
		return err;
	buf = read_all(path, &err);
	if (!buf && err != -ENOENT)
		return err;
	st.on = true;
	if (!buf)
		return save();	/* a fresh, empty state: fail now if we cannot write */
	next = strchr(buf, '\n');
	if (next)
		*next++ = '\0';
	{
		json_t *h = json_loads(buf, 0, NULL);
		bool ok = json_integer_value(json_object_get(h, "xviod_state")) == STATE_VERSION;

		json_decref(h);
		if (!ok) {
			/* Never overwrite a file that is not ours. */
			LOG(LOG_ERR, "ctl", "state %s: not an xviod state file (version %d)",
			    path, STATE_VERSION);
			free(buf);
			st.on = false;
			return -EINVAL;
		}
	}
	lineno = 1;
	st.replaying = true;
	for (line = next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		if (!replay_line(line, lineno)) {
			keep_rejected(line);
			n_bad++;
		}
	}
	st.replaying = false;
	free(buf);
	LOG(n_bad ? LOG_WARN : LOG_INFO, "ctl", "state %s: replayed %zu command(s), %zu dropped%s",
	    path, st.n, n_bad, n_bad ? " (kept in .rejected)" : "");
	return n_bad ? save() : 0;
}

void ctl_state_close(void)
{
	for (size_t i = 0; i < st.n; i++)
		free(st.lines[i]);
	free(st.lines);
	memset(&st, 0, sizeof(st));
}

static int cmd_state_show(struct ctl_req *req)
{
	json_t *cmds = json_array();

	if (!st.on) {
		ctl_printf(req, "no state file (xviod --no-state)\n");
		req->data = json_pack("{s:n,s:o}", "path", "commands", cmds);
		return 0;
	}
	ctl_printf(req, "state file %s: %zu command(s), %llu save(s), %llu save error(s)\n",
		   st.path, st.n, (unsigned long long)st.n_saves,
		   (unsigned long long)st.n_save_errors);
	for (size_t i = 0; i < st.n; i++) {
		json_t *a = json_loads(st.lines[i], 0, NULL);

		ctl_printf(req, "  %s\n", st.lines[i]);
		json_array_append_new(cmds, a ? a : json_null());
	}
	req->data = json_pack("{s:s,s:o,s:I,s:I}", "path", st.path, "commands", cmds,
			      "saves", (json_int_t)st.n_saves,
			      "save_errors", (json_int_t)st.n_save_errors);
	return 0;
}

static const struct ctl_cmd state_cmds[] = {
	{ "state-show", "(the saved configuration commands)", 0, 0, cmd_state_show, false },
};
CTL_COMMANDS(state_cmds)
