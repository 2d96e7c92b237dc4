/* tokenizer.h -- text <-> token ids, built from a GGUF's tokenizer.ggml.* keys.
 * Byte-level BPE ("gpt2": gpt2, qwen2, ...) and SentencePiece BPE ("llama":
 * llama, phi3). A built tokenizer is immutable: encode/decode on one handle
 * may run from several threads at once. Library code. */
#ifndef ORC_TOKENIZER_H
#define ORC_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"

struct orc_tok;

enum orc_tok_kind { ORC_TOK_BPE, ORC_TOK_SPM };

/* Flags for orc_tok_encode(). */
#define ORC_TOK_ADD_SPECIAL   0x1u  /* add BOS/EOS as the file's add_bos/add_eos say */
#define ORC_TOK_PARSE_SPECIAL 0x2u  /* recognise CONTROL/USER_DEFINED (and UNKNOWN, as
				     * llama.cpp does) entries in the text; without it
				     * "<|im_start|>" is ordinary text */

/* Flags for orc_tok_decode() and the detokenizer. */
#define ORC_DETOK_SKIP_SPECIAL 0x1u /* drop CONTROL and UNKNOWN tokens (BOS, EOS, <unk>,
				     * <|im_end|> ...) from the text; without it they
				     * appear as their text */

/* Build from g's tokenizer.ggml.* keys; keys that are absent take llama.cpp's
 * defaults. tokenizer.ggml.model "gpt2" (byte-level BPE; tokenizer.ggml.pre
 * one of gpt-2, qwen2, llama3/llama-bpe, default) or "llama" (SentencePiece).
 * Errors: -EINVAL for an unsupported model or pre (named in the message),
 * -EBADMSG for missing or mistyped keys, -E2BIG past the limits. The
 * tokenizer copies what it needs: g may be freed afterwards. */
int orc_tok_new(const struct orc_gguf *g, struct orc_tok **ret, struct orc_err *err);
void orc_tok_free(struct orc_tok *t);   /* NULL is a no-op */

enum orc_tok_kind orc_tok_kind(const struct orc_tok *t);
const char *orc_tok_model_name(const struct orc_tok *t);  /* "gpt2", "llama" */
const char *orc_tok_pre_name(const struct orc_tok *t);    /* "qwen2", "gpt-2", "default", ... */
uint32_t orc_tok_n_vocab(const struct orc_tok *t);
int32_t orc_tok_bos(const struct orc_tok *t);   /* -1 when the file has none */
int32_t orc_tok_eos(const struct orc_tok *t);   /* -1 when the file has none */
/* Whether ORC_TOK_ADD_SPECIAL adds BOS / EOS (the file's add_bos_token and
 * add_eos_token, else llama.cpp's default for the model). */
bool orc_tok_add_bos(const struct orc_tok *t);
bool orc_tok_add_eos(const struct orc_tok *t);
/* End of generation: EOS, EOT, <|im_end|>, <|end|>, <|eot_id|> ... */
bool orc_tok_is_eog(const struct orc_tok *t, int32_t id);
bool orc_tok_is_control(const struct orc_tok *t, int32_t id);
/* Find a token by its exact text; -1 when absent. */
int32_t orc_tok_lookup(const struct orc_tok *t, const char *text, size_t len);

/* Encode UTF-8 text. *ret_ids is malloc'ed (even when *ret_n is 0); the
 * caller frees it. Invalid UTF-8 is -EILSEQ with the byte offset in the
 * message; more than ORC_TOK_TEXT_MAX bytes is -E2BIG. Nothing shared is
 * written: any number of threads may encode with one tokenizer. */
int orc_tok_encode(const struct orc_tok *t, const char *text, size_t len, unsigned flags,
		   int32_t **ret_ids, size_t *ret_n, struct orc_err *err);

/* The vocabulary entry as stored in the file (e.g. "Ġthe", "▁the", "<0x0A>"). */
int orc_tok_piece(const struct orc_tok *t, int32_t id, const char **ret, size_t *ret_len);

/* Decode ids to bytes (one shot), as llama.cpp/HF do: byte-level pieces mapped
 * back to bytes, "▁" to space, <0xNN> to the byte, SentencePiece's leading
 * space after BOS removed. *ret is malloc'ed and NUL-terminated; ret_len
 * excludes the NUL. Ids out of range are -EINVAL naming the id.
 * The leading space: with SentencePiece (add_space_prefix), the first token
 * that yields text loses one leading space, so [BOS, "▁Once"] decodes to
 * "Once" when BOS is skipped (as HF's skip_special_tokens and llama2.c do),
 * and to "<s> Once" when BOS is shown. Bytes that do not form UTF-8 (byte
 * tokens of a split character) become U+FFFD, exactly as the streaming
 * detokenizer emits them, so the two always agree. UNUSED entries decode to
 * nothing. Clean-up of spaces before punctuation is never done: for valid
 * UTF-8 text, decode(encode(text)) == text (NFC-normalized for qwen2; a
 * U+2581 in SentencePiece input comes back as a space). */
int orc_tok_decode(const struct orc_tok *t, const int32_t *ids, size_t n, unsigned flags,
		   char **ret, size_t *ret_len, struct orc_err *err);

/* ---- incremental detokenizer, for streaming ----
 * Push ids one at a time; each push yields only complete UTF-8 sequences
 * and holds back a trailing partial sequence. flush() returns what is held
 * back at the end (invalid leftovers are emitted as U+FFFD). The
 * concatenation of all chunks equals orc_tok_decode() of the same ids. */
struct orc_detok;
struct orc_detok *orc_detok_new(const struct orc_tok *t, unsigned flags);
void orc_detok_free(struct orc_detok *d);
/* *ret points into the detokenizer and stays valid until the next call. */
int orc_detok_push(struct orc_detok *d, int32_t id, const char **ret, size_t *ret_len,
		   struct orc_err *err);
int orc_detok_flush(struct orc_detok *d, const char **ret, size_t *ret_len);
void orc_detok_reset(struct orc_detok *d);

#endif
