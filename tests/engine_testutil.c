/* engine_testutil.c -- the engine suites' shared helpers: reference and
 * model loading from ../shared, one-sequence evaluation, and the logit
 * error against a reference position (see engine_testutil.h). */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_testutil.h"
#include "sampler.h"
#include "testutil.h"

void orc_test_ref_load(const char *name, struct orc_test_ref *r)
{
	char path[512], err[256];

	snprintf(path, sizeof(path), "models/%s.ref.json", name);
	r->root = orc_jsonr_parse_file(orc_test_shared(path), err, sizeof(err));
	ck_assert_msg(r->root != NULL, "%s", err);
	ck_assert_int_eq(orc_jsonr_i32_array(orc_jsonr_get(r->root, "prompt_ids"), &r->prompt, &r->n_prompt), 0);
	ck_assert_int_eq(orc_jsonr_i32_array(orc_jsonr_get(r->root, "greedy"), &r->greedy, &r->n_greedy), 0);
	r->positions = orc_jsonr_get(r->root, "positions");
	r->margin = orc_jsonr_get(r->root, "greedy_margin");
	ck_assert_uint_eq(orc_jsonr_len(r->positions), r->n_prompt);
	ck_assert_uint_eq(orc_jsonr_len(r->margin), r->n_greedy);
}

void orc_test_ref_free(struct orc_test_ref *r)
{
	orc_jsonr_free(r->root);
	free(r->prompt);
	free(r->greedy);
}

struct orc_model *orc_test_model_load(const char *name, const struct orc_model_opts *o)
{
	struct orc_model *m = NULL;
	struct orc_err err = { 0 };
	char path[512];

	snprintf(path, sizeof(path), "models/%s.gguf", name);
	ck_assert_msg(orc_model_load(orc_test_shared(path), o, &m, &err) == 0, "%s", err.msg);
	return m;
}

void orc_test_eval1(struct orc_model *m, struct orc_seq *s, const int32_t *ids, uint32_t n, bool all,
		    float *logits)
{
	struct orc_eval_item it = { .seq = s, .ids = ids, .n = n, .logits_all = all, .logits = logits };
	struct orc_err err = { 0 };

	ck_assert_msg(orc_model_eval(m, &it, 1, &err) == 0, "%s", err.msg);
}

double orc_test_position_error(const struct orc_jsonr *p, const float *l, uint32_t n_vocab)
{
	const struct orc_jsonr *top = orc_jsonr_get(p, "top");
	double mx = -INFINITY, s = 0, e;

	ck_assert_uint_ge(orc_jsonr_len(top), 1);
	for (uint32_t i = 0; i < n_vocab; i++)
		mx = fmax(mx, l[i]);
	for (uint32_t i = 0; i < n_vocab; i++)
		s += exp(l[i] - mx);
	e = fabs(mx + log(s) - orc_jsonr_num(orc_jsonr_get(p, "lse"), NAN));
	for (size_t k = 0; k < orc_jsonr_len(top); k++) {
		const struct orc_jsonr *pair = orc_jsonr_at(top, k);
		double id = orc_jsonr_num(orc_jsonr_at(pair, 0), -1);
		ck_assert(id >= 0 && id < n_vocab);
		e = fmax(e, fabs(l[(uint32_t)id] - orc_jsonr_num(orc_jsonr_at(pair, 1), NAN)));
	}
	return e;
}

void orc_test_check_golden_greedy(struct orc_model *m)
{
	struct orc_seq *s;
	struct orc_err err = { 0 };
	int32_t ids[256] = { 1 };
	char *golden, *text = NULL;
	size_t len = 0;
	float *logits;

	golden = orc_test_read_file(orc_test_shared("models/stories260K.golden.txt"), NULL);
	ck_assert_ptr_nonnull(golden);
	logits = malloc(sizeof(float) * orc_model_n_vocab(m));
	ck_assert_ptr_nonnull(logits);
	ck_assert_int_eq(orc_seq_new(m, &s, &err), 0);
	for (int k = 0; k < 255; k++) {
		orc_test_eval1(m, s, &ids[k], 1, false, logits);
		ids[k + 1] = orc_sampler_argmax(logits, orc_model_n_vocab(m));
	}
	ck_assert_int_eq(orc_tok_decode(orc_model_get_tok(m), ids + 1, 255, 0, &text, &len, &err), 0);
	ck_assert_msg(strcmp(text, golden) == 0, "generated:\n%s\ngolden:\n%s", text, golden);
	free(text);
	free(golden);
	free(logits);
	orc_model_free(m);
}
