/* stop.c -- stop-string matching with hold-back (see stop.h). The held text
 * is shorter than the longest stop string, so each push costs one search of
 * (held + new text) per stop string. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "stop.h"

struct orc_stop {
	char **str;         /* [n] copies */
	size_t *len;        /* [n] */
	size_t n;
	size_t max_len;     /* of the longest string */
	char *held;         /* [max_len] bytes held back */
	size_t n_held;
	char *buf;          /* held + new text, and what push returns */
	size_t buf_cap;
	bool stopped;
};

bool orc_utf8_valid(const char *str, size_t n, size_t *ret_bad)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp, min;

		if (c < 0x80) { i++; continue; }
		if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; min = 0x80; }
		else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; min = 0x800; }
		else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; min = 0x10000; }
		else goto bad;
		if (len > n - i)
			goto bad;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += len;
	}
	return true;
bad:
	if (ret_bad)
		*ret_bad = i;
	return false;
}

void orc_stop_free(struct orc_stop *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->str[i]);
	free(s->str);
	free(s->len);
	free(s->held);
	free(s->buf);
	free(s);
}

static int add_string(struct orc_stop *s, const char *str, size_t i, struct orc_err *err)
{
	size_t len, bad;

	if (!str)
		return orc_err_set(err, -EINVAL, "stop string %zu is missing (NULL)", i);
	len = strnlen(str, ORC_STOP_STRING_LEN_MAX + 1);
	if (len == 0)
		return orc_err_set(err, -EINVAL, "stop string %zu is empty", i);
	if (len > ORC_STOP_STRING_LEN_MAX)
		return orc_err_set(err, -E2BIG, "stop string %zu is longer than %u bytes", i,
				   (unsigned)ORC_STOP_STRING_LEN_MAX);
	if (!orc_utf8_valid(str, len, &bad))
		return orc_err_set(err, -EILSEQ, "stop string %zu is not valid UTF-8 (byte %zu)",
				   i, bad);
	if (!(s->str[i] = malloc(len + 1)))
		return orc_err_set(err, -ENOMEM, "out of memory for stop strings");
	memcpy(s->str[i], str, len + 1);
	s->len[i] = len;
	s->n = i + 1;
	if (len > s->max_len)
		s->max_len = len;
	return 0;
}

int orc_stop_new(const char *const *stops, size_t n, struct orc_stop **ret, struct orc_err *err)
{
	struct orc_stop *s;
	int r;

	if (n && !stops)
		return orc_err_set(err, -EINVAL, "%zu stop strings but no array", n);
	if (n > ORC_STOP_STRINGS_MAX)
		return orc_err_set(err, -E2BIG, "%zu stop strings (at most %u)", n,
				   (unsigned)ORC_STOP_STRINGS_MAX);
	if (!(s = calloc(1, sizeof(*s))))
		return orc_err_set(err, -ENOMEM, "out of memory for stop strings");
	s->str = calloc(n ? n : 1, sizeof(*s->str));
	s->len = calloc(n ? n : 1, sizeof(*s->len));
	if (!s->str || !s->len) {
		orc_stop_free(s);
		return orc_err_set(err, -ENOMEM, "out of memory for stop strings");
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = add_string(s, stops[i], i, err)) < 0) {
			orc_stop_free(s);
			return r;
		}
	}
	if (s->max_len && !(s->held = malloc(s->max_len))) {
		orc_stop_free(s);
		return orc_err_set(err, -ENOMEM, "out of memory for stop strings");
	}
	*ret = s;
	return 0;
}

/* Earliest match of any stop string in buf [n]; n when none. */
static size_t find_stop(const struct orc_stop *s, const char *buf, size_t n)
{
	size_t best = n;

	for (size_t i = 0; i < s->n; i++) {
		const char *m = memmem(buf, n, s->str[i], s->len[i]);
		if (m && (size_t)(m - buf) < best)
			best = (size_t)(m - buf);
	}
	return best;
}

/* Length of the longest suffix of buf [n] that is a proper prefix of a stop string. */
static size_t partial_suffix(const struct orc_stop *s, const char *buf, size_t n)
{
	size_t k = s->max_len - 1 < n ? s->max_len - 1 : n;

	for (; k > 0; k--)
		for (size_t i = 0; i < s->n; i++)
			if (s->len[i] > k && memcmp(buf + n - k, s->str[i], k) == 0)
				return k;
	return 0;
}

int orc_stop_push(struct orc_stop *s, const char *text, size_t len, const char **ret,
		  size_t *ret_len, bool *ret_stopped, struct orc_err *err)
{
	size_t n, m, keep;

	if (s->stopped || s->n == 0) {
		*ret = s->stopped ? "" : text;
		*ret_len = s->stopped ? 0 : len;
		*ret_stopped = s->stopped;
		return 0;
	}
	n = s->n_held + len;
	if (n > s->buf_cap) {
		char *b = realloc(s->buf, n);
		if (!b)
			return orc_err_set(err, -ENOMEM, "out of memory for stop-string matching");
		s->buf = b;
		s->buf_cap = n;
	}
	if (s->n_held)
		memcpy(s->buf, s->held, s->n_held);
	if (len)
		memcpy(s->buf + s->n_held, text, len);
	m = find_stop(s, s->buf, n);
	if (m < n) {
		s->stopped = true;
		s->n_held = 0;
		*ret = s->buf;
		*ret_len = m;
		*ret_stopped = true;
		return 0;
	}
	keep = partial_suffix(s, s->buf, n);
	memcpy(s->held, s->buf + n - keep, keep);
	s->n_held = keep;
	*ret = s->buf;
	*ret_len = n - keep;
	*ret_stopped = false;
	return 0;
}

void orc_stop_flush(struct orc_stop *s, const char **ret, size_t *ret_len)
{
	*ret = s->held ? s->held : "";
	*ret_len = s->stopped ? 0 : s->n_held;
	s->n_held = 0;
}
