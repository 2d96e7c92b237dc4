/* tok_utf8.c -- UTF-8 for the tokenizer: validation (so encode can name the
 * offending byte), and a sanitizer that replaces ill-formed sequences by
 * U+FFFD and can stop before a trailing partial sequence, which is what lets
 * the streaming detokenizer emit only complete characters. Well-formedness
 * follows Unicode's Table 3-7 (no surrogates, no overlongs, <= U+10FFFF). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "tok_internal.h"

static const char replacement[3] = { '\xEF', '\xBF', '\xBD' };  /* U+FFFD */

size_t orc_utf8_seq_len(unsigned char lead)
{
	if (lead < 0x80)
		return 1;
	if (lead >= 0xC2 && lead <= 0xDF)
		return 2;
	if (lead >= 0xE0 && lead <= 0xEF)
		return 3;
	if (lead >= 0xF0 && lead <= 0xF4)
		return 4;
	return 1;
}

/* The range allowed for the byte after `lead` (Table 3-7). */
static void second_range(unsigned char lead, unsigned char *lo, unsigned char *hi)
{
	*lo = 0x80;
	*hi = 0xBF;
	if (lead == 0xE0)
		*lo = 0xA0;
	else if (lead == 0xED)
		*hi = 0x9F;
	else if (lead == 0xF0)
		*lo = 0x90;
	else if (lead == 0xF4)
		*hi = 0x8F;
}

/* How many bytes of s[0, len) form a well-formed prefix of the sequence at s:
 * returns the full length when complete, or the number of bytes that are a
 * valid start; *ret_complete says which. A bad lead byte gives 0. */
static size_t seq_check(const unsigned char *s, size_t len, bool *ret_complete)
{
	unsigned char lead = s[0], lo, hi;
	size_t need, i;

	*ret_complete = false;
	if (lead < 0x80) {
		*ret_complete = true;
		return 1;
	}
	need = orc_utf8_seq_len(lead);
	if (need == 1)
		return 0;
	second_range(lead, &lo, &hi);
	for (i = 1; i < need; i++) {
		if (i >= len)
			return i;          /* truncated: valid so far */
		if (s[i] < lo || s[i] > hi)
			return i;          /* ill-formed after i bytes */
		lo = 0x80;
		hi = 0xBF;
	}
	*ret_complete = true;
	return need;
}

size_t orc_utf8_valid_prefix(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		bool complete;
		size_t n;

		/* ASCII fast path, 8 bytes at a time */
		while (i + 8 <= len) {
			uint64_t w;
			memcpy(&w, u + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		n = seq_check(u + i, len - i, &complete);
		if (!complete)
			return i;
		i += n;
	}
	return len;
}

size_t orc_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

int orc_utf8_sanitize(const char *s, size_t len, bool final, struct orc_tok_bytes *out,
		      size_t *ret_used)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;  /* run: start of bytes known good, not yet copied */
	int r;

	/* Worst case every byte becomes a 3-byte U+FFFD. */
	if (len > SIZE_MAX / 4)
		return -ENOMEM;
	r = orc_tok_bytes_reserve(out, len * 3);
	if (r < 0)
		return r;
	while (i < len) {
		bool complete;
		size_t n = seq_check(u + i, len - i, &complete);

		if (complete) {
			i += n;
			continue;
		}
		if (i + n == len && n > 0 && !final)
			break;             /* a partial sequence at the end: hold it back */
		orc_tok_bytes_append(out, s + run, i - run);
		orc_tok_bytes_append(out, replacement, sizeof(replacement));
		i += n ? n : 1;        /* the maximal subpart, or the bad lead byte */
		run = i;
	}
	orc_tok_bytes_append(out, s + run, i - run);
	if (ret_used)
		*ret_used = i;
	return 0;
}
