/* check_gguf_malformed.c -- the GGUF parser on malformed input: a crafted
 * file and a shared fixture truncated at every byte of their header and
 * tensor table; one crafted file per validation rule, each asserting the
 * error code and a message naming the field and its offset; and seeded
 * random bit flips. Every case must end in a clean error, never a crash
 * (run under ASan/UBSan in CI). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "ggufw.h"
#include "testutil.h"

/* ---- helpers ---- */

static uint8_t *build(struct ggufw *w, size_t *len)
{
	uint8_t *buf = NULL;
	ck_assert_int_eq(ggufw_to_mem(w, &buf, len), 0);
	ggufw_free(w);
	return buf;
}

/* Parse a private copy of exactly len bytes, so any over-read is caught. */
static int try_open(const uint8_t *data, size_t len, struct orc_err *err)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct orc_gguf *g = NULL;
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, data, len);
	orc_err_clear(err);
	int r = orc_gguf_open_mem(copy, len, &g, err);
	if (r == 0) {
		ck_assert_ptr_nonnull(g);
		orc_gguf_free(g);
	} else {
		ck_assert_ptr_null(g);
		ck_assert_int_eq(err->code, r);
	}
	free(copy);
	return r;
}

/* Build w and expect `code` with both substrings in the message. */
static void expect(struct ggufw *w, int code, const char *s1, const char *s2)
{
	size_t len;
	uint8_t *buf = build(w, &len);
	struct orc_err err = { 0 };
	int r = try_open(buf, len, &err);
	ck_assert_msg(r == code, "expected %d, got %d: %s", code, r, orc_err_msg(&err));
	ck_assert_msg(strstr(err.msg, s1), "'%s' not in: %s", s1, err.msg);
	if (s2)
		ck_assert_msg(strstr(err.msg, s2), "'%s' not in: %s", s2, err.msg);
	free(buf);
}

static const float zeros[64];

/* A file exercising every value type, nested arrays and several tensors. */
static uint8_t *rich_file(size_t *len, uint64_t *ret_header)
{
	static const char *const toks[] = { "a", "bc", "", "\xe2\x96\x81the" };
	static const int32_t ints[] = { 3, -1, 7 };
	struct ggufw *w = ggufw_new();
	ggufw_kv_str(w, "general.architecture", "llama");
	ggufw_set_alignment(w, 64, true);
	ggufw_key(w, "u8", ORC_GGUF_UINT8); ggufw_u8(w, 1);
	ggufw_key(w, "i8", ORC_GGUF_INT8); ggufw_i8(w, -1);
	ggufw_key(w, "u16", ORC_GGUF_UINT16); ggufw_u16(w, 2);
	ggufw_key(w, "i16", ORC_GGUF_INT16); ggufw_i16(w, -2);
	ggufw_kv_i32(w, "i32", -3);
	ggufw_kv_f32(w, "f32", 1.5f);
	ggufw_kv_bool(w, "b", true);
	ggufw_kv_u64(w, "u64", 5);
	ggufw_key(w, "i64", ORC_GGUF_INT64); ggufw_i64(w, -5);
	ggufw_key(w, "f64", ORC_GGUF_FLOAT64); ggufw_f64(w, 2.5);
	ggufw_kv_arr_str(w, "tokenizer.ggml.tokens", toks, 4);
	ggufw_kv_arr_i32(w, "ints", ints, 3);
	ggufw_key(w, "bools", ORC_GGUF_ARRAY); ggufw_arr(w, ORC_GGUF_BOOL, 2); ggufw_bool(w, 0); ggufw_bool(w, 1);
	ggufw_key(w, "nest", ORC_GGUF_ARRAY); ggufw_arr(w, ORC_GGUF_ARRAY, 2);
	ggufw_arr(w, ORC_GGUF_STRING, 1); ggufw_str(w, "x");
	ggufw_arr(w, ORC_GGUF_ARRAY, 1); ggufw_arr(w, ORC_GGUF_FLOAT64, 1); ggufw_f64(w, 1.0);
	ggufw_tensor(w, "token_embd.weight", ORC_TYPE_F32, 2, (const uint64_t[]){ 4, 4 }, zeros);
	ggufw_tensor(w, "blk.0.attn_q.weight", ORC_TYPE_Q8_0, 2, (const uint64_t[]){ 32, 2 }, zeros);
	ggufw_tensor(w, "blk.0.x", ORC_TYPE_F16, 3, (const uint64_t[]){ 2, 2, 2 }, zeros);
	*ret_header = ggufw_header_bytes(w);
	return build(w, len);
}

/* ---- truncation at every byte ---- */

static void truncate_all(const uint8_t *buf, uint64_t upto, const char *what)
{
	struct orc_err err = { 0 };
	for (uint64_t n = 0; n <= upto; n++) {
		int r = try_open(buf, (size_t)n, &err);
		ck_assert_msg(r == -EBADMSG, "%s cut at %llu: %d %s", what, (unsigned long long)n, r,
			      orc_err_msg(&err));
		ck_assert_msg(strstr(err.msg, "offset"), "%s cut at %llu: no offset in: %s", what,
			      (unsigned long long)n, err.msg);
	}
}

START_TEST(test_truncate_crafted)
{
	size_t len;
	uint64_t hdr;
	uint8_t *buf = rich_file(&len, &hdr);
	struct orc_err err = { 0 };

	struct orc_gguf *g = NULL;
	uint64_t end = 0;
	ck_assert_int_eq(orc_gguf_open_mem(buf, len, &g, &err), 0);   /* whole: valid */
	for (uint64_t i = 0; i < orc_gguf_n_tensors(g); i++) {
		const struct orc_gguf_tensor *t = orc_gguf_tensor_at(g, i);
		if (t->file_offset + t->size > end)
			end = t->file_offset + t->size;
	}
	orc_gguf_free(g);
	ck_assert_uint_lt(hdr, end);
	/* header, metadata, tensor table, padding and data up to its last byte
	 * (what follows is the writer's trailing padding) */
	truncate_all(buf, end - 1, "crafted");
	free(buf);
}
END_TEST

START_TEST(test_truncate_fixture)
{
	size_t len;
	char *buf = orc_test_read_file(orc_test_shared("models/stories260K.gguf"), &len);
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(orc_gguf_open_mem(buf, len, &g, &err), 0);
	/* every byte of the header and the tensor table, up to the data section */
	uint64_t data = orc_gguf_data_offset(g);
	orc_gguf_free(g);
	truncate_all((const uint8_t *)buf, data, "stories260K");
	free(buf);
}
END_TEST

/* ---- header ---- */

START_TEST(test_header)
{
	struct ggufw *w = ggufw_new();
	ggufw_set_magic(w, "GGML");
	expect(w, -EBADMSG, "bad magic at offset 0", "\"GGML\"");
	w = ggufw_new();
	ggufw_set_version(w, 1);
	expect(w, -EBADMSG, "version 1 at offset 4", "GGUF v1");
	w = ggufw_new();
	ggufw_set_version(w, 4);
	expect(w, -EBADMSG, "unsupported version 4 at offset 4", NULL);
	w = ggufw_new();
	ggufw_set_version(w, 0);
	expect(w, -EBADMSG, "unsupported version 0 at offset 4", NULL);
	w = ggufw_new();
	ggufw_set_version(w, 0x03000000u);
	expect(w, -EBADMSG, "at offset 4", "big-endian");

	struct orc_err err = { 0 };
	ck_assert_int_eq(try_open((const uint8_t *)"GGUF\3\0\0\0\0\0", 10, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "header at offset 0 truncated: file is 10 bytes"));
	ck_assert_int_eq(try_open((const uint8_t *)"GG", 2, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "file is 2 bytes"));
}
END_TEST

START_TEST(test_counts)
{
	struct ggufw *w = ggufw_new();
	ggufw_override_counts(w, 1ull << 60, 0);
	expect(w, -EBADMSG, "tensor count 1152921504606846976 at offset 8", "overflows");
	w = ggufw_new();
	ggufw_override_counts(w, 0, UINT64_MAX);
	expect(w, -EBADMSG, "metadata key count 18446744073709551615 at offset 16", "overflows");
	/* a few bytes that claim a trillion keys: refused before any allocation */
	w = ggufw_new();
	ggufw_override_counts(w, 0, 1ull << 40);
	ggufw_kv_u32(w, "a", 1);
	expect(w, -EBADMSG, "metadata key count 1099511627776 at offset 16: needs at least", NULL);
	w = ggufw_new();
	ggufw_override_counts(w, 1000, 0);
	expect(w, -EBADMSG, "tensor count 1000 at offset 8: needs at least 32000 bytes", NULL);
	/* each count fits alone, not both: 13 + 32 > 40 */
	w = ggufw_new();
	ggufw_override_counts(w, 1, 1);
	ggufw_raw(w, zeros, 40);
	expect(w, -EBADMSG, "together they need more than the 40 bytes", NULL);
	/* a count larger than what follows: runs out inside the table (keys
	 * of 17 bytes at 24 and 41; the third would start at 58) */
	w = ggufw_new();
	ggufw_override_counts(w, 0, 3);
	ggufw_kv_u32(w, "a", 1);
	ggufw_kv_u32(w, "b", 2);
	ggufw_raw(w, zeros, 7);
	expect(w, -EBADMSG, "metadata key #2 at offset 58: key length truncated (needs 8 bytes, 7 left)", NULL);
}
END_TEST

/* ---- metadata ---- */

START_TEST(test_keys)
{
	struct ggufw *w = ggufw_new();
	ggufw_override_counts(w, 0, 1);
	ggufw_u64(w, 1000);
	ggufw_raw(w, zeros, 16);
	expect(w, -EBADMSG, "metadata key #0 at offset 24: key length 1000 exceeds the 16 bytes left", NULL);
	w = ggufw_new();
	ggufw_override_counts(w, 0, 1);
	ggufw_u64(w, 70000);
	ggufw_raw(w, zeros, 64);
	expect(w, -EBADMSG, "metadata key #0 at offset 24: key length 70000 exceeds the limit", NULL);
	w = ggufw_new();
	ggufw_key(w, "k", (enum orc_gguf_vtype)13);
	ggufw_u32(w, 0);
	expect(w, -EBADMSG, "metadata key 'k' (#0) at offset 24: unknown value type 13 at offset 33", NULL);
	w = ggufw_new();
	ggufw_kv_u32(w, "a.b", 1);
	ggufw_kv_u32(w, "c", 2);
	ggufw_kv_u32(w, "a.b", 3);
	/* keys at 24, 24+8+3+4+4 = 43, 43+8+1+4+4 = 60 */
	expect(w, -EBADMSG, "metadata key 'a.b' (#2) at offset 60: duplicate key (first at offset 24)", NULL);
}
END_TEST

START_TEST(test_values)
{
	/* string longer than the bytes left: key at 24, value length at 24+8+1+4 = 37 */
	struct ggufw *w = ggufw_new();
	ggufw_key(w, "s", ORC_GGUF_STRING);
	ggufw_u64(w, 999);
	ggufw_raw(w, "abc", 3);
	expect(w, -EBADMSG, "metadata key 's' (#0) at offset 24: string length 999 at offset 37 "
	       "exceeds the 3 bytes left", NULL);
	w = ggufw_new();
	ggufw_key(w, "t", ORC_GGUF_UINT64);
	ggufw_u32(w, 1);
	expect(w, -EBADMSG, "metadata key 't'", "uint64 value at offset 37 truncated");
	w = ggufw_new();
	ggufw_key(w, "b", ORC_GGUF_BOOL);
	ggufw_u8(w, 2);
	expect(w, -EBADMSG, "metadata key 'b'", "bool value 2 at offset 37 is not 0 or 1");
}
END_TEST

START_TEST(test_arrays)
{
	/* array header at 24 + 8 + 1 + 4 = 37 */
	struct ggufw *w = ggufw_new();
	ggufw_key(w, "a", ORC_GGUF_ARRAY);
	ggufw_arr(w, ORC_GGUF_UINT32, 1000);
	ggufw_raw(w, zeros, 40);
	expect(w, -EBADMSG, "metadata key 'a' (#0) at offset 24: array at offset 37: 1000 elements of "
	       "type uint32 need at least 4000 bytes, 40 left", NULL);
	w = ggufw_new();
	ggufw_key(w, "a", ORC_GGUF_ARRAY);
	ggufw_arr(w, ORC_GGUF_UINT64, 1ull << 62);
	expect(w, -EBADMSG, "array at offset 37: element count 4611686018427387904 x 8 bytes overflows", NULL);
	w = ggufw_new();
	ggufw_key(w, "a", ORC_GGUF_ARRAY);
	ggufw_arr(w, ORC_GGUF_STRING, UINT64_MAX);
	expect(w, -EBADMSG, "array at offset 37", "overflows");
	w = ggufw_new();
	ggufw_key(w, "a", ORC_GGUF_ARRAY);
	ggufw_arr(w, (enum orc_gguf_vtype)13, 1);
	expect(w, -EBADMSG, "array at offset 37: unknown element type 13", NULL);
	/* second string runs past the end: header at 39, element 1's length at 39 + 12 + 8 + 1 = 60 */
	w = ggufw_new();
	ggufw_key(w, "tok", ORC_GGUF_ARRAY);
	ggufw_arr(w, ORC_GGUF_STRING, 2);
	ggufw_str(w, "x");
	ggufw_u64(w, 500);
	expect(w, -EBADMSG, "metadata key 'tok' (#0) at offset 24: array element 1: string length 500 at "
	       "offset 60 exceeds", NULL);
	w = ggufw_new();
	ggufw_key(w, "bb", ORC_GGUF_ARRAY);
	ggufw_arr(w, ORC_GGUF_BOOL, 3);
	ggufw_u8(w, 1); ggufw_u8(w, 7); ggufw_u8(w, 0);
	expect(w, -EBADMSG, "metadata key 'bb'", "array element 1: bool value 7 at offset 51");
	/* nested array whose inner count lies */
	w = ggufw_new();
	ggufw_key(w, "n", ORC_GGUF_ARRAY);
	ggufw_arr(w, ORC_GGUF_ARRAY, 2);
	ggufw_arr(w, ORC_GGUF_INT8, 1); ggufw_i8(w, 1);
	ggufw_arr(w, ORC_GGUF_INT16, 100);
	expect(w, -EBADMSG, "metadata key 'n'", "array at offset 62: 100 elements of type int16");
	/* too deep */
	w = ggufw_new();
	ggufw_key(w, "deep", ORC_GGUF_ARRAY);
	for (int i = 0; i < 20; i++)
		ggufw_arr(w, ORC_GGUF_ARRAY, 1);
	ggufw_arr(w, ORC_GGUF_UINT8, 0);
	expect(w, -E2BIG, "metadata key 'deep'", "nested deeper than 8 levels");
}
END_TEST

START_TEST(test_alignment)
{
	struct ggufw *w = ggufw_new();
	ggufw_kv_u32(w, "general.alignment", 48);
	expect(w, -EBADMSG, "metadata key 'general.alignment' (#0) at offset 24: alignment 48 is not a "
	       "power of two", NULL);
	w = ggufw_new();
	ggufw_kv_u32(w, "general.alignment", 0);
	expect(w, -EBADMSG, "'general.alignment'", "alignment 0 is not a power of two");
	w = ggufw_new();
	ggufw_kv_i32(w, "general.alignment", 32);
	expect(w, -EBADMSG, "'general.alignment'", "type int32, expected uint32");
}
END_TEST

/* ---- tensor table ---- */

static struct ggufw *one_tensor_file(void)
{
	struct ggufw *w = ggufw_new();
	ggufw_kv_str(w, "general.architecture", "llama");   /* 24 .. 24+8+20+4+8+5 = 69 */
	return w;
}

#define T0 69   /* offset of the first tensor entry in one_tensor_file() */

START_TEST(test_tensor_names)
{
	char name[70];
	memset(name, 'n', sizeof(name));
	struct ggufw *w = one_tensor_file();
	ggufw_tensor_raw(w, name, 64, ORC_TYPE_F32, 1, (const uint64_t[]){ 1 }, zeros, 4);
	expect(w, -EBADMSG, "tensor #0 at offset 69: name length 64 exceeds the limit of 63 bytes", NULL);
	w = one_tensor_file();
	ggufw_tensor_raw(w, "ab\0c", 4, ORC_TYPE_F32, 1, (const uint64_t[]){ 1 }, zeros, 4);
	expect(w, -EBADMSG, "tensor #0 at offset 69: name contains a NUL byte", NULL);
	w = one_tensor_file();
	ggufw_tensor(w, "w", ORC_TYPE_F32, 1, (const uint64_t[]){ 4 }, zeros);
	ggufw_tensor(w, "v", ORC_TYPE_F32, 1, (const uint64_t[]){ 4 }, zeros);
	ggufw_tensor(w, "w", ORC_TYPE_F32, 1, (const uint64_t[]){ 4 }, zeros);
	/* entries of 8+1+4+8+4+8 = 33 bytes each */
	expect(w, -EBADMSG, "tensor 'w' at offset 135: duplicate tensor name (first at offset 69)", NULL);
}
END_TEST

START_TEST(test_tensor_dims)
{
	struct ggufw *w = one_tensor_file();
	ggufw_tensor_raw(w, "t", 1, ORC_TYPE_F32, 0, NULL, NULL, 0);
	expect(w, -EBADMSG, "tensor 't' at offset 69: n_dims 0 at offset 78 (must be 1 to 4)", NULL);
	w = one_tensor_file();
	ggufw_tensor_raw(w, "t", 1, ORC_TYPE_F32, 5, (const uint64_t[]){ 1, 1, 1, 1, 1 }, zeros, 4);
	expect(w, -EBADMSG, "tensor 't' at offset 69: n_dims 5 at offset 78", NULL);
	w = one_tensor_file();
	ggufw_tensor_raw(w, "t", 1, ORC_TYPE_F32, 2, (const uint64_t[]){ 1, 1ull << 63 }, NULL, 0);
	expect(w, -EBADMSG, "tensor 't' at offset 69: ne[1] = 9223372036854775808 at offset 90 exceeds "
	       "INT64_MAX", NULL);
	w = one_tensor_file();
	ggufw_tensor_raw(w, "t", 1, ORC_TYPE_F32, 3, (const uint64_t[]){ 1ull << 32, 1ull << 32, 2 }, NULL, 0);
	expect(w, -EBADMSG, "tensor 't' at offset 69: element count overflows", NULL);
	w = one_tensor_file();
	ggufw_tensor_raw(w, "t", 1, ORC_TYPE_F32, 1, (const uint64_t[]){ 1ull << 62 }, NULL, 0);
	expect(w, -EBADMSG, "tensor 't' at offset 69: byte size overflows", NULL);
}
END_TEST

START_TEST(test_tensor_types)
{
	struct ggufw *w = one_tensor_file();
	ggufw_tensor_raw(w, "t", 1, 99, 1, (const uint64_t[]){ 4 }, zeros, 4);
	/* type after name (8+1) and n_dims (4) and ne (8): 69 + 21 = 90 */
	expect(w, -EBADMSG, "tensor 't' at offset 69: unknown type 99 at offset 90", NULL);
	w = one_tensor_file();
	ggufw_tensor_raw(w, "t", 1, 4, 1, (const uint64_t[]){ 32 }, zeros, 20);   /* retired Q4_2 */
	expect(w, -EBADMSG, "unknown type 4 at offset 90", NULL);
	w = one_tensor_file();
	ggufw_tensor_raw(w, "blk.0.q", 7, ORC_TYPE_Q4_K, 2, (const uint64_t[]){ 100, 2 }, NULL, 0);
	expect(w, -EBADMSG, "tensor 'blk.0.q' at offset 69: row of 100 elements is not a multiple of the "
	       "Q4_K block size 256", NULL);
	w = one_tensor_file();
	ggufw_tensor_raw(w, "t", 1, ORC_TYPE_Q8_0, 1, (const uint64_t[]){ 48 }, NULL, 0);
	expect(w, -EBADMSG, "row of 48 elements is not a multiple of the Q8_0 block size 32", NULL);
}
END_TEST

START_TEST(test_tensor_data)
{
	/* misaligned: offset 8 with the default alignment 32; offset field at 69+33-8 = 94 */
	struct ggufw *w = one_tensor_file();
	int t = ggufw_tensor(w, "t", ORC_TYPE_F32, 1, (const uint64_t[]){ 4 }, zeros);
	ggufw_tensor_set_offset(w, t, 8);
	expect(w, -EBADMSG, "tensor 't' at offset 69: data offset 8 at offset 94 is misaligned", NULL);
	/* misaligned under a custom alignment */
	w = one_tensor_file();
	ggufw_set_alignment(w, 128, true);
	t = ggufw_tensor(w, "t", ORC_TYPE_F32, 1, (const uint64_t[]){ 4 }, zeros);
	ggufw_tensor_set_offset(w, t, 64);
	expect(w, -EBADMSG, "tensor 't'", "not a multiple of the alignment 128");
	/* overlapping */
	w = one_tensor_file();
	ggufw_tensor(w, "a", ORC_TYPE_F32, 1, (const uint64_t[]){ 16 }, zeros);
	t = ggufw_tensor(w, "b", ORC_TYPE_F32, 1, (const uint64_t[]){ 16 }, zeros);
	ggufw_tensor(w, "c", ORC_TYPE_F32, 1, (const uint64_t[]){ 16 }, zeros);
	ggufw_tensor_set_offset(w, t, 32);
	expect(w, -EBADMSG, "tensor 'b' at offset 102: data", "overlaps tensor 'a'");
	/* overlap with a tensor that is not the previous one in file order */
	w = one_tensor_file();
	t = ggufw_tensor(w, "big", ORC_TYPE_F32, 1, (const uint64_t[]){ 64 }, zeros);
	int s = ggufw_tensor(w, "small", ORC_TYPE_F32, 1, (const uint64_t[]){ 4 }, zeros);
	ggufw_tensor_set_offset(w, t, 0);
	ggufw_tensor_set_offset(w, s, 128);
	expect(w, -EBADMSG, "tensor 'small'", "overlaps tensor 'big'");
	/* outside the file */
	w = one_tensor_file();
	t = ggufw_tensor(w, "t", ORC_TYPE_F32, 1, (const uint64_t[]){ 4 }, zeros);
	ggufw_tensor_set_offset(w, t, 1 << 20);
	expect(w, -EBADMSG, "tensor 't' at offset 69: data outside the file", "file is");
	w = one_tensor_file();
	t = ggufw_tensor(w, "t", ORC_TYPE_F32, 1, (const uint64_t[]){ 4 }, zeros);
	ggufw_tensor_set_offset(w, t, UINT64_MAX - 31);
	expect(w, -EBADMSG, "tensor 't' at offset 69: data outside the file", NULL);
	/* data missing at the end: the declared size exceeds what is there */
	w = one_tensor_file();
	ggufw_tensor_raw(w, "t", 1, ORC_TYPE_F32, 1, (const uint64_t[]){ 1000 }, zeros, 4);
	expect(w, -EBADMSG, "tensor 't' at offset 69: data outside the file", NULL);
}
END_TEST

/* ---- random bit flips ---- */

static uint64_t rng_next(uint64_t *s)
{
	/* xorshift64* */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* On success, touch everything the handle exposes. */
static void walk(const struct orc_gguf *g)
{
	for (uint64_t i = 0; i < orc_gguf_n_kv(g); i++) {
		const struct orc_gguf_kv *kv = orc_gguf_kv_at(g, i);
		if (kv->type != ORC_GGUF_ARRAY)
			continue;
		struct orc_gguf_arr a = kv->v.arr;
		for (uint64_t k = 0; k < a.n && k < 64; k++) {
			if (a.type == ORC_GGUF_STRING) {
				struct orc_gguf_str s = orc_gguf_arr_str(&a, k);
				if (s.len) {
					volatile char c = s.ptr[0];
					c = s.ptr[s.len - 1];
					(void)c;
				}
			} else if (a.type == ORC_GGUF_ARRAY) {
				(void)orc_gguf_arr_arr(&a, k);
			} else {
				(void)orc_gguf_arr_int(&a, k);
				(void)orc_gguf_arr_float(&a, k);
			}
		}
	}
	for (uint64_t i = 0; i < orc_gguf_n_tensors(g); i++) {
		const struct orc_gguf_tensor *t = orc_gguf_tensor_at(g, i);
		ck_assert_ptr_eq(orc_gguf_find_tensor(g, t->name), t);
		if (t->size) {
			volatile uint8_t x = ((const uint8_t *)t->data)[0];
			x = ((const uint8_t *)t->data)[t->size - 1];
			(void)x;
		}
	}
}

/* Flip 1-4 random bits among the first `span` bytes, `iters` times. */
static void flips(uint8_t *buf, size_t len, size_t span, int iters, uint64_t seed)
{
	uint64_t s = seed;
	int ok = 0;
	for (int it = 0; it < iters; it++) {
		size_t pos[4];
		uint8_t bit[4];
		int nflip = 1 + (int)(rng_next(&s) % 4);
		for (int f = 0; f < nflip; f++) {
			pos[f] = (size_t)(rng_next(&s) % span);
			bit[f] = (uint8_t)(1u << (rng_next(&s) % 8));
			buf[pos[f]] ^= bit[f];
		}
		struct orc_gguf *g = NULL;
		struct orc_err err = { 0 };
		int r = orc_gguf_open_mem(buf, len, &g, &err);
		if (r == 0) {
			walk(g);
			orc_gguf_free(g);
			ok++;
		} else {
			ck_assert_msg(r == -EBADMSG || r == -E2BIG, "iteration %d: %d %s", it, r, err.msg);
			ck_assert_ptr_null(g);
			ck_assert_msg(err.msg[0] != '\0', "iteration %d: no message", it);
		}
		for (int f = nflip - 1; f >= 0; f--)
			buf[pos[f]] ^= bit[f];
	}
	/* some flips (in string bytes, values) leave the file valid */
	ck_assert_int_gt(ok, 0);
}

START_TEST(test_bitflips_crafted)
{
	size_t len;
	uint64_t hdr;
	uint8_t *buf = rich_file(&len, &hdr);
	flips(buf, len, (size_t)hdr, 3000, 0x5eed0001u);
	free(buf);
}
END_TEST

START_TEST(test_bitflips_fixture)
{
	size_t len;
	char *buf = orc_test_read_file(orc_test_shared("models/stories260K.gguf"), &len);
	ck_assert_ptr_nonnull(buf);
	flips((uint8_t *)buf, len, 14138, 2000, 0x5eed0002u);   /* header + tensor table */
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gguf_malformed");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_truncate_crafted);
	tcase_add_test(tc, test_header);
	tcase_add_test(tc, test_counts);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_arrays);
	tcase_add_test(tc, test_alignment);
	tcase_add_test(tc, test_tensor_names);
	tcase_add_test(tc, test_tensor_dims);
	tcase_add_test(tc, test_tensor_types);
	tcase_add_test(tc, test_tensor_data);
	tcase_add_test(tc, test_bitflips_crafted);
	suite_add_tcase(s, tc);
	if (orc_test_have_shared()) {
		TCase *ts = tcase_create("shared");
		tcase_set_timeout(ts, 300);
		tcase_add_test(ts, test_truncate_fixture);
		tcase_add_test(ts, test_bitflips_fixture);
		suite_add_tcase(s, ts);
	}
	return orc_test_run(s);
}
