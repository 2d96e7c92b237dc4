/* scheduler.c -- the scheduler thread (see scheduler.h). Per model it keeps a FIFO
 * of jobs waiting for a slot and the list of running slots (admission
 * order); a slot is one generation (gen.h) with its own sequence. Events of
 * a step are collected and pushed to the loop together, after the step's
 * finished slots are freed, so the loop may free a model as soon as its
 * last job's terminal event arrives. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_template.h"
#include "limits.h"
#include "log.h"
#include "scheduler_impl.h"

/* ---- admission ---- */

static int build_prompt(struct orc_job *j, const struct orc_tok *tok, uint32_t n_vocab,
			int32_t **ret, size_t *ret_n, enum occ_status *code, struct orc_err *err)
{
	unsigned flags = (j->add_special ? ORC_TOK_ADD_SPECIAL : 0) |
			 (j->parse_special ? ORC_TOK_PARSE_SPECIAL : 0);
	char *text;
	size_t len;
	int r;

	*code = OCC_BAD_REQUEST;
	switch (j->prompt) {
	case ORC_JOB_PROMPT_IDS:
		for (uint32_t i = 0; i < j->n_ids; i++)
			if ((uint32_t)j->ids[i] >= n_vocab)
				return orc_err_set(err, -EINVAL, "prompt_ids[%u]: id %d is out of range (vocabulary %u)",
						   i, j->ids[i], n_vocab);
		*ret = malloc((j->n_ids ? j->n_ids : 1) * sizeof(int32_t));
		if (!*ret)
			return orc_err_set(err, -ENOMEM, "out of memory");
		memcpy(*ret, j->ids, j->n_ids * sizeof(int32_t));
		*ret_n = j->n_ids;
		return 0;
	case ORC_JOB_PROMPT_TEXT:
		r = orc_tok_encode(tok, j->text, j->text_len, flags, ret, ret_n, err);
		return r < 0 ? orc_err_prefix(err, "prompt") : 0;
	case ORC_JOB_PROMPT_CHAT:
		if (j->chat.kind == ORC_CHAT_NONE) {
			*code = OCC_UNSUPPORTED;
			return orc_err_set(err, -ENOTSUP, "the model has no chat format orcd knows; "
					   "send a raw prompt");
		}
		r = orc_chat_render(&j->chat, j->turns, j->n_turns, &text, &len, err);
		if (r < 0)
			return r;
		r = orc_tok_encode(tok, text, len, ORC_TOK_ADD_SPECIAL | ORC_TOK_PARSE_SPECIAL, ret,
				   ret_n, err);
		free(text);
		return r < 0 ? orc_err_prefix(err, "messages") : 0;
	}
	return orc_err_set(err, -EINVAL, "no prompt");
}

static void set_params(const struct orc_sched *s, const struct orc_job *j, uint32_t n_prompt,
		       uint32_t n_ctx, struct orc_gen_params *p)
{
	const struct orc_job_sampling *sp = &j->sp;
	struct orc_sampler_params *q = &p->sampling;

	orc_gen_params_default(p);
	if (sp->has & (1u << 0)) q->temperature = sp->temperature;
	if (sp->has & (1u << 1)) q->top_k = sp->top_k;
	if (sp->has & (1u << 2)) q->top_p = sp->top_p;
	if (sp->has & (1u << 3)) q->min_p = sp->min_p;
	if (sp->has & (1u << 4)) q->repeat_penalty = sp->repeat_penalty;
	if (sp->has & (1u << 5)) q->repeat_last_n = sp->repeat_last_n;
	if (sp->has & (1u << 6)) q->presence_penalty = sp->presence_penalty;
	if (sp->has & (1u << 7)) q->frequency_penalty = sp->frequency_penalty;
	if (sp->has & (1u << 8)) q->seed = sp->seed;
	if (j->max_tokens) {
		p->max_tokens = j->max_tokens;
	} else {
		uint32_t room = n_ctx - n_prompt;
		p->max_tokens = s->cur.max_tokens < room ? s->cur.max_tokens : room;
	}
	p->stop = (const char *const *)j->stop;
	p->n_stop = j->n_stop;
	/* Log-probabilities are computed here from the logits (always with the
	 * chosen token's own value); gen only needs to hand over every prompt
	 * position's logits when prompt log-probabilities are asked for. */
	p->logprobs = 0;
	p->host_logits = j->logprobs >= 0;
	p->prompt_logprobs = j->prompt_logprobs >= 0 ? 1 : 0;
	p->prefill_chunk = s->cur.prefill_chunk;
	p->reuse_prefix = s->cur.prefix_cache;
}

static enum occ_status gen_status(int r)
{
	switch (r) {
	case -E2BIG: return OCC_CONTEXT_OVERFLOW;
	case -EINVAL: case -EILSEQ: case -EDOM: return OCC_BAD_REQUEST;
	default: return OCC_INTERNAL;
	}
}

static void append_slot(struct smodel *sm, struct slot *sl)
{
	struct slot **pp = &sm->slots;

	while (*pp)
		pp = &(*pp)->next;
	sl->next = NULL;
	*pp = sl;
	sm->n_slots++;
}

/* Start a generation in a new slot. 1: started; 0: failed (the job got its
 * error); -EBUSY: no sequence free, the job stays queued. */
static int start_slot(struct orc_sched *s, struct smodel *sm, struct orc_job *j)
{
	const struct orc_tok *tok = orc_model_get_tok(sm->model);
	uint32_t n_ctx = orc_model_n_ctx(sm->model);
	struct orc_err err = { 0 };
	struct orc_gen_params p;
	enum occ_status code;
	struct slot *sl;
	size_t n = 0;
	int32_t *ids = NULL;
	int r;

	r = build_prompt(j, tok, orc_model_n_vocab(sm->model), &ids, &n, &code, &err);
	if (r < 0) {
		orc_sched_job_error(s, j, r == -ENOMEM ? OCC_INTERNAL : code, "%s", orc_err_msg(&err));
		return 0;
	}
	if (n > ORC_PROMPT_TOKENS_MAX || n >= n_ctx) {
		free(ids);
		orc_sched_job_error(s, j, n > ORC_PROMPT_TOKENS_MAX ? OCC_TOO_LARGE : OCC_CONTEXT_OVERFLOW,
			  "the prompt has %zu tokens; the context holds %u", n, n_ctx);
		return 0;
	}
	sl = calloc(1, sizeof(*sl));
	if (!sl) {
		free(ids);
		orc_sched_job_error(s, j, OCC_INTERNAL, "out of memory");
		return 0;
	}
	set_params(s, j, (uint32_t)n, n_ctx, &p);
	r = orc_gen_new(sm->model, &p, ids, n, &sl->gen, &err);
	if (r < 0) {
		free(ids);
		free(sl);
		orc_sched_job_error(s, j, gen_status(r), "%s", orc_err_msg(&err));
		return 0;
	}
	r = orc_seq_new(sm->model, &sl->seq, &err);
	if (r == 0)
		r = orc_gen_attach(sl->gen, sl->seq, &sl->n_cached, &err);
	if (r < 0) {
		orc_seq_free(sl->seq);
		orc_gen_free(sl->gen);
		free(ids);
		free(sl);
		if (r == -EBUSY)
			return -EBUSY;
		orc_sched_job_error(s, j, OCC_INTERNAL, "%s", orc_err_msg(&err));
		return 0;
	}
	sl->fed = sl->n_cached;
	sl->job = j;
	sl->prompt = ids;
	sl->n_prompt = (uint32_t)n;
	sl->t_admit_us = orc_now_us();
	atomic_store(&j->t_started_us, sl->t_admit_us);
	atomic_store(&j->started, true);
	append_slot(sm, sl);
	return 1;
}

/* The queued job to admit next: from the connection with the fewest
 * running slots on this model, the oldest on a tie. */
static struct orc_job *pick_fair(struct smodel *sm)
{
	struct orc_job *best = NULL, **best_pp = NULL, **pp;
	uint32_t best_n = UINT32_MAX;

	for (pp = &sm->qhead; *pp; pp = &(*pp)->sched_next) {
		uint32_t n = 0;

		for (struct slot *sl = sm->slots; sl; sl = sl->next)
			if (sl->job->conn_id == (*pp)->conn_id)
				n++;
		if (n < best_n) {
			best_n = n;
			best = *pp;
			best_pp = pp;
			if (n == 0)
				break;
		}
	}
	if (!best)
		return NULL;
	*best_pp = best->sched_next;
	if (sm->qtail == best) {
		struct orc_job *t = sm->qhead;

		while (t && t->sched_next)
			t = t->sched_next;
		sm->qtail = t;
	}
	best->sched_next = NULL;
	return best;
}

static void push_front(struct smodel *sm, struct orc_job *j)
{
	j->sched_next = sm->qhead;
	sm->qhead = j;
	if (!sm->qtail)
		sm->qtail = j;
}

static void admit(struct orc_sched *s, struct smodel *sm)
{
	sm->seq_full = false;
	while (sm->n_slots < s->cur.max_sequences && sm->qhead) {
		struct orc_job *j = pick_fair(sm);

		if (start_slot(s, sm, j) == -EBUSY) {
			push_front(sm, j);
			sm->seq_full = true;
			return;
		}
	}
}

/* ---- finishing ---- */

static void finish_slot(struct orc_sched *s, struct smodel *sm, struct slot *sl, uint32_t stop)
{
	struct orc_job *j = sl->job;
	struct orc_event *e = j->term;
	struct slot **pp;
	uint64_t now = orc_now_us();

	for (pp = &sm->slots; *pp != sl; pp = &(*pp)->next)
		;
	*pp = sl->next;
	sm->n_slots--;
	orc_seq_free(sl->seq);
	orc_gen_free(sl->gen);
	free(sl->prompt);
	e->u.final.prompt_tokens = sl->n_prompt;
	e->u.final.cached_tokens = sl->n_cached;
	e->u.final.gen_tokens = sl->n_gen;
	e->u.final.queue_us = sl->t_admit_us - j->t_received_us;
	if (sl->t_first_us) {
		e->u.final.prompt_us = sl->t_first_us - sl->t_admit_us;
		e->u.final.ttft_us = sl->t_first_us - j->t_received_us;
		e->u.final.gen_us = sl->t_last_us - sl->t_first_us;
	} else {
		e->u.final.prompt_us = now - sl->t_admit_us;
	}
	free(sl);
	orc_sched_job_final(s, j, stop);
}

static void fail_slot(struct orc_sched *s, struct smodel *sm, struct slot *sl,
		      enum occ_status code, const char *msg)
{
	struct orc_job *j = sl->job;
	struct slot **pp;

	for (pp = &sm->slots; *pp != sl; pp = &(*pp)->next)
		;
	*pp = sl->next;
	sm->n_slots--;
	orc_seq_free(sl->seq);
	orc_gen_free(sl->gen);
	free(sl->prompt);
	free(sl);
	orc_sched_job_error(s, j, code, "%s", msg);
}

/* Jobs whose client cancelled (or that the drain stops) leave now. */
static void drop_cancelled(struct orc_sched *s, struct smodel *sm)
{
	struct orc_job **pp, *j;
	struct slot *sl, *next;

	for (pp = &sm->qhead; (j = *pp);) {
		int why = atomic_load(&j->cancel);

		if (!why) {
			pp = &j->sched_next;
			continue;
		}
		*pp = j->sched_next;
		if (sm->qtail == j) {
			struct orc_job *t = sm->qhead;

			while (t && t->sched_next)
				t = t->sched_next;
			sm->qtail = t;
		}
		orc_sched_job_final(s, j, (uint32_t)why);
	}
	for (sl = sm->slots; sl; sl = next) {
		int why = atomic_load(&sl->job->cancel);

		next = sl->next;
		if (why)
			finish_slot(s, sm, sl, (uint32_t)why);
	}
}

/* ---- one step of one model ---- */

static int grow_items(struct orc_sched *s, size_t n)
{
	struct orc_eval_item *items;
	struct slot **slots;
	uint32_t *starts;

	if (n <= s->cap)
		return 0;
	items = realloc(s->items, n * sizeof(*items));
	if (!items)
		return -ENOMEM;
	s->items = items;
	slots = realloc(s->item_slots, n * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	s->item_slots = slots;
	starts = realloc(s->starts, n * sizeof(*starts));
	if (!starts)
		return -ENOMEM;
	s->starts = starts;
	s->cap = n;
	return 0;
}

/* Every running slot that decodes adds its token; prefilling slots add
 * their next chunk while the step's prompt budget lasts (the oldest first;
 * the first one always goes in). */
static size_t gather(struct orc_sched *s, struct smodel *sm)
{
	uint32_t budget = s->cur.prefill_chunk;
	struct slot *sl, *next;
	bool prefilled = false;
	size_t n = 0;

	for (sl = sm->slots; sl; sl = next) {
		bool prefill = sl->fed < sl->n_prompt;
		struct orc_eval_item *it = &s->items[n];

		next = sl->next;
		if (prefill && prefilled && budget == 0)
			continue;
		memset(it, 0, sizeof(*it));
		if (orc_gen_next_input(sl->gen, it) < 0) {
			fail_slot(s, sm, sl, OCC_INTERNAL, "generation state out of step");
			continue;
		}
		it->seq = sl->seq;
		if (prefill) {
			prefilled = true;
			budget -= it->n < budget ? it->n : budget;
		}
		s->starts[n] = orc_seq_pos(sl->seq);
		s->item_slots[n++] = sl;
	}
	return n;
}

static void absorb(struct orc_sched *s, struct smodel *sm, struct slot *sl,
		   const struct orc_eval_item *it, uint32_t start)
{
	uint32_t n_vocab = orc_model_n_vocab(sm->model);
	struct orc_err err = { 0 };
	struct orc_gen_event gev;
	const float *row;
	int r;

	if (start < sl->n_prompt) {
		sl->fed = start + it->n;
		if (it->logits_all && sl->job->prompt_logprobs >= 0)
			orc_sched_prompt_logprobs(s, sl, it, start, n_vocab);
	}
	r = orc_gen_feed_logits(sl->gen, it->logits, &gev, &err);
	if (r < 0) {
		fail_slot(s, sm, sl, gen_status(r), orc_err_msg(&err));
		return;
	}
	if (gev.has_token) {
		struct orc_event *e;

		row = it->logits_all ? it->logits + (size_t)(it->n - 1) * n_vocab : it->logits;
		sl->t_last_us = orc_now_us();
		if (!sl->t_first_us)
			sl->t_first_us = sl->t_last_us;
		sl->n_gen++;
		e = orc_sched_token_event(sl->job, &gev, row, n_vocab);
		if (!e) {
			fail_slot(s, sm, sl, OCC_INTERNAL, "out of memory");
			return;
		}
		orc_sched_emit(s, e);
	}
	if (gev.done)
		finish_slot(s, sm, sl, orc_sched_wire_stop(gev.stop_reason));
}

static void step(struct orc_sched *s, struct smodel *sm)
{
	struct orc_err err = { 0 };
	size_t n;
	int r;

	if (grow_items(s, sm->n_slots) < 0)
		return;
	n = gather(s, sm);
	if (n == 0)
		return;
	r = orc_model_eval(sm->model, s->items, n, &err);
	if (r < 0) {
		log_err("scheduler: evaluating a batch of %zu: %s", n, orc_err_msg(&err));
		for (size_t i = 0; i < n; i++)
			fail_slot(s, sm, s->item_slots[i], OCC_INTERNAL, orc_err_msg(&err));
		return;
	}
	for (size_t i = 0; i < n; i++)
		absorb(s, sm, s->item_slots[i], &s->items[i], s->starts[i]);
}

/* ---- the thread ---- */

static struct smodel *model_state(struct orc_sched *s, struct orc_model *m)
{
	struct smodel *sm;

	for (sm = s->models; sm; sm = sm->next)
		if (sm->model == m)
			return sm;
	sm = calloc(1, sizeof(*sm));
	if (!sm)
		return NULL;
	sm->model = m;
	sm->next = s->models;
	s->models = sm;
	return sm;
}

static void route(struct orc_sched *s, struct orc_job *j)
{
	struct smodel *sm;

	if (j->kind == ORC_JOB_TOKENIZE) {
		orc_sched_tokenize(s, j, orc_model_get_tok(j->model));
		return;
	}
	if (j->kind == ORC_JOB_DETOKENIZE) {
		orc_sched_detokenize(s, j, orc_model_get_tok(j->model));
		return;
	}
	sm = model_state(s, j->model);
	if (!sm) {
		orc_sched_job_error(s, j, OCC_INTERNAL, "out of memory");
		return;
	}
	j->sched_next = NULL;
	if (sm->qtail)
		sm->qtail->sched_next = j;
	else
		sm->qhead = j;
	sm->qtail = j;
}

/* Something to do without new input: a running slot, or a queued job that
 * can be admitted (not when the engine just refused a sequence: a slot
 * must finish first, and then n_slots was not 0). */
static bool has_work(const struct orc_sched *s)
{
	for (const struct smodel *sm = s->models; sm; sm = sm->next)
		if (sm->n_slots || (sm->qhead && !sm->seq_full))
			return true;
	return false;
}

/* Forget the state of models with nothing queued or running. */
static void prune(struct orc_sched *s)
{
	struct smodel **pp, *sm;

	for (pp = &s->models; (sm = *pp);) {
		if (!sm->qhead && !sm->slots) {
			*pp = sm->next;
			free(sm);
		} else {
			pp = &sm->next;
		}
	}
}

static void *sched_main(void *arg)
{
	struct orc_sched *s = arg;

	for (;;) {
		struct orc_job *in, *next;

		pthread_mutex_lock(&s->lock);
		while (!s->inbox && !s->woken && !s->stop && !has_work(s))
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		in = s->inbox;
		s->inbox = NULL;
		s->inbox_tail = &s->inbox;
		s->woken = false;
		s->cur = s->lim;
		pthread_mutex_unlock(&s->lock);

		for (; in; in = next) {
			next = in->sched_next;
			route(s, in);
		}
		for (struct smodel *sm = s->models; sm; sm = sm->next) {
			drop_cancelled(s, sm);
			admit(s, sm);
			if (sm->n_slots)
				step(s, sm);
		}
		prune(s);
		orc_sched_flush(s);
	}
	return NULL;
}

int orc_sched_start(struct orc_evq *evq, const struct orc_sched_limits *lim,
		    struct orc_sched **ret)
{
	struct orc_sched *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->evq = evq;
	s->lim = *lim;
	s->cur = *lim;
	s->inbox_tail = &s->inbox;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	r = pthread_create(&s->thread, NULL, sched_main, s);
	if (r) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
		return -r;
	}
	*ret = s;
	return 0;
}

static void free_slots(struct smodel *sm)
{
	struct slot *sl, *next;

	for (sl = sm->slots; sl; sl = next) {
		next = sl->next;
		orc_seq_free(sl->seq);
		orc_gen_free(sl->gen);
		free(sl->prompt);
		free(sl);
	}
}

void orc_sched_stop(struct orc_sched *s)
{
	struct smodel *sm, *next;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	for (sm = s->models; sm; sm = next) {
		next = sm->next;
		free_slots(sm);
		free(sm);
	}
	for (struct orc_event *e = s->out_head, *en; e; e = en) {
		en = e->next;
		orc_event_free(e);
	}
	free(s->items);
	free(s->item_slots);
	free(s->starts);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

void orc_sched_set_limits(struct orc_sched *s, const struct orc_sched_limits *lim)
{
	pthread_mutex_lock(&s->lock);
	s->lim = *lim;
	s->woken = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void orc_sched_submit(struct orc_sched *s, struct orc_job *j)
{
	j->sched_next = NULL;
	pthread_mutex_lock(&s->lock);
	*s->inbox_tail = j;
	s->inbox_tail = &j->sched_next;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void orc_sched_wake(struct orc_sched *s)
{
	pthread_mutex_lock(&s->lock);
	s->woken = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}
