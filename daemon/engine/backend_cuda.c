/* backend_cuda.c -- the CUDA backend: device start-up (-ENODEV without a
 * usable GPU), the ops table, the sticky error and CUDA check helpers, view
 * checks, and steps: a step's ops are recorded and fused at step_end
 * (backend_cuda_fuse.c); a step seen a second time is captured into a CUDA
 * graph and later replayed in one launch. Buffers and copies are in
 * backend_cuda_mem.c, the ops in backend_cuda_ops.c. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_cuda_impl.h"

/* ---- errors ---- */

bool cu_fail(struct cu_ctx *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	orc_err_set_first_v(&c->err, code, fmt, ap);
	va_end(ap);
	return false;
}

bool cu_ok(struct cu_ctx *c, cudaError_t e, const char *what, const char *file, int line)
{
	if (e == cudaSuccess)
		return true;
	return cu_fail(c, -EIO, "CUDA: %s failed at %s:%d: %s", what, file, line, cudaGetErrorString(e));
}

int cu_try(struct orc_err *err, cudaError_t e, const char *what, const char *file, int line)
{
	if (e == cudaSuccess)
		return 0;
	return orc_err_set(err, -EIO, "CUDA: %s failed at %s:%d: %s", what, file, line, cudaGetErrorString(e));
}

bool cu_launch(struct cu_ctx *c, cudaError_t e, const char *op)
{
	if (e == cudaSuccess)
		return true;
	if (e == cudaErrorInvalidValue)
		return cu_fail(c, -EINVAL, "%s: the CUDA kernel refused these shapes", op);
	return cu_fail(c, -EIO, "CUDA: launching %s failed: %s", op, cudaGetErrorString(e));
}

int cu_take_error(struct cu_ctx *c, bool drain, struct orc_err *err)
{
	int rc;

	if (drain) {
		/* one wait covers the stream's work and the flag's copy */
		if (!CU_OK(c, cudaMemcpyAsync(c->hflag, c->dflag, sizeof(int), cudaMemcpyDeviceToHost, c->stream)))
			*c->hflag = 0;
		CU_OK(c, cudaStreamSynchronize(c->stream));
		if ((*c->hflag & ORC_K_BAD_INDEX) && c->err.code == 0)
			cu_fail(c, -EINVAL, "an index of a step (token id, position, sequence row or cache block) was out of range on the GPU");
		if ((*c->hflag & ORC_K_F16_RANGE) && c->err.code == 0)
			cu_fail(c, -ERANGE, "an activation beyond the F16 range (|x| > 65504) reached a tensor-core "
				"matmul: this model's activations are too large for the CUDA backend's F16, Q8_0 and "
				"Q4_0 products (use the CPU backend)");
		if (*c->hflag != 0) {
			*c->hflag = 0;
			CU_OK(c, cudaMemsetAsync(c->dflag, 0, sizeof(int), c->stream));
		}
	}
	rc = c->err.code;
	if (rc == 0)
		return 0;
	if (err) {
		err->code = rc;
		memcpy(err->msg, c->err.msg, sizeof(err->msg));
	}
	orc_err_clear(&c->err);
	return rc;
}

/* ---- view checks ---- */

static bool weight_type_ok(enum orc_type t)
{
	return orc_k_type_block((int)t) != 0;
}

bool cu_check(struct cu_ctx *c, const char *op, const char *what, const struct orc_tensor *t,
	      enum orc_type type, uint32_t ne0, uint32_t ne1)
{
	if (c->err.code != 0)
		return false;
	if (!t || !t->buf)
		return cu_fail(c, -EINVAL, "%s: %s is missing", op, what);
	if (type == ORC_TYPE_COUNT ? !weight_type_ok(t->type) : t->type != type)
		return cu_fail(c, -EINVAL, "%s: %s has type %s, which the CUDA backend does not support here",
			       op, what, orc_tensor_type_name(t->type));
	if (orc_tensor_check_layout(t, t->buf->size, op, what, ne0, ne1, &c->err) < 0)
		return false;
	if (t->type != ORC_TYPE_F32 && t->type != ORC_TYPE_I32 && (t->offset | t->nb1) % 2 != 0)
		return cu_fail(c, -EINVAL, "%s: %s is not 2-byte aligned", op, what);
	return true;
}

/* ---- step capture ---- */

void cu_graphs_clear(struct cu_ctx *c)
{
	for (int i = 0; i < CU_GRAPHS_MAX; i++) {
		if (c->graphs[i].exec)
			cudaGraphExecDestroy(c->graphs[i].exec);
		c->graphs[i].exec = NULL;
	}
}

static bool key_eq(const struct orc_step_key *a, const struct orc_step_key *b)
{
	return a->n_tok == b->n_tok && a->n_seq == b->n_seq && a->n_out == b->n_out && a->variant == b->variant;
}

/* The slot of `key`, or a slot to record it in (the least recently used). */
static int graph_slot(struct cu_ctx *c, const struct orc_step_key *key, bool *found)
{
	int lru = 0;

	for (int i = 0; i < CU_GRAPHS_MAX; i++) {
		if (c->graphs[i].used && key_eq(&c->graphs[i].key, key)) {
			*found = true;
			return i;
		}
		if (!c->graphs[i].used || (c->graphs[lru].used && c->graphs[i].last_use < c->graphs[lru].last_use))
			lru = i;
	}
	*found = false;
	return lru;
}

/* A step that runs once per generated token of each of its sequences
 * (one token a sequence: the layers, with no output row, or the output
 * rows of those tokens): its key comes back every step while the batch
 * keeps its size, so it is worth capturing at once. */
static bool decode_step(const struct orc_step_key *key)
{
	return key->n_tok == key->n_seq && (key->n_out == 0 || key->n_out == key->n_tok);
}

/* A step's ops are recorded and launched at step_end (cu_flush). A key
 * seen for the first time runs directly, except decode steps; the second
 * time (decode steps the first) it is captured into a graph, which later
 * steps of that key replay. Steps of more than CU_CAPTURE_TOK tokens
 * always run directly. */
static void cu_step_begin(struct orc_backend *be, const struct orc_step_key *key)
{
	struct cu_ctx *c = cu_ctx(be);
	bool found;
	int i;

	c->mode = CU_DIRECT;
	c->cur = -1;
	c->n_recs = 0;
	c->n_keep = 0;
	c->in_step = true;
	if (c->err.code != 0)
		return;
	i = graph_slot(c, key, &found);
	c->graphs[i].last_use = ++c->clock;
	if (found && c->graphs[i].exec) {
		c->mode = CU_REPLAY;
		c->cur = i;
		return;
	}
	if (!found) {                       /* first sight: remember it */
		if (c->graphs[i].exec)
			cudaGraphExecDestroy(c->graphs[i].exec);
		c->graphs[i] = (struct cu_graph){ .key = *key, .last_use = c->clock, .used = true };
		if (!decode_step(key))
			return;
	}
	if (key->n_tok > CU_CAPTURE_TOK)
		return;
	c->mode = CU_CAPTURE;               /* the capture begins at step_end */
	c->cur = i;
}

/* Begin the capture of the recorded step: its scratch sized first (it
 * cannot grow inside a capture). False: run it directly instead. */
static bool capture_begin(struct cu_ctx *c)
{
	c->mode = CU_DIRECT;
	cu_reserve(c);
	if (c->err.code != 0 ||
	    !CU_OK(c, cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeThreadLocal)))
		return false;
	c->mode = CU_CAPTURE;
	return true;
}

static int cu_step_end(struct orc_backend *be, struct orc_err *err)
{
	struct cu_ctx *c = cu_ctx(be);
	enum cu_mode mode = c->mode;
	int i = c->cur;

	c->in_step = false;
	if (mode == CU_CAPTURE && !capture_begin(c))
		mode = CU_DIRECT;
	if (mode != CU_REPLAY)
		cu_flush(c);          /* fuse and launch (into the capture, if one runs) */
	c->mode = CU_DIRECT;
	c->cur = -1;
	if (mode == CU_CAPTURE) {
		cudaGraph_t g = NULL;
		cudaGraphExec_t exec = NULL;
		bool ok = CU_OK(c, cudaStreamEndCapture(c->stream, &g));
		if (ok && c->err.code == 0)
			ok = CU_OK(c, cudaGraphInstantiate(&exec, g, 0));
		if (g)
			cudaGraphDestroy(g);
		if (ok && c->err.code == 0) {
			c->graphs[i].exec = exec;
			mode = CU_REPLAY;
		} else if (exec) {
			cudaGraphExecDestroy(exec);
		}
	}
	if (mode == CU_REPLAY && c->err.code == 0)
		CU_OK(c, cudaGraphLaunch(c->graphs[i].exec, c->stream));
	if (c->err.code != 0)
		return cu_take_error(c, false, err);
	return 0;
}

static int cu_synchronize(struct orc_backend *be, struct orc_err *err)
{
	struct cu_ctx *c = cu_ctx(be);

	return cu_take_error(c, true, err);
}

/* ---- the table ---- */

static void cu_device_name(struct orc_backend *be, char *buf, size_t size)
{
	snprintf(buf, size, "%s", cu_ctx(be)->name);
}

static void cu_free(struct orc_backend *be);

static const struct orc_backend_ops cuda_ops = {
	.name = "cuda",
	.kv_f16 = true,
	.weight_ok = weight_type_ok,
	.free = cu_free,
	.buf_alloc = cu_buf_alloc,
	.buf_free = cu_buf_free,
	.buf_wrap_host = NULL,
	.buf_set = cu_buf_set,
	.buf_get = cu_buf_get,
	.synchronize = cu_synchronize,
	.mem_info = cu_mem_info,
	.device_name = cu_device_name,
	.reserve = cu_op_reserve,
	.step_begin = cu_step_begin,
	.step_end = cu_step_end,
	.step_keep = cu_step_keep,
	.get_rows = cu_op_get_rows,
	.matmul = cu_op_matmul,
	.add = cu_op_add,
	.rms_norm = cu_op_rms_norm,
	.layer_norm = cu_op_layer_norm,
	.rope = cu_op_rope,
	.set_rows = cu_op_set_rows,
	.attention = cu_op_attention,
	.swiglu = cu_op_swiglu,
	.gelu = cu_op_gelu,
	.softmax = cu_op_softmax,
	.argmax = cu_op_argmax,
	.topk = cu_op_topk,
};

static void cu_free(struct orc_backend *be)
{
	struct cu_ctx *c;

	if (!be)
		return;
	c = be->ctx;
	if (c) {
		cudaSetDevice(c->device);
		if (c->stream)
			cudaStreamSynchronize(c->stream);
		cu_graphs_clear(c);
		cu_staging_free(c);
		free(c->recs);
		if (c->attn_ws)
			cudaFree(c->attn_ws);
		if (c->mm_ws)
			cudaFree(c->mm_ws);
		if (c->dflag)
			cudaFree(c->dflag);
		if (c->hflag)
			cudaFreeHost(c->hflag);
		if (c->stream)
			cudaStreamDestroy(c->stream);
		free(c);
	}
	free(be);
}

static int cu_start(struct cu_ctx *c, int device, struct orc_err *err)
{
	struct cudaDeviceProp prop;
	int n = 0, rc;
	cudaError_t e = cudaGetDeviceCount(&n);

	if (e != cudaSuccess || n == 0)
		return orc_err_set(err, -ENODEV, "no usable CUDA GPU (%s)",
				   e != cudaSuccess ? cudaGetErrorString(e) : "none found");
	if (device < 0 || device >= n)
		return orc_err_set(err, -ENODEV, "CUDA device %d does not exist (%d present)", device, n);
	c->device = device;
	if ((rc = CU_TRY(err, cudaSetDevice(device))) != 0 ||
	    (rc = CU_TRY(err, cudaGetDeviceProperties(&prop, device))) != 0)
		return rc;
	if (prop.major < 7)
		return orc_err_set(err, -ENODEV, "CUDA device %d (%s) has compute capability %d.%d; 7.0 or newer is needed",
				   device, prop.name, prop.major, prop.minor);
	snprintf(c->name, sizeof(c->name), "%s", prop.name);
	if ((rc = CU_TRY(err, cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking))) != 0 ||
	    (rc = CU_TRY(err, orc_k_init())) != 0 ||
	    (rc = CU_TRY(err, cudaMalloc((void **)&c->dflag, sizeof(int)))) != 0 ||
	    (rc = CU_TRY(err, cudaMemset(c->dflag, 0, sizeof(int)))) != 0 ||
	    (rc = CU_TRY(err, cudaMallocHost((void **)&c->hflag, sizeof(int)))) != 0)
		return rc;
	*c->hflag = 0;
	return cu_staging_new(c, err);
}

int orc_backend_cuda_new(const struct orc_backend_opts *opts, struct orc_backend **ret, struct orc_err *err)
{
	struct orc_backend *be = calloc(1, sizeof(*be));
	struct cu_ctx *c = calloc(1, sizeof(*c));
	int rc;

	if (!be || !c) {
		free(be);
		free(c);
		return orc_err_set(err, -ENOMEM, "out of memory for the CUDA backend");
	}
	be->ops = &cuda_ops;
	be->ctx = c;
	c->mode = CU_DIRECT;
	c->cur = -1;
	rc = cu_start(c, opts ? opts->device : 0, err);
	if (rc != 0) {
		cu_free(be);
		return rc;
	}
	*ret = be;
	return 0;
}
