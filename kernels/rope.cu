/* rope.cu -- rotary position embedding in place, in both layouts: NeoX
 * halves (qwen2, phi3) and llama's adjacent pairs. Angles are evaluated in
 * double and rounded to float, as the CPU backend does. */
#include "kcommon.cuh"

/* grid n_tok, block 128: one thread per (head, pair) */
__global__ void k_rope(float *x, int ldx, const int32_t *pos, int n_heads, int head_dim, int n_rot, int neox,
		       float theta)
{
	const int t = blockIdx.x, half = n_rot / 2;
	const double p = pos[t];
	float *row = x + (int64_t)t * ldx;
	for (int e = threadIdx.x; e < n_heads * half; e += blockDim.x) {
		int h = e / half, i = e % half;
		int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
		double ang = p * pow((double)theta, -2.0 * i / n_rot);
		float c = (float)cos(ang), s = (float)sin(ang);
		float *v = row + h * head_dim;
		float x0 = v[a], x1 = v[b];
		v[a] = x0 * c - x1 * s;
		v[b] = x0 * s + x1 * c;
	}
}

extern "C" cudaError_t orc_k_rope(float *x, int ldx, const int32_t *pos, int n_tok, int n_heads, int head_dim,
				  const struct orc_k_rope *r, cudaStream_t stream)
{
	if (!r || r->n_rot <= 0 || r->n_rot % 2 || r->n_rot > head_dim || !(r->theta > 0.0f) || n_tok < 0 ||
	    n_heads <= 0 || ldx < n_heads * head_dim)
		return cudaErrorInvalidValue;
	if (n_tok == 0)
		return cudaSuccess;
	k_rope<<<n_tok, 128, 0, stream>>>(x, ldx, pos, n_heads, head_dim, r->n_rot, r->neox, r->theta);
	return cudaGetLastError();
}
