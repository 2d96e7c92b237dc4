/* kcommon.cuh -- device helpers shared by the kernels: ggml block layouts
 * (ggml-common.h), per-element and per-32-element dequantization, warp
 * reductions and float conversions. Included by the kernel sources only. */
#ifndef ORC_KCOMMON_CUH
#define ORC_KCOMMON_CUH

#include <atomic>
#include <stdint.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#include "kernels.h"

/* ---- ggml block layouts (byte-exact, packed as ggml writes them) ---- */
#define QK8_0 32
#define QK4_0 32
#define QK_K 256
#define Q8_0_BYTES 34   /* half d; int8 qs[32] */
#define Q4_0_BYTES 18   /* half d; uint8 qs[16]: low nibbles elems 0..15, high 16..31 */
#define Q4_K_BYTES 144  /* half d, dmin; uint8 scales[12]; uint8 qs[128] */
#define Q6_K_BYTES 210  /* uint8 ql[128]; uint8 qh[64]; int8 scales[16]; half d */

__device__ __forceinline__ float k_h2f(uint16_t h)
{
	return __half2float(__ushort_as_half(h));
}

__device__ __forceinline__ float k_bf2f(uint16_t h)
{
	return __uint_as_float((uint32_t)h << 16);
}

__device__ __forceinline__ float k_gelu(float x)
{
	const float c = 0.7978845608028654f; /* sqrt(2/pi): GPT-2's gelu_new (tanh form) */
	return 0.5f * x * (1.0f + tanhf(c * (x + 0.044715f * x * x * x)));
}

__device__ __forceinline__ float k_silu(float x)
{
	return x / (1.0f + expf(-x));
}

/* Unaligned-safe little-endian 16-bit read (quant blocks are 2-byte aligned). */
__device__ __forceinline__ uint16_t k_ld16(const uint8_t *p)
{
	return *(const uint16_t *)p;
}

__device__ __forceinline__ float k_warp_sum(float v)
{
#pragma unroll
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ __forceinline__ float k_warp_max(float v)
{
#pragma unroll
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}

/* Block-wide sum in a fixed order (warp butterflies, then warp 0 over the
 * warp partials): the result does not depend on anything but blockDim.
 * `red` is shared scratch of at least 32 floats. All threads get the sum. */
__device__ __forceinline__ float k_block_sum(float v, float *red)
{
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	int nw = (blockDim.x + 31) >> 5;

	v = k_warp_sum(v);
	__syncthreads();
	if (lane == 0)
		red[warp] = v;
	__syncthreads();
	v = lane < nw ? red[lane] : 0.0f;
	v = k_warp_sum(v);
	return v;
}

/* RMSNorm scale of a row, 1 / sqrt(mean(x^2) + eps), by a block of 128
 * threads in a fixed order; shared by orc_k_rmsnorm and the GEMV prologue
 * so that a fused norm gives the same bits. All threads get it. */
__device__ __forceinline__ float k_rms_scale(const float *x, int dim, float eps, float *red)
{
	float ss = 0.0f;
	for (int i = threadIdx.x; i < dim; i += 128)
		ss = fmaf(x[i], x[i], ss);
	ss = k_block_sum(ss, red);
	return rsqrtf(ss / (float)dim + eps);
}

/* Q4_K 6-bit scale and min of sub-block j (0..7), as ggml's get_scale_min_k4. */
__device__ __forceinline__ void k_q4k_scale_min(int j, const uint8_t *q, int *sc, int *m)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
	}
}

/* Element i of a row of `type` that starts at `row` (bytes). Slow but
 * general: used by gathers and conversions, never in the GEMV hot loop. */
__device__ __forceinline__ float k_dequant_elem(const uint8_t *row, int type, int64_t i)
{
	switch (type) {
	case ORC_KT_F32:
		return ((const float *)row)[i];
	case ORC_KT_F16:
		return k_h2f(((const uint16_t *)row)[i]);
	case ORC_KT_BF16:
		return k_bf2f(((const uint16_t *)row)[i]);
	case ORC_KT_Q8_0: {
		const uint8_t *b = row + (i / QK8_0) * Q8_0_BYTES;
		return k_h2f(k_ld16(b)) * (float)(int8_t)b[2 + i % QK8_0];
	}
	case ORC_KT_Q4_0: {
		const uint8_t *b = row + (i / QK4_0) * Q4_0_BYTES;
		int j = (int)(i % QK4_0);
		int q = j < 16 ? (b[2 + j] & 0xF) : (b[2 + j - 16] >> 4);
		return k_h2f(k_ld16(b)) * (float)(q - 8);
	}
	case ORC_KT_Q4_K: {
		const uint8_t *b = row + (i / QK_K) * Q4_K_BYTES;
		int j = (int)(i % QK_K), sub = j / 32, l = j % 32, sc, m;
		k_q4k_scale_min(sub, b + 4, &sc, &m);
		const uint8_t *qs = b + 16 + 32 * (sub / 2);
		int q = (sub & 1) ? (qs[l] >> 4) : (qs[l] & 0xF);
		return k_h2f(k_ld16(b)) * (float)sc * (float)q - k_h2f(k_ld16(b + 2)) * (float)m;
	}
	case ORC_KT_Q6_K: {
		const uint8_t *b = row + (i / QK_K) * Q6_K_BYTES;
		int j = (int)(i % QK_K), h = j / 128, r = j % 128, seg = r / 32, l = r % 32;
		const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
		const int8_t *sc = (const int8_t *)(b + 192) + 8 * h;
		int lo = (seg & 1) ? ql[l + 32] : ql[l];
		lo = (seg >> 1) ? (lo >> 4) : (lo & 0xF);
		int q = (lo | (((qh[l] >> (2 * seg)) & 3) << 4)) - 32;
		return k_h2f(k_ld16(b + 208)) * (float)sc[l / 16 + 2 * seg] * (float)q;
	}
	default:
		return 0.0f;
	}
}

/* Bytes of one row of n elements of `type` (n a multiple of the block). */
__host__ __device__ __forceinline__ int64_t k_row_bytes(int type, int64_t n)
{
	switch (type) {
	case ORC_KT_F32: return n * 4;
	case ORC_KT_F16:
	case ORC_KT_BF16: return n * 2;
	case ORC_KT_Q8_0: return n / QK8_0 * Q8_0_BYTES;
	case ORC_KT_Q4_0: return n / QK4_0 * Q4_0_BYTES;
	case ORC_KT_Q4_K: return n / QK_K * Q4_K_BYTES;
	case ORC_KT_Q6_K: return n / QK_K * Q6_K_BYTES;
	default: return -1;
	}
}

/* Store a float as the activation type of an output buffer. */
template <int OT> __device__ __forceinline__ void k_store(void *p, int64_t i, float v);
template <> __device__ __forceinline__ void k_store<ORC_KT_F32>(void *p, int64_t i, float v)
{
	((float *)p)[i] = v;
}
template <> __device__ __forceinline__ void k_store<ORC_KT_F16>(void *p, int64_t i, float v)
{
	((__half *)p)[i] = __float2half_rn(v);
}
template <> __device__ __forceinline__ void k_store<ORC_KT_BF16>(void *p, int64_t i, float v)
{
	((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
}

/* Store with the output type chosen at run time (epilogues). */
__device__ __forceinline__ void k_store_rt(void *p, int ot, int64_t i, float v)
{
	if (ot == ORC_KT_F32)
		((float *)p)[i] = v;
	else if (ot == ORC_KT_F16)
		((__half *)p)[i] = __float2half_rn(v);
	else
		((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
}

/* Two consecutive cache elements (F32 or F16) as floats. */
__device__ __forceinline__ float2 k_ld2(const float *p)
{
	return *(const float2 *)p;
}
__device__ __forceinline__ float2 k_ld2(const __half *p)
{
	return __half22float2(*(const __half2 *)p);
}
__device__ __forceinline__ float k_ld1(const float *p)
{
	return *p;
}
__device__ __forceinline__ float k_ld1(const __half *p)
{
	return __half2float(*p);
}

/* ---- programmatic dependent launch (sm_90 and later) ----
 * Every kernel is launched with k_launch(), which lets it start while the
 * kernel before it in the stream still runs. So every kernel calls
 * k_dep_wait() before it touches memory that an earlier kernel writes or
 * reads (activations, caches, scratch, flags): it returns once the earlier
 * kernels have completed and their writes are visible, which orders kernels
 * exactly as plain launches do, and then lets the next kernel be scheduled
 * early (that one waits in turn). Only loads of what no kernel writes
 * (weights) may come before it. On older devices it does nothing and
 * launches serialize as usual. */
__device__ __forceinline__ void k_dep_wait(void)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	asm volatile("griddepcontrol.wait;" ::: "memory");
	asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

/* Launch kern<<<grid, block, smem, stream>>>(args...) allowed to overlap
 * the previous kernel of the stream (see k_dep_wait), in clusters of
 * `cluster` blocks along x when that is above 1 (grid.x a multiple of it;
 * sm_90 and later). Returns the launch's status, which cudaGetLastError()
 * also reports afterwards, as for any runtime call (the launchers return
 * that). */
template <typename... KP, typename... A>
static inline cudaError_t k_launch_cluster(void (*kern)(KP...), dim3 grid, dim3 block, size_t smem,
					   cudaStream_t stream, unsigned cluster, A... args)
{
	cudaLaunchAttribute at[2];
	at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
	at[0].val.programmaticStreamSerializationAllowed = 1;
	at[1].id = cudaLaunchAttributeClusterDimension;
	at[1].val.clusterDim.x = cluster;
	at[1].val.clusterDim.y = 1;
	at[1].val.clusterDim.z = 1;
	cudaLaunchConfig_t cfg = {};
	cfg.gridDim = grid;
	cfg.blockDim = block;
	cfg.dynamicSmemBytes = smem;
	cfg.stream = stream;
	cfg.attrs = at;
	cfg.numAttrs = cluster > 1 ? 2 : 1;
	return cudaLaunchKernelEx(&cfg, kern, static_cast<KP>(args)...);
}

/* The same without clusters. */
template <typename... KP, typename... A>
static inline cudaError_t k_launch(void (*kern)(KP...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
				   A... args)
{
	return k_launch_cluster(kern, grid, block, smem, stream, 1u, args...);
}

/* ---- device queries for launch sizes (host) ---- */

/* What the device answers, asked once by ask() into cached (initially -1;
 * any thread may be first, and all get the same answer). A query that
 * fails answers 0, and its error is cleared, so that the launch after it
 * (on another kernel) does not report it. */
template <typename F>
static inline int k_once(std::atomic<int> &cached, F ask)
{
	int v = cached.load(std::memory_order_relaxed);
	if (v < 0) {
		v = ask();
		if (v == 0)
			(void)cudaGetLastError();
		cached.store(v, std::memory_order_relaxed);
	}
	return v;
}

/* The current device's attribute attr, asked once into cached; 0 if unknown. */
static inline int k_dev_attr(std::atomic<int> &cached, cudaDeviceAttr attr)
{
	return k_once(cached, [attr] {
		int dev = 0, v = 0;
		return cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&v, attr, dev) == cudaSuccess ? v : 0;
	});
}

static inline int k_device_sms(void)
{
	static std::atomic<int> cached{-1};
	return k_dev_attr(cached, cudaDevAttrMultiProcessorCount);
}

/* Launch a kernel templated on the output activation type. */
#define K_DISPATCH_OT(ot, KERNEL, grid, block, smem, stream, ...) \
	do { \
		cudaError_t e_; \
		switch (ot) { \
		case ORC_KT_F32: \
			e_ = k_launch(KERNEL<ORC_KT_F32>, grid, block, smem, stream, __VA_ARGS__); \
			break; \
		case ORC_KT_F16: \
			e_ = k_launch(KERNEL<ORC_KT_F16>, grid, block, smem, stream, __VA_ARGS__); \
			break; \
		case ORC_KT_BF16: \
			e_ = k_launch(KERNEL<ORC_KT_BF16>, grid, block, smem, stream, __VA_ARGS__); \
			break; \
		default: return cudaErrorInvalidValue; \
		} \
		if (e_ != cudaSuccess) \
			return e_; \
	} while (0)

static inline bool k_is_act_type(int t)
{
	return t == ORC_KT_F32 || t == ORC_KT_F16 || t == ORC_KT_BF16;
}

static inline unsigned k_cdiv(int64_t a, int64_t b)
{
	return (unsigned)((a + b - 1) / b);
}

#endif
