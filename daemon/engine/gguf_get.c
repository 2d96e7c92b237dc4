/* gguf_get.c -- read access to a parsed GGUF handle: hashed key and tensor
 * lookup, typed getters that check the stored type, and O(1) array element
 * access through the indexes gguf.c built. Everything here reads data that
 * was validated at open. Library code. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gguf_impl.h"

/* ---- names ---- */

static const char *const vtype_names[ORC_GGUF_VTYPE_COUNT] = {
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
	"bool", "string", "array", "uint64", "int64", "float64",
};

const uint8_t orc_gguf_vtype_size[ORC_GGUF_VTYPE_COUNT] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

const char *orc_gguf_vtype_name(enum orc_gguf_vtype t)
{
	return (unsigned)t < ORC_GGUF_VTYPE_COUNT ? vtype_names[t] : "?";
}

/* A printable copy of at most 48 bytes of s, for messages. */
const char *orc_gguf_printable(const char *s, uint64_t len, char buf[64])
{
	size_t n = len > 48 ? 48 : (size_t)len, o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (len > n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* ---- lookups ---- */

/* Index of the key, or UINT64_MAX. */
uint64_t orc_gguf_kv_index(const struct orc_gguf *g, const char *key, size_t len)
{
	if (!g->kv_hash)
		return UINT64_MAX;
	for (uint64_t h = orc_gguf_hash(key, len) & g->kv_mask;; h = (h + 1) & g->kv_mask) {
		uint64_t e = g->kv_hash[h];
		if (e == 0)
			return UINT64_MAX;
		if (orc_gguf_kv_key_eq(&g->kv[e - 1], key, len))
			return e - 1;
	}
}

static uint64_t tensor_lookup(const struct orc_gguf *g, const char *name, size_t len)
{
	if (!g->t_hash)
		return UINT64_MAX;
	for (uint64_t h = orc_gguf_hash(name, len) & g->t_mask;; h = (h + 1) & g->t_mask) {
		uint64_t e = g->t_hash[h];
		if (e == 0)
			return UINT64_MAX;
		const char *tn = g->tensors[e - 1].name;
		if (strncmp(tn, name, len) == 0 && tn[len] == '\0')
			return e - 1;
	}
}

uint32_t orc_gguf_version(const struct orc_gguf *g) { return g->version; }
uint64_t orc_gguf_alignment(const struct orc_gguf *g) { return g->alignment; }
uint64_t orc_gguf_file_size(const struct orc_gguf *g) { return g->size; }
uint64_t orc_gguf_data_offset(const struct orc_gguf *g) { return g->data_offset; }

/* ---- metadata access ---- */

uint64_t orc_gguf_n_kv(const struct orc_gguf *g)
{
	return g->n_kv;
}

const struct orc_gguf_kv *orc_gguf_kv_at(const struct orc_gguf *g, uint64_t i)
{
	return i < g->n_kv ? &g->kv[i] : NULL;
}

const struct orc_gguf_kv *orc_gguf_find(const struct orc_gguf *g, const char *key)
{
	uint64_t i = orc_gguf_kv_index(g, key, strlen(key));
	return i == UINT64_MAX ? NULL : &g->kv[i];
}

static int type_fail(const struct orc_gguf_kv *kv, const char *want, struct orc_err *err)
{
	char name[64];
	return orc_err_set(err, -EBADMSG, "metadata key '%s' at offset %" PRIu64 ": type %s, expected %s",
			   orc_gguf_printable(kv->key.ptr, kv->key.len, name), kv->file_offset,
			   orc_gguf_vtype_name(kv->type), want);
}

static bool is_unsigned(enum orc_gguf_vtype t)
{
	return t == ORC_GGUF_UINT8 || t == ORC_GGUF_UINT16 || t == ORC_GGUF_UINT32 || t == ORC_GGUF_UINT64;
}

static bool is_signed(enum orc_gguf_vtype t)
{
	return t == ORC_GGUF_INT8 || t == ORC_GGUF_INT16 || t == ORC_GGUF_INT32 || t == ORC_GGUF_INT64;
}

/* Any integer key whose value lies in [lo, hi]; the value as int128-free pair. */
static int get_int(const struct orc_gguf *g, const char *key, bool want_signed, int64_t lo,
		   uint64_t hi, const char *want, uint64_t *ret_u, int64_t *ret_i, struct orc_err *err)
{
	const struct orc_gguf_kv *kv = orc_gguf_find(g, key);
	char name[64];

	if (!kv)
		return -ENOENT;
	if (is_unsigned(kv->type)) {
		if (kv->v.u > hi)
			goto range;
		if (want_signed)
			*ret_i = (int64_t)kv->v.u;
		else
			*ret_u = kv->v.u;
		return 0;
	}
	if (!is_signed(kv->type))
		return type_fail(kv, want, err);
	if (kv->v.i < lo || (kv->v.i > 0 && (uint64_t)kv->v.i > hi))
		goto range;
	if (want_signed)
		*ret_i = kv->v.i;
	else
		*ret_u = (uint64_t)kv->v.i;
	return 0;
range:
	if (is_unsigned(kv->type))
		return orc_err_set(err, -EBADMSG, "metadata key '%s' at offset %" PRIu64 ": value %" PRIu64
				   " does not fit %s", orc_gguf_printable(kv->key.ptr, kv->key.len, name),
				   kv->file_offset, kv->v.u, want);
	return orc_err_set(err, -EBADMSG, "metadata key '%s' at offset %" PRIu64 ": value %" PRId64
			   " does not fit %s", orc_gguf_printable(kv->key.ptr, kv->key.len, name),
			   kv->file_offset, kv->v.i, want);
}

int orc_gguf_get_u32(const struct orc_gguf *g, const char *key, uint32_t *ret, struct orc_err *err)
{
	uint64_t u;
	int r = get_int(g, key, false, 0, UINT32_MAX, "uint32", &u, NULL, err);
	if (r == 0)
		*ret = (uint32_t)u;
	return r;
}

int orc_gguf_get_u64(const struct orc_gguf *g, const char *key, uint64_t *ret, struct orc_err *err)
{
	return get_int(g, key, false, 0, UINT64_MAX, "uint64", ret, NULL, err);
}

int orc_gguf_get_i32(const struct orc_gguf *g, const char *key, int32_t *ret, struct orc_err *err)
{
	int64_t i;
	int r = get_int(g, key, true, INT32_MIN, INT32_MAX, "int32", NULL, &i, err);
	if (r == 0)
		*ret = (int32_t)i;
	return r;
}

int orc_gguf_get_f32(const struct orc_gguf *g, const char *key, float *ret, struct orc_err *err)
{
	const struct orc_gguf_kv *kv = orc_gguf_find(g, key);
	if (!kv)
		return -ENOENT;
	if (kv->type != ORC_GGUF_FLOAT32 && kv->type != ORC_GGUF_FLOAT64)
		return type_fail(kv, "float32", err);
	*ret = (float)kv->v.f;
	return 0;
}

int orc_gguf_get_bool(const struct orc_gguf *g, const char *key, bool *ret, struct orc_err *err)
{
	const struct orc_gguf_kv *kv = orc_gguf_find(g, key);
	if (!kv)
		return -ENOENT;
	if (kv->type != ORC_GGUF_BOOL)
		return type_fail(kv, "bool", err);
	*ret = kv->v.b;
	return 0;
}

int orc_gguf_get_str(const struct orc_gguf *g, const char *key, struct orc_gguf_str *ret,
		     struct orc_err *err)
{
	const struct orc_gguf_kv *kv = orc_gguf_find(g, key);
	if (!kv)
		return -ENOENT;
	if (kv->type != ORC_GGUF_STRING)
		return type_fail(kv, "string", err);
	*ret = kv->v.s;
	return 0;
}

int orc_gguf_get_arr(const struct orc_gguf *g, const char *key, struct orc_gguf_arr *ret,
		     struct orc_err *err)
{
	const struct orc_gguf_kv *kv = orc_gguf_find(g, key);
	if (!kv)
		return -ENOENT;
	if (kv->type != ORC_GGUF_ARRAY)
		return type_fail(kv, "array", err);
	*ret = kv->v.arr;
	return 0;
}

/* ---- array elements (validated at open; i < n is the caller's duty) ---- */

struct orc_gguf_str orc_gguf_arr_str(const struct orc_gguf_arr *arr, uint64_t i)
{
	const struct arr_impl *impl = arr->impl;
	struct orc_gguf_str s = { "", 0 };
	if (arr->type != ORC_GGUF_STRING || i >= arr->n)
		return s;
	const uint8_t *p = impl->data + impl->off[i];
	s.len = orc_ld64(p);
	s.ptr = (const char *)p + 8;
	return s;
}

int64_t orc_gguf_arr_int(const struct orc_gguf_arr *arr, uint64_t i)
{
	const struct arr_impl *impl = arr->impl;
	if (i >= arr->n || (unsigned)arr->type >= ORC_GGUF_VTYPE_COUNT)
		return 0;
	const uint8_t *p = impl->data + i * orc_gguf_vtype_size[arr->type];
	switch (arr->type) {
	case ORC_GGUF_UINT8: case ORC_GGUF_BOOL: return p[0];
	case ORC_GGUF_INT8: return (int8_t)p[0];
	case ORC_GGUF_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
	case ORC_GGUF_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
	case ORC_GGUF_UINT32: return orc_ld32(p);
	case ORC_GGUF_INT32: { int32_t v; memcpy(&v, p, 4); return v; }
	case ORC_GGUF_UINT64: return (int64_t)orc_ld64(p);
	case ORC_GGUF_INT64: { int64_t v; memcpy(&v, p, 8); return v; }
	default: return 0;
	}
}

double orc_gguf_arr_float(const struct orc_gguf_arr *arr, uint64_t i)
{
	const struct arr_impl *impl = arr->impl;
	if (i >= arr->n)
		return 0;
	if (arr->type == ORC_GGUF_FLOAT32) {
		float v;
		memcpy(&v, impl->data + 4 * i, 4);
		return v;
	}
	if (arr->type == ORC_GGUF_FLOAT64) {
		double v;
		memcpy(&v, impl->data + 8 * i, 8);
		return v;
	}
	return 0;
}

struct orc_gguf_arr orc_gguf_arr_arr(const struct orc_gguf_arr *arr, uint64_t i)
{
	const struct arr_impl *impl = arr->impl;
	static const struct arr_impl none;
	struct orc_gguf_arr empty = { ORC_GGUF_UINT8, 0, &none };
	if (arr->type != ORC_GGUF_ARRAY || i >= arr->n)
		return empty;
	return impl->sub[i];
}

bool orc_gguf_str_eq(struct orc_gguf_str a, const char *s)
{
	size_t n = strlen(s);
	return a.len == n && memcmp(a.ptr, s, n) == 0;
}

/* ---- tensors ---- */

uint64_t orc_gguf_n_tensors(const struct orc_gguf *g)
{
	return g->n_tensors;
}

const struct orc_gguf_tensor *orc_gguf_tensor_at(const struct orc_gguf *g, uint64_t i)
{
	return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const struct orc_gguf_tensor *orc_gguf_find_tensor(const struct orc_gguf *g, const char *name)
{
	uint64_t i = tensor_lookup(g, name, strlen(name));
	return i == UINT64_MAX ? NULL : &g->tensors[i];
}
