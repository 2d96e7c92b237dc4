/* log.h -- logging for programs (orcd, orcctl), never for library code.
 * Lines go to stderr with a "<N>" syslog priority prefix that journald
 * understands (orcd) or a "prog: " prefix (orcctl, when on a terminal).
 * log_warn() appends strerror(errno); log_warnx() does not. */
#ifndef ORC_LOG_H
#define ORC_LOG_H

#include <stdbool.h>

enum orc_log_style { ORC_LOG_JOURNAL, ORC_LOG_PLAIN };

void orc_log_init(const char *progname, enum orc_log_style style, int max_priority);
void log_err(const char *fmt, ...)   __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...)  __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...)  __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
