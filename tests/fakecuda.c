/* fakecuda.c -- the CUDA runtime calls of the CUDA backend and orcd's
 * kernel launchers, faked in host memory (see fakecuda.h). Failures are
 * transient: a failed call changes nothing (a failed end of capture still
 * ends it, as CUDA's does) and the next calls succeed. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakecuda.h"
#include "kernels.h"

struct CUstream_st { int capturing; };
struct CUevent_st { int unused; };
struct CUgraph_st { int unused; };
struct CUgraphExec_st { int unused; };

struct alloc {
	void *p;
	size_t size;
	bool pinned;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct alloc *allocs;
static size_t n_allocs, cap_allocs;
static struct fake_cuda_held held;
static uint64_t calls, fail_at;
static const char *failed_what;
static cudaError_t last_error = cudaSuccess;
static const char *launch_log[FAKE_CUDA_LOG];
static size_t n_launches;
static struct { const char *what; uint64_t n; } per_call[64];
static size_t n_per_call;

void fake_cuda_reset(void)
{
	pthread_mutex_lock(&lock);
	calls = fail_at = 0;
	n_launches = 0;
	n_per_call = 0;
	failed_what = NULL;
	last_error = cudaSuccess;
	pthread_mutex_unlock(&lock);
}

void fake_cuda_fail_at(uint64_t n)
{
	pthread_mutex_lock(&lock);
	fail_at = n;
	pthread_mutex_unlock(&lock);
}

uint64_t fake_cuda_calls(void)
{
	pthread_mutex_lock(&lock);
	uint64_t n = calls;
	pthread_mutex_unlock(&lock);
	return n;
}

uint64_t fake_cuda_calls_of(const char *what)
{
	uint64_t n = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_per_call; i++)
		if (strcmp(per_call[i].what, what) == 0)
			n = per_call[i].n;
	pthread_mutex_unlock(&lock);
	return n;
}

bool fake_cuda_failed(const char **what)
{
	pthread_mutex_lock(&lock);
	bool f = failed_what != NULL;
	if (what)
		*what = failed_what;
	pthread_mutex_unlock(&lock);
	return f;
}

void fake_cuda_held(struct fake_cuda_held *ret)
{
	pthread_mutex_lock(&lock);
	*ret = held;
	pthread_mutex_unlock(&lock);
}

size_t fake_cuda_launches(const char **names, size_t max)
{
	pthread_mutex_lock(&lock);
	size_t n = n_launches;
	for (size_t i = 0; i < n && i < max && i < FAKE_CUDA_LOG; i++)
		names[i] = launch_log[i];
	pthread_mutex_unlock(&lock);
	return n;
}

static void log_launch(const char *name)
{
	pthread_mutex_lock(&lock);
	if (n_launches < FAKE_CUDA_LOG)
		launch_log[n_launches] = name + strlen("orc_k_");
	n_launches++;
	pthread_mutex_unlock(&lock);
}

/* Count a call; true when it is the one planned to fail (the error is then
 * also what cudaGetLastError returns next). */
static bool fails(const char *what, cudaError_t e)
{
	bool f;

	pthread_mutex_lock(&lock);
	f = ++calls == fail_at;
	size_t i = 0;
	while (i < n_per_call && per_call[i].what != what)
		i++;
	if (i == n_per_call && n_per_call < sizeof(per_call) / sizeof(per_call[0])) {
		per_call[n_per_call].what = what;
		per_call[n_per_call++].n = 0;
	}
	if (i < n_per_call)
		per_call[i].n++;
	if (f) {
		failed_what = what;
		last_error = e;
	}
	pthread_mutex_unlock(&lock);
	return f;
}

#define FAIL(what, e)                   \
	do {                            \
		if (fails((what), (e))) \
			return (e);     \
	} while (0)

static void *token(int *count)
{
	void *p = calloc(1, 16);

	if (!p) {
		fprintf(stderr, "fakecuda: out of host memory\n");
		abort();
	}
	pthread_mutex_lock(&lock);
	(*count)++;
	pthread_mutex_unlock(&lock);
	return p;
}

static void untoken(void *p, int *count, const char *what)
{
	if (!p)
		return;
	pthread_mutex_lock(&lock);
	if (*count <= 0) {
		fprintf(stderr, "fakecuda: %s of nothing held\n", what);
		abort();
	}
	(*count)--;
	pthread_mutex_unlock(&lock);
	free(p);
}

/* ---- memory ---- */

static cudaError_t fake_alloc(void **p, size_t size, bool pinned, const char *what)
{
	FAIL(what, cudaErrorMemoryAllocation);
	pthread_mutex_lock(&lock);
	if (!pinned && size > FAKE_CUDA_TOTAL - held.dev_bytes) {
		last_error = cudaErrorMemoryAllocation;
		pthread_mutex_unlock(&lock);
		return cudaErrorMemoryAllocation;
	}
	if (n_allocs == cap_allocs) {
		size_t cap = cap_allocs ? 2 * cap_allocs : 64;
		struct alloc *a = realloc(allocs, cap * sizeof(*a));
		if (!a) {
			pthread_mutex_unlock(&lock);
			return cudaErrorMemoryAllocation;
		}
		allocs = a;
		cap_allocs = cap;
	}
	*p = calloc(1, size ? size : 1);
	if (!*p) {
		pthread_mutex_unlock(&lock);
		return cudaErrorMemoryAllocation;
	}
	allocs[n_allocs++] = (struct alloc){ .p = *p, .size = size, .pinned = pinned };
	if (pinned) {
		held.pinned++;
	} else {
		held.dev++;
		held.dev_bytes += size;
	}
	pthread_mutex_unlock(&lock);
	return cudaSuccess;
}

static cudaError_t fake_free(void *p, bool pinned, const char *what)
{
	if (!p)
		return cudaSuccess;
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n_allocs; i++) {
		if (allocs[i].p != p)
			continue;
		if (allocs[i].pinned != pinned) {
			fprintf(stderr, "fakecuda: %s of memory from the other allocator\n", what);
			abort();
		}
		if (pinned) {
			held.pinned--;
		} else {
			held.dev--;
			held.dev_bytes -= allocs[i].size;
		}
		allocs[i] = allocs[--n_allocs];
		pthread_mutex_unlock(&lock);
		free(p);
		return cudaSuccess;
	}
	pthread_mutex_unlock(&lock);
	fprintf(stderr, "fakecuda: %s of %p, which is not held\n", what, p);
	abort();
}

cudaError_t cudaMalloc(void **devPtr, size_t size)
{
	return fake_alloc(devPtr, size, false, "cudaMalloc");
}

cudaError_t cudaFree(void *devPtr)
{
	return fake_free(devPtr, false, "cudaFree");
}

cudaError_t cudaMallocHost(void **ptr, size_t size)
{
	return fake_alloc(ptr, size, true, "cudaMallocHost");
}

cudaError_t cudaFreeHost(void *ptr)
{
	return fake_free(ptr, true, "cudaFreeHost");
}

cudaError_t cudaMemGetInfo(size_t *fr, size_t *total)
{
	FAIL("cudaMemGetInfo", cudaErrorUnknown);
	pthread_mutex_lock(&lock);
	*fr = FAKE_CUDA_TOTAL - held.dev_bytes;
	*total = FAKE_CUDA_TOTAL;
	pthread_mutex_unlock(&lock);
	return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t count, enum cudaMemcpyKind kind,
			    cudaStream_t stream)
{
	FAIL("cudaMemcpyAsync", cudaErrorIllegalAddress);
	memcpy(dst, src, count);
	return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *devPtr, int value, size_t count, cudaStream_t stream)
{
	FAIL("cudaMemsetAsync", cudaErrorIllegalAddress);
	memset(devPtr, value, count);
	return cudaSuccess;
}

cudaError_t cudaMemset(void *devPtr, int value, size_t count)
{
	FAIL("cudaMemset", cudaErrorIllegalAddress);
	memset(devPtr, value, count);
	return cudaSuccess;
}

/* ---- device, errors ---- */

cudaError_t cudaGetDeviceCount(int *count)
{
	FAIL("cudaGetDeviceCount", cudaErrorNoDevice);
	*count = 1;
	return cudaSuccess;
}

cudaError_t cudaSetDevice(int device)
{
	FAIL("cudaSetDevice", cudaErrorInvalidDevice);
	return device == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *prop, int device)
{
	FAIL("cudaGetDeviceProperties", cudaErrorInvalidDevice);
	memset(prop, 0, sizeof(*prop));
	snprintf(prop->name, sizeof(prop->name), "orcd fake GPU");
	prop->major = 9;
	prop->minor = 0;
	prop->multiProcessorCount = 132;
	prop->totalGlobalMem = FAKE_CUDA_TOTAL;
	return cudaSuccess;
}

cudaError_t cudaGetLastError(void)
{
	pthread_mutex_lock(&lock);
	cudaError_t e = last_error;
	last_error = cudaSuccess;
	pthread_mutex_unlock(&lock);
	return e;
}

const char *cudaGetErrorString(cudaError_t error)
{
	switch (error) {
	case cudaSuccess: return "no error";
	case cudaErrorMemoryAllocation: return "out of memory (fake)";
	case cudaErrorIllegalAddress: return "an illegal memory access was encountered (fake)";
	case cudaErrorLaunchFailure: return "unspecified launch failure (fake)";
	case cudaErrorNoDevice: return "no CUDA-capable device is detected (fake)";
	default: return "an error (fake)";
	}
}

/* ---- streams, events, graphs ---- */

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *pStream, unsigned int flags)
{
	FAIL("cudaStreamCreateWithFlags", cudaErrorMemoryAllocation);
	*pStream = token(&held.streams);
	return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream)
{
	untoken(stream, &held.streams, "cudaStreamDestroy");
	return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream)
{
	FAIL("cudaStreamSynchronize", cudaErrorIllegalAddress);
	return stream && stream->capturing ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, enum cudaStreamCaptureMode mode)
{
	FAIL("cudaStreamBeginCapture", cudaErrorIllegalState);
	if (stream->capturing)
		return cudaErrorIllegalState;
	stream->capturing = 1;
	return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *pGraph)
{
	bool was = stream->capturing;

	stream->capturing = 0;
	*pGraph = NULL;
	FAIL("cudaStreamEndCapture", cudaErrorStreamCaptureInvalidated);
	if (!was)
		return cudaErrorIllegalState;
	*pGraph = token(&held.graphs);
	return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *pGraphExec, cudaGraph_t graph, unsigned long long flags)
{
	FAIL("cudaGraphInstantiate", cudaErrorMemoryAllocation);
	*pGraphExec = token(&held.execs);
	return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t graphExec, cudaStream_t stream)
{
	FAIL("cudaGraphLaunch", cudaErrorLaunchFailure);
	return graphExec ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph)
{
	untoken(graph, &held.graphs, "cudaGraphDestroy");
	return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t graphExec)
{
	untoken(graphExec, &held.execs, "cudaGraphExecDestroy");
	return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned int flags)
{
	FAIL("cudaEventCreateWithFlags", cudaErrorMemoryAllocation);
	*event = token(&held.events);
	return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event)
{
	untoken(event, &held.events, "cudaEventDestroy");
	return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream)
{
	FAIL("cudaEventRecord", cudaErrorIllegalAddress);
	return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event)
{
	FAIL("cudaEventSynchronize", cudaErrorIllegalAddress);
	return cudaSuccess;
}

/* ---- the kernel launchers (kernels.h): counted, no work ---- */

#define LAUNCH(name)                                \
	do {                                        \
		FAIL(name, cudaErrorLaunchFailure); \
		log_launch(name);                   \
	} while (0)

int orc_k_type_block(int type)
{
	switch (type) {
	case ORC_KT_F32: case ORC_KT_F16: case ORC_KT_BF16: return 1;
	case ORC_KT_Q8_0: case ORC_KT_Q4_0: return 32;
	case ORC_KT_Q4_K: case ORC_KT_Q6_K: return 256;
	default: return 0;
	}
}

cudaError_t orc_k_init(void)
{
	LAUNCH("orc_k_init");
	return cudaSuccess;
}

static size_t align256(size_t n)
{
	return (n + 255) & ~(size_t)255;
}

size_t orc_k_attn_ws_bytes(int max_tok, int n_head, int head_dim, int max_keys)
{
	size_t slots = (size_t)max_tok * n_head, ch = (size_t)(max_keys + ORC_K_ATTN_CHUNK - 1) / ORC_K_ATTN_CHUNK;
	return align256(slots * 4) + align256(slots * ch * 8) + align256(slots * ch * head_dim * 4);
}

size_t orc_k_mm_ws_bytes(int wtype, int K, int ncols)
{
	bool tc = wtype == ORC_KT_F16 || wtype == ORC_KT_Q8_0 || wtype == ORC_KT_Q4_0;
	return tc && K % 32 == 0 && ncols > 8 && ncols <= ORC_K_MM_WS_COLS ? (size_t)K * ncols * 4 : 0;
}

cudaError_t orc_k_get_rows(float *out, int ldo, const void *table, int type, int64_t row_len,
			   int64_t table_stride, int64_t n_rows, const int32_t *ids, int n_tok,
			   int accumulate, int *flag, cudaStream_t stream)
{
	LAUNCH("orc_k_get_rows");
	return cudaSuccess;
}

cudaError_t orc_k_set_rows(void *dst, int dst_type, int64_t lddst, int64_t n_dst, const float *src,
			   int ldsrc, const int32_t *idx, int n, int row_len, int *flag,
			   cudaStream_t stream)
{
	LAUNCH("orc_k_set_rows");
	return cudaSuccess;
}

cudaError_t orc_k_rmsnorm(void *out, int otype, int ldo, const float *x, int ldx, const float *w,
			  int n_rows, int dim, float eps, cudaStream_t stream)
{
	LAUNCH("orc_k_rmsnorm");
	return cudaSuccess;
}

cudaError_t orc_k_layernorm(void *out, int otype, int ldo, const float *x, int ldx, const float *w,
			    const float *b, int n_rows, int dim, float eps, cudaStream_t stream)
{
	LAUNCH("orc_k_layernorm");
	return cudaSuccess;
}

cudaError_t orc_k_softmax(float *out, int ldo, const float *x, int ldx, int n_rows, int dim,
			  cudaStream_t stream)
{
	LAUNCH("orc_k_softmax");
	return cudaSuccess;
}

cudaError_t orc_k_rope(float *x, int ldx, const int32_t *pos, int n_tok, int n_heads, int head_dim,
		       const struct orc_k_rope *rope, cudaStream_t stream)
{
	LAUNCH("orc_k_rope");
	return cudaSuccess;
}

cudaError_t orc_k_rope_kv(const struct orc_k_rope_kv *a, const struct orc_k_rope *rope, cudaStream_t stream)
{
	LAUNCH("orc_k_rope_kv");
	return cudaSuccess;
}

cudaError_t orc_k_attn_decode(const struct orc_k_attn *a, const struct orc_k_attn_ws *ws,
			      cudaStream_t stream)
{
	LAUNCH("orc_k_attn_decode");
	/* the real launcher refuses scratch too small for the shape */
	if (!ws || !ws->buf || a->n_tok > ws->max_tok || a->max_keys > ws->max_keys)
		return cudaErrorInvalidValue;
	return cudaSuccess;
}

cudaError_t orc_k_attn_prefill(const struct orc_k_attn *a, cudaStream_t stream)
{
	LAUNCH("orc_k_attn_prefill");
	return cudaSuccess;
}

cudaError_t orc_k_gemv_multi(const struct orc_k_gemv *a, int n, cudaStream_t stream)
{
	LAUNCH("orc_k_gemv_multi");
	return n >= 1 && n <= 3 ? cudaSuccess : cudaErrorInvalidValue;
}

cudaError_t orc_k_bias_act(void *out, int otype, int ldo, const float *x, int ldx, const float *bias,
			   int act, int n_rows, int n_cols, cudaStream_t stream)
{
	LAUNCH("orc_k_bias_act");
	return cudaSuccess;
}

cudaError_t orc_k_swiglu(void *out, int otype, int ldo, const float *gate, int ldg, const float *up,
			 int ldu, int n_rows, int n, cudaStream_t stream)
{
	LAUNCH("orc_k_swiglu");
	return cudaSuccess;
}

cudaError_t orc_k_add(float *out, int ldo, const float *a, int lda, const float *b, int ldb, int n_rows,
		      int n_cols, cudaStream_t stream)
{
	LAUNCH("orc_k_add");
	return cudaSuccess;
}

cudaError_t orc_k_argmax(const float *logits, int ld, int n_vocab, int n_rows, int32_t *out,
			 cudaStream_t stream)
{
	LAUNCH("orc_k_argmax");
	return cudaSuccess;
}

cudaError_t orc_k_topk(const float *logits, int ld, int n_vocab, int n_rows, int K, float *out_logit,
		       int32_t *out_id, cudaStream_t stream)
{
	LAUNCH("orc_k_topk");
	return cudaSuccess;
}
