/* Log lines carry a syslog priority prefix ("<3>") that journald understands
 * when stderr is connected to it, so no syslog socket is needed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static char log_prog[32] = "ukey";
static char log_tag[64];
static enum log_level log_max = LOG_LVL_INFO;
static int log_journal;

void
log_init(const char *progname, enum log_level max_level)
{
	const char *lvl = getenv("UKEY_LOG_LEVEL");

	snprintf(log_prog, sizeof(log_prog), "%s", progname);
	log_max = max_level;
	if (lvl != NULL && strcmp(lvl, "debug") == 0)
		log_max = LOG_LVL_DEBUG;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_set_tag(const char *tag)
{
	snprintf(log_tag, sizeof(log_tag), "%s", tag ? tag : "");
}

void
log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
{
	static const char *names[] = { [3] = "error", [4] = "warn", [6] = "info", [7] = "debug" };
	char line[2048];
	char when[32] = "";
	va_list ap;
	int n;

	if (lvl > log_max)
		return;
	if (!log_journal) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	if (log_journal)
		n = snprintf(line, sizeof(line), "<%d>%s%s%s%s: ", (int)lvl, log_tag[0] ? "[" : "",
		    log_tag, log_tag[0] ? "] " : "", func);
	else
		n = snprintf(line, sizeof(line), "%s%s[%ld]: %s: %s%s%s%s: ", when, log_prog,
		    (long)getpid(), names[lvl] ? names[lvl] : "log", log_tag[0] ? "[" : "", log_tag,
		    log_tag[0] ? "] " : "", func);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write per line so that lines from workers sharing stderr do not interleave */
	n = (int)strlen(line);
	if ((size_t)n < sizeof(line) - 1) {
		line[n++] = '\n';
		line[n] = '\0';
	}
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
