/* rope.cu -- rotary position embedding in both layouts (NeoX halves and
 * llama's adjacent pairs): in place on a Q or K buffer, and fused with the
 * QKV bias and the store of K and V into the paged cache. */
#include "kcommon.cuh"

/* Angle of pair i at position pos, as transformers computes it:
 * inv_freq = 1 / theta^(2i / n_rot), angle = pos * inv_freq (float). */
__device__ __forceinline__ void k_rope_cs(int pos, int i, int n_rot, float theta, float *c, float *s)
{
	float inv = 1.0f / powf(theta, (float)(2 * i) / (float)n_rot);
	sincosf((float)pos * inv, s, c);
}

/* Element indices of pair i of a head. */
__device__ __forceinline__ void k_rope_pair(int i, int n_rot, int neox, int *a, int *b)
{
	if (neox) {
		*a = i;
		*b = i + n_rot / 2;
	} else {
		*a = 2 * i;
		*b = 2 * i + 1;
	}
}

/* grid n_tok, block 128: one thread per (head, pair) */
__global__ void k_rope(float *x, int ldx, const int32_t *pos, int n_heads, int head_dim, int n_rot, int neox,
		       float theta)
{
	int t = blockIdx.x, half = n_rot / 2, p = pos[t];
	float *row = x + (int64_t)t * ldx;
	for (int e = threadIdx.x; e < n_heads * half; e += blockDim.x) {
		int h = e / half, i = e % half, a, b;
		float c, s;
		k_rope_pair(i, n_rot, neox, &a, &b);
		k_rope_cs(p, i, n_rot, theta, &c, &s);
		float *v = row + h * head_dim;
		float x0 = v[a], x1 = v[b];
		v[a] = x0 * c - x1 * s;
		v[b] = x0 * s + x1 * c;
	}
}

template <typename T> __device__ __forceinline__ T k_kv_conv(float v);
template <> __device__ __forceinline__ float k_kv_conv<float>(float v) { return v; }
template <> __device__ __forceinline__ __half k_kv_conv<__half>(float v) { return __float2half_rn(v); }

/* grid n_tok, block 256: every element of the q|k|v row once; the first
 * element of a rotated pair computes both. */
template <typename T>
__global__ void k_rope_store(const float *qkv, int ldqkv, const float *bias, float *q_out, T *kc, T *vc,
			     const int32_t *bt, int bt_stride, const int32_t *pos, const int32_t *slot,
			     int n_head, int n_kv, int hd, int n_rot, int neox, float theta)
{
	int t = blockIdx.x, p = pos[t], half = n_rot / 2;
	const float *row = qkv + (int64_t)t * ldqkv;
	int page = bt[(int64_t)slot[t] * bt_stride + p / ORC_KV_BLOCK], off = p % ORC_KV_BLOCK;
	int n_all = (n_head + 2 * n_kv) * hd;

	for (int e = threadIdx.x; e < n_all; e += blockDim.x) {
		int h = e / hd, d = e % hd;
		float v = row[e] + (bias ? bias[e] : 0.0f);
		bool rot = h < n_head + n_kv && d < n_rot;
		int other = -1;
		if (rot) {
			int i = neox ? (d < half ? d : -1) : (d % 2 == 0 ? d / 2 : -1);
			if (i < 0)
				continue; /* second of its pair: done by the first */
			int a, b;
			float c, s;
			k_rope_pair(i, n_rot, neox, &a, &b);
			k_rope_cs(p, i, n_rot, theta, &c, &s);
			other = h * hd + b;
			float x1 = row[other] + (bias ? bias[other] : 0.0f);
			float r0 = v * c - x1 * s, r1 = v * s + x1 * c;
			v = r0;
			if (h < n_head) {
				q_out[(int64_t)t * n_head * hd + other] = r1;
			} else {
				int kh = h - n_head;
				kc[(((int64_t)page * n_kv + kh) * ORC_KV_BLOCK + off) * hd + b] = k_kv_conv<T>(r1);
			}
		}
		if (h < n_head) {
			q_out[(int64_t)t * n_head * hd + e] = v;
		} else if (h < n_head + n_kv) {
			int kh = h - n_head;
			kc[(((int64_t)page * n_kv + kh) * ORC_KV_BLOCK + off) * hd + d] = k_kv_conv<T>(v);
		} else {
			int vh = h - n_head - n_kv;
			vc[(((int64_t)page * n_kv + vh) * ORC_KV_BLOCK + off) * hd + d] = k_kv_conv<T>(v);
		}
	}
}

static bool rope_ok(const struct orc_k_rope *r, int head_dim)
{
	return r && r->n_rot >= 0 && r->n_rot % 2 == 0 && r->n_rot <= head_dim && r->theta > 0.0f;
}

extern "C" cudaError_t orc_k_rope(float *x, int ldx, const int32_t *pos, int n_tok, int n_heads, int head_dim,
				  const struct orc_k_rope *r, cudaStream_t stream)
{
	if (!rope_ok(r, head_dim) || n_tok < 0 || n_heads <= 0 || ldx < n_heads * head_dim)
		return cudaErrorInvalidValue;
	if (n_tok == 0 || r->n_rot == 0)
		return cudaSuccess;
	k_rope<<<n_tok, 128, 0, stream>>>(x, ldx, pos, n_heads, head_dim, r->n_rot, r->neox, r->theta);
	return cudaGetLastError();
}

extern "C" cudaError_t orc_k_rope_store(const float *qkv, int ldqkv, const float *bias, float *q_out,
					const struct orc_k_kv *kv, const int32_t *pos, const int32_t *slot,
					int n_tok, int n_head, const struct orc_k_rope *r, cudaStream_t stream)
{
	int hd = kv->head_dim, nkv = kv->n_kv_head;
	if (!rope_ok(r, hd) || n_tok < 0 || n_head <= 0 || nkv <= 0 || n_head % nkv ||
	    ldqkv < (n_head + 2 * nkv) * hd)
		return cudaErrorInvalidValue;
	if (n_tok == 0)
		return cudaSuccess;
	if (kv->type == ORC_KT_F32)
		k_rope_store<float><<<n_tok, 256, 0, stream>>>(qkv, ldqkv, bias, q_out, (float *)kv->k,
			(float *)kv->v, kv->block_table, kv->bt_stride, pos, slot, n_head, nkv, hd,
			r->n_rot, r->neox, r->theta);
	else if (kv->type == ORC_KT_F16)
		k_rope_store<__half><<<n_tok, 256, 0, stream>>>(qkv, ldqkv, bias, q_out, (__half *)kv->k,
			(__half *)kv->v, kv->block_table, kv->bt_stride, pos, slot, n_head, nkv, hd,
			r->n_rot, r->neox, r->theta);
	else
		return cudaErrorInvalidValue;
	return cudaGetLastError();
}
