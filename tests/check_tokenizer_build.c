/* check_tokenizer_build.c -- the tokenizer built from small GGUF files made
 * here with ggufw: what a file must hold and the errors when it does not,
 * llama.cpp's defaults for absent keys, and the merge rules on vocabularies
 * small enough to work the expected ids out by hand from the definitions
 * (BPE: lowest rank in tokenizer.ggml.merges first; SentencePiece: highest
 * score first). Also: several threads encoding with one tokenizer. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ggufw.h"
#include "testutil.h"
#include "tok_testutil.h"
#include "tokenizer.h"

/* ---- building a tokenizer from a ggufw file ---- */

struct built {
	uint8_t *mem;
	struct orc_gguf *g;
	struct orc_tok *t;
	struct orc_err err;
	int r;
};

static void build(struct ggufw *w, struct built *b)
{
	size_t len;

	memset(b, 0, sizeof(*b));
	ck_assert_int_eq(ggufw_to_mem(w, &b->mem, &len), 0);
	ggufw_free(w);
	ck_assert_msg(orc_gguf_open_mem(b->mem, len, &b->g, &b->err) == 0, "%s", b->err.msg);
	b->r = orc_tok_new(b->g, &b->t, &b->err);
}

static void built_free(struct built *b)
{
	orc_tok_free(b->t);
	orc_gguf_free(b->g);
	free(b->mem);
}

static void expect_ids(const struct orc_tok *t, const char *text, unsigned flags,
		       const int32_t *want, size_t n_want)
{
	struct orc_err err = { 0 };
	int32_t *ids;
	size_t n;

	ck_assert_msg(orc_tok_encode(t, text, strlen(text), flags, &ids, &n, &err) == 0, "%s", err.msg);
	ck_assert_msg(n == n_want && memcmp(ids, want, n * sizeof(*ids)) == 0,
		      "'%s': %zu ids, expected %zu (first difference at %zu)", text, n, n_want,
		      tok_first_diff(ids, n, want, n_want));
	free(ids);
}

/* A byte-level BPE file: tokens a b c ab bc, the given merges. */
static struct ggufw *bpe_file(const char *pre, const char *const *merges, size_t n_merges)
{
	static const char *const tokens[] = { "a", "b", "c", "ab", "bc" };
	struct ggufw *w = ggufw_new();

	ggufw_kv_str(w, "tokenizer.ggml.model", "gpt2");
	if (pre)
		ggufw_kv_str(w, "tokenizer.ggml.pre", pre);
	ggufw_kv_arr_str(w, "tokenizer.ggml.tokens", tokens, 5);
	if (merges)
		ggufw_kv_arr_str(w, "tokenizer.ggml.merges", merges, n_merges);
	return w;
}

/* ---- what a file must hold ---- */

START_TEST(unknown_pre)
{
	static const char *const merges[] = { "a b" };
	struct built b;

	build(bpe_file("no-such-pre", merges, 1), &b);
	ck_assert_int_eq(b.r, -EINVAL);
	ck_assert_msg(strstr(b.err.msg, "'no-such-pre'"), "%s", b.err.msg);
	built_free(&b);
}
END_TEST

START_TEST(unsupported_model)
{
	struct ggufw *w = ggufw_new();
	struct built b;

	ggufw_kv_str(w, "tokenizer.ggml.model", "bert");
	build(w, &b);
	ck_assert_int_eq(b.r, -EINVAL);
	ck_assert_msg(strstr(b.err.msg, "'bert'"), "%s", b.err.msg);
	built_free(&b);

	w = ggufw_new();
	ggufw_kv_u32(w, "general.alignment", 32);
	build(w, &b);
	ck_assert_int_eq(b.r, -EBADMSG);
	ck_assert_msg(strstr(b.err.msg, "tokenizer.ggml.model"), "%s", b.err.msg);
	built_free(&b);
}
END_TEST

START_TEST(bpe_needs_merges)
{
	struct built b;

	build(bpe_file("gpt-2", NULL, 0), &b);
	ck_assert_int_eq(b.r, -EBADMSG);
	ck_assert_msg(strstr(b.err.msg, "tokenizer.ggml.merges"), "%s", b.err.msg);
	built_free(&b);
}
END_TEST

START_TEST(bad_arrays)
{
	static const int32_t ints[] = { 1, 2, 3 };
	static const char *const dup[] = { "a", "b", "a" };
	static const float scores[] = { 0.0f, 0.0f };
	struct ggufw *w;
	struct built b;

	/* tokens that are not strings */
	w = ggufw_new();
	ggufw_kv_str(w, "tokenizer.ggml.model", "llama");
	ggufw_kv_arr_i32(w, "tokenizer.ggml.tokens", ints, 3);
	build(w, &b);
	ck_assert_int_eq(b.r, -EBADMSG);
	ck_assert_msg(strstr(b.err.msg, "tokenizer.ggml.tokens"), "%s", b.err.msg);
	built_free(&b);

	/* fewer scores than tokens */
	w = ggufw_new();
	ggufw_kv_str(w, "tokenizer.ggml.model", "llama");
	ggufw_kv_arr_str(w, "tokenizer.ggml.tokens", dup, 2);
	ggufw_kv_arr_f32(w, "tokenizer.ggml.scores", scores, 1);
	build(w, &b);
	ck_assert_int_eq(b.r, -EBADMSG);
	ck_assert_msg(strstr(b.err.msg, "tokenizer.ggml.scores"), "%s", b.err.msg);
	built_free(&b);

	/* the same text twice */
	w = ggufw_new();
	ggufw_kv_str(w, "tokenizer.ggml.model", "llama");
	ggufw_kv_arr_str(w, "tokenizer.ggml.tokens", dup, 3);
	build(w, &b);
	ck_assert_int_eq(b.r, -EBADMSG);
	ck_assert_msg(strstr(b.err.msg, "0 and 2"), "%s", b.err.msg);
	built_free(&b);
}
END_TEST

/* add_bos_token true, but no BOS: the BPE default (11) is out of range here */
START_TEST(add_bos_without_bos)
{
	static const char *const merges[] = { "a b" };
	struct ggufw *w = bpe_file("gpt-2", merges, 1);
	struct built b;

	ggufw_kv_bool(w, "tokenizer.ggml.add_bos_token", true);
	build(w, &b);
	ck_assert_int_eq(b.r, -EBADMSG);
	ck_assert_msg(strstr(b.err.msg, "add_bos_token"), "%s", b.err.msg);
	built_free(&b);
}
END_TEST

/* ---- BPE: ranks are the order of tokenizer.ggml.merges ---- */

START_TEST(bpe_rank_order)
{
	static const char *const bc_first[] = { "b c", "a b" };
	static const char *const ab_first[] = { "a b", "b c" };
	static const char *const with_unknown[] = { "a x", "a b" };
	const int32_t a_bc[] = { 0, 4 }, ab_c[] = { 3, 2 }, ab[] = { 3 };
	struct built b;

	build(bpe_file("gpt-2", bc_first, 2), &b);
	ck_assert_msg(b.r == 0, "%s", b.err.msg);
	ck_assert_str_eq(orc_tok_pre_name(b.t), "gpt-2");
	ck_assert_int_eq(orc_tok_kind(b.t), ORC_TOK_BPE);
	expect_ids(b.t, "abc", 0, a_bc, 2);
	built_free(&b);

	build(bpe_file("gpt-2", ab_first, 2), &b);
	ck_assert_msg(b.r == 0, "%s", b.err.msg);
	expect_ids(b.t, "abc", 0, ab_c, 2);
	built_free(&b);

	/* a merge naming text outside the vocabulary is left out, as llama.cpp does;
	 * a file without tokenizer.ggml.pre gets llama.cpp's "default" */
	build(bpe_file(NULL, with_unknown, 2), &b);
	ck_assert_msg(b.r == 0, "%s", b.err.msg);
	ck_assert_str_eq(orc_tok_pre_name(b.t), "default");
	expect_ids(b.t, "ab", 0, ab, 1);
	/* BPE defaults: no BOS added, and a BOS id of 11 does not exist here */
	ck_assert(!orc_tok_add_bos(b.t));
	ck_assert_int_eq(orc_tok_bos(b.t), -1);
	expect_ids(b.t, "ab", ORC_TOK_ADD_SPECIAL, ab, 1);
	built_free(&b);
}
END_TEST

/* ---- SentencePiece: highest score first, byte fallback ---- */

#define SP "\xE2\x96\x81"

static struct ggufw *spm_file(float s_ab, float s_bc, float s_sa, bool bytes)
{
	static const char *const tokens[] = {
		"<unk>", "<s>", "</s>", SP, "a", "b", "c", "ab", "bc", SP "a", "<0xC3>", "<0xA9>",
	};
	static const int32_t types[] = { 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 6 };
	const float scores[] = { 0, 0, 0, -5, -6, -6, -6, s_ab, s_bc, s_sa, 0, 0 };
	size_t n = bytes ? 12 : 10;
	struct ggufw *w = ggufw_new();

	ggufw_kv_str(w, "tokenizer.ggml.model", "llama");
	ggufw_kv_arr_str(w, "tokenizer.ggml.tokens", tokens, n);
	ggufw_kv_arr_f32(w, "tokenizer.ggml.scores", scores, n);
	ggufw_kv_arr_i32(w, "tokenizer.ggml.token_type", types, n);
	return w;
}

START_TEST(spm_score_order)
{
	/* "abc" is "▁abc": pairs ▁a, ab, bc */
	const int32_t sa_bc[] = { 9, 8 }, s_ab_c[] = { 3, 7, 6 }, bos_sa_bc[] = { 1, 9, 8 };
	struct built b;
	char *text;
	size_t len;

	build(spm_file(-2.0f, -1.0f, -3.0f, false), &b);   /* bc, then ▁a */
	ck_assert_msg(b.r == 0, "%s", b.err.msg);
	ck_assert_int_eq(orc_tok_kind(b.t), ORC_TOK_SPM);
	expect_ids(b.t, "abc", 0, sa_bc, 2);
	/* llama.cpp's defaults: BOS 1, added */
	ck_assert(orc_tok_add_bos(b.t));
	expect_ids(b.t, "abc", ORC_TOK_ADD_SPECIAL, bos_sa_bc, 3);
	ck_assert_int_eq(orc_tok_decode(b.t, bos_sa_bc, 3, ORC_DETOK_SKIP_SPECIAL, &text, &len, &b.err), 0);
	ck_assert_str_eq(text, "abc");
	free(text);
	built_free(&b);

	build(spm_file(-1.0f, -2.0f, -3.0f, false), &b);   /* ab; then nothing merges */
	ck_assert_msg(b.r == 0, "%s", b.err.msg);
	expect_ids(b.t, "abc", 0, s_ab_c, 3);
	built_free(&b);
}
END_TEST

START_TEST(spm_byte_fallback)
{
	const int32_t bytes[] = { 3, 10, 11 }, unk[] = { 3, 0, 0 };
	struct built b;
	char *text;
	size_t len;

	build(spm_file(-1.0f, -1.0f, -1.0f, true), &b);
	ck_assert_msg(b.r == 0, "%s", b.err.msg);
	expect_ids(b.t, "\xC3\xA9", 0, bytes, 3);          /* "é" = C3 A9 */
	ck_assert_int_eq(orc_tok_decode(b.t, bytes, 3, 0, &text, &len, &b.err), 0);
	ck_assert_str_eq(text, "\xC3\xA9");
	free(text);
	built_free(&b);

	/* without <0xNN> entries each byte is <unk> */
	build(spm_file(-1.0f, -1.0f, -1.0f, false), &b);
	ck_assert_msg(b.r == 0, "%s", b.err.msg);
	expect_ids(b.t, "\xC3\xA9", 0, unk, 3);
	built_free(&b);
}
END_TEST

/* An end-of-turn entry typed NORMAL is treated as control (llama.cpp does). */
START_TEST(eog_by_text)
{
	static const char *const tokens[] = { "<unk>", "<s>", "</s>", "<|im_end|>", "x" };
	struct ggufw *w = ggufw_new();
	struct built b;
	char *text;
	size_t len;
	const int32_t ids[] = { 4, 3 };

	ggufw_kv_str(w, "tokenizer.ggml.model", "llama");
	ggufw_kv_arr_str(w, "tokenizer.ggml.tokens", tokens, 5);
	build(w, &b);
	ck_assert_msg(b.r == 0, "%s", b.err.msg);
	ck_assert(orc_tok_is_eog(b.t, 3));
	ck_assert(orc_tok_is_eog(b.t, 2));      /* EOS, by llama.cpp's default id */
	ck_assert(orc_tok_is_control(b.t, 3));
	ck_assert(!orc_tok_is_eog(b.t, 4));
	ck_assert_int_eq(orc_tok_decode(b.t, ids, 2, ORC_DETOK_SKIP_SPECIAL, &text, &len, &b.err), 0);
	ck_assert_str_eq(text, "x");
	free(text);
	built_free(&b);
}
END_TEST

/* ---- Phi-3's special tokens eat the whitespace after them ---- */

START_TEST(phi3_rstrip)
{
	static const char text[] = "<|user|>\nHi<|end|>\n<|assistant|>\n";
	struct orc_err err = { 0 };
	struct orc_gguf *g;
	struct orc_tok *t;
	int32_t *ids;
	size_t n;
	char *back;
	size_t len;

	orc_test_require_shared();
	ck_assert_int_eq(orc_gguf_open(orc_test_shared("vocab/ggml-vocab-phi-3.gguf"), &g, &err), 0);
	ck_assert_int_eq(orc_tok_new(g, &t, &err), 0);
	ck_assert_int_eq(orc_tok_encode(t, text, strlen(text), ORC_TOK_PARSE_SPECIAL, &ids, &n, &err), 0);
	/* the entries' ids, from the file */
	ck_assert_int_eq(ids[0], orc_tok_lookup(t, "<|user|>", 8));
	ck_assert_int_eq(ids[n - 1], orc_tok_lookup(t, "<|assistant|>", 13));
	ck_assert_int_eq(orc_tok_decode(t, ids, n, 0, &back, &len, &err), 0);
	ck_assert_str_eq(back, "<|user|> Hi<|end|><|assistant|>");
	free(back);
	free(ids);
	orc_tok_free(t);
	orc_gguf_free(g);
}
END_TEST

/* ---- one tokenizer, several threads ---- */

struct job {
	const struct orc_tok *t;
	const struct tok_vectors *v;
	int failures;
};

static void *encode_all(void *arg)
{
	struct job *j = arg;

	for (int round = 0; round < 5; round++) {
		for (size_t i = 0; i < j->v->n; i++) {
			const struct tok_vector *x = &j->v->v[i];
			int32_t *ids;
			size_t n;
			if (orc_tok_encode(j->t, x->text, x->len, 0, &ids, &n, NULL) < 0) {
				j->failures++;
				continue;
			}
			if (n != x->n_ids || memcmp(ids, x->ids, n * sizeof(*ids)) != 0)
				j->failures++;
			free(ids);
		}
	}
	return NULL;
}

START_TEST(threads)
{
	struct orc_err err = { 0 };
	struct tok_vectors v;
	struct orc_gguf *g;
	struct orc_tok *t;
	pthread_t th[4];
	struct job jobs[4];

	orc_test_require_shared();
	ck_assert_int_eq(tok_vectors_load(orc_test_shared("vocab/ggml-vocab-qwen2.gguf"), &v), 0);
	ck_assert_int_eq(orc_gguf_open(orc_test_shared("vocab/qwen2-vocab.gguf"), &g, &err), 0);
	ck_assert_int_eq(orc_tok_new(g, &t, &err), 0);
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct job){ t, &v, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, encode_all, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(jobs[i].failures, 0);
	}
	orc_tok_free(t);
	orc_gguf_free(g);
	tok_vectors_free(&v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tokenizer_build");
	TCase *tc = tcase_create("files");

	tcase_add_test(tc, unknown_pre);
	tcase_add_test(tc, unsupported_model);
	tcase_add_test(tc, bpe_needs_merges);
	tcase_add_test(tc, bad_arrays);
	tcase_add_test(tc, add_bos_without_bos);
	suite_add_tcase(s, tc);

	tc = tcase_create("algorithms");
	tcase_add_test(tc, bpe_rank_order);
	tcase_add_test(tc, spm_score_order);
	tcase_add_test(tc, spm_byte_fallback);
	tcase_add_test(tc, eog_by_text);
	suite_add_tcase(s, tc);

	/* these read ../shared; the rest runs without it */
	if (access(orc_test_shared("vocab"), R_OK) == 0) {
		tc = tcase_create("shared");
		tcase_add_test(tc, phi3_rstrip);
		tcase_add_test(tc, threads);
		suite_add_tcase(s, tc);
	} else {
		fprintf(stderr, "SKIP: shared fixtures not found (set ORC_SHARED); "
			"Phi-3 and thread tests not run\n");
	}
	return orc_test_run(s);
}
