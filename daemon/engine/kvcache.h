/* kvcache.h -- the paged KV cache's block allocator and prefix index (host
 * side). The cache is n_blocks blocks of block_size token rows; a sequence
 * owns a table of block ids. Blocks carry reference counts so that
 * sequences share the blocks of a common prompt prefix. The K/V rows
 * themselves live in backend memory (graph.c); this module only hands out
 * block ids and remembers which full blocks hold which tokens. Library code.
 *
 * Prefix index. A full block is registered with the 16 token ids it holds
 * and the link of the block before it in its sequence (struct orc_kv_link:
 * a hash chained over every earlier block, and the serial number the index
 * gave that block). A lookup recomputes the chain from the prompt, and a
 * candidate counts only when its stored ids and its predecessor's serial
 * both match: a hash is never trusted alone, and serials are never reused,
 * so a hit proves that the whole token prefix is equal.
 *
 * Block states: free (no references, not registered), in use (references
 * > 0, registered or not), cached (no references, registered: evictable).
 * When no free block is left, orc_kv_block_alloc() reclaims the least
 * recently released cached block. A block in use is never reclaimed. */
#ifndef ORC_KVCACHE_H
#define ORC_KVCACHE_H

#include <stdint.h>

#include "error.h"

#define ORC_KV_BLOCK_SIZE 16   /* tokens per block */

struct orc_kv_pool;

/* Where a chain of full blocks stands: the chained hash of the last block
 * and its serial in the index (orc_kv_link_root(): before the first). */
struct orc_kv_link {
	uint64_t hash;
	uint64_t serial;
};

struct orc_kv_stats {
	uint32_t n_blocks;
	uint32_t n_free;        /* neither in use nor cached */
	uint32_t n_registered;  /* in the prefix index (in use or cached) */
	uint32_t n_evictable;   /* cached: registered and without references */
	uint64_t evictions;     /* cached blocks reclaimed by orc_kv_block_alloc */
};

int orc_kv_pool_new(uint32_t n_blocks, struct orc_kv_pool **ret, struct orc_err *err);
void orc_kv_pool_free(struct orc_kv_pool *p);   /* NULL is a no-op */

/* Blocks orc_kv_block_alloc() can still hand out: free plus cached. */
uint32_t orc_kv_pool_n_free(const struct orc_kv_pool *p);
uint32_t orc_kv_pool_n_blocks(const struct orc_kv_pool *p);
void orc_kv_pool_stats(const struct orc_kv_pool *p, struct orc_kv_stats *ret);

/* A block with reference count 1, unregistered: a free one, else the least
 * recently released cached one (dropped from the index); -ENOSPC when every
 * block is in use. */
int orc_kv_block_alloc(struct orc_kv_pool *p, int32_t *ret);
/* Add a reference (sharing a block): the block is in use or cached. */
void orc_kv_block_ref(struct orc_kv_pool *p, int32_t b);
/* Drop a reference. At zero a registered block becomes cached (the most
 * recently released); any other block becomes free. */
void orc_kv_block_unref(struct orc_kv_pool *p, int32_t b);
uint32_t orc_kv_block_refs(const struct orc_kv_pool *p, int32_t b);

/* ---- prefix index ---- */

/* The link before the first block of every sequence. */
struct orc_kv_link orc_kv_link_root(const struct orc_kv_pool *p);

/* The registered block that follows `prev` and holds ids[0..block_size):
 * its id, and its link in *ret_next; -1 when there is none. */
int32_t orc_kv_prefix_find(const struct orc_kv_pool *p, const struct orc_kv_link *prev,
			   const int32_t *ids, struct orc_kv_link *ret_next);

/* Register block b (in use, full with ids, following `prev`) and set
 * *ret_next to its link. When an equal block (same ids after the same
 * link) is registered already, b stays unregistered and that block's id
 * and link are returned instead: its K/V rows are the same, and the caller
 * may share it in place of b. Registering a registered block returns it. */
int32_t orc_kv_prefix_register(struct orc_kv_pool *p, int32_t b, const struct orc_kv_link *prev,
			       const int32_t *ids, struct orc_kv_link *ret_next);

/* Drop every cached block from the index (they become free); blocks in
 * use stay registered. */
void orc_kv_prefix_drop_cached(struct orc_kv_pool *p);

/* Testing: keep only the hash bits in `mask` (0: every block has the same
 * hash), so that tests can force collisions. Call it before registering. */
void orc_kv_pool_set_hash_mask(struct orc_kv_pool *p, uint64_t mask);

#endif
