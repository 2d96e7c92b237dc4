/* fuzz_tokenizer.c -- libFuzzer harness for the tokenizer: arbitrary bytes
 * to encode (plain and with special tokens) and arbitrary id sequences to
 * decode, on the small stories260K vocabulary (SentencePiece with byte
 * fallback) and on one big vocabulary; byte 0 bit 3 picks which.
 * Environment: ORC_FUZZ_TOK_SMALL and ORC_FUZZ_TOK_BIG (GGUF paths), else
 * $ORC_SHARED/models/stories260K.gguf and $ORC_SHARED/vocab/qwen2-vocab.gguf. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "tok_fuzz_one.h"
#include "gguf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct orc_tok *toks[2];

static struct orc_tok *load(const char *env, const char *rel)
{
	const char *shared = getenv("ORC_SHARED");
	const char *path = getenv(env);
	char buf[4096];
	struct orc_err err = { 0 };
	struct orc_gguf *g;
	struct orc_tok *t;

	if (!path || !*path) {
		snprintf(buf, sizeof(buf), "%s/%s", shared && *shared ? shared : "../shared", rel);
		path = buf;
	}
	/* The tokenizer copies what it needs: the file may go. */
	if (orc_gguf_open(path, &g, &err) < 0 || orc_tok_new(g, &t, &err) < 0) {
		fprintf(stderr, "fuzz_tokenizer: %s: %s (set %s or ORC_SHARED)\n", path, err.msg, env);
		exit(1);
	}
	orc_gguf_free(g);
	fprintf(stderr, "fuzz_tokenizer: %s: %u tokens, model %s, pre %s\n", path,
		orc_tok_n_vocab(t), orc_tok_model_name(t), orc_tok_pre_name(t));
	return t;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	toks[0] = load("ORC_FUZZ_TOK_SMALL", "models/stories260K.gguf");
	toks[1] = load("ORC_FUZZ_TOK_BIG", "vocab/qwen2-vocab.gguf");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *bad;

	if (size == 0)
		return 0;
	bad = fuzz_tokenizer_one(toks[(data[0] >> 3) & 1u], data, size);
	if (bad) {
		fprintf(stderr, "fuzz_tokenizer: %s\n", bad);
		abort();
	}
	return 0;
}
