/* jsonw.c -- streaming JSON writer (see jsonw.h). */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "jsonw.h"

void jsonw_init(struct jsonw *w, FILE *out, bool pretty)
{
	w->out = out;
	w->depth = 0;
	w->need_comma[0] = false;
	w->after_key = false;
	w->pretty = pretty;
}

static void jsonw_indent(struct jsonw *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->out);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

/* Called before every value or key: emits the separator it needs. */
static void jsonw_sep(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma[w->depth])
		fputc(',', w->out);
	if (w->depth > 0)
		jsonw_indent(w);
	w->need_comma[w->depth] = true;
}

static void jsonw_open(struct jsonw *w, char c)
{
	jsonw_sep(w);
	fputc(c, w->out);
	if (w->depth + 1 < JSONW_DEPTH_MAX)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void jsonw_close(struct jsonw *w, char c)
{
	bool had_items = w->need_comma[w->depth];
	if (w->depth > 0)
		w->depth--;
	if (had_items)
		jsonw_indent(w);
	fputc(c, w->out);
}

void jsonw_obj_begin(struct jsonw *w) { jsonw_open(w, '{'); }
void jsonw_obj_end(struct jsonw *w) { jsonw_close(w, '}'); }
void jsonw_arr_begin(struct jsonw *w) { jsonw_open(w, '['); }
void jsonw_arr_end(struct jsonw *w) { jsonw_close(w, ']'); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
	else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
	else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
	else return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

void jsonw_strn(struct jsonw *w, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	jsonw_sep(w);
	fputc('"', w->out);
	while (i < n) {
		unsigned char c = s[i];
		size_t len;
		switch (c) {
		case '"': fputs("\\\"", w->out); i++; continue;
		case '\\': fputs("\\\\", w->out); i++; continue;
		case '\n': fputs("\\n", w->out); i++; continue;
		case '\r': fputs("\\r", w->out); i++; continue;
		case '\t': fputs("\\t", w->out); i++; continue;
		default: break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(w->out, "\\u%04x", c);
			i++;
			continue;
		}
		len = utf8_seq_len(s + i, n - i);
		if (len == 0) {
			fputs("\\ufffd", w->out);
			i++;
			continue;
		}
		fwrite(s + i, 1, len, w->out);
		i += len;
	}
	fputc('"', w->out);
}

void jsonw_str(struct jsonw *w, const char *s)
{
	if (!s) {
		jsonw_null(w);
		return;
	}
	jsonw_strn(w, s, strlen(s));
}

void jsonw_key(struct jsonw *w, const char *key)
{
	jsonw_str(w, key);
	fputc(':', w->out);
	if (w->pretty)
		fputc(' ', w->out);
	w->after_key = true;
}

void jsonw_int(struct jsonw *w, int64_t v)
{
	jsonw_sep(w);
	fprintf(w->out, "%" PRId64, v);
}

void jsonw_uint(struct jsonw *w, uint64_t v)
{
	jsonw_sep(w);
	fprintf(w->out, "%" PRIu64, v);
}

void jsonw_double(struct jsonw *w, double v)
{
	jsonw_sep(w);
	if (!isfinite(v))
		fputs("null", w->out);
	else
		fprintf(w->out, "%.9g", v);
}

void jsonw_bool(struct jsonw *w, bool v)
{
	jsonw_sep(w);
	fputs(v ? "true" : "false", w->out);
}

void jsonw_null(struct jsonw *w)
{
	jsonw_sep(w);
	fputs("null", w->out);
}

void jsonw_finish(struct jsonw *w)
{
	fputc('\n', w->out);
	fflush(w->out);
}
