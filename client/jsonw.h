/* jsonw.h -- a small streaming JSON writer for orcctl's --json output.
 * It tracks commas and nesting itself and escapes strings (invalid UTF-8
 * bytes become U+FFFD), so callers write documents as a sequence of calls. */
#ifndef ORC_JSONW_H
#define ORC_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSONW_DEPTH_MAX 32

struct jsonw {
	FILE *out;
	int depth;
	bool need_comma[JSONW_DEPTH_MAX];
	bool after_key;
	bool pretty;
};

void jsonw_init(struct jsonw *w, FILE *out, bool pretty);
void jsonw_obj_begin(struct jsonw *w);
void jsonw_obj_end(struct jsonw *w);
void jsonw_arr_begin(struct jsonw *w);
void jsonw_arr_end(struct jsonw *w);
void jsonw_key(struct jsonw *w, const char *key);
void jsonw_str(struct jsonw *w, const char *s);
void jsonw_strn(struct jsonw *w, const char *s, size_t n);
void jsonw_int(struct jsonw *w, int64_t v);
void jsonw_uint(struct jsonw *w, uint64_t v);
void jsonw_double(struct jsonw *w, double v);   /* NaN/inf are written as null */
void jsonw_bool(struct jsonw *w, bool v);
void jsonw_null(struct jsonw *w);
/* Ends the document with a newline. */
void jsonw_finish(struct jsonw *w);

#endif
