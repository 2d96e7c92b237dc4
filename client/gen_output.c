/* gen_output.c -- the output of `orcctl generate` (see gen_output.h): the
 * --json document and the summary line, for the local and daemon modes. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen_output.h"
#include "jsonw.h"

void orcctl_gen_doc_free(struct orcctl_gen_doc *d)
{
	if (!d)
		return;
	free(d->prompt_ids);
	free(d->ids);
	free(d->text);
	free(d->logprobs.chosen);
	free(d->logprobs.top);
	free(d->prompt_logprobs.top);
	memset(d, 0, sizeof(*d));
}

static void json_ids(struct jsonw *w, const char *key, const int32_t *ids, size_t n)
{
	jsonw_key(w, key);
	jsonw_arr_begin(w);
	for (size_t i = 0; i < n; i++)
		jsonw_int(w, ids[i]);
	jsonw_arr_end(w);
}

static void json_top(struct jsonw *w, const struct orcctl_logprob *top, uint32_t k)
{
	jsonw_key(w, "top");
	jsonw_arr_begin(w);
	for (uint32_t j = 0; j < k; j++) {
		jsonw_arr_begin(w);
		jsonw_int(w, top[j].id);
		jsonw_double(w, top[j].logprob);
		jsonw_arr_end(w);
	}
	jsonw_arr_end(w);
}

static void json_timings(struct jsonw *w, const struct orcctl_gen_timings *t)
{
	jsonw_key(w, "timings");
	jsonw_obj_begin(w);
	jsonw_key(w, "prompt_tokens"); jsonw_uint(w, t->prompt_tokens);
	jsonw_key(w, "generated_tokens"); jsonw_uint(w, t->generated_tokens);
	jsonw_key(w, "cached_prompt_tokens"); jsonw_uint(w, t->cached_prompt_tokens);
	jsonw_key(w, "queue_ms"); jsonw_double(w, t->queue_ms);
	jsonw_key(w, "prompt_ms"); jsonw_double(w, t->prompt_ms);
	jsonw_key(w, "ttft_ms"); jsonw_double(w, t->ttft_ms);
	jsonw_key(w, "decode_ms"); jsonw_double(w, t->decode_ms);
	jsonw_key(w, "total_ms"); jsonw_double(w, t->total_ms);
	jsonw_key(w, "prompt_tokens_per_s"); jsonw_double(w, t->prompt_tokens_per_s);
	jsonw_key(w, "tokens_per_s"); jsonw_double(w, t->tokens_per_s);
	jsonw_obj_end(w);
}

void orcctl_gen_print_json(const struct orcctl_gen_doc *r, const char *stop)
{
	struct jsonw w;

	jsonw_init(&w, stdout, false);
	jsonw_obj_begin(&w);
	json_ids(&w, "prompt_ids", r->prompt_ids, r->n_prompt);
	json_ids(&w, "ids", r->ids, r->n_ids);
	jsonw_key(&w, "text");
	jsonw_strn(&w, r->text, r->text_len);
	jsonw_key(&w, "stop_reason");
	jsonw_str(&w, stop);
	json_timings(&w, &r->timings);
	if (r->logprobs.k) {
		jsonw_key(&w, "logprobs");
		jsonw_arr_begin(&w);
		for (size_t i = 0; i < r->logprobs.n; i++) {
			jsonw_obj_begin(&w);
			jsonw_key(&w, "id"); jsonw_int(&w, r->ids[i]);
			jsonw_key(&w, "logprob"); jsonw_double(&w, r->logprobs.chosen[i]);
			json_top(&w, r->logprobs.top + i * r->logprobs.k, r->logprobs.k);
			jsonw_obj_end(&w);
		}
		jsonw_arr_end(&w);
	}
	if (r->prompt_logprobs.k) {
		jsonw_key(&w, "prompt_logprobs");
		jsonw_arr_begin(&w);
		for (size_t i = 0; i < r->prompt_logprobs.n; i++) {
			jsonw_obj_begin(&w);
			json_top(&w, r->prompt_logprobs.top + i * r->prompt_logprobs.k,
				 r->prompt_logprobs.k);
			jsonw_obj_end(&w);
		}
		jsonw_arr_end(&w);
	}
	jsonw_obj_end(&w);
	jsonw_finish(&w);
}

void orcctl_gen_print_summary(const struct orcctl_gen_doc *r, const char *stop)
{
	const struct orcctl_gen_timings *t = &r->timings;

	char cached[48] = "";

	if (t->cached_prompt_tokens)
		snprintf(cached, sizeof(cached), " (%u from the prefix cache)", t->cached_prompt_tokens);
	fprintf(stderr, "[%u prompt tokens%s in %.1f ms (%.1f/s), %u generated at %.1f tokens/s, "
		"first after %.1f ms; stop: %s]\n", t->prompt_tokens, cached, t->prompt_ms,
		t->prompt_tokens_per_s, t->generated_tokens, t->tokens_per_s, t->ttft_ms, stop);
}

