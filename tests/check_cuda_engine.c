/* check_cuda_engine.c -- the engine on the CUDA backend against the
 * references in ../shared/models (transformers, float32): logits at every
 * prompt position and the greedy continuation of every fixture, the
 * stories260K golden text, batch invariance (a sequence alone and batched
 * with 1 to 63 others gives the same logit bits), both with the KV cache
 * in F32 and in F16, top-k sampling from the GPU's candidates, and a model
 * that does not fit failing cleanly. Skips (77) without a GPU or the
 * fixtures. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cudatest.h"
#include "engine.h"
#include "engine_testutil.h"
#include "gen.h"
#include "sampler.h"
#include "testutil.h"

/* Every matmul accumulates the F32 products of the stored weights and F32
 * activations (as the CPU backend does, in another order), attention runs
 * in F32 over an F32 cache: the same 1e-3 bound on logits as the CPU suite,
 * and a greedy id must match wherever the reference margin exceeds 2e-3. */
#define LOGIT_TOL 1e-3
/* With the cache in F16 every key and value is rounded to 11 significant
 * bits (relative error up to 2^-11, about 4.9e-4) before attention reads
 * it; through the layers that moves the tiny fixtures' logits by a few
 * 1e-3 against the F32 reference. */
#define LOGIT_TOL_KV16 1e-2

static const char *const models[] = {
	"stories260K", "tiny-qwen2-q8_0", "tiny-llama-f16", "tiny-phi3-bf16", "tiny-gpt2-f32",
};

static struct orc_model *load_kv(const char *name, uint32_t n_ctx, uint32_t n_seq, uint32_t n_batch, bool kv_f16)
{
	struct orc_model_opts o = { .backend = ORC_BACKEND_CUDA, .n_ctx = n_ctx, .n_seq_max = n_seq,
				    .n_batch = n_batch, .kv_f16 = kv_f16 };
	struct orc_model *m = orc_test_model_load(name, &o);

	ck_assert_str_eq(orc_model_backend_name(m), "cuda");
	return m;
}

static struct orc_model *load(const char *name, uint32_t n_ctx, uint32_t n_seq, uint32_t n_batch)
{
	return load_kv(name, n_ctx, n_seq, n_batch, false);
}

/* Loop tests over 2 n: fixture _i % n, the cache in F16 from n on. */
#define N_MODELS ((int)(sizeof(models) / sizeof(models[0])))

START_TEST(reference_logits_and_greedy)
{
	const char *name = models[_i % N_MODELS];
	const bool kv16 = _i >= N_MODELS;
	const double tol = kv16 ? LOGIT_TOL_KV16 : LOGIT_TOL;
	struct orc_test_ref r;
	struct orc_seq *s;
	struct orc_err err = { 0 };
	double worst = 0;
	size_t checked = 0;

	orc_test_ref_load(name, &r);
	struct orc_model *m = load_kv(name, (uint32_t)(r.n_prompt + r.n_greedy + 1), 1, 0, kv16);
	uint32_t nv = orc_model_n_vocab(m);
	float *logits = malloc(sizeof(float) * nv * r.n_prompt);
	ck_assert_int_eq(orc_seq_new(m, &s, &err), 0);
	orc_test_eval1(m, s, r.prompt, (uint32_t)r.n_prompt, true, logits);
	for (size_t i = 0; i < r.n_prompt; i++) {
		double e = orc_test_position_error(orc_jsonr_at(r.positions, i), logits + i * nv, nv);
		ck_assert_msg(e <= tol, "%s%s: position %zu off by %.3g", name, kv16 ? " (f16 cache)" : "", i, e);
		worst = fmax(worst, e);
	}
	memmove(logits, logits + (r.n_prompt - 1) * nv, sizeof(float) * nv);
	for (size_t k = 0; k < r.n_greedy; k++) {
		double margin = orc_jsonr_num(orc_jsonr_at(r.margin, k), 0);
		if (margin > 2 * tol) {
			ck_assert_msg(orc_sampler_argmax(logits, nv) == r.greedy[k], "%s: greedy step %zu: %d, reference %d", name, k,
				      orc_sampler_argmax(logits, nv), r.greedy[k]);
			checked++;
		}
		if (k + 1 < r.n_greedy)
			orc_test_eval1(m, s, &r.greedy[k], 1, false, logits);
	}
	fprintf(stderr, "cuda %s%s: max logit error %.2e over %zu positions; %zu greedy steps checked\n", name,
		kv16 ? " (f16 cache)" : "", worst, r.n_prompt, checked);
	free(logits);
	orc_model_free(m);
	orc_test_ref_free(&r);
}
END_TEST

START_TEST(stories_golden_text)
{
	orc_test_check_golden_greedy(load("stories260K", 256, 1, 0));
}
END_TEST

/* Sequence A (a prompt, then its own greedy tokens) alone; then the same
 * with k others whose prompts (of other lengths) are prefilled in the same
 * evaluation and which decode alongside: A's logits are the same bits at
 * every step, hence the same greedy (and seeded sampled) tokens. */
#define INV_STEPS 12

static void run_a(struct orc_model *m, const struct orc_test_ref *r, int k_others, float *out)
{
	const uint32_t nv = orc_model_n_vocab(m), na = (uint32_t)r->n_prompt;
	struct orc_seq *seq[64];
	struct orc_err err = { 0 };
	struct orc_eval_item it[64];
	int32_t next[64], prompts[64][24];
	float *lo = malloc(sizeof(float) * nv * 64);

	for (int i = 0; i <= k_others; i++)
		ck_assert_int_eq(orc_seq_new(m, &seq[i], &err), 0);
	for (int i = 1; i <= k_others; i++)
		for (int j = 0; j < 24; j++)
			prompts[i][j] = (int32_t)((r->prompt[j % na] + 7 * i + 13 * j) % nv);
	for (int step = 0; step <= INV_STEPS; step++) {
		for (int i = 0; i <= k_others; i++) {
			bool first = step == 0;
			it[i] = (struct orc_eval_item){ .seq = seq[i], .logits = i == 0 ? out + (size_t)step * nv : lo + (size_t)i * nv };
			if (i == 0) {
				it[i].ids = first ? r->prompt : &next[0];
				it[i].n = first ? na : 1;
			} else {
				it[i].ids = first ? prompts[i] : &next[i];
				it[i].n = first ? (uint32_t)(1 + (i * 5) % 24) : 1;
			}
		}
		/* A goes in the middle of the batch when there are others */
		if (k_others > 0) {
			struct orc_eval_item t = it[0];
			it[0] = it[k_others / 2 + 1];
			it[k_others / 2 + 1] = t;
		}
		ck_assert_msg(orc_model_eval(m, it, (size_t)k_others + 1, &err) == 0, "%s", err.msg);
		for (int i = 0; i <= k_others; i++) {
			const float *l = it[i].logits;
			int idx = it[i].seq == seq[0] ? 0 : -1;
			for (int j = 1; j <= k_others && idx < 0; j++)
				if (it[i].seq == seq[j])
					idx = j;
			next[idx] = orc_sampler_argmax(l, nv);
		}
	}
	for (int i = 0; i <= k_others; i++)
		orc_seq_free(seq[i]);
	free(lo);
}

/* The F16 cache takes half the memory of the F32 one. */
START_TEST(kv_f16_halves_the_cache)
{
	struct orc_model *m32 = load_kv("tiny-qwen2-q8_0", 256, 4, 0, false);
	struct orc_model *m16 = load_kv("tiny-qwen2-q8_0", 256, 4, 0, true);
	struct orc_model_mem a, b;

	orc_model_get_mem(m32, &a);
	orc_model_get_mem(m16, &b);
	ck_assert_uint_gt(b.kv_cache, 0);
	ck_assert_uint_eq(a.kv_cache, 2 * b.kv_cache);
	ck_assert_uint_eq(a.weights, b.weights);
	orc_model_free(m32);
	orc_model_free(m16);
}
END_TEST

START_TEST(batch_invariance_64)
{
	const char *name = models[_i % N_MODELS];
	const bool kv16 = _i >= N_MODELS;
	struct orc_test_ref r;
	const int ks[] = { 1, 3, 16, 31, 63 };

	orc_test_ref_load(name, &r);
	struct orc_model *m = load_kv(name, 64, 64, 0, kv16);
	const uint32_t nv = orc_model_n_vocab(m);
	float *alone = malloc(sizeof(float) * nv * (INV_STEPS + 1)), *with = malloc(sizeof(float) * nv * (INV_STEPS + 1));
	run_a(m, &r, 0, alone);
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		run_a(m, &r, ks[i], with);
		for (int step = 0; step <= INV_STEPS; step++)
			ck_assert_msg(memcmp(alone + (size_t)step * nv, with + (size_t)step * nv, sizeof(float) * nv) == 0,
				      "%s%s: step %d of A differs when batched with %d others", name,
				      kv16 ? " (f16 cache)" : "", step, ks[i]);
	}
	free(alone);
	free(with);
	orc_model_free(m);
	orc_test_ref_free(&r);
}
END_TEST

/* A prompt in one pass, in pieces, and in passes of 5 tokens: same bits. */
START_TEST(prefill_chunking)
{
	const char *name = models[_i];
	struct orc_test_ref r;
	struct orc_err err = { 0 };
	int32_t ids[40];
	uint32_t n = 0;

	orc_test_ref_load(name, &r);
	for (size_t i = 0; i < r.n_prompt && n < 40; i++)
		ids[n++] = r.prompt[i];
	for (size_t i = 0; i < r.n_greedy && n < 40; i++)
		ids[n++] = r.greedy[i];
	struct orc_model *m1 = load(name, 64, 1, 0), *m2 = load(name, 64, 1, 5);
	const uint32_t nv = orc_model_n_vocab(m1);
	float *a = malloc(sizeof(float) * nv * n), *b = malloc(sizeof(float) * nv * n);
	struct orc_seq *s;
	ck_assert_int_eq(orc_seq_new(m1, &s, &err), 0);
	orc_test_eval1(m1, s, ids, n, true, a);
	for (uint32_t step = 1; step <= 7; step += 6) {
		orc_seq_clear(s);
		for (uint32_t i = 0; i < n; i += step)
			orc_test_eval1(m1, s, ids + i, n - i > step ? step : n - i, true, b + (size_t)i * nv);
		ck_assert_msg(memcmp(a, b, sizeof(float) * nv * n) == 0, "%s: pieces of %u differ", name, step);
	}
	orc_seq_free(s);
	ck_assert_int_eq(orc_seq_new(m2, &s, &err), 0);
	orc_test_eval1(m2, s, ids, n, true, b);
	ck_assert_msg(memcmp(a, b, sizeof(float) * nv * n) == 0, "%s: n_batch 5 differs", name);
	orc_seq_free(s);
	free(a);
	free(b);
	orc_model_free(m1);
	orc_model_free(m2);
	orc_test_ref_free(&r);
}
END_TEST

/* The backend fuses a step's ops; ORC_CUDA_NOFUSE=1 runs them one by one.
 * Both give the same logit bits, prompt and decode steps alike. */
START_TEST(fusion_is_exact)
{
	const char *name = models[_i];
	struct orc_test_ref r;
	struct orc_err err = { 0 };

	orc_test_ref_load(name, &r);
	struct orc_model *m = load(name, 64, 1, 0);
	const uint32_t nv = orc_model_n_vocab(m), np = (uint32_t)r.n_prompt;
	float *a = malloc(sizeof(float) * nv * (np + 4)), *b = malloc(sizeof(float) * nv * (np + 4));
	for (int pass = 0; pass < 2; pass++) {
		float *out = pass ? b : a;
		struct orc_seq *s;
		setenv("ORC_CUDA_NOFUSE", pass ? "1" : "0", 1);
		if (pass) {       /* a fresh backend: no step captured with fusion */
			orc_model_free(m);
			m = load(name, 64, 1, 0);
		}
		ck_assert_int_eq(orc_seq_new(m, &s, &err), 0);
		orc_test_eval1(m, s, r.prompt, np, true, out);
		for (int k = 0; k < 4; k++)
			orc_test_eval1(m, s, &r.greedy[k], 1, false, out + (size_t)(np + k) * nv);
		orc_seq_free(s);
	}
	unsetenv("ORC_CUDA_NOFUSE");
	ck_assert_msg(memcmp(a, b, sizeof(float) * nv * (np + 4)) == 0, "%s: fused and unfused steps differ", name);
	free(a);
	free(b);
	orc_model_free(m);
	orc_test_ref_free(&r);
}
END_TEST

/* Top-k sampling takes only the best candidates from the GPU (the topk op)
 * and picks exactly the tokens the sampler picks from the whole row of
 * logits on the host, for the same seed: several seeds and parameter sets,
 * a sequence alone and among others. */
START_TEST(sampled_from_gpu_candidates)
{
	const char *name = models[_i];
	struct orc_test_ref r;
	struct orc_err err = { 0 };
	const struct { float temp, top_p, min_p; int top_k; } cases[] = {
		{0.8f, 0.95f, 0.05f, 40}, {1.5f, 1.0f, 0.0f, 128}, {0.3f, 0.5f, 0.0f, 5}, {1.0f, 1.0f, 0.2f, 1},
	};

	orc_test_ref_load(name, &r);
	struct orc_model *m = load(name, 96, 4, 0);
	ck_assert(orc_model_has_topk(m));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct orc_gen_result res[2];
		for (int host = 0; host < 2; host++) {
			struct orc_gen_params p;
			orc_gen_params_default(&p);
			p.sampling.temperature = cases[c].temp;
			p.sampling.top_k = cases[c].top_k;
			p.sampling.top_p = cases[c].top_p;
			p.sampling.min_p = cases[c].min_p;
			p.sampling.seed = 1000 + c;
			p.max_tokens = 40;
			p.host_logits = host;
			p.reuse_prefix = false;
			ck_assert_msg(orc_generate(m, &p, r.prompt, r.n_prompt, NULL, NULL, &res[host], &err) == 0,
				      "%s: %s", name, err.msg);
		}
		ck_assert_msg(res[0].n_ids == res[1].n_ids &&
			      memcmp(res[0].ids, res[1].ids, res[0].n_ids * sizeof(int32_t)) == 0,
			      "%s case %zu: %zu tokens from GPU candidates, %zu from host logits, or they differ",
			      name, c, res[0].n_ids, res[1].n_ids);
		orc_gen_result_free(&res[0]);
		orc_gen_result_free(&res[1]);
	}
	orc_model_free(m);
	orc_test_ref_free(&r);
}
END_TEST

/* With the GPU nearly full (another allocation holds all but 48 MiB), a
 * model whose KV cache needs more fails with -ENOMEM naming the sizes, and
 * gives back everything it had allocated. */
START_TEST(does_not_fit)
{
	struct orc_model_opts o = { .backend = ORC_BACKEND_CUDA, .n_ctx = 4096, .n_seq_max = 64 };
	struct orc_model *m = NULL;
	struct orc_err err = { 0 };
	size_t fr0, fr1, total;
	void *hog = NULL;

	orc_model_free(load("tiny-llama-f16", 64, 1, 0));   /* the context is up */
	ck_assert_int_eq(cudaMemGetInfo(&fr0, &total), cudaSuccess);
	ck_assert_int_eq(cudaMalloc(&hog, fr0 - (48u << 20)), cudaSuccess);
	ck_assert_int_eq(cudaMemGetInfo(&fr0, &total), cudaSuccess);
	int rc = orc_model_load(orc_test_shared("models/tiny-qwen2-q8_0.gguf"), &o, &m, &err);
	fprintf(stderr, "cuda does_not_fit: %s\n", err.msg);
	ck_assert_int_eq(rc, -ENOMEM);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(err.msg, "MiB") != NULL && strstr(err.msg, "KV") != NULL, "%s", err.msg);
	ck_assert_int_eq(cudaMemGetInfo(&fr1, &total), cudaSuccess);
	ck_assert_msg(fr1 + (2u << 20) >= fr0, "%zu bytes free before, %zu after", fr0, fr1);
	ck_assert_int_eq(cudaFree(hog), cudaSuccess);
	/* a model that fits loads and accounts its memory */
	struct orc_model *ok = load("tiny-qwen2-q8_0", 64, 1, 0);
	struct orc_model_mem mem;
	orc_model_get_mem(ok, &mem);
	ck_assert_uint_gt(mem.weights, 0);
	ck_assert_uint_gt(mem.kv_cache, 0);
	orc_model_free(ok);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cuda_engine");
	TCase *tc = tcase_create("cuda");
	const int n = (int)(sizeof(models) / sizeof(models[0]));

	ct_require_gpu();
	orc_test_require_shared();
	setenv("CK_FORK", "no", 1);
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, reference_logits_and_greedy, 0, 2 * n);
	tcase_add_test(tc, stories_golden_text);
	tcase_add_loop_test(tc, batch_invariance_64, 0, 2 * n);
	tcase_add_test(tc, kv_f16_halves_the_cache);
	tcase_add_loop_test(tc, prefill_chunking, 0, n);
	tcase_add_loop_test(tc, fusion_is_exact, 0, n);
	tcase_add_loop_test(tc, sampled_from_gpu_candidates, 0, n);
	tcase_add_test(tc, does_not_fit);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
