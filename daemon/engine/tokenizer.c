/* tokenizer.c -- building a tokenizer from a GGUF's tokenizer.ggml.* keys
 * (vocabulary, scores, types, merges, special ids and flags, with
 * llama.cpp's defaults where keys are absent), the accessors, and encode:
 * validate the UTF-8, split off special tokens when asked, and hand each raw
 * fragment to byte-level BPE or SentencePiece. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "tok_internal.h"

#define KEY_MODEL   "tokenizer.ggml.model"
#define KEY_PRE     "tokenizer.ggml.pre"
#define KEY_TOKENS  "tokenizer.ggml.tokens"
#define KEY_SCORES  "tokenizer.ggml.scores"
#define KEY_TYPES   "tokenizer.ggml.token_type"
#define KEY_MERGES  "tokenizer.ggml.merges"

/* ---- model and pre-tokenizer names ---- */

static int copy_name(struct orc_gguf_str s, char *dst, size_t cap)
{
	if (s.len >= cap || memchr(s.ptr, '\0', s.len))
		return -1;
	memcpy(dst, s.ptr, s.len);
	dst[s.len] = '\0';
	return 0;
}

static int read_names(const struct orc_gguf *g, struct orc_tok *t, struct orc_err *err)
{
	struct orc_gguf_str s;
	int r = orc_gguf_get_str(g, KEY_MODEL, &s, err);

	if (r == -ENOENT)
		return orc_err_set(err, -EBADMSG, "no tokenizer in the file (%s is missing)", KEY_MODEL);
	if (r < 0)
		return r;
	if (orc_gguf_str_eq(s, "gpt2"))
		t->kind = ORC_TOK_BPE;
	else if (orc_gguf_str_eq(s, "llama"))
		t->kind = ORC_TOK_SPM;
	else
		return orc_err_set(err, -EINVAL, "unsupported tokenizer %s = '%.*s'", KEY_MODEL,
				   (int)(s.len > 64 ? 64 : s.len), s.ptr);
	copy_name(s, t->model, sizeof(t->model));

	r = orc_gguf_get_str(g, KEY_PRE, &s, err);
	if (r == -ENOENT) {
		strcpy(t->pre, "default");
		return 0;
	}
	if (r < 0)
		return r;
	if (copy_name(s, t->pre, sizeof(t->pre)) < 0)
		return orc_err_set(err, -EINVAL, "unknown pre-tokenizer %s = '%.*s'", KEY_PRE,
				   (int)(s.len > 64 ? 64 : s.len), s.ptr);
	return 0;
}

/* ---- vocabulary ---- */

/* An optional per-token array: absent is fine, too short or mistyped is not. */
static int optional_arr(const struct orc_gguf *g, const char *key, uint32_t n, bool want_float,
			struct orc_gguf_arr *arr, bool *present, struct orc_err *err)
{
	int r = orc_gguf_get_arr(g, key, arr, err);
	bool is_float, is_int;

	*present = false;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	is_float = arr->type == ORC_GGUF_FLOAT32 || arr->type == ORC_GGUF_FLOAT64;
	is_int = arr->type <= ORC_GGUF_INT32 || arr->type == ORC_GGUF_UINT64 ||
		 arr->type == ORC_GGUF_INT64;
	if (!(is_int || (want_float && is_float)) || arr->type == ORC_GGUF_BOOL)
		return orc_err_set(err, -EBADMSG, "%s: array of %s, expected numbers", key,
				   orc_gguf_vtype_name(arr->type));
	if (arr->n < n)
		return orc_err_set(err, -EBADMSG, "%s: %" PRIu64 " entries for %" PRIu32 " tokens",
				   key, arr->n, n);
	*present = true;
	return 0;
}

static int load_entries(const struct orc_gguf *g, struct orc_tok *t, struct orc_err *err)
{
	struct orc_gguf_arr tokens, scores, types;
	bool has_scores, has_types;
	uint64_t total = 0;
	char *p;
	int r = orc_gguf_get_arr(g, KEY_TOKENS, &tokens, err);

	if (r == -ENOENT)
		return orc_err_set(err, -EBADMSG, "%s is missing", KEY_TOKENS);
	if (r < 0)
		return r;
	if (tokens.type != ORC_GGUF_STRING)
		return orc_err_set(err, -EBADMSG, "%s: array of %s, expected strings", KEY_TOKENS,
				   orc_gguf_vtype_name(tokens.type));
	if (tokens.n == 0 || tokens.n > ORC_MODEL_VOCAB_MAX)
		return orc_err_set(err, tokens.n ? -E2BIG : -EBADMSG, "%s: %" PRIu64
				   " tokens (1 to %u allowed)", KEY_TOKENS, tokens.n, ORC_MODEL_VOCAB_MAX);
	t->n_vocab = (uint32_t)tokens.n;
	if ((r = optional_arr(g, KEY_SCORES, t->n_vocab, true, &scores, &has_scores, err)) < 0 ||
	    (r = optional_arr(g, KEY_TYPES, t->n_vocab, false, &types, &has_types, err)) < 0)
		return r;

	for (uint32_t i = 0; i < t->n_vocab; i++) {
		struct orc_gguf_str s = orc_gguf_arr_str(&tokens, i);
		if (s.len > ORC_TOKEN_PIECE_MAX)
			return orc_err_set(err, -E2BIG, "%s[%" PRIu32 "]: %" PRIu64 " bytes (limit %u)",
					   KEY_TOKENS, i, s.len, ORC_TOKEN_PIECE_MAX);
		total += s.len + 1;
	}
	if (total > UINT32_MAX)
		return orc_err_set(err, -E2BIG, "%s: %" PRIu64 " bytes of text", KEY_TOKENS, total);
	t->entries = calloc(t->n_vocab, sizeof(*t->entries));
	t->text = malloc((size_t)total);
	if (!t->entries || !t->text)
		return orc_err_set(err, -ENOMEM, "out of memory for %" PRIu32 " tokens", t->n_vocab);

	p = t->text;
	for (uint32_t i = 0; i < t->n_vocab; i++) {
		struct orc_gguf_str s = orc_gguf_arr_str(&tokens, i);
		struct orc_tok_entry *e = &t->entries[i];
		int64_t type = has_types ? orc_gguf_arr_int(&types, i) : ORC_TOK_TYPE_NORMAL;
		double score = !has_scores ? 0.0 : scores.type == ORC_GGUF_FLOAT32 ||
			       scores.type == ORC_GGUF_FLOAT64 ? orc_gguf_arr_float(&scores, i)
							       : (double)orc_gguf_arr_int(&scores, i);

		memcpy(p, s.ptr, s.len);
		p[s.len] = '\0';
		e->text_off = (uint32_t)(p - t->text);
		e->text_len = (uint32_t)s.len;
		e->score = isnan(score) ? -INFINITY : (float)score;
		e->type = type >= ORC_TOK_TYPE_UNDEFINED && type <= ORC_TOK_TYPE_BYTE ? (uint8_t)type
										       : ORC_TOK_TYPE_UNDEFINED;
		if (s.len > t->max_text_len)
			t->max_text_len = (uint32_t)s.len;
		p += s.len + 1;
	}
	return 0;
}

/* Tables are filled BATCH entries at a time: hash and prefetch the whole
 * batch first, then insert or look up, so cache misses overlap. */
#define BATCH 32

static int index_entries(struct orc_tok *t, struct orc_err *err)
{
	uint32_t hashes[BATCH];

	if (orc_tok_strtab_init(&t->vocab, t->n_vocab) < 0)
		return orc_err_set(err, -ENOMEM, "out of memory");
	for (uint32_t base = 0; base < t->n_vocab; base += BATCH) {
		uint32_t m = t->n_vocab - base < BATCH ? t->n_vocab - base : BATCH;
		for (uint32_t j = 0; j < m; j++) {
			const struct orc_tok_entry *e = &t->entries[base + j];
			hashes[j] = orc_tok_hash(t->text + e->text_off, e->text_len);
			orc_tok_prefetch(t, hashes[j]);
		}
		for (uint32_t j = 0; j < m; j++) {
			int32_t id = (int32_t)(base + j), other;
			if (t->entries[id].text_len == 0)
				continue;   /* an empty entry can never be matched */
			if (orc_tok_strtab_insert(t, id, hashes[j], &other) < 0)
				return orc_err_set(err, -EBADMSG, "%s: tokens %" PRId32 " and %" PRId32
						   " are both '%s'", KEY_TOKENS, other, id, orc_tok_text(t, id));
		}
	}
	return 0;
}

/* ---- merges: "left right", ranked by their order ---- */

struct merge_job {
	const char *a, *b;
	uint32_t la, lb, ha, hb;
	int32_t l, r, res;
	bool ok;
};

/* Split "left right" at the first space after the first byte (as llama.cpp). */
static void merge_parse(const struct orc_tok *t, struct orc_gguf_str m, struct merge_job *j)
{
	const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;

	j->ok = false;
	if (!sp)
		return;
	j->a = m.ptr;
	j->la = (uint32_t)(sp - m.ptr);
	j->b = sp + 1;
	j->lb = (uint32_t)(m.len - j->la - 1);
	if (j->lb == 0 || j->la > t->max_text_len || j->lb > t->max_text_len)
		return;
	j->ha = orc_tok_hash(j->a, j->la);
	j->hb = orc_tok_hash(j->b, j->lb);
	orc_tok_prefetch(t, j->ha);
	orc_tok_prefetch(t, j->hb);
	j->ok = true;
}

/* The merged token. Converters list merge i's result as entry base + i, so
 * the entry after the previous result is tried before the hash table. */
static int32_t merge_result(const struct orc_tok *t, const struct merge_job *j, int32_t prev)
{
	char both[2 * ORC_TOKEN_PIECE_MAX];
	uint32_t guess = (uint32_t)(prev + 1);

	if (prev >= 0 && guess < t->n_vocab && t->entries[guess].text_len == j->la + j->lb) {
		const char *s = orc_tok_text(t, (int32_t)guess);
		if (memcmp(s, j->a, j->la) == 0 && memcmp(s + j->la, j->b, j->lb) == 0)
			return (int32_t)guess;
	}
	memcpy(both, j->a, j->la);
	memcpy(both + j->la, j->b, j->lb);
	return orc_tok_find(t, both, j->la + j->lb);
}

static int load_merges(const struct orc_gguf *g, struct orc_tok *t, struct orc_err *err)
{
	struct merge_job jobs[BATCH];
	struct orc_gguf_arr arr;
	int32_t prev = -1;
	int r = orc_gguf_get_arr(g, KEY_MERGES, &arr, err);

	if (r == -ENOENT)
		return orc_err_set(err, -EBADMSG, "%s is missing (required by a gpt2 tokenizer)",
				   KEY_MERGES);
	if (r < 0)
		return r;
	if (arr.type != ORC_GGUF_STRING)
		return orc_err_set(err, -EBADMSG, "%s: array of %s, expected strings", KEY_MERGES,
				   orc_gguf_vtype_name(arr.type));
	if (arr.n > ORC_MODEL_VOCAB_MAX)
		return orc_err_set(err, -E2BIG, "%s: %" PRIu64 " merges (limit %u)", KEY_MERGES,
				   arr.n, ORC_MODEL_VOCAB_MAX);
	if (orc_tok_mergetab_init(&t->merges, (uint32_t)arr.n) < 0)
		return orc_err_set(err, -ENOMEM, "out of memory for %" PRIu64 " merges", arr.n);
	for (uint32_t base = 0; base < arr.n; base += BATCH) {
		uint32_t m = arr.n - base < BATCH ? (uint32_t)arr.n - base : BATCH;
		for (uint32_t k = 0; k < m; k++)
			merge_parse(t, orc_gguf_arr_str(&arr, base + k), &jobs[k]);
		for (uint32_t k = 0; k < m; k++) {
			struct merge_job *j = &jobs[k];
			if (!j->ok)
				continue;
			j->l = orc_tok_find_hashed(t, j->a, j->la, j->ha);
			j->r = orc_tok_find_hashed(t, j->b, j->lb, j->hb);
			j->res = merge_result(t, j, prev);
			j->ok = j->l >= 0 && j->r >= 0 && j->res >= 0;
			if (j->ok) {
				prev = j->res;
				orc_tok_merge_prefetch(&t->merges, j->l, j->r);
			}
		}
		/* Hugging Face refuses a merge naming text outside the vocabulary;
		 * llama.cpp keeps going. So do we, without it. */
		for (uint32_t k = 0; k < m; k++) {
			if (jobs[k].ok)
				orc_tok_mergetab_put(&t->merges, jobs[k].l, jobs[k].r,
						     (int32_t)(base + k), jobs[k].res);
			else
				t->merges.n_skipped++;
		}
	}
	return 0;
}

/* ---- special ids and flags ---- */

static int special_id(const struct orc_gguf *g, const struct orc_tok *t, const char *key,
		      int32_t *id, struct orc_err *err)
{
	uint32_t v;
	int r;

	if (*id >= 0 && (uint32_t)*id >= t->n_vocab)
		*id = -1;           /* a default that does not exist here */
	r = orc_gguf_get_u32(g, key, &v, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (v < t->n_vocab)     /* out of range: llama.cpp keeps the default */
		*id = (int32_t)v;
	return 0;
}

static int flag(const struct orc_gguf *g, const char *key, bool *v, struct orc_err *err)
{
	int r = orc_gguf_get_bool(g, key, v, err);
	return r == -ENOENT ? 0 : r;
}

static int read_specials(const struct orc_gguf *g, struct orc_tok *t, struct orc_err *err)
{
	int r;

	/* llama.cpp's defaults for each model */
	t->bos = t->kind == ORC_TOK_SPM ? 1 : 11;
	t->eos = t->kind == ORC_TOK_SPM ? 2 : 11;
	t->unk = t->kind == ORC_TOK_SPM ? 0 : -1;
	t->pad = t->eot = t->eom = -1;
	if (t->kind == ORC_TOK_SPM) {
		t->add_bos = true;
		t->add_space_prefix = true;
	}
	if ((r = special_id(g, t, "tokenizer.ggml.bos_token_id", &t->bos, err)) < 0 ||
	    (r = special_id(g, t, "tokenizer.ggml.eos_token_id", &t->eos, err)) < 0 ||
	    (r = special_id(g, t, "tokenizer.ggml.unknown_token_id", &t->unk, err)) < 0 ||
	    (r = special_id(g, t, "tokenizer.ggml.padding_token_id", &t->pad, err)) < 0 ||
	    (r = special_id(g, t, "tokenizer.ggml.eot_token_id", &t->eot, err)) < 0 ||
	    (r = special_id(g, t, "tokenizer.ggml.eom_token_id", &t->eom, err)) < 0 ||
	    (r = flag(g, "tokenizer.ggml.add_bos_token", &t->add_bos, err)) < 0 ||
	    (r = flag(g, "tokenizer.ggml.add_eos_token", &t->add_eos, err)) < 0 ||
	    (r = flag(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, err)) < 0)
		return r;
	if (t->add_bos && t->bos < 0)
		return orc_err_set(err, -EBADMSG, "tokenizer.ggml.add_bos_token is true but there is no BOS token");
	if (t->add_eos && t->eos < 0)
		return orc_err_set(err, -EBADMSG, "tokenizer.ggml.add_eos_token is true but there is no EOS token");
	return 0;
}

/* SentencePiece vocabularies trained with split_by_whitespace have "▁"
 * only at the start of an entry (or in runs of "▁"). */
static bool spm_words_ok(const struct orc_tok *t)
{
	for (uint32_t i = 0; i < t->n_vocab; i++) {
		const char *s = orc_tok_text(t, (int32_t)i);
		uint32_t n = t->entries[i].text_len;
		for (uint32_t k = 1; k + 3 <= n; k++)
			if (memcmp(s + k, "\xE2\x96\x81", 3) == 0 &&
			    !(k >= 3 && memcmp(s + k - 3, "\xE2\x96\x81", 3) == 0))
				return false;
	}
	return true;
}

/* The token of each raw byte: byte-level character, or SentencePiece's <0xNN>. */
static void byte_tokens(struct orc_tok *t)
{
	for (int b = 0; b < 256; b++) {
		char s[8];
		size_t n;
		int32_t id;

		if (t->kind == ORC_TOK_BPE) {
			n = orc_utf8_encode(orc_tok_byte_to_cp((uint8_t)b), s);
			id = orc_tok_find(t, s, n);
		} else {
			snprintf(s, sizeof(s), "<0x%02X>", b);
			id = orc_tok_find(t, s, 6);
			if (id < 0) {
				s[0] = (char)b;
				id = orc_tok_find(t, s, 1);
			}
		}
		t->byte_id[b] = id;
	}
}

/* ---- construction ---- */

int orc_tok_new(const struct orc_gguf *g, struct orc_tok **ret, struct orc_err *err)
{
	struct orc_tok *t = calloc(1, sizeof(*t));
	bool nfc = false, ignore_merges = false, pre_add_bos = false;
	int r;

	if (!t)
		return orc_err_set(err, -ENOMEM, "out of memory");
	if ((r = read_names(g, t, err)) < 0)
		goto fail;
	if (t->kind == ORC_TOK_BPE &&
	    (r = orc_pretok_new(t->pre, &t->pretok, &nfc, &ignore_merges, &pre_add_bos, err)) < 0)
		goto fail;
	t->nfc = nfc;
	t->ignore_merges = ignore_merges;
	t->add_bos = pre_add_bos;
	if ((r = load_entries(g, t, err)) < 0 || (r = index_entries(t, err)) < 0)
		goto fail;
	if (t->kind == ORC_TOK_BPE && (r = load_merges(g, t, err)) < 0)
		goto fail;
	if ((r = read_specials(g, t, err)) < 0 || (r = orc_tok_build_special(t, g, err)) < 0 ||
	    (r = orc_tok_build_pieces(t, err)) < 0)
		goto fail;
	byte_tokens(t);
	t->spm_words = t->kind == ORC_TOK_SPM && spm_words_ok(t);
	t->short_word = ORC_TOK_SHORT_WORD;
	*ret = t;
	return 0;
fail:
	orc_tok_free(t);
	return r;
}

void orc_tok_free(struct orc_tok *t)
{
	if (!t)
		return;
	orc_pretok_free(t->pretok);
	orc_tok_mergetab_free(&t->merges);
	orc_tok_strtab_free(&t->vocab);
	free(t->special);
	free(t->piece);
	free(t->text);
	free(t->entries);
	free(t);
}

/* ---- accessors ---- */

enum orc_tok_kind orc_tok_kind(const struct orc_tok *t) { return t->kind; }
const char *orc_tok_model_name(const struct orc_tok *t) { return t->model; }
const char *orc_tok_pre_name(const struct orc_tok *t) { return t->pre; }
uint32_t orc_tok_n_vocab(const struct orc_tok *t) { return t->n_vocab; }
int32_t orc_tok_bos(const struct orc_tok *t) { return t->bos; }
int32_t orc_tok_eos(const struct orc_tok *t) { return t->eos; }
bool orc_tok_add_bos(const struct orc_tok *t) { return t->add_bos; }
bool orc_tok_add_eos(const struct orc_tok *t) { return t->add_eos; }

bool orc_tok_is_eog(const struct orc_tok *t, int32_t id)
{
	return id >= 0 && (uint32_t)id < t->n_vocab && (t->entries[id].flags & ORC_TOKF_EOG);
}

bool orc_tok_is_control(const struct orc_tok *t, int32_t id)
{
	return id >= 0 && (uint32_t)id < t->n_vocab && t->entries[id].type == ORC_TOK_TYPE_CONTROL;
}

int32_t orc_tok_lookup(const struct orc_tok *t, const char *text, size_t len)
{
	return orc_tok_find(t, text, len);
}

int orc_tok_piece(const struct orc_tok *t, int32_t id, const char **ret, size_t *ret_len)
{
	if (id < 0 || (uint32_t)id >= t->n_vocab)
		return -EINVAL;
	*ret = orc_tok_text(t, id);
	*ret_len = t->entries[id].text_len;
	return 0;
}

/* ---- encode ---- */

static int encode_fragments(const struct orc_tok *t, const char *text, const struct orc_tok_frags *f,
			    struct orc_tok_scratch *s, struct orc_tok_ids *out, struct orc_err *err)
{
	bool prev_special = true;   /* SentencePiece: a space goes before the first text */
	int r = 0;

	for (size_t i = 0; i < f->n && r == 0; i++) {
		const struct orc_tok_frag *fr = &f->v[i];
		if (fr->id >= 0) {
			if ((r = orc_tok_ids_push(out, fr->id)) < 0)
				return orc_err_set(err, r, "out of memory");
			prev_special = true;
			continue;
		}
		if (t->kind == ORC_TOK_SPM)
			r = orc_tok_spm_fragment(t, text + fr->off, fr->len,
						 t->add_space_prefix && prev_special, s, out, err);
		else
			r = orc_tok_bpe_fragment(t, text + fr->off, fr->len, s, out, err);
		prev_special = false;
	}
	return r;
}

int orc_tok_encode(const struct orc_tok *t, const char *text, size_t len, unsigned flags,
		   int32_t **ret_ids, size_t *ret_n, struct orc_err *err)
{
	struct orc_tok_ids out = { 0 };
	struct orc_tok_scratch s = { 0 };
	struct orc_tok_frags frags = { 0 };
	size_t valid;
	int r = 0;

	if (!text && len)
		return orc_err_set(err, -EINVAL, "no text");
	if (len > ORC_TOK_TEXT_MAX)
		return orc_err_set(err, -E2BIG, "text of %zu bytes (limit %u)", len, ORC_TOK_TEXT_MAX);
	if ((valid = orc_utf8_valid_prefix(text, len)) != len)
		return orc_err_set(err, -EILSEQ, "invalid UTF-8 at byte offset %zu", valid);

	if ((flags & ORC_TOK_ADD_SPECIAL) && t->add_bos && (r = orc_tok_ids_push(&out, t->bos)) < 0)
		goto oom;
	if (len > 0) {
		if (flags & ORC_TOK_PARSE_SPECIAL)
			r = orc_tok_partition(t, text, len, &frags, err);
		else if ((frags.v = malloc(sizeof(*frags.v))) != NULL)
			frags.v[frags.n++] = (struct orc_tok_frag){ 0, (uint32_t)len, -1 };
		else
			r = -ENOMEM;
		if (r == 0)
			r = encode_fragments(t, text, &frags, &s, &out, err);
		if (r == -ENOMEM)
			goto oom;
		if (r < 0)
			goto out;
	}
	if ((flags & ORC_TOK_ADD_SPECIAL) && t->add_eos && (r = orc_tok_ids_push(&out, t->eos)) < 0)
		goto oom;
	if (!out.v && !(out.v = malloc(sizeof(*out.v))))
		goto oom;
	*ret_ids = out.v;
	*ret_n = out.n;
	out.v = NULL;
	goto out;
oom:
	r = orc_err_set(err, -ENOMEM, "out of memory");
out:
	free(out.v);
	free(frags.v);
	orc_tok_scratch_free(&s);
	return r;
}
