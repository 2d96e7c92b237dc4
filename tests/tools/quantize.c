/* quantize.c -- reference quantizers for mkmodel (see quantize.h). Block
 * layouts as in ggml-common.h: Q8_0 {f16 d; i8 q[32]}, Q4_0 {f16 d; u8
 * q[16]} with x = d * (q - 8), Q4_K {f16 d, dmin; u8 scales[12]; u8
 * q[128]} with x = d * sc * q - dmin * m per 32-element sub-block, Q6_K
 * {u8 ql[128], qh[64]; i8 scales[16]; f16 d} with x = d * sc * (q - 32)
 * per 16 elements. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "quantize.h"

#define QK8_0 32
#define QK4_0 32

static void put_f16(uint8_t *p, float f)
{
	uint16_t h = orc_f32_to_f16(f);
	p[0] = (uint8_t)(h & 0xff);
	p[1] = (uint8_t)(h >> 8);
}

static float get_f16(const uint8_t *p)
{
	return orc_f16_to_f32((uint16_t)(p[0] | (p[1] << 8)));
}

/* Round half to even, as ggml's nearest_int() does for |x| < 2^22. */
static int nearest(float x)
{
	return (int)lrintf(x);
}

/* ---- Q8_0 and Q4_0 ---- */

static void q8_0_block(const float *x, uint8_t *y)
{
	float amax = 0.0f, d, id;

	for (int j = 0; j < QK8_0; j++)
		if (fabsf(x[j]) > amax)
			amax = fabsf(x[j]);
	d = amax / 127.0f;
	id = d != 0.0f ? 1.0f / d : 0.0f;
	put_f16(y, d);
	for (int j = 0; j < QK8_0; j++)
		y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
}

static void q4_0_block(const float *x, uint8_t *y)
{
	float amax = 0.0f, max = 0.0f, d, id;

	for (int j = 0; j < QK4_0; j++) {
		if (fabsf(x[j]) > amax) {
			amax = fabsf(x[j]);
			max = x[j];
		}
	}
	d = max / -8.0f;
	id = d != 0.0f ? 1.0f / d : 0.0f;
	put_f16(y, d);
	for (int j = 0; j < QK4_0 / 2; j++) {
		int a = (int)(int8_t)(x[j] * id + 8.5f), b = (int)(int8_t)(x[QK4_0 / 2 + j] * id + 8.5f);
		a = a < 15 ? a : 15;
		b = b < 15 ? b : 15;
		y[2 + j] = (uint8_t)(a | (b << 4));
	}
}

/* ---- Q4_K ---- */

/* ggml's make_qkx2_quants(): an asymmetric nmax-level fit of x [n] with
 * weights w, refined over nstep+1 candidate scales; L gets the levels,
 * *ret_min the offset (as a positive number to subtract), the result the scale. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L,
			   float *ret_min, float rmin, float rdelta, int nstep)
{
	float min = x[0], max = x[0], sum_w = w[0], sum_x = w[0] * x[0];
	float iscale, scale, best = 0.0f;
	uint8_t aux[32];

	for (int i = 1; i < n; i++) {
		if (x[i] < min) min = x[i];
		if (x[i] > max) max = x[i];
		sum_w += w[i];
		sum_x += w[i] * x[i];
	}
	if (min > 0) min = 0;
	if (max == min) {
		memset(L, 0, (size_t)n);
		*ret_min = -min;
		return 0.0f;
	}
	iscale = (float)nmax / (max - min);
	scale = 1.0f / iscale;
	for (int i = 0; i < n; i++) {
		int l = nearest(iscale * (x[i] - min));
		L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
		float diff = scale * L[i] + min - x[i];
		best += w[i] * diff * diff;
	}
	for (int is = 0; is <= nstep; is++) {
		float sum_l = 0, sum_l2 = 0, sum_xl = 0, D;
		iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
		for (int i = 0; i < n; i++) {
			int l = nearest(iscale * (x[i] - min));
			l = l < 0 ? 0 : l > nmax ? nmax : l;
			aux[i] = (uint8_t)l;
			sum_l += w[i] * (float)l;
			sum_l2 += w[i] * (float)l * (float)l;
			sum_xl += w[i] * (float)l * x[i];
		}
		D = sum_w * sum_l2 - sum_l * sum_l;
		if (D <= 0)
			continue;
		float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
		float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
		if (this_min > 0) {
			this_min = 0;
			this_scale = sum_xl / sum_l2;
		}
		float err = 0;
		for (int i = 0; i < n; i++) {
			float diff = this_scale * aux[i] + this_min - x[i];
			err += w[i] * diff * diff;
		}
		if (err < best) {
			memcpy(L, aux, (size_t)n);
			best = err;
			scale = this_scale;
			min = this_min;
		}
	}
	*ret_min = -min;
	return scale;
}

/* The 6-bit scale and min of sub-block j, packed as ggml's get_scale_min_k4(). */
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

static void pack_scales_k4(uint8_t *sc, const float *scales, const float *mins,
			   float max_scale, float max_min)
{
	float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
	float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;

	memset(sc, 0, 12);
	for (int j = 0; j < ORC_QK_K / 32; j++) {
		int ls = nearest(inv_scale * scales[j]), lm = nearest(inv_min * mins[j]);
		ls = ls < 63 ? ls : 63;
		lm = lm < 63 ? lm : 63;
		if (j < 4) {
			sc[j] = (uint8_t)ls;
			sc[j + 4] = (uint8_t)lm;
		} else {
			sc[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
			sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
			sc[j] |= (uint8_t)((lm >> 4) << 6);
		}
	}
}

static void q4_k_block(const float *x, uint8_t *y)
{
	uint8_t L[ORC_QK_K], *sc = y + 4, *q = y + 16;
	float w[32], mins[ORC_QK_K / 32], scales[ORC_QK_K / 32], max_scale = 0, max_min = 0;

	for (int j = 0; j < ORC_QK_K / 32; j++) {
		const float *xs = x + 32 * j;
		float sum_x2 = 0;
		for (int l = 0; l < 32; l++)
			sum_x2 += xs[l] * xs[l];
		float av_x = sqrtf(sum_x2 / 32);
		for (int l = 0; l < 32; l++)
			w[l] = av_x + fabsf(xs[l]);
		scales[j] = fit_scale_min(32, 15, xs, w, L + 32 * j, &mins[j], -1.0f, 0.1f, 20);
		if (scales[j] > max_scale) max_scale = scales[j];
		if (mins[j] > max_min) max_min = mins[j];
	}
	pack_scales_k4(sc, scales, mins, max_scale, max_min);
	put_f16(y, max_scale / 63.0f);
	put_f16(y + 2, max_min / 63.0f);
	for (int j = 0; j < ORC_QK_K / 32; j++) {
		uint8_t s, m;
		scale_min_k4(j, sc, &s, &m);
		float d = get_f16(y) * s, dm = get_f16(y + 2) * m;
		if (d == 0.0f)
			continue;
		for (int i = 0; i < 32; i++) {
			int l = nearest((x[32 * j + i] + dm) / d);
			L[32 * j + i] = (uint8_t)(l < 0 ? 0 : l > 15 ? 15 : l);
		}
	}
	for (int j = 0; j < ORC_QK_K; j += 64, q += 32)
		for (int l = 0; l < 32; l++)
			q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
}

/* ---- Q6_K ---- */

/* ggml's make_qx_quants() with rmse_type 1 (weights x^2): a symmetric
 * fit of x [n] to levels -nmax .. nmax-1, refined over 18 candidate
 * scales; L gets level + nmax, the result is the scale. */
static float fit_scale_sym(int n, int nmax, const float *x, uint8_t *L)
{
	float max = 0.0f, amax = 0.0f, sumlx = 0.0f, suml2 = 0.0f, iscale, scale, best;

	for (int i = 0; i < n; i++) {
		float ax = fabsf(x[i]);
		if (ax > amax) {
			amax = ax;
			max = x[i];
		}
	}
	if (amax < 1e-15f) {
		memset(L, 0, (size_t)n);
		return 0.0f;
	}
	iscale = -nmax / max;
	for (int i = 0; i < n; i++) {
		int l = nearest(iscale * x[i]);
		l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
		L[i] = (uint8_t)(l + nmax);
		sumlx += x[i] * x[i] * x[i] * l;
		suml2 += x[i] * x[i] * l * l;
	}
	scale = suml2 ? sumlx / suml2 : 0.0f;
	best = scale * sumlx;
	for (int is = -9; is <= 9; is++) {
		if (is == 0)
			continue;
		iscale = -(nmax + 0.1f * is) / max;
		sumlx = suml2 = 0.0f;
		for (int i = 0; i < n; i++) {
			int l = nearest(iscale * x[i]);
			l = l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l;
			sumlx += x[i] * x[i] * x[i] * l;
			suml2 += x[i] * x[i] * l * l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; i++) {
				int l = nearest(iscale * x[i]);
				L[i] = (uint8_t)(nmax + (l < -nmax ? -nmax : l > nmax - 1 ? nmax - 1 : l));
			}
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/* ggml's quantize_row_q6_K_ref(), one block: ql[128] | qh[64] | i8
 * scales[16] | f16 d, x = d * scale * (q - 32) per 16 elements. */
static void q6_k_block(const float *x, uint8_t *y)
{
	uint8_t L[ORC_QK_K], *ql = y, *qh = y + 128;
	int8_t *sc = (int8_t *)(y + 192);
	float scales[ORC_QK_K / 16], max_scale = 0.0f, max_abs = 0.0f, iscale, d;

	for (int ib = 0; ib < ORC_QK_K / 16; ib++) {
		scales[ib] = fit_scale_sym(16, 32, x + 16 * ib, L + 16 * ib);
		if (fabsf(scales[ib]) > max_abs) {
			max_abs = fabsf(scales[ib]);
			max_scale = scales[ib];
		}
	}
	if (max_abs < 1e-15f) {
		memset(y, 0, 210);
		return;
	}
	iscale = -128.0f / max_scale;
	put_f16(y + 208, 1.0f / iscale);
	for (int ib = 0; ib < ORC_QK_K / 16; ib++) {
		int v = nearest(iscale * scales[ib]);
		sc[ib] = (int8_t)(v > 127 ? 127 : v);
	}
	for (int j = 0; j < ORC_QK_K / 16; j++) {
		d = get_f16(y + 208) * sc[j];
		if (d == 0.0f)
			continue;
		for (int i = 0; i < 16; i++) {
			int l = nearest(x[16 * j + i] / d);
			L[16 * j + i] = (uint8_t)((l < -32 ? -32 : l > 31 ? 31 : l) + 32);
		}
	}
	for (int j = 0; j < ORC_QK_K; j += 128, ql += 64, qh += 32)
		for (int l = 0; l < 32; l++) {
			ql[l] = (uint8_t)((L[j + l] & 0xF) | ((L[j + l + 64] & 0xF) << 4));
			ql[l + 32] = (uint8_t)((L[j + l + 32] & 0xF) | ((L[j + l + 96] & 0xF) << 4));
			qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
					  ((L[j + l + 96] >> 4) << 6));
		}
}

/* ---- dispatch ---- */

bool orc_quantize_supported(enum orc_type type)
{
	return type == ORC_TYPE_F32 || type == ORC_TYPE_F16 || type == ORC_TYPE_BF16 ||
	       type == ORC_TYPE_Q8_0 || type == ORC_TYPE_Q4_0 || type == ORC_TYPE_Q4_K || type == ORC_TYPE_Q6_K;
}

int orc_quantize_row(enum orc_type type, const float *src, void *dst, uint64_t n)
{
	uint8_t *y = dst;

	if (!orc_quantize_supported(type))
		return -ENOTSUP;
	if (orc_type_row_bytes(type, n) == 0 && n != 0)
		return -EINVAL;
	switch (type) {
	case ORC_TYPE_F32:
		memcpy(dst, src, n * sizeof(float));
		break;
	case ORC_TYPE_F16:
	case ORC_TYPE_BF16:
		for (uint64_t i = 0; i < n; i++) {
			uint16_t h = type == ORC_TYPE_F16 ? orc_f32_to_f16(src[i]) : orc_f32_to_bf16(src[i]);
			y[2 * i] = (uint8_t)(h & 0xff);
			y[2 * i + 1] = (uint8_t)(h >> 8);
		}
		break;
	case ORC_TYPE_Q8_0:
		for (uint64_t b = 0; b < n / QK8_0; b++)
			q8_0_block(src + b * QK8_0, y + b * 34);
		break;
	case ORC_TYPE_Q4_0:
		for (uint64_t b = 0; b < n / QK4_0; b++)
			q4_0_block(src + b * QK4_0, y + b * 18);
		break;
	case ORC_TYPE_Q6_K:
		for (uint64_t b = 0; b < n / ORC_QK_K; b++)
			q6_k_block(src + b * ORC_QK_K, y + b * 210);
		break;
	default:   /* Q4_K */
		for (uint64_t b = 0; b < n / ORC_QK_K; b++)
			q4_k_block(src + b * ORC_QK_K, y + b * 144);
		break;
	}
	return 0;
}
