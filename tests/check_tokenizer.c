/* check_tokenizer.c -- the tokenizer against independent references:
 * llama.cpp's vocabulary test vectors (ids from Hugging Face tokenizers and
 * SentencePiece), the prompts of the tiny models (ids from Hugging Face, with
 * BOS and chat special tokens), and stories260K's greedy ids decoded into the
 * published text. Round trips, streaming and bad input are checked too. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#include "gguf.h"
#include "testutil.h"
#include "tok_internal.h"   /* to force each merge path */
#include "tokenizer.h"
#include "tok_testutil.h"

/* ---- llama.cpp's .inp/.out vectors ---- */

/* Decode ids one at a time; the chunks must be valid UTF-8 and add up to
 * orc_tok_decode's result. */
static void check_streaming(const struct orc_tok *t, const int32_t *ids, size_t n, unsigned flags,
			    const char *label)
{
	struct orc_detok *d = orc_detok_new(t, flags);
	struct orc_err err = { 0 };
	char *whole, *cat = malloc(1);
	size_t whole_len, cat_len = 0;
	const char *chunk;
	size_t len;

	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(orc_tok_decode(t, ids, n, flags, &whole, &whole_len, &err), 0);
	for (size_t i = 0; i <= n; i++) {
		if (i < n)
			ck_assert_msg(orc_detok_push(d, ids[i], &chunk, &len, &err) == 0, "%s", err.msg);
		else
			ck_assert_int_eq(orc_detok_flush(d, &chunk, &len), 0);
		ck_assert_msg(u8_check((const uint8_t *)chunk, len) == NULL,
			      "%s: chunk %zu is not valid UTF-8", label, i);
		cat = realloc(cat, cat_len + len + 1);
		memcpy(cat + cat_len, chunk, len);
		cat_len += len;
	}
	ck_assert_msg(cat_len == whole_len && memcmp(cat, whole, whole_len) == 0,
		      "%s: streaming decode differs from one-shot decode", label);
	free(cat);
	free(whole);
	orc_detok_free(d);
}

/* How words are merged: the default (short words scanned, SentencePiece
 * word by word), every word through the heap, and SentencePiece over the
 * whole text at once. All must give the reference ids. */
enum merge_path { PATH_DEFAULT, PATH_HEAP, PATH_WHOLE_TEXT };

static void run_vectors_path(const char *vocab, const char *vectors, enum merge_path how)
{
	struct tok_vectors v;
	struct orc_gguf *g;
	struct orc_tok *t;
	struct orc_err err = { 0 };
	char path[512];

	orc_test_require_shared();
	snprintf(path, sizeof(path), "%s", orc_test_shared(vectors));
	ck_assert_msg(tok_vectors_load(path, &v) == 0, "cannot read %s.inp/.out", path);
	ck_assert_int_eq(v.n, 46);  /* llama.cpp's reader: 46 strings, 46 lines of ids */
	ck_assert_msg(orc_gguf_open(orc_test_shared(vocab), &g, &err) == 0, "%s", err.msg);
	ck_assert_msg(orc_tok_new(g, &t, &err) == 0, "%s", err.msg);
	/* white box: the tokenizer is ours until freed */
	if (how != PATH_DEFAULT)
		t->short_word = 0;
	if (how == PATH_WHOLE_TEXT)
		t->spm_words = false;

	for (size_t i = 0; i < v.n; i++) {
		const struct tok_vector *x = &v.v[i];
		int32_t *ids;
		size_t n;
		char *text;
		size_t len;

		ck_assert_msg(orc_tok_encode(t, x->text, x->len, 0, &ids, &n, &err) == 0,
			      "%s #%zu: %s", vocab, i, err.msg);
		ck_assert_msg(n == x->n_ids && memcmp(ids, x->ids, n * sizeof(*ids)) == 0,
			      "%s #%zu '%s': %zu ids, expected %zu (first difference at %zu)",
			      vocab, i, x->text, n, x->n_ids, tok_first_diff(ids, n, x->ids, x->n_ids));
		/* round trip */
		ck_assert_int_eq(orc_tok_decode(t, ids, n, 0, &text, &len, &err), 0);
		ck_assert_msg(len == x->len && memcmp(text, x->text, len) == 0,
			      "%s #%zu: decode gives '%s', expected '%s'", vocab, i, text, x->text);
		free(text);
		check_streaming(t, ids, n, 0, vocab);
		check_streaming(t, ids, n, ORC_DETOK_SKIP_SPECIAL, vocab);
		free(ids);
	}
	orc_tok_free(t);
	orc_gguf_free(g);
	tok_vectors_free(&v);
}

static void run_vectors(const char *vocab, const char *vectors)
{
	run_vectors_path(vocab, vectors, PATH_DEFAULT);
	run_vectors_path(vocab, vectors, PATH_HEAP);
	run_vectors_path(vocab, vectors, PATH_WHOLE_TEXT);
}

START_TEST(vectors_gpt2)
{
	run_vectors("vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-gpt-2.gguf");
}
END_TEST

START_TEST(vectors_qwen2)
{
	run_vectors("vocab/qwen2-vocab.gguf", "vocab/ggml-vocab-qwen2.gguf");
}
END_TEST

START_TEST(vectors_llama_spm)
{
	run_vectors("vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-llama-spm.gguf");
}
END_TEST

START_TEST(vectors_phi3)
{
	run_vectors("vocab/ggml-vocab-phi-3.gguf", "vocab/ggml-vocab-phi-3.gguf");
}
END_TEST

/* ---- the tiny models' prompts: BOS as the file says, chat tokens ---- */

static const char *const prompt_models[] = {
	"tiny-gpt2-f32", "tiny-llama-f16", "tiny-phi3-bf16", "tiny-qwen2-q8_0", "stories260K",
};

START_TEST(prompts)
{
	const char *name = prompt_models[_i];
	struct orc_err err = { 0 };
	char rel[256], *json, *prompt;
	int32_t *want, *ids;
	size_t n_want, n, len;
	struct orc_gguf *g;
	struct orc_tok *t;

	orc_test_require_shared();
	snprintf(rel, sizeof(rel), "models/%s.prompt.json", name);
	json = orc_test_read_file(orc_test_shared(rel), NULL);
	ck_assert_msg(json != NULL, "cannot read %s", rel);
	ck_assert(tok_json_string(json, "prompt", &prompt, &len) == 0);
	ck_assert(tok_json_ints(json, "prompt_ids", &want, &n_want) == 0);
	snprintf(rel, sizeof(rel), "models/%s.gguf", name);
	ck_assert_msg(orc_gguf_open(orc_test_shared(rel), &g, &err) == 0, "%s", err.msg);
	ck_assert_msg(orc_tok_new(g, &t, &err) == 0, "%s", err.msg);

	ck_assert_int_eq(orc_tok_encode(t, prompt, len, ORC_TOK_ADD_SPECIAL | ORC_TOK_PARSE_SPECIAL,
					&ids, &n, &err), 0);
	ck_assert_msg(n == n_want && memcmp(ids, want, n * sizeof(*ids)) == 0,
		      "%s: %zu ids, expected %zu (first difference at %zu)", name, n, n_want,
		      tok_first_diff(ids, n, want, n_want));
	check_streaming(t, ids, n, 0, name);
	free(ids);
	free(want);
	free(prompt);
	free(json);
	orc_tok_free(t);
	orc_gguf_free(g);
}
END_TEST

/* Without ORC_TOK_PARSE_SPECIAL a chat token's text is ordinary text. */
START_TEST(special_only_when_asked)
{
	static const char text[] = "<|im_start|>user\nhi<|im_end|>";
	struct orc_err err = { 0 };
	struct orc_gguf *g;
	struct orc_tok *t;
	int32_t *ids, im_start, im_end;
	size_t n;
	char *back;
	size_t len;

	orc_test_require_shared();
	ck_assert_int_eq(orc_gguf_open(orc_test_shared("vocab/qwen2-vocab.gguf"), &g, &err), 0);
	ck_assert_int_eq(orc_tok_new(g, &t, &err), 0);
	/* the ids Hugging Face gives these tokens (tiny-qwen2-q8_0.prompt.json) */
	im_start = 151644;
	im_end = 151645;
	ck_assert_int_eq(orc_tok_lookup(t, "<|im_start|>", 12), im_start);
	ck_assert(orc_tok_is_eog(t, im_end));
	ck_assert(orc_tok_is_control(t, im_start));
	ck_assert(!orc_tok_is_eog(t, im_start));

	ck_assert_int_eq(orc_tok_encode(t, text, strlen(text), 0, &ids, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert(ids[i] != im_start && ids[i] != im_end);
	ck_assert_int_eq(orc_tok_decode(t, ids, n, 0, &back, &len, &err), 0);
	ck_assert_str_eq(back, text);
	free(back);
	free(ids);

	ck_assert_int_eq(orc_tok_encode(t, text, strlen(text), ORC_TOK_PARSE_SPECIAL, &ids, &n, &err), 0);
	ck_assert_int_eq(ids[0], im_start);
	ck_assert_int_eq(ids[n - 1], im_end);
	/* decoding renders control tokens unless asked to skip them */
	ck_assert_int_eq(orc_tok_decode(t, ids, n, 0, &back, &len, &err), 0);
	ck_assert_str_eq(back, text);
	free(back);
	ck_assert_int_eq(orc_tok_decode(t, ids, n, ORC_DETOK_SKIP_SPECIAL, &back, &len, &err), 0);
	ck_assert_str_eq(back, "user\nhi");
	free(back);
	free(ids);
	orc_tok_free(t);
	orc_gguf_free(g);
}
END_TEST

/* ---- stories260K: greedy ids -> the published text ---- */

START_TEST(stories_golden)
{
	struct orc_err err = { 0 };
	struct orc_gguf *g;
	struct orc_tok *t;
	char *ref, *golden, *text;
	size_t golden_len, n, len;
	int32_t *greedy, *with_bos;

	orc_test_require_shared();
	ref = orc_test_read_file(orc_test_shared("models/stories260K.ref.json"), NULL);
	golden = orc_test_read_file(orc_test_shared("models/stories260K.golden.txt"), &golden_len);
	ck_assert(ref && golden);
	ck_assert(tok_json_ints(ref, "greedy", &greedy, &n) == 0);
	ck_assert_int_eq(n, 255);
	ck_assert_int_eq(orc_gguf_open(orc_test_shared("models/stories260K.gguf"), &g, &err), 0);
	ck_assert_msg(orc_tok_new(g, &t, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(orc_tok_n_vocab(t), 512);
	ck_assert_int_eq(orc_tok_bos(t), 1);

	/* the ids after the BOS prompt */
	ck_assert_int_eq(orc_tok_decode(t, greedy, n, ORC_DETOK_SKIP_SPECIAL, &text, &len, &err), 0);
	ck_assert_msg(len == golden_len && memcmp(text, golden, len) == 0,
		      "decoded '%s'\nexpected '%s'", text, golden);
	free(text);
	/* the same with the BOS in front: its leading space is still dropped */
	with_bos = malloc((n + 1) * sizeof(*with_bos));
	with_bos[0] = orc_tok_bos(t);
	memcpy(with_bos + 1, greedy, n * sizeof(*greedy));
	ck_assert_int_eq(orc_tok_decode(t, with_bos, n + 1, ORC_DETOK_SKIP_SPECIAL, &text, &len, &err), 0);
	ck_assert(len == golden_len && memcmp(text, golden, len) == 0);
	free(text);
	check_streaming(t, with_bos, n + 1, ORC_DETOK_SKIP_SPECIAL, "stories260K");
	free(with_bos);
	free(greedy);
	free(golden);
	free(ref);
	orc_tok_free(t);
	orc_gguf_free(g);
}
END_TEST

/* ---- bad input ---- */

START_TEST(invalid_utf8)
{
	static const struct { const char *s; size_t len, off; } cases[] = {
		{ "ab\xff", 3, 2 },
		{ "abc\xe2\x82", 5, 3 },          /* truncated at the end */
		{ "x\xc0\xafy", 4, 1 },           /* overlong '/' */
		{ "\xed\xa0\x80", 3, 0 },         /* a surrogate */
		{ "ok \xf4\x90\x80\x80", 7, 3 },  /* above U+10FFFF */
		{ "\x80", 1, 0 },                 /* a lone continuation byte */
	};
	const char *vocabs[] = { "vocab/qwen2-vocab.gguf", "models/stories260K.gguf" };

	orc_test_require_shared();
	for (size_t v = 0; v < 2; v++) {
		struct orc_err err = { 0 };
		struct orc_gguf *g;
		struct orc_tok *t;
		ck_assert_int_eq(orc_gguf_open(orc_test_shared(vocabs[v]), &g, &err), 0);
		ck_assert_int_eq(orc_tok_new(g, &t, &err), 0);
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			char want[64];
			int32_t *ids = NULL;
			size_t n = 0;
			orc_err_clear(&err);
			ck_assert_int_eq(orc_tok_encode(t, cases[i].s, cases[i].len, ORC_TOK_PARSE_SPECIAL,
							&ids, &n, &err), -EILSEQ);
			snprintf(want, sizeof(want), "byte offset %zu", cases[i].off);
			ck_assert_msg(strstr(err.msg, want), "case %zu: '%s'", i, err.msg);
			ck_assert_ptr_null(ids);
		}
		orc_tok_free(t);
		orc_gguf_free(g);
	}
}
END_TEST

START_TEST(ids_out_of_range)
{
	const int32_t bad[][2] = { { 5, 512 }, { -1, 5 }, { 5, 2147483647 } };
	const char *want[] = { "512", "-1", "2147483647" };
	struct orc_err err = { 0 };
	struct orc_gguf *g;
	struct orc_tok *t;
	struct orc_detok *d;
	const char *chunk;
	char *text = NULL;
	size_t len;

	orc_test_require_shared();
	ck_assert_int_eq(orc_gguf_open(orc_test_shared("models/stories260K.gguf"), &g, &err), 0);
	ck_assert_int_eq(orc_tok_new(g, &t, &err), 0);
	d = orc_detok_new(t, 0);
	for (size_t i = 0; i < 3; i++) {
		orc_err_clear(&err);
		ck_assert_int_eq(orc_tok_decode(t, bad[i], 2, 0, &text, &len, &err), -EINVAL);
		ck_assert_msg(strstr(err.msg, want[i]), "'%s'", err.msg);
		orc_err_clear(&err);
		ck_assert_int_eq(orc_detok_push(d, bad[i][bad[i][0] == 5 ? 1 : 0], &chunk, &len, &err), -EINVAL);
		ck_assert_msg(strstr(err.msg, want[i]), "'%s'", err.msg);
	}
	ck_assert_int_eq(orc_tok_piece(t, 512, &chunk, &len), -EINVAL);
	orc_detok_free(d);
	orc_tok_free(t);
	orc_gguf_free(g);
}
END_TEST

/* A character split over byte tokens comes out once it is complete; a
 * dangling partial character is flushed as U+FFFD. */
START_TEST(streaming_partial_utf8)
{
	struct orc_err err = { 0 };
	struct orc_gguf *g;
	struct orc_tok *t;
	struct orc_detok *d;
	int32_t ids[4];
	const char *chunk;
	size_t len;
	char *text;

	orc_test_require_shared();
	ck_assert_int_eq(orc_gguf_open(orc_test_shared("vocab/ggml-vocab-llama-spm.gguf"), &g, &err), 0);
	ck_assert_int_eq(orc_tok_new(g, &t, &err), 0);
	ids[0] = orc_tok_lookup(t, "<0xE2>", 6);    /* "€" = E2 82 AC */
	ids[1] = orc_tok_lookup(t, "<0x82>", 6);
	ids[2] = orc_tok_lookup(t, "<0xAC>", 6);
	ids[3] = orc_tok_lookup(t, "<0xE2>", 6);
	ck_assert(ids[0] >= 0 && ids[1] >= 0 && ids[2] >= 0);
	d = orc_detok_new(t, 0);
	ck_assert_int_eq(orc_detok_push(d, ids[0], &chunk, &len, &err), 0);
	ck_assert_int_eq(len, 0);
	ck_assert_int_eq(orc_detok_push(d, ids[1], &chunk, &len, &err), 0);
	ck_assert_int_eq(len, 0);
	ck_assert_int_eq(orc_detok_push(d, ids[2], &chunk, &len, &err), 0);
	ck_assert_str_eq(chunk, "\xe2\x82\xac");
	ck_assert_int_eq(orc_detok_push(d, ids[3], &chunk, &len, &err), 0);
	ck_assert_int_eq(len, 0);
	ck_assert_int_eq(orc_detok_flush(d, &chunk, &len), 0);
	ck_assert_str_eq(chunk, "\xef\xbf\xbd");
	ck_assert_int_eq(orc_tok_decode(t, ids, 4, 0, &text, &len, &err), 0);
	ck_assert_str_eq(text, "\xe2\x82\xac\xef\xbf\xbd");
	free(text);
	/* an ill-formed pair: E2 then a lead byte: U+FFFD, then the rest */
	ids[1] = orc_tok_lookup(t, "<0xE2>", 6);
	ck_assert_int_eq(orc_tok_decode(t, ids, 2, 0, &text, &len, &err), 0);
	ck_assert_str_eq(text, "\xef\xbf\xbd\xef\xbf\xbd");
	free(text);
	check_streaming(t, ids, 4, 0, "partial");
	orc_detok_free(d);
	orc_tok_free(t);
	orc_gguf_free(g);
}
END_TEST

static Suite *tokenizer_suite(void)
{
	Suite *s = suite_create("tokenizer");
	TCase *tc = tcase_create("vectors");

	tcase_add_test(tc, vectors_gpt2);
	tcase_add_test(tc, vectors_qwen2);
	tcase_add_test(tc, vectors_llama_spm);
	tcase_add_test(tc, vectors_phi3);
	tcase_add_loop_test(tc, prompts, 0, sizeof(prompt_models) / sizeof(prompt_models[0]));
	tcase_add_test(tc, special_only_when_asked);
	tcase_add_test(tc, stories_golden);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, invalid_utf8);
	tcase_add_test(tc, ids_out_of_range);
	tcase_add_test(tc, streaming_partial_utf8);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	orc_test_require_shared();   /* every test reads ../shared: skip (77) without it */
	return orc_test_run(tokenizer_suite());
}
