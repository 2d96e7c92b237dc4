/* check_engine.c -- the engine on the CPU backend against the references
 * in ../shared/models (Hugging Face transformers, float32, same weights):
 * logits at every prompt position, the greedy continuation, and
 * stories260K's golden text. Then the reproducibility contract (bit-identical
 * logits across batch compositions, pass splits and thread counts) and the
 * errors of orc_model_eval(). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "engine_testutil.h"
#include "gguf.h"
#include "graph.h"
#include "model_desc.h"
#include "sampler.h"
#include "testutil.h"

/* Our engine computes in float32 from the same weights as the reference, so
 * logits agree to about 1e-4 (accumulation order only); we allow 1e-3 on
 * every logit of the reference's top 32 and on the log-sum-exp. A greedy id
 * must match wherever the reference's winning margin exceeds 2e-3. */
#define LOGIT_TOL 1e-3
#define MARGIN_MIN (2 * LOGIT_TOL)

static const char *const models[] = {
	"stories260K", "tiny-qwen2-q8_0", "tiny-llama-f16", "tiny-phi3-bf16", "tiny-gpt2-f32",
};

static struct orc_model *load(const char *name, int threads, uint32_t n_ctx, uint32_t n_seq,
			      uint32_t n_batch)
{
	struct orc_model_opts o = { .backend = ORC_BACKEND_CPU, .n_threads = threads, .n_ctx = n_ctx,
				    .n_seq_max = n_seq, .n_batch = n_batch };

	return orc_test_model_load(name, &o);
}

/* ---- reference match, every model ---- */

/* _i < 5: the best kernel set; _i >= 5: the portable one (ORC_CPU_SIMD). */
START_TEST(reference_logits_and_greedy)
{
	const char *name = models[_i % 5];
	struct orc_test_ref r;
	struct orc_model *m;
	struct orc_seq *s;
	struct orc_err err = { 0 };
	uint32_t nv;
	float *logits;
	double worst = 0;
	size_t checked = 0;

	orc_test_require_shared();
	if (_i >= 5)
		setenv("ORC_CPU_SIMD", "generic", 1);
	orc_test_ref_load(name, &r);
	m = load(name, 2, (uint32_t)(r.n_prompt + r.n_greedy + 1), 1, 0);
	nv = orc_model_n_vocab(m);
	logits = malloc(sizeof(float) * nv * r.n_prompt);
	ck_assert_int_eq(orc_seq_new(m, &s, &err), 0);

	orc_test_eval1(m, s, r.prompt, (uint32_t)r.n_prompt, true, logits);
	for (size_t i = 0; i < r.n_prompt; i++) {
		double e = orc_test_position_error(orc_jsonr_at(r.positions, i), logits + i * nv, nv);
		ck_assert_msg(e <= LOGIT_TOL, "%s: position %zu off by %.3g", name, i, e);
		worst = fmax(worst, e);
	}
	/* Greedy with the reference's ids fed back, so that a legitimate flip at
	 * a near-tie does not hide later steps; each clear step must agree. */
	memmove(logits, logits + (r.n_prompt - 1) * nv, sizeof(float) * nv);
	for (size_t k = 0; k < r.n_greedy; k++) {
		double margin = orc_jsonr_num(orc_jsonr_at(r.margin, k), 0);
		if (margin > MARGIN_MIN) {
			ck_assert_msg(orc_sampler_argmax(logits, nv) == r.greedy[k], "%s: greedy step %zu: %d, reference %d (margin %.4f)",
				      name, k, orc_sampler_argmax(logits, nv), r.greedy[k], margin);
			checked++;
		}
		if (k + 1 < r.n_greedy)
			orc_test_eval1(m, s, &r.greedy[k], 1, false, logits);
	}
	if (strcmp(name, "stories260K") == 0)
		ck_assert_uint_eq(checked, 255);   /* all steps, the near-tie at 185 included */
	fprintf(stderr, "%s (%s kernels): max logit error %.2e over %zu positions; %zu greedy steps checked\n",
		name, _i >= 5 ? "portable" : "default", worst, r.n_prompt, checked);
	free(logits);
	orc_model_free(m);
	orc_test_ref_free(&r);
}
END_TEST

/* stories260K from BOS, free-running greedy: the golden text byte for byte. */
START_TEST(stories_golden_text)
{
	orc_test_require_shared();
	orc_test_check_golden_greedy(load("stories260K", 2, 256, 1, 0));
}
END_TEST

/* ---- reproducibility ---- */

/* Logits of `ids` fed to a fresh sequence in pieces of `step` tokens
 * (0 = one piece), every position kept. */
static void run_chunked(struct orc_model *m, const int32_t *ids, uint32_t n, uint32_t step, float *out)
{
	struct orc_seq *s;
	struct orc_err err = { 0 };
	uint32_t nv = orc_model_n_vocab(m);

	ck_assert_int_eq(orc_seq_new(m, &s, &err), 0);
	for (uint32_t i = 0; i < n; i += step ? step : n) {
		uint32_t k = step && n - i > step ? step : n - i;
		orc_test_eval1(m, s, ids + i, k, true, out + (size_t)i * nv);
	}
	orc_seq_free(s);
}

START_TEST(prefill_chunking_and_threads)
{
	const char *name = models[_i];
	struct orc_test_ref r;
	struct orc_model *m1, *m2, *m3;
	int32_t ids[40];
	uint32_t n = 0, nv;
	float *a, *b;

	orc_test_require_shared();
	orc_test_ref_load(name, &r);
	for (size_t i = 0; i < r.n_prompt && n < 40; i++)
		ids[n++] = r.prompt[i];
	for (size_t i = 0; i < r.n_greedy && n < 40; i++)
		ids[n++] = r.greedy[i];
	m1 = load(name, 1, 64, 1, 0);
	m2 = load(name, 2, 64, 1, 0);
	m3 = load(name, 2, 64, 1, 5);          /* passes of at most 5 tokens */
	nv = orc_model_n_vocab(m1);
	a = malloc(sizeof(float) * nv * n);
	b = malloc(sizeof(float) * nv * n);
	run_chunked(m2, ids, n, 0, a);
	for (uint32_t step = 1; step <= 7; step += 6) {
		run_chunked(m2, ids, n, step, b);
		ck_assert_msg(memcmp(a, b, sizeof(float) * nv * n) == 0,
			      "%s: one pass and pieces of %u differ", name, step);
	}
	run_chunked(m1, ids, n, 0, b);
	ck_assert_msg(memcmp(a, b, sizeof(float) * nv * n) == 0, "%s: 1 and 2 threads differ", name);
	run_chunked(m3, ids, n, 0, b);
	ck_assert_msg(memcmp(a, b, sizeof(float) * nv * n) == 0, "%s: n_batch 5 differs", name);
	{       /* chunks without logits, then the last token's */
		struct orc_seq *s;
		struct orc_err err = { 0 };
		struct orc_eval_item it = { .ids = ids, .n = n - 4, .logits = NULL };
		ck_assert_int_eq(orc_seq_new(m2, &s, &err), 0);
		it.seq = s;
		ck_assert_msg(orc_model_eval(m2, &it, 1, &err) == 0, "%s", err.msg);
		it.ids = ids + n - 4;
		it.n = 3;
		ck_assert_msg(orc_model_eval(m2, &it, 1, &err) == 0, "%s", err.msg);
		orc_test_eval1(m2, s, ids + n - 1, 1, false, b);
		ck_assert_msg(memcmp(a + (size_t)(n - 1) * nv, b, sizeof(float) * nv) == 0,
			      "%s: chunks without logits differ", name);
		orc_seq_free(s);
	}
	free(a);
	free(b);
	orc_model_free(m1);
	orc_model_free(m2);
	orc_model_free(m3);
	orc_test_ref_free(&r);
}
END_TEST

/* Sequence A decoded alone, then again batched with B and C (other prompts,
 * other positions, prefill and decode mixed): A's logits are the same bits.
 * A also asks for the engine's greedy id, which is the sampler's argmax of
 * its logits; C asks for the id alone (no logits) while decoding. */
START_TEST(batch_invariance)
{
	const char *name = models[_i];
	struct orc_test_ref r;
	struct orc_model *m;
	struct orc_seq *a, *b, *c;
	struct orc_err err = { 0 };
	uint32_t nv, na;
	float *alone, *la, *lb, *lc;

	orc_test_require_shared();
	orc_test_ref_load(name, &r);
	m = load(name, 2, 64, 3, 0);
	nv = orc_model_n_vocab(m);
	na = (uint32_t)(r.n_prompt > 1 ? r.n_prompt - 1 : 1);
	alone = malloc(sizeof(float) * nv * 12);
	la = malloc(sizeof(float) * nv);
	lb = malloc(sizeof(float) * nv * 12);
	lc = malloc(sizeof(float) * nv);
	ck_assert_int_eq(orc_seq_new(m, &a, &err), 0);
	orc_test_eval1(m, a, r.prompt, na, false, alone);
	for (int k = 0; k < 10; k++)
		orc_test_eval1(m, a, &r.greedy[k], 1, false, alone + (size_t)(k + 1) * nv);
	orc_seq_free(a);

	ck_assert_int_eq(orc_seq_new(m, &c, &err), 0);
	ck_assert_int_eq(orc_seq_new(m, &b, &err), 0);
	ck_assert_int_eq(orc_seq_new(m, &a, &err), 0);
	orc_test_eval1(m, c, r.greedy, 3, false, lc);       /* C is ahead before A starts */
	for (int k = -1; k < 10; k++) {
		int32_t ida = -2, idc = -2;
		struct orc_eval_item it[3] = {
			{ .seq = b, .ids = r.greedy + 5, .n = k < 0 ? 7 : 1, .logits = lb, .logits_all = k < 0 },
			{ .seq = a, .ids = k < 0 ? r.prompt : &r.greedy[k], .n = k < 0 ? na : 1, .logits = la,
			  .argmax = &ida },
			{ .seq = c, .ids = &r.greedy[(k + 3) % 10], .n = 1, .logits = k < 0 ? lc : NULL,
			  .argmax = k < 0 ? NULL : &idc },
		};
		ck_assert_msg(orc_model_eval(m, it, 3, &err) == 0, "%s", err.msg);
		ck_assert_msg(memcmp(la, alone + (size_t)(k + 1) * nv, sizeof(float) * nv) == 0,
			      "%s: step %d of A differs when batched", name, k);
		ck_assert_int_eq(ida, orc_sampler_argmax(la, nv));
		if (k >= 0)
			ck_assert_msg(idc >= 0 && (uint32_t)idc < nv, "%s: step %d: C's greedy id %d", name, k, idc);
	}
	free(alone);
	free(la);
	free(lb);
	free(lc);
	orc_model_free(m);
	orc_test_ref_free(&r);
}
END_TEST

/* 40 sequences in one batch (more than one output group of 32): each
 * one's greedy id is the argmax of its own logits, and the same batch on
 * fresh sequences asking for the ids alone gives the same ids. */
START_TEST(argmax_many_rows)
{
	enum { S = 40 };
	struct orc_model *m;
	struct orc_seq *a[S], *b[S];
	struct orc_eval_item ia[S], ib[S];
	struct orc_err err = { 0 };
	int32_t prompts[S][3], ida[S], idb[S];
	float *logits;
	uint32_t nv;

	orc_test_require_shared();
	m = load("stories260K", 2, 16, 2 * S, 0);
	nv = orc_model_n_vocab(m);
	logits = malloc(sizeof(float) * nv * S);
	ck_assert_ptr_nonnull(logits);
	for (int i = 0; i < S; i++) {
		prompts[i][0] = 1, prompts[i][1] = 3 + 7 * i, prompts[i][2] = 300 + i;
		ck_assert_int_eq(orc_seq_new(m, &a[i], &err), 0);
		ck_assert_int_eq(orc_seq_new(m, &b[i], &err), 0);
		ia[i] = (struct orc_eval_item){ .seq = a[i], .ids = prompts[i], .n = 3,
						.logits = logits + (size_t)i * nv, .argmax = &ida[i] };
		ib[i] = (struct orc_eval_item){ .seq = b[i], .ids = prompts[i], .n = 3, .argmax = &idb[i] };
	}
	ck_assert_msg(orc_model_eval(m, ia, S, &err) == 0, "%s", err.msg);
	ck_assert_msg(orc_model_eval(m, ib, S, &err) == 0, "%s", err.msg);
	for (int i = 0; i < S; i++) {
		ck_assert_int_eq(ida[i], orc_sampler_argmax(logits + (size_t)i * nv, nv));
		ck_assert_int_eq(idb[i], ida[i]);
	}
	for (int i = 0; i < S; i++) {
		orc_seq_free(a[i]);
		orc_seq_free(b[i]);
	}
	free(logits);
	orc_model_free(m);
}
END_TEST

/* ---- errors ---- */

START_TEST(eval_errors)
{
	struct orc_model *m;
	struct orc_seq *s, *t, *u;
	struct orc_err err = { 0 };
	int32_t ids[10] = { 1, 403, 407, 261, 378, 2, 9, 77, 400, 300 };
	int32_t bad[2] = { 1, 512 };
	float *l1, *l2;
	struct orc_eval_item it = { .ids = ids, .n = 9, .logits_all = false };

	orc_test_require_shared();
	m = load("stories260K", 2, 8, 2, 0);
	l1 = malloc(sizeof(float) * 512 * 10);
	l2 = malloc(sizeof(float) * 512 * 10);
	ck_assert_int_eq(orc_seq_new(m, &s, &err), 0);
	ck_assert_int_eq(orc_seq_new(m, &t, &err), 0);
	ck_assert_int_eq(orc_seq_new(m, &u, &err), -EBUSY);
	it.seq = s;
	it.logits = l1;

	/* context overflow: 9 tokens into n_ctx 8 */
	ck_assert_int_eq(orc_model_eval(m, &it, 1, &err), -E2BIG);
	ck_assert_msg(strstr(err.msg, "context of 8 tokens") != NULL, "%s", err.msg);
	ck_assert_uint_eq(orc_seq_pos(s), 0);
	/* overflow later on: 6 fit, then 3 more do not */
	it.n = 6;
	ck_assert_int_eq(orc_model_eval(m, &it, 1, &err), 0);
	it.ids = ids + 6;
	it.n = 3;
	ck_assert_int_eq(orc_model_eval(m, &it, 1, &err), -E2BIG);
	ck_assert_msg(strstr(err.msg, "at position 6") != NULL, "%s", err.msg);
	ck_assert_uint_eq(orc_seq_pos(s), 6);

	/* ids out of range, in a batch with a valid item: nothing changes */
	struct orc_eval_item two[2] = {
		{ .seq = t, .ids = ids, .n = 2, .logits = l2 },
		{ .seq = s, .ids = bad, .n = 2, .logits = l1 },
	};
	ck_assert_int_eq(orc_model_eval(m, two, 2, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "token id 512") != NULL, "%s", err.msg);
	bad[1] = -3;
	ck_assert_int_eq(orc_model_eval(m, two, 2, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "token id -3") != NULL, "%s", err.msg);
	ck_assert_uint_eq(orc_seq_pos(s), 6);
	ck_assert_uint_eq(orc_seq_pos(t), 0);

	/* empty input and a sequence twice */
	ck_assert_int_eq(orc_model_eval(m, two, 0, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "empty batch") != NULL, "%s", err.msg);
	two[1] = (struct orc_eval_item){ .seq = s, .ids = ids, .n = 0, .logits = l1 };
	ck_assert_int_eq(orc_model_eval(m, two, 2, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "no tokens") != NULL, "%s", err.msg);
	two[1] = two[0];
	ck_assert_int_eq(orc_model_eval(m, two, 2, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "same sequence") != NULL, "%s", err.msg);
	ck_assert_uint_eq(orc_seq_pos(t), 0);

	/* after the errors, t evaluates exactly as s did from 0 */
	orc_seq_clear(s);
	orc_test_eval1(m, s, ids, 5, true, l1);
	orc_test_eval1(m, t, ids, 5, true, l2);
	ck_assert(memcmp(l1, l2, sizeof(float) * 512 * 5) == 0);
	free(l1);
	free(l2);
	orc_model_free(m);
}
END_TEST

START_TEST(load_errors)
{
	struct orc_model_opts o = { .backend = ORC_BACKEND_CPU, .n_ctx = 2048 };
	struct orc_model *m = NULL;
	struct orc_err err = { 0 };

	orc_test_require_shared();
	/* gpt2's learned positions bound the context */
	ck_assert_int_eq(orc_model_load(orc_test_shared("models/tiny-gpt2-f32.gguf"), &o, &m, &err), -E2BIG);
	ck_assert_msg(strstr(err.msg, "learned positions") != NULL, "%s", err.msg);
	o.n_ctx = 0;
	o.n_threads = -1;
	ck_assert_int_eq(orc_model_load(orc_test_shared("models/stories260K.gguf"), &o, &m, &err), -EINVAL);
	o.n_threads = 1;
	ck_assert_int_lt(orc_model_load(orc_test_shared("models/absent.gguf"), &o, &m, &err), 0);
	ck_assert_msg(strstr(err.msg, "absent.gguf") != NULL, "%s", err.msg);
	/* the CPU backend keeps no F16 KV cache: a clear error */
	o.kv_f16 = true;
	ck_assert_int_eq(orc_model_load(orc_test_shared("models/stories260K.gguf"), &o, &m, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "KV cache in f16") != NULL && strstr(err.msg, "cpu") != NULL, "%s", err.msg);
	o.kv_f16 = false;
	ck_assert_int_eq(orc_model_load(orc_test_shared("models/stories260K.gguf"), &o, &m, &err), 0);
	ck_assert_str_eq(orc_model_backend_name(m), "cpu");
	ck_assert_int_eq(orc_model_n_threads(m), 1);
	ck_assert_uint_eq(orc_model_n_ctx(m), 512);      /* min(n_ctx_train, 4096) */
	orc_model_free(m);
}
END_TEST

/* ---- the backend's own working memory (reserve) counts as scratch ---- */

static struct orc_backend_plan seen;
static uint32_t seen_bad_k;   /* weights of the plan whose K is none of the model's */
static const struct orc_hparams *seen_hp;
static int reserve_rc;

static int fake_reserve(struct orc_backend *be, const struct orc_backend_plan *p, uint64_t *bytes,
			struct orc_err *err)
{
	(void)be;
	seen = *p;
	seen_bad_k = 0;
	for (size_t i = 0; i < p->n_weights; i++) {
		uint32_t k = p->weights[i].ne0;
		if (k != seen_hp->n_embd && k != seen_hp->n_head * seen_hp->head_dim && k != seen_hp->n_ff)
			seen_bad_k++;
	}
	*bytes = reserve_rc ? 0 : 12345;
	return reserve_rc ? orc_err_set(err, reserve_rc, "scratch buffer of 9.0 MiB does not fit") : 0;
}

START_TEST(backend_reserve_counted)
{
	const struct orc_graph_opts go = { .n_batch = 48, .n_kv_blocks = 8, .block_size = 16, .max_blocks = 4,
					   .n_seq_rows = 2 };
	struct orc_backend_opts bo = { .n_threads = 1 };
	struct orc_backend *be = NULL;
	struct orc_backend_ops ops;
	struct orc_gguf *gg = NULL;
	struct orc_model_desc *d = NULL;
	struct orc_graph *g = NULL;
	struct orc_model_mem m0, m1;
	struct orc_err err = { 0 };

	ck_assert_int_eq(orc_gguf_open_read(orc_test_shared("models/tiny-qwen2-q8_0.gguf"), ORC_GGUF_MMAP, &gg, &err), 0);
	ck_assert_int_eq(orc_model_desc_new(gg, &d, &err), 0);
	ck_assert_int_eq(orc_backend_cpu_new(&bo, &be, &err), 0);
	ck_assert_ptr_null(be->ops->reserve);   /* the CPU backend keeps no working memory of its own */
	ck_assert_msg(orc_graph_new(be, gg, d, &go, &g, &err) == 0, "%s", err.msg);
	orc_graph_get_mem(g, &m0);
	orc_graph_free(g);

	ops = *be->ops;
	ops.reserve = fake_reserve;
	be->ops = &ops;
	seen_hp = &d->hp;
	ck_assert_msg(orc_graph_new(be, gg, d, &go, &g, &err) == 0, "%s", err.msg);
	orc_graph_get_mem(g, &m1);
	orc_graph_free(g);
	ck_assert_uint_eq(m1.scratch, m0.scratch + 12345);
	ck_assert_uint_eq(m1.weights, m0.weights);
	ck_assert_uint_eq(m1.kv_cache, m0.kv_cache);
	ck_assert_uint_eq(seen.n_tok, 48);
	ck_assert_uint_eq(seen.n_head, d->hp.n_head);
	ck_assert_uint_eq(seen.head_dim, d->hp.head_dim);
	ck_assert_uint_eq(seen.max_keys, 4 * 16);
	/* the 2-D weights of every layer (Q, K, V, output, gate, up, down) and the head */
	ck_assert_uint_eq(seen.n_weights, 7 * d->hp.n_layer + 1);
	ck_assert_uint_eq(seen_bad_k, 0);

	/* a backend that cannot reserve fails the load, naming itself */
	reserve_rc = -ENOMEM;
	ck_assert_int_eq(orc_graph_new(be, gg, d, &go, &g, &err), -ENOMEM);
	ck_assert_msg(strstr(err.msg, "working memory of the cpu backend: scratch buffer") != NULL, "%s", err.msg);
	reserve_rc = 0;

	orc_backend_free(be);
	orc_model_desc_free(d);
	orc_gguf_free(gg);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("cpu");
	const int n = (int)(sizeof(models) / sizeof(models[0]));

	orc_test_require_shared();      /* every test needs the models: skip the suite */
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, reference_logits_and_greedy, 0, 2 * n);
	tcase_add_test(tc, stories_golden_text);
	tcase_add_loop_test(tc, prefill_chunking_and_threads, 0, n);
	tcase_add_loop_test(tc, batch_invariance, 0, n);
	tcase_add_test(tc, argmax_many_rows);
	tcase_add_test(tc, eval_errors);
	tcase_add_test(tc, load_errors);
	tcase_add_test(tc, backend_reserve_counted);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
