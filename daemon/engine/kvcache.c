/* kvcache.c -- block ids of the paged KV cache (see kvcache.h): a LIFO
 * stack of free blocks, a reference count per block, the prefix index (a
 * hash table of registered full blocks, chained per bucket) and the LRU
 * list of cached blocks that allocation reclaims from its head. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kvcache.h"

#define BLOCK ORC_KV_BLOCK_SIZE
#define NONE (-1)
#define ROOT_HASH UINT64_C(0x6f7263642d6b7631)   /* "orcd-kv1" */

struct kv_block {
	uint32_t refs;
	uint64_t serial;          /* in the index when non-zero; never reused */
	uint64_t parent;          /* serial of the block before (0: the first block) */
	uint64_t hash;            /* chained over every block up to this one */
	int32_t ids[BLOCK];       /* the tokens it holds, when registered */
	int32_t bucket_next;      /* next registered block in its hash bucket */
	int32_t lru_prev, lru_next;  /* while cached */
};

struct orc_kv_pool {
	uint32_t n_blocks;
	uint32_t n_free;
	uint32_t n_registered;
	uint32_t n_lru;
	struct kv_block *blk;     /* [n_blocks] */
	int32_t *free_stack;      /* [n_blocks]: the first n_free entries are free ids */
	int32_t *bucket;          /* [bucket_mask + 1] first registered block, or NONE */
	uint64_t bucket_mask;
	int32_t lru_head, lru_tail;  /* cached blocks, least recently released first */
	uint64_t last_serial;
	uint64_t evictions;
	uint64_t hash_mask;
};

int orc_kv_pool_new(uint32_t n_blocks, struct orc_kv_pool **ret, struct orc_err *err)
{
	struct orc_kv_pool *p = calloc(1, sizeof(*p));
	uint64_t n_buckets = 1;

	if (n_blocks == 0 || n_blocks > INT32_MAX) {
		free(p);
		return orc_err_set(err, -EINVAL, "a KV cache of %u blocks", n_blocks);
	}
	while (n_buckets < n_blocks)
		n_buckets *= 2;
	if (p) {
		p->blk = calloc(n_blocks, sizeof(*p->blk));
		p->free_stack = malloc(sizeof(int32_t) * n_blocks);
		p->bucket = malloc(sizeof(int32_t) * n_buckets);
	}
	if (!p || !p->blk || !p->free_stack || !p->bucket) {
		orc_kv_pool_free(p);
		return orc_err_set(err, -ENOMEM, "out of memory for %u KV blocks", n_blocks);
	}
	p->n_blocks = n_blocks;
	p->n_free = n_blocks;
	/* pop order 0, 1, 2, ...: the last id is at the bottom */
	for (uint32_t i = 0; i < n_blocks; i++)
		p->free_stack[i] = (int32_t)(n_blocks - 1 - i);
	for (uint64_t i = 0; i < n_buckets; i++)
		p->bucket[i] = NONE;
	p->bucket_mask = n_buckets - 1;
	p->lru_head = p->lru_tail = NONE;
	p->hash_mask = UINT64_MAX;
	*ret = p;
	return 0;
}

void orc_kv_pool_free(struct orc_kv_pool *p)
{
	if (!p)
		return;
	free(p->blk);
	free(p->free_stack);
	free(p->bucket);
	free(p);
}

uint32_t orc_kv_pool_n_free(const struct orc_kv_pool *p)
{
	return p->n_free + p->n_lru;
}

uint32_t orc_kv_pool_n_blocks(const struct orc_kv_pool *p)
{
	return p->n_blocks;
}

void orc_kv_pool_stats(const struct orc_kv_pool *p, struct orc_kv_stats *ret)
{
	*ret = (struct orc_kv_stats){
		.n_blocks = p->n_blocks, .n_free = p->n_free, .n_registered = p->n_registered,
		.n_evictable = p->n_lru, .evictions = p->evictions,
	};
}

void orc_kv_pool_set_hash_mask(struct orc_kv_pool *p, uint64_t mask)
{
	p->hash_mask = mask;
}

/* ---- the LRU list of cached blocks ---- */

static void lru_remove(struct orc_kv_pool *p, int32_t b)
{
	struct kv_block *k = &p->blk[b];

	if (k->lru_prev != NONE)
		p->blk[k->lru_prev].lru_next = k->lru_next;
	else
		p->lru_head = k->lru_next;
	if (k->lru_next != NONE)
		p->blk[k->lru_next].lru_prev = k->lru_prev;
	else
		p->lru_tail = k->lru_prev;
	p->n_lru--;
}

static void lru_push_tail(struct orc_kv_pool *p, int32_t b)
{
	struct kv_block *k = &p->blk[b];

	k->lru_prev = p->lru_tail;
	k->lru_next = NONE;
	if (p->lru_tail != NONE)
		p->blk[p->lru_tail].lru_next = b;
	else
		p->lru_head = b;
	p->lru_tail = b;
	p->n_lru++;
}

/* ---- the hash table ---- */

static uint64_t mix64(uint64_t x)   /* splitmix64's finaliser */
{
	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static uint64_t chain_hash(const struct orc_kv_pool *p, uint64_t prev, const int32_t *ids)
{
	uint64_t h = prev;

	for (int i = 0; i < BLOCK; i++)
		h = mix64(h + UINT64_C(0x9e3779b97f4a7c15) + (uint32_t)ids[i]);
	return h & p->hash_mask;
}

static void index_insert(struct orc_kv_pool *p, int32_t b)
{
	int32_t *head = &p->bucket[p->blk[b].hash & p->bucket_mask];

	p->blk[b].bucket_next = *head;
	*head = b;
	p->n_registered++;
}

static void index_remove(struct orc_kv_pool *p, int32_t b)
{
	int32_t *pp = &p->bucket[p->blk[b].hash & p->bucket_mask];

	while (*pp != b)
		pp = &p->blk[*pp].bucket_next;
	*pp = p->blk[b].bucket_next;
	p->blk[b].serial = 0;
	p->n_registered--;
}

/* ---- blocks ---- */

int orc_kv_block_alloc(struct orc_kv_pool *p, int32_t *ret)
{
	int32_t b;

	if (p->n_free > 0) {
		b = p->free_stack[--p->n_free];
	} else if (p->lru_head != NONE) {
		b = p->lru_head;
		lru_remove(p, b);
		index_remove(p, b);
		p->evictions++;
	} else {
		return -ENOSPC;
	}
	p->blk[b].refs = 1;
	*ret = b;
	return 0;
}

void orc_kv_block_ref(struct orc_kv_pool *p, int32_t b)
{
	if (p->blk[b].refs++ == 0 && p->blk[b].serial != 0)
		lru_remove(p, b);      /* it was cached */
}

void orc_kv_block_unref(struct orc_kv_pool *p, int32_t b)
{
	struct kv_block *k = &p->blk[b];

	if (k->refs == 0 || --k->refs > 0)
		return;
	if (k->serial != 0)
		lru_push_tail(p, b);
	else
		p->free_stack[p->n_free++] = b;
}

uint32_t orc_kv_block_refs(const struct orc_kv_pool *p, int32_t b)
{
	return p->blk[b].refs;
}

/* ---- prefix index ---- */

struct orc_kv_link orc_kv_link_root(const struct orc_kv_pool *p)
{
	return (struct orc_kv_link){ .hash = ROOT_HASH & p->hash_mask, .serial = 0 };
}

static int32_t find_hashed(const struct orc_kv_pool *p, uint64_t h, uint64_t parent,
			   const int32_t *ids)
{
	for (int32_t b = p->bucket[h & p->bucket_mask]; b != NONE; b = p->blk[b].bucket_next) {
		const struct kv_block *k = &p->blk[b];
		if (k->hash == h && k->parent == parent && memcmp(k->ids, ids, sizeof(k->ids)) == 0)
			return b;
	}
	return NONE;
}

int32_t orc_kv_prefix_find(const struct orc_kv_pool *p, const struct orc_kv_link *prev,
			   const int32_t *ids, struct orc_kv_link *ret_next)
{
	uint64_t h = chain_hash(p, prev->hash, ids);
	int32_t b = find_hashed(p, h, prev->serial, ids);

	if (b != NONE)
		*ret_next = (struct orc_kv_link){ .hash = h, .serial = p->blk[b].serial };
	return b;
}

int32_t orc_kv_prefix_register(struct orc_kv_pool *p, int32_t b, const struct orc_kv_link *prev,
			       const int32_t *ids, struct orc_kv_link *ret_next)
{
	struct kv_block *k = &p->blk[b];
	uint64_t h;
	int32_t e;

	if (k->serial != 0) {
		*ret_next = (struct orc_kv_link){ .hash = k->hash, .serial = k->serial };
		return b;
	}
	h = chain_hash(p, prev->hash, ids);
	e = find_hashed(p, h, prev->serial, ids);
	if (e != NONE) {
		*ret_next = (struct orc_kv_link){ .hash = h, .serial = p->blk[e].serial };
		return e;
	}
	k->hash = h;
	k->parent = prev->serial;
	k->serial = ++p->last_serial;
	memcpy(k->ids, ids, sizeof(k->ids));
	index_insert(p, b);
	*ret_next = (struct orc_kv_link){ .hash = h, .serial = k->serial };
	return b;
}

void orc_kv_prefix_drop_cached(struct orc_kv_pool *p)
{
	while (p->lru_head != NONE) {
		int32_t b = p->lru_head;
		lru_remove(p, b);
		index_remove(p, b);
		p->free_stack[p->n_free++] = b;
	}
}
