/* ew.cu -- elementwise ops: bias plus activation (GELU in GPT-2's tanh
 * form), SwiGLU of separate gate and up views, and addition (the
 * residual). Outputs F32, F16 or BF16 where the op allows. */
#include "kcommon.cuh"

/* grid (column blocks, rows) */
template <int OT>
__global__ void k_bias_act(void *out, int ldo, const float *x, int ldx, const float *bias, int act, int n_cols)
{
	k_dep_wait();
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
__global__ void k_swiglu(void *out, int ldo, const float *gate, int ldg, const float *up, int ldu, int n)
{
	k_dep_wait();
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	int64_t r = blockIdx.y;
	if (c >= n)
		return;
	float g = gate[r * ldg + c], u = up[r * ldu + c];
	k_store<OT>(out, r * ldo + c, k_silu(g) * u);
}

__global__ void k_add(float *out, int ldo, const float *a, int lda, const float *b, int ldb, int n_cols)
{
	k_dep_wait();
	int c = blockIdx.x * blockDim.x + threadIdx.x;
	int64_t r = blockIdx.y;
	if (c < n_cols)
		out[r * ldo + c] = a[r * lda + c] + b[r * ldb + c];
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

extern "C" cudaError_t orc_k_swiglu(void *out, int otype, int ldo, const float *gate, int ldg, const float *up,
				    int ldu, int n_rows, int n, cudaStream_t stream)
{
	if (!rows_ok(n_rows) || n < 0 || ldg < n || ldu < n || ldo < n)
		return cudaErrorInvalidValue;
	if (n_rows == 0 || n == 0)
		return cudaSuccess;
	dim3 grid(k_cdiv(n, 256), n_rows);
	K_DISPATCH_OT(otype, k_swiglu, grid, 256, 0, stream, out, ldo, gate, ldg, up, ldu, n);
	return cudaGetLastError();
}

extern "C" cudaError_t orc_k_add(float *out, int ldo, const float *a, int lda, const float *b, int ldb, int n_rows,
				 int n_cols, cudaStream_t stream)
{
	if (!rows_ok(n_rows) || n_cols < 0 || ldo < n_cols || lda < n_cols || ldb < n_cols)
		return cudaErrorInvalidValue;
	if (n_rows == 0 || n_cols == 0)
		return cudaSuccess;
	dim3 grid(k_cdiv(n_cols, 256), n_rows);
	k_launch(k_add, grid, 256, 0, stream, out, ldo, a, lda, b, ldb, n_cols);
	return cudaGetLastError();
}
