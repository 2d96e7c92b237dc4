/* mkmodel.c -- writes GGUF models with seeded random weights at the
 * geometry of real ones (Qwen2.5-0.5B, Phi-3-mini, GPT-2 124M, a
 * Llama-3.2-1B-like llama), with a real vocabulary copied from a vocab GGUF,
 * in the tensor layout llama.cpp's converters write. For benchmarks and GPU
 * checks (tools/hf_reference.py reads the same files). Not installed. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ggufw.h"
#include "gguf.h"
#include "quantize.h"
#include "rng.h"

/* ---- presets ---- */

struct preset {
	const char *name, *arch, *vocab;   /* vocab: file under the vocab directory */
	uint32_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx;
	float rope_theta, norm_eps;
	bool qkv_bias, tied, fused_qkv, fused_gate_up, gpt2;
};

static const struct preset presets[] = {
	{ "qwen2.5-0.5b", "qwen2", "qwen2-vocab.gguf", 24, 896, 14, 2, 4864, 32768,
	  1e6f, 1e-6f, .qkv_bias = true, .tied = true },
	{ "phi3-mini", "phi3", "ggml-vocab-phi-3.gguf", 32, 3072, 32, 32, 8192, 4096,
	  1e4f, 1e-5f, .fused_qkv = true, .fused_gate_up = true },
	{ "gpt2-124m", "gpt2", "ggml-vocab-gpt-2.gguf", 12, 768, 12, 12, 3072, 1024,
	  0.0f, 1e-5f, .tied = true, .fused_qkv = true, .gpt2 = true },
	{ "llama3.2-1b-like", "llama", "ggml-vocab-llama-spm.gguf", 16, 2048, 32, 8, 8192, 4096,
	  5e5f, 1e-5f, .tied = true },
};

/* ---- tensors to write ---- */

enum init { INIT_NORMAL, INIT_ONES };

struct tspec {
	char name[64];
	uint32_t type;
	uint32_t n_dims;
	uint64_t ne[2];
	enum init init;
};

struct model {
	const struct preset *p;
	uint32_t n_layer, n_vocab, n_ctx;
	enum orc_type wtype;
	uint64_t seed;
	float stddev;
	struct tspec *t;
	size_t n_t, cap_t;
	unsigned n_fallback;
};

static int add(struct model *m, enum init init, uint32_t n_dims, uint64_t ne0, uint64_t ne1,
	       const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int add(struct model *m, enum init init, uint32_t n_dims, uint64_t ne0, uint64_t ne1,
	       const char *fmt, ...)
{
	struct tspec *s;
	va_list ap;

	if (m->n_t == m->cap_t) {
		size_t cap = m->cap_t ? m->cap_t * 2 : 64;
		struct tspec *t = realloc(m->t, cap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		m->t = t;
		m->cap_t = cap;
	}
	s = &m->t[m->n_t++];
	memset(s, 0, sizeof(*s));
	va_start(ap, fmt);
	vsnprintf(s->name, sizeof(s->name), fmt, ap);
	va_end(ap);
	s->n_dims = n_dims;
	s->ne[0] = ne0;
	s->ne[1] = n_dims > 1 ? ne1 : 1;
	s->init = init;
	/* Matrices in the chosen type; norms, biases (and GPT-2's positions) F32.
	 * Q4_K and Q6_K need rows of 256: other rows fall back to Q8_0. */
	s->type = ORC_TYPE_F32;
	if (n_dims == 2 && strcmp(s->name, "position_embd.weight") != 0) {
		s->type = m->wtype;
		if (orc_type_row_bytes(m->wtype, ne0) == 0) {
			s->type = ORC_TYPE_Q8_0;
			m->n_fallback++;
		}
	}
	return 0;
}

/* Layer tensors (the name has a %d for the layer) and global ones. */
#define MAT(name, ne0, ne1) r |= add(m, INIT_NORMAL, 2, ne0, ne1, name, l)
#define VEC(name, ne0, init) r |= add(m, init, 1, ne0, 1, name, l)
#define GMAT(name, ne0, ne1) r |= add(m, INIT_NORMAL, 2, ne0, ne1, "%s", name)
#define GVEC(name, ne0, init) r |= add(m, init, 1, ne0, 1, "%s", name)

static int layer_tensors(struct model *m, int l)
{
	const struct preset *p = m->p;
	uint64_t hd = p->n_embd / p->n_head, q = hd * p->n_head, kv = hd * p->n_head_kv;
	uint64_t e = p->n_embd, ff = p->n_ff;
	int r = 0;

	VEC("blk.%d.attn_norm.weight", e, INIT_ONES);
	if (p->gpt2)
		VEC("blk.%d.attn_norm.bias", e, INIT_NORMAL);
	if (p->fused_qkv) {
		MAT("blk.%d.attn_qkv.weight", e, q + 2 * kv);
		if (p->gpt2)
			VEC("blk.%d.attn_qkv.bias", q + 2 * kv, INIT_NORMAL);
	} else {
		MAT("blk.%d.attn_q.weight", e, q);
		MAT("blk.%d.attn_k.weight", e, kv);
		MAT("blk.%d.attn_v.weight", e, kv);
		if (p->qkv_bias) {
			VEC("blk.%d.attn_q.bias", q, INIT_NORMAL);
			VEC("blk.%d.attn_k.bias", kv, INIT_NORMAL);
			VEC("blk.%d.attn_v.bias", kv, INIT_NORMAL);
		}
	}
	MAT("blk.%d.attn_output.weight", q, e);
	if (p->gpt2)
		VEC("blk.%d.attn_output.bias", e, INIT_NORMAL);
	VEC("blk.%d.ffn_norm.weight", e, INIT_ONES);
	if (p->gpt2)
		VEC("blk.%d.ffn_norm.bias", e, INIT_NORMAL);
	if (p->fused_gate_up) {
		MAT("blk.%d.ffn_up.weight", e, 2 * ff);      /* gate then up */
	} else {
		if (!p->gpt2)
			MAT("blk.%d.ffn_gate.weight", e, ff);
		MAT("blk.%d.ffn_up.weight", e, ff);
		if (p->gpt2)
			VEC("blk.%d.ffn_up.bias", ff, INIT_NORMAL);
	}
	MAT("blk.%d.ffn_down.weight", ff, e);
	if (p->gpt2)
		VEC("blk.%d.ffn_down.bias", e, INIT_NORMAL);
	return r ? -ENOMEM : 0;
}

static int build_tensors(struct model *m)
{
	const struct preset *p = m->p;
	int r = 0;

	GMAT("token_embd.weight", p->n_embd, m->n_vocab);
	if (p->gpt2)
		GMAT("position_embd.weight", p->n_embd, m->n_ctx);
	for (int l = 0; l < (int)m->n_layer && r == 0; l++)
		r |= layer_tensors(m, l);
	GVEC("output_norm.weight", p->n_embd, INIT_ONES);
	if (p->gpt2)
		GVEC("output_norm.bias", p->n_embd, INIT_NORMAL);
	if (!p->tied)
		GMAT("output.weight", p->n_embd, m->n_vocab);
	return r ? -ENOMEM : 0;
}

/* ---- tensor data ---- */

/* Each tensor has its own stream: seed mixed with the FNV-1a hash of its
 * name, so --layers does not change the tensors that remain. */
static void tensor_rng(const struct model *m, const char *name, struct orc_rng *r)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);

	for (const char *c = name; *c; c++)
		h = (h ^ (uint8_t)*c) * UINT64_C(0x100000001b3);
	orc_rng_seed(r, m->seed ^ h);
}

/* N(0, stddev) by Box-Muller. */
static void fill_normal(struct orc_rng *r, float *x, uint64_t n, float stddev)
{
	for (uint64_t i = 0; i < n; i += 2) {
		double u1 = 1.0 - orc_rng_uniform(r), u2 = orc_rng_uniform(r);
		double rad = sqrt(-2.0 * log(u1)) * stddev, th = 2.0 * M_PI * u2;
		x[i] = (float)(rad * cos(th));
		if (i + 1 < n)
			x[i + 1] = (float)(rad * sin(th));
	}
}

static int fill(void *user, int idx, void *dst, uint64_t size)
{
	const struct model *m = user;
	const struct tspec *s = &m->t[idx];
	uint64_t row_bytes = orc_type_row_bytes(s->type, s->ne[0]);
	float *row = malloc(s->ne[0] * sizeof(*row));
	struct orc_rng r;
	int rc = 0;

	if (!row)
		return -ENOMEM;
	if (row_bytes * s->ne[1] != size) {
		free(row);
		return -EINVAL;
	}
	tensor_rng(m, s->name, &r);
	for (uint64_t i = 0; i < s->ne[1] && rc == 0; i++) {
		if (s->init == INIT_ONES)
			for (uint64_t k = 0; k < s->ne[0]; k++)
				row[k] = 1.0f;
		else
			fill_normal(&r, row, s->ne[0], m->stddev);
		rc = orc_quantize_row(s->type, row, (uint8_t *)dst + i * row_bytes, s->ne[0]);
	}
	free(row);
	return rc;
}

/* ---- metadata ---- */

static int copy_scalar(struct ggufw *w, enum orc_gguf_vtype t, const struct orc_gguf_kv *kv)
{
	switch (t) {
	case ORC_GGUF_UINT8: ggufw_u8(w, (uint8_t)kv->v.u); break;
	case ORC_GGUF_INT8: ggufw_i8(w, (int8_t)kv->v.i); break;
	case ORC_GGUF_UINT16: ggufw_u16(w, (uint16_t)kv->v.u); break;
	case ORC_GGUF_INT16: ggufw_i16(w, (int16_t)kv->v.i); break;
	case ORC_GGUF_UINT32: ggufw_u32(w, (uint32_t)kv->v.u); break;
	case ORC_GGUF_INT32: ggufw_i32(w, (int32_t)kv->v.i); break;
	case ORC_GGUF_UINT64: ggufw_u64(w, kv->v.u); break;
	case ORC_GGUF_INT64: ggufw_i64(w, kv->v.i); break;
	case ORC_GGUF_FLOAT32: ggufw_f32(w, (float)kv->v.f); break;
	case ORC_GGUF_FLOAT64: ggufw_f64(w, kv->v.f); break;
	case ORC_GGUF_BOOL: ggufw_bool(w, kv->v.b); break;
	case ORC_GGUF_STRING: ggufw_strn(w, kv->v.s.ptr, (size_t)kv->v.s.len); break;
	default: return -ENOTSUP;
	}
	return 0;
}

static int copy_array(struct ggufw *w, const struct orc_gguf_arr *a)
{
	ggufw_arr(w, a->type, a->n);
	for (uint64_t i = 0; i < a->n; i++) {
		switch (a->type) {
		case ORC_GGUF_STRING: {
			struct orc_gguf_str s = orc_gguf_arr_str(a, i);
			ggufw_strn(w, s.ptr, (size_t)s.len);
			break;
		}
		case ORC_GGUF_FLOAT32: ggufw_f32(w, (float)orc_gguf_arr_float(a, i)); break;
		case ORC_GGUF_FLOAT64: ggufw_f64(w, orc_gguf_arr_float(a, i)); break;
		case ORC_GGUF_UINT8: ggufw_u8(w, (uint8_t)orc_gguf_arr_int(a, i)); break;
		case ORC_GGUF_INT8: ggufw_i8(w, (int8_t)orc_gguf_arr_int(a, i)); break;
		case ORC_GGUF_UINT16: ggufw_u16(w, (uint16_t)orc_gguf_arr_int(a, i)); break;
		case ORC_GGUF_INT16: ggufw_i16(w, (int16_t)orc_gguf_arr_int(a, i)); break;
		case ORC_GGUF_UINT32: ggufw_u32(w, (uint32_t)orc_gguf_arr_int(a, i)); break;
		case ORC_GGUF_INT32: ggufw_i32(w, (int32_t)orc_gguf_arr_int(a, i)); break;
		case ORC_GGUF_UINT64: ggufw_u64(w, (uint64_t)orc_gguf_arr_int(a, i)); break;
		case ORC_GGUF_INT64: ggufw_i64(w, orc_gguf_arr_int(a, i)); break;
		case ORC_GGUF_BOOL: ggufw_bool(w, orc_gguf_arr_int(a, i) != 0); break;
		default: return -ENOTSUP;   /* nested arrays: no tokenizer key has them */
		}
	}
	return 0;
}

/* Every tokenizer.* key of the vocab file, as it is. */
static int copy_vocab(struct ggufw *w, const struct orc_gguf *v)
{
	for (uint64_t i = 0; i < orc_gguf_n_kv(v); i++) {
		const struct orc_gguf_kv *kv = orc_gguf_kv_at(v, i);
		int r;

		if (kv->key.len < 10 || memcmp(kv->key.ptr, "tokenizer.", 10) != 0)
			continue;
		ggufw_keyn(w, kv->key.ptr, (size_t)kv->key.len, kv->type);
		r = kv->type == ORC_GGUF_ARRAY ? copy_array(w, &kv->v.arr) : copy_scalar(w, kv->type, kv);
		if (r < 0) {
			fprintf(stderr, "mkmodel: cannot copy key %.*s\n", (int)kv->key.len, kv->key.ptr);
			return r;
		}
	}
	return 0;
}

static void write_hparams(struct ggufw *w, const struct model *m)
{
	const struct preset *p = m->p;
	char key[128], name[128];

#define K(suffix) (snprintf(key, sizeof(key), "%s.%s", p->arch, suffix), key)
	snprintf(name, sizeof(name), "mkmodel %s %s", p->name, orc_type_info(m->wtype)->name);
	ggufw_kv_str(w, "general.architecture", p->arch);
	ggufw_kv_str(w, "general.name", name);
	ggufw_kv_u32(w, K("context_length"), m->n_ctx);
	ggufw_kv_u32(w, K("embedding_length"), p->n_embd);
	ggufw_kv_u32(w, K("block_count"), m->n_layer);
	ggufw_kv_u32(w, K("feed_forward_length"), p->n_ff);
	ggufw_kv_u32(w, K("attention.head_count"), p->n_head);
	if (p->gpt2) {
		ggufw_kv_f32(w, K("attention.layer_norm_epsilon"), p->norm_eps);
	} else {
		ggufw_kv_u32(w, K("attention.head_count_kv"), p->n_head_kv);
		ggufw_kv_f32(w, K("rope.freq_base"), p->rope_theta);
		ggufw_kv_u32(w, K("rope.dimension_count"), p->n_embd / p->n_head);
		ggufw_kv_f32(w, K("attention.layer_norm_rms_epsilon"), p->norm_eps);
	}
#undef K
}

/* ---- main ---- */

static void usage(FILE *out)
{
	fprintf(out, "usage: mkmodel --preset NAME -o OUT.gguf [--type F32|F16|BF16|Q8_0|Q4_0|Q4_K|Q6_K]\n"
		     "               [--layers N] [--ctx N] [--seed N] [--std S] [--vocab-dir DIR]\n"
		     "presets:");
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		fprintf(out, " %s", presets[i].name);
	fprintf(out, "\nThe vocabulary comes from DIR (default $ORC_SHARED/vocab, else ../shared/vocab).\n"
		     "Weights ~ N(0, S) (default 0.02), norms 1; Q4_K and Q6_K rows not a multiple of 256 use Q8_0.\n");
}

static int parse_type(const char *s, enum orc_type *ret)
{
	for (uint32_t t = 0; t < ORC_TYPE_COUNT; t++) {
		const struct orc_type_info *ti = orc_type_info(t);
		if (ti && strcasecmp(ti->name, s) == 0 && orc_quantize_supported((enum orc_type)t)) {
			*ret = (enum orc_type)t;
			return 0;
		}
	}
	return -EINVAL;
}

static int write_model(struct model *m, const char *vocab_path, const char *out)
{
	struct orc_gguf *v = NULL;
	struct orc_err err = { 0 };
	struct orc_gguf_arr tokens;
	struct ggufw *w = NULL;
	int r;

	if ((r = orc_gguf_open(vocab_path, &v, &err)) < 0) {
		fprintf(stderr, "mkmodel: %s: %s\n", vocab_path, orc_err_msg(&err));
		return r;
	}
	if ((r = orc_gguf_get_arr(v, "tokenizer.ggml.tokens", &tokens, &err)) < 0) {
		fprintf(stderr, "mkmodel: %s: no tokenizer.ggml.tokens\n", vocab_path);
		goto out;
	}
	m->n_vocab = (uint32_t)tokens.n;
	if (!(w = ggufw_new()) || (r = build_tensors(m)) < 0) {
		r = -ENOMEM;
		goto out;
	}
	write_hparams(w, m);
	if ((r = copy_vocab(w, v)) < 0)
		goto out;
	for (size_t i = 0; i < m->n_t; i++)
		ggufw_tensor(w, m->t[i].name, m->t[i].type, m->t[i].n_dims, m->t[i].ne, NULL);
	ggufw_set_fill(w, fill, m);
	if ((r = ggufw_write_file(w, out)) < 0)
		fprintf(stderr, "mkmodel: writing %s: %s\n", out, strerror(-r));
	else if (m->n_fallback)
		fprintf(stderr, "mkmodel: %u tensors with rows not a multiple of 256 written as Q8_0\n",
			m->n_fallback);
out:
	ggufw_free(w);
	orc_gguf_free(v);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "preset", required_argument, NULL, 'p' }, { "type", required_argument, NULL, 't' },
		{ "layers", required_argument, NULL, 'l' }, { "ctx", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' }, { "std", required_argument, NULL, 'd' },
		{ "vocab-dir", required_argument, NULL, 'v' }, { "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct model m = { .wtype = ORC_TYPE_F16, .seed = 1, .stddev = 0.02f };
	const char *preset = NULL, *out = NULL, *vdir = NULL, *shared = getenv("ORC_SHARED");
	long layers = 0, ctx = 0;
	char vpath[4096];
	int c, r;

	while ((c = getopt_long(argc, argv, "p:t:l:c:s:d:v:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': preset = optarg; break;
		case 't':
			if (parse_type(optarg, &m.wtype) < 0) {
				fprintf(stderr, "mkmodel: unsupported type '%s'\n", optarg);
				return 2;
			}
			break;
		case 'l': layers = strtol(optarg, NULL, 10); break;
		case 'c': ctx = strtol(optarg, NULL, 10); break;
		case 's': m.seed = strtoull(optarg, NULL, 0); break;
		case 'd': m.stddev = strtof(optarg, NULL); break;
		case 'v': vdir = optarg; break;
		case 'o': out = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	for (size_t i = 0; preset && i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcmp(presets[i].name, preset) == 0)
			m.p = &presets[i];
	if (!m.p || !out || optind != argc || layers < 0 || layers > ORC_MODEL_LAYERS_MAX ||
	    ctx < 0 || ctx > ORC_CTX_MAX || !(m.stddev > 0.0f)) {
		usage(stderr);
		return 2;
	}
	m.n_layer = layers > 0 ? (uint32_t)layers : m.p->n_layer;
	m.n_ctx = ctx > 0 ? (uint32_t)ctx : m.p->n_ctx;
	if (vdir)
		snprintf(vpath, sizeof(vpath), "%s/%s", vdir, m.p->vocab);
	else
		snprintf(vpath, sizeof(vpath), "%s/vocab/%s", shared && *shared ? shared : "../shared",
			 m.p->vocab);
	r = write_model(&m, vpath, out);
	free(m.t);
	return r < 0 ? 1 : 0;
}
