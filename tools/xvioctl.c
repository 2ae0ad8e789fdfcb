/*
 * xvioctl: the command-line client. Sends one command over the control socket
 * as JSON-RPC and prints the reply's text, or its data with --json.
 */
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl/ctl.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xvioctl [--ctl PATH] [--json] [--timeout SECS] COMMAND [ARGS...]\n"
		"  --ctl PATH      xviod's control socket (default %s)\n"
		"  --json          print the reply as JSON data\n"
		"  --timeout SECS  give up after SECS seconds (default 30)\n"
		"'xvioctl help' lists the commands the daemon knows.\n",
		CTL_DEFAULT_PATH);
}

static int connect_ctl(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "xvioctl: %s: path too long\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "xvioctl: %s: %s (is xviod running?)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one reply line; NULL on error or timeout. */
static char *read_line(int fd, int timeout_ms)
{
	size_t len = 0, cap = 65536;
	char *buf = malloc(cap);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (buf) {
		char *nl = len ? memchr(buf, '\n', len) : NULL;
		ssize_t n;

		if (nl) {
			*nl = '\0';
			return buf;
		}
		if (cap - len < 4096) {
			char *b = realloc(buf, cap * 2);

			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		if (poll(&pfd, 1, timeout_ms) <= 0) {
			fprintf(stderr, "xvioctl: no reply within %d s\n", timeout_ms / 1000);
			break;
		}
		n = recv(fd, buf + len, cap - len, 0);
		if (n <= 0) {
			fprintf(stderr, "xvioctl: connection closed by xviod\n");
			break;
		}
		len += (size_t)n;
	}
	free(buf);
	return NULL;
}

/* The whole file (or stdin for "-"), NUL-terminated; NULL after an error. */
static char *read_file(const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);

	if (!f || !buf) {
		fprintf(stderr, "xvioctl: %s: %s\n", path, strerror(errno));
		free(buf);
		return NULL;
	}
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *b = realloc(buf, cap *= 2);

			if (!b) {
				free(buf);
				fprintf(stderr, "xvioctl: %s: out of memory\n", path);
				return NULL;
			}
			buf = b;
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "xvioctl: %s: %s\n", path, strerror(errno));
		free(buf);
		buf = NULL;
	} else {
		buf[len] = '\0';
	}
	if (f != stdin)
		fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ctl", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = getenv("XVIO_CTL") ? getenv("XVIO_CTL") : CTL_DEFAULT_PATH;
	json_t *req, *params, *reply, *err, *result;
	int opt, fd, timeout_s = 30, rc = 0;
	bool as_json = false;
	json_error_t jerr;
	char *line, *s;

	/* "+" stops at the first non-option so commands keep their own args. */
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		case 't':
			timeout_s = atoi(optarg);
			if (timeout_s <= 0) {
				fprintf(stderr, "xvioctl: --timeout %s: not a positive number\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	params = json_array();
	for (int i = optind + 1; i < argc; i++) {
		/* Accept --json after the command too: "xvioctl stats --json". */
		if (!strcmp(argv[i], "--json")) {
			as_json = true;
			continue;
		}
		/* add-flows FILE, add-routes FILE: the daemon gets the file's contents, so the
		 * file need only be readable here ("-" is standard input). */
		if ((!strcmp(argv[optind], "add-flows") || !strcmp(argv[optind], "add-routes")) &&
		    (argv[i][0] != '-' || !strcmp(argv[i], "-"))) {
			char *text = read_file(argv[i]);

			if (!text)
				return 1;
			json_array_append_new(params, json_string(text));
			free(text);
			continue;
		}
		json_array_append_new(params, json_string(argv[i]));
	}
	req = json_pack("{s:s,s:i,s:s,s:o}", "jsonrpc", "2.0", "id", 1, "method", argv[optind],
			"params", params);
	s = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	fd = connect_ctl(path);
	if (fd < 0)
		return 1;
	if (!s || send_all(fd, s, strlen(s)) < 0 || send_all(fd, "\n", 1) < 0) {
		fprintf(stderr, "xvioctl: send: %s\n", strerror(errno));
		return 1;
	}
	free(s);
	line = read_line(fd, timeout_s * 1000);
	close(fd);
	if (!line)
		return 1;
	reply = json_loads(line, 0, &jerr);
	free(line);
	if (!reply) {
		fprintf(stderr, "xvioctl: bad reply from xviod: %s\n", jerr.text);
		return 1;
	}
	err = json_object_get(reply, "error");
	result = json_object_get(reply, "result");
	if (err) {
		fprintf(stderr, "xvioctl: %s\n", json_string_value(json_object_get(err, "message")));
		rc = 1;
	} else if (as_json) {
		s = json_dumps(json_object_get(result, "data"), JSON_INDENT(2) | JSON_ENCODE_ANY);
		printf("%s\n", s ? s : "null");
		free(s);
	} else {
		const char *text = json_string_value(json_object_get(result, "text"));

		fputs(text ? text : "", stdout);
	}
	json_decref(reply);
	return rc;
}
