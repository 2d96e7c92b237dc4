/* gen_daemon.c -- a generation through orcd, for `orcctl generate -m NAME`
 * (the system's daemon) and `--file` (a private one, private.h). The
 * options (gen_opts.h) become a protocol request; text streams to stdout
 * as token events arrive, and --json prints one document (gen_output.c).
 * Values the request cannot carry are refused here, naming the option as
 * the engine would. SIGINT cancels the request. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "gen_output.h"

#define CMD "generate"
#define POLL_MS 100     /* how often a waiting stream looks at SIGINT */

/* The prompt of the request. For --json the text is tokenized by the daemon
 * first (as the local mode does: BOS as the model says, control tokens
 * recognised), so that the document can show the prompt ids. */
static enum occ_status set_prompt(occ_conn *c, const char *model, const struct orcctl_gen_opts *o,
				  bool json, occ_gen_req *r, int32_t **ret_ids, size_t *ret_n)
{
	const char *text = o->prompt ? o->prompt : "";
	enum occ_status s;
	occ_tokens *t;

	*ret_ids = NULL;
	*ret_n = 0;
	if (o->have_prompt_ids)
		return occ_gen_req_prompt_ids(r, o->prompt_ids, o->n_prompt_ids);
	if (!json) {
		if ((s = occ_gen_req_parse_special(r, true)) != OCC_OK)
			return s;
		return occ_gen_req_prompt(r, text, strlen(text));
	}
	s = occ_tokenize(c, model, text, strlen(text), OCC_TOK_ADD_SPECIAL | OCC_TOK_PARSE_SPECIAL, &t);
	if (s != OCC_OK)
		return s;
	*ret_n = occ_tokens_count(t);
	if (!(*ret_ids = malloc((*ret_n ? *ret_n : 1) * sizeof(int32_t)))) {
		occ_tokens_free(t);
		return OCC_ALLOC_FAILED;
	}
	memcpy(*ret_ids, occ_tokens_ids(t), *ret_n * sizeof(int32_t));
	occ_tokens_free(t);
	return occ_gen_req_prompt_ids(r, *ret_ids, *ret_n);
}

/* A value the request refuses: say which, as the engine would. */
static int bad_value(const char *name, double v)
{
	if (isnan(v))
		fprintf(stderr, "orcctl " CMD ": %s is NaN\n", name);
	else
		fprintf(stderr, "orcctl " CMD ": %s %g is out of range\n", name, v);
	return ORCCTL_EXIT_FAILURE;
}

/* Sampling and output options. Returns ORCCTL_EXIT_OK, or an exit code
 * after naming the value that was refused. */
static int set_options(const struct orcctl_gen_opts *o, occ_gen_req *r)
{
	enum occ_status s = OCC_OK;
	uint32_t k_tok = o->logprobs;

	/* the local document's last prompt position is the distribution of the
	 * first generated token: ask for its top-K too (and print only what
	 * was asked, see to_result()) */
	if (o->prompt_logprobs > k_tok)
		k_tok = o->prompt_logprobs;
#define SET(bit, name, call, v)                                                    \
	do {                                                                       \
		if ((o->set & (bit)) && (s = (call)) == OCC_INVALID_ARGUMENT)      \
			return bad_value(name, (double)(v));                       \
		if (s != OCC_OK)                                                   \
			goto fail;                                                 \
	} while (0)
	SET(ORCCTL_GEN_SET_TEMPERATURE, "temperature", occ_gen_req_temperature(r, o->temperature),
	    o->temperature);
	SET(ORCCTL_GEN_SET_TOP_K, "top_k", occ_gen_req_top_k(r, o->top_k), o->top_k);
	SET(ORCCTL_GEN_SET_TOP_P, "top_p", occ_gen_req_top_p(r, o->top_p), o->top_p);
	SET(ORCCTL_GEN_SET_MIN_P, "min_p", occ_gen_req_min_p(r, o->min_p), o->min_p);
	SET(ORCCTL_GEN_SET_REPEAT, "repeat_penalty", occ_gen_req_repeat_penalty(r, o->repeat_penalty),
	    o->repeat_penalty);
	SET(ORCCTL_GEN_SET_REPEAT_N, "repeat_last_n", occ_gen_req_repeat_last_n(r, o->repeat_last_n),
	    o->repeat_last_n);
	SET(ORCCTL_GEN_SET_PRESENCE, "presence_penalty",
	    occ_gen_req_presence_penalty(r, o->presence_penalty), o->presence_penalty);
	SET(ORCCTL_GEN_SET_FREQUENCY, "frequency_penalty",
	    occ_gen_req_frequency_penalty(r, o->frequency_penalty), o->frequency_penalty);
	SET(ORCCTL_GEN_SET_SEED, "seed", occ_gen_req_seed(r, o->seed), o->seed);
	if (o->max_tokens > 0)
		SET(ORCCTL_GEN_SET_MAX_TOKENS, "max_tokens", occ_gen_req_max_tokens(r, o->max_tokens),
		    o->max_tokens);
#undef SET
	for (size_t i = 0; i < o->n_stop; i++) {
		if ((s = occ_gen_req_add_stop(r, o->stop[i])) == OCC_INVALID_ARGUMENT) {
			fprintf(stderr, "orcctl " CMD ": stop string %zu is %s\n", i,
				*o->stop[i] ? "too long" : "empty");
			return ORCCTL_EXIT_FAILURE;
		}
		if (s != OCC_OK)
			goto fail;
	}
	if (k_tok > 0 && (s = occ_gen_req_logprobs(r, k_tok)) != OCC_OK)
		goto fail;
	if (o->prompt_logprobs > 0 && (s = occ_gen_req_prompt_logprobs(r, o->prompt_logprobs)) != OCC_OK)
		goto fail;
	return ORCCTL_EXIT_OK;
fail:
	fprintf(stderr, "orcctl " CMD ": %s\n", occ_strerror(s));
	return orcctl_exit_for(s);
}

/* Token ids the request cannot carry (negative ones). */
static int check_ids(const struct orcctl_gen_opts *o)
{
	for (size_t i = 0; o->have_prompt_ids && i < o->n_prompt_ids; i++) {
		if (o->prompt_ids[i] < 0) {
			fprintf(stderr, "orcctl " CMD ": prompt_ids[%zu]: id %d is out of range\n", i,
				o->prompt_ids[i]);
			return ORCCTL_EXIT_FAILURE;
		}
	}
	return ORCCTL_EXIT_OK;
}

/* Top-K of token t into top[0..k) (missing entries stay zero). */
static void copy_top(const occ_token *t, uint32_t k, struct orcctl_logprob *top)
{
	for (uint32_t j = 0; t && j < k; j++) {
		int32_t id;
		float lp;

		if (occ_token_top(t, j, &id, &lp))
			top[j] = (struct orcctl_logprob){ .id = id, .logprob = lp };
	}
}

static void fill_timings(const occ_gen *g, struct orcctl_gen_timings *t)
{
	t->prompt_tokens = occ_gen_prompt_tokens(g);
	t->generated_tokens = occ_gen_gen_tokens(g);
	t->cached_prompt_tokens = occ_gen_cached_tokens(g);
	t->queue_ms = occ_gen_time_us(g, OCC_TIME_QUEUE) / 1e3;
	t->prompt_ms = occ_gen_time_us(g, OCC_TIME_PROMPT) / 1e3;
	t->ttft_ms = occ_gen_time_us(g, OCC_TIME_TTFT) / 1e3;
	t->decode_ms = occ_gen_time_us(g, OCC_TIME_GEN) / 1e3;
	t->total_ms = t->ttft_ms + t->decode_ms;
	t->prompt_tokens_per_s = t->prompt_ms > 0 ? t->prompt_tokens / (t->prompt_ms / 1e3) : 0;
	t->tokens_per_s = t->generated_tokens > 1 && t->decode_ms > 0
			? (t->generated_tokens - 1) / (t->decode_ms / 1e3) : 0;
}

/* The finished generation as a document, for gen_output.c. Takes prompt.
 * Returns false when out of memory (r is then freed). */
static bool to_result(const occ_gen *g, const struct orcctl_gen_opts *o, int32_t *prompt,
		      size_t n_prompt, struct orcctl_gen_doc *r)
{
	size_t n = occ_gen_n_tokens(g), len;
	const char *text = occ_gen_text(g, &len);
	uint32_t kl = o->logprobs, kp = o->prompt_logprobs;

	memset(r, 0, sizeof(*r));
	r->prompt_ids = prompt;
	r->n_prompt = n_prompt;
	r->ids = malloc((n ? n : 1) * sizeof(int32_t));
	r->text = malloc(len + 1);
	if (!r->ids || !r->text)
		goto fail;
	for (size_t i = 0; i < n; i++)
		r->ids[i] = occ_token_id(occ_gen_token(g, i));
	r->n_ids = n;
	memcpy(r->text, text, len + 1);
	r->text_len = len;
	fill_timings(g, &r->timings);
	if (kl) {
		r->logprobs = (struct orcctl_gen_logprobs){ .k = kl, .n = n };
		r->logprobs.chosen = calloc(n ? n : 1, sizeof(float));
		r->logprobs.top = calloc((n ? n : 1) * kl, sizeof(struct orcctl_logprob));
		if (!r->logprobs.chosen || !r->logprobs.top)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			occ_token_logprob(occ_gen_token(g, i), &r->logprobs.chosen[i]);
			copy_top(occ_gen_token(g, i), kl, r->logprobs.top + i * kl);
		}
	}
	if (kp && n_prompt) {
		/* local index i: the distribution after prompt token i, which the
		 * protocol sends at position i + 1; the last one is the first token's */
		r->prompt_logprobs = (struct orcctl_gen_logprobs){ .k = kp, .n = n_prompt };
		r->prompt_logprobs.top = calloc(n_prompt * kp, sizeof(struct orcctl_logprob));
		if (!r->prompt_logprobs.top)
			goto fail;
		for (size_t i = 0; i + 1 < n_prompt; i++)
			copy_top(occ_gen_prompt_logprob(g, i + 1), kp, r->prompt_logprobs.top + i * kp);
		copy_top(occ_gen_token(g, 0), kp, r->prompt_logprobs.top + (n_prompt - 1) * kp);
	}
	return true;
fail:
	orcctl_gen_doc_free(r);
	return false;
}

/* Stream the text; returns the generation's status. */
static enum occ_status stream(occ_gen *g, bool json, volatile sig_atomic_t *interrupted,
			      size_t *ret_streamed)
{
	const occ_token *t;
	enum occ_status s;

	*ret_streamed = 0;
	for (;;) {
		s = occ_gen_next(g, POLL_MS, &t);
		if (s == OCC_TIMEOUT) {
			if (*interrupted)
				occ_cancel(g);
			continue;
		}
		if (s != OCC_OK || !t)
			return s;
		if (!json) {
			size_t len;
			const char *text = occ_token_text(t, &len);

			fwrite(text, 1, len, stdout);
			fflush(stdout);
			*ret_streamed += len;
		}
		if (*interrupted)
			occ_cancel(g);
	}
}

static int finish(occ_gen *g, const struct orcctl_gen_opts *o, bool json, bool quiet,
		  int32_t **prompt, size_t n_prompt, size_t streamed)
{
	const char *stop = occ_stop_name(occ_gen_stop(g));
	struct orcctl_gen_doc res;
	size_t len;
	const char *text = occ_gen_text(g, &len);

	if (!json) {
		fwrite(text + streamed, 1, len - streamed, stdout);   /* the final flush */
		if (isatty(STDOUT_FILENO) && (len == 0 || text[len - 1] != '\n'))
			putchar('\n');
	}
	if (json || (!quiet && isatty(STDERR_FILENO))) {
		if (!to_result(g, o, *prompt, n_prompt, &res)) {
			*prompt = NULL;
			fprintf(stderr, "orcctl " CMD ": out of memory\n");
			return ORCCTL_EXIT_FAILURE;
		}
		*prompt = NULL;       /* owned by res now */
		if (json)
			orcctl_gen_print_json(&res, stop);
		else
			orcctl_gen_print_summary(&res, stop);
		orcctl_gen_doc_free(&res);
	}
	return fflush(stdout) == 0 ? ORCCTL_EXIT_OK : ORCCTL_EXIT_FAILURE;
}

int orcctl_generate_on(occ_conn *c, const char *model, const struct orcctl_gen_opts *o,
		       const struct orcctl_global *g, volatile sig_atomic_t *interrupted)
{
	bool json = o->json || g->json;
	int32_t *prompt = NULL;
	size_t n_prompt = 0, streamed;
	occ_gen_req *r;
	occ_gen *gen = NULL;
	enum occ_status s;
	int rc;

	if (!(r = occ_gen_req_new(model))) {
		fprintf(stderr, "orcctl " CMD ": out of memory\n");
		return ORCCTL_EXIT_FAILURE;
	}
	if ((rc = set_options(o, r)) != ORCCTL_EXIT_OK || (rc = check_ids(o)) != ORCCTL_EXIT_OK)
		goto out;
	if ((s = set_prompt(c, model, o, json, r, &prompt, &n_prompt)) != OCC_OK ||
	    (s = occ_gen_start(c, r, &gen)) != OCC_OK) {
		rc = orcctl_fail(CMD, c, s);
		goto out;
	}
	if (o->have_prompt_ids && !prompt && (prompt = malloc((o->n_prompt_ids + 1) * sizeof(int32_t)))) {
		memcpy(prompt, o->prompt_ids, o->n_prompt_ids * sizeof(int32_t));
		n_prompt = o->n_prompt_ids;
	}
	s = stream(gen, json, interrupted, &streamed);
	if (s != OCC_OK)
		rc = orcctl_fail(CMD, c, s);
	else if (*interrupted)
		rc = ORCCTL_EXIT_CANCELED;
	else
		rc = finish(gen, o, json, g->quiet, &prompt, n_prompt, streamed);
out:
	free(prompt);
	occ_gen_free(gen);
	occ_gen_req_free(r);
	return rc;
}

int orcctl_generate_daemon(const struct orcctl_gen_opts *o, const struct orcctl_global *g,
			   volatile sig_atomic_t *interrupted)
{
	occ_conn *c = NULL;
	int rc;

	if ((rc = orcctl_check_model(CMD, o->model)) != ORCCTL_EXIT_OK ||
	    (rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	rc = orcctl_generate_on(c, o->model, o, g, interrupted);
	occ_close(c);
	return rc;
}
