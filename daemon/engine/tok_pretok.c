/* tok_pretok.c -- the byte-level BPE pre-tokenizer: the regexes chosen by
 * tokenizer.ggml.pre, compiled once with PCRE2 (UTF + UCP, JIT when
 * available) and shared read-only, the split of a text into words the way
 * Hugging Face's "Isolated" split does it (matches and the gaps between them
 * are words), and the NFC normalization that qwen2 asks for (libunistring). */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>

#include "tok_internal.h"

#define PRETOK_RE_MAX 4

struct orc_pretok {
	pcre2_code *re[PRETOK_RE_MAX];  /* applied in turn, each to the previous words */
	unsigned n_re;
};

/* ---- the regexes, as the models' tokenizer.json files give them ---- */

#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define RE_QWEN2 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" \
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define RE_LLAMA3 "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" \
	"| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

struct pretok_def {
	const char *names[4];           /* tokenizer.ggml.pre values, NULL-terminated */
	const char *re[PRETOK_RE_MAX];  /* NULL-terminated */
	bool nfc, ignore_merges, add_bos;
};

static const struct pretok_def pretok_defs[] = {
	{ { "gpt-2", "phi-2", NULL }, { RE_GPT2, NULL }, false, false, false },
	{ { "qwen2", "deepseek-r1-qwen", NULL }, { RE_QWEN2, NULL }, true, false, false },
	{ { "llama3", "llama-v3", "llama-bpe", NULL }, { RE_LLAMA3, NULL }, false, true, true },
	/* llama.cpp's fallback for files without a pre-tokenizer name */
	{ { "default", NULL },
	  { "[\\p{P}\\$\\+<=>\\^~\\|]+",
	    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
	    "\\p{N}+",
	    "[0-9][0-9][0-9]" },
	  false, false, false },
};

static const struct pretok_def *pretok_def_find(const char *pre)
{
	for (size_t i = 0; i < sizeof(pretok_defs) / sizeof(pretok_defs[0]); i++)
		for (const char *const *n = pretok_defs[i].names; *n; n++)
			if (strcmp(*n, pre) == 0)
				return &pretok_defs[i];
	return NULL;
}

int orc_pretok_new(const char *pre, struct orc_pretok **ret, bool *ret_nfc,
		   bool *ret_ignore_merges, bool *ret_add_bos, struct orc_err *err)
{
	const struct pretok_def *def = pretok_def_find(pre);
	struct orc_pretok *p;

	if (!def)
		return orc_err_set(err, -EINVAL, "unknown pre-tokenizer tokenizer.ggml.pre = '%s'", pre);
	p = calloc(1, sizeof(*p));
	if (!p)
		return orc_err_set(err, -ENOMEM, "out of memory");
	for (unsigned i = 0; i < PRETOK_RE_MAX && def->re[i]; i++) {
		int code;
		PCRE2_SIZE at;
		p->re[i] = pcre2_compile((PCRE2_SPTR)def->re[i], PCRE2_ZERO_TERMINATED,
					 PCRE2_UTF | PCRE2_UCP, &code, &at, NULL);
		if (!p->re[i]) {
			PCRE2_UCHAR msg[128];
			pcre2_get_error_message(code, msg, sizeof(msg));
			orc_pretok_free(p);
			return orc_err_set(err, -EINVAL, "pre-tokenizer '%s': regex %u at %zu: %s",
					   pre, i, (size_t)at, (const char *)msg);
		}
		p->n_re = i + 1;
		/* JIT is an optimization: without it pcre2_match interprets. */
		(void)pcre2_jit_compile(p->re[i], PCRE2_JIT_COMPLETE);
	}
	*ret_nfc = def->nfc;
	*ret_ignore_merges = def->ignore_merges;
	*ret_add_bos = def->add_bos;
	*ret = p;
	return 0;
}

void orc_pretok_free(struct orc_pretok *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n_re; i++)
		pcre2_code_free(p->re[i]);
	free(p);
}

void orc_pretok_match_data_free(void *md)
{
	pcre2_match_data_free(md);
}

/* ---- splitting ---- */

struct word_list {
	uint32_t *v;     /* [2 * n]: offset, length */
	size_t n, cap;
};

static int word_add(struct word_list *w, size_t off, size_t len)
{
	if (len == 0)
		return 0;
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		uint32_t *v = realloc(w->v, cap * 2 * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = cap;
	}
	w->v[2 * w->n] = (uint32_t)off;
	w->v[2 * w->n + 1] = (uint32_t)len;
	w->n++;
	return 0;
}

/* Split piece [off, off + len) of text with one regex: every match is a
 * word, and so is every gap between matches. The regex sees only the piece. */
static int split_piece(const pcre2_code *re, pcre2_match_data *md, const char *text,
		       size_t off, size_t len, struct word_list *out, struct orc_err *err)
{
	PCRE2_SPTR subject = (PCRE2_SPTR)(text + off);
	size_t pos = 0, gap = 0;
	int r;

	while (pos < len) {
		int rc = pcre2_match(re, subject, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
		PCRE2_SIZE *ov;

		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			PCRE2_UCHAR msg[128];
			pcre2_get_error_message(rc, msg, sizeof(msg));
			return orc_err_set(err, rc == PCRE2_ERROR_NOMEMORY ? -ENOMEM : -E2BIG,
					   "pre-tokenizer regex failed at byte %zu: %s",
					   off + pos, (const char *)msg);
		}
		ov = pcre2_get_ovector_pointer(md);
		if (ov[1] == ov[0]) {
			/* an empty match: step over one character */
			pos = ov[0] + orc_utf8_seq_len((unsigned char)text[off + ov[0]]);
			continue;
		}
		if ((r = word_add(out, off + gap, ov[0] - gap)) < 0 ||
		    (r = word_add(out, off + ov[0], ov[1] - ov[0])) < 0)
			return orc_err_set(err, r, "out of memory");
		gap = pos = ov[1];
	}
	if ((r = word_add(out, off + gap, len - gap)) < 0)
		return orc_err_set(err, r, "out of memory");
	return 0;
}

int orc_pretok_split(const struct orc_pretok *p, const char *text, size_t len,
		     struct orc_tok_scratch *s, struct orc_err *err)
{
	struct word_list cur = { s->words, 0, s->cap_words }, next = { 0 };
	int r = 0;

	if (!s->match_data) {
		s->match_data = pcre2_match_data_create(1, NULL);
		if (!s->match_data)
			return orc_err_set(err, -ENOMEM, "out of memory");
	}
	r = split_piece(p->re[0], s->match_data, text, 0, len, &cur, err);
	for (unsigned i = 1; r == 0 && i < p->n_re; i++) {
		struct word_list tmp;
		next.n = 0;
		for (size_t w = 0; r == 0 && w < cur.n; w++)
			r = split_piece(p->re[i], s->match_data, text, cur.v[2 * w],
					cur.v[2 * w + 1], &next, err);
		tmp = cur;
		cur = next;
		next = tmp;
	}
	free(next.v);
	s->words = cur.v;
	s->cap_words = cur.cap;
	s->n_words = cur.n;
	return r;
}

/* ---- normalization ---- */

int orc_pretok_nfc(const char *text, size_t len, struct orc_tok_scratch *s,
		   const char **ret, size_t *ret_len, struct orc_err *err)
{
	size_t i, n;
	uint8_t *res;

	for (i = 0; i < len && (unsigned char)text[i] < 0x80; i++)
		;
	if (i == len) {
		*ret = text;
		*ret_len = len;
		return 0;
	}
	n = s->buf.cap;
	res = u8_normalize(UNINORM_NFC, (const uint8_t *)text, len, (uint8_t *)s->buf.v, &n);
	if (!res)
		return orc_err_set(err, errno ? -errno : -EINVAL, "NFC normalization failed");
	if ((char *)res != s->buf.v) {
		free(s->buf.v);
		s->buf.v = (char *)res;
		s->buf.cap = n;
	}
	s->buf.n = n;
	*ret = s->buf.v;
	*ret_len = n;
	return 0;
}
