/* deliver.c -- worker events and late replies turned into protocol
 * messages for the client that asked (see deliver.h). Counters and
 * latency samples are taken here, where each event passes once. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "deliver.h"
#include "job.h"
#include "log.h"
#include "proto.h"
#include "registry.h"
#include "server.h"

/* The connection and in-flight entry of a request, or NULL when either is gone. */
static struct orc_conn *reach(struct orc_server *s, uint64_t conn_id, uint32_t req_id,
			      struct orc_inflight **ret)
{
	struct orc_conn *c = orc_server_conn(s, conn_id);
	struct orc_inflight *f;

	if (!c || c->dead || c->closing)
		return NULL;
	f = orc_conn_inflight(c, req_id);
	if (!f)
		return NULL;
	if (ret)
		*ret = f;
	return c;
}

static void send_error(struct orc_conn *c, uint32_t id, enum occ_status code, const char *msg)
{
	orc_conn_inflight_del(c, id);
	orc_conn_error(c, id, code, "%s", msg);
}

/* ---- jobs ---- */

static void send_final(struct orc_server *s, struct orc_job *j, const struct orc_event *e)
{
	struct orc_conn *c = reach(s, j->conn_id, j->req_id, NULL);
	struct orc_msg m;

	if (e->u.final.stop == ORC_WIRE_STOP_CANCEL || e->u.final.stop == ORC_WIRE_STOP_SHUTDOWN)
		s->metrics.requests_canceled++;
	s->metrics.tokens_in += e->u.final.prompt_tokens;
	s->metrics.tokens_out += e->u.final.gen_tokens;
	s->metrics.tokens_cached += e->u.final.cached_tokens;
	if (e->u.final.cached_tokens)
		s->metrics.cache_hits++;
	if (e->u.final.ttft_us)
		orc_lat_add(&s->metrics.ttft, e->u.final.ttft_us);
	if (!c)
		return;
	orc_msg_init(&m, ORC_MSG_FINAL, j->req_id);
	m.u.final.stop = e->u.final.stop;
	m.u.final.text = (struct orc_str){ e->text ? e->text : "", (uint32_t)e->text_len };
	m.u.final.prompt_tokens = e->u.final.prompt_tokens;
	m.u.final.cached_tokens = e->u.final.cached_tokens;
	m.u.final.gen_tokens = e->u.final.gen_tokens;
	m.u.final.queue_us = e->u.final.queue_us;
	m.u.final.prompt_us = e->u.final.prompt_us;
	m.u.final.gen_us = e->u.final.gen_us;
	m.u.final.ttft_us = e->u.final.ttft_us;
	orc_conn_inflight_del(c, j->req_id);
	orc_conn_send(c, &m);
	log_info("conn %u request %u: %s after %u+%u tokens", ORC_CONN_NUM(c), j->req_id,
		 orc_wire_stop_name(e->u.final.stop), e->u.final.prompt_tokens, e->u.final.gen_tokens);
}

static void send_token(struct orc_server *s, struct orc_job *j, const struct orc_event *e)
{
	struct orc_inflight *f;
	struct orc_conn *c = reach(s, j->conn_id, j->req_id, &f);
	struct orc_top top[ORC_LOGPROBS_TOP_MAX];
	uint64_t now = orc_now_us();
	struct orc_msg m;

	if (j->last_token_us)
		orc_lat_add(&s->metrics.itl, now - j->last_token_us);
	j->last_token_us = now;
	if (!c)
		return;
	orc_msg_init(&m, ORC_MSG_TOKEN, j->req_id);
	m.u.token.text = (struct orc_str){ e->text ? e->text : "", (uint32_t)e->text_len };
	m.u.token.token = e->u.token.token;
	if (e->u.token.has_logprob) {
		m.u.token.has |= ORC_TOKEN_HAS_LOGPROB;
		m.u.token.logprob = e->u.token.logprob;
	}
	if (e->n_top) {
		uint32_t n = e->n_top < ORC_LOGPROBS_TOP_MAX ? e->n_top : ORC_LOGPROBS_TOP_MAX;

		for (uint32_t i = 0; i < n; i++) {
			top[i].token = e->top[i].token;
			top[i].logprob = e->top[i].logprob;
		}
		m.u.token.has |= ORC_TOKEN_HAS_TOP;
		m.u.token.top = top;
		m.u.token.n_top = n;
	}
	orc_conn_send(c, &m);
}

static void send_prompt_logprobs(struct orc_server *s, struct orc_job *j, const struct orc_event *e)
{
	struct orc_conn *c = reach(s, j->conn_id, j->req_id, NULL);
	struct orc_wire_logprob *lp;
	struct orc_top *tops;
	struct orc_msg m;
	uint32_t per = e->n_plp ? e->plp[0].n_top : 0;

	if (!c)
		return;
	for (uint32_t off = 0; off < e->n_plp && !c->dead; off += ORC_PROMPT_LOGPROBS_CHUNK) {
		uint32_t n = e->n_plp - off < ORC_PROMPT_LOGPROBS_CHUNK ? e->n_plp - off
									  : ORC_PROMPT_LOGPROBS_CHUNK;

		lp = calloc(n, sizeof(*lp));
		tops = calloc((size_t)n * (per ? per : 1), sizeof(*tops));
		if (!lp || !tops) {
			free(lp);
			free(tops);
			return;
		}
		for (uint32_t i = 0; i < n; i++) {
			const struct orc_ev_plp *p = &e->plp[off + i];

			lp[i].token = p->token;
			lp[i].logprob = p->logprob;
			lp[i].top = tops + (size_t)i * per;
			lp[i].n_top = p->n_top < per ? p->n_top : per;
			for (uint32_t k = 0; k < lp[i].n_top; k++) {
				lp[i].top[k].token = p->top[k].token;
				lp[i].top[k].logprob = p->top[k].logprob;
			}
		}
		orc_msg_init(&m, ORC_MSG_PROMPT_LOGPROBS, j->req_id);
		m.u.prompt_logprobs.offset = e->u.plp.offset + off;
		m.u.prompt_logprobs.entries = lp;
		m.u.prompt_logprobs.n = n;
		orc_conn_send(c, &m);
		free(lp);
		free(tops);
	}
}

static void send_tokens(struct orc_server *s, struct orc_job *j, const struct orc_event *e)
{
	struct orc_conn *c = reach(s, j->conn_id, j->req_id, NULL);
	struct orc_str *pieces = NULL;
	struct orc_msg m;

	if (!c)
		return;
	orc_msg_init(&m, ORC_MSG_TOKENS, j->req_id);
	m.u.tokens.ids = (struct orc_ids){ e->ids, e->n_ids };
	if (e->pieces) {
		pieces = calloc(e->n_ids ? e->n_ids : 1, sizeof(*pieces));
		if (!pieces) {
			send_error(c, j->req_id, OCC_INTERNAL, "out of memory");
			return;
		}
		for (uint32_t i = 0; i < e->n_ids; i++)
			pieces[i] = (struct orc_str){ e->pieces[i] ? e->pieces[i] : "", e->piece_lens[i] };
		m.u.tokens.has |= ORC_TOKENS_HAS_PIECES;
		m.u.tokens.pieces = (struct orc_strs){ pieces, e->n_ids };
	}
	orc_conn_inflight_del(c, j->req_id);
	orc_conn_send(c, &m);
	free(pieces);
}

static void send_text(struct orc_server *s, struct orc_job *j, const struct orc_event *e)
{
	struct orc_conn *c = reach(s, j->conn_id, j->req_id, NULL);
	struct orc_msg m;

	if (!c)
		return;
	orc_msg_init(&m, ORC_MSG_TEXT, j->req_id);
	m.u.text.text = (struct orc_str){ e->text ? e->text : "", (uint32_t)e->text_len };
	orc_conn_inflight_del(c, j->req_id);
	orc_conn_send(c, &m);
}

static void handle_job_event(struct orc_server *s, struct orc_event *e)
{
	struct orc_job *j = e->job;
	struct orc_conn *c;

	switch (e->type) {
	case ORC_EV_TOKEN:
		send_token(s, j, e);
		return;
	case ORC_EV_PROMPT_LOGPROBS:
		send_prompt_logprobs(s, j, e);
		return;
	case ORC_EV_FINAL:
		send_final(s, j, e);
		break;
	case ORC_EV_ERROR:
		s->metrics.requests_failed++;
		c = reach(s, j->conn_id, j->req_id, NULL);
		if (c)
			send_error(c, j->req_id, e->u.error.code, e->u.error.msg);
		break;
	case ORC_EV_TOKENS:
		send_tokens(s, j, e);
		break;
	case ORC_EV_TEXT:
		send_text(s, j, e);
		break;
	default:
		return;
	}
	orc_registry_job_done(s->reg, j);   /* terminal: the job is freed */
}

void orc_deliver_events(struct orc_server *s)
{
	struct orc_event *e = orc_evq_take(&s->evq), *next;

	for (; e; e = next) {
		next = e->next;
		if (e->job)
			handle_job_event(s, e);
		else if (e->entry)
			orc_registry_on_event(s->reg, e);
		orc_event_free(e);
	}
}

/* ---- replies from the registry ---- */

void orc_deliver_job_end(struct orc_server *s, struct orc_job *j, uint32_t stop)
{
	struct orc_event e;

	memset(&e, 0, sizeof(e));
	e.type = ORC_EV_FINAL;
	e.u.final.stop = stop;
	e.u.final.queue_us = orc_now_us() - j->t_received_us;
	send_final(s, j, &e);
}

void orc_deliver_job_error(struct orc_server *s, struct orc_job *j, enum occ_status code,
			   const char *fmt, ...)
{
	struct orc_conn *c = reach(s, j->conn_id, j->req_id, NULL);
	char msg[ORC_ERR_MSG_MAX];
	va_list ap;

	s->metrics.requests_failed++;
	if (!c)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_error(c, j->req_id, code, msg);
}

void orc_deliver_progress(struct orc_server *s, uint64_t conn_id, uint32_t req_id,
			  uint64_t done, uint64_t total)
{
	struct orc_conn *c = reach(s, conn_id, req_id, NULL);
	struct orc_msg m;

	if (!c)
		return;
	orc_msg_init(&m, ORC_MSG_PROGRESS, req_id);
	m.u.progress.done = done;
	m.u.progress.total = total;
	orc_conn_send(c, &m);
}

void orc_deliver_model(struct orc_server *s, uint64_t conn_id, uint32_t req_id,
		       struct orc_reg_model *e)
{
	struct orc_conn *c = reach(s, conn_id, req_id, NULL);
	struct orc_msg m;

	if (!c)
		return;
	orc_msg_init(&m, ORC_MSG_MODEL, req_id);
	orc_registry_info(s->reg, e, &m.u.model);
	orc_conn_inflight_del(c, req_id);
	orc_conn_send(c, &m);
}

void orc_deliver_done(struct orc_server *s, uint64_t conn_id, uint32_t req_id)
{
	struct orc_conn *c = reach(s, conn_id, req_id, NULL);
	struct orc_msg m;

	if (!c)
		return;
	orc_msg_init(&m, ORC_MSG_DONE, req_id);
	orc_conn_inflight_del(c, req_id);
	orc_conn_send(c, &m);
}

void orc_deliver_error(struct orc_server *s, uint64_t conn_id, uint32_t req_id,
		       enum occ_status code, const char *fmt, ...)
{
	struct orc_conn *c = reach(s, conn_id, req_id, NULL);
	char msg[ORC_ERR_MSG_MAX];
	va_list ap;

	if (!c)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	send_error(c, req_id, code, msg);
}
