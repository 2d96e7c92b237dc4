/* quant.c -- the ggml tensor type table (block sizes and bytes, as in
 * ggml-common.h) and dequantization of rows to F32, following the block
 * layouts and arithmetic of ggml's dequantize_row_* so results match bit for
 * bit. Blocks are read through memcpy (no alignment needed). Library code. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "quant.h"

/* ---- the type table ---- */

#define T(id, nm, be, bb, dq) [id] = { nm, be, bb, dq }

static const struct orc_type_info type_table[ORC_TYPE_COUNT] = {
	T(ORC_TYPE_F32,     "F32",     1,   4,   true),
	T(ORC_TYPE_F16,     "F16",     1,   2,   true),
	T(ORC_TYPE_Q4_0,    "Q4_0",    32,  18,  true),  /* f16 d, 16 nibble bytes */
	T(ORC_TYPE_Q4_1,    "Q4_1",    32,  20,  true),  /* f16 d, f16 m, 16 bytes */
	T(ORC_TYPE_Q5_0,    "Q5_0",    32,  22,  true),  /* f16 d, u32 qh, 16 bytes */
	T(ORC_TYPE_Q5_1,    "Q5_1",    32,  24,  true),
	T(ORC_TYPE_Q8_0,    "Q8_0",    32,  34,  true),  /* f16 d, 32 int8 */
	T(ORC_TYPE_Q8_1,    "Q8_1",    32,  36,  false),
	T(ORC_TYPE_Q2_K,    "Q2_K",    256, 84,  true),
	T(ORC_TYPE_Q3_K,    "Q3_K",    256, 110, true),
	T(ORC_TYPE_Q4_K,    "Q4_K",    256, 144, true),
	T(ORC_TYPE_Q5_K,    "Q5_K",    256, 176, true),
	T(ORC_TYPE_Q6_K,    "Q6_K",    256, 210, true),
	T(ORC_TYPE_Q8_K,    "Q8_K",    256, 292, true),  /* f32 d, 256 int8, 16 int16 */
	T(ORC_TYPE_IQ2_XXS, "IQ2_XXS", 256, 66,  false),
	T(ORC_TYPE_IQ2_XS,  "IQ2_XS",  256, 74,  false),
	T(ORC_TYPE_IQ3_XXS, "IQ3_XXS", 256, 98,  false),
	T(ORC_TYPE_IQ1_S,   "IQ1_S",   256, 50,  false),
	T(ORC_TYPE_IQ4_NL,  "IQ4_NL",  32,  18,  false),
	T(ORC_TYPE_IQ3_S,   "IQ3_S",   256, 110, false),
	T(ORC_TYPE_IQ2_S,   "IQ2_S",   256, 82,  false),
	T(ORC_TYPE_IQ4_XS,  "IQ4_XS",  256, 136, false),
	T(ORC_TYPE_I8,      "I8",      1,   1,   false),
	T(ORC_TYPE_I16,     "I16",     1,   2,   false),
	T(ORC_TYPE_I32,     "I32",     1,   4,   false),
	T(ORC_TYPE_I64,     "I64",     1,   8,   false),
	T(ORC_TYPE_F64,     "F64",     1,   8,   false),
	T(ORC_TYPE_IQ1_M,   "IQ1_M",   256, 56,  false),
	T(ORC_TYPE_BF16,    "BF16",    1,   2,   true),
	T(ORC_TYPE_TQ1_0,   "TQ1_0",   256, 54,  false),
	T(ORC_TYPE_TQ2_0,   "TQ2_0",   256, 66,  false),
	T(ORC_TYPE_MXFP4,   "MXFP4",   32,  17,  false), /* u8 e8m0, 16 bytes */
	T(ORC_TYPE_NVFP4,   "NVFP4",   64,  36,  false), /* 4 ue4m3 scales, 32 bytes */
	T(ORC_TYPE_Q1_0,    "Q1_0",    128, 18,  false), /* f16 d, 16 sign bytes */
	T(ORC_TYPE_Q2_0,    "Q2_0",    64,  18,  false), /* f16 d, 16 bytes */
};

#undef T

const struct orc_type_info *orc_type_info(uint32_t type)
{
	if (type >= ORC_TYPE_COUNT || !type_table[type].name)
		return NULL;
	return &type_table[type];
}

const char *orc_type_name(uint32_t type)
{
	const struct orc_type_info *ti = orc_type_info(type);
	return ti ? ti->name : "?";
}

uint64_t orc_type_row_bytes(enum orc_type type, uint64_t n)
{
	const struct orc_type_info *ti = orc_type_info((uint32_t)type);
	if (!ti || n % ti->block_elems != 0)
		return 0;
	return n / ti->block_elems * ti->block_bytes;
}

/* ---- scalar conversions ---- */

static float f32_from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof(f));
	return f;
}

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof(u));
	return u;
}

float orc_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t mant = h & 0x3ffu;

	if (exp == 0) {
		/* zero or subnormal: mant x 2^-24, exact in F32 */
		float v = (float)mant * 0x1p-24f;
		return sign ? -v : v;
	}
	if (exp == 31)
		return f32_from_bits(sign | 0x7f800000u | (mant << 13));
	return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t orc_f32_to_f16(float f)
{
	uint32_t x = f32_bits(f);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
	uint32_t a = x & 0x7fffffffu;

	if (a > 0x7f800000u)                   /* NaN stays a quiet NaN */
		return (uint16_t)(sign | 0x7e00u);
	if (a >= 0x477ff000u)                  /* >= 65520 rounds to infinity */
		return (uint16_t)(sign | 0x7c00u);
	if (a < 0x38800000u) {                 /* below 2^-14: subnormal half */
		if (a <= 0x33000000u)          /* <= 2^-25 rounds (to even) to 0 */
			return sign;
		uint32_t shift = 126 - (a >> 23);      /* 14..24 */
		uint32_t mant = (a & 0x7fffffu) | 0x800000u;
		uint32_t h = mant >> shift;
		uint32_t rem = mant & ((1u << shift) - 1);
		uint32_t half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = (a >> 13) - (112u << 10);
	uint32_t rem = a & 0x1fffu;
	if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
		h++;
	return (uint16_t)(sign | h);
}

float orc_bf16_to_f32(uint16_t h)
{
	return f32_from_bits((uint32_t)h << 16);
}

uint16_t orc_f32_to_bf16(float f)
{
	uint32_t u = f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)   /* NaN: keep it quiet */
		return (uint16_t)((u >> 16) | 64);
	return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
}

static float ld_f16(const uint8_t *p)
{
	uint16_t h;
	memcpy(&h, p, 2);
	return orc_f16_to_f32(h);
}

/* ---- legacy 32-element blocks ---- */

static void dq_f16(const uint8_t *x, float *y, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		y[i] = ld_f16(x + 2 * i);
}

static void dq_bf16(const uint8_t *x, float *y, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		uint16_t h;
		memcpy(&h, x + 2 * i, 2);
		y[i] = orc_bf16_to_f32(h);
	}
}

/* block_q4_0: f16 d | qs[16]; element j = low nibble, j+16 = high nibble */
static void dq_q4_0(const uint8_t *x, float *y, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++, x += 18, y += 32) {
		const float d = ld_f16(x);
		const uint8_t *qs = x + 2;
		for (int j = 0; j < 16; j++) {
			y[j] = (float)((qs[j] & 0x0f) - 8) * d;
			y[j + 16] = (float)((qs[j] >> 4) - 8) * d;
		}
	}
}

/* block_q4_1: f16 d | f16 m | qs[16] */
static void dq_q4_1(const uint8_t *x, float *y, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++, x += 20, y += 32) {
		const float d = ld_f16(x), m = ld_f16(x + 2);
		const uint8_t *qs = x + 4;
		for (int j = 0; j < 16; j++) {
			y[j] = (float)(qs[j] & 0x0f) * d + m;
			y[j + 16] = (float)(qs[j] >> 4) * d + m;
		}
	}
}

/* 5-bit quants: qh bit j is the 5th bit of element j (0..31). */
static void q5_vals(const uint8_t *qh4, const uint8_t *qs, int out[32])
{
	uint32_t qh;
	memcpy(&qh, qh4, 4);
	for (int j = 0; j < 16; j++) {
		out[j] = (qs[j] & 0x0f) | (int)(((qh >> j) << 4) & 0x10);
		out[j + 16] = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
	}
}

/* block_q5_0: f16 d | qh[4] | qs[16] */
static void dq_q5_0(const uint8_t *x, float *y, uint64_t nb)
{
	int q[32];
	for (uint64_t i = 0; i < nb; i++, x += 22, y += 32) {
		const float d = ld_f16(x);
		q5_vals(x + 2, x + 6, q);
		for (int j = 0; j < 32; j++)
			y[j] = (float)(q[j] - 16) * d;
	}
}

/* block_q5_1: f16 d | f16 m | qh[4] | qs[16] */
static void dq_q5_1(const uint8_t *x, float *y, uint64_t nb)
{
	int q[32];
	for (uint64_t i = 0; i < nb; i++, x += 24, y += 32) {
		const float d = ld_f16(x), m = ld_f16(x + 2);
		q5_vals(x + 4, x + 8, q);
		for (int j = 0; j < 32; j++)
			y[j] = (float)q[j] * d + m;
	}
}

/* block_q8_0: f16 d | int8 qs[32] */
static void dq_q8_0(const uint8_t *x, float *y, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++, x += 34, y += 32) {
		const float d = ld_f16(x);
		for (int j = 0; j < 32; j++)
			y[j] = (float)(int8_t)x[2 + j] * d;
	}
}

/* ---- K-quants: 256-element super-blocks ---- */

/* block_q2_K: scales[16] (lo nibble scale, hi nibble min) | qs[64] | f16 d | f16 dmin */
static void dq_q2_k(const uint8_t *x, float *y, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++, x += 84) {
		const uint8_t *sc = x, *q = x + 16;
		const float d = ld_f16(x + 80), min = ld_f16(x + 82);
		int is = 0;
		for (int n = 0; n < ORC_QK_K; n += 128, q += 32) {
			for (int shift = 0; shift < 8; shift += 2) {
				for (int half = 0; half < 2; half++) {
					uint8_t s = sc[is++];
					float dl = d * (float)(s & 0xf), ml = min * (float)(s >> 4);
					for (int l = 0; l < 16; l++)
						*y++ = dl * (float)((q[l + 16 * half] >> shift) & 3) - ml;
				}
			}
		}
	}
}

/* block_q3_K: hmask[32] | qs[64] | scales[12] (16 x 6-bit) | f16 d */
static void q3k_scales(const uint8_t *s12, int8_t out[16])
{
	const uint32_t kmask1 = 0x03030303u, kmask2 = 0x0f0f0f0fu;
	uint32_t aux[4];
	memcpy(aux, s12, 12);
	uint32_t tmp = aux[2];
	aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
	aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
	aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
	aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
	memcpy(out, aux, 16);
}

static void dq_q3_k(const uint8_t *x, float *y, uint64_t nb)
{
	int8_t scales[16];
	for (uint64_t i = 0; i < nb; i++, x += 110) {
		const uint8_t *hm = x, *q = x + 32;
		const float d_all = ld_f16(x + 108);
		uint8_t m = 1;
		int is = 0;
		q3k_scales(x + 96, scales);
		for (int n = 0; n < ORC_QK_K; n += 128, q += 32) {
			for (int shift = 0; shift < 8; shift += 2, m = (uint8_t)(m << 1)) {
				for (int half = 0; half < 2; half++) {
					float dl = d_all * (float)(scales[is++] - 32);
					for (int l = 0; l < 16; l++) {
						int k = l + 16 * half;
						int v = ((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4);
						*y++ = dl * (float)v;
					}
				}
			}
		}
	}
}

/* The 8 6-bit scale/min pairs of Q4_K and Q5_K, packed in 12 bytes. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
		*m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
	}
}

/* block_q4_K: f16 d | f16 dmin | scales[12] | qs[128] */
static void dq_q4_k(const uint8_t *x, float *y, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++, x += 144) {
		const float d = ld_f16(x), min = ld_f16(x + 2);
		const uint8_t *sc = x + 4, *q = x + 16;
		uint8_t s, m;
		for (int is = 0; is < 8; is += 2, q += 32) {
			scale_min_k4(is, sc, &s, &m);
			const float d1 = d * (float)s, m1 = min * (float)m;
			scale_min_k4(is + 1, sc, &s, &m);
			const float d2 = d * (float)s, m2 = min * (float)m;
			for (int l = 0; l < 32; l++)
				*y++ = d1 * (float)(q[l] & 0xf) - m1;
			for (int l = 0; l < 32; l++)
				*y++ = d2 * (float)(q[l] >> 4) - m2;
		}
	}
}

/* block_q5_K: f16 d | f16 dmin | scales[12] | qh[32] | qs[128] */
static void dq_q5_k(const uint8_t *x, float *y, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++, x += 176) {
		const float d = ld_f16(x), min = ld_f16(x + 2);
		const uint8_t *sc = x + 4, *qh = x + 16, *ql = x + 48;
		uint8_t s, m, u1 = 1, u2 = 2;
		for (int is = 0; is < 8; is += 2, ql += 32) {
			scale_min_k4(is, sc, &s, &m);
			const float d1 = d * (float)s, m1 = min * (float)m;
			scale_min_k4(is + 1, sc, &s, &m);
			const float d2 = d * (float)s, m2 = min * (float)m;
			for (int l = 0; l < 32; l++)
				*y++ = d1 * (float)((ql[l] & 0xf) + ((qh[l] & u1) ? 16 : 0)) - m1;
			for (int l = 0; l < 32; l++)
				*y++ = d2 * (float)((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
			u1 = (uint8_t)(u1 << 2);
			u2 = (uint8_t)(u2 << 2);
		}
	}
}

/* block_q6_K: ql[128] | qh[64] | int8 scales[16] | f16 d */
static void dq_q6_k(const uint8_t *x, float *y, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++, x += 210) {
		const float d = ld_f16(x + 208);
		const uint8_t *ql = x, *qh = x + 128;
		const int8_t *sc = (const int8_t *)(x + 192);
		for (int n = 0; n < ORC_QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
			for (int l = 0; l < 32; l++) {
				int is = l / 16;
				int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
				int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
				int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
				int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
				y[l] = d * (float)sc[is] * (float)q1;
				y[l + 32] = d * (float)sc[is + 2] * (float)q2;
				y[l + 64] = d * (float)sc[is + 4] * (float)q3;
				y[l + 96] = d * (float)sc[is + 6] * (float)q4;
			}
		}
	}
}

/* block_q8_K: f32 d | int8 qs[256] | int16 bsums[16] (bsums unused here) */
static void dq_q8_k(const uint8_t *x, float *y, uint64_t nb)
{
	for (uint64_t i = 0; i < nb; i++, x += 292, y += 256) {
		float d;
		memcpy(&d, x, 4);
		for (int j = 0; j < 256; j++)
			y[j] = d * (float)(int8_t)x[4 + j];
	}
}

int orc_dequant_row(enum orc_type type, const void *src, float *dst, uint64_t n)
{
	const struct orc_type_info *ti = orc_type_info((uint32_t)type);
	const uint8_t *x = src;

	if (!ti || !ti->dequant)
		return -ENOTSUP;
	if (n % ti->block_elems != 0)
		return -EINVAL;
	uint64_t nb = n / ti->block_elems;
	switch (type) {
	case ORC_TYPE_F32: memcpy(dst, src, n * sizeof(float)); break;
	case ORC_TYPE_F16: dq_f16(x, dst, n); break;
	case ORC_TYPE_BF16: dq_bf16(x, dst, n); break;
	case ORC_TYPE_Q4_0: dq_q4_0(x, dst, nb); break;
	case ORC_TYPE_Q4_1: dq_q4_1(x, dst, nb); break;
	case ORC_TYPE_Q5_0: dq_q5_0(x, dst, nb); break;
	case ORC_TYPE_Q5_1: dq_q5_1(x, dst, nb); break;
	case ORC_TYPE_Q8_0: dq_q8_0(x, dst, nb); break;
	case ORC_TYPE_Q2_K: dq_q2_k(x, dst, nb); break;
	case ORC_TYPE_Q3_K: dq_q3_k(x, dst, nb); break;
	case ORC_TYPE_Q4_K: dq_q4_k(x, dst, nb); break;
	case ORC_TYPE_Q5_K: dq_q5_k(x, dst, nb); break;
	case ORC_TYPE_Q6_K: dq_q6_k(x, dst, nb); break;
	case ORC_TYPE_Q8_K: dq_q8_k(x, dst, nb); break;
	default: return -ENOTSUP;
	}
	return 0;
}
