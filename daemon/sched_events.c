/* sched_events.c -- the events the scheduler sends to the event loop:
 * finals and errors (in each job's preallocated terminal event, so ending
 * a job never needs memory), token events with log-probabilities computed
 * from the logits (the model's raw distribution, as sampler.h defines it),
 * prompt log-probabilities, and the results of tokenize and detokenize. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "scheduler_impl.h"

/* ---- events ---- */

void orc_sched_emit(struct orc_sched *s, struct orc_event *e)
{
	e->next = NULL;
	if (s->out_tail)
		s->out_tail->next = e;
	else
		s->out_head = e;
	s->out_tail = e;
}

void orc_sched_flush(struct orc_sched *s)
{
	orc_evq_push_list(s->evq, s->out_head, s->out_tail);
	s->out_head = s->out_tail = NULL;
}

/* The job's preallocated terminal event, turned into an error. */
void orc_sched_job_error(struct orc_sched *s, struct orc_job *j, enum occ_status code,
		      const char *fmt, ...)
{
	struct orc_event *e = j->term;
	va_list ap;

	j->term = NULL;
	e->type = ORC_EV_ERROR;
	e->job = j;
	e->u.error.code = code;
	va_start(ap, fmt);
	vsnprintf(e->u.error.msg, sizeof(e->u.error.msg), fmt, ap);
	va_end(ap);
	orc_sched_emit(s, e);
}

void orc_sched_job_final(struct orc_sched *s, struct orc_job *j, uint32_t stop)
{
	struct orc_event *e = j->term;

	j->term = NULL;
	e->type = ORC_EV_FINAL;
	e->job = j;
	e->u.final.stop = stop;
	orc_sched_emit(s, e);
}

/* ---- tokenize and detokenize: answered as soon as they arrive ---- */

void orc_sched_tokenize(struct orc_sched *s, struct orc_job *j, const struct orc_tok *tok)
{
	unsigned flags = (j->add_special ? ORC_TOK_ADD_SPECIAL : 0) |
			 (j->parse_special ? ORC_TOK_PARSE_SPECIAL : 0);
	struct orc_event *e = j->term;
	struct orc_err err = { 0 };
	int32_t *ids = NULL;
	size_t n = 0;
	int r = orc_tok_encode(tok, j->text, j->text_len, flags, &ids, &n, &err);

	if (r < 0) {
		orc_sched_job_error(s, j, r == -ENOMEM ? OCC_INTERNAL : OCC_BAD_REQUEST, "text: %s",
			  orc_err_msg(&err));
		return;
	}
	if (n > ORC_PROMPT_TOKENS_MAX) {
		free(ids);
		orc_sched_job_error(s, j, OCC_TOO_LARGE, "%zu tokens, over the limit of %u", n,
			  ORC_PROMPT_TOKENS_MAX);
		return;
	}
	if (j->pieces && n) {
		e->pieces = calloc(n, sizeof(char *));
		e->piece_lens = calloc(n, sizeof(uint32_t));
		for (size_t i = 0; e->pieces && e->piece_lens && i < n; i++) {
			size_t len = 0;

			if (orc_tok_decode(tok, &ids[i], 1, 0, &e->pieces[i], &len, NULL) == 0)
				e->piece_lens[i] = (uint32_t)len;
		}
		if (!e->pieces || !e->piece_lens) {
			free(ids);
			orc_sched_job_error(s, j, OCC_INTERNAL, "out of memory");
			return;
		}
	}
	j->term = NULL;
	e->type = ORC_EV_TOKENS;
	e->job = j;
	e->ids = ids;
	e->n_ids = (uint32_t)n;
	orc_sched_emit(s, e);
}

void orc_sched_detokenize(struct orc_sched *s, struct orc_job *j, const struct orc_tok *tok)
{
	struct orc_event *e = j->term;
	struct orc_err err = { 0 };
	char *text = NULL;
	size_t len = 0;
	int r = orc_tok_decode(tok, j->ids, j->n_ids, j->skip_special ? ORC_DETOK_SKIP_SPECIAL : 0,
			       &text, &len, &err);

	if (r < 0) {
		orc_sched_job_error(s, j, r == -ENOMEM ? OCC_INTERNAL : OCC_BAD_REQUEST, "ids: %s",
			  orc_err_msg(&err));
		return;
	}
	j->term = NULL;
	e->type = ORC_EV_TEXT;
	e->job = j;
	e->text = text;
	e->text_len = len;
	orc_sched_emit(s, e);
}

struct orc_event *orc_sched_token_event(struct orc_job *j, const struct orc_gen_event *gev,
				     const float *row, uint32_t n_vocab)
{
	struct orc_event *e = orc_event_new(ORC_EV_TOKEN);

	if (!e || orc_event_set_text(e, gev->text ? gev->text : "", gev->text_len) < 0) {
		orc_event_free(e);
		return NULL;
	}
	e->job = j;
	e->u.token.token = gev->id;
	if (j->logprobs >= 0) {
		double lse = orc_logprobs_lse(row, n_vocab);
		uint32_t k = (uint32_t)j->logprobs;

		e->u.token.has_logprob = true;
		e->u.token.logprob = (float)(row[gev->id] - lse);
		if (k) {
			struct orc_logprob *top = calloc(k, sizeof(*top));

			e->top = calloc(k, sizeof(*e->top));
			if (top && e->top && orc_logprobs_top(row, n_vocab, lse, k, top) == 0) {
				for (uint32_t i = 0; i < k; i++) {
					e->top[i].token = top[i].id;
					e->top[i].logprob = top[i].logprob;
				}
				e->n_top = k;
			}
			free(top);
		}
	}
	return e;
}

/* Prompt log-probabilities of a prefill chunk evaluated with every row's
 * logits: row r (at position start + r) predicts prompt token start + r + 1. */
void orc_sched_prompt_logprobs(struct orc_sched *s, struct slot *sl, const struct orc_eval_item *it,
			    uint32_t start, uint32_t n_vocab)
{
	uint32_t k = (uint32_t)sl->job->prompt_logprobs;
	uint32_t first = start + 1, end = start + it->n;  /* positions [first, end) */
	struct orc_logprob *top = NULL;
	struct orc_event *e;

	if (end > sl->n_prompt)
		end = sl->n_prompt;
	if (first >= end)
		return;
	e = orc_event_new(ORC_EV_PROMPT_LOGPROBS);
	if (!e || !(e->plp = calloc(end - first, sizeof(*e->plp))) ||
	    (k && !(top = calloc(k, sizeof(*top))))) {
		orc_event_free(e);
		return;
	}
	e->job = sl->job;
	e->u.plp.offset = first;
	for (uint32_t pos = first; pos < end; pos++) {
		const float *row = it->logits + (size_t)(pos - 1 - start) * n_vocab;
		struct orc_ev_plp *p = &e->plp[e->n_plp++];
		double lse = orc_logprobs_lse(row, n_vocab);

		p->token = sl->prompt[pos];
		p->logprob = (float)(row[p->token] - lse);
		if (k && (p->top = calloc(k, sizeof(*p->top))) &&
		    orc_logprobs_top(row, n_vocab, lse, k, top) == 0) {
			for (uint32_t i = 0; i < k; i++) {
				p->top[i].token = top[i].id;
				p->top[i].logprob = top[i].logprob;
			}
			p->n_top = k;
		}
	}
	free(top);
	orc_sched_emit(s, e);
}

uint32_t orc_sched_wire_stop(enum orc_stop_reason r)
{
	switch (r) {
	case ORC_STOP_EOS: return WIRE_STOP_EOG;
	case ORC_STOP_STRING: return WIRE_STOP_STRING;
	default: return WIRE_STOP_LENGTH;
	}
}
