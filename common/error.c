/* error.c -- recording and formatting library errors (see error.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

int orc_err_set(struct orc_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

int orc_err_prefix(struct orc_err *err, const char *fmt, ...)
{
	char head[ORC_ERR_MSG_MAX], old[ORC_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return 0;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", head, old);
	return err->code;
}

bool orc_err_set_first_v(struct orc_err *err, int code, const char *fmt, va_list ap)
{
	if (!err || err->code != 0)
		return false;
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return false;
}

void orc_err_clear(struct orc_err *err)
{
	if (!err)
		return;
	err->code = 0;
	err->msg[0] = '\0';
}

const char *orc_err_msg(const struct orc_err *err)
{
	if (!err)
		return "unknown error";
	if (err->msg[0])
		return err->msg;
	if (err->code)
		return strerror(-err->code);
	return "no error";
}
