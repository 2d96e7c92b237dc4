/* cudatest.c -- helpers for the CUDA suites (see cudatest.h). The reference
 * dequantization follows ggml's block definitions (ggml-common.h) directly,
 * independently of the kernels. */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cudatest.h"
#include "kernels.h"

void ct_require_gpu(void)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n == 0) {
		fprintf(stderr, "SKIP: no CUDA device (%s)\n",
			e != cudaSuccess ? cudaGetErrorString(e) : "count 0");
		exit(77);
	}
}

void ct_ok(cudaError_t e, const char *what, const char *file, int line)
{
	ck_assert_msg(e == cudaSuccess, "%s:%d: %s: %s", file, line, what, cudaGetErrorString(e));
}

void *ct_alloc(size_t bytes)
{
	void *p = NULL;
	CT_OK(cudaMalloc(&p, bytes ? bytes : 1));
	CT_OK(cudaMemset(p, 0xff, bytes ? bytes : 1));
	return p;
}

void *ct_dup(const void *host, size_t bytes)
{
	void *p = ct_alloc(bytes);
	CT_OK(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice));
	return p;
}

void ct_get(void *host, const void *dev, size_t bytes)
{
	CT_OK(cudaDeviceSynchronize());
	CT_OK(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
}

void ct_free(void *dev)
{
	CT_OK(cudaFree(dev));
}

/* ---- random ---- */
static uint64_t rng = 0x9e3779b97f4a7c15ull;

void ct_seed(uint64_t s)
{
	rng = s ? s : 1;
}

uint32_t ct_u32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32);
}

float ct_uniform(float lo, float hi)
{
	return lo + (hi - lo) * (float)(ct_u32() >> 8) / 16777216.0f;
}

/* ---- half and bfloat16 ---- */
uint16_t ct_f2h(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	uint32_t sign = (x >> 16) & 0x8000, mant = x & 0x7fffff;
	int e = (int)((x >> 23) & 0xff) - 127 + 15;
	if (e >= 31)
		return (uint16_t)(sign | 0x7c00);
	if (e <= 0) {
		if (e < -10)
			return (uint16_t)sign;
		mant |= 0x800000;
		int shift = 14 - e;
		uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
		if (rem > half || (rem == half && (h & 1)))
			h++;
		return (uint16_t)(sign | h);
	}
	uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fff;
	if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
		h++;
	return (uint16_t)(sign | h);
}

float ct_h2f(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, x;
	if (e == 0) {
		float f = ldexpf((float)m, -24);
		return sign ? -f : f;
	}
	if (e == 31)
		x = sign | 0x7f800000 | (m << 13);
	else
		x = sign | ((e + 112) << 23) | (m << 13);
	float f;
	memcpy(&f, &x, 4);
	return f;
}

uint16_t ct_f2bf(float f)
{
	uint32_t x;
	memcpy(&x, &f, 4);
	x += 0x7fff + ((x >> 16) & 1);
	return (uint16_t)(x >> 16);
}

float ct_bf2f(uint16_t h)
{
	uint32_t x = (uint32_t)h << 16;
	float f;
	memcpy(&f, &x, 4);
	return f;
}

/* ---- block formats ---- */
size_t ct_row_bytes(int type, int64_t n)
{
	switch (type) {
	case ORC_KT_F32: return (size_t)n * 4;
	case ORC_KT_F16:
	case ORC_KT_BF16: return (size_t)n * 2;
	case ORC_KT_Q8_0: return (size_t)n / 32 * 34;
	case ORC_KT_Q4_0: return (size_t)n / 32 * 18;
	case ORC_KT_Q4_K: return (size_t)n / 256 * 144;
	case ORC_KT_Q6_K: return (size_t)n / 256 * 210;
	default: return 0;
	}
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

void *ct_rand_weights(int type, int64_t n_rows, int64_t row_len, float scale, size_t *ret_bytes)
{
	size_t rb = ct_row_bytes(type, row_len), bytes = rb * (size_t)n_rows;
	uint8_t *w = malloc(bytes ? bytes : 1);
	if (!w) {       /* no check assertion: benchmarks use this outside a test */
		fprintf(stderr, "ct_rand_weights: out of memory (%zu bytes)\n", bytes);
		abort();
	}
	for (size_t i = 0; i < bytes; i++)
		w[i] = (uint8_t)ct_u32();
	for (int64_t r = 0; r < n_rows; r++) {
		uint8_t *row = w + (size_t)r * rb;
		bool plain = type == ORC_KT_F32 || type == ORC_KT_F16 || type == ORC_KT_BF16;
		for (int64_t i = 0; plain && i < row_len; i++) {
			float v = ct_uniform(-scale, scale);
			if (type == ORC_KT_F32)
				memcpy(row + 4 * i, &v, 4);
			else
				put16(row + 2 * i, type == ORC_KT_F16 ? ct_f2h(v) : ct_f2bf(v));
		}
		if (type == ORC_KT_Q8_0 || type == ORC_KT_Q4_0) {
			size_t bb = type == ORC_KT_Q8_0 ? 34 : 18;
			float div = type == ORC_KT_Q8_0 ? 127.0f : 8.0f;
			for (int64_t b = 0; b < row_len / 32; b++)
				put16(row + b * bb, ct_f2h(ct_uniform(0.2f, 1.0f) * scale / div));
		} else if (type == ORC_KT_Q4_K) {
			for (int64_t b = 0; b < row_len / 256; b++) {
				put16(row + b * 144, ct_f2h(ct_uniform(0.2f, 1.0f) * scale / 15.0f / 63.0f));
				put16(row + b * 144 + 2, ct_f2h(ct_uniform(0.0f, 1.0f) * scale / 63.0f));
			}
		} else if (type == ORC_KT_Q6_K) {
			for (int64_t b = 0; b < row_len / 256; b++)
				put16(row + b * 210 + 208, ct_f2h(ct_uniform(0.2f, 1.0f) * scale / 32.0f / 127.0f));
		}
	}
	*ret_bytes = bytes;
	return w;
}

static void q4k_scale_min(int j, const uint8_t *q, int *d, int *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
	}
}

void ct_dequant_row(int type, const void *rowv, int64_t n, double *y)
{
	const uint8_t *row = rowv;
	switch (type) {
	case ORC_KT_F32:
		for (int64_t i = 0; i < n; i++) {
			float f;
			memcpy(&f, row + 4 * i, 4);
			y[i] = f;
		}
		break;
	case ORC_KT_F16:
		for (int64_t i = 0; i < n; i++)
			y[i] = ct_h2f(get16(row + 2 * i));
		break;
	case ORC_KT_BF16:
		for (int64_t i = 0; i < n; i++)
			y[i] = ct_bf2f(get16(row + 2 * i));
		break;
	case ORC_KT_Q8_0:
		for (int64_t b = 0; b < n / 32; b++) {
			const uint8_t *p = row + 34 * b;
			double d = ct_h2f(get16(p));
			for (int j = 0; j < 32; j++)
				y[32 * b + j] = d * (int8_t)p[2 + j];
		}
		break;
	case ORC_KT_Q4_0:
		for (int64_t b = 0; b < n / 32; b++) {
			const uint8_t *p = row + 18 * b;
			double d = ct_h2f(get16(p));
			for (int j = 0; j < 16; j++) {
				y[32 * b + j] = d * ((p[2 + j] & 0xF) - 8);
				y[32 * b + j + 16] = d * ((p[2 + j] >> 4) - 8);
			}
		}
		break;
	case ORC_KT_Q4_K:
		for (int64_t b = 0; b < n / 256; b++) {
			const uint8_t *p = row + 144 * b, *q = p + 16;
			double d = ct_h2f(get16(p)), dmin = ct_h2f(get16(p + 2));
			double *o = y + 256 * b;
			for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
				int sc, m;
				q4k_scale_min(is, p + 4, &sc, &m);
				double d1 = d * sc, m1 = dmin * m;
				q4k_scale_min(is + 1, p + 4, &sc, &m);
				double d2 = d * sc, m2 = dmin * m;
				for (int l = 0; l < 32; l++) {
					o[j + l] = d1 * (q[l] & 0xF) - m1;
					o[j + l + 32] = d2 * (q[l] >> 4) - m2;
				}
			}
		}
		break;
	case ORC_KT_Q6_K:
		for (int64_t b = 0; b < n / 256; b++) {
			const uint8_t *p = row + 210 * b, *ql = p, *qh = p + 128;
			const int8_t *sc = (const int8_t *)(p + 192);
			double d = ct_h2f(get16(p + 208));
			double *o = y + 256 * b;
			for (int h = 0; h < 2; h++, o += 128, ql += 64, qh += 32, sc += 8) {
				for (int l = 0; l < 32; l++) {
					int is = l / 16;
					int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
					int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
					int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
					int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
					o[l] = d * sc[is] * q1;
					o[l + 32] = d * sc[is + 2] * q2;
					o[l + 64] = d * sc[is + 4] * q3;
					o[l + 96] = d * sc[is + 6] * q4;
				}
			}
		}
		break;
	default:
		ck_abort_msg("no reference dequantization for type %d", type);
	}
}
