/* proto_codec.c -- what the encoder and decoder share: the arena that owns
 * a decoded message's strings and arrays, key paths for error messages, the
 * value checks (one set for both directions), and the error helpers. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_codec.h"

/* ---- arena ---- */
struct orc_arena {
	struct orc_arena *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_CHUNK (16u << 10)

void *orc_pc_alloc(struct orc_msg *m, size_t n)
{
	struct orc_arena *a = m->arena;
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	if (!a || a->cap - a->used < need) {
		size_t cap = need > ARENA_CHUNK ? need : ARENA_CHUNK;

		a = malloc(sizeof(*a) + cap);
		if (!a)
			return NULL;
		a->used = 0;
		a->cap = cap;
		a->next = m->arena;
		m->arena = a;
	}
	p = (char *)a->data + a->used;
	a->used += need;
	return p;
}

void orc_msg_clear(struct orc_msg *m)
{
	struct orc_arena *a, *next;

	if (!m)
		return;
	for (a = m->arena; a; a = next) {
		next = a->next;
		free(a);
	}
	memset(m, 0, sizeof(*m));
}

/* ---- key paths for error messages: "messages[2].role" ---- */
size_t orc_pc_push(struct orc_pc_path *p, const char *key, long idx)
{
	size_t old = p->len;
	int n;

	if (key)
		n = snprintf(p->s + p->len, sizeof(p->s) - p->len, "%s%s", p->len ? "." : "", key);
	else
		n = snprintf(p->s + p->len, sizeof(p->s) - p->len, "[%ld]", idx);
	if (n > 0)
		p->len += (size_t)n < sizeof(p->s) - p->len ? (size_t)n : sizeof(p->s) - 1 - p->len;
	return old;
}

void orc_pc_pop(struct orc_pc_path *p, size_t old)
{
	p->len = old;
	p->s[old] = '\0';
}

int orc_pc_bad(struct orc_pc *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return orc_err_set(c->err, -EINVAL, "key '%s': %s", c->path.s, why);
}

/* ---- value checks shared by both directions ---- */
int orc_pc_check_uint(struct orc_pc *c, const struct orc_field *f, uint64_t v)
{
	if ((f->lo > 0 && v < (uint64_t)f->lo) || v > f->hi)
		return orc_pc_bad(c, "%llu out of range %lld..%llu", (unsigned long long)v,
			   (long long)f->lo, (unsigned long long)f->hi);
	return 0;
}

int orc_pc_check_int(struct orc_pc *c, const struct orc_field *f, int64_t v)
{
	int64_t hi = f->hi > INT64_MAX ? INT64_MAX : (int64_t)f->hi;

	if (v < f->lo || v > hi)
		return orc_pc_bad(c, "%lld out of range %lld..%lld", (long long)v, (long long)f->lo,
			   (long long)hi);
	return 0;
}

int orc_pc_check_float(struct orc_pc *c, const struct orc_field *f, double v)
{
	if (isnan(v))
		return orc_pc_bad(c, "NaN is not allowed");
	if (isinf(v) && !(v < 0 && (f->fflags & ORC_FF_NEG_INF)))
		return orc_pc_bad(c, "must be finite");
	if (isinf(v))
		return 0;
	if (v < f->flo || v > f->fhi || ((f->fflags & ORC_FF_GT_LO) && v == f->flo))
		return orc_pc_bad(c, "%g out of range %s%g..%g", v,
			   (f->fflags & ORC_FF_GT_LO) ? ">" : "", f->flo, f->fhi);
	return 0;
}

int orc_pc_check_len(struct orc_pc *c, uint64_t len, uint64_t lo, uint64_t hi, const char *what)
{
	if (len < lo || len > hi)
		return orc_pc_bad(c, "%s of %llu bytes, allowed %llu..%llu", what, (unsigned long long)len,
			   (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

int orc_pc_check_name(struct orc_pc *c, const char *s, uint32_t len, uint64_t max)
{
	if (orc_proto_check_name(s, len, max) < 0)
		return orc_pc_bad(c, "invalid name (1..%llu bytes, no '/', '\\', \"..\" or control "
			   "characters, not starting with '.')", (unsigned long long)max);
	return 0;
}

int orc_pc_role(const char *s, size_t len)
{
	for (uint32_t r = ORC_ROLE_SYSTEM; r <= ORC_ROLE_ASSISTANT; r++) {
		const char *n = orc_role_name(r);

		if (strlen(n) == len && memcmp(n, s, len) == 0)
			return (int)r;
	}
	return -1;
}

enum occ_status orc_proto_status_from_errno(int e)
{
	switch (e) {
	case 0: return OCC_OK;
	case -EBADMSG: return OCC_BAD_FRAME;
	case -EINVAL: return OCC_BAD_REQUEST;
	case -ENOMSG: return OCC_UNKNOWN_TYPE;
	case -E2BIG: return OCC_TOO_LARGE;
	default: return OCC_INTERNAL;
	}
}

void orc_msg_error(struct orc_msg *m, uint32_t id, enum occ_status code, const char *message)
{
	const char *name = orc_status_name(code);

	orc_msg_init(m, ORC_MSG_ERROR, id);
	m->u.error.code = (uint32_t)code;
	m->u.error.name = (struct orc_str){ name, (uint32_t)strlen(name) };
	m->u.error.message = (struct orc_str){ message, (uint32_t)strnlen(message, ORC_PROTO_ERRMSG_MAX) };
}
