/* Unit tests for src/ctl: dispatch, errors, and the socket end to end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/ctl.h"

static int echo_calls;

static int cmd_echo(struct ctl_req *req)
{
	echo_calls++;
	if (!strcmp(req->argv[1], "fail"))
		return ctl_error(req, EPERM, "%s: refused", req->argv[1]);
	ctl_printf(req, "%s\n", req->argv[1]);
	req->data = json_pack("{s:s}", "echo", req->argv[1]);
	return 0;
}

/* A configuration the state tests can inspect: a list of words. */
static char words[16][64];
static int n_words;

static int cmd_word(struct ctl_req *req)
{
	if (!strcmp(req->argv[1], "bad") || n_words == 16)
		return ctl_error(req, EINVAL, "%s: refused", req->argv[1]);
	snprintf(words[n_words++], sizeof(words[0]), "%s", req->argv[1]);
	return 0;
}

static const struct ctl_cmd test_cmds[] = {
	{ "echo", "WORD", 1, 1, cmd_echo, false },
	{ "word", "WORD", 1, 1, cmd_word, true },
};
CTL_COMMANDS(test_cmds)

static void test_dispatch(void **state)
{
	char *ok[] = { "echo", "hi", NULL }, *fail[] = { "echo", "fail", NULL };
	char *few[] = { "echo", NULL }, *unknown[] = { "nope", NULL };
	struct ctl_req r;

	(void)state;
	assert_int_equal(ctl_exec(&r, 2, ok), 0);
	assert_string_equal(r.text, "hi\n");
	assert_string_equal(json_string_value(json_object_get(r.data, "echo")), "hi");
	ctl_req_release(&r);

	assert_int_equal(ctl_exec(&r, 2, fail), -EPERM);
	assert_string_equal(r.err, "echo: fail: refused");
	ctl_req_release(&r);

	assert_int_equal(ctl_exec(&r, 1, few), -EINVAL);
	assert_non_null(strstr(r.err, "usage: echo WORD"));
	ctl_req_release(&r);

	assert_int_equal(ctl_exec(&r, 1, unknown), -ENOENT);
	assert_non_null(strstr(r.err, "unknown command"));
	ctl_req_release(&r);
}

static void stop_loop(void *arg)
{
	(void)arg;
	ev_stop();
}

/* Send lines, run the loop briefly, return everything the server replied. */
static char *roundtrip(const char *path, const char *lines)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char buf[65536];
	ssize_t n, len = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(write(fd, lines, strlen(lines)), (ssize_t)strlen(lines));
	ev_timer_add(100, 0, stop_loop, NULL);
	assert_int_equal(ev_run(), 0);
	shutdown(fd, SHUT_WR);
	while ((n = recv(fd, buf + len, sizeof(buf) - 1 - (size_t)len, MSG_DONTWAIT)) > 0)
		len += n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

static void test_socket(void **state)
{
	char dir[] = "/tmp/xvio-ctl-XXXXXX", path[128];
	struct stat st;
	char *out;
	json_t *a, *b, *c;
	json_error_t jerr;
	char *l2, *l3;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/ctl.sock", dir);
	assert_int_equal(ev_init(), 0);
	assert_int_equal(ctl_server_start(path), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A second daemon must not steal a live socket. */
	assert_int_equal(ctl_server_start(path), -EADDRINUSE);

	out = roundtrip(path,
		"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"echo\",\"params\":[\"x\"]}\n"
		"not json\n"
		"{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"echo\",\"params\":[\"fail\"]}\n");
	l2 = strchr(out, '\n');
	assert_non_null(l2);
	*l2++ = '\0';
	l3 = strchr(l2, '\n');
	assert_non_null(l3);
	*l3++ = '\0';
	a = json_loads(out, 0, &jerr);
	b = json_loads(l2, 0, &jerr);
	c = json_loads(l3, JSON_DISABLE_EOF_CHECK, &jerr);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(json_integer_value(json_object_get(a, "id")), 7);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "result"), "text")), "x\n");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "error"), "code")), -32700);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(c, "error"), "code")), -EPERM);
	assert_string_equal(json_string_value(json_object_get(json_object_get(c, "error"), "message")),
			    "echo: fail: refused");
	json_decref(a);
	json_decref(b);
	json_decref(c);

	/* Non-string params are refused, not crashed on. */
	out = roundtrip(path, "{\"method\":\"echo\",\"params\":[1]}\n");
	assert_non_null(strstr(out, "-32602"));

	ctl_server_stop();
	assert_int_equal(stat(path, &st), -1);
	/* A stale socket file (nobody listening) is replaced. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(ctl_server_start(path), 0);
	ctl_server_stop();
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

static int run(int argc, char **argv)
{
	struct ctl_req r;
	int rc = ctl_exec(&r, argc, argv);

	ctl_req_release(&r);
	return rc;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Successful persist commands are saved, in order, and come back by replay;
 * queries and failures are not saved; the file is replaced, never edited. */
static void test_state_replay(void **state)
{
	char dir[] = "/tmp/xvio-ctl-state.XXXXXX", path[128], tmp[160];
	char *w1[] = { "word", "one", NULL }, *w2[] = { "word", "two\nlines \"q\"", NULL };
	char *bad[] = { "word", "bad", NULL }, *echo[] = { "echo", "x", NULL };
	char text[4096];
	struct stat st0, st1;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/xviod.state", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n_words = 0;
	assert_int_equal(ctl_state_open(path), 0);	/* creates the directory and an empty log */
	assert_string_equal(slurp(path), "{\"xviod_state\":1}\n");
	assert_int_equal(run(2, w1), 0);
	assert_int_equal(run(2, bad), -EINVAL);
	assert_int_equal(run(2, echo), 0);
	assert_int_equal(run(2, w2), 0);
	snprintf(text, sizeof(text), "%s", slurp(path));	/* slurp's buffer is reused */
	assert_string_equal(text, "{\"xviod_state\":1}\n[\"word\",\"one\"]\n"
			    "[\"word\",\"two\\nlines \\\"q\\\"\"]\n");
	assert_int_equal(access(tmp, F_OK), -1);
	assert_int_equal(stat(path, &st0), 0);
	ctl_state_close();

	/* A new daemon: the same configuration, rebuilt by replay alone. */
	n_words = 0;
	assert_int_equal(ctl_state_open(path), 0);
	assert_int_equal(n_words, 2);
	assert_string_equal(words[0], "one");
	assert_string_equal(words[1], "two\nlines \"q\"");
	assert_string_equal(slurp(path), text);
	/* Nothing dropped: the file was not replaced (a save renames a new one in). */
	assert_int_equal(stat(path, &st1), 0);
	assert_int_equal(st0.st_ino, st1.st_ino);
	assert_int_equal(run(2, w1), 0);
	assert_int_equal(stat(path, &st1), 0);
	assert_true(st0.st_ino != st1.st_ino);
	ctl_state_close();
	snprintf(tmp, sizeof(tmp), "rm -rf %s", dir);
	assert_int_equal(system(tmp), 0);
}

/* Lines that fail at replay (a command that no longer succeeds, a query, a
 * broken line) are dropped from the log and kept in .rejected; a file that
 * is not a state file is refused and left alone. */
static void test_state_rejects(void **state)
{
	char dir[] = "/tmp/xvio-ctl-state.XXXXXX", path[128], rej[160], cmd[160];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/xviod.state", dir);
	snprintf(rej, sizeof(rej), "%s.rejected", path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"xviod_state\":1}\n[\"word\",\"a\"]\n[\"word\",\"bad\"]\n"
	      "[\"echo\",\"x\"]\nnot json\n[\"word\",\"b\"]\n", f);
	fclose(f);
	n_words = 0;
	assert_int_equal(ctl_state_open(path), 0);
	assert_int_equal(n_words, 2);
	assert_string_equal(words[1], "b");
	assert_string_equal(slurp(path), "{\"xviod_state\":1}\n[\"word\",\"a\"]\n[\"word\",\"b\"]\n");
	assert_string_equal(slurp(rej), "[\"word\",\"bad\"]\n[\"echo\",\"x\"]\nnot json\n");
	ctl_state_close();

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("# some other file\n", f);
	fclose(f);
	assert_int_equal(ctl_state_open(path), -EINVAL);
	assert_string_equal(slurp(path), "# some other file\n");
	/* Off: nothing recorded, nothing written. */
	assert_int_equal(ctl_state_record(&(struct ctl_req){ 0 }), 0);
	ctl_state_close();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_state_replay),
		cmocka_unit_test(test_state_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
