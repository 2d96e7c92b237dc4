/* cmd_inspect.c -- `orcctl inspect FILE`: describe a GGUF file offline (no
 * daemon): architecture, hyper-parameters, tokenizer, tensor counts by type,
 * weight bytes and an estimate of the memory needed at a given context.
 * Text by default, JSON with --json. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "jsonw.h"
#include "limits.h"
#include "log.h"
#include "model_desc.h"
#include "orcctl.h"

#define INSPECT_CTX_DEFAULT 4096
#define SCRATCH_BATCH       512   /* tokens per prompt batch in the scratch estimate */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl inspect [--ctx N] [--json] FILE.gguf\n"
		"\n"
		"Describe a GGUF file without a daemon: architecture, hyper-parameters,\n"
		"tokenizer kind (tokenizer.ggml.model) and size (tokenizer.ggml.tokens),\n"
		"tensor counts by type, total weight bytes (all tensor data in the file),\n"
		"and an estimate of the memory needed to run it at a context of N tokens.\n"
		"Files without tensors (vocabulary files) are described too.\n"
		"\n"
		"The memory estimate counts, for one sequence:\n"
		"  weights   every tensor's data, as stored in the file\n"
		"  KV cache  F32 keys and values: 2 x layers x N x kv_heads x head_dim x 4 bytes\n"
		"  scratch   F32 working buffers for a batch of min(N, %d) tokens: per token\n"
		"            3 x n_embd + (heads + 2 x kv_heads) x head_dim + 3 x n_ff\n"
		"            activations and heads x N attention scores, plus n_vocab logits\n"
		"It is an estimate: backends add their own overhead.\n"
		"\n"
		"Options:\n"
		"  -c, --ctx N   context for the memory estimate (default %d, at most %u)\n"
		"  -j, --json    machine-readable output (keys: file, architecture, supported,\n"
		"                hparams, tokenizer, tensors, memory)\n"
		"  -h, --help    this help\n"
		"\n"
		"Exit status: 0 when the file was described, 1 when it is not a valid\n"
		"GGUF file or not a valid model of its architecture (the loader's message\n"
		"goes to stderr), 2 for a bad command line.\n",
		SCRATCH_BATCH, INSPECT_CTX_DEFAULT, ORC_CTX_MAX);
}

/* ---- what we print, gathered first ---- */

struct tok_info {
	bool present;
	struct orc_gguf_str model, pre;
	uint64_t n_tokens, n_merges;
};

struct inspect {
	const char *path;
	const struct orc_gguf *g;
	struct orc_gguf_str arch, name;
	bool supported;                 /* one of the four architectures */
	struct orc_hparams hp;
	const struct orc_model_desc *desc;   /* NULL without tensors or when unsupported */
	struct tok_info tok;
	uint64_t by_type[ORC_TYPE_COUNT];
	uint64_t weight_bytes;          /* all tensor data */
	uint32_t n_ctx;
	uint64_t mem_kv, mem_scratch;
};

static uint64_t arr_n(const struct orc_gguf *g, const char *key)
{
	const struct orc_gguf_kv *kv = orc_gguf_find(g, key);
	return kv && kv->type == ORC_GGUF_ARRAY ? kv->v.arr.n : 0;
}

static void gather_tok(struct inspect *in)
{
	struct orc_gguf_str empty = { "", 0 };
	in->tok.model = in->tok.pre = empty;
	in->tok.present = orc_gguf_get_str(in->g, "tokenizer.ggml.model", &in->tok.model, NULL) == 0;
	orc_gguf_get_str(in->g, "tokenizer.ggml.pre", &in->tok.pre, NULL);
	in->tok.n_tokens = arr_n(in->g, "tokenizer.ggml.tokens");
	in->tok.n_merges = arr_n(in->g, "tokenizer.ggml.merges");
}

static uint64_t scratch_estimate(const struct orc_hparams *hp, uint32_t n_ctx)
{
	uint64_t batch = n_ctx < SCRATCH_BATCH ? n_ctx : SCRATCH_BATCH;
	uint64_t qkv = ((uint64_t)hp->n_head + 2ull * hp->n_head_kv) * hp->head_dim;
	uint64_t per_tok = 3ull * hp->n_embd + qkv + 3ull * hp->n_ff + (uint64_t)hp->n_head * n_ctx;
	return 4 * (batch * per_tok + hp->n_vocab);
}

/* Fills `in`; returns 0, or an exit code after printing the message. */
static int gather(struct inspect *in, struct orc_model_desc **ret_desc)
{
	struct orc_err err = { 0 };
	int r;

	for (uint64_t i = 0; i < orc_gguf_n_tensors(in->g); i++) {
		const struct orc_gguf_tensor *t = orc_gguf_tensor_at(in->g, i);
		in->by_type[t->type]++;
		in->weight_bytes += t->size;
	}
	gather_tok(in);
	orc_gguf_get_str(in->g, "general.architecture", &in->arch, NULL);
	orc_gguf_get_str(in->g, "general.name", &in->name, NULL);
	if (!in->arch.ptr)
		return 0;   /* no architecture string: describe the file only */
	r = orc_hparams_read(in->g, &in->hp, &err);
	if (r == -ENOTSUP && strstr(err.msg, "is not supported"))
		return 0;   /* another architecture: describe the file, not the model */
	if (r < 0) {
		log_warnx("inspect: %s: %s", in->path, orc_err_msg(&err));
		return ORCCTL_EXIT_FAILURE;
	}
	in->supported = true;
	if (orc_gguf_n_tensors(in->g) > 0) {
		if ((r = orc_model_desc_new(in->g, ret_desc, &err)) < 0) {
			log_warnx("inspect: %s: %s", in->path, orc_err_msg(&err));
			return ORCCTL_EXIT_FAILURE;
		}
		in->desc = *ret_desc;
		in->mem_kv = orc_model_kv_bytes(in->desc, in->n_ctx, 4);
		in->mem_scratch = scratch_estimate(&in->hp, in->n_ctx);
	}
	return 0;
}

/* ---- text output ---- */

static const char *human(uint64_t n, char buf[32])
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, 32, "%" PRIu64 " B", n);
	else
		snprintf(buf, 32, "%.1f %s", v, unit[u]);
	return buf;
}

static void print_hparams(const struct inspect *in)
{
	const struct orc_hparams *hp = &in->hp;
	printf("hyper-parameters:\n");
	printf("  layers           %" PRIu32 "\n", hp->n_layer);
	printf("  embedding        %" PRIu32 "\n", hp->n_embd);
	printf("  heads            %" PRIu32 " (kv heads %" PRIu32 ", head dim %" PRIu32 ")\n",
	       hp->n_head, hp->n_head_kv, hp->head_dim);
	printf("  feed-forward     %" PRIu32 "\n", hp->n_ff);
	printf("  context (train)  %" PRIu32 "\n", hp->n_ctx_train);
	printf("  vocabulary       %" PRIu32 "\n", hp->n_vocab);
	if (hp->arch == ORC_ARCH_GPT2)
		printf("  positions        learned (no RoPE)\n");
	else
		printf("  rope             %s, theta %.9g, %" PRIu32 " dims\n",
		       hp->rope_neox ? "neox" : "normal", (double)hp->rope_theta, hp->n_rot);
	printf("  norm             %s, eps %g\n", hp->use_layernorm ? "layernorm" : "rmsnorm",
	       (double)hp->norm_eps);
	if (in->desc)
		printf("  output           %s\n", hp->tied_output ? "tied to token_embd.weight" :
		       "output.weight");
}

static void print_text(const struct inspect *in)
{
	char b1[32], b2[32], b3[32], b4[32];

	printf("file:            %s (%s, GGUF v%" PRIu32 ", %" PRIu64 " metadata keys)\n", in->path,
	       human(orc_gguf_file_size(in->g), b1), orc_gguf_version(in->g), orc_gguf_n_kv(in->g));
	if (in->arch.ptr)
		printf("architecture:    %.*s%s\n", (int)in->arch.len, in->arch.ptr,
		       in->supported ? "" : " (not supported by orcd)");
	else
		printf("architecture:    none (no general.architecture)\n");
	if (in->name.ptr)
		printf("name:            %.*s\n", (int)in->name.len, in->name.ptr);
	if (in->supported)
		print_hparams(in);
	if (in->tok.present)
		printf("tokenizer:       %.*s%s%.*s, %" PRIu64 " tokens, %" PRIu64 " merges\n",
		       (int)in->tok.model.len, in->tok.model.ptr, in->tok.pre.len ? ", pre " : "",
		       (int)in->tok.pre.len, in->tok.pre.ptr, in->tok.n_tokens, in->tok.n_merges);
	else
		printf("tokenizer:       none\n");
	if (orc_gguf_n_tensors(in->g) == 0) {
		printf("tensors:         no tensors (vocabulary-only file)\n");
		return;
	}
	printf("tensors:         %" PRIu64 " (", orc_gguf_n_tensors(in->g));
	const char *sep = "";
	for (uint32_t t = 0; t < ORC_TYPE_COUNT; t++) {
		if (in->by_type[t]) {
			printf("%s%s: %" PRIu64, sep, orc_type_name(t), in->by_type[t]);
			sep = ", ";
		}
	}
	printf(")\n");
	printf("weights:         %s (%" PRIu64 " bytes)\n", human(in->weight_bytes, b1), in->weight_bytes);
	if (in->desc)
		printf("memory at %" PRIu32 " tokens: %s = weights %s + KV cache (F32) %s + scratch %s"
		       " (estimate)\n", in->n_ctx,
		       human(in->weight_bytes + in->mem_kv + in->mem_scratch, b1),
		       human(in->weight_bytes, b2), human(in->mem_kv, b3), human(in->mem_scratch, b4));
}

/* ---- JSON output ---- */

static void json_str(struct jsonw *w, const char *key, struct orc_gguf_str s)
{
	jsonw_key(w, key);
	if (s.ptr)
		jsonw_strn(w, s.ptr, (size_t)s.len);
	else
		jsonw_null(w);
}

static void json_hparams(struct jsonw *w, const struct inspect *in)
{
	const struct orc_hparams *hp = &in->hp;
	jsonw_key(w, "hparams");
	if (!in->supported) {
		jsonw_null(w);
		return;
	}
	jsonw_obj_begin(w);
	jsonw_key(w, "n_vocab"); jsonw_uint(w, hp->n_vocab);
	jsonw_key(w, "n_ctx_train"); jsonw_uint(w, hp->n_ctx_train);
	jsonw_key(w, "n_embd"); jsonw_uint(w, hp->n_embd);
	jsonw_key(w, "n_layer"); jsonw_uint(w, hp->n_layer);
	jsonw_key(w, "n_head"); jsonw_uint(w, hp->n_head);
	jsonw_key(w, "n_head_kv"); jsonw_uint(w, hp->n_head_kv);
	jsonw_key(w, "head_dim"); jsonw_uint(w, hp->head_dim);
	jsonw_key(w, "n_ff"); jsonw_uint(w, hp->n_ff);
	jsonw_key(w, "n_rot"); jsonw_uint(w, hp->n_rot);
	jsonw_key(w, "rope_neox"); jsonw_bool(w, hp->rope_neox);
	jsonw_key(w, "rope_theta"); jsonw_double(w, hp->rope_theta);
	jsonw_key(w, "norm"); jsonw_str(w, hp->use_layernorm ? "layernorm" : "rmsnorm");
	jsonw_key(w, "norm_eps"); jsonw_double(w, hp->norm_eps);
	jsonw_key(w, "tied_output");
	if (in->desc)
		jsonw_bool(w, hp->tied_output);
	else
		jsonw_null(w);
	jsonw_obj_end(w);
}

static void json_tokenizer(struct jsonw *w, const struct inspect *in)
{
	jsonw_key(w, "tokenizer");
	if (!in->tok.present) {
		jsonw_null(w);
		return;
	}
	jsonw_obj_begin(w);
	json_str(w, "model", in->tok.model);
	json_str(w, "pre", in->tok.pre.len ? in->tok.pre : (struct orc_gguf_str){ NULL, 0 });
	jsonw_key(w, "n_tokens"); jsonw_uint(w, in->tok.n_tokens);
	jsonw_key(w, "n_merges"); jsonw_uint(w, in->tok.n_merges);
	jsonw_obj_end(w);
}

static void json_tensors(struct jsonw *w, const struct inspect *in)
{
	jsonw_key(w, "tensors");
	jsonw_obj_begin(w);
	jsonw_key(w, "count"); jsonw_uint(w, orc_gguf_n_tensors(in->g));
	jsonw_key(w, "by_type");
	jsonw_obj_begin(w);
	for (uint32_t t = 0; t < ORC_TYPE_COUNT; t++) {
		if (in->by_type[t]) {
			jsonw_key(w, orc_type_name(t));
			jsonw_uint(w, in->by_type[t]);
		}
	}
	jsonw_obj_end(w);
	jsonw_key(w, "weight_bytes"); jsonw_uint(w, in->weight_bytes);
	jsonw_obj_end(w);
}

static void print_json(const struct inspect *in)
{
	struct jsonw w;
	jsonw_init(&w, stdout, true);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "file"); jsonw_str(&w, in->path);
	jsonw_key(&w, "file_size"); jsonw_uint(&w, orc_gguf_file_size(in->g));
	jsonw_key(&w, "version"); jsonw_uint(&w, orc_gguf_version(in->g));
	jsonw_key(&w, "alignment"); jsonw_uint(&w, orc_gguf_alignment(in->g));
	jsonw_key(&w, "n_kv"); jsonw_uint(&w, orc_gguf_n_kv(in->g));
	json_str(&w, "architecture", in->arch);
	jsonw_key(&w, "supported"); jsonw_bool(&w, in->supported);
	json_str(&w, "name", in->name);
	json_hparams(&w, in);
	json_tokenizer(&w, in);
	json_tensors(&w, in);
	jsonw_key(&w, "memory");
	if (in->desc) {
		jsonw_obj_begin(&w);
		jsonw_key(&w, "n_ctx"); jsonw_uint(&w, in->n_ctx);
		jsonw_key(&w, "weights"); jsonw_uint(&w, in->weight_bytes);
		jsonw_key(&w, "kv_cache"); jsonw_uint(&w, in->mem_kv);
		jsonw_key(&w, "scratch"); jsonw_uint(&w, in->mem_scratch);
		jsonw_key(&w, "total"); jsonw_uint(&w, in->weight_bytes + in->mem_kv + in->mem_scratch);
		jsonw_obj_end(&w);
	} else {
		jsonw_null(&w);
	}
	jsonw_obj_end(&w);
	jsonw_finish(&w);
}

/* ---- entry point ---- */

static int parse_ctx(const char *s, uint32_t *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > ORC_CTX_MAX)
		return -1;
	*ret = (uint32_t)v;
	return 0;
}

int cmd_inspect(int argc, char **argv, const struct orcctl_global *glob)
{
	static const struct option opts[] = {
		{ "ctx", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct inspect in = { .n_ctx = INSPECT_CTX_DEFAULT };
	struct orc_model_desc *desc = NULL;
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };
	bool json = glob->json;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_ctx(optarg, &in.n_ctx) < 0) {
				log_warnx("inspect: --ctx wants a number of tokens from 1 to %u, not '%s'",
					  ORC_CTX_MAX, optarg);
				return ORCCTL_EXIT_USAGE;
			}
			break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return ORCCTL_EXIT_OK;
		default: usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	in.path = argv[optind];
	if (orc_gguf_open(in.path, &g, &err) < 0) {
		log_warnx("inspect: %s", orc_err_msg(&err));
		return ORCCTL_EXIT_FAILURE;
	}
	in.g = g;
	rc = gather(&in, &desc);
	if (rc == 0) {
		if (json)
			print_json(&in);
		else
			print_text(&in);
		if (fflush(stdout) != 0 || ferror(stdout)) {
			log_warn("inspect: writing the output");
			rc = ORCCTL_EXIT_FAILURE;
		}
	}
	orc_model_desc_free(desc);
	orc_gguf_free(g);
	return rc;
}
