/* gguf.c -- GGUF v2/v3 parser: validates the header, every metadata value
 * and the tensor table of a file's bytes (gguf_file.c gets them) before
 * anything is used, building the hash tables and array indexes that
 * gguf_get.c serves from.
 * Assumes a little-endian host (x86-64, aarch64); multi-byte fields are
 * read with memcpy, never through a cast pointer. Library code. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "gguf_impl.h"

#define GGUF_HEADER_BYTES 24u
#define KV_MIN_BYTES      13u  /* key length 8 + value type 4 + 1-byte value */
#define TENSOR_MIN_BYTES  32u  /* name length 8 + n_dims 4 + ne 8 + type 4 + offset 8 */

/* ---- allocation ---- */

#define ARENA_CHUNK 65536u

static void *arena_alloc(struct orc_gguf *g, size_t n)
{
	struct arena_chunk *c = g->arena;
	n = (n + 15) & ~(size_t)15;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		if (n > ARENA_CHUNK / 4 && g->arena) {
			/* a big block gets its own chunk behind the current one */
			c->next = g->arena->next;
			g->arena->next = c;
		} else {
			c->next = g->arena;
			g->arena = c;
		}
	}
	void *p = c->mem + c->used;
	c->used += n;
	return p;
}

static uint64_t *hash_new(uint64_t n, uint64_t *ret_mask)
{
	uint64_t cap = 8;
	while (cap < 2 * n)
		cap <<= 1;
	*ret_mask = cap - 1;
	return calloc(cap, sizeof(uint64_t));
}

/* ---- the parser ---- */

struct parser {
	struct orc_gguf *g;
	const uint8_t *p;
	uint64_t size, pos;
	struct orc_err *err;
	const struct orc_gguf_kv *kv;   /* the key being parsed, for messages */
	uint64_t kv_index;
};

static uint64_t left(const struct parser *ps)
{
	return ps->size - ps->pos;
}

/* An error inside metadata key `ps->kv`: "metadata key 'K' at offset O: ..." */
__attribute__((format(printf, 3, 4)))
static int kv_fail(struct parser *ps, int code, const char *fmt, ...)
{
	char msg[ORC_ERR_MSG_MAX], name[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return orc_err_set(ps->err, code, "metadata key '%s' (#%" PRIu64 ") at offset %" PRIu64 ": %s",
			   orc_gguf_printable(ps->kv->key.ptr, ps->kv->key.len, name), ps->kv_index,
			   ps->kv->file_offset, msg);
}

static int nomem(struct parser *ps)
{
	return orc_err_set(ps->err, -ENOMEM, "out of memory at offset %" PRIu64, ps->pos);
}

static int parse_arr(struct parser *ps, struct orc_gguf_arr *out, int depth);

/* A scalar or string value of type t at ps->pos into kv->v. */
static int parse_scalar(struct parser *ps, enum orc_gguf_vtype t, struct orc_gguf_kv *kv)
{
	uint64_t at = ps->pos;
	const uint8_t *p = ps->p + at;

	if (t == ORC_GGUF_STRING) {
		if (left(ps) < 8)
			return kv_fail(ps, -EBADMSG, "string length at offset %" PRIu64
				       " truncated (needs 8 bytes, %" PRIu64 " left)", at, left(ps));
		uint64_t len = orc_ld64(p);
		if (len > left(ps) - 8)
			return kv_fail(ps, -EBADMSG, "string length %" PRIu64 " at offset %" PRIu64
				       " exceeds the %" PRIu64 " bytes left", len, at, left(ps) - 8);
		kv->v.s.ptr = (const char *)p + 8;
		kv->v.s.len = len;
		ps->pos += 8 + len;
		return 0;
	}
	uint8_t sz = orc_gguf_vtype_size[t];
	if (left(ps) < sz)
		return kv_fail(ps, -EBADMSG, "%s value at offset %" PRIu64 " truncated (needs %u bytes, %"
			       PRIu64 " left)", orc_gguf_vtype_name(t), at, sz, left(ps));
	switch (t) {
	case ORC_GGUF_UINT8: kv->v.u = p[0]; break;
	case ORC_GGUF_INT8: kv->v.i = (int8_t)p[0]; break;
	case ORC_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); kv->v.u = v; break; }
	case ORC_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); kv->v.i = v; break; }
	case ORC_GGUF_UINT32: kv->v.u = orc_ld32(p); break;
	case ORC_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); kv->v.i = v; break; }
	case ORC_GGUF_FLOAT32: { float v; memcpy(&v, p, 4); kv->v.f = v; break; }
	case ORC_GGUF_UINT64: kv->v.u = orc_ld64(p); break;
	case ORC_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); kv->v.i = v; break; }
	case ORC_GGUF_FLOAT64: { double v; memcpy(&v, p, 8); kv->v.f = v; break; }
	case ORC_GGUF_BOOL:
		if (p[0] > 1)
			return kv_fail(ps, -EBADMSG, "bool value %u at offset %" PRIu64 " is not 0 or 1",
				       p[0], at);
		kv->v.b = p[0] != 0;
		break;
	default:
		return kv_fail(ps, -EBADMSG, "unknown value type %u", (unsigned)t);
	}
	ps->pos += sz;
	return 0;
}

/* n strings starting at ps->pos: builds the offset index. */
static int parse_str_elems(struct parser *ps, uint64_t n, struct arr_impl *impl)
{
	uint64_t *off = NULL;
	uint64_t start = ps->pos;

	if (n) {
		/* n * 8 <= bytes left was checked by the caller */
		off = arena_alloc(ps->g, (size_t)n * sizeof(uint64_t));
		if (!off)
			return nomem(ps);
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t at = ps->pos;
		if (left(ps) < 8)
			return kv_fail(ps, -EBADMSG, "array element %" PRIu64 ": string length at offset %"
				       PRIu64 " truncated (needs 8 bytes, %" PRIu64 " left)", i, at, left(ps));
		uint64_t len = orc_ld64(ps->p + at);
		if (len > left(ps) - 8)
			return kv_fail(ps, -EBADMSG, "array element %" PRIu64 ": string length %" PRIu64
				       " at offset %" PRIu64 " exceeds the %" PRIu64 " bytes left",
				       i, len, at, left(ps) - 8);
		off[i] = at - start;
		ps->pos += 8 + len;
	}
	impl->off = off;
	return 0;
}

static int parse_arr_elems(struct parser *ps, uint64_t n, struct arr_impl *impl, int depth)
{
	struct orc_gguf_arr *sub = NULL;

	if (n) {
		/* each nested array takes >= 12 file bytes; n * 12 <= bytes left */
		sub = arena_alloc(ps->g, (size_t)n * sizeof(*sub));
		if (!sub)
			return nomem(ps);
	}
	for (uint64_t i = 0; i < n; i++) {
		int r = parse_arr(ps, &sub[i], depth + 1);
		if (r < 0)
			return r;
	}
	impl->sub = sub;
	return 0;
}

static int check_bools(struct parser *ps, const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] > 1)
			return kv_fail(ps, -EBADMSG, "array element %" PRIu64 ": bool value %u at offset %"
				       PRIu64 " is not 0 or 1", i, p[i], (uint64_t)(p + i - ps->p));
	return 0;
}

/* An array value (u32 element type | u64 count | elements) at ps->pos. */
static int parse_arr(struct parser *ps, struct orc_gguf_arr *out, int depth)
{
	uint64_t at = ps->pos;
	int r;

	if (depth > ORC_GGUF_ARRAY_DEPTH_MAX)
		return kv_fail(ps, -E2BIG, "array at offset %" PRIu64 " nested deeper than %d levels",
			       at, ORC_GGUF_ARRAY_DEPTH_MAX);
	if (left(ps) < 12)
		return kv_fail(ps, -EBADMSG, "array header at offset %" PRIu64 " truncated (needs 12 bytes, %"
			       PRIu64 " left)", at, left(ps));
	uint32_t et = orc_ld32(ps->p + at);
	uint64_t n = orc_ld64(ps->p + at + 4);
	if (et >= ORC_GGUF_VTYPE_COUNT)
		return kv_fail(ps, -EBADMSG, "array at offset %" PRIu64 ": unknown element type %" PRIu32,
			       at, et);
	ps->pos += 12;
	uint64_t min = et == ORC_GGUF_STRING ? 8 : et == ORC_GGUF_ARRAY ? 12 : orc_gguf_vtype_size[et];
	if (n > UINT64_MAX / min)
		return kv_fail(ps, -EBADMSG, "array at offset %" PRIu64 ": element count %" PRIu64
			       " x %" PRIu64 " bytes overflows", at, n, min);
	if (n * min > left(ps))
		return kv_fail(ps, -EBADMSG, "array at offset %" PRIu64 ": %" PRIu64 " elements of type %s"
			       " need at least %" PRIu64 " bytes, %" PRIu64 " left",
			       at, n, orc_gguf_vtype_name((enum orc_gguf_vtype)et), n * min, left(ps));

	struct arr_impl *impl = arena_alloc(ps->g, sizeof(*impl));
	if (!impl)
		return nomem(ps);
	impl->data = ps->p + ps->pos;
	impl->off = NULL;
	impl->sub = NULL;
	if (et == ORC_GGUF_STRING) {
		r = parse_str_elems(ps, n, impl);
	} else if (et == ORC_GGUF_ARRAY) {
		r = parse_arr_elems(ps, n, impl, depth);
	} else {
		r = et == ORC_GGUF_BOOL ? check_bools(ps, impl->data, n) : 0;
		ps->pos += n * min;
	}
	if (r < 0)
		return r;
	out->type = (enum orc_gguf_vtype)et;
	out->n = n;
	out->impl = impl;
	return 0;
}

/* ---- header and metadata ---- */

static int parse_header(struct parser *ps)
{
	const uint8_t *p = ps->p;
	char buf[64];

	if (ps->size >= 4 && memcmp(p, "GGUF", 4) != 0)
		return orc_err_set(ps->err, -EBADMSG, "bad magic at offset 0: \"%s\" (0x%08" PRIx32
				   "), expected \"GGUF\"", orc_gguf_printable((const char *)p, 4, buf), orc_ld32(p));
	if (ps->size < GGUF_HEADER_BYTES)
		return orc_err_set(ps->err, -EBADMSG, "header at offset 0 truncated: file is %" PRIu64
				   " bytes, a GGUF header needs %u", ps->size, GGUF_HEADER_BYTES);
	uint32_t v = orc_ld32(p + 4);
	if (v == 1)
		return orc_err_set(ps->err, -EBADMSG, "version 1 at offset 4: GGUF v1 (32-bit counts, "
				   "2023) is not supported; convert the file to GGUF v3");
	if (v != 2 && v != 3) {
		if ((v & 0xffffu) == 0 && (v >> 16) != 0)
			return orc_err_set(ps->err, -EBADMSG, "version 0x%08" PRIx32 " at offset 4: a "
					   "big-endian GGUF file; only little-endian files are supported", v);
		return orc_err_set(ps->err, -EBADMSG, "unsupported version %" PRIu32 " at offset 4 "
				   "(supported: 2 and 3)", v);
	}
	ps->g->version = v;
	ps->g->n_tensors = orc_ld64(p + 8);
	ps->g->n_kv = orc_ld64(p + 16);
	ps->pos = GGUF_HEADER_BYTES;
	return 0;
}

/* Counts against the bytes left, before anything is allocated for them. */
static int check_counts(struct parser *ps)
{
	uint64_t nt = ps->g->n_tensors, nkv = ps->g->n_kv, rest = left(ps), need;

	if (nt > UINT64_MAX / TENSOR_MIN_BYTES)
		return orc_err_set(ps->err, -EBADMSG, "tensor count %" PRIu64 " at offset 8: %" PRIu64
				   " x %u bytes overflows", nt, nt, TENSOR_MIN_BYTES);
	if (nkv > UINT64_MAX / KV_MIN_BYTES)
		return orc_err_set(ps->err, -EBADMSG, "metadata key count %" PRIu64 " at offset 16: %"
				   PRIu64 " x %u bytes overflows", nkv, nkv, KV_MIN_BYTES);
	if (nt * TENSOR_MIN_BYTES > rest)
		return orc_err_set(ps->err, -EBADMSG, "tensor count %" PRIu64 " at offset 8: needs at "
				   "least %" PRIu64 " bytes, the file has %" PRIu64 " after the header",
				   nt, nt * TENSOR_MIN_BYTES, rest);
	if (nkv * KV_MIN_BYTES > rest)
		return orc_err_set(ps->err, -EBADMSG, "metadata key count %" PRIu64 " at offset 16: needs "
				   "at least %" PRIu64 " bytes, the file has %" PRIu64 " after the header",
				   nkv, nkv * KV_MIN_BYTES, rest);
	if (__builtin_add_overflow(nt * TENSOR_MIN_BYTES, nkv * KV_MIN_BYTES, &need) || need > rest)
		return orc_err_set(ps->err, -EBADMSG, "tensor count %" PRIu64 " at offset 8 and metadata "
				   "key count %" PRIu64 " at offset 16: together they need more than the %"
				   PRIu64 " bytes after the header", nt, nkv, rest);
	return 0;
}

static int parse_kv(struct parser *ps, uint64_t i)
{
	struct orc_gguf *g = ps->g;
	struct orc_gguf_kv *kv = &g->kv[i];
	uint64_t at = ps->pos;

	kv->file_offset = at;
	if (left(ps) < 8)
		return orc_err_set(ps->err, -EBADMSG, "metadata key #%" PRIu64 " at offset %" PRIu64
				   ": key length truncated (needs 8 bytes, %" PRIu64 " left)", i, at, left(ps));
	uint64_t len = orc_ld64(ps->p + at);
	if (len > ORC_GGUF_KEY_MAX)
		return orc_err_set(ps->err, -EBADMSG, "metadata key #%" PRIu64 " at offset %" PRIu64
				   ": key length %" PRIu64 " exceeds the limit of %u bytes", i, at, len,
				   ORC_GGUF_KEY_MAX);
	if (len > left(ps) - 8)
		return orc_err_set(ps->err, -EBADMSG, "metadata key #%" PRIu64 " at offset %" PRIu64
				   ": key length %" PRIu64 " exceeds the %" PRIu64 " bytes left", i, at, len,
				   left(ps) - 8);
	kv->key.ptr = (const char *)ps->p + at + 8;
	kv->key.len = len;
	ps->pos += 8 + len;
	ps->kv = kv;
	ps->kv_index = i;
	if (left(ps) < 4)
		return kv_fail(ps, -EBADMSG, "value type at offset %" PRIu64 " truncated (needs 4 bytes, %"
			       PRIu64 " left)", ps->pos, left(ps));
	uint32_t t = orc_ld32(ps->p + ps->pos);
	if (t >= ORC_GGUF_VTYPE_COUNT)
		return kv_fail(ps, -EBADMSG, "unknown value type %" PRIu32 " at offset %" PRIu64,
			       t, ps->pos);
	ps->pos += 4;
	kv->type = (enum orc_gguf_vtype)t;
	int r = t == ORC_GGUF_ARRAY ? parse_arr(ps, &kv->v.arr, 1) : parse_scalar(ps, kv->type, kv);
	if (r < 0)
		return r;

	/* insert into the hash; a duplicate is an error */
	for (uint64_t h = orc_gguf_hash(kv->key.ptr, len) & g->kv_mask;; h = (h + 1) & g->kv_mask) {
		uint64_t e = g->kv_hash[h];
		if (e == 0) {
			g->kv_hash[h] = i + 1;
			break;
		}
		if (orc_gguf_kv_key_eq(&g->kv[e - 1], kv->key.ptr, len))
			return kv_fail(ps, -EBADMSG, "duplicate key (first at offset %" PRIu64 ")",
				       g->kv[e - 1].file_offset);
	}
	return 0;
}

static int parse_alignment(struct parser *ps)
{
	struct orc_gguf *g = ps->g;
	static const char key[] = "general.alignment";
	uint64_t i = orc_gguf_kv_index(g, key, sizeof(key) - 1);

	g->alignment = ORC_GGUF_DEFAULT_ALIGNMENT;
	if (i == UINT64_MAX)
		return 0;
	ps->kv = &g->kv[i];
	ps->kv_index = i;
	if (g->kv[i].type != ORC_GGUF_UINT32)
		return kv_fail(ps, -EBADMSG, "type %s, expected uint32", orc_gguf_vtype_name(g->kv[i].type));
	uint64_t a = g->kv[i].v.u;
	if (a == 0 || (a & (a - 1)) != 0)
		return kv_fail(ps, -EBADMSG, "alignment %" PRIu64 " is not a power of two", a);
	g->alignment = a;
	return 0;
}

/* ---- tensor table ---- */

/* "tensor 'NAME' at offset O: ..." (or "tensor #i" before the name is known). */
__attribute__((format(printf, 4, 5)))
static int t_fail(struct parser *ps, const struct orc_gguf_tensor *t, uint64_t i, const char *fmt, ...)
{
	char msg[ORC_ERR_MSG_MAX], name[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t->name)
		return orc_err_set(ps->err, -EBADMSG, "tensor '%s' at offset %" PRIu64 ": %s",
				   orc_gguf_printable(t->name, strlen(t->name), name), t->info_offset, msg);
	return orc_err_set(ps->err, -EBADMSG, "tensor #%" PRIu64 " at offset %" PRIu64 ": %s",
			   i, t->info_offset, msg);
}

static int parse_tensor_name(struct parser *ps, struct orc_gguf_tensor *t, uint64_t i)
{
	uint64_t at = ps->pos;

	if (left(ps) < 8)
		return t_fail(ps, t, i, "name length truncated (needs 8 bytes, %" PRIu64 " left)", left(ps));
	uint64_t len = orc_ld64(ps->p + at);
	if (len >= ORC_GGUF_NAME_MAX)
		return t_fail(ps, t, i, "name length %" PRIu64 " exceeds the limit of %u bytes",
			      len, ORC_GGUF_NAME_MAX - 1);
	if (len > left(ps) - 8)
		return t_fail(ps, t, i, "name length %" PRIu64 " exceeds the %" PRIu64 " bytes left",
			      len, left(ps) - 8);
	const char *src = (const char *)ps->p + at + 8;
	if (memchr(src, '\0', len))
		return t_fail(ps, t, i, "name contains a NUL byte");
	char *name = arena_alloc(ps->g, len + 1);
	if (!name)
		return nomem(ps);
	memcpy(name, src, len);
	name[len] = '\0';
	t->name = name;
	ps->pos += 8 + len;
	return 0;
}

/* n_dims and ne[]: the element count must fit int64 (ggml's int64_t ne). */
static int parse_tensor_dims(struct parser *ps, struct orc_gguf_tensor *t, uint64_t i, uint64_t *nel)
{
	if (left(ps) < 4)
		return t_fail(ps, t, i, "n_dims truncated at offset %" PRIu64, ps->pos);
	uint32_t nd = orc_ld32(ps->p + ps->pos);
	if (nd == 0 || nd > ORC_GGUF_MAX_DIMS)
		return t_fail(ps, t, i, "n_dims %" PRIu32 " at offset %" PRIu64 " (must be 1 to %d)",
			      nd, ps->pos, ORC_GGUF_MAX_DIMS);
	ps->pos += 4;
	if (left(ps) < (uint64_t)8 * nd)
		return t_fail(ps, t, i, "dimensions at offset %" PRIu64 " truncated (needs %u bytes, %"
			      PRIu64 " left)", ps->pos, 8 * (unsigned)nd, left(ps));
	t->n_dims = nd;
	*nel = 1;
	for (uint32_t d = 0; d < ORC_GGUF_MAX_DIMS; d++) {
		uint64_t ne = d < nd ? orc_ld64(ps->p + ps->pos + (uint64_t)8 * d) : 1;
		if (ne > (uint64_t)INT64_MAX)
			return t_fail(ps, t, i, "ne[%" PRIu32 "] = %" PRIu64 " at offset %" PRIu64
				      " exceeds INT64_MAX", d, ne, ps->pos + (uint64_t)8 * d);
		t->ne[d] = ne;
		if (__builtin_mul_overflow(*nel, ne, nel) || *nel > (uint64_t)INT64_MAX)
			return t_fail(ps, t, i, "element count overflows (ne = %" PRIu64 " x %" PRIu64
				      " x %" PRIu64 " x %" PRIu64 ")", t->ne[0], d > 0 ? t->ne[1] : 1,
				      d > 1 ? t->ne[2] : 1, d > 2 ? t->ne[3] : 1);
	}
	ps->pos += (uint64_t)8 * nd;
	return 0;
}

static int parse_tensor_type(struct parser *ps, struct orc_gguf_tensor *t, uint64_t i, uint64_t nel)
{
	if (left(ps) < 12)
		return t_fail(ps, t, i, "type and data offset at offset %" PRIu64 " truncated (needs 12 "
			      "bytes, %" PRIu64 " left)", ps->pos, left(ps));
	uint32_t type = orc_ld32(ps->p + ps->pos);
	const struct orc_type_info *ti = orc_type_info(type);
	if (!ti)
		return t_fail(ps, t, i, "unknown type %" PRIu32 " at offset %" PRIu64, type, ps->pos);
	t->type = (enum orc_type)type;
	if (t->ne[0] % ti->block_elems != 0)
		return t_fail(ps, t, i, "row of %" PRIu64 " elements is not a multiple of the %s block "
			      "size %" PRIu32, t->ne[0], ti->name, ti->block_elems);
	/* nel is a multiple of the block because ne[0] is */
	if (__builtin_mul_overflow(nel / ti->block_elems, (uint64_t)ti->block_bytes, &t->size))
		return t_fail(ps, t, i, "byte size overflows (%" PRIu64 " elements of %s)", nel, ti->name);
	ps->pos += 4;
	t->offset = orc_ld64(ps->p + ps->pos);
	if (t->offset % ps->g->alignment != 0)
		return t_fail(ps, t, i, "data offset %" PRIu64 " at offset %" PRIu64 " is misaligned "
			      "(not a multiple of the alignment %" PRIu64 ")", t->offset, ps->pos,
			      ps->g->alignment);
	ps->pos += 8;
	return 0;
}

static int parse_tensor(struct parser *ps, uint64_t i)
{
	struct orc_gguf *g = ps->g;
	struct orc_gguf_tensor *t = &g->tensors[i];
	uint64_t nel = 0;
	int r;

	memset(t, 0, sizeof(*t));
	t->info_offset = ps->pos;
	if ((r = parse_tensor_name(ps, t, i)) < 0 || (r = parse_tensor_dims(ps, t, i, &nel)) < 0 ||
	    (r = parse_tensor_type(ps, t, i, nel)) < 0)
		return r;
	size_t len = strlen(t->name);
	for (uint64_t h = orc_gguf_hash(t->name, len) & g->t_mask;; h = (h + 1) & g->t_mask) {
		uint64_t e = g->t_hash[h];
		if (e == 0) {
			g->t_hash[h] = i + 1;
			break;
		}
		if (strcmp(g->tensors[e - 1].name, t->name) == 0)
			return t_fail(ps, t, i, "duplicate tensor name (first at offset %" PRIu64 ")",
				      g->tensors[e - 1].info_offset);
	}
	return 0;
}

static int cmp_by_offset(const void *a, const void *b, void *ctx)
{
	const struct orc_gguf_tensor *t = ctx;
	uint64_t x = t[*(const uint64_t *)a].file_offset, y = t[*(const uint64_t *)b].file_offset;
	return x < y ? -1 : x > y;
}

/* Place every tensor's data: inside the file, and no two overlapping. */
static int place_tensors(struct parser *ps)
{
	struct orc_gguf *g = ps->g;
	uint64_t n = g->n_tensors;

	for (uint64_t i = 0; i < n; i++) {
		struct orc_gguf_tensor *t = &g->tensors[i];
		uint64_t end;
		if (__builtin_add_overflow(g->data_offset, t->offset, &t->file_offset) ||
		    __builtin_add_overflow(t->file_offset, t->size, &end) || end > g->size)
			return t_fail(ps, t, i, "data outside the file (starts at %" PRIu64 " + %" PRIu64
				      ", %" PRIu64 " bytes, file is %" PRIu64 " bytes)", g->data_offset,
				      t->offset, t->size, g->size);
		t->data = end <= g->buf_len ? g->base + t->file_offset : NULL;
	}
	if (n < 2)
		return 0;
	uint64_t *order = malloc(n * sizeof(*order));
	if (!order)
		return nomem(ps);
	for (uint64_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), cmp_by_offset, g->tensors);
	/* sorted by start: any start below the furthest end so far overlaps */
	uint64_t far = UINT64_MAX;
	int r = 0;
	for (uint64_t k = 0; k < n && r == 0; k++) {
		const struct orc_gguf_tensor *t = &g->tensors[order[k]];
		if (t->size == 0)
			continue;
		if (far != UINT64_MAX) {
			const struct orc_gguf_tensor *f = &g->tensors[far];
			if (t->file_offset < f->file_offset + f->size) {
				char fname[64];
				r = t_fail(ps, t, order[k], "data [%" PRIu64 ", %" PRIu64 ") overlaps tensor "
					   "'%s' [%" PRIu64 ", %" PRIu64 ")", t->file_offset,
					   t->file_offset + t->size, orc_gguf_printable(f->name, strlen(f->name), fname),
					   f->file_offset, f->file_offset + f->size);
				break;
			}
		}
		if (far == UINT64_MAX ||
		    t->file_offset + t->size > g->tensors[far].file_offset + g->tensors[far].size)
			far = order[k];
	}
	free(order);
	return r;
}

static int parse_all(struct parser *ps)
{
	struct orc_gguf *g = ps->g;
	int r;

	if ((r = parse_header(ps)) < 0 || (r = check_counts(ps)) < 0)
		return r;
	/* check_counts bounded both counts by the file size, so these fit */
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof(*g->kv));
	g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof(*g->tensors));
	g->kv_hash = hash_new(g->n_kv, &g->kv_mask);
	g->t_hash = hash_new(g->n_tensors, &g->t_mask);
	if (!g->kv || !g->tensors || !g->kv_hash || !g->t_hash)
		return nomem(ps);
	for (uint64_t i = 0; i < g->n_kv; i++)
		if ((r = parse_kv(ps, i)) < 0)
			return r;
	if ((r = parse_alignment(ps)) < 0)
		return r;
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if ((r = parse_tensor(ps, i)) < 0)
			return r;
	/* the data section starts at the next multiple of the alignment (it
	 * may lie past the end of a file without tensors) */
	uint64_t a = g->alignment;
	g->data_offset = ps->pos + (a - ps->pos % a) % a;
	return place_tensors(ps);
}

/* ---- open / free ---- */

/* Parse `size` bytes at `data`, the first bytes of a file of `file_size`
 * bytes (equal for a whole file). Tensors whose data lies past the buffer
 * get data = NULL. On success the handle owns nothing of `data` yet. */
int orc_gguf_parse(const void *data, size_t size, uint64_t file_size, struct orc_gguf **ret,
		   struct orc_err *err)
{
	static const uint8_t empty[1];
	struct orc_gguf *g = calloc(1, sizeof(*g));
	struct parser ps = { 0 };
	int r;

	if (!g)
		return orc_err_set(err, -ENOMEM, "out of memory");
	g->base = data ? data : empty;
	g->size = data ? file_size : 0;
	g->buf_len = data ? size : 0;
	ps.g = g;
	ps.p = g->base;
	ps.size = g->buf_len;
	ps.err = err;
	r = parse_all(&ps);
	if (r < 0) {
		orc_gguf_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

int orc_gguf_open_mem(const void *data, size_t size, struct orc_gguf **ret, struct orc_err *err)
{
	return orc_gguf_parse(data, size, size, ret, err);
}

void orc_gguf_free(struct orc_gguf *g)
{
	if (!g)
		return;
	while (g->arena) {
		struct arena_chunk *c = g->arena;
		g->arena = c->next;
		free(c);
	}
	free(g->kv);
	free(g->tensors);
	free(g->kv_hash);
	free(g->t_hash);
	if (g->map)
		munmap(g->map, g->map_len);
	free(g);
}

