/* check_gen.c -- generation end to end on the shared models: the
 * stories260K golden text at temperature 0, the reproducibility contract
 * (runs, thread counts, batch composition), log-probabilities against the
 * reference logits, stop strings and the stop conditions driven by
 * hand-made logits, and the errors of bad requests. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"
#include "jsonr.h"
#include "stop.h"
#include "testutil.h"

/* ---- helpers ---- */

static struct orc_model *load(const char *name, int threads, uint32_t n_ctx, uint32_t n_seq)
{
	char path[4096];
	struct orc_model_opts o = { .backend = ORC_BACKEND_CPU, .n_threads = threads,
				    .n_ctx = n_ctx, .n_seq_max = n_seq };
	struct orc_model *m = NULL;
	struct orc_err err = { 0 };

	snprintf(path, sizeof(path), "%s", orc_test_shared(name));
	ck_assert_msg(orc_model_load(path, &o, &m, &err) == 0, "%s: %s", path, orc_err_msg(&err));
	return m;
}

static struct orc_jsonr *load_json(const char *name)
{
	char err[256] = "";
	struct orc_jsonr *j = orc_jsonr_parse_file(orc_test_shared(name), err, sizeof(err));

	ck_assert_msg(j != NULL, "%s: %s", name, err);
	return j;
}

static void params(struct orc_gen_params *p, float temp, uint64_t seed, uint32_t max_tokens)
{
	orc_gen_params_default(p);
	p->sampling.temperature = temp;
	p->sampling.seed = seed;
	p->max_tokens = max_tokens;
}

/* Collects the streamed text and checks each piece is whole UTF-8. */
struct stream {
	char buf[65536];
	size_t n;
	size_t events;
};

static int on_event(void *user, const struct orc_gen_event *ev)
{
	struct stream *s = user;
	size_t bad;

	ck_assert_msg(orc_utf8_valid(ev->text, ev->text_len, &bad), "event %zu: bad UTF-8 at %zu",
		      s->events, bad);
	ck_assert_uint_lt(s->n + ev->text_len, sizeof(s->buf));
	memcpy(s->buf + s->n, ev->text, ev->text_len);
	s->n += ev->text_len;
	s->events++;
	return 0;
}

static void run(struct orc_model *m, const struct orc_gen_params *p, const int32_t *prompt,
		size_t n, struct orc_gen_result *res)
{
	struct orc_err err = { 0 };
	struct stream *s = calloc(1, sizeof(*s));

	ck_assert_msg(orc_generate(m, p, prompt, n, on_event, s, res, &err) == 0, "%s",
		      orc_err_msg(&err));
	/* The stream and the result agree. */
	ck_assert_uint_eq(s->n, res->text_len);
	ck_assert(memcmp(s->buf, res->text, s->n) == 0);
	ck_assert_uint_eq(s->events, res->n_ids);
	ck_assert_uint_eq(res->timings.generated_tokens, res->n_ids);
	ck_assert_uint_eq(res->timings.prompt_tokens, n);
	free(s);
}

static bool same_output(const struct orc_gen_result *a, const struct orc_gen_result *b)
{
	return a->n_ids == b->n_ids && memcmp(a->ids, b->ids, a->n_ids * sizeof(*a->ids)) == 0 &&
	       a->text_len == b->text_len && memcmp(a->text, b->text, a->text_len) == 0;
}

static const int32_t BOS[] = { 1 };

/* ---- stories260K golden text ---- */

START_TEST(test_stories_golden)
{
	struct orc_model *m = load("models/stories260K.gguf", 0, 0, 1);
	struct orc_jsonr *ref = load_json("models/stories260K.ref.json");
	struct orc_gen_params p;
	struct orc_gen_result res;
	size_t glen;
	char *golden = orc_test_read_file(orc_test_shared("models/stories260K.golden.txt"), &glen);
	int32_t *greedy;
	size_t n_greedy;

	ck_assert_ptr_nonnull(golden);
	ck_assert_int_eq(orc_jsonr_i32_array(orc_jsonr_get(ref, "greedy"), &greedy, &n_greedy), 0);
	params(&p, 0.0f, 0, 255);
	run(m, &p, BOS, 1, &res);
	ck_assert_uint_eq(res.n_ids, 255);
	ck_assert_uint_eq(n_greedy, 255);
	for (size_t i = 0; i < 255; i++)
		ck_assert_msg(res.ids[i] == greedy[i], "step %zu: id %d, reference %d", i,
			      res.ids[i], greedy[i]);
	ck_assert_msg(res.text_len == glen && memcmp(res.text, golden, glen) == 0,
		      "text differs from the golden:\n%s", res.text);
	ck_assert_int_eq(res.stop_reason, ORC_STOP_LENGTH);
	orc_gen_result_free(&res);
	free(greedy);
	free(golden);
	orc_jsonr_free(ref);
	orc_model_free(m);
}
END_TEST

/* ---- reproducibility ---- */

START_TEST(test_seeded_runs)
{
	struct orc_model *m1 = load("models/stories260K.gguf", 1, 0, 1);
	struct orc_model *m2 = load("models/stories260K.gguf", 2, 0, 1);
	struct orc_gen_params p;
	struct orc_gen_result first, r;

	params(&p, 0.8f, 1234, 96);
	run(m1, &p, BOS, 1, &first);
	for (int i = 0; i < 9; i++) {          /* 10 runs in all */
		run(m1, &p, BOS, 1, &r);
		ck_assert_msg(same_output(&first, &r), "run %d differs", i + 2);
		orc_gen_result_free(&r);
	}
	run(m2, &p, BOS, 1, &r);                /* 2 threads */
	ck_assert_msg(same_output(&first, &r), "2 threads differ from 1:\n%s\n---\n%s",
		      first.text, r.text);
	orc_gen_result_free(&r);
	p.sampling.seed = 1235;                 /* another seed, another story */
	run(m1, &p, BOS, 1, &r);
	ck_assert_msg(!same_output(&first, &r), "seeds 1234 and 1235 gave the same output");
	orc_gen_result_free(&r);
	/* The prompt's chunking does not matter either. */
	const int32_t prompt[] = { 1, 403, 407, 261, 378, 432, 383, 286 };
	struct orc_gen_result whole;
	p.sampling.seed = 99;
	run(m2, &p, prompt, 8, &whole);
	for (uint32_t chunk = 1; chunk <= 3; chunk++) {
		p.prefill_chunk = chunk;
		run(m2, &p, prompt, 8, &r);
		ck_assert_msg(same_output(&whole, &r), "prefill chunks of %u differ", chunk);
		orc_gen_result_free(&r);
	}
	orc_gen_result_free(&whole);
	/* Sampling is not greedy decoding: the seeded text is not the golden one. */
	params(&p, 0.0f, 0, 96);
	run(m1, &p, BOS, 1, &r);
	ck_assert(!same_output(&first, &r));
	orc_gen_result_free(&r);
	orc_gen_result_free(&first);
	orc_model_free(m1);
	orc_model_free(m2);
}
END_TEST

/* Top-k sampling from the backend's candidates (the topk op) gives, seed
 * for seed, the story that sampling from the whole row of logits gives
 * (host_logits forces that): top_k from 1 to the limit, with top-p and
 * min-p on and off, on 1 and 2 threads. */
START_TEST(test_top_candidates_exact)
{
	struct orc_model *m = load("models/stories260K.gguf", 2, 0, 1);
	const struct { float temp, top_p, min_p; int top_k; } cases[] = {
		{0.8f, 0.95f, 0.05f, 40}, {1.3f, 1.0f, 0.0f, ORC_SAMPLE_TOPK_MAX}, {0.5f, 0.6f, 0.0f, 3},
		{1.0f, 1.0f, 0.1f, 1}, {2.0f, 0.99f, 0.0f, 100},
	};

	ck_assert(orc_model_has_topk(m));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct orc_gen_params p;
		struct orc_gen_result top, row;
		params(&p, cases[c].temp, 500 + c, 64);
		p.sampling.top_k = cases[c].top_k;
		p.sampling.top_p = cases[c].top_p;
		p.sampling.min_p = cases[c].min_p;
		run(m, &p, BOS, 1, &top);
		p.host_logits = true;
		run(m, &p, BOS, 1, &row);
		ck_assert_msg(same_output(&top, &row), "case %zu: candidates and whole rows differ:\n%s\n---\n%s", c,
			      top.text, row.text);
		orc_gen_result_free(&top);
		orc_gen_result_free(&row);
	}
	orc_model_free(m);
}
END_TEST

/* Generation A alone, then A batched with B in the same evaluations (B has
 * another prompt, seed and chunking): A's output must not change. */
START_TEST(test_batch_composition)
{
	struct orc_model *m = load("models/stories260K.gguf", 2, 0, 2);
	const int32_t prompt_b[] = { 1, 403, 407, 261, 378 };
	struct orc_gen_params pa, pb;
	struct orc_gen_result alone, a_res;
	struct orc_gen *a, *b;
	struct orc_seq *sa, *sb;
	struct orc_err err = { 0 };

	params(&pa, 0.8f, 77, 64);
	params(&pb, 1.0f, 5, 40);
	pb.prefill_chunk = 2;
	run(m, &pa, BOS, 1, &alone);
	ck_assert_int_eq(orc_gen_new(m, &pa, BOS, 1, &a, &err), 0);
	ck_assert_int_eq(orc_gen_new(m, &pb, prompt_b, 5, &b, &err), 0);
	ck_assert_int_eq(orc_seq_new(m, &sa, &err), 0);
	ck_assert_int_eq(orc_seq_new(m, &sb, &err), 0);
	while (!orc_gen_done(a)) {
		struct orc_eval_item items[2];
		struct orc_gen *gens[2];
		struct orc_gen_event ev;
		size_t n = 0;

		ck_assert_int_eq(orc_gen_next_input(a, &items[n]), 0);
		items[n].seq = sa;
		gens[n++] = a;
		if (!orc_gen_done(b)) {
			ck_assert_int_eq(orc_gen_next_input(b, &items[n]), 0);
			items[n].seq = sb;
			gens[n++] = b;
		}
		ck_assert_msg(orc_model_eval(m, items, n, &err) == 0, "%s", orc_err_msg(&err));
		for (size_t i = 0; i < n; i++)
			ck_assert_int_eq(orc_gen_feed_logits(gens[i], items[i].logits, &ev, &err), 0);
	}
	orc_gen_take_result(a, &a_res);
	ck_assert_msg(same_output(&alone, &a_res), "batched:\n%s\n---\nalone:\n%s", a_res.text,
		      alone.text);
	orc_gen_result_free(&a_res);
	orc_gen_result_free(&alone);
	orc_gen_free(a);
	orc_gen_free(b);
	orc_seq_free(sa);
	orc_seq_free(sb);
	orc_model_free(m);
}
END_TEST

/* ---- log-probabilities against the reference logits ---- */

static void check_logprobs(const char *model, const char *ref_name)
{
	enum { K = 8, STEPS = 4 };
	const double tol = 1e-3;   /* float32 engine vs float32 reference, stated by the issue */
	struct orc_model *m = load(model, 0, 0, 1);
	struct orc_jsonr *ref = load_json(ref_name);
	const struct orc_jsonr *pos = orc_jsonr_get(ref, "positions");
	struct orc_gen_params p;
	struct orc_gen_result res;
	int32_t *prompt, *greedy;
	size_t n, n_greedy;

	ck_assert_int_eq(orc_jsonr_i32_array(orc_jsonr_get(ref, "prompt_ids"), &prompt, &n), 0);
	ck_assert_int_eq(orc_jsonr_i32_array(orc_jsonr_get(ref, "greedy"), &greedy, &n_greedy), 0);
	params(&p, 0.0f, 0, STEPS);
	p.logprobs = K;
	p.prompt_logprobs = K;
	run(m, &p, prompt, n, &res);
	ck_assert_uint_eq(res.prompt_logprobs.n, n);
	ck_assert_uint_eq(res.logprobs.n, res.n_ids);
	for (size_t i = 0; i < n; i++) {
		const struct orc_jsonr *pi = orc_jsonr_at(pos, i), *top = orc_jsonr_get(pi, "top");
		double lse = orc_jsonr_num(orc_jsonr_get(pi, "lse"), NAN);
		for (size_t j = 0; j < K; j++) {
			const struct orc_logprob *got = &res.prompt_logprobs.top[i * K + j];
			double want = orc_jsonr_num(orc_jsonr_at(orc_jsonr_at(top, j), 1), NAN) - lse;
			double next = orc_jsonr_num(orc_jsonr_at(orc_jsonr_at(top, j + 1), 1), NAN) - lse;
			double prev = j ? orc_jsonr_num(orc_jsonr_at(orc_jsonr_at(top, j - 1), 1), NAN) - lse
					: INFINITY;
			ck_assert_msg(fabs(got->logprob - want) < tol,
				      "%s position %zu rank %zu: logprob %.6f, reference %.6f", model,
				      i, j, got->logprob, want);
			/* The id must agree unless a neighbour is within the tolerance. */
			if (want - next > 2 * tol && prev - want > 2 * tol)
				ck_assert_int_eq(got->id, (int)orc_jsonr_num(
					orc_jsonr_at(orc_jsonr_at(top, j), 0), -1));
		}
	}
	/* The first generated token is predicted by the last prompt position. */
	ck_assert_int_eq(res.ids[0], greedy[0]);
	ck_assert(fabs(res.logprobs.chosen[0] - res.prompt_logprobs.top[(n - 1) * K].logprob) < 1e-6);
	for (size_t i = 0; i < res.n_ids; i++) {
		ck_assert_int_eq(res.ids[i], greedy[i]);   /* margins here are >= 0.027 */
		ck_assert_int_eq(res.logprobs.top[i * K].id, res.ids[i]);
		ck_assert(res.logprobs.chosen[i] <= 0.0f);
	}
	orc_gen_result_free(&res);
	free(prompt);
	free(greedy);
	orc_jsonr_free(ref);
	orc_model_free(m);
}

START_TEST(test_logprobs_reference)
{
	static const char *const names[] = {
		"stories260K", "tiny-qwen2-q8_0", "tiny-llama-f16", "tiny-phi3-bf16", "tiny-gpt2-f32",
	};
	char model[128], ref[128];

	snprintf(model, sizeof(model), "models/%s.gguf", names[_i]);
	snprintf(ref, sizeof(ref), "models/%s.ref.json", names[_i]);
	check_logprobs(model, ref);
}
END_TEST

/* A prompt longer than ORC_GEN_LOGITS_ROWS_MAX goes in several chunks with
 * every position's logits: position i must predict greedy token i. */
START_TEST(test_prompt_logprobs_chunks)
{
	struct orc_model *m = load("models/stories260K.gguf", 0, 0, 1);
	struct orc_jsonr *ref = load_json("models/stories260K.ref.json");
	struct orc_gen_params p;
	struct orc_gen_result res;
	int32_t *greedy, prompt[81];
	size_t n_greedy;

	ck_assert_int_eq(orc_jsonr_i32_array(orc_jsonr_get(ref, "greedy"), &greedy, &n_greedy), 0);
	prompt[0] = 1;
	memcpy(prompt + 1, greedy, 80 * sizeof(*prompt));
	params(&p, 0.0f, 0, 3);
	p.prompt_logprobs = 2;
	run(m, &p, prompt, 81, &res);
	ck_assert_uint_eq(res.prompt_logprobs.n, 81);
	for (size_t i = 0; i < 81; i++)
		ck_assert_msg(res.prompt_logprobs.top[i * 2].id == greedy[i], "position %zu", i);
	for (size_t i = 0; i < 3; i++)   /* and the continuation is the golden one */
		ck_assert_int_eq(res.ids[i], greedy[80 + i]);
	orc_gen_result_free(&res);
	free(greedy);
	orc_jsonr_free(ref);
	orc_model_free(m);
}
END_TEST

/* ---- stop conditions with hand-made logits ---- */

/* Drive a generation on `m` choosing the given ids one by one (a logit of 10
 * on the wanted id, 0 elsewhere, greedy; or, where the generation asks for
 * the engine's greedy id instead of logits, that id); returns the events'
 * texts joined with '|' between steps. */
static void drive(struct orc_model *m, struct orc_gen_params *p, const int32_t *want, size_t n,
		  char *out, size_t cap, enum orc_stop_reason *ret_reason, size_t *ret_steps)
{
	uint32_t nv = orc_model_n_vocab(m);
	struct orc_gen *g;
	struct orc_err err = { 0 };
	size_t len = 0, k = 0;

	ck_assert_int_eq(orc_gen_new(m, p, BOS, 1, &g, &err), 0);
	out[0] = '\0';
	while (!orc_gen_done(g)) {
		struct orc_eval_item it;
		struct orc_gen_event ev;
		ck_assert_int_eq(orc_gen_next_input(g, &it), 0);
		ck_assert_uint_lt(k, n);
		if (it.argmax) {
			ck_assert_ptr_null(it.logits);
			*it.argmax = want[k];
		} else {
			memset(it.logits, 0, (size_t)nv * sizeof(float));
			it.logits[want[k]] = 10.0f;
		}
		ck_assert_int_eq(orc_gen_feed_logits(g, it.logits, &ev, &err), 0);
		ck_assert(ev.has_token);
		ck_assert_int_eq(ev.id, want[k]);
		k++;
		len += (size_t)snprintf(out + len, cap - len, "%s%.*s", k > 1 ? "|" : "",
					(int)ev.text_len, ev.text);
		*ret_reason = ev.stop_reason;
	}
	ck_assert_int_eq(orc_gen_next_input(g, &(struct orc_eval_item){ 0 }), -EINVAL);
	*ret_steps = k;
	orc_gen_free(g);
}

static int32_t tok(struct orc_model *m, const char *piece)
{
	int32_t id = orc_tok_lookup(orc_model_get_tok(m), piece, strlen(piece));
	ck_assert_msg(id >= 0, "no token '%s'", piece);
	return id;
}

START_TEST(test_stop_conditions)
{
	struct orc_model *m = load("models/stories260K.gguf", 1, 0, 1);
	struct orc_gen_params p;
	enum orc_stop_reason why;
	char out[512];
	size_t steps;
	int32_t ids[6];
	const char *stop1[] = { "ly." };

	/* Pieces from the 512-token vocabulary: "▁Lily" "." "▁She" ... */
	ids[0] = tok(m, "\xe2\x96\x81Lily");
	ids[1] = tok(m, ".");
	ids[2] = tok(m, "\xe2\x96\x81She");
	ids[3] = orc_tok_eos(orc_model_get_tok(m));

	/* EOS ends the generation; it is in the ids but adds no text. */
	params(&p, 0.0f, 0, 10);
	drive(m, &p, (const int32_t[]){ ids[0], ids[2], ids[3] }, 3, out, sizeof(out), &why, &steps);
	ck_assert_int_eq(why, ORC_STOP_EOS);
	ck_assert_uint_eq(steps, 3);
	ck_assert_str_eq(out, "Lily| She|");

	/* max_tokens */
	params(&p, 0.0f, 0, 2);
	drive(m, &p, ids, 3, out, sizeof(out), &why, &steps);
	ck_assert_int_eq(why, ORC_STOP_LENGTH);
	ck_assert_uint_eq(steps, 2);
	ck_assert_str_eq(out, "Lily|.");

	/* "ly." spans two tokens: "ly" is held back after "Lily", then the
	 * match drops it; nothing of the stop string is ever released. */
	params(&p, 0.0f, 0, 10);
	p.stop = stop1;
	p.n_stop = 1;
	drive(m, &p, ids, 3, out, sizeof(out), &why, &steps);
	ck_assert_int_eq(why, ORC_STOP_STRING);
	ck_assert_uint_eq(steps, 2);
	ck_assert_str_eq(out, "Li|");

	/* Held-back text that does not become a stop string is released later,
	 * and at the end. */
	const char *stop2[] = { "ly!" };
	p.stop = stop2;
	p.max_tokens = 2;
	drive(m, &p, ids, 3, out, sizeof(out), &why, &steps);
	ck_assert_int_eq(why, ORC_STOP_LENGTH);
	ck_assert_str_eq(out, "Li|ly.");
	orc_model_free(m);
}
END_TEST

/* Which steps ask the engine for its greedy id instead of logits: plain
 * greedy only (temperature 0, no penalties, no logprobs, no host_logits),
 * at the last prompt chunk and every decode step; a prompt_logprobs chunk
 * needs logits, and a sampled step too. */
START_TEST(test_argmax_requests)
{
	struct orc_model *m = load("models/stories260K.gguf", 1, 0, 1);
	const int32_t prompt[5] = { 1, 403, 407, 261, 378 };
	struct {
		float temp, repeat, presence;
		uint32_t logprobs, prompt_logprobs;
		bool host_logits, want, top;
	} cases[] = {
		{ 0.0f, 1.0f, 0.0f, 0, 0, false, true, false },
		{ 0.7f, 1.0f, 0.0f, 0, 0, false, false, true },   /* top-k 40: the candidates */
		{ 0.7f, 1.0f, 0.5f, 0, 0, false, false, false },  /* a penalty needs the row */
		{ 0.7f, 1.0f, 0.0f, 1, 0, false, false, false },
		{ 0.0f, 1.1f, 0.0f, 0, 0, false, false, false },
		{ 0.0f, 1.0f, 0.5f, 0, 0, false, false, false },
		{ 0.0f, 1.0f, 0.0f, 2, 0, false, false, false },
		{ 0.0f, 1.0f, 0.0f, 0, 0, true, false, false },
		{ 0.0f, 1.0f, 0.0f, 0, 1, false, true, false },   /* the prompt's chunks carry logits */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct orc_gen_params p;
		struct orc_gen *g;
		struct orc_eval_item it;
		struct orc_err err = { 0 };
		params(&p, cases[i].temp, 1, 3);
		p.sampling.repeat_penalty = cases[i].repeat;
		p.sampling.presence_penalty = cases[i].presence;
		p.logprobs = cases[i].logprobs;
		p.prompt_logprobs = cases[i].prompt_logprobs;
		p.host_logits = cases[i].host_logits;
		p.prefill_chunk = 2;
		ck_assert_int_eq(orc_gen_new(m, &p, prompt, 5, &g, &err), 0);
		for (int step = 0; step < 4; step++) {          /* chunks of 2, 2, 1, then a decode step */
			struct orc_gen_event ev;
			uint32_t nv = orc_model_n_vocab(m);
			const bool last_chunk = step >= 2, plp = cases[i].prompt_logprobs > 0 && step < 3;
			memset(&it, 0, sizeof(it));
			ck_assert_int_eq(orc_gen_next_input(g, &it), 0);
			if (cases[i].want && last_chunk && !plp) {
				ck_assert_msg(it.argmax && !it.logits && !it.top, "case %zu step %d: wants the argmax", i,
					      step);
				*it.argmax = 261;
			} else if (cases[i].top && last_chunk) {
				/* the candidates of a row of 0 with 5 at id 261 */
				ck_assert_msg(it.top && !it.logits && !it.argmax, "case %zu step %d: wants candidates", i,
					      step);
				for (int k = 0; k < ORC_SAMPLE_TOPK_MAX; k++) {
					it.top->id[k] = k == 0 ? 261 : k <= 261 ? k - 1 : k;
					it.top->logit[k] = k == 0 ? 5.0f : 0.0f;
				}
			} else {
				ck_assert_msg(!it.argmax && !it.top, "case %zu step %d: no argmax or candidates", i, step);
				ck_assert(it.logits || !last_chunk);
				if (it.logits) {
					size_t rows = it.logits_all ? it.n : 1;
					for (size_t k = 0; k < rows * nv; k++)
						it.logits[k] = k % nv == 261 ? 5.0f : 0.0f;
				}
			}
			ck_assert_int_eq(orc_gen_feed_logits(g, it.logits, &ev, &err), 0);
			if (last_chunk)
				ck_assert_int_eq(ev.id, 261);
		}
		orc_gen_free(g);
	}
	orc_model_free(m);
}
END_TEST

START_TEST(test_stop_string_golden)
{
	struct orc_model *m = load("models/stories260K.gguf", 0, 0, 1);
	const char *stops[] = { "girl named", "park" };
	struct orc_gen_params p;
	struct orc_gen_result res;

	params(&p, 0.0f, 0, 255);
	p.stop = stops;
	p.n_stop = 2;
	run(m, &p, BOS, 1, &res);
	ck_assert_int_eq(res.stop_reason, ORC_STOP_STRING);
	ck_assert_str_eq(res.text, "Once upon a time, there was a little ");
	ck_assert_uint_lt(res.n_ids, 20);
	orc_gen_result_free(&res);
	orc_model_free(m);
}
END_TEST

/* ---- bad requests ---- */

static void expect_refused(struct orc_model *m, const struct orc_gen_params *p,
			   const int32_t *prompt, size_t n, int code, const char *words)
{
	struct orc_gen *g = NULL;
	struct orc_err err = { 0 };
	struct orc_gen_result res = { 0 };

	ck_assert_int_eq(orc_gen_new(m, p, prompt, n, &g, &err), code);
	ck_assert_ptr_null(g);
	ck_assert_msg(strstr(err.msg, words), "message '%s' lacks '%s'", err.msg, words);
	ck_assert_int_eq(orc_generate(m, p, prompt, n, NULL, NULL, &res, NULL), code);
}

START_TEST(test_bad_requests)
{
	struct orc_model *m = load("models/stories260K.gguf", 1, 64, 1);
	struct orc_gen_params p, q;
	int32_t long_prompt[64];
	struct orc_gen_result res;

	ck_assert_uint_eq(orc_model_n_ctx(m), 64);
	params(&p, 0.8f, 0, 8);
	expect_refused(m, &p, BOS, 0, -EINVAL, "empty");
	expect_refused(m, &p, (const int32_t[]){ 1, 512 }, 2, -EINVAL, "512");
	expect_refused(m, &p, (const int32_t[]){ 1, 5, -3 }, 3, -EINVAL, "token 2");
	q = p; q.max_tokens = 64;       /* 1 + 64 > 64 */
	expect_refused(m, &q, BOS, 1, -E2BIG, "context");
	for (int i = 0; i < 64; i++)
		long_prompt[i] = 1;
	expect_refused(m, &p, long_prompt, 64, -E2BIG, "context");
	q = p; q.sampling.temperature = -1.0f;
	expect_refused(m, &q, BOS, 1, -EINVAL, "temperature");
	q = p; q.sampling.top_p = NAN;
	expect_refused(m, &q, BOS, 1, -EINVAL, "top_p");
	q = p; q.sampling.min_p = -0.5f;
	expect_refused(m, &q, BOS, 1, -EINVAL, "min_p");
	q = p; q.sampling.top_k = -1;
	expect_refused(m, &q, BOS, 1, -EINVAL, "top_k");
	q = p; q.sampling.repeat_penalty = NAN;
	expect_refused(m, &q, BOS, 1, -EINVAL, "repeat_penalty");
	q = p; q.logprobs = ORC_LOGPROBS_TOP_MAX + 1;
	expect_refused(m, &q, BOS, 1, -E2BIG, "logprobs");
	const char *bad_stop[] = { "" };
	q = p; q.stop = bad_stop; q.n_stop = 1;
	expect_refused(m, &q, BOS, 1, -EINVAL, "stop string 0");

	/* The edge that fits: 1 + 63 = 64; and max_tokens 0 fills the context. */
	q = p; q.max_tokens = 63;
	run(m, &q, BOS, 1, &res);
	ck_assert(res.n_ids == 63 || res.stop_reason == ORC_STOP_EOS);
	orc_gen_result_free(&res);
	q = p; q.max_tokens = 0;
	run(m, &q, (const int32_t[]){ 1, 403 }, 2, &res);
	ck_assert(res.n_ids == 62 || res.stop_reason == ORC_STOP_EOS);
	orc_gen_result_free(&res);
	orc_model_free(m);
}
END_TEST

static Suite *gen_suite(void)
{
	Suite *s = suite_create("gen");
	TCase *tc = tcase_create("gen");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_stories_golden);
	tcase_add_test(tc, test_seeded_runs);
	tcase_add_test(tc, test_batch_composition);
	tcase_add_loop_test(tc, test_logprobs_reference, 0, 5);
	tcase_add_test(tc, test_prompt_logprobs_chunks);
	tcase_add_test(tc, test_stop_conditions);
	tcase_add_test(tc, test_argmax_requests);
	tcase_add_test(tc, test_top_candidates_exact);
	tcase_add_test(tc, test_stop_string_golden);
	tcase_add_test(tc, test_bad_requests);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	orc_test_require_shared();
	return orc_test_run(gen_suite());
}
