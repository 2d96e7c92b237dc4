/* tok_testutil.h -- helpers of the tokenizer suites: llama.cpp's .inp/.out
 * vector files read the way its test-tokenizer-0 reads them, and just enough
 * JSON to pull a string or an array of integers out of the fixtures. */
#ifndef ORC_TOK_TESTUTIL_H
#define ORC_TOK_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

struct tok_vector {
	char *text;       /* NUL-terminated; len bytes */
	size_t len;
	int32_t *ids;
	size_t n_ids;
};

struct tok_vectors {
	struct tok_vector *v;
	size_t n;
	char *raw;
};

/* Read BASE.inp and BASE.out; 0 or -1 (missing file, counts that differ). */
int tok_vectors_load(const char *base, struct tok_vectors *ret);
void tok_vectors_free(struct tok_vectors *v);

/* Index of the first difference of two id lists (min length when one is a prefix). */
size_t tok_first_diff(const int32_t *a, size_t na, const int32_t *b, size_t nb);

/* The value of "key": a string (escapes decoded, malloc'ed) or an array of
 * integers (malloc'ed). 0 or -1. */
int tok_json_string(const char *json, const char *key, char **ret, size_t *ret_len);
int tok_json_ints(const char *json, const char *key, int32_t **ret, size_t *ret_n);

#endif
