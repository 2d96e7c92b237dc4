/* req_generate.c -- a generate request: check it against the limits, copy
 * it into a job (prompt text, ids or chat turns, sampling options, stop
 * strings) and hand it to the registry, which queues it for the model. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "evq.h"
#include "job.h"
#include "registry.h"
#include "req.h"
#include "server.h"

static char *dup_str(const struct orc_str *s)
{
	char *p = malloc((size_t)s->len + 1);

	if (p) {
		if (s->len)
			memcpy(p, s->s, s->len);
		p[s->len] = '\0';
	}
	return p;
}

static int copy_prompt(struct orc_job *j, const struct orc_msg_generate *g)
{
	size_t total = 0;
	char *p;

	if (g->has & ORC_GEN_HAS_PROMPT_IDS) {
		j->prompt = ORC_JOB_PROMPT_IDS;
		j->ids = malloc((g->prompt_ids.n ? g->prompt_ids.n : 1) * sizeof(int32_t));
		if (!j->ids)
			return -ENOMEM;
		memcpy(j->ids, g->prompt_ids.v, g->prompt_ids.n * sizeof(int32_t));
		j->n_ids = g->prompt_ids.n;
		return 0;
	}
	if (g->has & ORC_GEN_HAS_MESSAGES) {
		j->prompt = ORC_JOB_PROMPT_CHAT;
		for (uint32_t i = 0; i < g->n_messages; i++)
			total += g->messages[i].content.len + 1;
		j->turns = calloc(g->n_messages ? g->n_messages : 1, sizeof(*j->turns));
		j->turns_blob = p = malloc(total ? total : 1);
		if (!j->turns || !p)
			return -ENOMEM;
		for (uint32_t i = 0; i < g->n_messages; i++) {
			const struct orc_chat_msg *cm = &g->messages[i];

			memcpy(p, cm->content.s, cm->content.len);
			p[cm->content.len] = '\0';
			j->turns[i].role = (enum orc_chat_role)cm->role;
			j->turns[i].content = p;
			j->turns[i].len = cm->content.len;
			p += cm->content.len + 1;
		}
		j->n_turns = g->n_messages;
		return 0;
	}
	j->prompt = ORC_JOB_PROMPT_TEXT;
	j->text = dup_str(&g->prompt);
	j->text_len = g->prompt.len;
	return j->text ? 0 : -ENOMEM;
}

static int copy_options(struct orc_job *j, const struct orc_msg_generate *g)
{
	j->sp.has = g->has & 0x1ffu;   /* the sampling bits, ORC_GEN_HAS_TEMPERATURE..SEED */
	j->sp.temperature = g->temperature;
	j->sp.top_k = g->top_k;
	j->sp.top_p = g->top_p;
	j->sp.min_p = g->min_p;
	j->sp.repeat_penalty = g->repeat_penalty;
	j->sp.repeat_last_n = g->repeat_last_n;
	j->sp.presence_penalty = g->presence_penalty;
	j->sp.frequency_penalty = g->frequency_penalty;
	j->sp.seed = g->seed;
	j->max_tokens = g->has & ORC_GEN_HAS_MAX_TOKENS ? g->max_tokens : 0;
	j->logprobs = g->has & ORC_GEN_HAS_LOGPROBS ? (int32_t)g->logprobs : -1;
	j->prompt_logprobs = g->has & ORC_GEN_HAS_PROMPT_LOGPROBS ? (int32_t)g->prompt_logprobs : -1;
	j->add_special = g->add_special;
	j->parse_special = g->parse_special;
	if ((g->has & ORC_GEN_HAS_STOP) && g->stop.n) {
		j->stop = calloc(g->stop.n, sizeof(char *));
		if (!j->stop)
			return -ENOMEM;
		for (uint32_t i = 0; i < g->stop.n; i++) {
			j->stop[i] = dup_str(&g->stop.v[i]);
			if (!j->stop[i])
				return -ENOMEM;
			j->n_stop++;
		}
	}
	return 0;
}

/* A job for this connection and request, with its terminal event. */
struct orc_job *orc_req_new_job(struct orc_conn *c, uint32_t id, enum orc_job_kind kind)
{
	struct orc_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->kind = kind;
	j->conn_id = c->id;
	j->req_id = id;
	j->uid = c->cred.uid;
	j->pid = c->cred.pid;
	j->t_received_us = orc_now_us();
	j->logprobs = j->prompt_logprobs = -1;
	j->term = orc_event_new(ORC_EV_FINAL);
	if (!j->term) {
		free(j);
		return NULL;
	}
	return j;
}

/* Hand a job to the registry; answers the errors itself. */
void orc_req_submit(struct orc_conn *c, uint32_t id, struct orc_reg_model *e, struct orc_job *j)
{
	struct orc_err err = { 0 };
	struct orc_inflight *f = orc_conn_inflight_add(c, id, ORC_INFLIGHT_JOB);
	enum occ_status code;
	int r;

	if (!f) {
		orc_job_free(j);
		orc_conn_error(c, id, OCC_TOO_MANY_REQUESTS, "more than %u requests in flight",
			       ORC_MAX_INFLIGHT_PER_CONN);
		return;
	}
	f->job = j;
	c->srv->metrics.requests_total++;
	r = orc_registry_submit(c->srv->reg, e, j, &err);
	if (r == 0)
		return;   /* the job may already have ended (and been freed) */
	orc_conn_inflight_del(c, id);
	orc_job_free(j);
	switch (r) {
	case -EBUSY: code = OCC_BUSY; c->srv->metrics.requests_busy++; break;
	case -ENOSPC: code = OCC_NO_MEMORY; break;
	case -ESHUTDOWN: code = OCC_SHUTTING_DOWN; break;
	default: code = OCC_INTERNAL; break;
	}
	if (code != OCC_BUSY)
		c->srv->metrics.requests_failed++;
	orc_conn_error(c, id, code, "%s", orc_err_msg(&err));
}

void orc_req_generate(struct orc_conn *c, const struct orc_msg *m)
{
	const struct orc_msg_generate *g = &m->u.generate;
	struct orc_reg_model *e;
	struct orc_job *j;

	if ((g->has & ORC_GEN_HAS_MAX_TOKENS) && g->max_tokens > c->srv->conf.max_tokens) {
		orc_conn_error(c, m->id, OCC_TOO_LARGE, "max_tokens %u is over the limit of %u",
			       g->max_tokens, c->srv->conf.max_tokens);
		return;
	}
	if ((g->has & ORC_GEN_HAS_PROMPT) && g->prompt.len > ORC_PROMPT_BYTES_MAX) {
		orc_conn_error(c, m->id, OCC_TOO_LARGE, "the prompt is over %u bytes",
			       ORC_PROMPT_BYTES_MAX);
		return;
	}
	e = orc_req_model(c, m->id, &g->model);
	if (!e)
		return;
	j = orc_req_new_job(c, m->id, ORC_JOB_GENERATE);
	if (!j || copy_prompt(j, g) < 0 || copy_options(j, g) < 0) {
		orc_job_free(j);
		orc_conn_error(c, m->id, OCC_INTERNAL, "out of memory");
		return;
	}
	orc_req_submit(c, m->id, e, j);
}
