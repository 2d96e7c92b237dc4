/* engine_testutil.h -- helpers shared by the engine suites (check_engine,
 * check_cuda_engine, check_prefix): loading a ../shared model and its
 * transformers reference (models/<name>.ref.json), one-sequence evaluation,
 * and the error of one position's logits against the reference. Every
 * helper fails the running test (ck_assert) instead of returning an error. */
#ifndef ORC_ENGINE_TESTUTIL_H
#define ORC_ENGINE_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "jsonr.h"

/* The reference of one model: prompt ids, the greedy continuation, and per
 * prompt position the log-sum-exp and top logits; per greedy step the
 * winning margin. */
struct orc_test_ref {
	struct orc_jsonr *root;
	int32_t *prompt, *greedy;
	size_t n_prompt, n_greedy;
	const struct orc_jsonr *positions, *margin;  /* [n_prompt], [n_greedy] */
};

void orc_test_ref_load(const char *name, struct orc_test_ref *r);
void orc_test_ref_free(struct orc_test_ref *r);

/* models/<name>.gguf of the shared fixtures, loaded with `o`. */
struct orc_model *orc_test_model_load(const char *name, const struct orc_model_opts *o);
/* One evaluation of n ids on sequence s; logits of every position when
 * `all` ([n, n_vocab]), else of the last one ([n_vocab]). */
void orc_test_eval1(struct orc_model *m, struct orc_seq *s, const int32_t *ids, uint32_t n, bool all,
		    float *logits);
/* Largest difference between the logits l [n_vocab] and reference position
 * p: over its top list and its log-sum-exp. */
/* stories260K (already loaded as m) from BOS, free-running greedy for 255
 * steps: the text must equal models/stories260K.golden.txt byte for byte.
 * Frees m. */
void orc_test_check_golden_greedy(struct orc_model *m);
double orc_test_position_error(const struct orc_jsonr *p, const float *l, uint32_t n_vocab);

#endif
