/* check_cuda_faults.c -- the CUDA backend's host code on a fake runtime
 * (fakecuda.h), which needs no GPU: a model loads, prefills and decodes
 * (steps run directly, captured and replayed) and leaves nothing behind,
 * its memory accounted; a decode step's fused launches, captured once;
 * then each CUDA call of that run in turn is made to fail, and every
 * failure must end as an error naming it (load, or a step), leak no
 * device memory, stream, event or graph, and leave a loaded model able to
 * run the next request (a failure while unloading must still free all). Runs in CI, under ASan/UBSan where the compiler
 * has them (configure: FAULT_SAN_CFLAGS). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "fakecuda.h"
#include "model_desc.h"
#include "sampler.h"
#include "testutil.h"

static const char *const models[] = { "tiny-qwen2-q8_0", "tiny-llama-f16" };

enum stage { AT_LOAD, AT_EVAL, AT_FREE };

/* Three sequences: prompts of 70, 10 and 5 tokens in one pass (the
 * prefill attention kernel and products of 85 columns), then 6 steps of
 * all three (the decode step runs, is captured, and replays), two greedy
 * (ids picked on the GPU), one taking top-k candidates. */
static int requests(struct orc_model *m, struct orc_err *err)
{
	const uint32_t nv = orc_model_n_vocab(m);
	struct orc_seq *s[3] = { NULL, NULL, NULL };
	static struct orc_topk top;
	int32_t prompt[70], next[3] = { 0, 0, 0 };
	int rc = 0;

	for (uint32_t i = 0; i < 70; i++)
		prompt[i] = (int32_t)((i * 7 + 3) % nv);
	for (int i = 0; i < 3 && rc == 0; i++)
		rc = orc_seq_new(m, &s[i], err);
	struct orc_eval_item it[3] = {
		{ .seq = s[0], .ids = prompt, .n = 70, .argmax = &next[0] },
		{ .seq = s[1], .ids = prompt + 20, .n = 10, .argmax = &next[1] },
		{ .seq = s[2], .ids = prompt + 40, .n = 5, .top = &top },
	};
	for (int step = 0; step < 7 && rc == 0; step++) {
		rc = orc_model_eval(m, it, 3, err);
		next[2] = top.id[0] >= 0 && (uint32_t)top.id[0] < nv ? top.id[0] : 0;
		for (int i = 0; i < 3; i++) {
			it[i].ids = &next[i];
			it[i].n = 1;
		}
	}
	for (int i = 0; i < 3; i++)
		orc_seq_free(s[i]);
	return rc;
}

static struct orc_model *load(const char *name, struct orc_err *err)
{
	struct orc_model_opts o = { .backend = ORC_BACKEND_CUDA, .n_ctx = 128, .n_seq_max = 4, .n_batch = 512 };
	struct orc_model *m = NULL;
	char path[256];

	snprintf(path, sizeof(path), "models/%s.gguf", name);
	return orc_model_load(orc_test_shared(path), &o, &m, err) == 0 ? m : NULL;
}

static void assert_nothing_held(const char *what)
{
	struct fake_cuda_held h;

	fake_cuda_held(&h);
	ck_assert_msg(h.dev == 0 && h.dev_bytes == 0 && h.pinned == 0 && h.streams == 0 && h.events == 0 &&
			      h.graphs == 0 && h.execs == 0,
		      "%s: still held: %d device buffers (%llu bytes), %d pinned, %d streams, %d events, "
		      "%d graphs, %d executable graphs", what, h.dev, (unsigned long long)h.dev_bytes, h.pinned,
		      h.streams, h.events, h.graphs, h.execs);
}

/* The run without faults: it works, its memory is accounted, and it
 * returns every resource. */
START_TEST(fake_run_is_clean)
{
	const char *name = models[_i];
	struct orc_err err = { 0 };
	struct orc_model *m;
	struct orc_model_mem mem;
	struct fake_cuda_held h;

	fake_cuda_reset();
	m = load(name, &err);
	ck_assert_msg(m != NULL, "%s: %s", name, err.msg);
	ck_assert_str_eq(orc_model_backend_name(m), "cuda");
	fake_cuda_held(&h);
	ck_assert_int_gt(h.dev, 0);
	ck_assert_int_eq(h.streams, 1);
	/* the model's memory is all the device memory it holds (but the 4
	 * bytes of the error flag), and steps allocate none beyond it */
	orc_model_get_mem(m, &mem);
	ck_assert_uint_gt(mem.scratch, 0);
	ck_assert_uint_eq(h.dev_bytes, mem.weights + mem.kv_cache + mem.scratch + sizeof(int));
	ck_assert_msg(requests(m, &err) == 0, "%s: %s", name, err.msg);
	fake_cuda_held(&h);
	ck_assert_msg(h.execs > 0, "%s: no decode step was captured", name);
	ck_assert_uint_eq(h.dev_bytes, mem.weights + mem.kv_cache + mem.scratch + sizeof(int));
	ck_assert_msg(requests(m, &err) == 0, "%s, again: %s", name, err.msg);
	orc_model_free(m);
	assert_nothing_held(name);
	fprintf(stderr, "%s: %llu CUDA calls and launches in a load and two requests\n", name,
		(unsigned long long)fake_cuda_calls());
}
END_TEST

/* Fusion and capture, as launches: a decode step of a llama-like model
 * (rmsnorm, SwiGLU) runs 6 kernels a layer (the QKV product with its
 * norm, RoPE with the K/V store, attention, the output projection adding
 * into the residual, the SwiGLU product with its norm, the down projection
 * adding into the residual), then gathers the output rows and runs the
 * head (with the final norm) and the argmax; the last layer fuses like the
 * others; every launch is recorded into a graph the first time (steps of
 * 1 and of 3 sequences), and the next step of that size launches none;
 * the host copies the inputs up once and waits for the GPU once a step,
 * when it reads the ids. */
START_TEST(decode_step_launches)
{
	static const char *const arch[] = { "tiny-llama-f16", "tiny-qwen2-q8_0", "tiny-phi3-bf16" };
	static const char *names[FAKE_CUDA_LOG];
	const char *name = arch[_i];
	struct orc_err err = { 0 };
	struct orc_model *m = load(name, &err);

	ck_assert_msg(m != NULL, "%s: %s", name, err.msg);
	const uint32_t n_layer = orc_model_get_desc(m)->hp.n_layer;
	for (uint32_t B = 1; B <= 3; B += 2) {
		struct orc_seq *s[3] = { NULL, NULL, NULL };
		struct orc_eval_item it[3];
		int32_t prompt[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, next[3] = { 0, 0, 0 };
		for (uint32_t i = 0; i < B; i++) {
			ck_assert_int_eq(orc_seq_new(m, &s[i], &err), 0);
			it[i] = (struct orc_eval_item){ .seq = s[i], .ids = prompt, .n = 8, .argmax = &next[i] };
		}
		ck_assert_msg(orc_model_eval(m, it, B, &err) == 0, "%s: %s", name, err.msg);
		for (int step = 0; step < 2; step++) {
			for (uint32_t i = 0; i < B; i++) {
				it[i].ids = &next[i];
				it[i].n = 1;
			}
			fake_cuda_reset();
			ck_assert_msg(orc_model_eval(m, it, B, &err) == 0, "%s: %s", name, err.msg);
			size_t n = fake_cuda_launches(names, FAKE_CUDA_LOG);
			char seq[1024] = "";
			for (size_t k = 0; k < n && k < FAKE_CUDA_LOG; k++)
				snprintf(seq + strlen(seq), sizeof(seq) - strlen(seq), " %s", names[k]);
			/* the inputs go up in one copy; the ids and the index flag
			 * come back with the one wait of the evaluation */
			ck_assert_uint_eq(fake_cuda_calls_of("cudaStreamSynchronize"), 1);
			ck_assert_uint_eq(fake_cuda_calls_of("cudaMemcpyAsync"), 3);
			const size_t want = step == 0 ? 1 + 6 * (size_t)n_layer + 3 : 0;
			ck_assert_msg(n == want, "%s, %u sequences, decode step %d: %zu launches, not %zu:%s", name, B,
				      step, n, want, seq);
			if (step == 0)
				ck_assert_msg(strstr(seq, "rope_kv") && !strstr(seq, "rmsnorm") && !strstr(seq, "swiglu") &&
						      !strstr(seq, " add"),
					      "%s, %u sequences: an op was not fused:%s", name, B, seq);
		}
		for (uint32_t i = 0; i < B; i++)
			orc_seq_free(s[i]);
	}
	orc_model_free(m);
	assert_nothing_held(name);
}
END_TEST

/* Each call of that run fails in turn. */
START_TEST(every_failure_is_an_error)
{
	const char *name = models[_i];
	struct orc_err err = { 0 };
	struct orc_model *m;
	uint64_t n_calls, at_load = 0, at_eval = 0, at_free = 0;

	fake_cuda_reset();
	m = load(name, &err);
	ck_assert_msg(m != NULL, "%s: %s", name, err.msg);
	ck_assert_msg(requests(m, &err) == 0, "%s: %s", name, err.msg);
	orc_model_free(m);
	n_calls = fake_cuda_calls();

	for (uint64_t k = 1; k <= n_calls; k++) {
		const char *what = NULL;
		enum stage stage = AT_LOAD;
		int rc;

		fake_cuda_reset();
		fake_cuda_fail_at(k);
		memset(&err, 0, sizeof(err));
		m = load(name, &err);
		rc = m ? 0 : err.code;
		if (m) {
			stage = AT_EVAL;
			rc = requests(m, &err);
		}
		if (m && !fake_cuda_failed(NULL)) {
			stage = AT_FREE;   /* the call is one of the unloading's */
			orc_model_free(m);
			m = NULL;
		}
		ck_assert_msg(fake_cuda_failed(&what), "%s: call %llu of %llu never came", name,
			      (unsigned long long)k, (unsigned long long)n_calls);
		if (stage == AT_FREE) {
			at_free++;   /* nothing to report to: what it held must still be gone */
		} else {
			ck_assert_msg(rc != 0, "%s: call %llu (%s) failed and nothing reported it", name,
				      (unsigned long long)k, what);
			ck_assert_msg(rc < 0 && err.msg[0] != '\0', "%s: call %llu (%s): error %d without a message",
				      name, (unsigned long long)k, what, rc);
			if (stage == AT_LOAD)
				at_load++;
			else
				at_eval++;
		}
		if (m) {
			/* the next request runs as if nothing had happened */
			fake_cuda_fail_at(0);
			memset(&err, 0, sizeof(err));
			ck_assert_msg(requests(m, &err) == 0, "%s: after call %llu (%s) failed: %s", name,
				      (unsigned long long)k, what, err.msg);
			orc_model_free(m);
		}
		char where[96];
		snprintf(where, sizeof(where), "%s, call %llu (%s) failed", name, (unsigned long long)k, what);
		assert_nothing_held(where);
	}
	fprintf(stderr, "%s: %llu calls failed one at a time: %llu load errors, %llu request errors, "
		"%llu while unloading\n", name, (unsigned long long)n_calls, (unsigned long long)at_load,
		(unsigned long long)at_eval, (unsigned long long)at_free);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cuda_faults");
	TCase *tc = tcase_create("fake_runtime");
	const int n = (int)(sizeof(models) / sizeof(models[0]));

	orc_test_require_shared();
	setenv("CK_FORK", "no", 1);   /* the fake's counts live in this process */
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, fake_run_is_clean, 0, n);
	tcase_add_loop_test(tc, decode_step_launches, 0, 3);
	tcase_add_loop_test(tc, every_failure_is_an_error, 0, n);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
