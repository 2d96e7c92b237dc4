/* check_model_desc.c -- unit tests for daemon/engine/model_desc.c: the
 * shared models against the values of ../shared/README.md, vocabulary files
 * (hyper-parameters only), and models crafted with ggufw to check
 * llama.cpp's defaults and that a missing or mis-shaped tensor is reported
 * by name. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf.h"
#include "ggufw.h"
#include "model_desc.h"
#include "testutil.h"

/* ---- crafted models ---- */

struct mk {
	const char *arch;
	uint32_t E, L, H, KV, F, V, CTX;
	bool no_kv_key;        /* leave out head_count_kv */
	bool tied;             /* leave out output.weight */
	bool split_qkv;        /* phi3: separate q/k/v instead of attn_qkv */
	const char *skip;      /* leave this tensor out */
	const char *bad;       /* give this tensor a wrong ne[0] */
	const char *skip_key;  /* leave this ARCH.* key out */
};

static void key_u32(struct ggufw *w, const struct mk *m, const char *suffix, uint32_t v)
{
	char key[128];
	if (m->skip_key && strcmp(m->skip_key, suffix) == 0)
		return;
	snprintf(key, sizeof(key), "%s.%s", m->arch, suffix);
	ggufw_kv_u32(w, key, v);
}

static void tensor(struct ggufw *w, const struct mk *m, const char *name, uint64_t ne0, uint64_t ne1)
{
	if (m->skip && strcmp(m->skip, name) == 0)
		return;
	if (m->bad && strcmp(m->bad, name) == 0)
		ne0 += 1;
	uint64_t ne[2] = { ne0, ne1 };
	ggufw_tensor(w, name, ORC_TYPE_F32, ne1 == 1 ? 1 : 2, ne, NULL);
}

static void layer_tensor(struct ggufw *w, const struct mk *m, uint32_t il, const char *suffix,
			 uint64_t ne0, uint64_t ne1)
{
	char name[64];
	snprintf(name, sizeof(name), "blk.%u.%s", il, suffix);
	tensor(w, m, name, ne0, ne1);
}

/* The layout llama.cpp's converters write for each architecture. */
static void mk_layer(struct ggufw *w, const struct mk *m, uint32_t il)
{
	uint64_t E = m->E, hd = m->E / m->H, Q = hd * m->H, KV = hd * m->KV, F = m->F;
	bool gpt2 = strcmp(m->arch, "gpt2") == 0, phi3 = strcmp(m->arch, "phi3") == 0;

	layer_tensor(w, m, il, "attn_norm.weight", E, 1);
	if (gpt2)
		layer_tensor(w, m, il, "attn_norm.bias", E, 1);
	if (gpt2 || (phi3 && !m->split_qkv)) {
		layer_tensor(w, m, il, "attn_qkv.weight", E, Q + 2 * KV);
		if (gpt2)
			layer_tensor(w, m, il, "attn_qkv.bias", Q + 2 * KV, 1);
	} else {
		layer_tensor(w, m, il, "attn_q.weight", E, Q);
		layer_tensor(w, m, il, "attn_k.weight", E, KV);
		layer_tensor(w, m, il, "attn_v.weight", E, KV);
		if (strcmp(m->arch, "qwen2") == 0) {
			layer_tensor(w, m, il, "attn_q.bias", Q, 1);
			layer_tensor(w, m, il, "attn_k.bias", KV, 1);
			layer_tensor(w, m, il, "attn_v.bias", KV, 1);
		}
	}
	layer_tensor(w, m, il, "attn_output.weight", Q, E);
	if (gpt2)
		layer_tensor(w, m, il, "attn_output.bias", E, 1);
	layer_tensor(w, m, il, "ffn_norm.weight", E, 1);
	if (gpt2)
		layer_tensor(w, m, il, "ffn_norm.bias", E, 1);
	if (!gpt2 && !phi3)
		layer_tensor(w, m, il, "ffn_gate.weight", E, F);
	layer_tensor(w, m, il, "ffn_up.weight", E, phi3 ? 2 * F : F);
	if (gpt2)
		layer_tensor(w, m, il, "ffn_up.bias", F, 1);
	layer_tensor(w, m, il, "ffn_down.weight", F, E);
	if (gpt2)
		layer_tensor(w, m, il, "ffn_down.bias", E, 1);
}

static struct orc_gguf *mk_model(const struct mk *m, uint8_t **ret_buf)
{
	struct ggufw *w = ggufw_new();
	bool gpt2 = strcmp(m->arch, "gpt2") == 0;
	char key[128];
	size_t len;

	ggufw_kv_str(w, "general.architecture", m->arch);
	key_u32(w, m, "context_length", m->CTX);
	key_u32(w, m, "embedding_length", m->E);
	key_u32(w, m, "block_count", m->L);
	key_u32(w, m, "feed_forward_length", m->F);
	key_u32(w, m, "attention.head_count", m->H);
	if (!m->no_kv_key)
		key_u32(w, m, "attention.head_count_kv", m->KV);
	snprintf(key, sizeof(key), "%s.attention.%s", m->arch,
		 gpt2 ? "layer_norm_epsilon" : "layer_norm_rms_epsilon");
	ggufw_kv_f32(w, key, 1e-5f);
	tensor(w, m, "token_embd.weight", m->E, m->V);
	if (gpt2)
		tensor(w, m, "position_embd.weight", m->E, m->CTX);
	tensor(w, m, "output_norm.weight", m->E, 1);
	if (gpt2)
		tensor(w, m, "output_norm.bias", m->E, 1);
	if (!m->tied)
		tensor(w, m, "output.weight", m->E, m->V);
	for (uint32_t il = 0; il < m->L; il++)
		mk_layer(w, m, il);
	ck_assert_int_eq(ggufw_to_mem(w, ret_buf, &len), 0);
	ggufw_free(w);
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };
	ck_assert_msg(orc_gguf_open_mem(*ret_buf, len, &g, &err) == 0, "%s", orc_err_msg(&err));
	return g;
}

/* Build, describe; returns the result code and the message in err. */
static int describe(const struct mk *m, struct orc_err *err)
{
	uint8_t *buf;
	struct orc_gguf *g = mk_model(m, &buf);
	struct orc_model_desc *d = NULL;
	int r = orc_model_desc_new(g, &d, err);
	ck_assert(r == 0 ? d != NULL : d == NULL);
	orc_model_desc_free(d);
	orc_gguf_free(g);
	free(buf);
	return r;
}

static const struct mk llama_base = {
	.arch = "llama", .E = 32, .L = 2, .H = 4, .KV = 2, .F = 48, .V = 10, .CTX = 128,
};

START_TEST(test_defaults)
{
	struct mk m = llama_base;
	m.no_kv_key = true;
	m.KV = 4;
	m.tied = true;
	uint8_t *buf;
	struct orc_gguf *g = mk_model(&m, &buf);
	struct orc_model_desc *d = NULL;
	struct orc_err err = { 0 };
	ck_assert_msg(orc_model_desc_new(g, &d, &err) == 0, "%s", orc_err_msg(&err));
	ck_assert_int_eq(d->hp.arch, ORC_ARCH_LLAMA);
	ck_assert_str_eq(d->arch_name, "llama");
	ck_assert_uint_eq(d->hp.n_head_kv, 4);          /* = n_head when absent */
	ck_assert_uint_eq(d->hp.head_dim, 8);           /* n_embd / n_head */
	ck_assert_uint_eq(d->hp.n_rot, 8);              /* = head_dim */
	ck_assert(d->hp.rope_theta == 10000.0f);
	ck_assert(!d->hp.rope_neox);
	ck_assert(!d->hp.use_layernorm);
	ck_assert(d->hp.norm_eps == 1e-5f);
	ck_assert(d->hp.tied_output);
	ck_assert_ptr_eq(d->output, d->token_embd);
	ck_assert_uint_eq(d->hp.n_vocab, 10);           /* from token_embd: no tokenizer keys */
	ck_assert_uint_eq(d->hp.n_ctx_train, 128);
	ck_assert_ptr_null(d->layers[0].bq);
	ck_assert_ptr_null(d->layers[0].wqkv);
	ck_assert_ptr_nonnull(d->layers[1].ffn_gate);
	ck_assert_str_eq(d->layers[1].ffn_down->name, "blk.1.ffn_down.weight");
	/* every tensor of the file is used: weight bytes are their sum */
	uint64_t sum = 0;
	for (uint64_t i = 0; i < orc_gguf_n_tensors(g); i++)
		sum += orc_gguf_tensor_at(g, i)->size;
	ck_assert_uint_eq(d->weight_bytes, sum);
	/* K and V, F32, 100 tokens: 2 x layers x ctx x kv_heads x head_dim x 4 */
	ck_assert_uint_eq(orc_model_kv_bytes(d, 100, 4), 2ull * 2 * 100 * 4 * 8 * 4);
	orc_model_desc_free(d);
	orc_model_desc_free(NULL);
	orc_gguf_free(g);
	free(buf);
}
END_TEST

START_TEST(test_all_archs)
{
	static const char *const archs[] = { "llama", "qwen2", "phi3", "gpt2" };
	struct orc_err err = { 0 };
	for (int i = 0; i < 4; i++) {
		struct mk m = llama_base;
		m.arch = archs[i];
		if (strcmp(m.arch, "gpt2") == 0)
			m.KV = m.H;
		ck_assert_msg(describe(&m, &err) == 0, "%s: %s", archs[i], orc_err_msg(&err));
	}
	struct mk m = llama_base;
	m.arch = "phi3";
	m.split_qkv = true;
	ck_assert_msg(describe(&m, &err) == 0, "phi3 split: %s", orc_err_msg(&err));
}
END_TEST

static void expect_fail(const struct mk *m, int code, const char *s1, const char *s2)
{
	struct orc_err err = { 0 };
	int r = describe(m, &err);
	ck_assert_msg(r == code, "%s: got %d (%s)", m->arch, r, orc_err_msg(&err));
	ck_assert_msg(strstr(err.msg, s1), "'%s' not in: %s", s1, err.msg);
	if (s2)
		ck_assert_msg(strstr(err.msg, s2), "'%s' not in: %s", s2, err.msg);
}

START_TEST(test_missing_tensor)
{
	struct mk m = llama_base;
	m.skip = "blk.1.ffn_down.weight";
	expect_fail(&m, -EBADMSG, "'blk.1.ffn_down.weight' is missing", "llama");
	m.skip = "token_embd.weight";
	expect_fail(&m, -EBADMSG, "'token_embd.weight'", "missing");
	m.skip = "output_norm.weight";
	expect_fail(&m, -EBADMSG, "'output_norm.weight' is missing", NULL);
	m.arch = "qwen2";
	m.skip = "blk.0.attn_k.bias";
	expect_fail(&m, -EBADMSG, "'blk.0.attn_k.bias' is missing", "qwen2");
	m.arch = "gpt2";
	m.KV = m.H;
	m.skip = "position_embd.weight";
	expect_fail(&m, -EBADMSG, "'position_embd.weight' is missing", NULL);
	m.skip = "blk.1.ffn_up.bias";
	expect_fail(&m, -EBADMSG, "'blk.1.ffn_up.bias' is missing", NULL);
	/* phi3 without attn_qkv needs the separate ones */
	m = llama_base;
	m.arch = "phi3";
	m.split_qkv = true;
	m.skip = "blk.0.attn_v.weight";
	expect_fail(&m, -EBADMSG, "'blk.0.attn_v.weight' is missing", "phi3");
}
END_TEST

START_TEST(test_bad_shape)
{
	struct mk m = llama_base;
	m.bad = "blk.0.attn_k.weight";
	expect_fail(&m, -EBADMSG, "tensor 'blk.0.attn_k.weight'", "[32, 16] (n_embd, n_head_kv*head_dim)");
	m.bad = "output.weight";
	expect_fail(&m, -EBADMSG, "tensor 'output.weight'", "does not match");
	m.bad = "blk.1.attn_norm.weight";
	expect_fail(&m, -EBADMSG, "tensor 'blk.1.attn_norm.weight'", "[32] (n_embd)");
	m.arch = "phi3";
	m.bad = "blk.1.ffn_up.weight";
	expect_fail(&m, -EBADMSG, "'blk.1.ffn_up.weight'", "2*n_ff");
	m.bad = "blk.0.attn_qkv.weight";
	expect_fail(&m, -EBADMSG, "'blk.0.attn_qkv.weight'", "(n_head+2*n_head_kv)*head_dim");
	/* token_embd of the wrong width */
	m = llama_base;
	m.bad = "token_embd.weight";
	expect_fail(&m, -EBADMSG, "'token_embd.weight'", "does not match");
}
END_TEST

START_TEST(test_bad_hparams)
{
	struct mk m = llama_base;
	m.skip_key = "attention.head_count";
	expect_fail(&m, -EBADMSG, "'llama.attention.head_count' is missing", NULL);
	m.skip_key = "block_count";
	expect_fail(&m, -EBADMSG, "'llama.block_count' is missing", NULL);
	m = llama_base;
	m.KV = 3;
	expect_fail(&m, -EBADMSG, "head_count_kv = 3", "does not divide");
	m = llama_base;
	m.arch = "mamba";
	expect_fail(&m, -ENOTSUP, "architecture 'mamba' is not supported", NULL);
	{
		/* only the metadata: a layer count past the cap */
		struct ggufw *w = ggufw_new();
		uint8_t *buf;
		size_t len;
		struct orc_gguf *g = NULL;
		struct orc_hparams hp;
		struct orc_err err = { 0 };
		ggufw_kv_str(w, "general.architecture", "qwen2");
		ggufw_kv_u32(w, "qwen2.context_length", 8);
		ggufw_kv_u32(w, "qwen2.embedding_length", 8);
		ggufw_kv_u32(w, "qwen2.block_count", ORC_MODEL_LAYERS_MAX + 1);
		ggufw_kv_u32(w, "qwen2.feed_forward_length", 8);
		ggufw_kv_u32(w, "qwen2.attention.head_count", 2);
		ggufw_kv_f32(w, "qwen2.attention.layer_norm_rms_epsilon", 1e-6f);
		ck_assert_int_eq(ggufw_to_mem(w, &buf, &len), 0);
		ggufw_free(w);
		ck_assert_int_eq(orc_gguf_open_mem(buf, len, &g, &err), 0);
		ck_assert_int_eq(orc_hparams_read(g, &hp, &err), -E2BIG);
		ck_assert_ptr_nonnull(strstr(err.msg, "qwen2.block_count"));
		orc_gguf_free(g);
		free(buf);
	}
}
END_TEST

/* Per-layer arrays of equal values are accepted; differing ones are not. */
START_TEST(test_per_layer_arrays)
{
	for (int differ = 0; differ < 2; differ++) {
		struct ggufw *w = ggufw_new();
		uint8_t *buf;
		size_t len;
		struct orc_gguf *g = NULL;
		struct orc_hparams hp;
		struct orc_err err = { 0 };
		const int32_t heads[2] = { 4, differ ? 2 : 4 };
		ggufw_kv_str(w, "general.architecture", "llama");
		ggufw_kv_u32(w, "llama.context_length", 8);
		ggufw_kv_u32(w, "llama.embedding_length", 16);
		ggufw_kv_u32(w, "llama.block_count", 2);
		ggufw_kv_u32(w, "llama.feed_forward_length", 8);
		ggufw_kv_arr_i32(w, "llama.attention.head_count", heads, 2);
		ggufw_kv_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-6f);
		ggufw_kv_f32(w, "llama.rope.freq_base", 500000.0f);
		ck_assert_int_eq(ggufw_to_mem(w, &buf, &len), 0);
		ggufw_free(w);
		ck_assert_int_eq(orc_gguf_open_mem(buf, len, &g, &err), 0);
		int r = orc_hparams_read(g, &hp, &err);
		if (differ) {
			ck_assert_int_eq(r, -ENOTSUP);
			ck_assert_ptr_nonnull(strstr(err.msg, "per-layer values differ"));
		} else {
			ck_assert_int_eq(r, 0);
			ck_assert_uint_eq(hp.n_head, 4);
			ck_assert_uint_eq(hp.head_dim, 4);
			ck_assert(hp.rope_theta == 500000.0f);
			ck_assert_uint_eq(hp.n_vocab, 0);
			ck_assert(!hp.tied_output);
		}
		orc_gguf_free(g);
		free(buf);
	}
}
END_TEST

/* ---- shared fixtures: values from ../shared/README.md ---- */

static struct orc_gguf *open_shared(const char *rel)
{
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };
	ck_assert_msg(orc_gguf_open(orc_test_shared(rel), &g, &err) == 0, "%s", orc_err_msg(&err));
	return g;
}

struct want {
	const char *file;
	enum orc_arch arch;
	uint32_t layers, heads, kv_heads, dim, vocab;
	float theta;
	int wtype;          /* type of the big matrices */
	int tied;           /* -1: README does not say */
	bool neox;
};

static const struct want shared_models[] = {
	{ "models/stories260K.gguf", ORC_ARCH_LLAMA, 5, 8, 4, 64, 512, 10000.0f, ORC_TYPE_F32, -1, false },
	{ "models/tiny-qwen2-q8_0.gguf", ORC_ARCH_QWEN2, 2, 4, 2, 64, 151936, 1e6f, ORC_TYPE_Q8_0, 1, true },
	{ "models/tiny-llama-f16.gguf", ORC_ARCH_LLAMA, 2, 4, 1, 64, 32000, 10000.0f, ORC_TYPE_F16, -1, false },
	{ "models/tiny-phi3-bf16.gguf", ORC_ARCH_PHI3, 2, 4, 4, 64, 32064, 10000.0f, ORC_TYPE_BF16, -1, true },
	{ "models/tiny-gpt2-f32.gguf", ORC_ARCH_GPT2, 2, 4, 4, 48, 50257, 0.0f, ORC_TYPE_F32, 1, false },
};

START_TEST(test_shared_models)
{
	const struct want *w = &shared_models[_i];
	struct orc_gguf *g = open_shared(w->file);
	struct orc_model_desc *d = NULL;
	struct orc_err err = { 0 };

	ck_assert_msg(orc_model_desc_new(g, &d, &err) == 0, "%s: %s", w->file, orc_err_msg(&err));
	ck_assert_int_eq(d->hp.arch, w->arch);
	ck_assert_uint_eq(d->hp.n_layer, w->layers);
	ck_assert_uint_eq(d->hp.n_head, w->heads);
	ck_assert_uint_eq(d->hp.n_head_kv, w->kv_heads);
	ck_assert_uint_eq(d->hp.n_embd, w->dim);
	ck_assert_uint_eq(d->hp.n_vocab, w->vocab);
	ck_assert(d->hp.rope_theta == w->theta);
	ck_assert_int_eq(d->hp.rope_neox, w->neox);
	ck_assert_int_eq(d->layers[0].ffn_down->type, w->wtype);
	if (w->tied >= 0) {
		ck_assert_int_eq(d->hp.tied_output, w->tied);
		ck_assert_int_eq(d->output == d->token_embd, w->tied);
	}
	switch (w->arch) {
	case ORC_ARCH_QWEN2:   /* Q/K/V bias; norms and biases F32 */
		for (uint32_t il = 0; il < d->hp.n_layer; il++) {
			ck_assert_ptr_nonnull(d->layers[il].bq);
			ck_assert_ptr_nonnull(d->layers[il].bk);
			ck_assert_ptr_nonnull(d->layers[il].bv);
			ck_assert_int_eq(d->layers[il].bk->type, ORC_TYPE_F32);
			ck_assert_int_eq(d->layers[il].attn_norm->type, ORC_TYPE_F32);
			ck_assert_int_eq(d->layers[il].wq->type, ORC_TYPE_Q8_0);
		}
		break;
	case ORC_ARCH_PHI3:    /* fused attn_qkv and ffn_up (gate then up) */
		ck_assert_ptr_nonnull(d->layers[0].wqkv);
		ck_assert_ptr_null(d->layers[0].wq);
		ck_assert_ptr_null(d->layers[0].ffn_gate);
		ck_assert_uint_eq(d->layers[1].ffn_up->ne[1], 2ull * d->hp.n_ff);
		break;
	case ORC_ARCH_GPT2:    /* learned positions, LayerNorm, biases */
		ck_assert_ptr_nonnull(d->pos_embd);
		ck_assert(d->hp.use_layernorm);
		ck_assert_uint_eq(d->hp.n_rot, 0);
		ck_assert_ptr_nonnull(d->output_norm_b);
		ck_assert_ptr_nonnull(d->layers[1].ffn_down_b);
		ck_assert_ptr_nonnull(d->layers[1].bqkv);
		break;
	default:
		ck_assert_ptr_nonnull(d->layers[0].ffn_gate);
		ck_assert_ptr_nonnull(d->layers[0].wq);
		break;
	}
	/* these files hold exactly the tensors the model uses */
	uint64_t sum = 0;
	for (uint64_t i = 0; i < orc_gguf_n_tensors(g); i++)
		sum += orc_gguf_tensor_at(g, i)->size;
	ck_assert_uint_eq(d->weight_bytes, sum);
	orc_model_desc_free(d);
	orc_gguf_free(g);
}
END_TEST

START_TEST(test_shared_vocab_hparams)
{
	struct orc_err err = { 0 };
	struct orc_hparams hp;
	struct orc_model_desc *d = NULL;

	/* Llama 2 7B geometry, 32000 tokens */
	struct orc_gguf *g = open_shared("vocab/ggml-vocab-llama-spm.gguf");
	ck_assert_int_eq(orc_hparams_read(g, &hp, &err), 0);
	ck_assert_uint_eq(hp.n_layer, 32);
	ck_assert_uint_eq(hp.n_embd, 4096);
	ck_assert_uint_eq(hp.n_vocab, 32000);
	ck_assert_uint_eq(hp.head_dim, 128);
	ck_assert(!hp.tied_output);
	/* no tensors: a model description is refused, naming the first one */
	ck_assert_int_eq(orc_model_desc_new(g, &d, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(err.msg, "'token_embd.weight' is missing"));
	orc_gguf_free(g);

	/* Qwen2.5-0.5B geometry: 24 layers, 14/2 heads, 896 wide, theta 1e6 */
	g = open_shared("vocab/qwen2-vocab.gguf");
	ck_assert_int_eq(orc_hparams_read(g, &hp, &err), 0);
	ck_assert_int_eq(hp.arch, ORC_ARCH_QWEN2);
	ck_assert_uint_eq(hp.n_layer, 24);
	ck_assert_uint_eq(hp.n_head, 14);
	ck_assert_uint_eq(hp.n_head_kv, 2);
	ck_assert_uint_eq(hp.n_embd, 896);
	ck_assert_uint_eq(hp.head_dim, 64);
	ck_assert_uint_eq(hp.n_vocab, 151936);
	ck_assert(hp.rope_theta == 1e6f);
	orc_gguf_free(g);

	static const char *const others[] = { "vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-phi-3.gguf" };
	static const uint32_t vocab[] = { 50257, 32064 };
	for (int i = 0; i < 2; i++) {
		g = open_shared(others[i]);
		ck_assert_msg(orc_hparams_read(g, &hp, &err) == 0, "%s", orc_err_msg(&err));
		ck_assert_uint_eq(hp.n_vocab, vocab[i]);
		orc_gguf_free(g);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("model_desc");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_all_archs);
	tcase_add_test(tc, test_missing_tensor);
	tcase_add_test(tc, test_bad_shape);
	tcase_add_test(tc, test_bad_hparams);
	tcase_add_test(tc, test_per_layer_arrays);
	suite_add_tcase(s, tc);
	if (orc_test_have_shared()) {
		TCase *ts = tcase_create("shared");
		tcase_add_loop_test(ts, test_shared_models, 0,
				    (int)(sizeof(shared_models) / sizeof(shared_models[0])));
		tcase_add_test(ts, test_shared_vocab_hparams);
		suite_add_tcase(s, ts);
	}
	return orc_test_run(s);
}
