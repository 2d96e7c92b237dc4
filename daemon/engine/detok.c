/* detok.c -- token ids back to text. At build time every entry gets the
 * bytes it stands for (byte-level characters mapped back to bytes, "▁" to a
 * space, <0xNN> to its byte). Decoding concatenates them, drops
 * SentencePiece's leading space, and replaces ill-formed UTF-8 by U+FFFD;
 * the streaming detokenizer does the same incrementally, holding back a
 * trailing partial character until the next token completes it. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"

/* ---- decoded bytes of each entry ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "<0xNN>" -> the byte, else -1. */
static int byte_token(const char *s, size_t n)
{
	int hi, lo;

	if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	hi = hexval(s[3]);
	lo = hexval(s[4]);
	return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Decode the UTF-8 character at s[0, n); a byte that does not start a
 * complete character comes back as itself (k = 1). */
static uint32_t next_cp(const unsigned char *s, size_t avail, size_t *k)
{
	size_t n = orc_utf8_seq_len(s[0]);
	uint32_t cp;

	if (n == 1) {
		*k = 1;
		return s[0];
	}
	if (n == 2 && avail >= 2 && (s[1] & 0xC0) == 0x80) {
		*k = 2;    /* the common case in byte-level entries */
		return ((s[0] & 0x1Fu) << 6) | (s[1] & 0x3Fu);
	}
	if (n > avail || orc_utf8_valid_prefix((const char *)s, n) != n)
		n = 1;
	cp = n == 1 ? s[0] : s[0] & (0x7Fu >> n);

	for (size_t i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3Fu);
	*k = n;
	return cp;
}

/* GPT-2's characters are U+0021 .. U+0143: ASCII or two bytes led by
 * C2 .. C5. This table maps them straight back to their byte (-1: not one). */
struct bytelevel_table {
	int16_t ascii[128];
	int16_t two[4][64];    /* [lead - 0xC2][continuation & 0x3F] */
};

static void bytelevel_table_init(struct bytelevel_table *tab)
{
	for (uint32_t c = 0; c < 128; c++)
		tab->ascii[c] = (int16_t)orc_tok_cp_to_byte(c);
	for (uint32_t l = 0; l < 4; l++)
		for (uint32_t k = 0; k < 64; k++)
			tab->two[l][k] = (int16_t)orc_tok_cp_to_byte(((0xC2 + l - 0xC0) << 6) | k);
}

/* Byte-level BPE: each character is one byte; characters outside GPT-2's
 * table are kept as they are. */
static size_t unmap_bytelevel(const struct bytelevel_table *tab, const char *s, size_t n, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		size_t k;
		int b = -1;

		if (u[i] < 0x80)
			b = tab->ascii[u[i]];
		else if (u[i] >= 0xC2 && u[i] <= 0xC5 && i + 1 < n && (u[i + 1] & 0xC0) == 0x80)
			b = tab->two[u[i] - 0xC2][u[i + 1] & 0x3F];
		if (b >= 0) {
			out[o++] = (char)b;
			i += u[i] < 0x80 ? 1 : 2;
			continue;
		}
		next_cp(u + i, n - i, &k);
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	return o;
}

/* SentencePiece: "▁" is a space. */
static size_t unescape_spm(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
			out[o++] = ' ';
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

static size_t render(const struct orc_tok *t, const struct bytelevel_table *tab,
		     const struct orc_tok_entry *e, char *out)
{
	const char *s = t->text + e->text_off;
	int b;

	switch (e->type) {
	case ORC_TOK_TYPE_NORMAL:
		return t->kind == ORC_TOK_BPE ? unmap_bytelevel(tab, s, e->text_len, out)
					      : unescape_spm(s, e->text_len, out);
	case ORC_TOK_TYPE_BYTE:
		if ((b = byte_token(s, e->text_len)) >= 0) {
			out[0] = (char)b;
			return 1;
		}
		memcpy(out, s, e->text_len);
		return e->text_len;
	case ORC_TOK_TYPE_CONTROL:
	case ORC_TOK_TYPE_UNKNOWN:
	case ORC_TOK_TYPE_USER_DEFINED:
		memcpy(out, s, e->text_len);
		return e->text_len;
	default:       /* UNUSED, UNDEFINED: no text, as in llama.cpp */
		return 0;
	}
}

int orc_tok_build_pieces(struct orc_tok *t, struct orc_err *err)
{
	struct bytelevel_table tab;
	size_t total = 0, off = 0;

	bytelevel_table_init(&tab);
	for (uint32_t i = 0; i < t->n_vocab; i++)
		total += t->entries[i].text_len;
	/* A decoded entry is never longer than its text. */
	t->piece = malloc(total + 1);
	if (!t->piece)
		return orc_err_set(err, -ENOMEM, "out of memory for %zu bytes of token pieces", total);
	for (uint32_t i = 0; i < t->n_vocab; i++) {
		struct orc_tok_entry *e = &t->entries[i];
		size_t n = render(t, &tab, e, t->piece + off);
		e->piece_off = (uint32_t)off;
		e->piece_len = (uint32_t)n;
		off += n;
	}
	return 0;
}

/* ---- one token's contribution ---- */

struct strip_state {
	bool pending;   /* SentencePiece's leading space has not been seen yet */
};

static int piece_of(const struct orc_tok *t, int32_t id, unsigned flags, struct strip_state *st,
		    const char **ret, size_t *ret_len, struct orc_err *err)
{
	const struct orc_tok_entry *e;
	const char *p;
	size_t n;

	if (id < 0 || (uint32_t)id >= t->n_vocab)
		return orc_err_set(err, -EINVAL, "token id %" PRId32 " out of range (vocabulary of %" PRIu32 ")",
				   id, t->n_vocab);
	e = &t->entries[id];
	p = t->piece + e->piece_off;
	n = e->piece_len;
	if ((flags & ORC_DETOK_SKIP_SPECIAL) && (e->flags & ORC_TOKF_SKIP))
		n = 0;
	/* The space SentencePiece put in front of the text goes again: once,
	 * from the first token that has text (a skipped BOS has none). */
	if (st->pending && n > 0) {
		st->pending = false;
		if (p[0] == ' ') {
			p++;
			n--;
		}
	}
	*ret = p;
	*ret_len = n;
	return 0;
}

int orc_tok_decode(const struct orc_tok *t, const int32_t *ids, size_t n, unsigned flags,
		   char **ret, size_t *ret_len, struct orc_err *err)
{
	struct strip_state st = { t->add_space_prefix };
	struct orc_tok_bytes raw = { 0 }, out = { 0 };
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		const char *p;
		size_t len;
		r = piece_of(t, ids[i], flags, &st, &p, &len, err);
		if (r == 0 && orc_tok_bytes_append(&raw, p, len) < 0)
			r = orc_err_set(err, -ENOMEM, "out of memory");
	}
	if (r == 0 && (orc_utf8_sanitize(raw.v ? raw.v : "", raw.n, true, &out, NULL) < 0 ||
		       orc_tok_bytes_append(&out, "", 1) < 0))
		r = orc_err_set(err, -ENOMEM, "out of memory");
	free(raw.v);
	if (r < 0) {
		free(out.v);
		return r;
	}
	*ret = out.v;
	*ret_len = out.n - 1;
	return 0;
}

/* ---- streaming ---- */

struct orc_detok {
	const struct orc_tok *t;
	unsigned flags;
	struct strip_state st;
	char pend[4];               /* a partial UTF-8 sequence held back */
	size_t n_pend;
	struct orc_tok_bytes in;    /* pend + the new piece */
	struct orc_tok_bytes out;   /* the chunk handed out */
};

struct orc_detok *orc_detok_new(const struct orc_tok *t, unsigned flags)
{
	struct orc_detok *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->t = t;
	d->flags = flags;
	d->st.pending = t->add_space_prefix;
	return d;
}

void orc_detok_free(struct orc_detok *d)
{
	if (!d)
		return;
	free(d->in.v);
	free(d->out.v);
	free(d);
}

void orc_detok_reset(struct orc_detok *d)
{
	d->st.pending = d->t->add_space_prefix;
	d->n_pend = 0;
}

static int emit(struct orc_detok *d, const char *p, size_t n, bool final,
		const char **ret, size_t *ret_len)
{
	size_t used;

	d->in.n = 0;
	d->out.n = 0;
	/* reserve first: the buffers exist even when there is nothing to add */
	if (orc_tok_bytes_reserve(&d->in, d->n_pend + n + 1) < 0 ||
	    orc_tok_bytes_reserve(&d->out, 1) < 0)
		return -ENOMEM;
	orc_tok_bytes_append(&d->in, d->pend, d->n_pend);
	orc_tok_bytes_append(&d->in, p, n);
	if (orc_utf8_sanitize(d->in.v, d->in.n, final, &d->out, &used) < 0 ||
	    orc_tok_bytes_reserve(&d->out, 1) < 0)
		return -ENOMEM;
	/* What is left is a partial sequence of at most 3 bytes. */
	d->n_pend = d->in.n - used;
	if (d->n_pend)
		memcpy(d->pend, d->in.v + used, d->n_pend);
	d->out.v[d->out.n] = '\0';
	*ret = d->out.v;
	*ret_len = d->out.n;
	return 0;
}

int orc_detok_push(struct orc_detok *d, int32_t id, const char **ret, size_t *ret_len,
		   struct orc_err *err)
{
	const char *p;
	size_t n;
	int r = piece_of(d->t, id, d->flags, &d->st, &p, &n, err);

	if (r < 0)
		return r;
	if (emit(d, p, n, false, ret, ret_len) < 0)
		return orc_err_set(err, -ENOMEM, "out of memory");
	return 0;
}

int orc_detok_flush(struct orc_detok *d, const char **ret, size_t *ret_len)
{
	return emit(d, NULL, 0, true, ret, ret_len);
}
