/* check_gguf.c -- unit tests for the GGUF parser (daemon/engine/gguf.c):
 * files crafted with ggufw holding every value type, nested arrays, custom
 * alignment and tensors; the typed getters; v2 files; the shared fixtures;
 * and a replay of the fuzz corpus. (Malformed files: check_gguf_malformed.) */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "ggufw.h"
#include "testutil.h"

static uint8_t *build(struct ggufw *w, size_t *len)
{
	uint8_t *buf = NULL;
	ck_assert_int_eq(ggufw_to_mem(w, &buf, len), 0);
	ggufw_free(w);
	return buf;
}

static struct orc_gguf *open_ok(const uint8_t *buf, size_t len)
{
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };
	int r = orc_gguf_open_mem(buf, len, &g, &err);
	ck_assert_msg(r == 0, "open failed: %d %s", r, orc_err_msg(&err));
	return g;
}

/* ---- every scalar type ---- */

START_TEST(test_scalars)
{
	struct ggufw *w = ggufw_new();
	size_t len;
	ggufw_key(w, "u8", ORC_GGUF_UINT8); ggufw_u8(w, 200);
	ggufw_key(w, "i8", ORC_GGUF_INT8); ggufw_i8(w, -100);
	ggufw_key(w, "u16", ORC_GGUF_UINT16); ggufw_u16(w, 60000);
	ggufw_key(w, "i16", ORC_GGUF_INT16); ggufw_i16(w, -30000);
	ggufw_kv_u32(w, "u32", 4000000000u);
	ggufw_kv_i32(w, "i32", -2000000000);
	ggufw_kv_f32(w, "f32", 0.15625f);
	ggufw_kv_bool(w, "b", true);
	ggufw_kv_str(w, "s", "hello");
	ggufw_kv_u64(w, "u64", 0xfedcba9876543210ull);
	ggufw_key(w, "i64", ORC_GGUF_INT64); ggufw_i64(w, INT64_MIN);
	ggufw_key(w, "f64", ORC_GGUF_FLOAT64); ggufw_f64(w, 1e300);
	ggufw_kv_str(w, "empty", "");
	uint8_t *buf = build(w, &len);
	struct orc_gguf *g = open_ok(buf, len);

	ck_assert_uint_eq(orc_gguf_version(g), 3);
	ck_assert_uint_eq(orc_gguf_n_kv(g), 13);
	ck_assert_uint_eq(orc_gguf_n_tensors(g), 0);
	ck_assert_uint_eq(orc_gguf_alignment(g), 32);
	ck_assert_uint_eq(orc_gguf_file_size(g), len);
	ck_assert_uint_eq(orc_gguf_find(g, "u8")->v.u, 200);
	ck_assert_int_eq(orc_gguf_find(g, "i8")->v.i, -100);
	ck_assert_uint_eq(orc_gguf_find(g, "u16")->v.u, 60000);
	ck_assert_int_eq(orc_gguf_find(g, "i16")->v.i, -30000);
	ck_assert_uint_eq(orc_gguf_find(g, "u32")->v.u, 4000000000u);
	ck_assert_int_eq(orc_gguf_find(g, "i32")->v.i, -2000000000);
	ck_assert(orc_gguf_find(g, "f32")->v.f == 0.15625);
	ck_assert(orc_gguf_find(g, "b")->v.b);
	ck_assert(orc_gguf_str_eq(orc_gguf_find(g, "s")->v.s, "hello"));
	ck_assert(!orc_gguf_str_eq(orc_gguf_find(g, "s")->v.s, "hell"));
	ck_assert(orc_gguf_find(g, "u64")->v.u == 0xfedcba9876543210ull);
	ck_assert(orc_gguf_find(g, "i64")->v.i == INT64_MIN);
	ck_assert(orc_gguf_find(g, "f64")->v.f == 1e300);
	ck_assert_uint_eq(orc_gguf_find(g, "empty")->v.s.len, 0);
	ck_assert_ptr_null(orc_gguf_find(g, "missing"));
	ck_assert_ptr_null(orc_gguf_find(g, "u"));
	/* key order and offsets: the first key starts right after the header */
	ck_assert(orc_gguf_str_eq(orc_gguf_kv_at(g, 0)->key, "u8"));
	ck_assert_uint_eq(orc_gguf_kv_at(g, 0)->file_offset, 24);
	ck_assert_uint_eq(orc_gguf_kv_at(g, 1)->file_offset, 24 + 8 + 2 + 4 + 1);
	ck_assert_ptr_null(orc_gguf_kv_at(g, 13));
	ck_assert_int_eq(orc_gguf_find(g, "f64")->type, ORC_GGUF_FLOAT64);
	orc_gguf_free(g);
	free(buf);
}
END_TEST

START_TEST(test_getters)
{
	struct ggufw *w = ggufw_new();
	size_t len;
	struct orc_err err = { 0 };
	ggufw_kv_u32(w, "u32", 7);
	ggufw_kv_u64(w, "big", 1ull << 40);
	ggufw_kv_i32(w, "neg", -5);
	ggufw_key(w, "u8", ORC_GGUF_UINT8); ggufw_u8(w, 9);
	ggufw_key(w, "f64", ORC_GGUF_FLOAT64); ggufw_f64(w, 0.5);
	ggufw_kv_str(w, "s", "x");
	ggufw_kv_bool(w, "b", false);
	uint8_t *buf = build(w, &len);
	struct orc_gguf *g = open_ok(buf, len);
	uint32_t u32 = 0;
	uint64_t u64 = 0;
	int32_t i32 = 0;
	float f = 0;
	bool b = true;
	struct orc_gguf_str s;
	struct orc_gguf_arr a;

	ck_assert_int_eq(orc_gguf_get_u32(g, "u32", &u32, &err), 0);
	ck_assert_uint_eq(u32, 7);
	ck_assert_int_eq(orc_gguf_get_u32(g, "u8", &u32, &err), 0);    /* any fitting integer */
	ck_assert_uint_eq(u32, 9);
	ck_assert_int_eq(orc_gguf_get_u64(g, "big", &u64, &err), 0);
	ck_assert(u64 == 1ull << 40);
	ck_assert_int_eq(orc_gguf_get_i32(g, "neg", &i32, &err), 0);
	ck_assert_int_eq(i32, -5);
	ck_assert_int_eq(orc_gguf_get_f32(g, "f64", &f, &err), 0);
	ck_assert(f == 0.5f);
	ck_assert_int_eq(orc_gguf_get_bool(g, "b", &b, &err), 0);
	ck_assert(!b);
	ck_assert_int_eq(orc_gguf_get_str(g, "s", &s, &err), 0);
	ck_assert(orc_gguf_str_eq(s, "x"));

	/* absent: -ENOENT and err untouched */
	orc_err_clear(&err);
	ck_assert_int_eq(orc_gguf_get_u32(g, "nope", &u32, &err), -ENOENT);
	ck_assert_int_eq(err.code, 0);
	/* does not fit */
	ck_assert_int_eq(orc_gguf_get_u32(g, "big", &u32, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "'big'"));
	ck_assert_ptr_nonnull(strstr(err.msg, "does not fit uint32"));
	ck_assert_int_eq(orc_gguf_get_u32(g, "neg", &u32, &err), -EBADMSG);
	ck_assert_int_eq(orc_gguf_get_u64(g, "neg", &u64, &err), -EBADMSG);
	/* wrong type */
	ck_assert_int_eq(orc_gguf_get_u32(g, "s", &u32, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "type string, expected uint32"));
	ck_assert_int_eq(orc_gguf_get_str(g, "u32", &s, &err), -EBADMSG);
	ck_assert_int_eq(orc_gguf_get_f32(g, "u32", &f, &err), -EBADMSG);
	ck_assert_int_eq(orc_gguf_get_bool(g, "u8", &b, &err), -EBADMSG);
	ck_assert_int_eq(orc_gguf_get_arr(g, "s", &a, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "expected array"));
	orc_gguf_free(g);
	free(buf);
}
END_TEST

/* ---- arrays ---- */

START_TEST(test_arrays)
{
	static const char *const strs[] = { "a", "", "hello world", "\xc4\xa0the" };
	static const int32_t ints[] = { 1, -2, 2147483647, -2147483647 - 1 };
	static const float flts[] = { 0.5f, -1.25f, 3.0f };
	struct ggufw *w = ggufw_new();
	size_t len;
	ggufw_kv_arr_str(w, "strs", strs, 4);
	ggufw_kv_arr_i32(w, "ints", ints, 4);
	ggufw_kv_arr_f32(w, "flts", flts, 3);
	ggufw_key(w, "u8s", ORC_GGUF_ARRAY); ggufw_arr(w, ORC_GGUF_UINT8, 3);
	ggufw_u8(w, 0); ggufw_u8(w, 128); ggufw_u8(w, 255);
	ggufw_key(w, "i16s", ORC_GGUF_ARRAY); ggufw_arr(w, ORC_GGUF_INT16, 2);
	ggufw_i16(w, -1); ggufw_i16(w, 300);
	ggufw_key(w, "u64s", ORC_GGUF_ARRAY); ggufw_arr(w, ORC_GGUF_UINT64, 1); ggufw_u64(w, 1ull << 50);
	ggufw_key(w, "f64s", ORC_GGUF_ARRAY); ggufw_arr(w, ORC_GGUF_FLOAT64, 1); ggufw_f64(w, -2.5);
	ggufw_key(w, "bools", ORC_GGUF_ARRAY); ggufw_arr(w, ORC_GGUF_BOOL, 2); ggufw_bool(w, true); ggufw_bool(w, false);
	ggufw_key(w, "none", ORC_GGUF_ARRAY); ggufw_arr(w, ORC_GGUF_STRING, 0);
	/* nested: [[1, 2], [], [["x", "yz"]]] as arrays of mixed element types */
	ggufw_key(w, "nest", ORC_GGUF_ARRAY); ggufw_arr(w, ORC_GGUF_ARRAY, 3);
	ggufw_arr(w, ORC_GGUF_UINT32, 2); ggufw_u32(w, 1); ggufw_u32(w, 2);
	ggufw_arr(w, ORC_GGUF_INT8, 0);
	ggufw_arr(w, ORC_GGUF_ARRAY, 1);
	ggufw_arr(w, ORC_GGUF_STRING, 2); ggufw_str(w, "x"); ggufw_str(w, "yz");
	ggufw_kv_u32(w, "after", 42);
	uint8_t *buf = build(w, &len);
	struct orc_gguf *g = open_ok(buf, len);
	struct orc_err err = { 0 };
	struct orc_gguf_arr a;
	uint32_t u32;

	ck_assert_int_eq(orc_gguf_get_arr(g, "strs", &a, &err), 0);
	ck_assert_int_eq(a.type, ORC_GGUF_STRING);
	ck_assert_uint_eq(a.n, 4);
	for (int i = 3; i >= 0; i--)   /* any order: O(1) access */
		ck_assert(orc_gguf_str_eq(orc_gguf_arr_str(&a, (uint64_t)i), strs[i]));
	ck_assert_int_eq(orc_gguf_get_arr(g, "ints", &a, &err), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(orc_gguf_arr_int(&a, (uint64_t)i), ints[i]);
	ck_assert_int_eq(orc_gguf_get_arr(g, "flts", &a, &err), 0);
	for (int i = 0; i < 3; i++)
		ck_assert(orc_gguf_arr_float(&a, (uint64_t)i) == flts[i]);
	ck_assert_int_eq(orc_gguf_get_arr(g, "u8s", &a, &err), 0);
	ck_assert_int_eq(orc_gguf_arr_int(&a, 2), 255);
	ck_assert_int_eq(orc_gguf_arr_int(&a, 1), 128);
	ck_assert_int_eq(orc_gguf_get_arr(g, "i16s", &a, &err), 0);
	ck_assert_int_eq(orc_gguf_arr_int(&a, 0), -1);
	ck_assert_int_eq(orc_gguf_arr_int(&a, 1), 300);
	ck_assert_int_eq(orc_gguf_get_arr(g, "u64s", &a, &err), 0);
	ck_assert(orc_gguf_arr_int(&a, 0) == (int64_t)(1ull << 50));
	ck_assert_int_eq(orc_gguf_get_arr(g, "f64s", &a, &err), 0);
	ck_assert(orc_gguf_arr_float(&a, 0) == -2.5);
	ck_assert_int_eq(orc_gguf_get_arr(g, "bools", &a, &err), 0);
	ck_assert_int_eq(orc_gguf_arr_int(&a, 0), 1);
	ck_assert_int_eq(orc_gguf_arr_int(&a, 1), 0);
	ck_assert_int_eq(orc_gguf_get_arr(g, "none", &a, &err), 0);
	ck_assert_uint_eq(a.n, 0);

	ck_assert_int_eq(orc_gguf_get_arr(g, "nest", &a, &err), 0);
	ck_assert_int_eq(a.type, ORC_GGUF_ARRAY);
	ck_assert_uint_eq(a.n, 3);
	struct orc_gguf_arr a0 = orc_gguf_arr_arr(&a, 0), a1 = orc_gguf_arr_arr(&a, 1);
	struct orc_gguf_arr a2 = orc_gguf_arr_arr(&a, 2);
	ck_assert_int_eq(a0.type, ORC_GGUF_UINT32);
	ck_assert_uint_eq(a0.n, 2);
	ck_assert_int_eq(orc_gguf_arr_int(&a0, 1), 2);
	ck_assert_int_eq(a1.type, ORC_GGUF_INT8);
	ck_assert_uint_eq(a1.n, 0);
	ck_assert_int_eq(a2.type, ORC_GGUF_ARRAY);
	struct orc_gguf_arr a20 = orc_gguf_arr_arr(&a2, 0);
	ck_assert_int_eq(a20.type, ORC_GGUF_STRING);
	ck_assert(orc_gguf_str_eq(orc_gguf_arr_str(&a20, 1), "yz"));
	ck_assert(orc_gguf_str_eq(orc_gguf_arr_str(&a20, 0), "x"));
	/* the value after the nested array was found where it should be */
	ck_assert_int_eq(orc_gguf_get_u32(g, "after", &u32, &err), 0);
	ck_assert_uint_eq(u32, 42);
	orc_gguf_free(g);
	free(buf);
}
END_TEST

/* Nesting up to the limit parses; one more level is refused (-E2BIG). */
static uint8_t *nested(int levels, size_t *len)
{
	struct ggufw *w = ggufw_new();
	ggufw_key(w, "deep", ORC_GGUF_ARRAY);
	for (int i = 1; i < levels; i++)
		ggufw_arr(w, ORC_GGUF_ARRAY, 1);
	ggufw_arr(w, ORC_GGUF_UINT8, 1);
	ggufw_u8(w, 7);
	return build(w, len);
}

START_TEST(test_nesting_limit)
{
	size_t len;
	uint8_t *buf = nested(ORC_GGUF_ARRAY_DEPTH_MAX, &len);
	struct orc_gguf *g = open_ok(buf, len);
	struct orc_gguf_arr a = orc_gguf_find(g, "deep")->v.arr;
	for (int i = 1; i < ORC_GGUF_ARRAY_DEPTH_MAX; i++)
		a = orc_gguf_arr_arr(&a, 0);
	ck_assert_int_eq(a.type, ORC_GGUF_UINT8);
	ck_assert_int_eq(orc_gguf_arr_int(&a, 0), 7);
	orc_gguf_free(g);
	free(buf);

	buf = nested(ORC_GGUF_ARRAY_DEPTH_MAX + 1, &len);
	struct orc_err err = { 0 };
	g = NULL;
	ck_assert_int_eq(orc_gguf_open_mem(buf, len, &g, &err), -E2BIG);
	ck_assert_ptr_null(g);
	ck_assert_ptr_nonnull(strstr(err.msg, "metadata key 'deep'"));
	ck_assert_ptr_nonnull(strstr(err.msg, "nested deeper than"));
	free(buf);
}
END_TEST

/* ---- tensors ---- */

START_TEST(test_tensors)
{
	static const float f32[6] = { 1, 2, 3, 4, 5, 6 };
	uint8_t q8[2 * 34];
	struct ggufw *w = ggufw_new();
	size_t len;

	memset(q8, 0x11, sizeof(q8));
	ggufw_kv_str(w, "general.architecture", "test");
	ggufw_set_alignment(w, 64, true);
	ggufw_tensor(w, "a", ORC_TYPE_F32, 2, (const uint64_t[]){ 3, 2 }, f32);
	ggufw_tensor(w, "blk.0.q8", ORC_TYPE_Q8_0, 1, (const uint64_t[]){ 64 }, q8);
	ggufw_tensor(w, "c", ORC_TYPE_F32, 4, (const uint64_t[]){ 1, 1, 2, 1 }, f32);
	uint8_t *buf = build(w, &len);
	struct orc_gguf *g = open_ok(buf, len);

	ck_assert_uint_eq(orc_gguf_alignment(g), 64);
	ck_assert_uint_eq(orc_gguf_data_offset(g) % 64, 0);
	ck_assert_uint_eq(orc_gguf_n_tensors(g), 3);
	const struct orc_gguf_tensor *a = orc_gguf_find_tensor(g, "a");
	const struct orc_gguf_tensor *q = orc_gguf_find_tensor(g, "blk.0.q8");
	const struct orc_gguf_tensor *c = orc_gguf_find_tensor(g, "c");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(q);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_eq(a, orc_gguf_tensor_at(g, 0));
	ck_assert_ptr_null(orc_gguf_tensor_at(g, 3));
	ck_assert_ptr_null(orc_gguf_find_tensor(g, "blk.0"));
	ck_assert_ptr_null(orc_gguf_find_tensor(g, "b"));
	ck_assert_uint_eq(a->n_dims, 2);
	ck_assert_uint_eq(a->ne[0], 3);
	ck_assert_uint_eq(a->ne[1], 2);
	ck_assert_uint_eq(a->ne[2], 1);
	ck_assert_uint_eq(a->ne[3], 1);
	ck_assert_int_eq(a->type, ORC_TYPE_F32);
	ck_assert_uint_eq(a->size, 24);
	ck_assert_uint_eq(a->offset, 0);
	ck_assert_uint_eq(a->file_offset, orc_gguf_data_offset(g));
	ck_assert_ptr_eq(a->data, buf + a->file_offset);
	ck_assert_mem_eq(a->data, f32, 24);
	ck_assert_int_eq(q->type, ORC_TYPE_Q8_0);
	ck_assert_uint_eq(q->size, 68);
	ck_assert_uint_eq(q->offset, 64);                /* 24 padded to 64 */
	ck_assert_mem_eq(q->data, q8, 68);
	ck_assert_uint_eq(c->offset, 192);               /* 64 + 68 padded to 64 */
	ck_assert_uint_eq(c->n_dims, 4);
	ck_assert_uint_eq(c->ne[2], 2);
	ck_assert_uint_eq(c->size, 8);
	ck_assert_uint_eq(c->info_offset > a->info_offset, 1);
	orc_gguf_free(g);
	free(buf);
}
END_TEST

/* Many keys and tensors: every one is found through the hash. */
START_TEST(test_many_lookups)
{
	struct ggufw *w = ggufw_new();
	char name[64];
	size_t len;
	static const float one = 1.0f;

	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "key.%d", i);
		ggufw_kv_u32(w, name, (uint32_t)i * 3);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "blk.%d.w", i);
		ggufw_tensor(w, name, ORC_TYPE_F32, 1, (const uint64_t[]){ 1 }, &one);
	}
	uint8_t *buf = build(w, &len);
	struct orc_gguf *g = open_ok(buf, len);
	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "key.%d", i);
		const struct orc_gguf_kv *kv = orc_gguf_find(g, name);
		ck_assert_ptr_nonnull(kv);
		ck_assert_uint_eq(kv->v.u, (uint64_t)i * 3);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "blk.%d.w", i);
		ck_assert_ptr_eq(orc_gguf_find_tensor(g, name), orc_gguf_tensor_at(g, (uint64_t)i));
	}
	ck_assert_ptr_null(orc_gguf_find(g, "key.3000"));
	ck_assert_ptr_null(orc_gguf_find_tensor(g, "blk.1000.w"));
	orc_gguf_free(g);
	free(buf);
}
END_TEST

START_TEST(test_v2_and_file)
{
	static const float f[4] = { 1, 2, 3, 4 };
	char path[] = "/tmp/check_gguf_XXXXXX";
	struct ggufw *w = ggufw_new();
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ggufw_set_version(w, 2);
	ggufw_kv_str(w, "general.name", "v2");
	ggufw_tensor(w, "t", ORC_TYPE_F32, 1, (const uint64_t[]){ 4 }, f);
	ck_assert_int_eq(ggufw_write_file(w, path), 0);
	ggufw_free(w);
	ck_assert_int_eq(orc_gguf_open(path, &g, &err), 0);
	ck_assert_uint_eq(orc_gguf_version(g), 2);
	ck_assert_mem_eq(orc_gguf_find_tensor(g, "t")->data, f, 16);
	orc_gguf_free(g);
	unlink(path);

	/* errors from open() name the path */
	g = NULL;
	ck_assert_int_eq(orc_gguf_open(path, &g, &err), -ENOENT);
	ck_assert_ptr_null(g);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_int_eq(orc_gguf_open("/tmp", &g, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a regular file"));
	orc_gguf_free(NULL);
}
END_TEST

/* An empty file and an empty buffer fail cleanly. */
START_TEST(test_empty)
{
	char path[] = "/tmp/check_gguf_XXXXXX";
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(orc_gguf_open(path, &g, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "file is 0 bytes"));
	unlink(path);
	ck_assert_int_eq(orc_gguf_open_mem(NULL, 0, &g, &err), -EBADMSG);
	ck_assert_ptr_null(g);
}
END_TEST

/* ---- shared fixtures (values from ../shared/README.md) ---- */

static struct orc_gguf *open_shared(const char *rel)
{
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };
	int r = orc_gguf_open(orc_test_shared(rel), &g, &err);
	ck_assert_msg(r == 0, "%s: %s", rel, orc_err_msg(&err));
	return g;
}

static uint64_t arr_len(const struct orc_gguf *g, const char *key)
{
	struct orc_gguf_arr a = { 0 };
	struct orc_err err = { 0 };
	ck_assert_int_eq(orc_gguf_get_arr(g, key, &a, &err), 0);
	return a.n;
}

START_TEST(test_shared_vocab)
{
	static const struct { const char *file, *arch; uint64_t tokens, merges; } v[] = {
		{ "vocab/ggml-vocab-gpt-2.gguf", "gpt2", 50257, 50000 },
		{ "vocab/ggml-vocab-llama-spm.gguf", "llama", 32000, 0 },
		{ "vocab/ggml-vocab-phi-3.gguf", "phi3", 32064, 0 },
		{ "vocab/qwen2-vocab.gguf", "qwen2", 151936, 151387 },
	};
	struct orc_err err = { 0 };
	struct orc_gguf_str s;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct orc_gguf *g = open_shared(v[i].file);
		ck_assert_uint_eq(orc_gguf_n_tensors(g), 0);
		ck_assert_int_eq(orc_gguf_get_str(g, "general.architecture", &s, &err), 0);
		ck_assert(orc_gguf_str_eq(s, v[i].arch));
		ck_assert_uint_eq(arr_len(g, "tokenizer.ggml.tokens"), v[i].tokens);
		if (v[i].merges)
			ck_assert_uint_eq(arr_len(g, "tokenizer.ggml.merges"), v[i].merges);
		orc_gguf_free(g);
	}
}
END_TEST

START_TEST(test_shared_qwen2_vocab)
{
	struct orc_err err = { 0 };
	struct orc_gguf_arr a;
	struct orc_gguf_str s;

	struct orc_gguf *g = open_shared("vocab/qwen2-vocab.gguf");
	ck_assert_int_eq(orc_gguf_get_str(g, "tokenizer.ggml.pre", &s, &err), 0);
	ck_assert(orc_gguf_str_eq(s, "qwen2"));
	ck_assert_int_eq(orc_gguf_get_arr(g, "tokenizer.ggml.tokens", &a, &err), 0);
	/* 151643 regular + 22 special, then [PADn] up to 151935 */
	ck_assert(orc_gguf_str_eq(orc_gguf_arr_str(&a, 151935), "[PAD151935]"));
	ck_assert(orc_gguf_str_eq(orc_gguf_arr_str(&a, 151665), "[PAD151665]"));
	ck_assert(!orc_gguf_str_eq(orc_gguf_arr_str(&a, 151664), "[PAD151664]"));
	orc_gguf_free(g);
}
END_TEST

START_TEST(test_shared_models)
{
	static const struct { const char *file, *arch; uint64_t embd, vocab; int type; } m[] = {
		{ "models/stories260K.gguf", "llama", 64, 512, ORC_TYPE_F32 },
		{ "models/tiny-qwen2-q8_0.gguf", "qwen2", 64, 151936, ORC_TYPE_Q8_0 },
		{ "models/tiny-llama-f16.gguf", "llama", 64, 32000, ORC_TYPE_F16 },
		{ "models/tiny-phi3-bf16.gguf", "phi3", 64, 32064, ORC_TYPE_BF16 },
		{ "models/tiny-gpt2-f32.gguf", "gpt2", 48, 50257, ORC_TYPE_F32 },
	};
	struct orc_err err = { 0 };
	struct orc_gguf_str s;

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct orc_gguf *g = open_shared(m[i].file);
		ck_assert_int_eq(orc_gguf_get_str(g, "general.architecture", &s, &err), 0);
		ck_assert(orc_gguf_str_eq(s, m[i].arch));
		const struct orc_gguf_tensor *t = orc_gguf_find_tensor(g, "token_embd.weight");
		ck_assert_ptr_nonnull(t);
		ck_assert_uint_eq(t->ne[0], m[i].embd);
		ck_assert_uint_eq(t->ne[1], m[i].vocab);
		ck_assert_int_eq(t->type, m[i].type);
		ck_assert_uint_eq(arr_len(g, "tokenizer.ggml.tokens"), m[i].vocab);
		/* every tensor lies inside the file at an aligned offset */
		for (uint64_t k = 0; k < orc_gguf_n_tensors(g); k++) {
			const struct orc_gguf_tensor *x = orc_gguf_tensor_at(g, k);
			ck_assert_uint_eq(x->file_offset % orc_gguf_alignment(g), 0);
			ck_assert_uint_le(x->file_offset + x->size, orc_gguf_file_size(g));
		}
		orc_gguf_free(g);
	}
}
END_TEST

/* Every .gguf under vocab/ and models/ parses (new fixtures included). */
START_TEST(test_shared_all)
{
	static const char *const dirs[] = { "vocab", "models" };
	int n = 0;

	for (int i = 0; i < 2; i++) {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", orc_test_shared(dirs[i]));
		DIR *d = opendir(dir);
		ck_assert_msg(d != NULL, "cannot open %s", dir);
		for (struct dirent *e; (e = readdir(d));) {
			size_t len = strlen(e->d_name);
			if (len < 5 || strcmp(e->d_name + len - 5, ".gguf") != 0)
				continue;
			char path[8192];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			struct orc_gguf *g = NULL;
			struct orc_err err = { 0 };
			ck_assert_msg(orc_gguf_open(path, &g, &err) == 0, "%s: %s", path, orc_err_msg(&err));
			ck_assert_uint_eq(orc_gguf_version(g), 3);
			orc_gguf_free(g);
			n++;
		}
		closedir(d);
	}
	ck_assert_int_ge(n, 9);   /* 4 vocabularies and 5 models in ../shared/README.md */
}
END_TEST

/* ---- fuzz corpus replay: each file opens or fails cleanly ---- */

START_TEST(test_fuzz_corpus)
{
	const char *src = getenv("ORC_SRCDIR");
	char dir[4096], path[4400];
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/gguf", src ? src : "..");
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		size_t len;
		char *buf = orc_test_read_file(path, &len);
		ck_assert_ptr_nonnull(buf);
		struct orc_gguf *g = NULL;
		struct orc_err err = { 0 };
		int r = orc_gguf_open_mem(buf, len, &g, &err);
		if (r == 0) {
			ck_assert_ptr_nonnull(g);
			orc_gguf_free(g);
		} else {
			ck_assert_ptr_null(g);
			ck_assert_msg(err.msg[0] != '\0', "%s: error %d without a message", path, r);
		}
		free(buf);
		n++;
	}
	closedir(d);
	ck_assert_int_gt(n, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gguf");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_scalars);
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_arrays);
	tcase_add_test(tc, test_nesting_limit);
	tcase_add_test(tc, test_tensors);
	tcase_add_test(tc, test_many_lookups);
	tcase_add_test(tc, test_v2_and_file);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_fuzz_corpus);
	suite_add_tcase(s, tc);
	if (orc_test_have_shared()) {
		TCase *ts = tcase_create("shared");
		tcase_add_test(ts, test_shared_all);
		tcase_add_test(ts, test_shared_vocab);
		tcase_add_test(ts, test_shared_qwen2_vocab);
		tcase_add_test(ts, test_shared_models);
		suite_add_tcase(s, ts);
	}
	return orc_test_run(s);
}
