/* fuzz_gguf.c -- libFuzzer harness for the GGUF parser: every input goes
 * through orc_gguf_open_mem(); on success every accessor is exercised, the
 * model description is built, and the first row of each tensor whose type
 * dequantizes is dequantized. Build and run: `make fuzz-gguf`. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model_desc.h"
#include "quant.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t sink;

/* Fold a value into the sink by its bits (a cast of NaN would be UB). */
static void sink_f(double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof(u));
	sink += u;
}

static void walk_arr(const struct orc_gguf_arr *a)
{
	for (uint64_t i = 0; i < a->n && i < 256; i++) {
		if (a->type == ORC_GGUF_STRING) {
			struct orc_gguf_str s = orc_gguf_arr_str(a, i);
			sink += s.len ? (uint8_t)s.ptr[s.len - 1] : 0;
		} else if (a->type == ORC_GGUF_ARRAY) {
			struct orc_gguf_arr sub = orc_gguf_arr_arr(a, i);
			walk_arr(&sub);
		} else {
			sink += (uint64_t)orc_gguf_arr_int(a, i);
			sink_f(orc_gguf_arr_float(a, i));
		}
	}
}

static void walk(const struct orc_gguf *g)
{
	for (uint64_t i = 0; i < orc_gguf_n_kv(g); i++) {
		const struct orc_gguf_kv *kv = orc_gguf_kv_at(g, i);
		if (kv->type == ORC_GGUF_ARRAY)
			walk_arr(&kv->v.arr);
		else if (kv->type == ORC_GGUF_STRING)
			sink += kv->v.s.len ? (uint8_t)kv->v.s.ptr[kv->v.s.len - 1] : 0;
	}
	for (uint64_t i = 0; i < orc_gguf_n_tensors(g); i++) {
		const struct orc_gguf_tensor *t = orc_gguf_tensor_at(g, i);
		if (orc_gguf_find_tensor(g, t->name) != t)
			abort();
		const struct orc_type_info *ti = orc_type_info(t->type);
		if (t->size == 0 || !ti->dequant || t->ne[0] > 4096)
			continue;
		float *row = malloc(t->ne[0] * sizeof(float));
		if (row && orc_dequant_row(t->type, t->data, row, t->ne[0]) == 0)
			sink_f(row[t->ne[0] - 1]);
		free(row);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct orc_gguf *g = NULL;
	struct orc_model_desc *d = NULL;
	struct orc_hparams hp;
	struct orc_err err = { 0 };

	if (orc_gguf_open_mem(data, size, &g, &err) != 0) {
		if (g || err.msg[0] == '\0')
			abort();
		return 0;
	}
	walk(g);
	uint32_t u;
	float f;
	orc_gguf_get_u32(g, "general.alignment", &u, &err);
	orc_gguf_get_f32(g, "llama.rope.freq_base", &f, &err);
	orc_hparams_read(g, &hp, &err);
	if (orc_model_desc_new(g, &d, &err) == 0)
		sink += orc_model_kv_bytes(d, 16, 4) + d->weight_bytes;
	orc_model_desc_free(d);
	orc_gguf_free(g);
	return 0;
}
