/* jsonr.h -- a minimal JSON reader for the tests: parses a whole document
 * (objects, arrays, numbers, strings, true/false/null) into a tree that the
 * caller walks with the accessors below and frees with orc_jsonr_free().
 * Not for untrusted input in the daemon: it is test code (depth-capped). */
#ifndef ORC_JSONR_H
#define ORC_JSONR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum orc_jsonr_type {
	ORC_JSONR_NULL, ORC_JSONR_BOOL, ORC_JSONR_NUM, ORC_JSONR_STR,
	ORC_JSONR_ARR, ORC_JSONR_OBJ
};

struct orc_jsonr {
	enum orc_jsonr_type type;
	char *key;                 /* member name when inside an object, else NULL */
	bool b;                    /* BOOL */
	double num;                /* NUM */
	char *str;                 /* STR: decoded UTF-8, NUL-terminated (may hold NULs) */
	size_t len;                /* STR: bytes; ARR/OBJ: number of items */
	struct orc_jsonr *items;   /* ARR elements / OBJ members, in document order */
};

/* Parse `len` bytes. NULL on error, with a message naming the byte offset
 * in errbuf (when not NULL). */
struct orc_jsonr *orc_jsonr_parse(const char *text, size_t len, char *errbuf, size_t errlen);
/* Read and parse a file; NULL on error (message in errbuf). */
struct orc_jsonr *orc_jsonr_parse_file(const char *path, char *errbuf, size_t errlen);
void orc_jsonr_free(struct orc_jsonr *v);   /* NULL is a no-op */

/* Member of an object by name (first match); NULL when absent or v is not an object. */
const struct orc_jsonr *orc_jsonr_get(const struct orc_jsonr *v, const char *key);
/* Element i of an array or object; NULL when out of range or not a container. */
const struct orc_jsonr *orc_jsonr_at(const struct orc_jsonr *v, size_t i);
/* Items of an array/object, 0 for anything else (NULL included). */
size_t orc_jsonr_len(const struct orc_jsonr *v);
/* The number, or `dflt` when v is NULL or not a number. */
double orc_jsonr_num(const struct orc_jsonr *v, double dflt);
/* The string, or NULL when v is NULL or not a string. */
const char *orc_jsonr_str(const struct orc_jsonr *v);

/* An array of integers into a malloc'ed int32 array (*ret_n items); -1 when
 * v is not an array of integral numbers in the int32 range. */
int orc_jsonr_i32_array(const struct orc_jsonr *v, int32_t **ret, size_t *ret_n);

#endif
