/* check_quant.c -- unit tests for daemon/engine/quant.c: the type table
 * against ggml-common.h's block structs, F16/BF16 conversion against known
 * bit patterns, and dequantization of blocks packed by hand from the block
 * layouts (ggml-common.h, ggml-quants.c) with exactly representable values,
 * so expected values are exact. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"
#include "testutil.h"

/* F16 bit patterns of a few exact values */
#define H_0_125 0x3000
#define H_0_25  0x3400
#define H_0_5   0x3800
#define H_1     0x3c00
#define H_1_5   0x3e00
#define H_2     0x4000
#define H_M1    0xbc00

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

/* ---- type table ---- */

START_TEST(test_type_table)
{
	/* sizeof(block_x) written out from ggml-common.h's structs */
	static const struct { uint32_t type; const char *name; uint32_t be, bb; bool dq; } t[] = {
		{ ORC_TYPE_F32, "F32", 1, 4, true }, { ORC_TYPE_F16, "F16", 1, 2, true },
		{ ORC_TYPE_Q4_0, "Q4_0", 32, 2 + 16, true }, { ORC_TYPE_Q4_1, "Q4_1", 32, 2 * 2 + 16, true },
		{ ORC_TYPE_Q5_0, "Q5_0", 32, 2 + 4 + 16, true }, { ORC_TYPE_Q5_1, "Q5_1", 32, 2 * 2 + 4 + 16, true },
		{ ORC_TYPE_Q8_0, "Q8_0", 32, 2 + 32, true }, { ORC_TYPE_Q8_1, "Q8_1", 32, 2 * 2 + 32, false },
		{ ORC_TYPE_Q2_K, "Q2_K", 256, 2 * 2 + 256 / 16 + 256 / 4, true },
		{ ORC_TYPE_Q3_K, "Q3_K", 256, 2 + 256 / 4 + 256 / 8 + 12, true },
		{ ORC_TYPE_Q4_K, "Q4_K", 256, 2 * 2 + 12 + 256 / 2, true },
		{ ORC_TYPE_Q5_K, "Q5_K", 256, 2 * 2 + 12 + 256 / 2 + 256 / 8, true },
		{ ORC_TYPE_Q6_K, "Q6_K", 256, 2 + 256 / 16 + 3 * 256 / 4, true },
		{ ORC_TYPE_Q8_K, "Q8_K", 256, 4 + 256 + 256 / 16 * 2, true },
		{ ORC_TYPE_IQ2_XXS, "IQ2_XXS", 256, 2 + 256 / 8 * 2, false },
		{ ORC_TYPE_IQ2_XS, "IQ2_XS", 256, 2 + 256 / 8 * 2 + 256 / 32, false },
		{ ORC_TYPE_IQ3_XXS, "IQ3_XXS", 256, 2 + 3 * (256 / 8), false },
		{ ORC_TYPE_IQ1_S, "IQ1_S", 256, 2 + 256 / 8 + 256 / 16, false },
		{ ORC_TYPE_IQ4_NL, "IQ4_NL", 32, 2 + 16, false },
		{ ORC_TYPE_IQ3_S, "IQ3_S", 256, 2 + 13 * (256 / 32) + 256 / 64, false },
		{ ORC_TYPE_IQ2_S, "IQ2_S", 256, 2 + 256 / 4 + 256 / 16, false },
		{ ORC_TYPE_IQ4_XS, "IQ4_XS", 256, 2 + 2 + 256 / 64 + 256 / 2, false },
		{ ORC_TYPE_I8, "I8", 1, 1, false }, { ORC_TYPE_I16, "I16", 1, 2, false },
		{ ORC_TYPE_I32, "I32", 1, 4, false }, { ORC_TYPE_I64, "I64", 1, 8, false },
		{ ORC_TYPE_F64, "F64", 1, 8, false },
		{ ORC_TYPE_IQ1_M, "IQ1_M", 256, 256 / 8 + 256 / 16 + 256 / 32, false },
		{ ORC_TYPE_BF16, "BF16", 1, 2, true },
		{ ORC_TYPE_TQ1_0, "TQ1_0", 256, 2 + 256 / 64 + (256 - 4 * 256 / 64) / 5, false },
		{ ORC_TYPE_TQ2_0, "TQ2_0", 256, 2 + 256 / 4, false },
		{ ORC_TYPE_MXFP4, "MXFP4", 32, 1 + 16, false },
		{ ORC_TYPE_NVFP4, "NVFP4", 64, 64 / 16 + 64 / 2, false },
		{ ORC_TYPE_Q1_0, "Q1_0", 128, 2 + 128 / 8, false },
		{ ORC_TYPE_Q2_0, "Q2_0", 64, 2 + 64 / 4, false },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const struct orc_type_info *ti = orc_type_info(t[i].type);
		ck_assert_ptr_nonnull(ti);
		ck_assert_str_eq(ti->name, t[i].name);
		ck_assert_str_eq(orc_type_name(t[i].type), t[i].name);
		ck_assert_uint_eq(ti->block_elems, t[i].be);
		ck_assert_uint_eq(ti->block_bytes, t[i].bb);
		ck_assert_int_eq(ti->dequant, t[i].dq);
	}
	/* retired or never assigned numbers */
	static const uint32_t bad[] = { 4, 5, 31, 32, 33, 36, 37, 38, 43, 1000, UINT32_MAX };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_ptr_null(orc_type_info(bad[i]));
		ck_assert_str_eq(orc_type_name(bad[i]), "?");
	}
	ck_assert_uint_eq(orc_type_row_bytes(ORC_TYPE_Q4_K, 512), 288);
	ck_assert_uint_eq(orc_type_row_bytes(ORC_TYPE_Q4_K, 500), 0);
	ck_assert_uint_eq(orc_type_row_bytes(ORC_TYPE_F16, 3), 6);
	ck_assert_uint_eq(orc_type_row_bytes(ORC_TYPE_Q8_0, 64), 68);
	ck_assert_uint_eq(orc_type_row_bytes((enum orc_type)4, 64), 0);
}
END_TEST

/* ---- scalar conversions ---- */

START_TEST(test_f16)
{
	static const struct { uint16_t h; float f; } v[] = {
		{ 0x0000, 0.0f }, { 0x3c00, 1.0f }, { 0xc000, -2.0f }, { 0x3555, 0x1.554p-2f },
		{ 0x7bff, 65504.0f }, { 0x0400, 0x1p-14f }, { 0x0001, 0x1p-24f },
		{ 0x03ff, 1023 * 0x1p-24f }, { 0x8001, -0x1p-24f }, { 0x3800, 0.5f },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ck_assert_msg(orc_f16_to_f32(v[i].h) == v[i].f, "0x%04x", v[i].h);
		ck_assert_uint_eq(orc_f32_to_f16(v[i].f), v[i].h);
	}
	ck_assert(isinf(orc_f16_to_f32(0x7c00)) && orc_f16_to_f32(0x7c00) > 0);
	ck_assert(isinf(orc_f16_to_f32(0xfc00)) && orc_f16_to_f32(0xfc00) < 0);
	ck_assert(isnan(orc_f16_to_f32(0x7e00)));
	ck_assert(signbit(orc_f16_to_f32(0x8000)) && orc_f16_to_f32(0x8000) == 0.0f);
	ck_assert_uint_eq(orc_f32_to_f16(-0.0f), 0x8000);
	/* round to nearest, ties to even */
	ck_assert_uint_eq(orc_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);       /* tie -> even 0x3c00 */
	ck_assert_uint_eq(orc_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);   /* tie -> even 0x3c02 */
	ck_assert_uint_eq(orc_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
	ck_assert_uint_eq(orc_f32_to_f16(65519.0f), 0x7bff);
	ck_assert_uint_eq(orc_f32_to_f16(65520.0f), 0x7c00);
	ck_assert_uint_eq(orc_f32_to_f16(1e10f), 0x7c00);
	ck_assert_uint_eq(orc_f32_to_f16(-INFINITY), 0xfc00);
	ck_assert_uint_eq(orc_f32_to_f16(0x1p-25f), 0x0000);               /* tie -> even 0 */
	ck_assert_uint_eq(orc_f32_to_f16(0x1.01p-25f), 0x0001);
	ck_assert_uint_eq(orc_f32_to_f16(3 * 0x1p-25f), 0x0002);           /* tie -> even 2 */
	ck_assert_uint_eq(orc_f32_to_f16(0x1p-14f - 0x1p-26f), 0x0400);    /* rounds up to normal */
	ck_assert_uint_eq(orc_f32_to_f16(1e-10f), 0x0000);
	uint16_t nan = orc_f32_to_f16(NAN);
	ck_assert((nan & 0x7c00) == 0x7c00 && (nan & 0x03ff) != 0);
	/* every finite half survives the round trip */
	for (uint32_t h = 0; h < 0x10000; h++) {
		if ((h & 0x7c00) == 0x7c00 && (h & 0x03ff))
			continue;
		ck_assert_uint_eq(orc_f32_to_f16(orc_f16_to_f32((uint16_t)h)), h);
	}
}
END_TEST

START_TEST(test_bf16)
{
	ck_assert(orc_bf16_to_f32(0x3f80) == 1.0f);
	ck_assert(orc_bf16_to_f32(0xc040) == -3.0f);
	ck_assert(orc_bf16_to_f32(0x0001) == 0x1p-133f);
	ck_assert(isinf(orc_bf16_to_f32(0x7f80)));
	ck_assert_uint_eq(orc_f32_to_bf16(1.0f), 0x3f80);
	ck_assert_uint_eq(orc_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);         /* tie -> even */
	ck_assert_uint_eq(orc_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);     /* tie -> even */
	ck_assert_uint_eq(orc_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
	ck_assert_uint_eq(orc_f32_to_bf16(-2.0f), 0xc000);
	uint16_t nan = orc_f32_to_bf16(NAN);
	ck_assert((nan & 0x7f80) == 0x7f80 && (nan & 0x7f) != 0);
	for (uint32_t h = 0; h < 0x10000; h++) {
		if ((h & 0x7f80) == 0x7f80 && (h & 0x7f))
			continue;
		ck_assert_uint_eq(orc_f32_to_bf16(orc_bf16_to_f32((uint16_t)h)), h);
	}
}
END_TEST

/* ---- plain types ---- */

START_TEST(test_plain)
{
	uint8_t src[8];
	float out[4];
	put16(src, H_1); put16(src + 2, H_M1); put16(src + 4, 0x7bff); put16(src + 6, 0x0001);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_F16, src, out, 4), 0);
	ck_assert(out[0] == 1.0f && out[1] == -1.0f && out[2] == 65504.0f && out[3] == 0x1p-24f);
	put16(src, 0x3f80); put16(src + 2, 0xc040); put16(src + 4, 0x4120); put16(src + 6, 0x0000);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_BF16, src, out, 4), 0);
	ck_assert(out[0] == 1.0f && out[1] == -3.0f && out[2] == 10.0f && out[3] == 0.0f);
	const float f[2] = { 1.5f, -7.25f };
	uint8_t unaligned[9];
	memcpy(unaligned + 1, f, 8);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_F32, unaligned + 1, out, 2), 0);
	ck_assert(out[0] == 1.5f && out[1] == -7.25f);
}
END_TEST

START_TEST(test_errors)
{
	uint8_t src[512] = { 0 };
	float out[256];
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q4_0, src, out, 31), -EINVAL);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q4_K, src, out, 128), -EINVAL);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_IQ2_XXS, src, out, 256), -ENOTSUP);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_I32, src, out, 4), -ENOTSUP);
	ck_assert_int_eq(orc_dequant_row((enum orc_type)4, src, out, 32), -ENOTSUP);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q8_0, src, out, 0), 0);
}
END_TEST

/* ---- legacy 32-element blocks ---- */

START_TEST(test_q4_0)
{
	uint8_t b[2 * 18];
	float y[64];
	/* block 0: d = 0.5, q[j] = j, q[j+16] = 15 - j;  block 1: d = -1, q = 8 (-> 0) and 0 */
	put16(b, H_0_5);
	for (int j = 0; j < 16; j++)
		b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
	put16(b + 18, H_M1);
	memset(b + 20, 0x08, 16);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q4_0, b, y, 64), 0);
	for (int j = 0; j < 16; j++) {
		ck_assert(y[j] == (float)(j - 8) * 0.5f);
		ck_assert(y[j + 16] == (float)(15 - j - 8) * 0.5f);
		ck_assert(y[32 + j] == 0.0f);
		ck_assert(y[48 + j] == 8.0f);    /* (0 - 8) * -1 */
	}
}
END_TEST

START_TEST(test_q4_1)
{
	uint8_t b[20];
	float y[32];
	put16(b, H_0_25);
	put16(b + 2, H_M1);
	for (int j = 0; j < 16; j++)
		b[4 + j] = (uint8_t)(((j * 3) & 15) | ((j ^ 5) << 4));
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q4_1, b, y, 32), 0);
	for (int j = 0; j < 16; j++) {
		ck_assert(y[j] == (float)((j * 3) & 15) * 0.25f - 1.0f);
		ck_assert(y[j + 16] == (float)(j ^ 5) * 0.25f - 1.0f);
	}
}
END_TEST

/* q[0..31] in 0..31 -> qh (bit e = 5th bit of element e) and qs */
static void pack_q5(const int q[32], uint8_t qh[4], uint8_t qs[16])
{
	uint32_t h = 0;
	for (int e = 0; e < 32; e++)
		h |= (uint32_t)((q[e] >> 4) & 1) << e;
	memcpy(qh, &h, 4);
	for (int j = 0; j < 16; j++)
		qs[j] = (uint8_t)((q[j] & 15) | ((q[j + 16] & 15) << 4));
}

START_TEST(test_q5_0_q5_1)
{
	uint8_t b0[22], b1[24];
	float y[32];
	int q[32];
	for (int e = 0; e < 32; e++)
		q[e] = (e * 7 + 3) % 32;
	put16(b0, H_1_5);
	pack_q5(q, b0 + 2, b0 + 6);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q5_0, b0, y, 32), 0);
	for (int e = 0; e < 32; e++)
		ck_assert_msg(y[e] == (float)(q[e] - 16) * 1.5f, "e=%d y=%g", e, y[e]);
	put16(b1, H_0_125);
	put16(b1 + 2, H_2);
	pack_q5(q, b1 + 4, b1 + 8);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q5_1, b1, y, 32), 0);
	for (int e = 0; e < 32; e++)
		ck_assert(y[e] == (float)q[e] * 0.125f + 2.0f);
}
END_TEST

START_TEST(test_q8_0)
{
	uint8_t b[34];
	float y[32];
	put16(b, H_0_125);
	for (int j = 0; j < 32; j++)
		b[2 + j] = (uint8_t)(int8_t)(j * 8 - 128);   /* -128 .. 120 */
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q8_0, b, y, 32), 0);
	for (int j = 0; j < 32; j++)
		ck_assert(y[j] == (float)(j * 8 - 128) * 0.125f);
}
END_TEST

/* ---- K-quants ---- */

START_TEST(test_q8_k)
{
	uint8_t b[292];
	float y[256], d = -0.75f;
	memcpy(b, &d, 4);
	for (int j = 0; j < 256; j++)
		b[4 + j] = (uint8_t)(int8_t)(j - 128);
	memset(b + 260, 0x5a, 32);    /* bsums: not used for dequantization */
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q8_K, b, y, 256), 0);
	for (int j = 0; j < 256; j++)
		ck_assert(y[j] == (float)(j - 128) * -0.75f);
}
END_TEST

/* 8 6-bit scales and mins into the 12-byte layout of Q4_K/Q5_K. */
static void pack_k4_scales(const int sc[8], const int mn[8], uint8_t s[12])
{
	memset(s, 0, 12);
	for (int j = 0; j < 8; j++) {
		if (j < 4) {
			s[j] = (uint8_t)sc[j];
			s[j + 4] = (uint8_t)mn[j];
		} else {
			s[j + 4] = (uint8_t)((sc[j] & 0xf) | ((mn[j] & 0xf) << 4));
			s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
			s[j] |= (uint8_t)((mn[j] >> 4) << 6);
		}
	}
}

static const int k_sc[8] = { 1, 63, 17, 32, 40, 5, 63, 33 };
static const int k_mn[8] = { 0, 2, 63, 47, 16, 48, 1, 62 };

START_TEST(test_q4_k)
{
	uint8_t b[2 * 144];
	float y[512];
	int q[256];
	for (int blk = 0; blk < 2; blk++) {
		uint8_t *x = b + 144 * blk;
		put16(x, blk ? H_0_25 : H_0_5);      /* d */
		put16(x + 2, blk ? H_1 : H_0_25);    /* dmin */
		pack_k4_scales(k_sc, k_mn, x + 4);
		memset(x + 16, 0, 128);
		for (int e = 0; e < 256; e++) {
			/* sub-block b = e/32 lives in qs[32*(b/2) + e%32], low nibble for even b */
			q[e] = (e * 5 + 3 + blk) % 16;
			int sb = e / 32;
			x[16 + 32 * (sb / 2) + e % 32] |= (uint8_t)(q[e] << (4 * (sb % 2)));
		}
	}
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q4_K, b, y, 512), 0);
	for (int i = 0; i < 512; i++) {
		int blk = i / 256, e = i % 256, sb = e / 32;
		double d = blk ? 0.25 : 0.5, dmin = blk ? 1.0 : 0.25;
		double want = d * k_sc[sb] * ((e * 5 + 3 + blk) % 16) - dmin * k_mn[sb];
		ck_assert_msg(y[i] == (float)want, "i=%d y=%g want=%g", i, y[i], want);
	}
}
END_TEST

START_TEST(test_q5_k)
{
	uint8_t x[176];
	float y[256];
	put16(x, H_0_5);
	put16(x + 2, H_0_125);
	pack_k4_scales(k_sc, k_mn, x + 4);
	memset(x + 16, 0, 160);
	for (int e = 0; e < 256; e++) {
		int q = (e * 11 + 7) % 32, sb = e / 32, l = e % 32;
		x[16 + l] |= (uint8_t)(((q >> 4) & 1) << sb);                   /* qh[l] bit sb */
		x[48 + 32 * (sb / 2) + l] |= (uint8_t)((q & 15) << (4 * (sb % 2)));
	}
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q5_K, x, y, 256), 0);
	for (int e = 0; e < 256; e++) {
		int sb = e / 32;
		double want = 0.5 * k_sc[sb] * ((e * 11 + 7) % 32) - 0.125 * k_mn[sb];
		ck_assert_msg(y[e] == (float)want, "e=%d y=%g want=%g", e, y[e], want);
	}
}
END_TEST

START_TEST(test_q6_k)
{
	uint8_t x[210];
	float y[256];
	memset(x, 0, sizeof(x));
	for (int k = 0; k < 16; k++)
		x[192 + k] = (uint8_t)(int8_t)((k * 37) % 256 - 128);
	put16(x + 208, H_0_5);
	/* element e = 128h + 32g + l: g0 ql[l] lo, g1 ql[l+32] lo, g2 ql[l] hi,
	 * g3 ql[l+32] hi (ql based at 64h); high 2 bits in qh[32h + l] bits 2g */
	for (int e = 0; e < 256; e++) {
		int q = (e * 13 + 5) % 64, h = e / 128, g = (e % 128) / 32, l = e % 32;
		int qli = 64 * h + l + ((g & 1) ? 32 : 0);
		x[qli] |= (uint8_t)((q & 15) << ((g & 2) ? 4 : 0));
		x[128 + 32 * h + l] |= (uint8_t)((q >> 4) << (2 * g));
	}
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q6_K, x, y, 256), 0);
	for (int e = 0; e < 256; e++) {
		double want = 0.5 * ((e / 16 * 37) % 256 - 128) * ((e * 13 + 5) % 64 - 32);
		ck_assert_msg(y[e] == (float)want, "e=%d y=%g want=%g", e, y[e], want);
	}
}
END_TEST

START_TEST(test_q2_k)
{
	uint8_t x[84];
	float y[256];
	int sc[16], mn[16];
	memset(x, 0, sizeof(x));
	for (int k = 0; k < 16; k++) {
		sc[k] = (k * 7 + 1) % 16;
		mn[k] = (k * 5 + 2) % 16;
		x[k] = (uint8_t)(sc[k] | (mn[k] << 4));
	}
	/* element e = 128h + 32j + 16s + l: 2 bits at shift 2j of qs[32h + 16s + l] */
	for (int e = 0; e < 256; e++) {
		int q = (e * 3 + e / 7) % 4, h = e / 128, j = (e % 128) / 32, s = (e % 32) / 16, l = e % 16;
		x[16 + 32 * h + 16 * s + l] |= (uint8_t)(q << (2 * j));
	}
	put16(x + 80, H_0_5);
	put16(x + 82, H_0_25);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q2_K, x, y, 256), 0);
	for (int e = 0; e < 256; e++) {
		int k = e / 16;
		double want = 0.5 * sc[k] * ((e * 3 + e / 7) % 4) - 0.25 * mn[k];
		ck_assert_msg(y[e] == (float)want, "e=%d y=%g want=%g", e, y[e], want);
	}
}
END_TEST

START_TEST(test_q3_k)
{
	uint8_t x[110];
	float y[256];
	int sc[16];
	memset(x, 0, sizeof(x));
	/* 16 6-bit scales: low nibbles in bytes 0..7 (lo: 0..7, hi: 8..15),
	 * top 2 bits of scale k in byte 8 + k%4 at bit 2*(k/4) */
	for (int k = 0; k < 16; k++) {
		sc[k] = (k * 23 + 9) % 64;
		if (k < 8)
			x[96 + k] |= (uint8_t)(sc[k] & 0xf);
		else
			x[96 + k - 8] |= (uint8_t)((sc[k] & 0xf) << 4);
		x[96 + 8 + k % 4] |= (uint8_t)((sc[k] >> 4) << (2 * (k / 4)));
	}
	/* element e = 128h + 32j + 16s + l: low 2 bits at shift 2j of
	 * qs[32h + 16s + l]; high bit in hmask[16s + l] bit 4h + j (set: +0, clear: -4) */
	for (int e = 0; e < 256; e++) {
		int q = (e * 5 + e / 9) % 8, h = e / 128, j = (e % 128) / 32, s = (e % 32) / 16, l = e % 16;
		x[32 + 32 * h + 16 * s + l] |= (uint8_t)((q & 3) << (2 * j));
		if (q & 4)
			x[16 * s + l] |= (uint8_t)(1 << (4 * h + j));
	}
	put16(x + 108, H_0_25);
	ck_assert_int_eq(orc_dequant_row(ORC_TYPE_Q3_K, x, y, 256), 0);
	for (int e = 0; e < 256; e++) {
		double want = 0.25 * (sc[e / 16] - 32) * ((e * 5 + e / 9) % 8 - 4);
		ck_assert_msg(y[e] == (float)want, "e=%d y=%g want=%g", e, y[e], want);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("quant");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_type_table);
	tcase_add_test(tc, test_f16);
	tcase_add_test(tc, test_bf16);
	tcase_add_test(tc, test_plain);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_q4_0);
	tcase_add_test(tc, test_q4_1);
	tcase_add_test(tc, test_q5_0_q5_1);
	tcase_add_test(tc, test_q8_0);
	tcase_add_test(tc, test_q8_k);
	tcase_add_test(tc, test_q4_k);
	tcase_add_test(tc, test_q5_k);
	tcase_add_test(tc, test_q6_k);
	tcase_add_test(tc, test_q2_k);
	tcase_add_test(tc, test_q3_k);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
