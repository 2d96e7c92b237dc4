/* tok_fuzz_one.c -- the properties one fuzz input is checked against
 * (see tok_fuzz_one.h): no crash, errors only where the input is bad,
 * valid UTF-8 out of decode, streaming equal to one-shot decoding, and the
 * plain-text round trip. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>
#include <unistr.h>

#include "tok_fuzz_one.h"

/* Stream ids through a detokenizer; the result must equal one-shot decoding
 * (both fail on the same bad id, or both succeed with the same bytes). */
static const char *check_stream(const struct orc_tok *t, const int32_t *ids, size_t n,
				unsigned flags)
{
	struct orc_err err = { 0 };
	struct orc_detok *d = orc_detok_new(t, flags);
	char *whole = NULL, *cat = NULL;
	size_t whole_len = 0, cat_len = 0;
	const char *bad = NULL;
	int r1, r2 = 0;

	if (!d)
		return NULL;  /* out of memory is not a finding */
	r1 = orc_tok_decode(t, ids, n, flags, &whole, &whole_len, &err);
	if (r1 == 0 && u8_check((const uint8_t *)whole, whole_len))
		bad = "decode returned invalid UTF-8";
	for (size_t i = 0; i <= n && !bad; i++) {
		const char *chunk;
		size_t len;
		char *grown;
		if (i < n)
			r2 = orc_detok_push(d, ids[i], &chunk, &len, &err);
		else
			r2 = orc_detok_flush(d, &chunk, &len);
		if (r2 < 0)
			break;
		if (u8_check((const uint8_t *)chunk, len))
			bad = "a streamed chunk is invalid UTF-8";
		if (!(grown = realloc(cat, cat_len + len + 1)))
			break;
		cat = grown;
		memcpy(cat + cat_len, chunk, len);
		cat_len += len;
	}
	if (!bad && (r1 < 0) != (r2 < 0))
		bad = "decode and the streaming detokenizer disagree on an id's validity";
	if (!bad && r1 == 0 && r2 == 0 && (cat_len != whole_len || memcmp(cat, whole, cat_len)))
		bad = "streaming decode differs from one-shot decode";
	free(cat);
	free(whole);
	orc_detok_free(d);
	return bad;
}

/* SentencePiece writes spaces as U+2581: one in the text comes back a space. */
static size_t spm_unescape(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (i + 3 <= n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
			s[o++] = ' ';
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

/* Plain text comes back from decode(encode()) as it went in, NFC-normalized
 * when the tokenizer normalizes (qwen2), with U+2581 as a space (SPM). */
static const char *check_round_trip(const struct orc_tok *t, const char *text, size_t len,
				    const int32_t *ids, size_t n)
{
	struct orc_err err = { 0 };
	const char *want = text, *bad = NULL;
	char *copy = NULL;
	uint8_t *nfc = NULL;
	size_t want_len = len;
	char *back;
	size_t back_len;

	if (strcmp(orc_tok_pre_name(t), "qwen2") == 0 && len > 0) {
		nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)text, len, NULL, &want_len);
		if (!nfc)
			return NULL;
		want = (const char *)nfc;
	}
	if (orc_tok_kind(t) == ORC_TOK_SPM) {
		if (!(copy = malloc(len + 1)))
			return NULL;
		memcpy(copy, text, len);
		want_len = spm_unescape(copy, len);
		want = copy;
	}
	if (orc_tok_decode(t, ids, n, 0, &back, &back_len, &err) < 0) {
		bad = "decode of encode's own ids failed";
	} else {
		if (back_len != want_len || memcmp(back, want, want_len))
			bad = "decode(encode(text)) != text";
		free(back);
	}
	free(copy);
	free(nfc);
	return bad;
}

static const char *encode_mode(const struct orc_tok *t, const char *text, size_t len,
			       unsigned flags, bool round_trip)
{
	struct orc_err err = { 0 };
	bool valid = u8_check((const uint8_t *)text, len) == NULL;
	int32_t *ids = NULL;
	size_t n = 0;
	const char *bad;
	int r = orc_tok_encode(t, text, len, flags, &ids, &n, &err);

	if (r == -EILSEQ && !valid)
		return NULL;
	if (r < 0)
		return r == -ENOMEM ? NULL : "encode failed on valid UTF-8, or with an unexpected error";
	if (!valid) {
		free(ids);
		return "encode accepted invalid UTF-8";
	}
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < 0 || (uint32_t)ids[i] >= orc_tok_n_vocab(t)) {
			free(ids);
			return "encode produced an id outside the vocabulary";
		}
	}
	bad = round_trip ? check_round_trip(t, text, len, ids, n) : NULL;
	if (!bad)
		bad = check_stream(t, ids, n, flags & ORC_TOK_ADD_SPECIAL ? ORC_DETOK_SKIP_SPECIAL : 0);
	free(ids);
	return bad;
}

static const char *decode_mode(const struct orc_tok *t, const uint8_t *p, size_t size,
			       unsigned flags)
{
	size_t n = size / 4;
	int32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
	const char *bad;

	if (!ids)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
			     (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
		/* mostly valid ids, sometimes anything at all */
		ids[i] = (v & 0x80000000u) ? (int32_t)v : (int32_t)(v % (orc_tok_n_vocab(t) + 1));
	}
	bad = check_stream(t, ids, n, flags);
	free(ids);
	return bad;
}

const char *fuzz_tokenizer_one(const struct orc_tok *t, const uint8_t *data, size_t size)
{
	unsigned mode;

	if (size == 0)
		return NULL;
	mode = data[0] & 3u;
	data++;
	size--;
	switch (mode) {
	case 0:
		return encode_mode(t, (const char *)data, size, 0, true);
	case 1:
		return encode_mode(t, (const char *)data, size, ORC_TOK_PARSE_SPECIAL, false);
	case 2:
		return decode_mode(t, data, size, (data[-1] & 4u) ? ORC_DETOK_SKIP_SPECIAL : 0);
	default:
		return encode_mode(t, (const char *)data, size,
				   ORC_TOK_ADD_SPECIAL | ORC_TOK_PARSE_SPECIAL, false);
	}
}
