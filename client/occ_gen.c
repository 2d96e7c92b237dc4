/* occ_gen.c -- generation in libocclient: the request builder, starting a
 * generation, collecting its token / prompt_logprobs / final events, the
 * iterator and callback styles, cancel, and the result accessors. */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "occ_internal.h"

/* ---- the request ---- */
struct occ_gen_req {
	struct orc_msg_generate g;     /* sampling options and `has`; strings below */
	char *model;
	char *prompt;
	size_t prompt_len;
	int32_t *ids;                  /* [n_ids] */
	size_t n_ids;
	struct orc_chat_msg *chat;     /* [n_chat]; contents point into chat_text */
	char **chat_text;
	size_t n_chat;
	struct orc_str stop[ORC_STOP_STRINGS_MAX];
	char *stop_text[ORC_STOP_STRINGS_MAX];
	size_t n_stop;
};

static char *dup_bytes(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		if (n)
			memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

occ_gen_req *occ_gen_req_new(const char *model)
{
	struct occ_gen_req *r;

	if (!model || orc_proto_check_name(model, (uint32_t)strnlen(model, ORC_MODEL_NAME_MAX + 1),
					   ORC_MODEL_NAME_MAX) < 0)
		return NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return NULL;
	if (!(r->model = strdup(model))) {
		free(r);
		return NULL;
	}
	r->g.add_special = true;
	return r;
}

static void clear_prompt(struct occ_gen_req *r)
{
	free(r->prompt);
	r->prompt = NULL;
	r->prompt_len = 0;
	free(r->ids);
	r->ids = NULL;
	r->n_ids = 0;
	for (size_t i = 0; i < r->n_chat; i++)
		free(r->chat_text[i]);
	free(r->chat);
	free(r->chat_text);
	r->chat = NULL;
	r->chat_text = NULL;
	r->n_chat = 0;
	r->g.has &= ~(ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_PROMPT_IDS | ORC_GEN_HAS_MESSAGES);
}

void occ_gen_req_free(occ_gen_req *r)
{
	if (!r)
		return;
	clear_prompt(r);
	for (size_t i = 0; i < r->n_stop; i++)
		free(r->stop_text[i]);
	free(r->model);
	free(r);
}

enum occ_status occ_gen_req_prompt(occ_gen_req *r, const char *text, size_t len)
{
	char *p;

	if (!r || (!text && len) || len > ORC_PROMPT_BYTES_MAX)
		return OCC_INVALID_ARGUMENT;
	if (!(p = dup_bytes(text ? text : "", len)))
		return OCC_ALLOC_FAILED;
	clear_prompt(r);
	r->prompt = p;
	r->prompt_len = len;
	r->g.has |= ORC_GEN_HAS_PROMPT;
	return OCC_OK;
}

enum occ_status occ_gen_req_prompt_ids(occ_gen_req *r, const int32_t *ids, size_t n)
{
	int32_t *v;

	if (!r || (!ids && n) || n > ORC_PROMPT_TOKENS_MAX)
		return OCC_INVALID_ARGUMENT;
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0)
			return OCC_INVALID_ARGUMENT;
	if (!(v = malloc((n ? n : 1) * sizeof(*v))))
		return OCC_ALLOC_FAILED;
	if (n)
		memcpy(v, ids, n * sizeof(*v));
	clear_prompt(r);
	r->ids = v;
	r->n_ids = n;
	r->g.has |= ORC_GEN_HAS_PROMPT_IDS;
	return OCC_OK;
}

static int role_of(const char *name)
{
	for (uint32_t r = ORC_ROLE_SYSTEM; r <= ORC_ROLE_ASSISTANT; r++)
		if (strcmp(orc_role_name(r), name) == 0)
			return (int)r;
	return -1;
}

enum occ_status occ_gen_req_add_message(occ_gen_req *r, const char *role, const char *content)
{
	struct orc_chat_msg *chat;
	char **texts, *t;
	int rl;

	if (!r || !role || !content || (rl = role_of(role)) < 0 ||
	    strlen(content) > ORC_PROMPT_BYTES_MAX || r->n_chat >= ORC_CHAT_MESSAGES_MAX)
		return OCC_INVALID_ARGUMENT;
	if (!(r->g.has & ORC_GEN_HAS_MESSAGES))
		clear_prompt(r);
	if (!(t = strdup(content)))
		return OCC_ALLOC_FAILED;
	chat = realloc(r->chat, (r->n_chat + 1) * sizeof(*chat));
	if (chat)
		r->chat = chat;
	texts = chat ? realloc(r->chat_text, (r->n_chat + 1) * sizeof(*texts)) : NULL;
	if (!texts) {
		free(t);
		return OCC_ALLOC_FAILED;
	}
	r->chat_text = texts;
	r->chat_text[r->n_chat] = t;
	r->chat[r->n_chat] = (struct orc_chat_msg){ (uint32_t)rl, occ_str(t) };
	r->n_chat++;
	r->g.has |= ORC_GEN_HAS_MESSAGES;
	return OCC_OK;
}

static bool finite_in(float v, float lo, float hi) { return isfinite(v) && v >= lo && v <= hi; }

#define SETTER(name, type, field, bit, ok)                                  \
	enum occ_status occ_gen_req_##name(occ_gen_req *r, type v)         \
	{                                                                   \
		if (!r || !(ok))                                            \
			return OCC_INVALID_ARGUMENT;                        \
		r->g.field = v;                                             \
		r->g.has |= (bit);                                          \
		return OCC_OK;                                              \
	}

SETTER(temperature, float, temperature, ORC_GEN_HAS_TEMPERATURE, finite_in(v, 0, FLT_MAX))
SETTER(top_k, int32_t, top_k, ORC_GEN_HAS_TOP_K, v >= 0)
SETTER(top_p, float, top_p, ORC_GEN_HAS_TOP_P, finite_in(v, 0, 1))
SETTER(min_p, float, min_p, ORC_GEN_HAS_MIN_P, finite_in(v, 0, 1))
SETTER(repeat_penalty, float, repeat_penalty, ORC_GEN_HAS_REPEAT_PENALTY,
       finite_in(v, 0, FLT_MAX) && v > 0)
SETTER(repeat_last_n, int32_t, repeat_last_n, ORC_GEN_HAS_REPEAT_LAST_N, v >= -1 && v <= ORC_CTX_MAX)
SETTER(presence_penalty, float, presence_penalty, ORC_GEN_HAS_PRESENCE_PENALTY,
       finite_in(v, -FLT_MAX, FLT_MAX))
SETTER(frequency_penalty, float, frequency_penalty, ORC_GEN_HAS_FREQUENCY_PENALTY,
       finite_in(v, -FLT_MAX, FLT_MAX))
SETTER(seed, uint64_t, seed, ORC_GEN_HAS_SEED, true)
SETTER(max_tokens, uint32_t, max_tokens, ORC_GEN_HAS_MAX_TOKENS, v >= 1 && v <= ORC_MAX_TOKENS_CAP)
SETTER(logprobs, uint32_t, logprobs, ORC_GEN_HAS_LOGPROBS, v <= ORC_LOGPROBS_TOP_MAX)
SETTER(prompt_logprobs, uint32_t, prompt_logprobs, ORC_GEN_HAS_PROMPT_LOGPROBS,
       v <= ORC_LOGPROBS_TOP_MAX)
SETTER(parse_special, bool, parse_special, 0, true)
SETTER(add_special, bool, add_special, 0, true)

enum occ_status occ_gen_req_add_stop(occ_gen_req *r, const char *stop)
{
	size_t n;
	char *t;

	if (!r || !stop || (n = strlen(stop)) == 0 || n > ORC_STOP_STRING_LEN_MAX ||
	    r->n_stop >= ORC_STOP_STRINGS_MAX)
		return OCC_INVALID_ARGUMENT;
	if (!(t = strdup(stop)))
		return OCC_ALLOC_FAILED;
	r->stop_text[r->n_stop] = t;
	r->stop[r->n_stop] = occ_str(t);
	r->n_stop++;
	r->g.has |= ORC_GEN_HAS_STOP;
	return OCC_OK;
}

/* The wire message for r (strings borrowed from r). */
static void build(const struct occ_gen_req *r, struct orc_msg *m, uint32_t id)
{
	orc_msg_init(m, ORC_MSG_GENERATE, id);
	m->u.generate = r->g;
	m->u.generate.model = occ_str(r->model);
	m->u.generate.prompt = (struct orc_str){ r->prompt, (uint32_t)r->prompt_len };
	m->u.generate.prompt_ids = (struct orc_ids){ r->ids, (uint32_t)r->n_ids };
	m->u.generate.messages = r->chat;
	m->u.generate.n_messages = (uint32_t)r->n_chat;
	m->u.generate.stop = (struct orc_strs){ (struct orc_str *)r->stop, (uint32_t)r->n_stop };
}

/* ---- a generation in flight ---- */
struct occ_token {
	const struct occ_gen *g;
	size_t text_off, text_len;
	int32_t id;                    /* -1: no entry (prompt logprobs) */
	bool has_lp;
	float lp;
	size_t top_off;                /* into g->tops */
	uint32_t n_top;
};

struct occ_gen {
	struct occ_pending p;          /* first: the handler gets &g->p */
	struct occ_conn *conn;         /* NULL once the connection is closed */
	char *text;                    /* [text_len + 1], NUL-terminated */
	size_t text_len, text_cap;
	struct occ_token *toks;        /* [n_toks] */
	size_t n_toks, cap_toks, cursor;
	struct orc_top *tops;          /* [n_tops], shared by tokens and prompt logprobs */
	size_t n_tops, cap_tops;
	struct occ_token *plp;         /* [n_plp] by prompt position */
	size_t n_plp;
	struct orc_msg_final fin;
	bool finished, cancel_sent;
};

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t c = *cap ? *cap : 16;
	void *n;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	if (!(n = realloc(*p, c * elem)))
		return false;
	*p = n;
	*cap = c;
	return true;
}

static bool add_text(struct occ_gen *g, const struct orc_str *s, size_t *ret_off)
{
	if (!grow((void **)&g->text, &g->text_cap, g->text_len + s->len + 1, 1))
		return false;
	memcpy(g->text + g->text_len, s->s, s->len);
	*ret_off = g->text_len;
	g->text_len += s->len;
	g->text[g->text_len] = '\0';
	return true;
}

static bool add_tops(struct occ_gen *g, const struct orc_top *t, uint32_t n, size_t *ret_off)
{
	if (!grow((void **)&g->tops, &g->cap_tops, g->n_tops + n, sizeof(*t)))
		return false;
	if (n)
		memcpy(g->tops + g->n_tops, t, n * sizeof(*t));
	*ret_off = g->n_tops;
	g->n_tops += n;
	return true;
}

static bool on_token(struct occ_gen *g, const struct orc_msg_token *t)
{
	struct occ_token k = { .g = g, .id = t->token, .text_len = t->text.len };

	if (!grow((void **)&g->toks, &g->cap_toks, g->n_toks + 1, sizeof(k)) ||
	    !add_text(g, &t->text, &k.text_off) || !add_tops(g, t->top, t->n_top, &k.top_off))
		return false;
	k.has_lp = t->has & ORC_TOKEN_HAS_LOGPROB;
	k.lp = t->logprob;
	k.n_top = t->n_top;
	g->toks[g->n_toks++] = k;
	return true;
}

static bool on_prompt_logprobs(struct occ_gen *g, const struct orc_msg_prompt_logprobs *pl)
{
	size_t end = (size_t)pl->offset + pl->n;

	if (end > g->n_plp) {
		struct occ_token *v = realloc(g->plp, end * sizeof(*v));

		if (!v)
			return false;
		for (size_t i = g->n_plp; i < end; i++)
			v[i] = (struct occ_token){ .g = g, .id = -1 };
		g->plp = v;
		g->n_plp = end;
	}
	for (uint32_t i = 0; i < pl->n; i++) {
		const struct orc_wire_logprob *e = &pl->entries[i];
		struct occ_token *k = &g->plp[pl->offset + i];

		*k = (struct occ_token){ .g = g, .id = e->token, .has_lp = true, .lp = e->logprob,
					 .n_top = e->n_top };
		if (!add_tops(g, e->top, e->n_top, &k->top_off))
			return false;
	}
	return true;
}

static bool gen_handle(struct occ_conn *c, struct occ_pending *p, struct orc_msg *m)
{
	struct occ_gen *g = (struct occ_gen *)p;
	size_t off;
	bool ok = true;

	switch (m->type) {
	case ORC_MSG_TOKEN:
		ok = on_token(g, &m->u.token);
		break;
	case ORC_MSG_PROMPT_LOGPROBS:
		ok = on_prompt_logprobs(g, &m->u.prompt_logprobs);
		break;
	case ORC_MSG_FINAL:
		g->fin = m->u.final;
		g->fin.text = (struct orc_str){ NULL, 0 };
		g->finished = true;
		if (!add_text(g, &m->u.final.text, &off))
			break;
		return true;
	case ORC_MSG_ERROR:
		return occ_take_error(c, p, m);
	default:
		return occ_unexpected(c, p, m);
	}
	if (ok && !g->finished)
		return false;
	/* out of memory: stop the generation and fail it */
	p->status = occ_fail(c, OCC_ALLOC_FAILED, "out of memory storing generation %u", p->id);
	return true;
}

bool occ_pending_is_gen(const struct occ_pending *p) { return p->handle == gen_handle; }

void occ_gen_detach(struct occ_pending *p)
{
	struct occ_gen *g = (struct occ_gen *)p;

	g->conn = NULL;
	if (!p->done) {
		p->done = true;
		p->status = OCC_DISCONNECTED;
	}
}

enum occ_status occ_gen_start(occ_conn *c, const occ_gen_req *r, occ_gen **ret)
{
	struct occ_gen *g;
	struct orc_msg m;
	enum occ_status s;

	*ret = NULL;
	if (!c || !r)
		return OCC_INVALID_ARGUMENT;
	if (!(r->g.has & (ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_PROMPT_IDS | ORC_GEN_HAS_MESSAGES)))
		return occ_fail(c, OCC_INVALID_ARGUMENT, "the request has no prompt");
	if (!(g = calloc(1, sizeof(*g))))
		return OCC_ALLOC_FAILED;
	g->conn = c;
	g->p.id = occ_next_id(c);
	g->p.req_type = ORC_MSG_GENERATE;
	g->p.handle = gen_handle;
	build(r, &m, g->p.id);
	occ_pending_add(c, &g->p);
	if ((s = occ_send(c, &m)) != OCC_OK) {
		occ_pending_remove(c, &g->p);
		free(g);
		return s;
	}
	*ret = g;
	return OCC_OK;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum occ_status occ_gen_next(occ_gen *g, int timeout_ms, const occ_token **ret_tok)
{
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	enum occ_status s;

	*ret_tok = NULL;
	if (!g)
		return OCC_INVALID_ARGUMENT;
	for (;;) {
		int wait = timeout_ms;

		if (g->cursor < g->n_toks) {
			*ret_tok = &g->toks[g->cursor++];
			return OCC_OK;
		}
		if (g->p.done)
			return g->p.status;
		if (!g->conn)
			return OCC_DISCONNECTED;
		if (timeout_ms > 0 && (wait = (int)(deadline - now_ms())) < 0)
			wait = 0;
		s = occ_pump(g->conn, wait);
		if (s == OCC_TIMEOUT && g->cursor == g->n_toks && !g->p.done)
			return OCC_TIMEOUT;
		if (s != OCC_OK && s != OCC_TIMEOUT && !g->p.done) {
			g->p.done = true;
			g->p.status = s;
		}
	}
}

enum occ_status occ_cancel(occ_gen *g)
{
	struct orc_msg m;
	enum occ_status s;

	if (!g)
		return OCC_INVALID_ARGUMENT;
	if (g->p.done || !g->conn || g->cancel_sent)
		return OCC_OK;
	orc_msg_init(&m, ORC_MSG_CANCEL, g->p.id);
	if ((s = occ_send(g->conn, &m)) == OCC_OK)
		g->cancel_sent = true;
	return s;
}

/* Drops the events of a generation freed before its end. */
static bool drop_handle(struct occ_conn *c, struct occ_pending *p, struct orc_msg *m)
{
	(void)c;
	(void)p;
	return m->type == ORC_MSG_FINAL || m->type == ORC_MSG_ERROR;
}

void occ_gen_free(occ_gen *g)
{
	if (!g)
		return;
	if (g->conn) {
		occ_pending_remove(g->conn, &g->p);
		if (!g->p.done) {
			struct occ_pending *o = calloc(1, sizeof(*o));

			occ_cancel(g);
			if (o && !g->conn->dead) {
				o->id = g->p.id;
				o->req_type = ORC_MSG_GENERATE;
				o->handle = drop_handle;
				o->orphan = true;
				occ_pending_add(g->conn, o);
			} else {
				free(o);
			}
		}
	}
	free(g->text);
	free(g->toks);
	free(g->tops);
	free(g->plp);
	free(g);
}

enum occ_status occ_generate(occ_conn *c, const occ_gen_req *r, occ_token_fn fn, void *user,
			     occ_gen **ret)
{
	const occ_token *tok;
	struct occ_gen *g;
	enum occ_status s;

	if (ret)
		*ret = NULL;
	if ((s = occ_gen_start(c, r, &g)) != OCC_OK)
		return s;
	while ((s = occ_gen_next(g, -1, &tok)) == OCC_OK && tok) {
		if (fn && !g->cancel_sent && fn(user, tok) != 0)
			occ_cancel(g);
	}
	if (s == OCC_OK && ret)
		*ret = g;
	else
		occ_gen_free(g);
	return s;
}

/* ---- results ---- */
bool occ_gen_finished(const occ_gen *g) { return g && g->finished; }
uint32_t occ_gen_id(const occ_gen *g) { return g ? g->p.id : 0; }
size_t occ_gen_n_tokens(const occ_gen *g) { return g ? g->n_toks : 0; }
enum occ_stop occ_gen_stop(const occ_gen *g) { return g && g->finished ? (enum occ_stop)g->fin.stop : OCC_STOP_NONE; }
uint32_t occ_gen_prompt_tokens(const occ_gen *g) { return g ? g->fin.prompt_tokens : 0; }
uint32_t occ_gen_cached_tokens(const occ_gen *g) { return g ? g->fin.cached_tokens : 0; }
uint32_t occ_gen_gen_tokens(const occ_gen *g) { return g ? g->fin.gen_tokens : 0; }
size_t occ_gen_n_prompt_logprobs(const occ_gen *g) { return g ? g->n_plp : 0; }

const char *occ_gen_text(const occ_gen *g, size_t *ret_len)
{
	if (ret_len)
		*ret_len = g ? g->text_len : 0;
	return g && g->text ? g->text : "";
}

const occ_token *occ_gen_token(const occ_gen *g, size_t i)
{
	return g && i < g->n_toks ? &g->toks[i] : NULL;
}

uint64_t occ_gen_time_us(const occ_gen *g, enum occ_time which)
{
	if (!g)
		return 0;
	switch (which) {
	case OCC_TIME_QUEUE: return g->fin.queue_us;
	case OCC_TIME_PROMPT: return g->fin.prompt_us;
	case OCC_TIME_GEN: return g->fin.gen_us;
	case OCC_TIME_TTFT: return g->fin.ttft_us;
	}
	return 0;
}

const occ_token *occ_gen_prompt_logprob(const occ_gen *g, size_t pos)
{
	return g && pos < g->n_plp && g->plp[pos].id >= 0 ? &g->plp[pos] : NULL;
}

const char *occ_token_text(const occ_token *t, size_t *ret_len)
{
	if (ret_len)
		*ret_len = t ? t->text_len : 0;
	return t && t->text_len ? t->g->text + t->text_off : "";
}

int32_t occ_token_id(const occ_token *t) { return t ? t->id : -1; }
size_t occ_token_n_top(const occ_token *t) { return t ? t->n_top : 0; }

bool occ_token_logprob(const occ_token *t, float *ret)
{
	if (!t || !t->has_lp)
		return false;
	*ret = t->lp;
	return true;
}

bool occ_token_top(const occ_token *t, size_t i, int32_t *ret_id, float *ret_logprob)
{
	const struct orc_top *top;

	if (!t || i >= t->n_top)
		return false;
	top = &t->g->tops[t->top_off + i];
	*ret_id = top->token;
	*ret_logprob = top->logprob;
	return true;
}
