/* log.c -- stderr logging with journald priority prefixes (see log.h). */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "log.h"

static const char *log_prog = "orc";
static enum orc_log_style log_style = ORC_LOG_PLAIN;
static int log_max = LOG_INFO;

void orc_log_init(const char *progname, enum orc_log_style style, int max_priority)
{
	log_prog = progname;
	log_style = style;
	log_max = max_priority;
}

static void log_vemit(int prio, int errnum, const char *fmt, va_list ap)
{
	char line[2048];
	int n;

	if (prio > log_max)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (errnum && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(errnum));
	if (log_style == ORC_LOG_JOURNAL)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else
		fprintf(stderr, "%s: %s\n", log_prog, line);
}

#define LOG_FN(name, prio, with_errno)                           \
	void name(const char *fmt, ...)                          \
	{                                                        \
		int saved = errno;                               \
		va_list ap;                                      \
		va_start(ap, fmt);                               \
		log_vemit(prio, with_errno ? saved : 0, fmt, ap); \
		va_end(ap);                                      \
		errno = saved;                                   \
	}

LOG_FN(log_err, LOG_ERR, 0)
LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_notice, LOG_NOTICE, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_debug, LOG_DEBUG, 0)
