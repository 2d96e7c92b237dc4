/* tok_testutil.c -- helpers of the tokenizer suites (see tok_testutil.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tok_internal.h"   /* orc_utf8_encode */
#include "tok_testutil.h"

static const char sep[] = "\n__ggml_vocab_test__\n";

/* One line of ids, separated by spaces (leading/trailing space ignored). */
static int parse_ids(const char *s, size_t len, int32_t **ret, size_t *ret_n)
{
	int32_t *ids = malloc((len / 2 + 1) * sizeof(*ids));
	size_t n = 0, i = 0;

	if (!ids)
		return -1;
	while (i < len) {
		char *end;
		long v;
		if (s[i] == ' ' || s[i] == '\r') {
			i++;
			continue;
		}
		v = strtol(s + i, &end, 10);
		if (end == s + i) {
			free(ids);
			return -1;
		}
		ids[n++] = (int32_t)v;
		i = (size_t)(end - s);
	}
	*ret = ids;
	*ret_n = n;
	return 0;
}

int tok_vectors_load(const char *base, struct tok_vectors *ret)
{
	char path[1024];
	size_t inp_len, out_len, pos = 0, n_lines = 0, cap = 64;
	char *inp, *out;

	memset(ret, 0, sizeof(*ret));
	snprintf(path, sizeof(path), "%s.inp", base);
	inp = orc_test_read_file(path, &inp_len);
	snprintf(path, sizeof(path), "%s.out", base);
	out = orc_test_read_file(path, &out_len);
	if (!inp || !out)
		goto fail;
	ret->raw = inp;
	ret->v = calloc(cap, sizeof(*ret->v));
	/* test-tokenizer-0: split at each separator; what follows the last one
	 * is a string only when it is not empty */
	while (pos < inp_len) {
		char *next = strstr(inp + pos, sep);
		size_t end = next ? (size_t)(next - inp) : inp_len;
		if (ret->n == cap)
			ret->v = realloc(ret->v, (cap *= 2) * sizeof(*ret->v));
		ret->v[ret->n].text = inp + pos;
		ret->v[ret->n].len = end - pos;
		ret->n++;
		if (!next)
			break;
		*next = '\0';
		pos = end + sizeof(sep) - 1;
	}
	/* std::getline over the .out file: one line per string */
	for (size_t i = 0; i < out_len;) {
		char *nl = memchr(out + i, '\n', out_len - i);
		size_t end = nl ? (size_t)(nl - out) : out_len;
		if (n_lines >= ret->n || parse_ids(out + i, end - i, &ret->v[n_lines].ids,
						    &ret->v[n_lines].n_ids) < 0)
			goto fail;
		n_lines++;
		i = end + 1;
	}
	if (n_lines != ret->n)
		goto fail;
	free(out);
	return 0;
fail:
	free(out);
	if (!ret->raw)
		free(inp);
	tok_vectors_free(ret);
	return -1;
}

void tok_vectors_free(struct tok_vectors *v)
{
	for (size_t i = 0; v->v && i < v->n; i++)
		free(v->v[i].ids);
	free(v->v);
	free(v->raw);
	memset(v, 0, sizeof(*v));
}

size_t tok_first_diff(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
	size_t i = 0;

	while (i < na && i < nb && a[i] == b[i])
		i++;
	return i;
}

/* Position just after `"key":` and any spaces, or NULL. */
static const char *json_value(const char *json, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(json, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	if (*p++ != ':')
		return NULL;
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

int tok_json_string(const char *json, const char *key, char **ret, size_t *ret_len)
{
	const char *p = json_value(json, key);
	char *out;
	size_t n = 0;

	if (!p || *p++ != '"')
		return -1;
	out = malloc(strlen(p) + 1);
	while (*p && *p != '"') {
		unsigned cp;
		if (*p != '\\') {
			out[n++] = *p++;
			continue;
		}
		switch (p[1]) {
		case 'n': out[n++] = '\n'; break;
		case 't': out[n++] = '\t'; break;
		case 'r': out[n++] = '\r'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'u':
			if (sscanf(p + 2, "%4x", &cp) != 1)
				goto fail;
			if (cp >= 0xD800 && cp < 0xDC00 && p[6] == '\\' && p[7] == 'u') {
				unsigned lo;
				if (sscanf(p + 8, "%4x", &lo) != 1)
					goto fail;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				p += 6;
			}
			n += orc_utf8_encode(cp, out + n);
			p += 4;
			break;
		case '\0': goto fail;
		default: out[n++] = p[1]; break;
		}
		p += 2;
	}
	if (*p != '"')
		goto fail;
	out[n] = '\0';
	*ret = out;
	*ret_len = n;
	return 0;
fail:
	free(out);
	return -1;
}

int tok_json_ints(const char *json, const char *key, int32_t **ret, size_t *ret_n)
{
	const char *p = json_value(json, key), *end;
	int32_t *v;
	size_t n = 0;

	if (!p || *p != '[' || !(end = strchr(p, ']')))
		return -1;
	v = malloc(((size_t)(end - p) / 2 + 1) * sizeof(*v));
	for (p++; p < end;) {
		char *e;
		long x;
		while (p < end && (*p == ' ' || *p == ',' || *p == '\n' || *p == '\r' || *p == '\t'))
			p++;
		if (p >= end)
			break;
		x = strtol(p, &e, 10);
		if (e == p) {
			free(v);
			return -1;
		}
		v[n++] = (int32_t)x;
		p = e;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}
