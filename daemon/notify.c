/* notify.c -- sd_notify(3) messages for the service manager (see notify.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "notify.h"

#ifdef HAVE_SYSTEMD
void orc_notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void orc_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void orc_notify_status(const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", line);
}

void orc_notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

uint64_t orc_notify_watchdog_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	return usec / 2000 ? usec / 2000 : 1;
}
#else
void orc_notify_ready(void)
{
}

void orc_notify_stopping(void)
{
}

void orc_notify_status(const char *fmt, ...)
{
	(void)fmt;
}

void orc_notify_watchdog(void)
{
}

uint64_t orc_notify_watchdog_ms(void)
{
	return 0;
}
#endif
