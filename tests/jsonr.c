/* jsonr.c -- a minimal recursive-descent JSON reader for the tests (see
 * jsonr.h). Strings are decoded (escapes, \u surrogate pairs to UTF-8);
 * numbers are parsed with strtod after checking the JSON number grammar. */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonr.h"
#include "tok_internal.h"   /* orc_utf8_encode */

#define JSONR_DEPTH_MAX 64

struct parser {
	const char *s;
	size_t len, i;
	char *errbuf;
	size_t errlen;
	bool failed;
};

static void fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct parser *p, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->errbuf && p->errlen)
		snprintf(p->errbuf, p->errlen, "JSON at byte %zu: %s", p->i, msg);
}

static void skip_ws(struct parser *p)
{
	while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
				 p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static bool eat(struct parser *p, char c)
{
	skip_ws(p);
	if (p->i < p->len && p->s[p->i] == c) {
		p->i++;
		return true;
	}
	return false;
}

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->i < n || memcmp(p->s + p->i, word, n) != 0)
		return false;
	p->i += n;
	return true;
}

/* ---- strings ---- */

static int hex4(struct parser *p, unsigned *ret)
{
	unsigned v = 0;

	if (p->len - p->i < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		char c = p->s[p->i++];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*ret = v;
	return 0;
}

static int unicode_escape(struct parser *p, unsigned *ret)
{
	unsigned cp, lo;

	if (hex4(p, &cp) != 0)
		return -1;
	if (cp >= 0xD800 && cp < 0xDC00) {
		if (!literal(p, "\\u") || hex4(p, &lo) != 0 || lo < 0xDC00 || lo >= 0xE000)
			return -1;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	} else if (cp >= 0xDC00 && cp < 0xE000) {
		return -1;
	}
	*ret = cp;
	return 0;
}

/* Parses a string starting at the opening quote; the decoded text is never
 * longer than the source, so one allocation of the source length suffices. */
static char *parse_string(struct parser *p, size_t *ret_len)
{
	size_t start = ++p->i, n = 0;
	char *out;

	while (p->i < p->len && p->s[p->i] != '"')
		p->i += p->s[p->i] == '\\' ? 2 : 1;
	if (p->i >= p->len) {
		fail(p, "unterminated string");
		return NULL;
	}
	out = malloc(p->i - start + 1);
	if (!out) {
		fail(p, "out of memory");
		return NULL;
	}
	p->i = start;
	while (p->s[p->i] != '"') {
		char c = p->s[p->i++];
		unsigned cp;

		if ((unsigned char)c < 0x20) {
			fail(p, "control character in string");
			goto bad;
		}
		if (c != '\\') {
			out[n++] = c;
			continue;
		}
		c = p->s[p->i++];
		switch (c) {
		case '"': case '\\': case '/': out[n++] = c; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u':
			if (unicode_escape(p, &cp) != 0) {
				fail(p, "bad \\u escape");
				goto bad;
			}
			n += orc_utf8_encode(cp, out + n);
			break;
		default:
			fail(p, "bad escape '\\%c'", c);
			goto bad;
		}
	}
	p->i++;
	out[n] = '\0';
	*ret_len = n;
	return out;
bad:
	free(out);
	return NULL;
}

/* ---- numbers ---- */

static int parse_number(struct parser *p, double *ret)
{
	size_t j = p->i;
	char buf[64];

	if (j < p->len && p->s[j] == '-')
		j++;
	if (j >= p->len || !isdigit((unsigned char)p->s[j]))
		return -1;
	if (p->s[j] == '0')
		j++;
	else
		while (j < p->len && isdigit((unsigned char)p->s[j]))
			j++;
	if (j < p->len && p->s[j] == '.') {
		j++;
		if (j >= p->len || !isdigit((unsigned char)p->s[j]))
			return -1;
		while (j < p->len && isdigit((unsigned char)p->s[j]))
			j++;
	}
	if (j < p->len && (p->s[j] == 'e' || p->s[j] == 'E')) {
		j++;
		if (j < p->len && (p->s[j] == '+' || p->s[j] == '-'))
			j++;
		if (j >= p->len || !isdigit((unsigned char)p->s[j]))
			return -1;
		while (j < p->len && isdigit((unsigned char)p->s[j]))
			j++;
	}
	if (j - p->i >= sizeof(buf))
		return -1;
	memcpy(buf, p->s + p->i, j - p->i);
	buf[j - p->i] = '\0';
	*ret = strtod(buf, NULL);
	p->i = j;
	return 0;
}

/* ---- values ---- */

static int parse_value(struct parser *p, struct orc_jsonr *v, int depth);

static int push_item(struct parser *p, struct orc_jsonr *v, size_t *cap)
{
	if (v->len == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct orc_jsonr *ni = realloc(v->items, ncap * sizeof(*ni));
		if (!ni) {
			fail(p, "out of memory");
			return -1;
		}
		v->items = ni;
		*cap = ncap;
	}
	memset(&v->items[v->len], 0, sizeof(v->items[0]));
	v->len++;
	return 0;
}

static int parse_container(struct parser *p, struct orc_jsonr *v, int depth, bool obj)
{
	char close = obj ? '}' : ']';
	size_t cap = 0;

	v->type = obj ? ORC_JSONR_OBJ : ORC_JSONR_ARR;
	p->i++;
	if (eat(p, close))
		return 0;
	do {
		struct orc_jsonr *it;
		size_t klen;

		if (push_item(p, v, &cap) != 0)
			return -1;
		it = &v->items[v->len - 1];
		if (obj) {
			skip_ws(p);
			if (p->i >= p->len || p->s[p->i] != '"') {
				fail(p, "expected a member name");
				return -1;
			}
			it->key = parse_string(p, &klen);
			if (!it->key)
				return -1;
			if (!eat(p, ':')) {
				fail(p, "expected ':'");
				return -1;
			}
		}
		if (parse_value(p, it, depth + 1) != 0)
			return -1;
	} while (eat(p, ','));
	if (!eat(p, close)) {
		fail(p, "expected '%c'", close);
		return -1;
	}
	return 0;
}

static int parse_value(struct parser *p, struct orc_jsonr *v, int depth)
{
	if (depth > JSONR_DEPTH_MAX) {
		fail(p, "nesting deeper than %d", JSONR_DEPTH_MAX);
		return -1;
	}
	skip_ws(p);
	if (p->i >= p->len) {
		fail(p, "unexpected end");
		return -1;
	}
	switch (p->s[p->i]) {
	case '{': return parse_container(p, v, depth, true);
	case '[': return parse_container(p, v, depth, false);
	case '"':
		v->type = ORC_JSONR_STR;
		v->str = parse_string(p, &v->len);
		return v->str ? 0 : -1;
	default:
		break;
	}
	if (literal(p, "true") || literal(p, "false")) {
		v->type = ORC_JSONR_BOOL;
		v->b = p->s[p->i - 4] == 't';  /* "true" is 4 bytes, "false" 5 */
		return 0;
	}
	if (literal(p, "null")) {
		v->type = ORC_JSONR_NULL;
		return 0;
	}
	v->type = ORC_JSONR_NUM;
	if (parse_number(p, &v->num) != 0) {
		fail(p, "unexpected character '%c'", p->s[p->i]);
		return -1;
	}
	return 0;
}

static void free_inner(struct orc_jsonr *v)
{
	free(v->key);
	if (v->type == ORC_JSONR_STR)
		free(v->str);
	if (v->type == ORC_JSONR_ARR || v->type == ORC_JSONR_OBJ) {
		for (size_t i = 0; i < v->len; i++)
			free_inner(&v->items[i]);
		free(v->items);
	}
}

void orc_jsonr_free(struct orc_jsonr *v)
{
	if (!v)
		return;
	free_inner(v);
	free(v);
}

struct orc_jsonr *orc_jsonr_parse(const char *text, size_t len, char *errbuf, size_t errlen)
{
	struct parser p = { .s = text, .len = len, .errbuf = errbuf, .errlen = errlen };
	struct orc_jsonr *v = calloc(1, sizeof(*v));

	if (!v) {
		fail(&p, "out of memory");
		return NULL;
	}
	if (parse_value(&p, v, 0) == 0) {
		skip_ws(&p);
		if (p.i == p.len)
			return v;
		fail(&p, "trailing characters");
	}
	orc_jsonr_free(v);
	return NULL;
}

struct orc_jsonr *orc_jsonr_parse_file(const char *path, char *errbuf, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct orc_jsonr *v = NULL;
	char *buf = NULL;
	long n;

	if (!f) {
		if (errbuf && errlen)
			snprintf(errbuf, errlen, "cannot open %s", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
		v = orc_jsonr_parse(buf, (size_t)n, errbuf, errlen);
	else if (errbuf && errlen)
		snprintf(errbuf, errlen, "cannot read %s", path);
	free(buf);
	fclose(f);
	return v;
}

/* ---- accessors ---- */

const struct orc_jsonr *orc_jsonr_get(const struct orc_jsonr *v, const char *key)
{
	if (!v || v->type != ORC_JSONR_OBJ)
		return NULL;
	for (size_t i = 0; i < v->len; i++)
		if (strcmp(v->items[i].key, key) == 0)
			return &v->items[i];
	return NULL;
}

const struct orc_jsonr *orc_jsonr_at(const struct orc_jsonr *v, size_t i)
{
	if (!v || (v->type != ORC_JSONR_ARR && v->type != ORC_JSONR_OBJ) || i >= v->len)
		return NULL;
	return &v->items[i];
}

size_t orc_jsonr_len(const struct orc_jsonr *v)
{
	if (!v || (v->type != ORC_JSONR_ARR && v->type != ORC_JSONR_OBJ))
		return 0;
	return v->len;
}

double orc_jsonr_num(const struct orc_jsonr *v, double dflt)
{
	return v && v->type == ORC_JSONR_NUM ? v->num : dflt;
}

const char *orc_jsonr_str(const struct orc_jsonr *v)
{
	return v && v->type == ORC_JSONR_STR ? v->str : NULL;
}

int orc_jsonr_i32_array(const struct orc_jsonr *v, int32_t **ret, size_t *ret_n)
{
	int32_t *out;

	if (!v || v->type != ORC_JSONR_ARR)
		return -1;
	out = malloc((v->len ? v->len : 1) * sizeof(*out));
	if (!out)
		return -1;
	for (size_t i = 0; i < v->len; i++) {
		double d = v->items[i].num;
		if (v->items[i].type != ORC_JSONR_NUM || d != floor(d) || d < INT32_MIN || d > INT32_MAX) {
			free(out);
			return -1;
		}
		out[i] = (int32_t)d;
	}
	*ret = out;
	*ret_n = v->len;
	return 0;
}
