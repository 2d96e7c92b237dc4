/* engine.c -- models and sequences (see engine.h): loading (GGUF -> model
 * description -> tokenizer -> backend -> graph), the paged KV cache's block
 * tables and their prefix reuse, and orc_model_eval(), which checks a whole
 * batch before touching anything, then splits its tokens into passes of at
 * most n_batch. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "graph.h"
#include "kvcache.h"
#include "limits.h"

struct orc_seq {
	struct orc_model *m;
	uint32_t slot;          /* index in m->seqs */
	uint32_t pos;           /* tokens in the cache */
	uint32_t n_blocks;      /* blocks held */
	int32_t *blocks;        /* [max_blocks] the block table */
	/* The prefix index knows blocks 0 .. pos / BLOCK - 1 (each one, or an
	 * equal block now in its place); link is that chain's last link. */
	struct orc_kv_link link;
	int32_t tail[ORC_KV_BLOCK_SIZE];  /* [pos % BLOCK] ids of the partial last block */
};

/* Host arrays for building one pass. */
struct pass_buf {
	int32_t *ids, *pos, *slots, *tok_seq, *out_idx;  /* [n_batch] */
	int32_t *table;                                  /* [n_seq_rows, max_blocks] */
	float **out_ptrs;                                /* [n_batch] */
	int32_t **out_amax;                              /* [n_batch] */
	struct orc_topk **out_top;                       /* [n_batch] */
	uint32_t *held;                                  /* [n_seq_max] blocks before an eval */
};

struct orc_model {
	struct orc_gguf *gguf;
	struct orc_model_desc *desc;
	struct orc_tok *tok;
	struct orc_backend *be;
	struct orc_graph *graph;
	struct orc_kv_pool *kv;
	uint32_t n_ctx, n_seq_max, n_batch, n_seq_rows, max_blocks;
	struct orc_seq **seqs;  /* [n_seq_max]; NULL where free */
	struct pass_buf pb;
	uint64_t lookups, hits, reused_tokens;   /* prefix reuse counters */
	char backend_note[ORC_ERR_MSG_MAX];
};

#define BLOCK ORC_KV_BLOCK_SIZE

/* ---- loading ---- */

static int check_opts(const struct orc_model_opts *o, struct orc_err *err)
{
	if (o->n_threads < 0 || o->n_threads > ORC_THREADS_MAX)
		return orc_err_set(err, -EINVAL, "n_threads %d outside 0..%d", o->n_threads, ORC_THREADS_MAX);
	if (o->n_ctx > ORC_CTX_MAX)
		return orc_err_set(err, -E2BIG, "n_ctx %u exceeds the limit of %u tokens", o->n_ctx, ORC_CTX_MAX);
	if (o->n_seq_max > ORC_SESSIONS_MAX)
		return orc_err_set(err, -E2BIG, "n_seq_max %u exceeds the limit of %u sequences",
				   o->n_seq_max, ORC_SESSIONS_MAX);
	if (o->n_batch > ORC_PROMPT_TOKENS_MAX)
		return orc_err_set(err, -E2BIG, "n_batch %u exceeds the limit of %u tokens", o->n_batch,
				   ORC_PROMPT_TOKENS_MAX);
	if ((unsigned)o->backend > ORC_BACKEND_CUDA)
		return orc_err_set(err, -EINVAL, "unknown backend kind %d", (int)o->backend);
	return 0;
}

static int choose_ctx(struct orc_model *m, const struct orc_model_opts *o, struct orc_err *err)
{
	const struct orc_hparams *hp = &m->desc->hp;
	uint32_t train = hp->n_ctx_train;

	m->n_ctx = o->n_ctx ? o->n_ctx : (train && train < 4096 ? train : 4096);
	if (m->desc->pos_embd && m->n_ctx > m->desc->pos_embd->ne[1])
		return orc_err_set(err, -E2BIG, "n_ctx %u exceeds the %llu learned positions of this %s model",
				   m->n_ctx, (unsigned long long)m->desc->pos_embd->ne[1],
				   m->desc->arch_name);
	m->n_seq_max = o->n_seq_max ? o->n_seq_max : 1;
	m->n_batch = o->n_batch ? o->n_batch : 512;
	m->n_seq_rows = m->n_seq_max < m->n_batch ? m->n_seq_max : m->n_batch;
	m->max_blocks = (m->n_ctx + BLOCK - 1) / BLOCK;
	return 0;
}

static int alloc_host(struct orc_model *m, struct orc_err *err)
{
	struct pass_buf *pb = &m->pb;
	const size_t B = m->n_batch;

	m->seqs = calloc(m->n_seq_max, sizeof(*m->seqs));
	pb->ids = malloc(B * sizeof(int32_t));
	pb->pos = malloc(B * sizeof(int32_t));
	pb->slots = malloc(B * sizeof(int32_t));
	pb->tok_seq = malloc(B * sizeof(int32_t));
	pb->out_idx = malloc(B * sizeof(int32_t));
	pb->out_ptrs = malloc(B * sizeof(float *));
	pb->out_amax = malloc(B * sizeof(int32_t *));
	pb->out_top = malloc(B * sizeof(struct orc_topk *));
	pb->table = calloc((size_t)m->n_seq_rows * m->max_blocks, sizeof(int32_t));
	pb->held = calloc(m->n_seq_max, sizeof(uint32_t));
	if (!m->seqs || !pb->ids || !pb->pos || !pb->slots || !pb->tok_seq || !pb->out_idx ||
	    !pb->out_ptrs || !pb->out_amax || !pb->out_top || !pb->table || !pb->held)
		return orc_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

static int build_backend(struct orc_model *m, const struct orc_model_opts *o, struct orc_err *err)
{
	struct orc_backend_opts bo = { .n_threads = o->n_threads };
	struct orc_graph_opts go = {
		.n_batch = m->n_batch, .n_kv_blocks = m->n_seq_max * m->max_blocks,
		.block_size = BLOCK, .max_blocks = m->max_blocks, .n_seq_rows = m->n_seq_rows, .kv_f16 = o->kv_f16,
		.progress = o->progress, .progress_user = o->progress_user,
	};
	int rc;

	rc = orc_backend_new(o->backend, &bo, &m->be, m->backend_note, sizeof(m->backend_note), err);
	if (rc == 0)
		rc = orc_graph_new(m->be, m->gguf, m->desc, &go, &m->graph, err);
	if (rc == 0)
		rc = orc_kv_pool_new(go.n_kv_blocks, &m->kv, err);
	return rc;
}

int orc_model_load(const char *path, const struct orc_model_opts *opts, struct orc_model **ret,
		   struct orc_err *err)
{
	static const struct orc_model_opts defaults = { .backend = ORC_BACKEND_AUTO };
	const struct orc_model_opts *o = opts ? opts : &defaults;
	struct orc_model *m;
	int rc = check_opts(o, err);

	if (rc != 0)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m)
		return orc_err_set(err, -ENOMEM, "out of memory");
	if ((rc = orc_gguf_open_read(path, o->copy_file ? ORC_GGUF_COPY : ORC_GGUF_MMAP, &m->gguf,
				     err)) != 0 ||
	    (rc = orc_model_desc_new(m->gguf, &m->desc, err)) != 0 ||
	    (rc = orc_tok_new(m->gguf, &m->tok, err)) != 0 ||
	    (rc = choose_ctx(m, o, err)) != 0 || (rc = alloc_host(m, err)) != 0 ||
	    (rc = build_backend(m, o, err)) != 0) {
		/* the GGUF reader's messages already name the file */
		if (m->gguf)
			orc_err_prefix(err, "%s", path);
		orc_model_free(m);
		return rc;
	}
	/* the CPU backend computes from the file's bytes in place; the others
	 * hold their own copy of the weights now */
	if (strcmp(m->be->ops->name, "cpu") != 0)
		orc_gguf_drop_tensor_data(m->gguf);
	*ret = m;
	return 0;
}

void orc_model_free(struct orc_model *m)
{
	if (!m)
		return;
	for (uint32_t i = 0; m->seqs && i < m->n_seq_max; i++)
		orc_seq_free(m->seqs[i]);
	orc_graph_free(m->graph);
	orc_backend_free(m->be);
	orc_kv_pool_free(m->kv);
	orc_tok_free(m->tok);
	orc_model_desc_free(m->desc);
	orc_gguf_free(m->gguf);
	free(m->seqs);
	free(m->pb.ids);
	free(m->pb.pos);
	free(m->pb.slots);
	free(m->pb.tok_seq);
	free(m->pb.out_idx);
	free(m->pb.out_ptrs);
	free(m->pb.out_amax);
	free(m->pb.out_top);
	free(m->pb.table);
	free(m->pb.held);
	free(m);
}

/* ---- getters ---- */

const struct orc_model_desc *orc_model_get_desc(const struct orc_model *m) { return m->desc; }
const struct orc_tok *orc_model_get_tok(const struct orc_model *m) { return m->tok; }
const struct orc_gguf *orc_model_get_gguf(const struct orc_model *m) { return m->gguf; }
const char *orc_model_backend_name(const struct orc_model *m) { return m->be->ops->name; }
const char *orc_model_backend_note(const struct orc_model *m) { return m->backend_note; }
int orc_model_n_threads(const struct orc_model *m) { return orc_backend_cpu_threads(m->be); }
uint32_t orc_model_n_ctx(const struct orc_model *m) { return m->n_ctx; }
uint32_t orc_model_n_vocab(const struct orc_model *m) { return m->desc->hp.n_vocab; }

void orc_model_get_device_info(const struct orc_model *m, struct orc_device_info *ret)
{
	orc_backend_describe(m->be, ret);
}

void orc_model_get_mem(const struct orc_model *m, struct orc_model_mem *ret)
{
	orc_graph_get_mem(m->graph, ret);
}

/* ---- sequences ---- */

int orc_seq_new(struct orc_model *m, struct orc_seq **ret, struct orc_err *err)
{
	struct orc_seq *s;
	uint32_t i;

	for (i = 0; i < m->n_seq_max && m->seqs[i]; i++)
		;
	if (i == m->n_seq_max)
		return orc_err_set(err, -EBUSY, "all %u sequences of the model are in use (n_seq_max)",
				   m->n_seq_max);
	s = calloc(1, sizeof(*s));
	if (s)
		s->blocks = malloc(sizeof(int32_t) * m->max_blocks);
	if (!s || !s->blocks) {
		free(s);
		return orc_err_set(err, -ENOMEM, "out of memory");
	}
	s->m = m;
	s->slot = i;
	s->link = orc_kv_link_root(m->kv);
	m->seqs[i] = s;
	*ret = s;
	return 0;
}

/* Blocks go back last first, so that the cache reclaims a chain from its
 * end and keeps the common beginnings longest. */
void orc_seq_clear(struct orc_seq *s)
{
	while (s->n_blocks > 0)
		orc_kv_block_unref(s->m->kv, s->blocks[--s->n_blocks]);
	s->pos = 0;
	s->link = orc_kv_link_root(s->m->kv);
}

void orc_seq_free(struct orc_seq *s)
{
	if (!s)
		return;
	orc_seq_clear(s);
	s->m->seqs[s->slot] = NULL;
	free(s->blocks);
	free(s);
}

uint32_t orc_seq_pos(const struct orc_seq *s)
{
	return s->pos;
}

/* ---- prefix reuse ---- */

int orc_seq_reuse_prefix(struct orc_seq *s, const int32_t *ids, uint32_t n, uint32_t *ret_reused,
			 struct orc_err *err)
{
	struct orc_model *m = s->m;
	uint32_t k = 0, max = n > 0 ? (n - 1) / BLOCK : 0;

	if (s->pos != 0)
		return orc_err_set(err, -EINVAL, "prefix reuse needs a fresh sequence, not one at position %u",
				   s->pos);
	if (!ids && n > 0)
		return orc_err_set(err, -EINVAL, "no token ids for prefix reuse");
	if (max > m->max_blocks)
		max = m->max_blocks;
	while (k < max) {
		struct orc_kv_link next;
		int32_t b = orc_kv_prefix_find(m->kv, &s->link, ids + (size_t)k * BLOCK, &next);
		if (b < 0)
			break;
		orc_kv_block_ref(m->kv, b);
		s->blocks[k++] = b;
		s->link = next;
	}
	s->n_blocks = k;
	s->pos = k * BLOCK;
	m->lookups++;
	m->hits += k > 0;
	m->reused_tokens += s->pos;
	*ret_reused = s->pos;
	return 0;
}

/* Block k of s is full (its ids in s->tail): register it. When an equal
 * block is cached already, share that one and free ours. */
static void seal_block(struct orc_model *m, struct orc_seq *s, uint32_t k)
{
	int32_t b = s->blocks[k];
	int32_t e = orc_kv_prefix_register(m->kv, b, &s->link, s->tail, &s->link);

	if (e != b) {
		orc_kv_block_ref(m->kv, e);
		orc_kv_block_unref(m->kv, b);
		s->blocks[k] = e;
	}
}

/* After a successful eval, before the positions advance. */
static void register_blocks(struct orc_model *m, const struct orc_eval_item *items, size_t n_items)
{
	for (size_t i = 0; i < n_items; i++) {
		struct orc_seq *s = items[i].seq;
		uint32_t pos = s->pos;
		for (uint32_t j = 0; j < items[i].n; j++, pos++) {
			s->tail[pos % BLOCK] = items[i].ids[j];
			if (pos % BLOCK == BLOCK - 1)
				seal_block(m, s, pos / BLOCK);
		}
	}
}

void orc_model_get_cache_stats(const struct orc_model *m, struct orc_cache_stats *ret)
{
	struct orc_kv_stats ks;
	struct orc_model_mem mem;

	orc_kv_pool_stats(m->kv, &ks);
	orc_graph_get_mem(m->graph, &mem);
	*ret = (struct orc_cache_stats){
		.lookups = m->lookups, .hits = m->hits, .reused_tokens = m->reused_tokens,
		.evictions = ks.evictions, .blocks_total = ks.n_blocks,
		.blocks_in_use = ks.n_blocks - ks.n_free - ks.n_evictable,
		.blocks_cached = ks.n_registered, .blocks_evictable = ks.n_evictable,
		.block_bytes = mem.kv_cache / ks.n_blocks,
	};
}

void orc_model_drop_prefix_cache(struct orc_model *m)
{
	orc_kv_prefix_drop_cached(m->kv);
}

void orc_model_set_prefix_hash_mask(struct orc_model *m, uint64_t mask)
{
	orc_kv_pool_set_hash_mask(m->kv, mask);
	for (uint32_t i = 0; i < m->n_seq_max; i++)
		if (m->seqs[i] && m->seqs[i]->pos == 0)
			m->seqs[i]->link = orc_kv_link_root(m->kv);
}

/* ---- evaluation ---- */

static int check_item(const struct orc_model *m, const struct orc_eval_item *it, size_t i,
		      struct orc_err *err)
{
	const uint32_t n_vocab = m->desc->hp.n_vocab;

	if (!it->seq || it->seq->m != m)
		return orc_err_set(err, -EINVAL, "item %zu: no sequence of this model", i);
	if (it->n == 0 || !it->ids)
		return orc_err_set(err, -EINVAL, "item %zu: no tokens to evaluate", i);
	for (uint32_t j = 0; j < it->n; j++)
		if (it->ids[j] < 0 || (uint32_t)it->ids[j] >= n_vocab)
			return orc_err_set(err, -EINVAL, "item %zu: token id %d (index %u) is outside the vocabulary of %u",
					   i, it->ids[j], j, n_vocab);
	if (it->n > m->n_ctx - it->seq->pos)
		return orc_err_set(err, -E2BIG, "item %zu: %u tokens at position %u exceed the context of %u tokens (n_ctx)",
				   i, it->n, it->seq->pos, m->n_ctx);
	if (it->top && !orc_model_has_topk(m))
		return orc_err_set(err, -EINVAL, "item %zu: backend %s picks no top-k candidates", i,
				   m->be->ops->name);
	return 0;
}

bool orc_model_has_topk(const struct orc_model *m)
{
	return m->be->ops->topk && m->desc->hp.n_vocab >= ORC_SAMPLE_TOPK_MAX;
}

static int check_batch(const struct orc_model *m, const struct orc_eval_item *items, size_t n_items,
		       uint32_t *ret_blocks, struct orc_err *err)
{
	uint32_t need = 0;

	if (n_items == 0 || !items)
		return orc_err_set(err, -EINVAL, "an empty batch");
	for (size_t i = 0; i < n_items; i++) {
		int rc = check_item(m, &items[i], i, err);
		if (rc != 0)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (items[j].seq == items[i].seq)
				return orc_err_set(err, -EINVAL, "items %zu and %zu are the same sequence", j, i);
		need += (items[i].seq->pos + items[i].n + BLOCK - 1) / BLOCK - items[i].seq->n_blocks;
	}
	if (need > orc_kv_pool_n_free(m->kv))
		return orc_err_set(err, -ENOSPC, "KV cache full: %u blocks needed, %u free", need,
				   orc_kv_pool_n_free(m->kv));
	*ret_blocks = need;
	return 0;
}

/* Grow every block table to cover its new tokens (cannot fail: counted). */
static void grow_tables(struct orc_model *m, const struct orc_eval_item *items, size_t n_items)
{
	for (size_t i = 0; i < n_items; i++) {
		struct orc_seq *s = items[i].seq;
		uint32_t want = (s->pos + items[i].n + BLOCK - 1) / BLOCK;
		m->pb.held[s->slot] = s->n_blocks;
		while (s->n_blocks < want)
			orc_kv_block_alloc(m->kv, &s->blocks[s->n_blocks++]);
	}
}

static void undo_tables(struct orc_model *m, const struct orc_eval_item *items, size_t n_items)
{
	for (size_t i = 0; i < n_items; i++) {
		struct orc_seq *s = items[i].seq;
		while (s->n_blocks > m->pb.held[s->slot])
			orc_kv_block_unref(m->kv, s->blocks[--s->n_blocks]);
	}
}

/* A cursor over the batch's tokens: item i, token j. */
struct cursor {
	size_t i;
	uint32_t j;
};

/* Fill one pass from the cursor onwards, at most n_batch tokens. */
static void build_pass(struct orc_model *m, const struct orc_eval_item *items, size_t n_items,
		       struct cursor *c, struct orc_graph_pass *p)
{
	struct pass_buf *pb = &m->pb;
	const uint32_t n_vocab = m->desc->hp.n_vocab;

	memset(p, 0, sizeof(*p));
	while (c->i < n_items && p->n_tok < m->n_batch) {
		const struct orc_eval_item *it = &items[c->i];
		const struct orc_seq *s = it->seq;
		uint32_t row = p->n_seq++;

		memcpy(pb->table + (size_t)row * m->max_blocks, s->blocks, sizeof(int32_t) * s->n_blocks);
		for (; c->j < it->n && p->n_tok < m->n_batch; c->j++) {
			uint32_t t = p->n_tok++, pos = s->pos + c->j;
			pb->ids[t] = it->ids[c->j];
			pb->pos[t] = (int32_t)pos;
			pb->slots[t] = s->blocks[pos / BLOCK] * BLOCK + (int32_t)(pos % BLOCK);
			pb->tok_seq[t] = (int32_t)row;
			const bool last = c->j == it->n - 1;
			if ((it->logits && (it->logits_all || last)) || ((it->argmax || it->top) && last)) {
				pb->out_idx[p->n_out] = (int32_t)t;
				pb->out_ptrs[p->n_out] = !it->logits ? NULL
							 : it->logits + (it->logits_all ? (size_t)c->j * n_vocab : 0);
				pb->out_amax[p->n_out] = last ? it->argmax : NULL;
				pb->out_top[p->n_out++] = last ? it->top : NULL;
			}
		}
		if (c->j == it->n) {
			c->i++;
			c->j = 0;
		}
	}
	p->ids = pb->ids;
	p->pos = pb->pos;
	p->slots = pb->slots;
	p->tok_seq = pb->tok_seq;
	p->block_table = pb->table;
	p->out_idx = pb->out_idx;
	p->out_logits = pb->out_ptrs;
	p->out_argmax = pb->out_amax;
	p->out_top = pb->out_top;
}

int orc_model_eval(struct orc_model *m, struct orc_eval_item *items, size_t n_items,
		   struct orc_err *err)
{
	struct cursor c = { 0 };
	uint32_t need;
	int rc = check_batch(m, items, n_items, &need, err);

	if (rc != 0)
		return rc;
	grow_tables(m, items, n_items);
	while (c.i < n_items) {
		struct orc_graph_pass p;
		build_pass(m, items, n_items, &c, &p);
		rc = orc_graph_eval(m->graph, &p, err);
		if (rc != 0) {
			undo_tables(m, items, n_items);
			return rc;
		}
	}
	register_blocks(m, items, n_items);
	for (size_t i = 0; i < n_items; i++)
		items[i].seq->pos += items[i].n;
	return 0;
}
