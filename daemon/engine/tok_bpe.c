/* tok_bpe.c -- byte-level BPE ("gpt2" tokenizers: GPT-2, Qwen2, Llama 3):
 * GPT-2's byte <-> character table, and the merge loop over one
 * pre-tokenized word. Each byte starts as the token of its character; the
 * neighbouring pair with the lowest rank in tokenizer.ggml.merges (leftmost
 * on ties) merges next, until no pair has a rank. Ids, not strings, are
 * compared, and merge candidates wait in a heap, so a word costs O(n log n). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tok_internal.h"

/* ---- GPT-2's bytes_to_unicode() ----
 * Printable bytes (! .. ~, ¡ .. ¬, ® .. ÿ) stand for themselves; the other 68
 * bytes, in byte order, take the code points 256, 257, ... */
uint32_t orc_tok_byte_to_cp(uint8_t b)
{
	if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
		return b;
	if (b <= 0x20)
		return 256u + b;            /* 0x00 .. 0x20 -> 256 .. 288 */
	if (b >= 0x7F && b <= 0xA0)
		return 289u + (b - 0x7Fu);  /* 0x7F .. 0xA0 -> 289 .. 322 */
	return 323u;                    /* 0xAD */
}

int orc_tok_cp_to_byte(uint32_t cp)
{
	if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
		return (int)cp;
	if (cp >= 256 && cp <= 288)
		return (int)(cp - 256);
	if (cp >= 289 && cp <= 322)
		return (int)(cp - 289 + 0x7F);
	if (cp == 323)
		return 0xAD;
	return -1;
}

/* ---- merging ---- */

static int try_pair(const struct orc_tok *t, struct orc_tok_scratch *s, int32_t a, int32_t b)
{
	const struct orc_tok_merge *m;
	struct orc_tok_pair p;

	if (a < 0 || b < 0 || s->syms[a].id < 0 || s->syms[b].id < 0)
		return 0;
	m = orc_tok_merge_find(&t->merges, s->syms[a].id, s->syms[b].id);
	if (!m)
		return 0;
	p.prio = (float)m->rank;
	p.left = a;
	p.right = b;
	p.lid = s->syms[a].id;
	p.rid = s->syms[b].id;
	p.res = m->result;
	return orc_tok_heap_push(s, &p);
}

/* Llama 3 style: a word that is itself a token is not merged. */
static int32_t whole_word(const struct orc_tok *t, const char *w, size_t n,
			  struct orc_tok_scratch *s)
{
	s->mapped.n = 0;
	if (orc_tok_bytes_reserve(&s->mapped, n * 2) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char u[4];
		size_t k = orc_utf8_encode(orc_tok_byte_to_cp((uint8_t)w[i]), u);
		orc_tok_bytes_append(&s->mapped, u, k);
	}
	return orc_tok_find(t, s->mapped.v, s->mapped.n);
}

/* ---- short words: scan the pairs instead of keeping a heap ----
 * The same order as the heap (lowest rank, then leftmost), in O(n^2) on a
 * few dozen symbols, which is faster than heap traffic. */

struct short_sym {
	int32_t id;
	int32_t rank;    /* of the pair (this, next); INT32_MAX: no merge */
	int32_t res;     /* its result */
};

static void rank_pair(const struct orc_tok *t, struct short_sym *w)
{
	const struct orc_tok_merge *m = NULL;

	if (w[0].id >= 0 && w[1].id >= 0)
		m = orc_tok_merge_find(&t->merges, w[0].id, w[1].id);
	w->rank = m ? m->rank : INT32_MAX;
	w->res = m ? m->result : -1;
}

static int bpe_short(const struct orc_tok *t, const char *s, size_t n, struct orc_tok_ids *out)
{
	struct short_sym w[ORC_TOK_SHORT_WORD];
	int r;

	for (size_t i = 0; i < n; i++)
		w[i].id = t->byte_id[(uint8_t)s[i]];
	for (size_t i = 0; i + 1 < n; i++)
		rank_pair(t, &w[i]);
	while (n > 1) {
		size_t best = 0;
		for (size_t i = 1; i + 1 < n; i++)
			if (w[i].rank < w[best].rank)
				best = i;
		if (w[best].rank == INT32_MAX)
			break;
		w[best].id = w[best].res;
		n--;
		memmove(w + best + 1, w + best + 2, (n - best - 1) * sizeof(w[0]));
		if (best > 0)
			rank_pair(t, &w[best - 1]);
		if (best + 1 < n)
			rank_pair(t, &w[best]);
	}
	for (size_t i = 0; i < n; i++)
		if (w[i].id >= 0 && (r = orc_tok_ids_push(out, w[i].id)) < 0)
			return r;
	return 0;
}

static int bpe_word(const struct orc_tok *t, const char *w, size_t n,
		    struct orc_tok_scratch *s, struct orc_tok_ids *out)
{
	struct orc_tok_pair p;
	int r;

	if (n == 1)
		return t->byte_id[(uint8_t)w[0]] >= 0 ? orc_tok_ids_push(out, t->byte_id[(uint8_t)w[0]]) : 0;
	if (t->ignore_merges) {
		int32_t id = whole_word(t, w, n, s);
		if (id >= 0)
			return orc_tok_ids_push(out, id);
	}
	if (n <= t->short_word && n <= ORC_TOK_SHORT_WORD)
		return bpe_short(t, w, n, out);
	if ((r = orc_tok_syms_reserve(s, n)) < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		struct orc_tok_sym *y = &s->syms[i];
		y->prev = (int32_t)i - 1;
		y->next = i + 1 < n ? (int32_t)i + 1 : -1;
		y->off = (uint32_t)i;
		y->len = 1;
		y->id = t->byte_id[(uint8_t)w[i]];
	}
	s->n_heap = 0;
	for (size_t i = 1; i < n; i++)
		if ((r = try_pair(t, s, (int32_t)i - 1, (int32_t)i)) < 0)
			return r;
	while (orc_tok_heap_pop(s, &p)) {
		struct orc_tok_sym *l = &s->syms[p.left], *rt = &s->syms[p.right];

		/* stale: one side has changed since the pair was proposed */
		if (l->len == 0 || rt->len == 0 || l->next != p.right || l->id != p.lid || rt->id != p.rid)
			continue;
		l->id = p.res;
		l->len += rt->len;
		rt->len = 0;
		l->next = rt->next;
		if (rt->next >= 0)
			s->syms[rt->next].prev = p.left;
		if ((r = try_pair(t, s, l->prev, p.left)) < 0 ||
		    (r = try_pair(t, s, p.left, l->next)) < 0)
			return r;
	}
	/* A byte without a token (a vocabulary lacking it) is dropped, as llama.cpp does. */
	for (int32_t i = 0; i != -1; i = s->syms[i].next)
		if (s->syms[i].id >= 0 && (r = orc_tok_ids_push(out, s->syms[i].id)) < 0)
			return r;
	return 0;
}

int orc_tok_bpe_fragment(const struct orc_tok *t, const char *text, size_t len,
			 struct orc_tok_scratch *s, struct orc_tok_ids *out, struct orc_err *err)
{
	int r;

	if (t->nfc && (r = orc_pretok_nfc(text, len, s, &text, &len, err)) < 0)
		return r;
	if ((r = orc_pretok_split(t->pretok, text, len, s, err)) < 0)
		return r;
	for (size_t i = 0; i < s->n_words; i++) {
		r = bpe_word(t, text + s->words[2 * i], s->words[2 * i + 1], s, out);
		if (r < 0)
			return orc_err_set(err, r, "out of memory");
	}
	return 0;
}
