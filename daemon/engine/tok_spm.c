/* tok_spm.c -- SentencePiece BPE ("llama" tokenizers: Llama 2, Phi-3, the
 * TinyStories models). Spaces become "▁" (U+2581), a "▁" goes in front of
 * the text, and the text starts as one symbol per character. The
 * neighbouring pair whose concatenation is the vocabulary entry with the
 * highest score merges next (leftmost on ties), as llama.cpp's
 * llm_tokenizer_spm does. A final symbol that is no token falls back to its
 * bytes' <0xNN> tokens. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tok_internal.h"

static const char spm_space[3] = { '\xE2', '\x96', '\x81' };  /* U+2581 */

/* s->buf = ["▁"] + text with every ' ' replaced by "▁". */
static int escape(const char *text, size_t len, bool prefix_space, struct orc_tok_scratch *s)
{
	size_t run = 0;
	int r;

	s->buf.n = 0;
	if (len > (SIZE_MAX - 3) / 3)
		return -ENOMEM;
	if ((r = orc_tok_bytes_reserve(&s->buf, 3 * len + 3)) < 0)
		return r;
	if (prefix_space)
		orc_tok_bytes_append(&s->buf, spm_space, sizeof(spm_space));
	for (size_t i = 0; i < len; i++) {
		if (text[i] != ' ')
			continue;
		orc_tok_bytes_append(&s->buf, text + run, i - run);
		orc_tok_bytes_append(&s->buf, spm_space, sizeof(spm_space));
		run = i + 1;
	}
	orc_tok_bytes_append(&s->buf, text + run, len - run);
	return 0;
}

static int try_bigram(const struct orc_tok *t, struct orc_tok_scratch *s, int32_t a, int32_t b)
{
	struct orc_tok_pair p;
	uint32_t len;
	int32_t id;

	if (a < 0 || b < 0)
		return 0;
	len = s->syms[a].len + s->syms[b].len;  /* b follows a in the buffer */
	id = orc_tok_find(t, s->buf.v + s->syms[a].off, len);
	if (id < 0)
		return 0;
	p.prio = -t->entries[id].score;
	p.left = a;
	p.right = b;
	p.lid = (int32_t)len;
	p.rid = id;
	p.res = id;
	return orc_tok_heap_push(s, &p);
}

/* A final symbol: its token, else the tokens of its bytes. */
static int emit(const struct orc_tok *t, const struct orc_tok_sym *y, const char *buf,
		struct orc_tok_ids *out)
{
	int32_t id = orc_tok_find(t, buf + y->off, y->len);
	int r = 0;

	if (id >= 0)
		return orc_tok_ids_push(out, id);
	for (uint32_t i = 0; i < y->len && r == 0; i++) {
		id = t->byte_id[(uint8_t)buf[y->off + i]];
		if (id < 0)
			id = t->unk;    /* no byte fallback in this vocabulary */
		if (id >= 0)
			r = orc_tok_ids_push(out, id);
	}
	return r;
}

/* ---- short words: scan the pairs (highest score, then leftmost) ---- */

struct short_sym {
	uint32_t off, len;
	float score;   /* of the pair (this, next) */
	bool ok;       /* that pair is an entry */
};

static void score_pair(const struct orc_tok *t, const char *buf, struct short_sym *w)
{
	int32_t id = orc_tok_find(t, buf + w[0].off, w[0].len + w[1].len);

	w->ok = id >= 0;
	w->score = id >= 0 ? t->entries[id].score : 0.0f;
}

static int spm_short(const struct orc_tok *t, const char *buf, size_t from, size_t to,
		     struct orc_tok_ids *out)
{
	struct short_sym w[ORC_TOK_SHORT_WORD];
	size_t n = 0;
	int r;

	for (size_t off = from; off < to; n++) {
		size_t k = orc_utf8_seq_len((unsigned char)buf[off]);
		w[n].off = (uint32_t)off;
		w[n].len = (uint32_t)(k < to - off ? k : to - off);
		off += w[n].len;
	}
	for (size_t i = 0; i + 1 < n; i++)
		score_pair(t, buf, &w[i]);
	while (n > 1) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i + 1 < n; i++)
			if (w[i].ok && (best == SIZE_MAX || w[i].score > w[best].score))
				best = i;
		if (best == SIZE_MAX)
			break;
		w[best].len += w[best + 1].len;
		n--;
		memmove(w + best + 1, w + best + 2, (n - best - 1) * sizeof(w[0]));
		if (best > 0)
			score_pair(t, buf, &w[best - 1]);
		if (best + 1 < n)
			score_pair(t, buf, &w[best]);
	}
	for (size_t i = 0; i < n; i++) {
		struct orc_tok_sym y = { -1, -1, w[i].off, w[i].len, -1 };
		if ((r = emit(t, &y, buf, out)) < 0)
			return r;
	}
	return 0;
}

/* Merge the symbols of buf[from, to). */
static int spm_merge(const struct orc_tok *t, struct orc_tok_scratch *s, size_t from, size_t to,
		     struct orc_tok_ids *out)
{
	const char *buf = s->buf.v;
	struct orc_tok_pair p;
	size_t n = 0;
	int r;

	/* bytes: at most as many characters */
	if (to - from <= t->short_word && to - from <= ORC_TOK_SHORT_WORD)
		return spm_short(t, buf, from, to, out);
	if ((r = orc_tok_syms_reserve(s, to - from)) < 0)
		return r;
	for (size_t off = from; off < to; n++) {
		size_t k = orc_utf8_seq_len((unsigned char)buf[off]);
		struct orc_tok_sym *y = &s->syms[n];
		if (k > to - off)
			k = to - off;
		y->prev = (int32_t)n - 1;
		y->off = (uint32_t)off;
		y->len = (uint32_t)k;
		y->id = -1;
		off += k;
		y->next = off < to ? (int32_t)n + 1 : -1;
	}
	s->n_heap = 0;
	for (size_t i = 1; i < n; i++)
		if ((r = try_bigram(t, s, (int32_t)i - 1, (int32_t)i)) < 0)
			return r;
	while (orc_tok_heap_pop(s, &p)) {
		struct orc_tok_sym *l = &s->syms[p.left], *rt = &s->syms[p.right];

		if (l->len == 0 || rt->len == 0 || l->len + rt->len != (uint32_t)p.lid)
			continue;   /* stale */
		l->len += rt->len;
		rt->len = 0;
		l->next = rt->next;
		if (rt->next >= 0)
			s->syms[rt->next].prev = p.left;
		if ((r = try_bigram(t, s, l->prev, p.left)) < 0 ||
		    (r = try_bigram(t, s, p.left, l->next)) < 0)
			return r;
	}
	for (int32_t i = 0; i != -1; i = s->syms[i].next)
		if ((r = emit(t, &s->syms[i], buf, out)) < 0)
			return r;
	return 0;
}

static bool is_space_at(const char *buf, size_t off)
{
	return memcmp(buf + off, spm_space, sizeof(spm_space)) == 0;
}

/* Where the next word starts: a "▁" after something else. When no entry
 * holds a "▁" after another character (t->spm_words), no merge can cross
 * there, so words are merged one at a time: same result, small heaps. */
static size_t next_word(const struct orc_tok *t, const char *buf, size_t from, size_t len)
{
	if (!t->spm_words)
		return len;
	for (size_t i = from + 1; i + sizeof(spm_space) <= len; i++) {
		const char *m = memchr(buf + i, spm_space[0], len - i);
		if (!m)
			return len;
		i = (size_t)(m - buf);
		if (i + sizeof(spm_space) <= len && is_space_at(buf, i) &&
		    !(i >= sizeof(spm_space) && is_space_at(buf, i - sizeof(spm_space))))
			return i;
	}
	return len;
}

int orc_tok_spm_fragment(const struct orc_tok *t, const char *text, size_t len,
			 bool prefix_space, struct orc_tok_scratch *s, struct orc_tok_ids *out,
			 struct orc_err *err)
{
	int r = escape(text, len, prefix_space, s);

	for (size_t from = 0; r == 0 && from < s->buf.n;) {
		size_t to = next_word(t, s->buf.v, from, s->buf.n);
		r = spm_merge(t, s, from, to, out);
		from = to;
	}
	return r < 0 ? orc_err_set(err, r, "out of memory") : 0;
}
