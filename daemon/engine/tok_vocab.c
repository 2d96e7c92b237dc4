/* tok_vocab.c -- the tokenizer's data structures: the text -> id and
 * merge-pair -> rank hash tables (open addressing, built once, then only
 * read), and the growable buffers and binary heap that one encode call uses
 * as scratch. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* ---- growable buffers ---- */

static size_t grow_cap(size_t cap, size_t need)
{
	size_t c = cap ? cap : 64;
	while (c < need)
		c *= 2;
	return c;
}

int orc_tok_ids_push(struct orc_tok_ids *ids, int32_t id)
{
	if (ids->n == ids->cap) {
		size_t cap = grow_cap(ids->cap, ids->n + 1);
		int32_t *v = realloc(ids->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ids->v = v;
		ids->cap = cap;
	}
	ids->v[ids->n++] = id;
	return 0;
}

int orc_tok_bytes_reserve(struct orc_tok_bytes *b, size_t extra)
{
	if (extra > SIZE_MAX / 2 - b->n)
		return -ENOMEM;
	if (b->n + extra > b->cap) {
		size_t cap = grow_cap(b->cap, b->n + extra);
		char *v = realloc(b->v, cap);
		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	return 0;
}

int orc_tok_bytes_append(struct orc_tok_bytes *b, const void *p, size_t n)
{
	int r = orc_tok_bytes_reserve(b, n);
	if (r < 0)
		return r;
	if (n)
		memcpy(b->v + b->n, p, n);
	b->n += n;
	return 0;
}

int orc_tok_syms_reserve(struct orc_tok_scratch *s, size_t n)
{
	if (n > s->cap_syms) {
		size_t cap = grow_cap(s->cap_syms, n);
		struct orc_tok_sym *v = realloc(s->syms, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->syms = v;
		s->cap_syms = cap;
	}
	return 0;
}

void orc_tok_scratch_free(struct orc_tok_scratch *s)
{
	free(s->syms);
	free(s->heap);
	free(s->buf.v);
	free(s->mapped.v);
	free(s->words);
	if (s->match_data)
		orc_pretok_match_data_free(s->match_data);
}

/* ---- binary min-heap of candidate merges: lowest prio, then leftmost ---- */

static bool pair_before(const struct orc_tok_pair *a, const struct orc_tok_pair *b)
{
	return a->prio < b->prio || (a->prio == b->prio && a->left < b->left);
}

int orc_tok_heap_push(struct orc_tok_scratch *s, const struct orc_tok_pair *p)
{
	size_t i;

	if (s->n_heap == s->cap_heap) {
		size_t cap = grow_cap(s->cap_heap, s->n_heap + 1);
		struct orc_tok_pair *v = realloc(s->heap, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->heap = v;
		s->cap_heap = cap;
	}
	i = s->n_heap++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!pair_before(p, &s->heap[parent]))
			break;
		s->heap[i] = s->heap[parent];
		i = parent;
	}
	s->heap[i] = *p;
	return 0;
}

bool orc_tok_heap_pop(struct orc_tok_scratch *s, struct orc_tok_pair *ret)
{
	struct orc_tok_pair last;
	size_t i = 0, n;

	if (s->n_heap == 0)
		return false;
	*ret = s->heap[0];
	last = s->heap[--s->n_heap];
	n = s->n_heap;
	while (2 * i + 1 < n) {
		size_t c = 2 * i + 1;
		if (c + 1 < n && pair_before(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!pair_before(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n)
		s->heap[i] = last;
	return true;
}

/* ---- token text -> id ---- */

/* 8 bytes at a time, multiply and xor-shift, then a final mix so the low
 * bits serve as index. Entries are short: this is most of a lookup's cost. */
uint32_t orc_tok_hash(const char *s, size_t len)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ len, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
		h ^= h >> 31;
	}
	if (len) {
		w = 0;
		for (size_t i = 0; i < len; i++)
			w |= (uint64_t)(unsigned char)s[i] << (8 * i);
		h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
	}
	h ^= h >> 29;
	h *= 0x94D049BB133111EBull;
	h ^= h >> 32;
	return (uint32_t)h;
}

static bool same(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

static uint32_t table_size(uint32_t n)
{
	uint32_t size = 16;
	while (size < n + n / 2 + 1)  /* load factor <= 2/3 */
		size *= 2;
	return size;
}

int orc_tok_strtab_init(struct orc_tok_strtab *h, uint32_t n)
{
	uint32_t size = table_size(n);

	h->slots = calloc(size, sizeof(*h->slots));
	if (!h->slots)
		return -ENOMEM;
	h->mask = size - 1;
	return 0;
}

void orc_tok_strtab_free(struct orc_tok_strtab *h)
{
	free(h->slots);
	h->slots = NULL;
}

int orc_tok_strtab_insert(struct orc_tok *t, int32_t id, uint32_t hash, int32_t *ret_existing)
{
	struct orc_tok_strtab *h = &t->vocab;
	const struct orc_tok_entry *e = &t->entries[id];
	const char *s = t->text + e->text_off;

	for (uint32_t i = hash & h->mask;; i = (i + 1) & h->mask) {
		struct orc_tok_slot *slot = &h->slots[i];
		if (slot->id1 == 0) {
			slot->hash = hash;
			slot->id1 = (uint32_t)id + 1;
			slot->text_off = e->text_off;
			slot->text_len = e->text_len;
			return 0;
		}
		if (slot->hash == hash && slot->text_len == e->text_len &&
		    memcmp(t->text + slot->text_off, s, e->text_len) == 0) {
			*ret_existing = (int32_t)(slot->id1 - 1);
			return -EEXIST;
		}
	}
}

int32_t orc_tok_find(const struct orc_tok *t, const char *s, size_t len)
{
	if (len == 0 || len > t->max_text_len)
		return -1;
	return orc_tok_find_hashed(t, s, len, orc_tok_hash(s, len));
}

void orc_tok_prefetch(const struct orc_tok *t, uint32_t hash)
{
	__builtin_prefetch(&t->vocab.slots[hash & t->vocab.mask]);
}

int32_t orc_tok_find_hashed(const struct orc_tok *t, const char *s, size_t len, uint32_t hash)
{
	const struct orc_tok_strtab *h = &t->vocab;

	for (uint32_t i = hash & h->mask;; i = (i + 1) & h->mask) {
		const struct orc_tok_slot *slot = &h->slots[i];
		if (slot->id1 == 0)
			return -1;
		if (slot->hash == hash && slot->text_len == len && same(t->text + slot->text_off, s, len))
			return (int32_t)(slot->id1 - 1);
	}
}

/* ---- merge pair -> rank ---- */

static uint32_t mix64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdull;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ull;
	k ^= k >> 33;
	return (uint32_t)k;
}

static uint64_t merge_key(int32_t left, int32_t right)
{
	return (((uint64_t)(uint32_t)left << 32) | (uint32_t)right) + 1;
}

int orc_tok_mergetab_init(struct orc_tok_mergetab *m, uint32_t n)
{
	uint32_t size = table_size(n);

	m->slots = calloc(size, sizeof(*m->slots));
	if (!m->slots)
		return -ENOMEM;
	m->mask = size - 1;
	m->n = 0;
	m->n_skipped = 0;
	return 0;
}

void orc_tok_mergetab_free(struct orc_tok_mergetab *m)
{
	free(m->slots);
	m->slots = NULL;
}

void orc_tok_merge_prefetch(const struct orc_tok_mergetab *m, int32_t left, int32_t right)
{
	__builtin_prefetch(&m->slots[mix64(merge_key(left, right)) & m->mask], 1);
}

/* The first rank given to a pair wins, as in llama.cpp and Hugging Face. */
void orc_tok_mergetab_put(struct orc_tok_mergetab *m, int32_t left, int32_t right,
			  int32_t rank, int32_t result)
{
	uint64_t key = merge_key(left, right);

	for (uint32_t i = mix64(key) & m->mask;; i = (i + 1) & m->mask) {
		struct orc_tok_merge *s = &m->slots[i];
		if (s->key == key)
			return;
		if (s->key == 0) {
			s->key = key;
			s->rank = rank;
			s->result = result;
			m->n++;
			return;
		}
	}
}

const struct orc_tok_merge *orc_tok_merge_find(const struct orc_tok_mergetab *m,
					       int32_t left, int32_t right)
{
	uint64_t key = merge_key(left, right);

	if (!m->slots)
		return NULL;
	for (uint32_t i = mix64(key) & m->mask;; i = (i + 1) & m->mask) {
		const struct orc_tok_merge *s = &m->slots[i];
		if (s->key == key)
			return s;
		if (s->key == 0)
			return NULL;
	}
}
