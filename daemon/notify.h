/* notify.h -- the systemd service protocol for orcd (Type=notify):
 * READY=1, STATUS= lines, STOPPING=1, and WATCHDOG=1 pings when the unit
 * sets WatchdogSec. Without libsystemd (HAVE_SYSTEMD undefined) every call
 * is a no-op and no watchdog is armed. */
#ifndef ORC_NOTIFY_H
#define ORC_NOTIFY_H

#include <stdint.h>

void orc_notify_ready(void);
void orc_notify_stopping(void);
void orc_notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void orc_notify_watchdog(void);
/* The ping interval in ms (half of WATCHDOG_USEC), or 0 when none is asked. */
uint64_t orc_notify_watchdog_ms(void);

#endif
