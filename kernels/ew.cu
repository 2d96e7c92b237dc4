/* ew.cu -- elementwise epilogues of the prefill path: bias plus activation
 * (GELU, tanh form as GPT-2's gelu_new), SwiGLU over a [gate | up] row, and
 * residual addition. Outputs F32, F16 or BF16. */
#include "kcommon.cuh"

/* grid (column blocks, rows) */
template <int OT>
__global__ void k_bias_act(void *out, int ldo, const float *x, int ldx, const float *bias, int act, int n_cols)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	int64_t r = blockIdx.y;
	if (c >= n_cols)
		return;
	float v = x[r * ldx + c] + (bias ? bias[c] : 0.0f);
	if (act == ORC_K_ACT_GELU)
		v = k_gelu(v);
	k_store<OT>(out, r * ldo + c, v);
}

template <int OT>
__global__ void k_swiglu(void *out, int ldo, const float *gu, int ldgu, int n)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	int64_t r = blockIdx.y;
	if (c >= n)
		return;
	const float *row = gu + r * ldgu;
	k_store<OT>(out, r * ldo + c, k_silu(row[c]) * row[n + c]);
}

__global__ void k_add(float *y, int ldy, const float *x, int ldx, int n_cols)
{
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	int64_t r = blockIdx.y;
	if (c < n_cols)
		y[r * ldy + c] += x[r * ldx + c];
}

static bool rows_ok(int n_rows)
{
	return n_rows >= 0 && n_rows <= 65535;
}

extern "C" cudaError_t orc_k_bias_act(void *out, int otype, int ldo, const float *x, int ldx, const float *bias,
				      int act, int n_rows, int n_cols, cudaStream_t stream)
{
	if (!rows_ok(n_rows) || n_cols < 0 || ldx < n_cols || ldo < n_cols ||
	    (act != ORC_K_ACT_NONE && act != ORC_K_ACT_GELU))
		return cudaErrorInvalidValue;
	if (n_rows == 0 || n_cols == 0)
		return cudaSuccess;
	dim3 grid(k_cdiv(n_cols, 256), n_rows);
	K_DISPATCH_OT(otype, k_bias_act, grid, 256, 0, stream, out, ldo, x, ldx, bias, act, n_cols);
	return cudaGetLastError();
}

extern "C" cudaError_t orc_k_swiglu(void *out, int otype, int ldo, const float *gu, int ldgu, int n_rows, int n,
				    cudaStream_t stream)
{
	if (!rows_ok(n_rows) || n < 0 || ldgu < 2 * n || ldo < n)
		return cudaErrorInvalidValue;
	if (n_rows == 0 || n == 0)
		return cudaSuccess;
	dim3 grid(k_cdiv(n, 256), n_rows);
	K_DISPATCH_OT(otype, k_swiglu, grid, 256, 0, stream, out, ldo, gu, ldgu, n);
	return cudaGetLastError();
}

extern "C" cudaError_t orc_k_add(float *y, int ldy, const float *x, int ldx, int n_rows, int n_cols,
				 cudaStream_t stream)
{
	if (!rows_ok(n_rows) || n_cols < 0 || ldy < n_cols || ldx < n_cols)
		return cudaErrorInvalidValue;
	if (n_rows == 0 || n_cols == 0)
		return cudaSuccess;
	dim3 grid(k_cdiv(n_cols, 256), n_rows);
	k_add<<<grid, 256, 0, stream>>>(y, ldy, x, ldx, n_cols);
	return cudaGetLastError();
}
