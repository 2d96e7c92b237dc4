/* model_desc.c -- turns a validated GGUF of a llama, qwen2, phi3 or gpt2
 * model into one description: hyper-parameters with llama.cpp's defaults,
 * and a table-driven tensor map whose every entry is checked for presence
 * and shape (ggml order: ne[0] is the input dimension). Library code. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_desc.h"

static const char *const arch_names[ORC_ARCH_COUNT] = {
	[ORC_ARCH_LLAMA] = "llama", [ORC_ARCH_QWEN2] = "qwen2",
	[ORC_ARCH_PHI3] = "phi3", [ORC_ARCH_GPT2] = "gpt2",
};

const char *orc_arch_name(enum orc_arch a)
{
	return (unsigned)a < ORC_ARCH_COUNT ? arch_names[a] : "?";
}

/* ---- hyper-parameters ---- */

struct hp_reader {
	const struct orc_gguf *g;
	const char *arch;
	struct orc_err *err;
	char key[128];
};

static const char *arch_key(struct hp_reader *h, const char *suffix)
{
	snprintf(h->key, sizeof(h->key), "%s.%s", h->arch, suffix);
	return h->key;
}

/* A u32, or an array of equal u32s (llama.cpp allows per-layer arrays). */
static int get_u32_or_arr(struct hp_reader *h, const char *suffix, uint32_t *ret, bool required)
{
	const char *key = arch_key(h, suffix);
	const struct orc_gguf_kv *kv = orc_gguf_find(h->g, key);

	if (!kv) {
		if (!required)
			return -ENOENT;
		return orc_err_set(h->err, -EBADMSG, "metadata key '%s' is missing", key);
	}
	if (kv->type != ORC_GGUF_ARRAY)
		return orc_gguf_get_u32(h->g, key, ret, h->err);
	const struct orc_gguf_arr *a = &kv->v.arr;
	if (a->n == 0 || a->type == ORC_GGUF_FLOAT32 || a->type == ORC_GGUF_FLOAT64 ||
	    a->type == ORC_GGUF_STRING || a->type == ORC_GGUF_ARRAY || a->type == ORC_GGUF_BOOL)
		return orc_err_set(h->err, -EBADMSG, "metadata key '%s' at offset %" PRIu64 ": expected an "
				   "integer or a non-empty integer array", key, kv->file_offset);
	int64_t v0 = orc_gguf_arr_int(a, 0);
	for (uint64_t i = 1; i < a->n; i++)
		if (orc_gguf_arr_int(a, i) != v0)
			return orc_err_set(h->err, -ENOTSUP, "metadata key '%s' at offset %" PRIu64 ": "
					   "per-layer values differ (not supported)", key, kv->file_offset);
	if (v0 < 0 || v0 > (int64_t)UINT32_MAX)
		return orc_err_set(h->err, -EBADMSG, "metadata key '%s' at offset %" PRIu64 ": value %"
				   PRId64 " does not fit uint32", key, kv->file_offset, v0);
	*ret = (uint32_t)v0;
	return 0;
}

static int get_f32(struct hp_reader *h, const char *suffix, float *ret, bool required)
{
	const char *key = arch_key(h, suffix);
	int r = orc_gguf_get_f32(h->g, key, ret, h->err);
	if (r == -ENOENT && required)
		return orc_err_set(h->err, -EBADMSG, "metadata key '%s' is missing", key);
	if (r == 0 && !(isfinite(*ret) && *ret > 0))
		return orc_err_set(h->err, -EBADMSG, "metadata key '%s': value %g is not a positive number",
				   key, (double)*ret);
	return r;
}

static int read_arch(const struct orc_gguf *g, enum orc_arch *ret, struct orc_err *err)
{
	struct orc_gguf_str s;
	int r = orc_gguf_get_str(g, "general.architecture", &s, err);

	if (r == -ENOENT)
		return orc_err_set(err, -EBADMSG, "metadata key 'general.architecture' is missing");
	if (r < 0)
		return r;
	for (int a = 0; a < ORC_ARCH_COUNT; a++) {
		if (orc_gguf_str_eq(s, arch_names[a])) {
			*ret = (enum orc_arch)a;
			return 0;
		}
	}
	return orc_err_set(err, -ENOTSUP, "architecture '%.*s' is not supported (supported: llama, "
			   "qwen2, phi3, gpt2)", s.len > 64 ? 64 : (int)s.len, s.ptr);
}

static int read_vocab(struct hp_reader *h, struct orc_hparams *hp)
{
	const struct orc_gguf_kv *kv = orc_gguf_find(h->g, "tokenizer.ggml.tokens");
	const struct orc_gguf_tensor *emb = orc_gguf_find_tensor(h->g, "token_embd.weight");
	uint32_t v = 0;
	int r;

	if (kv) {
		if (kv->type != ORC_GGUF_ARRAY || kv->v.arr.type != ORC_GGUF_STRING)
			return orc_err_set(h->err, -EBADMSG, "metadata key 'tokenizer.ggml.tokens' at offset %"
					   PRIu64 ": expected an array of strings", kv->file_offset);
		if (kv->v.arr.n > ORC_MODEL_VOCAB_MAX)
			return orc_err_set(h->err, -E2BIG, "vocabulary of %" PRIu64 " tokens exceeds the "
					   "limit %u", kv->v.arr.n, ORC_MODEL_VOCAB_MAX);
		hp->n_vocab = (uint32_t)kv->v.arr.n;
		return 0;
	}
	r = get_u32_or_arr(h, "vocab_size", &v, false);
	if (r == -ENOENT && emb)
		v = emb->ne[1] > UINT32_MAX ? UINT32_MAX : (uint32_t)emb->ne[1];
	else if (r == -ENOENT)
		v = 0;
	else if (r < 0)
		return r;
	if (v > ORC_MODEL_VOCAB_MAX)
		return orc_err_set(h->err, -E2BIG, "vocabulary of %" PRIu32 " tokens exceeds the limit %u",
				   v, ORC_MODEL_VOCAB_MAX);
	hp->n_vocab = v;
	return 0;
}

/* value in 1..max, else an error naming the key */
static int check_range(struct hp_reader *h, const char *what, uint32_t v, uint32_t max)
{
	if (v == 0)
		return orc_err_set(h->err, -EBADMSG, "%s.%s is 0", h->arch, what);
	if (v > max)
		return orc_err_set(h->err, -E2BIG, "%s.%s = %" PRIu32 " exceeds the limit %" PRIu32,
				   h->arch, what, v, max);
	return 0;
}

static int read_sizes(struct hp_reader *h, struct orc_hparams *hp)
{
	int r;

	if ((r = get_u32_or_arr(h, "context_length", &hp->n_ctx_train, true)) < 0 ||
	    (r = get_u32_or_arr(h, "embedding_length", &hp->n_embd, true)) < 0 ||
	    (r = get_u32_or_arr(h, "block_count", &hp->n_layer, true)) < 0 ||
	    (r = get_u32_or_arr(h, "feed_forward_length", &hp->n_ff, true)) < 0 ||
	    (r = get_u32_or_arr(h, "attention.head_count", &hp->n_head, true)) < 0)
		return r;
	if ((r = check_range(h, "context_length", hp->n_ctx_train, UINT32_MAX)) < 0 ||
	    (r = check_range(h, "embedding_length", hp->n_embd, ORC_MODEL_EMBD_MAX)) < 0 ||
	    (r = check_range(h, "block_count", hp->n_layer, ORC_MODEL_LAYERS_MAX)) < 0 ||
	    (r = check_range(h, "feed_forward_length", hp->n_ff, ORC_MODEL_FF_MAX)) < 0 ||
	    (r = check_range(h, "attention.head_count", hp->n_head, ORC_MODEL_HEADS_MAX)) < 0)
		return r;
	hp->n_head_kv = hp->n_head;
	r = get_u32_or_arr(h, "attention.head_count_kv", &hp->n_head_kv, false);
	if (r < 0 && r != -ENOENT)
		return r;
	if (hp->n_head_kv == 0 || hp->n_head % hp->n_head_kv != 0)
		return orc_err_set(h->err, -EBADMSG, "%s.attention.head_count_kv = %" PRIu32 " does not "
				   "divide head_count %" PRIu32, h->arch, hp->n_head_kv, hp->n_head);
	return 0;
}

/* head_dim (key_length, else n_embd / n_head) and the RoPE settings. */
static int read_heads(struct hp_reader *h, struct orc_hparams *hp)
{
	uint32_t vlen = 0;
	int r;

	if (hp->n_embd % hp->n_head != 0 && !orc_gguf_find(h->g, arch_key(h, "attention.key_length")))
		return orc_err_set(h->err, -EBADMSG, "%s.embedding_length %" PRIu32 " is not a multiple "
				   "of head_count %" PRIu32, h->arch, hp->n_embd, hp->n_head);
	hp->head_dim = hp->n_embd / hp->n_head;
	r = get_u32_or_arr(h, "attention.key_length", &hp->head_dim, false);
	if ((r < 0 && r != -ENOENT) || (r = check_range(h, "attention.key_length", hp->head_dim,
							   ORC_MODEL_EMBD_MAX)) < 0)
		return r;
	r = get_u32_or_arr(h, "attention.value_length", &vlen, false);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0 && vlen != hp->head_dim)
		return orc_err_set(h->err, -ENOTSUP, "%s.attention.value_length %" PRIu32 " differs from "
				   "the key length %" PRIu32 " (not supported)", h->arch, vlen, hp->head_dim);
	if (hp->arch == ORC_ARCH_GPT2) {
		hp->n_rot = 0;
		hp->rope_theta = 0;
		return 0;
	}
	hp->n_rot = hp->head_dim;
	r = get_u32_or_arr(h, "rope.dimension_count", &hp->n_rot, false);
	if (r < 0 && r != -ENOENT)
		return r;
	if (hp->n_rot == 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
		return orc_err_set(h->err, -EBADMSG, "%s.rope.dimension_count = %" PRIu32 " (must be even "
				   "and in 2..head_dim %" PRIu32 ")", h->arch, hp->n_rot, hp->head_dim);
	hp->rope_theta = 10000.0f;
	r = get_f32(h, "rope.freq_base", &hp->rope_theta, false);
	return r == -ENOENT ? 0 : r;
}

int orc_hparams_read(const struct orc_gguf *g, struct orc_hparams *ret, struct orc_err *err)
{
	struct orc_hparams hp = { 0 };
	struct hp_reader h = { .g = g, .err = err };
	int r;

	if ((r = read_arch(g, &hp.arch, err)) < 0)
		return r;
	h.arch = arch_names[hp.arch];
	hp.rope_neox = hp.arch == ORC_ARCH_QWEN2 || hp.arch == ORC_ARCH_PHI3;
	hp.use_layernorm = hp.arch == ORC_ARCH_GPT2;
	if ((r = read_sizes(&h, &hp)) < 0 || (r = read_heads(&h, &hp)) < 0 ||
	    (r = read_vocab(&h, &hp)) < 0)
		return r;
	r = get_f32(&h, hp.use_layernorm ? "attention.layer_norm_epsilon" :
		    "attention.layer_norm_rms_epsilon", &hp.norm_eps, true);
	if (r < 0)
		return r;
	hp.tied_output = orc_gguf_n_tensors(g) > 0 && !orc_gguf_find_tensor(g, "output.weight");
	*ret = hp;
	return 0;
}

/* ---- the tensor map ---- */

/* Symbolic dimensions of expected shapes. */
enum dim { D_1, D_E, D_V, D_Q, D_KV, D_QKV, D_F, D_F2, D_CTX, D_COUNT };

static const char *const dim_names[D_COUNT] = {
	"1", "n_embd", "n_vocab", "n_head*head_dim", "n_head_kv*head_dim",
	"(n_head+2*n_head_kv)*head_dim", "n_ff", "2*n_ff", "n_ctx_train",
};

#define REQ      0x0
#define OPT      0x1   /* may be absent */
#define FUSED    0x2   /* attn_qkv: optional; when absent, the SPLIT ones are needed */
#define SPLIT    0x4   /* attn_q/k/v of an architecture that may fuse them */

struct tspec {
	size_t off;            /* in struct orc_layer_desc, or struct orc_model_desc */
	const char *name;      /* after "blk.N." for layer tensors */
	enum dim d0, d1;
	int flags;
};

#define L(f) offsetof(struct orc_layer_desc, f)
#define M(f) offsetof(struct orc_model_desc, f)

static const struct tspec llama_layer[] = {
	{ L(attn_norm), "attn_norm.weight", D_E, D_1, REQ },
	{ L(wq), "attn_q.weight", D_E, D_Q, REQ },
	{ L(wk), "attn_k.weight", D_E, D_KV, REQ },
	{ L(wv), "attn_v.weight", D_E, D_KV, REQ },
	{ L(bq), "attn_q.bias", D_Q, D_1, OPT },
	{ L(bk), "attn_k.bias", D_KV, D_1, OPT },
	{ L(bv), "attn_v.bias", D_KV, D_1, OPT },
	{ L(wo), "attn_output.weight", D_Q, D_E, REQ },
	{ L(bo), "attn_output.bias", D_E, D_1, OPT },
	{ L(ffn_norm), "ffn_norm.weight", D_E, D_1, REQ },
	{ L(ffn_gate), "ffn_gate.weight", D_E, D_F, REQ },
	{ L(ffn_up), "ffn_up.weight", D_E, D_F, REQ },
	{ L(ffn_down), "ffn_down.weight", D_F, D_E, REQ },
	{ 0, NULL, D_1, D_1, 0 },
};

static const struct tspec qwen2_layer[] = {
	{ L(attn_norm), "attn_norm.weight", D_E, D_1, REQ },
	{ L(wq), "attn_q.weight", D_E, D_Q, REQ },
	{ L(wk), "attn_k.weight", D_E, D_KV, REQ },
	{ L(wv), "attn_v.weight", D_E, D_KV, REQ },
	{ L(bq), "attn_q.bias", D_Q, D_1, REQ },
	{ L(bk), "attn_k.bias", D_KV, D_1, REQ },
	{ L(bv), "attn_v.bias", D_KV, D_1, REQ },
	{ L(wo), "attn_output.weight", D_Q, D_E, REQ },
	{ L(ffn_norm), "ffn_norm.weight", D_E, D_1, REQ },
	{ L(ffn_gate), "ffn_gate.weight", D_E, D_F, REQ },
	{ L(ffn_up), "ffn_up.weight", D_E, D_F, REQ },
	{ L(ffn_down), "ffn_down.weight", D_F, D_E, REQ },
	{ 0, NULL, D_1, D_1, 0 },
};

static const struct tspec phi3_layer[] = {
	{ L(attn_norm), "attn_norm.weight", D_E, D_1, REQ },
	{ L(wqkv), "attn_qkv.weight", D_E, D_QKV, FUSED },
	{ L(wq), "attn_q.weight", D_E, D_Q, SPLIT },
	{ L(wk), "attn_k.weight", D_E, D_KV, SPLIT },
	{ L(wv), "attn_v.weight", D_E, D_KV, SPLIT },
	{ L(wo), "attn_output.weight", D_Q, D_E, REQ },
	{ L(ffn_norm), "ffn_norm.weight", D_E, D_1, REQ },
	{ L(ffn_up), "ffn_up.weight", D_E, D_F2, REQ },     /* gate then up */
	{ L(ffn_down), "ffn_down.weight", D_F, D_E, REQ },
	{ 0, NULL, D_1, D_1, 0 },
};

static const struct tspec gpt2_layer[] = {
	{ L(attn_norm), "attn_norm.weight", D_E, D_1, REQ },
	{ L(attn_norm_b), "attn_norm.bias", D_E, D_1, REQ },
	{ L(wqkv), "attn_qkv.weight", D_E, D_QKV, REQ },
	{ L(bqkv), "attn_qkv.bias", D_QKV, D_1, REQ },
	{ L(wo), "attn_output.weight", D_Q, D_E, REQ },
	{ L(bo), "attn_output.bias", D_E, D_1, REQ },
	{ L(ffn_norm), "ffn_norm.weight", D_E, D_1, REQ },
	{ L(ffn_norm_b), "ffn_norm.bias", D_E, D_1, REQ },
	{ L(ffn_up), "ffn_up.weight", D_E, D_F, REQ },
	{ L(ffn_up_b), "ffn_up.bias", D_F, D_1, REQ },
	{ L(ffn_down), "ffn_down.weight", D_F, D_E, REQ },
	{ L(ffn_down_b), "ffn_down.bias", D_E, D_1, REQ },
	{ 0, NULL, D_1, D_1, 0 },
};

/* Model-level tensors; position_embd and output_norm.bias for gpt2 only. */
static const struct tspec rms_global[] = {
	{ M(token_embd), "token_embd.weight", D_E, D_V, REQ },
	{ M(output_norm), "output_norm.weight", D_E, D_1, REQ },
	{ M(output), "output.weight", D_E, D_V, OPT },
	{ 0, NULL, D_1, D_1, 0 },
};

static const struct tspec gpt2_global[] = {
	{ M(token_embd), "token_embd.weight", D_E, D_V, REQ },
	{ M(pos_embd), "position_embd.weight", D_E, D_CTX, REQ },
	{ M(output_norm), "output_norm.weight", D_E, D_1, REQ },
	{ M(output_norm_b), "output_norm.bias", D_E, D_1, REQ },
	{ M(output), "output.weight", D_E, D_V, OPT },
	{ 0, NULL, D_1, D_1, 0 },
};

static const struct tspec *const layer_specs[ORC_ARCH_COUNT] = {
	[ORC_ARCH_LLAMA] = llama_layer, [ORC_ARCH_QWEN2] = qwen2_layer,
	[ORC_ARCH_PHI3] = phi3_layer, [ORC_ARCH_GPT2] = gpt2_layer,
};

static uint64_t dim_value(const struct orc_hparams *hp, enum dim d)
{
	uint64_t q = (uint64_t)hp->n_head * hp->head_dim, kv = (uint64_t)hp->n_head_kv * hp->head_dim;
	switch (d) {
	case D_E: return hp->n_embd;
	case D_V: return hp->n_vocab;
	case D_Q: return q;
	case D_KV: return kv;
	case D_QKV: return q + 2 * kv;
	case D_F: return hp->n_ff;
	case D_F2: return 2ull * hp->n_ff;
	case D_CTX: return hp->n_ctx_train;
	default: return 1;
	}
}

/* Look up `name` and check its shape; *ret is NULL when absent (and allowed). */
static int map_one(const struct orc_gguf *g, const struct orc_hparams *hp, const char *name,
		   const struct tspec *s, bool required, const struct orc_gguf_tensor **ret,
		   struct orc_err *err)
{
	const struct orc_gguf_tensor *t = orc_gguf_find_tensor(g, name);
	uint64_t w0 = dim_value(hp, s->d0), w1 = dim_value(hp, s->d1);

	*ret = NULL;
	if (!t) {
		if (!required)
			return 0;
		return orc_err_set(err, -EBADMSG, "tensor '%s' is missing (required by %s)", name,
				   arch_names[hp->arch]);
	}
	if (t->ne[0] != w0 || t->ne[1] != w1 || t->ne[2] != 1 || t->ne[3] != 1) {
		char want[96];
		if (s->d1 == D_1)
			snprintf(want, sizeof(want), "[%" PRIu64 "] (%s)", w0, dim_names[s->d0]);
		else
			snprintf(want, sizeof(want), "[%" PRIu64 ", %" PRIu64 "] (%s, %s)", w0, w1,
				 dim_names[s->d0], dim_names[s->d1]);
		return orc_err_set(err, -EBADMSG, "tensor '%s' at offset %" PRIu64 ": shape [%" PRIu64 ", %"
				   PRIu64 ", %" PRIu64 ", %" PRIu64 "] does not match the expected %s", name,
				   t->info_offset, t->ne[0], t->ne[1], t->ne[2], t->ne[3], want);
	}
	*ret = t;
	return 0;
}

/* Fill the struct at `base` from specs; names get `prefix` ("blk.N." or ""). */
static int map_specs(const struct orc_gguf *g, const struct orc_hparams *hp, const struct tspec *specs,
		     const char *prefix, void *base, uint64_t *bytes, struct orc_err *err)
{
	bool fused = false;
	char name[ORC_GGUF_NAME_MAX + 32];

	for (const struct tspec *s = specs; s->name; s++) {
		const struct orc_gguf_tensor **slot = (const struct orc_gguf_tensor **)((char *)base + s->off);
		bool required = !(s->flags & (OPT | FUSED)) && !((s->flags & SPLIT) && fused);
		if ((s->flags & SPLIT) && fused)
			continue;
		snprintf(name, sizeof(name), "%s%s", prefix, s->name);
		int r = map_one(g, hp, name, s, required, slot, err);
		if (r < 0)
			return r;
		if (*slot) {
			*bytes += (*slot)->size;
			if (s->flags & FUSED)
				fused = true;
		}
	}
	return 0;
}

int orc_model_desc_new(const struct orc_gguf *g, struct orc_model_desc **ret, struct orc_err *err)
{
	struct orc_model_desc *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return orc_err_set(err, -ENOMEM, "out of memory");
	if ((r = orc_hparams_read(g, &d->hp, err)) < 0)
		goto fail;
	d->arch_name = arch_names[d->hp.arch];
	d->layers = calloc(d->hp.n_layer, sizeof(*d->layers));   /* n_layer <= ORC_MODEL_LAYERS_MAX */
	if (!d->layers) {
		r = orc_err_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if (d->hp.n_vocab == 0) {
		r = orc_err_set(err, -EBADMSG, "tensor 'token_embd.weight' is missing (required by %s)",
				d->arch_name);
		goto fail;
	}
	const struct tspec *global = d->hp.arch == ORC_ARCH_GPT2 ? gpt2_global : rms_global;
	if ((r = map_specs(g, &d->hp, global, "", d, &d->weight_bytes, err)) < 0)
		goto fail;
	for (uint32_t il = 0; il < d->hp.n_layer; il++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "blk.%" PRIu32 ".", il);
		r = map_specs(g, &d->hp, layer_specs[d->hp.arch], prefix, &d->layers[il],
			      &d->weight_bytes, err);
		if (r < 0)
			goto fail;
	}
	d->hp.tied_output = d->output == NULL;
	if (!d->output)
		d->output = d->token_embd;
	*ret = d;
	return 0;
fail:
	orc_model_desc_free(d);
	return r;
}

void orc_model_desc_free(struct orc_model_desc *d)
{
	if (!d)
		return;
	free(d->layers);
	free(d);
}

uint64_t orc_model_kv_bytes(const struct orc_model_desc *d, uint32_t n_ctx, uint32_t elem_bytes)
{
	const struct orc_hparams *hp = &d->hp;
	/* K and V: [n_layer, n_ctx, n_head_kv * head_dim] each */
	return 2ull * hp->n_layer * n_ctx * hp->n_head_kv * hp->head_dim * elem_bytes;
}
