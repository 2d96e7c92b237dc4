/* tok_fuzz_one.h -- one fuzz input against one tokenizer, shared by the
 * libFuzzer harness (fuzz_tokenizer.c) and the check suite that replays the
 * corpus and past crashers (tests/check_tokenizer_fuzz.c). */
#ifndef ORC_TOK_FUZZ_ONE_H
#define ORC_TOK_FUZZ_ONE_H

#include <stddef.h>
#include <stdint.h>

#include "tokenizer.h"

/* Byte 0 picks the mode (low 2 bits) and flags; the rest is text or ids:
 *   0: encode as plain text; decode must give the text back (NFC for qwen2)
 *   1: encode with special-token parsing
 *   2: decode little-endian int32 ids (any values), one-shot and streamed
 *   3: encode with BOS/EOS and special tokens, then stream the ids back
 * Returns NULL when every property held, else a static description of the
 * one that did not (the caller aborts or fails the test). */
const char *fuzz_tokenizer_one(const struct orc_tok *t, const uint8_t *data, size_t size);

#endif
