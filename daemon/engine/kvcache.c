/* kvcache.c -- block ids of the paged KV cache: a LIFO free stack plus a
 * reference count per block (see kvcache.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "kvcache.h"

struct orc_kv_pool {
	uint32_t n_blocks;
	uint32_t n_free;
	int32_t *free_stack;   /* [n_blocks]: the first n_free entries are free ids */
	uint32_t *refs;        /* [n_blocks] */
};

int orc_kv_pool_new(uint32_t n_blocks, struct orc_kv_pool **ret, struct orc_err *err)
{
	struct orc_kv_pool *p = calloc(1, sizeof(*p));

	if (n_blocks == 0 || n_blocks > INT32_MAX) {
		free(p);
		return orc_err_set(err, -EINVAL, "a KV cache of %u blocks", n_blocks);
	}
	if (p) {
		p->free_stack = malloc(sizeof(int32_t) * n_blocks);
		p->refs = calloc(n_blocks, sizeof(uint32_t));
	}
	if (!p || !p->free_stack || !p->refs) {
		orc_kv_pool_free(p);
		return orc_err_set(err, -ENOMEM, "out of memory for %u KV blocks", n_blocks);
	}
	p->n_blocks = n_blocks;
	p->n_free = n_blocks;
	/* pop order 0, 1, 2, ...: the last id is at the bottom */
	for (uint32_t i = 0; i < n_blocks; i++)
		p->free_stack[i] = (int32_t)(n_blocks - 1 - i);
	*ret = p;
	return 0;
}

void orc_kv_pool_free(struct orc_kv_pool *p)
{
	if (!p)
		return;
	free(p->free_stack);
	free(p->refs);
	free(p);
}

uint32_t orc_kv_pool_n_free(const struct orc_kv_pool *p)
{
	return p->n_free;
}

uint32_t orc_kv_pool_n_blocks(const struct orc_kv_pool *p)
{
	return p->n_blocks;
}

int orc_kv_block_alloc(struct orc_kv_pool *p, int32_t *ret)
{
	int32_t b;

	if (p->n_free == 0)
		return -ENOSPC;
	b = p->free_stack[--p->n_free];
	p->refs[b] = 1;
	*ret = b;
	return 0;
}

void orc_kv_block_ref(struct orc_kv_pool *p, int32_t b)
{
	p->refs[b]++;
}

void orc_kv_block_unref(struct orc_kv_pool *p, int32_t b)
{
	if (p->refs[b] > 0 && --p->refs[b] == 0)
		p->free_stack[p->n_free++] = b;
}

uint32_t orc_kv_block_refs(const struct orc_kv_pool *p, int32_t b)
{
	return p->refs[b];
}
