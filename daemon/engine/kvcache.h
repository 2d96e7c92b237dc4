/* kvcache.h -- the paged KV cache's block allocator (host side). The cache
 * is n_blocks blocks of block_size token rows; a sequence owns a table of
 * block ids. Blocks carry reference counts so that sequences can later
 * share prefix blocks. The K/V rows themselves live in backend memory
 * (graph.c); this module only hands out block ids. Library code. */
#ifndef ORC_KVCACHE_H
#define ORC_KVCACHE_H

#include <stdint.h>

#include "error.h"

#define ORC_KV_BLOCK_SIZE 16   /* tokens per block */

struct orc_kv_pool;

int orc_kv_pool_new(uint32_t n_blocks, struct orc_kv_pool **ret, struct orc_err *err);
void orc_kv_pool_free(struct orc_kv_pool *p);   /* NULL is a no-op */

uint32_t orc_kv_pool_n_free(const struct orc_kv_pool *p);
uint32_t orc_kv_pool_n_blocks(const struct orc_kv_pool *p);
/* A free block with reference count 1; -ENOSPC when none is left. */
int orc_kv_block_alloc(struct orc_kv_pool *p, int32_t *ret);
/* Add a reference (sharing a block); the block must be in use. */
void orc_kv_block_ref(struct orc_kv_pool *p, int32_t b);
/* Drop a reference; the block returns to the pool at zero. */
void orc_kv_block_unref(struct orc_kv_pool *p, int32_t b);
uint32_t orc_kv_block_refs(const struct orc_kv_pool *p, int32_t b);

#endif
