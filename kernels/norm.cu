/* norm.cu -- row normalizations over F32 activations: RMSNorm and LayerNorm
 * with the weight (and bias) applied, written as F32, F16 or BF16 (the
 * latter feed tensor-core GEMMs directly), and softmax. One block per row;
 * every reduction runs in an order fixed by the row length alone. */
#include <math.h>

#include "kcommon.cuh"

#define NORM_THREADS 128   /* as the GEMV norm prologue: same reduction order */

template <int OT>
__global__ void k_rmsnorm(void *out, int ldo, const float *x, int ldx, const float *w, int dim, float eps)
{
	k_dep_wait();
	__shared__ float red[32];
	const float *xr = x + (int64_t)blockIdx.x * ldx;
	const float scale = k_rms_scale(xr, dim, eps, red);
	int64_t o = (int64_t)blockIdx.x * ldo;
	for (int i = threadIdx.x; i < dim; i += blockDim.x)
		k_store<OT>(out, o + i, __fmul_rn(__fmul_rn(xr[i], scale), w[i]));
}

template <int OT>
__global__ void k_layernorm(void *out, int ldo, const float *x, int ldx, const float *w, const float *b,
			    int dim, float eps)
{
	k_dep_wait();
	__shared__ float red[32];
	const float *xr = x + (int64_t)blockIdx.x * ldx;
	float s = 0.0f;
	for (int i = threadIdx.x; i < dim; i += blockDim.x)
		s += xr[i];
	float mean = k_block_sum(s, red) / (float)dim;
	float v = 0.0f;
	for (int i = threadIdx.x; i < dim; i += blockDim.x) {
		float d = xr[i] - mean;
		v += d * d;
	}
	float scale = rsqrtf(k_block_sum(v, red) / (float)dim + eps);
	int64_t o = (int64_t)blockIdx.x * ldo;
	for (int i = threadIdx.x; i < dim; i += blockDim.x) {
		float y = (xr[i] - mean) * scale * w[i];
		k_store<OT>(out, o + i, b ? y + b[i] : y);
	}
}

extern "C" cudaError_t orc_k_rmsnorm(void *out, int otype, int ldo, const float *x, int ldx, const float *w,
				     int n_rows, int dim, float eps, cudaStream_t stream)
{
	if (n_rows < 0 || dim <= 0 || ldx < dim || ldo < dim || !w)
		return cudaErrorInvalidValue;
	if (n_rows == 0)
		return cudaSuccess;
	K_DISPATCH_OT(otype, k_rmsnorm, n_rows, NORM_THREADS, 0, stream, out, ldo, x, ldx, w, dim, eps);
	return cudaGetLastError();
}

extern "C" cudaError_t orc_k_layernorm(void *out, int otype, int ldo, const float *x, int ldx, const float *w,
				       const float *b, int n_rows, int dim, float eps, cudaStream_t stream)
{
	if (n_rows < 0 || dim <= 0 || ldx < dim || ldo < dim || !w)
		return cudaErrorInvalidValue;
	if (n_rows == 0)
		return cudaSuccess;
	K_DISPATCH_OT(otype, k_layernorm, n_rows, NORM_THREADS, 0, stream, out, ldo, x, ldx, w, b, dim, eps);
	return cudaGetLastError();
}

__global__ void k_softmax(float *out, int ldo, const float *x, int ldx, int dim)
{
	k_dep_wait();
	__shared__ float red[32];
	const float *xr = x + (int64_t)blockIdx.x * ldx;
	float *o = out + (int64_t)blockIdx.x * ldo;
	float m = -INFINITY;
	for (int i = threadIdx.x; i < dim; i += blockDim.x)
		m = fmaxf(m, xr[i]);
	m = k_warp_max(m);
	__syncthreads();
	if ((threadIdx.x & 31) == 0)
		red[threadIdx.x >> 5] = m;
	__syncthreads();
	m = (threadIdx.x & 31) < (blockDim.x >> 5) ? red[threadIdx.x & 31] : -INFINITY;
	m = k_warp_max(m);
	float s = 0.0f;
	for (int i = threadIdx.x; i < dim; i += blockDim.x)
		s += expf(xr[i] - m);
	s = k_block_sum(s, red);
	for (int i = threadIdx.x; i < dim; i += blockDim.x)
		o[i] = expf(xr[i] - m) / s;
}

extern "C" cudaError_t orc_k_softmax(float *out, int ldo, const float *x, int ldx, int n_rows, int dim,
				     cudaStream_t stream)
{
	if (n_rows < 0 || dim <= 0 || ldx < dim || ldo < dim)
		return cudaErrorInvalidValue;
	if (n_rows == 0)
		return cudaSuccess;
	k_launch(k_softmax, n_rows, NORM_THREADS, 0, stream, out, ldo, x, ldx, dim);
	return cudaGetLastError();
}
