/* occ_calls.c -- libocclient's one-reply requests: tokenize, detokenize,
 * list / load / unload / show models and daemon status, plus the result
 * objects that keep the decoded reply and their accessors. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "occ_internal.h"

struct occ_tokens {
	struct orc_msg m;              /* ORC_MSG_TOKENS */
};

struct occ_model {
	struct orc_msg m;              /* ORC_MSG_MODEL when owned, else empty */
	const struct orc_model_info *info;
};

struct occ_model_list {
	struct occ_model *items;       /* [n] */
	size_t n, cap;
};

struct occ_stats {
	struct orc_msg m;              /* ORC_MSG_STATUS_RESULT */
	struct occ_model *models;      /* [m.u.status.n_models], pointing into m */
};

/* One request waiting for its terminal reply. */
struct call {
	struct occ_pending p;          /* first: the handler gets &call->p */
	uint32_t want;                 /* the terminal reply type */
	struct orc_msg result;
	occ_progress_fn progress;      /* load */
	void *user;
	struct occ_model_list *list;   /* list */
	uint32_t list_count;
};

static bool list_add(struct occ_model_list *l, struct orc_msg *m)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct occ_model *v = realloc(l->items, cap * sizeof(*v));

		if (!v)
			return false;
		l->items = v;
		l->cap = cap;
	}
	occ_msg_move(&l->items[l->n].m, m);
	l->items[l->n].info = &l->items[l->n].m.u.model;
	l->n++;
	return true;
}

static bool call_handle(struct occ_conn *c, struct occ_pending *p, struct orc_msg *m)
{
	struct call *k = (struct call *)p;

	if (m->type == ORC_MSG_ERROR)
		return occ_take_error(c, p, m);
	if (m->type == ORC_MSG_PROGRESS && p->req_type == ORC_MSG_LOAD) {
		if (k->progress)
			k->progress(k->user, m->u.progress.done, m->u.progress.total);
		return false;
	}
	if (m->type == ORC_MSG_MODEL && p->req_type == ORC_MSG_LIST) {
		if (!list_add(k->list, m))
			p->status = occ_fail(c, OCC_ALLOC_FAILED, "out of memory listing models");
		return p->status != OCC_OK;
	}
	if (m->type != k->want)
		return occ_unexpected(c, p, m);
	if (m->type == ORC_MSG_LIST_END && m->u.list_end.count != k->list->n)
		p->status = occ_fail(c, OCC_PROTOCOL, "list ended after %zu models, the daemon says %u",
				     k->list->n, m->u.list_end.count);
	occ_msg_move(&k->result, m);
	return true;
}

/* Send `req` and wait for a `want` reply (moved into k->result on OCC_OK). */
static enum occ_status run(struct occ_conn *c, struct orc_msg *req, struct call *k, uint32_t want)
{
	enum occ_status s;

	k->p.handle = call_handle;
	k->want = want;
	s = occ_call(c, req, &k->p);
	if (s != OCC_OK)
		orc_msg_clear(&k->result);
	return s;
}

/* A model name the daemon would refuse; the detail goes to occ_conn_error(). */
static bool bad_name(struct occ_conn *c, const char *model)
{
	if (model && orc_proto_check_name(model, (uint32_t)strnlen(model, ORC_MODEL_NAME_MAX + 1),
					  ORC_MODEL_NAME_MAX) == 0)
		return false;
	if (c)
		occ_fail(c, OCC_INVALID_ARGUMENT, "invalid model name '%s' (a file stem: 1..%u bytes, "
			 "no '/' or \"..\")", model ? model : "(null)", ORC_MODEL_NAME_MAX);
	return true;
}

/* ---- tokenizer ---- */
enum occ_status occ_tokenize(occ_conn *c, const char *model, const char *text, size_t len,
			     unsigned flags, occ_tokens **ret)
{
	struct call k = { 0 };
	struct orc_msg m;
	struct occ_tokens *t;
	enum occ_status s;

	*ret = NULL;
	if (!c || bad_name(c, model) || (!text && len) || len > ORC_PROMPT_BYTES_MAX)
		return OCC_INVALID_ARGUMENT;
	orc_msg_init(&m, ORC_MSG_TOKENIZE, 0);
	m.u.tokenize.model = occ_str(model);
	m.u.tokenize.text = (struct orc_str){ text ? text : "", (uint32_t)len };
	m.u.tokenize.add_special = flags & OCC_TOK_ADD_SPECIAL;
	m.u.tokenize.parse_special = flags & OCC_TOK_PARSE_SPECIAL;
	m.u.tokenize.pieces = flags & OCC_TOK_PIECES;
	if ((s = run(c, &m, &k, ORC_MSG_TOKENS)) != OCC_OK)
		return s;
	if (!(t = calloc(1, sizeof(*t)))) {
		orc_msg_clear(&k.result);
		return OCC_ALLOC_FAILED;
	}
	occ_msg_move(&t->m, &k.result);
	*ret = t;
	return OCC_OK;
}

size_t occ_tokens_count(const occ_tokens *t) { return t ? t->m.u.tokens.ids.n : 0; }
const int32_t *occ_tokens_ids(const occ_tokens *t) { return t ? t->m.u.tokens.ids.v : NULL; }

const char *occ_tokens_piece(const occ_tokens *t, size_t i, size_t *ret_len)
{
	if (!t || !(t->m.u.tokens.has & ORC_TOKENS_HAS_PIECES) || i >= t->m.u.tokens.pieces.n)
		return NULL;
	if (ret_len)
		*ret_len = t->m.u.tokens.pieces.v[i].len;
	return t->m.u.tokens.pieces.v[i].s;
}

void occ_tokens_free(occ_tokens *t)
{
	if (!t)
		return;
	orc_msg_clear(&t->m);
	free(t);
}

enum occ_status occ_detokenize(occ_conn *c, const char *model, const int32_t *ids, size_t n,
			       unsigned flags, char **ret_text, size_t *ret_len)
{
	struct call k = { 0 };
	struct orc_msg m;
	enum occ_status s;
	char *text;

	*ret_text = NULL;
	if (!c || bad_name(c, model) || (!ids && n) || n > ORC_PROMPT_TOKENS_MAX)
		return OCC_INVALID_ARGUMENT;
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0)
			return OCC_INVALID_ARGUMENT;
	orc_msg_init(&m, ORC_MSG_DETOKENIZE, 0);
	m.u.detokenize.model = occ_str(model);
	m.u.detokenize.ids = (struct orc_ids){ (int32_t *)ids, (uint32_t)n };
	m.u.detokenize.skip_special = flags & OCC_DETOK_SKIP_SPECIAL;
	if ((s = run(c, &m, &k, ORC_MSG_TEXT)) != OCC_OK)
		return s;
	text = malloc((size_t)k.result.u.text.text.len + 1);
	if (text)
		memcpy(text, k.result.u.text.text.s, (size_t)k.result.u.text.text.len + 1);
	if (ret_len)
		*ret_len = k.result.u.text.text.len;
	orc_msg_clear(&k.result);
	if (!text)
		return OCC_ALLOC_FAILED;
	*ret_text = text;
	return OCC_OK;
}

/* ---- models ---- */
const char *occ_model_name(const occ_model *m) { return m ? m->info->name.s : ""; }
const char *occ_model_arch(const occ_model *m) { return m ? m->info->arch.s : ""; }
const char *occ_model_quant(const occ_model *m) { return m ? m->info->quant.s : ""; }
const char *occ_model_chat_format(const occ_model *m) { return m ? m->info->chat_format.s : ""; }
int64_t occ_model_keep_alive(const occ_model *m) { return m ? m->info->keep_alive : 0; }

uint64_t occ_model_get(const occ_model *m, enum occ_model_field f)
{
	const struct orc_model_info *i;

	if (!m)
		return 0;
	i = m->info;
	switch (f) {
	case OCC_MODEL_SIZE: return i->size;
	case OCC_MODEL_MEM: return i->mem;
	case OCC_MODEL_N_PARAMS: return i->n_params;
	case OCC_MODEL_N_CTX_TRAIN: return i->n_ctx_train;
	case OCC_MODEL_N_CTX: return i->n_ctx;
	case OCC_MODEL_N_VOCAB: return i->n_vocab;
	case OCC_MODEL_N_LAYER: return i->n_layer;
	case OCC_MODEL_N_EMBD: return i->n_embd;
	case OCC_MODEL_N_HEAD: return i->n_head;
	case OCC_MODEL_N_HEAD_KV: return i->n_head_kv;
	case OCC_MODEL_RESIDENT: return i->resident;
	case OCC_MODEL_PINNED: return i->pinned;
	case OCC_MODEL_ACTIVE: return i->active;
	case OCC_MODEL_QUEUED: return i->queued;
	case OCC_MODEL_OLDEST_WAIT_US: return i->oldest_wait_us;
	}
	return 0;
}

void occ_model_free(occ_model *m)
{
	if (!m)
		return;
	orc_msg_clear(&m->m);
	free(m);
}

/* Wrap a MODEL reply as an owned occ_model. */
static enum occ_status own_model(struct call *k, occ_model **ret)
{
	struct occ_model *m = calloc(1, sizeof(*m));

	if (!m) {
		orc_msg_clear(&k->result);
		return OCC_ALLOC_FAILED;
	}
	occ_msg_move(&m->m, &k->result);
	m->info = &m->m.u.model;
	*ret = m;
	return OCC_OK;
}

enum occ_status occ_models(occ_conn *c, occ_model_list **ret)
{
	struct occ_model_list *l;
	struct call k = { 0 };
	struct orc_msg m;
	enum occ_status s;

	*ret = NULL;
	if (!c)
		return OCC_INVALID_ARGUMENT;
	if (!(l = calloc(1, sizeof(*l))))
		return OCC_ALLOC_FAILED;
	orc_msg_init(&m, ORC_MSG_LIST, 0);
	k.list = l;
	if ((s = run(c, &m, &k, ORC_MSG_LIST_END)) != OCC_OK) {
		occ_model_list_free(l);
		return s;
	}
	orc_msg_clear(&k.result);
	/* items moved: their info pointers still point into their own msg */
	for (size_t i = 0; i < l->n; i++)
		l->items[i].info = &l->items[i].m.u.model;
	*ret = l;
	return OCC_OK;
}

size_t occ_model_list_count(const occ_model_list *l) { return l ? l->n : 0; }

const occ_model *occ_model_list_get(const occ_model_list *l, size_t i)
{
	return l && i < l->n ? &l->items[i] : NULL;
}

void occ_model_list_free(occ_model_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		orc_msg_clear(&l->items[i].m);
	free(l->items);
	free(l);
}

enum occ_status occ_load(occ_conn *c, const char *model, int64_t keep_alive_s,
			 occ_progress_fn fn, void *user, occ_model **ret)
{
	struct call k = { .progress = fn, .user = user };
	struct orc_msg m;
	enum occ_status s;

	if (ret)
		*ret = NULL;
	if (!c || bad_name(c, model) || (keep_alive_s != OCC_KEEP_ALIVE_DEFAULT && keep_alive_s < -1))
		return OCC_INVALID_ARGUMENT;
	orc_msg_init(&m, ORC_MSG_LOAD, 0);
	m.u.load.model = occ_str(model);
	if (keep_alive_s != OCC_KEEP_ALIVE_DEFAULT) {
		m.u.load.keep_alive = keep_alive_s;
		m.u.load.has = ORC_LOAD_HAS_KEEP_ALIVE;
	}
	if ((s = run(c, &m, &k, ORC_MSG_MODEL)) != OCC_OK)
		return s;
	if (!ret) {
		orc_msg_clear(&k.result);
		return OCC_OK;
	}
	return own_model(&k, ret);
}

enum occ_status occ_unload(occ_conn *c, const char *model)
{
	struct call k = { 0 };
	struct orc_msg m;
	enum occ_status s;

	if (!c || bad_name(c, model))
		return OCC_INVALID_ARGUMENT;
	orc_msg_init(&m, ORC_MSG_UNLOAD, 0);
	m.u.unload.model = occ_str(model);
	s = run(c, &m, &k, ORC_MSG_DONE);
	orc_msg_clear(&k.result);
	return s;
}

enum occ_status occ_show(occ_conn *c, const char *model, occ_model **ret)
{
	struct call k = { 0 };
	struct orc_msg m;
	enum occ_status s;

	*ret = NULL;
	if (!c || bad_name(c, model))
		return OCC_INVALID_ARGUMENT;
	orc_msg_init(&m, ORC_MSG_SHOW, 0);
	m.u.show.model = occ_str(model);
	if ((s = run(c, &m, &k, ORC_MSG_MODEL)) != OCC_OK)
		return s;
	return own_model(&k, ret);
}

/* ---- status ---- */
enum occ_status occ_server_status(occ_conn *c, occ_stats **ret)
{
	struct call k = { 0 };
	struct orc_msg m;
	struct occ_stats *st;
	enum occ_status s;
	uint32_t n;

	*ret = NULL;
	if (!c)
		return OCC_INVALID_ARGUMENT;
	orc_msg_init(&m, ORC_MSG_STATUS, 0);
	if ((s = run(c, &m, &k, ORC_MSG_STATUS_RESULT)) != OCC_OK)
		return s;
	n = k.result.u.status.n_models;
	if (!(st = calloc(1, sizeof(*st))) || (n && !(st->models = calloc(n, sizeof(*st->models))))) {
		free(st);
		orc_msg_clear(&k.result);
		return OCC_ALLOC_FAILED;
	}
	occ_msg_move(&st->m, &k.result);
	for (uint32_t i = 0; i < n; i++)
		st->models[i].info = &st->m.u.status.models[i];
	*ret = st;
	return OCC_OK;
}

const char *occ_stats_server(const occ_stats *s) { return s ? s->m.u.status.server.s : ""; }
const char *occ_stats_backend(const occ_stats *s) { return s ? s->m.u.status.backend.s : ""; }
const char *occ_stats_gpu(const occ_stats *s) { return s ? s->m.u.status.gpu.s : ""; }
size_t occ_stats_n_counters(const occ_stats *s) { return s ? s->m.u.status.n_counters : 0; }
size_t occ_stats_n_models(const occ_stats *s) { return s ? s->m.u.status.n_models : 0; }

bool occ_stats_counter_at(const occ_stats *s, size_t i, const char **ret_name, uint64_t *ret)
{
	if (!s || i >= s->m.u.status.n_counters)
		return false;
	*ret_name = s->m.u.status.counters[i].name.s;
	*ret = s->m.u.status.counters[i].value;
	return true;
}

bool occ_stats_counter(const occ_stats *s, const char *name, uint64_t *ret)
{
	for (size_t i = 0; s && name && i < s->m.u.status.n_counters; i++) {
		if (strcmp(s->m.u.status.counters[i].name.s, name) == 0) {
			*ret = s->m.u.status.counters[i].value;
			return true;
		}
	}
	return false;
}

const occ_model *occ_stats_model(const occ_stats *s, size_t i)
{
	return s && i < s->m.u.status.n_models ? &s->models[i] : NULL;
}

void occ_stats_free(occ_stats *s)
{
	if (!s)
		return;
	orc_msg_clear(&s->m);
	free(s->models);
	free(s);
}
