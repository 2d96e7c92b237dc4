/* tok_common.h -- what `orcctl tokenize` and `orcctl detokenize` share in
 * both modes (offline with --file, through orcd with -m): the mode choice,
 * reading standard input whole, and opening a GGUF's tokenizer. */
#ifndef ORCCTL_TOK_COMMON_H
#define ORCCTL_TOK_COMMON_H

#include <stddef.h>
#include <stdio.h>

struct orc_gguf;
struct orc_tok;

/* Where the tokenizer comes from: --file PATH or -m NAME, exactly one. */
struct orcctl_tok_src {
	const char *file;
	const char *model;
};

/* ORCCTL_EXIT_OK when exactly one of --file / -m was given (and the model
 * name is valid), else an exit code after saying why. */
int orcctl_tok_src_check(const char *cmd, const struct orcctl_tok_src *src);

/* All of `in` as bytes, NUL-terminated (the NUL not counted in *ret_len);
 * NULL after a message on error or past `max` bytes. */
char *orcctl_read_all(const char *cmd, FILE *in, size_t max, size_t *ret_len);

/* Open `path` and build its tokenizer; -1 after a message. Release with
 * orc_tok_free() then orc_gguf_free(). */
int orcctl_open_tok(const char *cmd, const char *path, struct orc_gguf **ret_g,
		    struct orc_tok **ret_t);

#endif
