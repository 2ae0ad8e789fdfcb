#include <stdarg.h>
#include <time.h>

#include "core.h"

enum log_level log_max_level = LOG_INFO;
static FILE *log_file;

static const char *const level_names[] = {
	[LOG_ERR] = "ERR", [LOG_WARN] = "WARN", [LOG_INFO] = "INFO", [LOG_DEBUG] = "DBG",
};

void log_set_file(FILE *f)
{
	log_file = f;
}

void log_msg(enum log_level lvl, const char *mod, const char *fmt, ...)
{
	FILE *f = log_file ? log_file : stderr;
	struct timespec ts;
	struct tm tm;
	char line[1024];
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One fprintf per line so concurrent threads do not interleave. */
	fprintf(f, "%02d:%02d:%02d.%03ld %-4s %s: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
		ts.tv_nsec / 1000000, level_names[lvl], mod, line);
	fflush(f);
}

bool log_rl_allow(struct log_rl *rl, uint32_t *skipped)
{
	const uint64_t interval = 5ULL * 1000000000ULL;
	uint64_t now = time_ns();

	*skipped = 0;
	if (now - rl->window_start_ns > interval) {
		*skipped = rl->n_skipped;
		rl->window_start_ns = now;
		rl->n_in_window = 0;
		rl->n_skipped = 0;
	}
	if (rl->n_in_window < 5) {
		rl->n_in_window++;
		return true;
	}
	rl->n_skipped++;
	return false;
}
