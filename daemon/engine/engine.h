/* engine.h -- the inference engine's public face for orcd, orcctl's local
 * mode, the tests and the benchmarks: load a model onto a backend, open
 * sequences (each with its own KV cache and position), and evaluate batches
 * in which every sequence appends its own tokens (a prompt chunk or one
 * decode token) at its own position, reusing the cached KV blocks of a
 * common prompt prefix. Library code: never prints or exits.
 * One thread at a time may call orc_model_eval() on a model. */
#ifndef ORC_ENGINE_H
#define ORC_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "model_desc.h"
#include "sampler.h"
#include "tokenizer.h"

struct orc_model;
struct orc_seq;

enum orc_backend_kind { ORC_BACKEND_AUTO, ORC_BACKEND_CPU, ORC_BACKEND_CUDA };

/* Called during loading with bytes done and bytes total. */
typedef void (*orc_progress_fn)(void *user, uint64_t done, uint64_t total);

struct orc_model_opts {
	enum orc_backend_kind backend; /* AUTO: CUDA when a GPU is usable, else CPU */
	int n_threads;                 /* CPU threads; 0 = the cores available */
	uint32_t n_ctx;                /* tokens per sequence; 0 = min(n_ctx_train, 4096) */
	uint32_t n_seq_max;            /* sequences open at once; 0 = 1 */
	orc_progress_fn progress;      /* optional */
	void *progress_user;
	uint32_t n_batch;              /* most tokens per forward pass (larger evals are split
	                                * into passes, with the same results); 0 = 512 */
	bool kv_f16;                   /* keep the KV cache in F16: half the memory, values
	                                * rounded to F16 (backends that can: CUDA) */
	bool copy_file;                /* read() the file into memory instead of mapping it
	                                * (orcd: a file truncated later cannot raise SIGBUS;
	                                * see ORC_GGUF_COPY). Other backends than the CPU keep
	                                * only the metadata of the copy after the upload. */
};

int orc_model_load(const char *path, const struct orc_model_opts *opts,
		   struct orc_model **ret, struct orc_err *err);
void orc_model_free(struct orc_model *m);   /* NULL is a no-op; frees every sequence too */

const struct orc_model_desc *orc_model_get_desc(const struct orc_model *m);
const struct orc_tok *orc_model_get_tok(const struct orc_model *m);
const struct orc_gguf *orc_model_get_gguf(const struct orc_model *m);
const char *orc_model_backend_name(const struct orc_model *m);  /* "cpu", "cuda" */
/* Why AUTO did not pick CUDA ("" when it did, or when not AUTO): log it once. */
const char *orc_model_backend_note(const struct orc_model *m);
/* CPU threads in use (0 on other backends). */
int orc_model_n_threads(const struct orc_model *m);
uint32_t orc_model_n_ctx(const struct orc_model *m);
uint32_t orc_model_n_vocab(const struct orc_model *m);

struct orc_model_mem {
	uint64_t weights, kv_cache, scratch;   /* bytes on the backend's memory */
};
void orc_model_get_mem(const struct orc_model *m, struct orc_model_mem *ret);

/* ---- the device ----
 * What a backend runs on: the GPU, or the host's CPU and RAM. The memory is
 * the one that models are placed in (VRAM, or RAM), as the backend reports
 * it (backend.h, mem_info; for RAM, /proc/meminfo's MemTotal and
 * MemAvailable). */
struct orc_device_info {
	const char *backend;       /* "cpu", "cuda" (static) */
	char name[128];            /* the GPU's name, or the CPU's model name; "" unknown */
	bool gpu;                  /* the memory is a GPU's */
	uint64_t mem_total;        /* bytes; 0: unknown */
	uint64_t mem_free;         /* bytes free now (RAM: MemAvailable); 0 when unknown */
};

/* Describe the device that a model loaded with `kind` would run on (AUTO:
 * CUDA when it starts, else the CPU). Starts the backend briefly, so with
 * CUDA this initialises it in the calling process (never fork after). CUDA
 * without a usable GPU: -ENODEV with the reason. */
int orc_device_query(enum orc_backend_kind kind, struct orc_device_info *ret, struct orc_err *err);
/* Is this backend built in (CPU always; CUDA when configure found the
 * toolkit)? Whether a GPU is usable is orc_device_query's question. */
bool orc_backend_built(enum orc_backend_kind kind);
/* The device of a loaded model, with its memory as of now. Any thread may
 * call it, also while another evaluates. */
void orc_model_get_device_info(const struct orc_model *m, struct orc_device_info *ret);

/* A sequence: -EBUSY when n_seq_max are already open. */
int orc_seq_new(struct orc_model *m, struct orc_seq **ret, struct orc_err *err);
void orc_seq_free(struct orc_seq *s);        /* NULL is a no-op */
uint32_t orc_seq_pos(const struct orc_seq *s);  /* tokens already in its cache */
void orc_seq_clear(struct orc_seq *s);          /* back to position 0; its full blocks stay cached */

/* ---- prefix reuse ----
 * Every full block of 16 tokens that a sequence evaluates is registered in
 * the model's prefix index under its token ids and everything before them.
 * A fresh sequence can then start from the longest chain of registered
 * blocks that matches its prompt instead of evaluating those tokens again.
 * By the reproducibility contract below, the K/V rows of a prefix are a
 * function of its ids, so reuse never changes any logits. Shared blocks are
 * full and never written again: a sequence appends only to its own last
 * block. Blocks of freed sequences stay in the index as cache until the
 * pool needs them (least recently released first); a block that a sequence
 * holds is never reclaimed. */

/* Attach the cached blocks of the longest registered prefix of ids[0..n)
 * to s, which must be at position 0 (-EINVAL otherwise, or when ids is NULL
 * with n > 0), and move its position past them. At most
 * floor((n - 1) / 16) * 16 tokens are reused, so at least the last token is
 * left to evaluate (and to give logits). *ret_reused: the tokens reused,
 * a multiple of 16, possibly 0. */
int orc_seq_reuse_prefix(struct orc_seq *s, const int32_t *ids, uint32_t n, uint32_t *ret_reused,
			 struct orc_err *err);

struct orc_cache_stats {
	uint64_t lookups;          /* orc_seq_reuse_prefix calls */
	uint64_t hits;             /* ... that reused at least one block */
	uint64_t reused_tokens;    /* prompt tokens served from the cache */
	uint64_t evictions;        /* cached blocks reclaimed for new tokens */
	uint32_t blocks_total;     /* blocks of the KV cache */
	uint32_t blocks_in_use;    /* held by open sequences (a shared block once) */
	uint32_t blocks_cached;    /* registered in the prefix index, in use or not */
	uint32_t blocks_evictable; /* registered and held by no sequence */
	uint64_t block_bytes;      /* backend memory of one block (K and V, every layer) */
};
void orc_model_get_cache_stats(const struct orc_model *m, struct orc_cache_stats *ret);
/* Forget every block that no sequence holds (they become free). */
void orc_model_drop_prefix_cache(struct orc_model *m);
/* Testing only: keep just the `mask` bits of the prefix hashes (0: every
 * block collides), so tests can show that a lookup compares the token ids.
 * Call it right after loading. */
void orc_model_set_prefix_hash_mask(struct orc_model *m, uint64_t mask);

/* One sequence's share of a batch. */
struct orc_eval_item {
	struct orc_seq *seq;
	const int32_t *ids;      /* n tokens appended at orc_seq_pos(seq) */
	uint32_t n;
	bool logits_all;         /* logits for every one of the n positions, not just the last */
	float *logits;           /* out, caller-owned: n_vocab floats, or n x n_vocab when logits_all;
	                          * NULL: no logits (a prompt chunk before the last) */
	int32_t *argmax;         /* out, or NULL: the greedy id of the last position, picked where
	                          * the logits are (the GPU), as orc_sampler_argmax() would: the
	                          * largest logit, the lowest id on a tie; -1 when a logit there
	                          * is NaN or +inf or all are -inf. With logits NULL, no logits
	                          * cross to the host at all. */
	struct orc_topk *top;    /* out, or NULL: the best candidates of the last position,
	                          * picked where the logits are; only where
	                          * orc_model_has_topk(), else the item is -EINVAL */
};

/* Whether the backend picks top-k candidates where the logits are
 * (orc_eval_item.top): a sampler with orc_sampler_top_ok() parameters then
 * needs no logits on the host. */
bool orc_model_has_topk(const struct orc_model *m);

/* Evaluate all items in one batched pass (split internally into passes of
 * at most n_batch tokens). On success every sequence's position advances by
 * its n. Errors, checked before anything runs, leave every position and
 * cache unchanged: an empty batch, an item without tokens, a sequence twice
 * or of another model, or a token id out of range are -EINVAL (naming the
 * item, index and id); a context overflow is -E2BIG (naming position, count
 * and n_ctx); a full KV cache -ENOSPC. A backend failure during the pass
 * is returned as is, also with no position changed.
 *
 * Reproducibility contract. On one machine and backend (CPU: one kernel
 * set, AVX2 or portable), the logits after token i of a sequence are a
 * function of the model file and the sequence's ids 0..i only. They are
 * bit-identical whether those tokens were evaluated in one call, in chunks
 * of any size or one by one; whatever n_batch is; whatever other sequences
 * (at whatever positions, prefilling or decoding) share the batch, and in
 * which order; whatever KV blocks the sequence was given; and whatever the
 * number of CPU threads. (Each output element is computed by a fixed
 * sequence of float operations that depends only on its own inputs; see
 * backend.h.) Different backends or kernel sets agree only to rounding. */
int orc_model_eval(struct orc_model *m, struct orc_eval_item *items, size_t n_items,
		   struct orc_err *err);

#endif
