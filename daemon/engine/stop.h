/* stop.h -- stop strings for streamed generation: text goes in piece by
 * piece, and only text that can no longer turn into a stop string comes
 * out. A stop string never appears in the output: at a match the text
 * before it is released and the rest is dropped. Library code. */
#ifndef ORC_STOP_H
#define ORC_STOP_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct orc_stop;

/* Copies the strings. Each must be non-empty valid UTF-8 of at most
 * ORC_STOP_STRING_LEN_MAX bytes, at most ORC_STOP_STRINGS_MAX of them
 * (else -EINVAL, -EILSEQ or -E2BIG naming the string's index). n == 0 is valid:
 * everything passes straight through. */
int orc_stop_new(const char *const *stops, size_t n, struct orc_stop **ret, struct orc_err *err);
void orc_stop_free(struct orc_stop *s);   /* NULL is a no-op */

/* Append `len` bytes of text. *ret and *ret_len: the text released now
 * (it stays valid until the next call on s). Text is held back while its end
 * could be the start of a stop string. The held part always starts at the
 * first byte of a stop string, so when the input is valid UTF-8 the
 * released text ends on a character boundary. *ret_stopped becomes true at
 * the first match; later calls release nothing. */
int orc_stop_push(struct orc_stop *s, const char *text, size_t len, const char **ret,
		  size_t *ret_len, bool *ret_stopped, struct orc_err *err);

/* At the end of a generation that did not stop on a string: release
 * whatever is held back. Nothing after a match. */
void orc_stop_flush(struct orc_stop *s, const char **ret, size_t *ret_len);

/* Is [s, s + n) valid UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF)? On failure *ret_bad is the offset of the first bad byte. */
bool orc_utf8_valid(const char *s, size_t n, size_t *ret_bad);

#endif
