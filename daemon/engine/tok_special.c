/* tok_special.c -- special tokens: which entries end generation, which are
 * matched in text (CONTROL, USER_DEFINED and UNKNOWN entries, longest first),
 * and the split of a text into raw fragments and special tokens, done the
 * way llama.cpp's tokenizer_st_partition does it, so that ids agree. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>  /* memmem: _GNU_SOURCE comes from config.h */

#include "tok_internal.h"

/* Entries whose text marks the end of a turn, as llama.cpp lists them. */
static const char *const eog_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<|endoftext|>", "<|eom_id|>",
	"<end_of_turn>", "<|end_of_text|>", "<EOT>",
};

static bool is_special_type(uint8_t type)
{
	return type == ORC_TOK_TYPE_CONTROL || type == ORC_TOK_TYPE_USER_DEFINED ||
	       type == ORC_TOK_TYPE_UNKNOWN;
}

static void mark_eog(struct orc_tok *t)
{
	const int32_t ids[] = { t->eos, t->eot, t->eom };

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (ids[i] >= 0)
			t->entries[ids[i]].flags |= ORC_TOKF_EOG;
	for (size_t i = 0; i < sizeof(eog_texts) / sizeof(eog_texts[0]); i++) {
		int32_t id = orc_tok_find(t, eog_texts[i], strlen(eog_texts[i]));
		if (id < 0)
			continue;
		t->entries[id].flags |= ORC_TOKF_EOG;
		/* a control-looking entry typed otherwise is treated as control */
		t->entries[id].type = ORC_TOK_TYPE_CONTROL;
	}
}

/* Phi-3's special tokens swallow the whitespace after them (its
 * tokenizer.json says rstrip); llama.cpp recognises it by general.name. */
static bool is_phi3(const struct orc_gguf *g)
{
	struct orc_gguf_str name;
	char low[64];
	size_t n;

	if (orc_gguf_get_str(g, "general.name", &name, NULL) < 0)
		return false;
	n = name.len < sizeof(low) - 1 ? (size_t)name.len : sizeof(low) - 1;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)tolower((unsigned char)name.ptr[i]);
	low[n] = '\0';
	return strstr(low, "phi-3") || strstr(low, "phi3");
}

static void set_rstrip(struct orc_tok *t, const char *text, bool on)
{
	int32_t id = orc_tok_find(t, text, strlen(text));

	if (id < 0)
		return;
	if (on)
		t->entries[id].flags |= ORC_TOKF_RSTRIP;
	else
		t->entries[id].flags &= (uint8_t)~ORC_TOKF_RSTRIP;
}

struct len_id {
	uint32_t len;
	int32_t id;
};

static int by_len_desc(const void *a, const void *b)
{
	const struct len_id *x = a, *y = b;

	if (x->len != y->len)
		return x->len > y->len ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int orc_tok_build_special(struct orc_tok *t, const struct orc_gguf *g, struct orc_err *err)
{
	struct len_id *list;
	uint32_t n = 0;

	mark_eog(t);
	for (uint32_t i = 0; i < t->n_vocab; i++) {
		struct orc_tok_entry *e = &t->entries[i];
		if (e->type == ORC_TOK_TYPE_CONTROL || e->type == ORC_TOK_TYPE_UNKNOWN)
			e->flags |= ORC_TOKF_SKIP;
		if (is_special_type(e->type) && e->text_len > 0)
			n++;
	}
	list = malloc((n ? n : 1) * sizeof(*list));
	t->special = malloc((n ? n : 1) * sizeof(*t->special));
	if (!list || !t->special) {
		free(list);
		return orc_err_set(err, -ENOMEM, "out of memory");
	}
	n = 0;
	for (uint32_t i = 0; i < t->n_vocab; i++) {
		const struct orc_tok_entry *e = &t->entries[i];
		if (is_special_type(e->type) && e->text_len > 0)
			list[n++] = (struct len_id){ e->text_len, (int32_t)i };
	}
	qsort(list, n, sizeof(*list), by_len_desc);
	for (uint32_t i = 0; i < n; i++)
		t->special[i] = list[i].id;
	t->n_special = n;
	free(list);

	if (is_phi3(g)) {
		for (uint32_t i = 0; i < n; i++)
			t->entries[t->special[i]].flags |= ORC_TOKF_RSTRIP;
		set_rstrip(t, "</s>", true);
		set_rstrip(t, "<unk>", false);
		set_rstrip(t, "<s>", false);
		set_rstrip(t, "<|endoftext|>", false);
	}
	return 0;
}

/* ---- splitting text at special tokens ---- */

static int frag_add(struct orc_tok_frags *f, uint32_t off, uint32_t len, int32_t id)
{
	if (id < 0 && len == 0)
		return 0;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		struct orc_tok_frag *v = realloc(f->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n++] = (struct orc_tok_frag){ off, len, id };
	return 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Split one raw fragment at every occurrence of special token `id`. */
static int split_at(const struct orc_tok *t, const char *text, const struct orc_tok_frag *f,
		    int32_t id, struct orc_tok_frags *out)
{
	const struct orc_tok_entry *e = &t->entries[id];
	const char *st = orc_tok_text(t, id);
	uint32_t off = f->off, len = f->len;
	int r;

	while (len > 0) {
		const char *m = memmem(text + off, len, st, e->text_len);
		uint32_t at, left, end;

		if (!m)
			return frag_add(out, off, len, -1);
		at = (uint32_t)(m - text);
		left = at - off;
		if (e->flags & ORC_TOKF_LSTRIP)
			while (left > 0 && is_space(text[off + left - 1]))
				left--;
		if ((r = frag_add(out, off, left, -1)) < 0 || (r = frag_add(out, 0, 0, id)) < 0)
			return r;
		end = off + len;
		off = at + e->text_len;
		if (e->flags & ORC_TOKF_RSTRIP)
			while (off < end && is_space(text[off]))
				off++;
		len = end - off;
	}
	return 0;
}

int orc_tok_partition(const struct orc_tok *t, const char *text, size_t len,
		      struct orc_tok_frags *cur, struct orc_err *err)
{
	struct orc_tok_frags next = { 0 };
	int r = 0;

	cur->n = 0;
	if ((r = frag_add(cur, 0, (uint32_t)len, -1)) < 0)
		return orc_err_set(err, r, "out of memory");
	for (uint32_t k = 0; k < t->n_special && r == 0; k++) {
		struct orc_tok_frags tmp;
		next.n = 0;
		for (size_t i = 0; i < cur->n && r == 0; i++) {
			if (cur->v[i].id >= 0)
				r = frag_add(&next, 0, 0, cur->v[i].id);
			else
				r = split_at(t, text, &cur->v[i], t->special[k], &next);
		}
		tmp = *cur;
		*cur = next;
		next = tmp;
	}
	free(next.v);
	return r < 0 ? orc_err_set(err, r, "out of memory") : 0;
}
