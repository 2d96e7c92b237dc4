/* error.h -- how library code reports failure.
 * Functions return 0 or a negative errno (-EBADMSG malformed input, -E2BIG
 * limit exceeded, -ENOMEM, -EIO device failure, -ENODEV no GPU, -EINVAL bad
 * argument) and, when the caller passes a struct orc_err, a one-line message
 * that names what was wrong. Library code never prints: the caller reports
 * the message once. */
#ifndef ORC_ERROR_H
#define ORC_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define ORC_ERR_MSG_MAX 512

struct orc_err {
	int code;                   /* negative errno, 0 when unset */
	char msg[ORC_ERR_MSG_MAX];  /* NUL-terminated; empty when unset */
};

/* Record an error and return `code` (a negative errno) so callers can write
 * `return orc_err_set(err, -EBADMSG, "...", ...);`. `err` may be NULL. */
int orc_err_set(struct orc_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context ("loading x.gguf: ..."). */
int orc_err_prefix(struct orc_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void orc_err_clear(struct orc_err *err);

/* Keep the FIRST error: record one only while none is recorded (for
 * asynchronous work whose failure is reported later, e.g. a backend's
 * enqueued ops). Always returns false, for `return x_fail(...)`. */
bool orc_err_set_first_v(struct orc_err *err, int code, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* The message, or strerror(-code) when none was recorded. Never NULL. */
const char *orc_err_msg(const struct orc_err *err);

#endif
