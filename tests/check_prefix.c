/* check_prefix.c -- prefix reuse of the paged KV cache: the block index on
 * its own (chains, forced hash collisions, LRU eviction, blocks in use),
 * then the engine on the models in ../shared: a sequence that reuses the
 * cached blocks of a prompt prefix gives bit-identical logits and greedy
 * output to one that evaluates everything, while the first sequence runs
 * or after it was freed, across divergence and collisions, under pool
 * pressure; the accounting; and orc_gen's use of it. The reference for
 * "bit-identical" is the same engine without reuse (engine.h's contract). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "engine_testutil.h"
#include "gen.h"
#include "kvcache.h"
#include "sampler.h"
#include "testutil.h"

#define BLK ORC_KV_BLOCK_SIZE

/* ---- the block index alone ---- */

static void fill_ids(int32_t *ids, int32_t base)
{
	for (int i = 0; i < BLK; i++)
		ids[i] = base + i;
}

static struct orc_kv_pool *pool_new(uint32_t n)
{
	struct orc_kv_pool *p = NULL;
	struct orc_err err = { 0 };

	ck_assert_int_eq(orc_kv_pool_new(n, &p, &err), 0);
	return p;
}

/* Register a chain of n blocks with ids base, base + 100, ...; the ids of
 * the blocks go to out[]. */
static void chain(struct orc_kv_pool *p, int32_t base, int n, int32_t *out)
{
	struct orc_kv_link link = orc_kv_link_root(p), next;
	int32_t ids[BLK];

	for (int k = 0; k < n; k++) {
		ck_assert_int_eq(orc_kv_block_alloc(p, &out[k]), 0);
		fill_ids(ids, base + 100 * k);
		ck_assert_int_eq(orc_kv_prefix_register(p, out[k], &link, ids, &next), out[k]);
		link = next;
	}
}

/* How many blocks of the chain base, base + 100, ... are found. */
static int walk(const struct orc_kv_pool *p, int32_t base, int n, const int32_t *want)
{
	struct orc_kv_link link = orc_kv_link_root(p), next;
	int32_t ids[BLK];
	int k;

	for (k = 0; k < n; k++) {
		int32_t b;
		fill_ids(ids, base + 100 * k);
		if ((b = orc_kv_prefix_find(p, &link, ids, &next)) < 0)
			break;
		if (want)
			ck_assert_int_eq(b, want[k]);
		link = next;
	}
	return k;
}

/* _i = 0: real hashes; 1: every hash equal, so only the ids and the
 * predecessor's serial tell blocks apart. */
START_TEST(index_chains_and_collisions)
{
	struct orc_kv_pool *p = pool_new(16);
	int32_t a[3], b[3], c[3], ids[BLK], e;
	struct orc_kv_link root, l1, l2;

	if (_i == 1)
		orc_kv_pool_set_hash_mask(p, 0);
	chain(p, 1000, 3, a);
	chain(p, 2000, 3, b);
	ck_assert_int_eq(walk(p, 1000, 3, a), 3);
	ck_assert_int_eq(walk(p, 2000, 3, b), 3);
	ck_assert_int_eq(walk(p, 3000, 3, NULL), 0);

	/* the same ids after another predecessor are another block */
	root = orc_kv_link_root(p);
	fill_ids(ids, 2000);
	ck_assert_int_eq(orc_kv_prefix_find(p, &root, ids, &l1), b[0]);
	fill_ids(ids, 1100);                          /* a[1]'s ids after b[0] */
	ck_assert_int_lt(orc_kv_prefix_find(p, &l1, ids, &l2), 0);
	/* ... and one id off is a miss */
	fill_ids(ids, 1000);
	ids[BLK - 1]++;
	ck_assert_int_lt(orc_kv_prefix_find(p, &root, ids, &l1), 0);

	/* registering an equal block hands back the registered one */
	ck_assert_int_eq(orc_kv_block_alloc(p, &c[0]), 0);
	fill_ids(ids, 1000);
	e = orc_kv_prefix_register(p, c[0], &root, ids, &l1);
	ck_assert_int_eq(e, a[0]);
	ck_assert_uint_eq(l1.serial, walk(p, 1000, 1, NULL) == 1 ? l1.serial : 0);
	orc_kv_block_unref(p, c[0]);                  /* unregistered: free again */

	struct orc_kv_stats st;
	orc_kv_pool_stats(p, &st);
	ck_assert_uint_eq(st.n_registered, 6);
	ck_assert_uint_eq(st.n_free, 10);
	ck_assert_uint_eq(st.n_evictable, 0);
	orc_kv_pool_free(p);
}
END_TEST

/* Released chains stay findable; allocation reclaims them least recently
 * released first, last block of a chain first; blocks in use never. */
START_TEST(index_lru_eviction)
{
	struct orc_kv_pool *p = pool_new(8);
	int32_t a[3], b[3], got[8];
	struct orc_kv_stats st;

	chain(p, 1000, 3, a);            /* a stays in use throughout */
	chain(p, 2000, 3, b);
	for (int k = 2; k >= 0; k--)     /* released as orc_seq_clear does: last first */
		orc_kv_block_unref(p, b[k]);
	orc_kv_pool_stats(p, &st);
	ck_assert_uint_eq(st.n_evictable, 3);
	ck_assert_uint_eq(st.n_free, 2);
	ck_assert_uint_eq(orc_kv_pool_n_free(p), 5);
	ck_assert_int_eq(walk(p, 2000, 3, b), 3);

	/* a cached block taken again leaves the LRU; released, it is newest */
	orc_kv_block_ref(p, b[0]);
	ck_assert_uint_eq(orc_kv_pool_n_free(p), 4);
	orc_kv_block_unref(p, b[0]);

	for (int k = 0; k < 2; k++)      /* the two free blocks first */
		ck_assert_int_eq(orc_kv_block_alloc(p, &got[k]), 0);
	orc_kv_pool_stats(p, &st);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_int_eq(orc_kv_block_alloc(p, &got[2]), 0);
	ck_assert_int_eq(got[2], b[2]);  /* the oldest release */
	ck_assert_int_eq(walk(p, 2000, 3, NULL), 2);
	ck_assert_int_eq(orc_kv_block_alloc(p, &got[3]), 0);
	ck_assert_int_eq(got[3], b[1]);
	ck_assert_int_eq(orc_kv_block_alloc(p, &got[4]), 0);
	ck_assert_int_eq(got[4], b[0]);  /* re-released last: reclaimed last */
	ck_assert_int_eq(orc_kv_block_alloc(p, &got[5]), -ENOSPC);
	orc_kv_pool_stats(p, &st);
	ck_assert_uint_eq(st.evictions, 3);
	ck_assert_uint_eq(st.n_registered, 3);
	ck_assert_int_eq(walk(p, 1000, 3, a), 3);     /* in use: untouched */
	for (int k = 0; k < 3; k++)
		ck_assert_uint_eq(orc_kv_block_refs(p, a[k]), 1);

	/* dropping the cache frees cached blocks only */
	for (int k = 0; k < 5; k++)
		orc_kv_block_unref(p, got[k]);
	orc_kv_block_unref(p, a[2]);
	orc_kv_prefix_drop_cached(p);
	orc_kv_pool_stats(p, &st);
	ck_assert_uint_eq(st.n_registered, 2);
	ck_assert_uint_eq(st.n_evictable, 0);
	ck_assert_uint_eq(st.n_free, 6);
	ck_assert_int_eq(walk(p, 1000, 3, NULL), 2);
	orc_kv_pool_free(p);
}
END_TEST

/* ---- the engine ---- */

static const char *const models[] = {
	"stories260K", "tiny-qwen2-q8_0", "tiny-llama-f16", "tiny-phi3-bf16", "tiny-gpt2-f32",
};

static struct orc_model *load(const char *name, uint32_t n_ctx, uint32_t n_seq)
{
	struct orc_model_opts o = { .backend = ORC_BACKEND_CPU, .n_threads = 2, .n_ctx = n_ctx,
				    .n_seq_max = n_seq };

	orc_test_require_shared();
	return orc_test_model_load(name, &o);
}

static struct orc_seq *seq_new(struct orc_model *m)
{
	struct orc_seq *s = NULL;
	struct orc_err err = { 0 };

	ck_assert_msg(orc_seq_new(m, &s, &err) == 0, "%s", err.msg);
	return s;
}

static uint32_t reuse(struct orc_seq *s, const int32_t *ids, uint32_t n)
{
	struct orc_err err = { 0 };
	uint32_t got = 12345;

	ck_assert_msg(orc_seq_reuse_prefix(s, ids, n, &got, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(orc_seq_pos(s), got);
	return got;
}

/* Pseudo-random ids of the vocabulary (the text does not matter here). */
static void make_ids(int32_t *ids, uint32_t n, uint32_t n_vocab, uint64_t seed)
{
	for (uint32_t i = 0; i < n; i++) {
		seed = seed * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
		ids[i] = (int32_t)((seed >> 33) % n_vocab);
	}
}

/* A sequence's logits: every prompt position and `dec` greedy steps. */
struct run {
	uint32_t n, dec, nv;
	float *prompt;      /* [n, nv] */
	float *steps;       /* [dec, nv] after each greedy token */
	int32_t ids[64];    /* the greedy ids */
};

static void run_alloc(struct run *r, const struct orc_model *m, uint32_t n, uint32_t dec)
{
	r->n = n;
	r->dec = dec;
	r->nv = orc_model_n_vocab(m);
	r->prompt = calloc((size_t)n * r->nv, sizeof(float));
	r->steps = calloc((size_t)(dec ? dec : 1) * r->nv, sizeof(float));
	ck_assert(r->prompt && r->steps && dec <= 64);
}

static void run_free(struct run *r)
{
	free(r->prompt);
	free(r->steps);
}

/* The prompt from orc_seq_pos(s) on (all positions' logits), then greedy. */
static void run_seq(struct orc_model *m, struct orc_seq *s, const int32_t *ids, struct run *r)
{
	uint32_t p0 = orc_seq_pos(s);
	const float *last = r->prompt + (size_t)(r->n - 1) * r->nv;

	orc_test_eval1(m, s, ids + p0, r->n - p0, true, r->prompt + (size_t)p0 * r->nv);
	for (uint32_t k = 0; k < r->dec; k++) {
		r->ids[k] = orc_sampler_argmax(k ? r->steps + (size_t)(k - 1) * r->nv : last, r->nv);
		orc_test_eval1(m, s, &r->ids[k], 1, false, r->steps + (size_t)k * r->nv);
	}
}

/* b (which reused `from` tokens) against a, bit for bit. */
static void same_run(const struct run *a, const struct run *b, uint32_t from, const char *what)
{
	size_t row = (size_t)a->nv * sizeof(float);

	ck_assert_msg(memcmp(a->prompt + (size_t)from * a->nv, b->prompt + (size_t)from * a->nv,
			     row * (a->n - from)) == 0, "%s: prompt logits differ", what);
	ck_assert_msg(memcmp(a->ids, b->ids, sizeof(int32_t) * a->dec) == 0, "%s: greedy ids differ", what);
	ck_assert_msg(memcmp(a->steps, b->steps, row * a->dec) == 0, "%s: decode logits differ", what);
}

/* B reuses A's prompt blocks while A is open, then again after A is freed;
 * prompt lengths around the block edges. Every model. */
START_TEST(reuse_is_bit_identical)
{
	static const uint32_t lens[] = { 45, 48, 49, 16, 17 };
	const char *name = models[_i];
	struct orc_model *m = load(name, 128, 2);
	uint32_t nv = orc_model_n_vocab(m);
	int32_t ids[64];

	for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
		uint32_t n = lens[t], want = (n - 1) / BLK * BLK;
		struct run a, b, c;
		struct orc_seq *sa, *sb;

		make_ids(ids, n, nv, 7 + t);
		run_alloc(&a, m, n, 12);
		run_alloc(&b, m, n, 12);
		run_alloc(&c, m, n, 12);
		sa = seq_new(m);
		ck_assert_uint_eq(reuse(sa, ids, n), 0);        /* nothing cached yet */
		run_seq(m, sa, ids, &a);

		sb = seq_new(m);
		ck_assert_msg(reuse(sb, ids, n) == want, "%s, %u tokens: reused %u, want %u", name, n,
			      orc_seq_pos(sb), want);
		run_seq(m, sb, ids, &b);
		same_run(&a, &b, want, name);
		orc_seq_free(sb);
		orc_seq_free(sa);

		sb = seq_new(m);                                /* A is gone: its blocks are cached */
		ck_assert_uint_eq(reuse(sb, ids, n), want);
		run_seq(m, sb, ids, &c);
		same_run(&a, &c, want, name);
		orc_seq_free(sb);
		orc_model_drop_prefix_cache(m);
		run_free(&a);
		run_free(&b);
		run_free(&c);
	}
	orc_model_free(m);
}
END_TEST

/* Blocks filled by decoding one token at a time are registered too: a
 * prompt that is A's prompt plus A's output reuses them. Also in a batch
 * with A still decoding. */
START_TEST(reuse_decoded_blocks)
{
	struct orc_model *m = load(models[_i], 128, 3);
	uint32_t nv = orc_model_n_vocab(m);
	int32_t ids[80];
	struct run a, full, b;
	struct orc_seq *sa, *sf, *sb;
	float *la = malloc(sizeof(float) * nv), *lb = malloc(sizeof(float) * nv);

	make_ids(ids, 20, nv, 99);
	run_alloc(&a, m, 20, 30);
	sa = seq_new(m);
	run_seq(m, sa, ids, &a);                        /* 20 + 30 tokens: 3 full blocks */
	memcpy(ids + 20, a.ids, sizeof(int32_t) * 30);
	ids[50] = orc_sampler_argmax(a.steps + (size_t)29 * nv, nv); /* 51 ids: the first 50 are A's */

	/* reference: the 51 ids from scratch, without reuse */
	run_alloc(&full, m, 51, 4);
	sf = seq_new(m);
	run_seq(m, sf, ids, &full);
	orc_seq_free(sf);
	orc_model_drop_prefix_cache(m);                 /* sf's blocks were equal: gone now */

	run_alloc(&b, m, 51, 4);
	sb = seq_new(m);
	ck_assert_uint_eq(reuse(sb, ids, 51), 48);
	{       /* B's rest of the prompt batched with A's next decode step */
		int32_t next = orc_sampler_argmax(a.steps + (size_t)29 * nv, nv);
		struct orc_eval_item it[2] = {
			{ .seq = sa, .ids = &next, .n = 1, .logits = la },
			{ .seq = sb, .ids = ids + 48, .n = 3, .logits_all = true,
			  .logits = b.prompt + (size_t)48 * nv },
		};
		struct orc_err err = { 0 };
		ck_assert_msg(orc_model_eval(m, it, 2, &err) == 0, "%s", err.msg);
	}
	for (uint32_t k = 0; k < b.dec; k++) {
		b.ids[k] = orc_sampler_argmax(k ? b.steps + (size_t)(k - 1) * nv : b.prompt + (size_t)50 * nv, nv);
		orc_test_eval1(m, sb, &b.ids[k], 1, false, b.steps + (size_t)k * nv);
	}
	same_run(&full, &b, 48, models[_i]);
	orc_seq_free(sa);
	orc_seq_free(sb);
	run_free(&a);
	run_free(&full);
	run_free(&b);
	free(la);
	free(lb);
	orc_model_free(m);
}
END_TEST

/* A prompt that leaves A's in the middle of a block reuses only the full
 * blocks before that one. _i = 1: every prefix hash collides. */
START_TEST(divergence_and_collisions)
{
	struct orc_model *m = load("stories260K", 128, 2);
	uint32_t nv = orc_model_n_vocab(m);
	int32_t p[56], q[56];
	struct orc_seq *sa, *sb;
	struct run a, b, ref;

	if (_i == 1)
		orc_model_set_prefix_hash_mask(m, 0);
	make_ids(p, 56, nv, 5);
	run_alloc(&a, m, 56, 2);
	sa = seq_new(m);
	run_seq(m, sa, p, &a);                          /* blocks 0..2 full, then 8 + 2 */

	static const struct { uint32_t at, want; } cases[] = {
		{ 20, 16 }, { 32, 32 }, { 31, 16 }, { 0, 0 }, { 15, 0 }, { 47, 32 }, { 48, 48 },
	};
	for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
		memcpy(q, p, sizeof(q));
		q[cases[t].at] = (q[cases[t].at] + 1) % (int32_t)nv;
		run_alloc(&ref, m, 56, 6);
		run_alloc(&b, m, 56, 6);
		sb = seq_new(m);
		run_seq(m, sb, q, &ref);                /* q without reuse */
		orc_seq_free(sb);
		orc_model_drop_prefix_cache(m);         /* keep only A's blocks */
		sb = seq_new(m);
		ck_assert_msg(reuse(sb, q, 56) == cases[t].want, "change at %u: reused %u, want %u",
			      cases[t].at, orc_seq_pos(sb), cases[t].want);
		run_seq(m, sb, q, &b);
		same_run(&ref, &b, cases[t].want, "divergent prompt");
		orc_seq_free(sb);
		orc_model_drop_prefix_cache(m);
		run_free(&ref);
		run_free(&b);
	}
	/* Q = p's block 0 changed, blocks 1.. the same ids: after Q is cached,
	 * a prompt with p's block 0 and Q's later blocks must not pick Q's. */
	memcpy(q, p, sizeof(q));
	q[3] = (q[3] + 1) % (int32_t)nv;
	orc_seq_free(sa);                               /* p's chain is cached now */
	run_alloc(&b, m, 56, 8);
	sb = seq_new(m);
	ck_assert_uint_eq(reuse(sb, q, 56), 0);
	run_seq(m, sb, q, &b);                          /* decodes on Q's blocks 1, 2 */
	orc_seq_free(sb);
	{       /* Q on a model with an empty cache */
		struct orc_model *fresh = load("stories260K", 128, 1);
		struct orc_seq *t = seq_new(fresh);
		run_alloc(&ref, fresh, 56, 8);
		run_seq(fresh, t, q, &ref);
		same_run(&ref, &b, 0, "Q beside p's chain");
		run_free(&ref);
		orc_model_free(fresh);
	}
	sb = seq_new(m);
	ck_assert_uint_eq(reuse(sb, q, 56), 48);        /* Q's own chain */
	orc_seq_free(sb);
	sb = seq_new(m);
	ck_assert_uint_eq(reuse(sb, p, 56), 48);        /* p's chain, not Q's blocks */
	run_alloc(&ref, m, 56, 2);
	run_seq(m, sb, p, &ref);
	same_run(&a, &ref, 48, "after a collision-prone neighbour");
	orc_seq_free(sb);
	run_free(&a);
	run_free(&b);
	run_free(&ref);
	orc_model_free(m);
}
END_TEST

static void stats(const struct orc_model *m, struct orc_cache_stats *st)
{
	orc_model_get_cache_stats(m, st);
	ck_assert_uint_eq(st->blocks_in_use + st->blocks_evictable <= st->blocks_total, 1);
	ck_assert_uint_le(st->blocks_evictable, st->blocks_cached);
}

/* 8 blocks (n_ctx 64, two sequences): new tokens reclaim cached blocks,
 * oldest first, and never the blocks of the sequence that runs on. */
START_TEST(eviction_under_pressure)
{
	struct orc_model *m = load(models[_i], 64, 2), *solo = load(models[_i], 64, 1);
	uint32_t nv = orc_model_n_vocab(m);
	int32_t x[63], y[63], z[63];
	struct run ax, ax_solo, by, dy, ez;
	struct orc_cache_stats st;
	struct orc_model_mem mem0, mem1;
	struct orc_seq *a, *s;
	float *lz = malloc(sizeof(float) * nv);

	orc_model_get_mem(m, &mem0);
	make_ids(x, 63, nv, 11);
	make_ids(y, 63, nv, 12);
	make_ids(z, 63, nv, 13);
	run_alloc(&ax, m, 50, 8);                     /* A: 58 tokens, 4 blocks, held */
	a = seq_new(m);
	run_seq(m, a, x, &ax);
	run_alloc(&by, m, 50, 0);                     /* B: 4 blocks, freed: 3 cached + 1 free */
	s = seq_new(m);
	run_seq(m, s, y, &by);
	orc_seq_free(s);
	stats(m, &st);
	ck_assert_uint_eq(st.blocks_total, 8);
	ck_assert_uint_eq(st.blocks_in_use, 4);
	ck_assert_uint_eq(st.blocks_evictable, 3);
	ck_assert_uint_eq(st.blocks_cached, 6);
	ck_assert_uint_eq(st.evictions, 0);
	ck_assert_uint_eq(st.block_bytes * st.blocks_total, mem0.kv_cache);

	/* C needs 2 blocks: the free one and the oldest cached (B's last full one) */
	s = seq_new(m);
	orc_test_eval1(m, s, z, 20, false, lz);
	orc_seq_free(s);
	stats(m, &st);
	ck_assert_uint_eq(st.evictions, 1);
	run_alloc(&dy, m, 50, 0);
	s = seq_new(m);
	ck_assert_uint_eq(reuse(s, y, 50), 32);
	run_seq(m, s, y, &dy);
	same_run(&by, &dy, 32, "B after an eviction");
	orc_seq_free(s);

	/* D needed 2 new blocks: the free one and C's (the oldest release) */
	stats(m, &st);
	ck_assert_uint_eq(st.evictions, 2);
	/* E takes every block that A does not hold */
	run_alloc(&ez, m, 63, 0);
	s = seq_new(m);
	ck_assert_uint_eq(reuse(s, z, 63), 0);        /* C's block was reclaimed */
	run_seq(m, s, z, &ez);
	stats(m, &st);
	ck_assert_uint_eq(st.blocks_in_use, 8);
	ck_assert_uint_eq(st.blocks_evictable, 0);
	ck_assert_uint_eq(st.evictions, 5);
	{       /* A's blocks were not touched: its decode goes on as alone */
		run_alloc(&ax_solo, solo, 50, 8);
		struct orc_seq *t = seq_new(solo);
		run_seq(solo, t, x, &ax_solo);
		same_run(&ax_solo, &ax, 0, "A under pressure");
		int32_t next = orc_sampler_argmax(ax.steps + (size_t)7 * nv, nv);
		float *l1 = malloc(sizeof(float) * nv), *l2 = malloc(sizeof(float) * nv);
		orc_test_eval1(m, a, &next, 1, false, l1);       /* its 59th token */
		orc_test_eval1(solo, t, &next, 1, false, l2);
		ck_assert(memcmp(l1, l2, sizeof(float) * nv) == 0);
		free(l1);
		free(l2);
		orc_seq_free(t);
		run_free(&ax_solo);
	}
	orc_seq_free(s);
	s = seq_new(m);
	ck_assert_uint_eq(reuse(s, x, 50), 48);       /* A's blocks are all still there */
	orc_seq_free(s);
	orc_seq_free(a);
	stats(m, &st);
	ck_assert_uint_eq(st.blocks_in_use, 0);
	ck_assert_uint_eq(st.blocks_evictable, st.blocks_cached);
	orc_model_drop_prefix_cache(m);
	stats(m, &st);
	ck_assert_uint_eq(st.blocks_cached, 0);
	ck_assert_uint_eq(st.blocks_evictable, 0);
	orc_model_get_mem(m, &mem1);
	ck_assert(memcmp(&mem0, &mem1, sizeof(mem0)) == 0);
	run_free(&ax);
	run_free(&by);
	run_free(&dy);
	run_free(&ez);
	free(lz);
	orc_model_free(m);
	orc_model_free(solo);
}
END_TEST

/* Counters, shared blocks counted once, and equal blocks evaluated by two
 * sequences at once end up shared. */
START_TEST(accounting)
{
	struct orc_model *m = load("stories260K", 128, 3);
	int32_t ids[40];
	struct orc_cache_stats st;
	struct orc_seq *a, *b, *c;
	float l[512];

	make_ids(ids, 40, 512, 3);
	a = seq_new(m);
	b = seq_new(m);
	{       /* the same 40 ids in one batch: both fill blocks 0 and 1 */
		struct orc_eval_item it[2] = {
			{ .seq = a, .ids = ids, .n = 40, .logits = l },
			{ .seq = b, .ids = ids, .n = 40, .logits = l },
		};
		struct orc_err err = { 0 };
		ck_assert_msg(orc_model_eval(m, it, 2, &err) == 0, "%s", err.msg);
	}
	stats(m, &st);
	ck_assert_uint_eq(st.blocks_cached, 2);
	ck_assert_uint_eq(st.blocks_in_use, 4);       /* 2 shared + 2 partial */
	c = seq_new(m);
	ck_assert_uint_eq(reuse(c, ids, 40), 32);
	{       /* not at position 0 any more: refused, not counted */
		struct orc_err err = { 0 };
		uint32_t got;
		ck_assert_int_eq(orc_seq_reuse_prefix(c, ids, 40, &got, &err), -EINVAL);
	}
	stats(m, &st);
	ck_assert_uint_eq(st.lookups, 1);
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.reused_tokens, 32);
	ck_assert_uint_eq(st.blocks_in_use, 4);
	orc_seq_free(a);
	orc_seq_free(b);
	stats(m, &st);
	ck_assert_uint_eq(st.blocks_in_use, 2);       /* c holds the 2 shared ones */
	ck_assert_uint_eq(st.blocks_evictable, 0);
	orc_seq_clear(c);
	stats(m, &st);
	ck_assert_uint_eq(st.blocks_in_use, 0);
	ck_assert_uint_eq(st.blocks_evictable, 2);
	orc_seq_free(c);
	orc_model_free(m);
}
END_TEST

START_TEST(reuse_errors)
{
	struct orc_model *m = load("stories260K", 64, 1);
	struct orc_seq *s = seq_new(m);
	struct orc_err err = { 0 };
	int32_t ids[20] = { 1, 2, 3 };
	uint32_t got = 7;
	float l[512];

	ck_assert_int_eq(orc_seq_reuse_prefix(s, NULL, 0, &got, &err), 0);
	ck_assert_uint_eq(got, 0);
	ck_assert_int_eq(orc_seq_reuse_prefix(s, NULL, 3, &got, &err), -EINVAL);
	ck_assert_int_eq(orc_seq_reuse_prefix(s, ids, 1, &got, &err), 0);
	ck_assert_uint_eq(got, 0);
	orc_test_eval1(m, s, ids, 3, false, l);
	ck_assert_int_eq(orc_seq_reuse_prefix(s, ids, 20, &got, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "position 3") != NULL, "%s", err.msg);
	ck_assert_uint_eq(orc_seq_pos(s), 3);
	orc_model_free(m);
}
END_TEST

/* ---- the generation layer ---- */

static void gen(struct orc_model *m, const struct orc_gen_params *p, const int32_t *ids, size_t n,
		struct orc_gen_result *r)
{
	struct orc_err err = { 0 };

	ck_assert_msg(orc_generate(m, p, ids, n, NULL, NULL, r, &err) == 0, "%s", err.msg);
}

START_TEST(gen_reports_cached_tokens)
{
	struct orc_model *m = load(models[_i], 256, 2);
	struct orc_gen_params p;
	struct orc_gen_result r1, r2, r3, r4;
	int32_t ids[40];
	struct orc_gen *g;
	struct orc_seq *s;
	struct orc_eval_item it = { 0 };
	struct orc_err err = { 0 };
	uint32_t got;
	float *lbuf = malloc(sizeof(float) * orc_model_n_vocab(m));

	make_ids(ids, 40, orc_model_n_vocab(m), 17);
	orc_gen_params_default(&p);
	ck_assert(p.reuse_prefix);
	p.sampling.temperature = 0;
	p.max_tokens = 24;
	p.prefill_chunk = 7;
	gen(m, &p, ids, 40, &r1);
	gen(m, &p, ids, 40, &r2);
	ck_assert_uint_eq(r1.timings.cached_prompt_tokens, 0);
	ck_assert_uint_eq(r2.timings.cached_prompt_tokens, 32);
	ck_assert_uint_eq(r1.n_ids, r2.n_ids);
	ck_assert(memcmp(r1.ids, r2.ids, r1.n_ids * sizeof(int32_t)) == 0);
	ck_assert_str_eq(r1.text, r2.text);
	{       /* the prompt plus the first answer: the answer's blocks are cached too */
		size_t n = 40 + r1.n_ids;
		int32_t *both = malloc(sizeof(int32_t) * n);
		struct orc_gen_result r5;
		memcpy(both, ids, sizeof(int32_t) * 40);
		memcpy(both + 40, r1.ids, sizeof(int32_t) * r1.n_ids);
		gen(m, &p, both, n, &r5);
		ck_assert_uint_eq(r5.timings.cached_prompt_tokens, (n - 1) / 16 * 16);
		orc_gen_result_free(&r5);
		free(both);
	}
	p.reuse_prefix = false;
	gen(m, &p, ids, 40, &r3);
	ck_assert_uint_eq(r3.timings.cached_prompt_tokens, 0);
	ck_assert(memcmp(r1.ids, r3.ids, r1.n_ids * sizeof(int32_t)) == 0);
	p.reuse_prefix = true;
	p.prompt_logprobs = 2;                          /* needs every position: no reuse */
	gen(m, &p, ids, 40, &r4);
	ck_assert_uint_eq(r4.timings.cached_prompt_tokens, 0);
	ck_assert(memcmp(r1.ids, r4.ids, r1.n_ids * sizeof(int32_t)) == 0);

	/* attach: too late once the generation started, or on a used sequence */
	p.prompt_logprobs = 0;
	ck_assert_int_eq(orc_gen_new(m, &p, ids, 40, &g, &err), 0);
	s = seq_new(m);
	orc_test_eval1(m, s, ids, 1, false, lbuf);
	ck_assert_int_eq(orc_gen_attach(g, s, &got, &err), -EINVAL);
	orc_seq_clear(s);
	ck_assert_int_eq(orc_gen_attach(g, s, &got, &err), 0);
	ck_assert_uint_eq(got, 32);
	ck_assert_int_eq(orc_gen_next_input(g, &it), 0);
	ck_assert_int_eq(it.ids[0], ids[32]);          /* the prompt goes on after the cache */
	ck_assert_uint_eq(it.n, 7);
	ck_assert_int_eq(orc_gen_attach(g, s, &got, &err), -EINVAL);
	orc_seq_free(s);
	orc_gen_free(g);
	orc_gen_result_free(&r1);
	orc_gen_result_free(&r2);
	orc_gen_result_free(&r3);
	orc_gen_result_free(&r4);
	free(lbuf);
	orc_model_free(m);
}
END_TEST

static bool have_shared(void)
{
	struct stat st;
	const char *d = getenv("ORC_SHARED");

	return stat(d && *d ? d : "../shared", &st) == 0 && S_ISDIR(st.st_mode);
}

int main(void)
{
	Suite *s = suite_create("prefix");
	TCase *ti = tcase_create("index"), *te = tcase_create("engine");

	tcase_add_loop_test(ti, index_chains_and_collisions, 0, 2);
	tcase_add_test(ti, index_lru_eviction);
	suite_add_tcase(s, ti);
	if (have_shared()) {
		tcase_set_timeout(te, 300);
		tcase_add_loop_test(te, reuse_is_bit_identical, 0, 5);
		tcase_add_loop_test(te, reuse_decoded_blocks, 0, 2);
		tcase_add_loop_test(te, divergence_and_collisions, 0, 2);
		tcase_add_loop_test(te, eviction_under_pressure, 0, 2);
		tcase_add_test(te, accounting);
		tcase_add_test(te, reuse_errors);
		tcase_add_loop_test(te, gen_reports_cached_tokens, 0, 2);
		suite_add_tcase(s, te);
	} else {
		fprintf(stderr, "shared fixtures not found (set ORC_SHARED): index tests only\n");
	}
	return orc_test_run(s);
}
