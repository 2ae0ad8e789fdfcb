/*
 * xviod: the daemon. Starts the PMD threads, opens the control socket and
 * runs the control thread's event loop until SIGINT/SIGTERM.
 *
 * With no arguments it is a working switch: a MAC-learning bridge with one
 * PMD thread and its control socket at CTL_DEFAULT_PATH; ports are added
 * with xvioctl. Everything configured is saved to the state file and
 * replayed at the next start (ctl.h), so a restart — after a crash too —
 * brings the switch back as it was.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/core.h"
#include "ctl/ctl.h"
#include "pmd/pmd.h"
#include "port/port.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xviod [--ctl PATH] [--state FILE | --no-state] [--pmd-cpus LIST] [--log-level LEVEL]\n"
		"  --ctl PATH         control socket (default %s)\n"
		"  --state FILE       configuration saved and replayed at start (default %s,\n"
		"                     or PATH.state with --ctl PATH)\n"
		"  --no-state         start empty and save nothing\n"
		"  --pmd-cpus LIST    CPUs for PMD threads, e.g. 1 or 0,1 or 0-1 (default: the last CPU)\n"
		"  --log-level LEVEL  err, warn, info or debug (default info)\n",
		CTL_DEFAULT_PATH, CTL_DEFAULT_STATE);
}

static void on_signal(int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si;

	(void)events;
	(void)arg;
	if (read(fd, &si, sizeof(si)) == sizeof(si)) {
		LOG(LOG_INFO, "xviod", "signal %u, shutting down", si.ssi_signo);
		ev_stop();
	}
}

static int parse_level(const char *s)
{
	static const char *const names[] = { "err", "warn", "info", "debug" };

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}

static void del_all_ports(void)
{
	struct port *p;

	PORT_FOREACH(p, id)
		port_del(p);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ctl", required_argument, NULL, 'c' },
		{ "pmd-cpus", required_argument, NULL, 'p' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "state", required_argument, NULL, 's' },
		{ "no-state", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ctl_path = CTL_DEFAULT_PATH, *pmd_cpus = NULL, *state_path = NULL;
	char state_buf[4096];
	bool no_state = false;
	sigset_t mask;
	int opt, err, sfd;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			ctl_path = optarg;
			break;
		case 'p':
			pmd_cpus = optarg;
			break;
		case 'l':
			if (parse_level(optarg) < 0) {
				fprintf(stderr, "xviod: --log-level %s: not one of err, warn, info, debug\n",
					optarg);
				return 2;
			}
			log_max_level = (enum log_level)parse_level(optarg);
			break;
		case 's':
			state_path = optarg;
			break;
		case 'n':
			no_state = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "xviod: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (no_state && state_path) {
		fprintf(stderr, "xviod: --state and --no-state together\n");
		return 2;
	}
	if (!state_path && strcmp(ctl_path, CTL_DEFAULT_PATH)) {
		snprintf(state_buf, sizeof(state_buf), "%s.state", ctl_path);
		state_path = state_buf;
	} else if (!state_path) {
		state_path = CTL_DEFAULT_STATE;
	}

	/* A peer that closes its socket or a bogus call fd must never kill us. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	/* Block before any thread starts so PMDs inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	time_init();
	err = ev_init();
	if (err) {
		fprintf(stderr, "xviod: epoll: %s\n", strerror(-err));
		return 1;
	}
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0 || ev_add(sfd, EPOLLIN, on_signal, NULL) < 0) {
		fprintf(stderr, "xviod: signalfd: %s\n", strerror(errno));
		return 1;
	}
	err = pmd_init(pmd_cpus);
	if (err) {
		fprintf(stderr, "xviod: --pmd-cpus %s: %s\n", pmd_cpus ? pmd_cpus : "(default)",
			strerror(-err));
		return 1;
	}
	/* Replay before the socket opens: a client that connects sees the
	 * whole configuration, never half of it. */
	err = no_state ? 0 : ctl_state_open(state_path);
	if (err) {
		fprintf(stderr, "xviod: state file %s: %s\n", state_path, strerror(-err));
		del_all_ports();
		pmd_stop();
		return 1;
	}
	err = ctl_server_start(ctl_path);
	if (err) {
		fprintf(stderr, "xviod: control socket %s: %s\n", ctl_path, strerror(-err));
		ctl_state_close();
		del_all_ports();
		pmd_stop();
		return 1;
	}
	LOG(LOG_INFO, "xviod", "ready: control socket %s, state %s, %u pmd thread(s)", ctl_path,
	    no_state ? "off" : state_path, pmd_count());
	err = ev_run();
	if (err)
		LOG(LOG_ERR, "xviod", "event loop: %s", strerror(-err));
	ctl_server_stop();
	ctl_state_close();
	del_all_ports();
	pmd_stop();
	LOG(LOG_INFO, "xviod", "stopped");
	return err ? 1 : 0;
}
