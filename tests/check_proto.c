/* check_proto.c -- the protocol codec of common/: a round trip of every
 * message type, hand-written MessagePack from the format definition, and
 * the refusals (wrong types, ranges, duplicates, unknown types, names). */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "frame.h"
#include "fuzz_proto.h"
#include "gen.h"        /* proto.h must compile next to the engine's headers */
#include "proto.h"
#include "proto_schema.h"
#include "testutil.h"

#define S(lit) ((struct orc_str){ (lit), (uint32_t)(sizeof(lit) - 1) })

/* Encode m, check the frame header, decode the payload into *ret. */
static int round_trip(const struct orc_msg *m, struct orc_msg *ret, struct orc_err *err)
{
	struct orc_buf b;
	size_t len;
	int r;

	orc_buf_init(&b, 0);
	r = orc_proto_encode(m, &b, err);
	if (r < 0) {
		orc_buf_free(&b);
		return r;
	}
	ck_assert_uint_ge(orc_buf_pending(&b), ORC_FRAME_HDR + 1);
	len = (size_t)b.data[0] << 24 | (size_t)b.data[1] << 16 | (size_t)b.data[2] << 8 | b.data[3];
	ck_assert_uint_eq(len, orc_buf_pending(&b) - ORC_FRAME_HDR);
	r = orc_proto_decode(b.data + ORC_FRAME_HDR, len, ret, err);
	orc_buf_free(&b);
	return r;
}

static void rt_ok(const struct orc_msg *m, struct orc_msg *ret)
{
	struct orc_err err = { 0 };
	int r = round_trip(m, ret, &err);

	ck_assert_msg(r == 0, "round trip of %s: %s", orc_msg_type_name(m->type), orc_err_msg(&err));
	ck_assert_uint_eq(ret->type, m->type);
	ck_assert_uint_eq(ret->id, m->id);
}

static void str_eq(struct orc_str a, struct orc_str b)
{
	ck_assert_uint_eq(a.len, b.len);
	ck_assert(a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
	ck_assert(a.s && a.s[a.len] == '\0');   /* decoded strings are NUL-terminated */
}

/* ---- round trips ---- */

START_TEST(test_rt_hello_welcome)
{
	struct orc_msg m, d;
	struct orc_str backends[] = { S("cpu"), S("cuda") };

	orc_msg_init(&m, ORC_MSG_HELLO, 0);
	m.u.hello.version = ORC_PROTO_VERSION;
	m.u.hello.client = S("orcctl 0.1.0");
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.hello.version, ORC_PROTO_VERSION);
	str_eq(d.u.hello.client, m.u.hello.client);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_WELCOME, 0);
	m.u.welcome = (struct orc_msg_welcome){
		.version = 1, .server = S("orcd 0.1.0"), .backend = S("cuda"),
		.backends = { backends, 2 }, .frame_max = ORC_FRAME_MAX, .inflight_max = 64,
		.max_tokens = 4096, .ctx_max = 8192, .logprobs_max = 20, .stop_max = 16,
	};
	rt_ok(&m, &d);
	str_eq(d.u.welcome.server, m.u.welcome.server);
	str_eq(d.u.welcome.backend, m.u.welcome.backend);
	ck_assert_uint_eq(d.u.welcome.backends.n, 2);
	str_eq(d.u.welcome.backends.v[1], S("cuda"));
	ck_assert_uint_eq(d.u.welcome.frame_max, ORC_FRAME_MAX);
	ck_assert_uint_eq(d.u.welcome.inflight_max, 64);
	ck_assert_uint_eq(d.u.welcome.max_tokens, 4096);
	ck_assert_uint_eq(d.u.welcome.ctx_max, 8192);
	ck_assert_uint_eq(d.u.welcome.logprobs_max, 20);
	ck_assert_uint_eq(d.u.welcome.stop_max, 16);
	orc_msg_clear(&d);
}
END_TEST

START_TEST(test_rt_generate_full)
{
	struct orc_msg m, d;
	struct orc_str stops[] = { S("\n\n"), S("User:") };
	struct orc_msg_generate *g = &m.u.generate;

	orc_msg_init(&m, ORC_MSG_GENERATE, 7);
	ck_assert(g->add_special);               /* documented default */
	g->model = S("stories260K");
	g->prompt = S("Once upon a time");
	g->temperature = 0.7f;
	g->top_k = 40;
	g->top_p = 0.95f;
	g->min_p = 0.05f;
	g->repeat_penalty = 1.1f;
	g->repeat_last_n = -1;
	g->presence_penalty = -0.5f;
	g->frequency_penalty = 0.25f;
	g->seed = UINT64_MAX - 1;
	g->max_tokens = 255;
	g->stop = (struct orc_strs){ stops, 2 };
	g->logprobs = 5;
	g->prompt_logprobs = 0;
	g->parse_special = true;
	g->add_special = false;
	g->has = ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_TEMPERATURE | ORC_GEN_HAS_TOP_K | ORC_GEN_HAS_TOP_P |
		 ORC_GEN_HAS_MIN_P | ORC_GEN_HAS_REPEAT_PENALTY | ORC_GEN_HAS_REPEAT_LAST_N |
		 ORC_GEN_HAS_PRESENCE_PENALTY | ORC_GEN_HAS_FREQUENCY_PENALTY | ORC_GEN_HAS_SEED |
		 ORC_GEN_HAS_MAX_TOKENS | ORC_GEN_HAS_STOP | ORC_GEN_HAS_LOGPROBS |
		 ORC_GEN_HAS_PROMPT_LOGPROBS;
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.generate.has, g->has);
	str_eq(d.u.generate.model, g->model);
	str_eq(d.u.generate.prompt, g->prompt);
	ck_assert(d.u.generate.temperature == 0.7f);
	ck_assert_int_eq(d.u.generate.top_k, 40);
	ck_assert(d.u.generate.top_p == 0.95f);
	ck_assert(d.u.generate.min_p == 0.05f);
	ck_assert(d.u.generate.repeat_penalty == 1.1f);
	ck_assert_int_eq(d.u.generate.repeat_last_n, -1);
	ck_assert(d.u.generate.presence_penalty == -0.5f);
	ck_assert(d.u.generate.frequency_penalty == 0.25f);
	ck_assert(d.u.generate.seed == UINT64_MAX - 1);
	ck_assert_uint_eq(d.u.generate.max_tokens, 255);
	ck_assert_uint_eq(d.u.generate.stop.n, 2);
	str_eq(d.u.generate.stop.v[0], stops[0]);
	str_eq(d.u.generate.stop.v[1], stops[1]);
	ck_assert_uint_eq(d.u.generate.logprobs, 5);
	ck_assert_uint_eq(d.u.generate.prompt_logprobs, 0);
	ck_assert(d.u.generate.parse_special);
	ck_assert(!d.u.generate.add_special);
	orc_msg_clear(&d);
}
END_TEST

START_TEST(test_rt_generate_ids_and_chat)
{
	struct orc_msg m, d;
	int32_t ids[] = { 1, 0, 31999, INT32_MAX };
	struct orc_chat_msg chat[] = {
		{ ORC_ROLE_SYSTEM, S("Be brief.") },
		{ ORC_ROLE_USER, S("Hi") },
		{ ORC_ROLE_ASSISTANT, S("") },
	};

	orc_msg_init(&m, ORC_MSG_GENERATE, 1);
	m.u.generate.model = S("tiny-llama-f16");
	m.u.generate.prompt_ids = (struct orc_ids){ ids, 4 };
	m.u.generate.has = ORC_GEN_HAS_PROMPT_IDS;
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.generate.has, ORC_GEN_HAS_PROMPT_IDS);   /* nothing else appears */
	ck_assert_uint_eq(d.u.generate.prompt_ids.n, 4);
	ck_assert_mem_eq(d.u.generate.prompt_ids.v, ids, sizeof(ids));
	ck_assert(d.u.generate.add_special && !d.u.generate.parse_special);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_GENERATE, UINT32_MAX);
	m.u.generate.model = S("tiny-qwen2-q8_0");
	m.u.generate.messages = chat;
	m.u.generate.n_messages = 3;
	m.u.generate.has = ORC_GEN_HAS_MESSAGES;
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.generate.n_messages, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(d.u.generate.messages[i].role, chat[i].role);
		str_eq(d.u.generate.messages[i].content, chat[i].content);
	}
	orc_msg_clear(&d);
}
END_TEST

START_TEST(test_rt_small_requests)
{
	struct orc_msg m, d;
	int32_t ids[] = { 5, 6, 7 };
	static const uint32_t empty[] = { ORC_MSG_CANCEL, ORC_MSG_LIST, ORC_MSG_STATUS };

	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		orc_msg_init(&m, empty[i], 42);
		rt_ok(&m, &d);
		orc_msg_clear(&d);
	}

	orc_msg_init(&m, ORC_MSG_TOKENIZE, 3);
	ck_assert(m.u.tokenize.add_special);
	m.u.tokenize.model = S("m");
	m.u.tokenize.text = S("Hello\0world");   /* bytes, NUL included */
	m.u.tokenize.add_special = false;
	m.u.tokenize.parse_special = true;
	m.u.tokenize.pieces = true;
	rt_ok(&m, &d);
	str_eq(d.u.tokenize.model, S("m"));
	str_eq(d.u.tokenize.text, S("Hello\0world"));
	ck_assert(!d.u.tokenize.add_special && d.u.tokenize.parse_special && d.u.tokenize.pieces);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_DETOKENIZE, 4);
	m.u.detokenize.model = S("m");
	m.u.detokenize.ids = (struct orc_ids){ ids, 3 };
	m.u.detokenize.skip_special = true;
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.detokenize.ids.n, 3);
	ck_assert_mem_eq(d.u.detokenize.ids.v, ids, sizeof(ids));
	ck_assert(d.u.detokenize.skip_special);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_LOAD, 5);
	m.u.load.model = S("stories260K");
	m.u.load.keep_alive = -1;
	m.u.load.has = ORC_LOAD_HAS_KEEP_ALIVE;
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.load.has, ORC_LOAD_HAS_KEEP_ALIVE);
	ck_assert_int_eq(d.u.load.keep_alive, -1);
	orc_msg_clear(&d);
	m.u.load.has = 0;
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.load.has, 0);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_UNLOAD, 6);
	m.u.unload.model = S("a.b-c_d");
	rt_ok(&m, &d);
	str_eq(d.u.unload.model, S("a.b-c_d"));
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_SHOW, 7);
	m.u.show.model = S("x");
	rt_ok(&m, &d);
	str_eq(d.u.show.model, S("x"));
	orc_msg_clear(&d);
}
END_TEST

START_TEST(test_rt_token_final)
{
	struct orc_msg m, d;
	struct orc_top top[] = { { 17, -0.25f }, { 3, -1.5f }, { 9, -INFINITY } };

	orc_msg_init(&m, ORC_MSG_TOKEN, 9);
	m.u.token.text = S("\xc3\xa9t\xc3\xa9");
	m.u.token.token = 17;
	m.u.token.logprob = -0.25f;
	m.u.token.top = top;
	m.u.token.n_top = 3;
	m.u.token.has = ORC_TOKEN_HAS_LOGPROB | ORC_TOKEN_HAS_TOP;
	rt_ok(&m, &d);
	str_eq(d.u.token.text, m.u.token.text);
	ck_assert_int_eq(d.u.token.token, 17);
	ck_assert(d.u.token.logprob == -0.25f);
	ck_assert_uint_eq(d.u.token.n_top, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(d.u.token.top[i].token, top[i].token);
		ck_assert(d.u.token.top[i].logprob == top[i].logprob);
	}
	orc_msg_clear(&d);

	m.u.token.has = 0;      /* a plain token: no logprob keys at all */
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.token.has, 0);
	ck_assert_uint_eq(d.u.token.n_top, 0);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_FINAL, 9);
	m.u.final = (struct orc_msg_final){
		.stop = ORC_WIRE_STOP_LENGTH, .text = S("\xef\xbf\xbd"), .prompt_tokens = 1,
		.cached_tokens = 0, .gen_tokens = 255, .queue_us = 1, .prompt_us = 2,
		.gen_us = UINT64_MAX, .ttft_us = 4,
	};
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.final.stop, ORC_WIRE_STOP_LENGTH);
	str_eq(d.u.final.text, m.u.final.text);
	ck_assert_uint_eq(d.u.final.prompt_tokens, 1);
	ck_assert_uint_eq(d.u.final.cached_tokens, 0);
	ck_assert_uint_eq(d.u.final.gen_tokens, 255);
	ck_assert_uint_eq(d.u.final.queue_us, 1);
	ck_assert_uint_eq(d.u.final.prompt_us, 2);
	ck_assert(d.u.final.gen_us == UINT64_MAX);
	ck_assert_uint_eq(d.u.final.ttft_us, 4);
	orc_msg_clear(&d);
}
END_TEST

START_TEST(test_rt_prompt_logprobs_progress)
{
	struct orc_msg m, d;
	struct orc_top top[] = { { 1, -0.5f }, { 2, -0.75f } };
	struct orc_wire_logprob e[] = { { 10, -2.0f, top, 2 }, { 11, -3.0f, NULL, 0 } };

	orc_msg_init(&m, ORC_MSG_PROMPT_LOGPROBS, 2);
	m.u.prompt_logprobs = (struct orc_msg_prompt_logprobs){ .offset = 1, .entries = e, .n = 2 };
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.prompt_logprobs.offset, 1);
	ck_assert_uint_eq(d.u.prompt_logprobs.n, 2);
	ck_assert_int_eq(d.u.prompt_logprobs.entries[0].token, 10);
	ck_assert(d.u.prompt_logprobs.entries[0].logprob == -2.0f);
	ck_assert_uint_eq(d.u.prompt_logprobs.entries[0].n_top, 2);
	ck_assert_int_eq(d.u.prompt_logprobs.entries[0].top[1].token, 2);
	ck_assert(d.u.prompt_logprobs.entries[0].top[1].logprob == -0.75f);
	ck_assert_int_eq(d.u.prompt_logprobs.entries[1].token, 11);
	ck_assert_uint_eq(d.u.prompt_logprobs.entries[1].n_top, 0);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_PROGRESS, 2);
	m.u.progress.done = 1ull << 40;
	m.u.progress.total = (1ull << 40) + 5;
	rt_ok(&m, &d);
	ck_assert(d.u.progress.done == 1ull << 40 && d.u.progress.total == (1ull << 40) + 5);
	orc_msg_clear(&d);
}
END_TEST

START_TEST(test_rt_tokens_text)
{
	struct orc_msg m, d;
	int32_t ids[] = { 1, 15043 };
	struct orc_str pieces[] = { S("<s>"), S("\xe2\x96\x81Hello") };

	orc_msg_init(&m, ORC_MSG_TOKENS, 3);
	m.u.tokens.ids = (struct orc_ids){ ids, 2 };
	m.u.tokens.pieces = (struct orc_strs){ pieces, 2 };
	m.u.tokens.has = ORC_TOKENS_HAS_PIECES;
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.tokens.ids.n, 2);
	ck_assert_mem_eq(d.u.tokens.ids.v, ids, sizeof(ids));
	ck_assert_uint_eq(d.u.tokens.pieces.n, 2);
	str_eq(d.u.tokens.pieces.v[1], pieces[1]);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_TEXT, 4);
	m.u.text.text = S("\xe2\x96");      /* a split character: raw bytes */
	rt_ok(&m, &d);
	str_eq(d.u.text.text, m.u.text.text);
	orc_msg_clear(&d);
}
END_TEST

static struct orc_model_info sample_model(void)
{
	return (struct orc_model_info){
		.name = S("tiny-qwen2-q8_0"), .arch = S("qwen2"), .quant = S("Q8_0"),
		.chat_format = S("chatml"), .size = 123456, .mem = 654321, .n_params = 99999,
		.n_ctx_train = 32768, .n_ctx = 4096, .n_vocab = 151936, .n_layer = 2, .n_embd = 64,
		.n_head = 4, .n_head_kv = 2, .resident = true, .pinned = true, .keep_alive = -1,
		.active = 3, .queued = 4, .oldest_wait_us = 5,
	};
}

static void model_eq(const struct orc_model_info *a, const struct orc_model_info *b)
{
	str_eq(a->name, b->name);
	str_eq(a->arch, b->arch);
	str_eq(a->quant, b->quant);
	str_eq(a->chat_format, b->chat_format);
	ck_assert(a->size == b->size && a->mem == b->mem && a->n_params == b->n_params);
	ck_assert(a->n_ctx_train == b->n_ctx_train && a->n_ctx == b->n_ctx && a->n_vocab == b->n_vocab);
	ck_assert(a->n_layer == b->n_layer && a->n_embd == b->n_embd && a->n_head == b->n_head);
	ck_assert(a->n_head_kv == b->n_head_kv && a->resident == b->resident && a->pinned == b->pinned);
	ck_assert(a->keep_alive == b->keep_alive && a->active == b->active && a->queued == b->queued);
	ck_assert(a->oldest_wait_us == b->oldest_wait_us);
}

START_TEST(test_rt_model_list_status)
{
	struct orc_msg m, d;
	struct orc_model_info models[2] = { sample_model(), sample_model() };
	struct orc_counter ctr[] = { { S("tokens_out"), 1000 }, { S("uptime_s"), 0 },
				     { S("future_counter"), UINT64_MAX } };

	models[1].name = S("stories260K");
	models[1].resident = false;
	models[1].keep_alive = 300;

	orc_msg_init(&m, ORC_MSG_MODEL, 8);
	m.u.model = models[0];
	rt_ok(&m, &d);
	model_eq(&d.u.model, &models[0]);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_LIST_END, 8);
	m.u.list_end.count = 2;
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.list_end.count, 2);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_STATUS_RESULT, 8);
	m.u.status = (struct orc_msg_status_result){
		.server = S("orcd 0.1.0"), .backend = S("cpu"), .gpu = S(""),
		.counters = ctr, .n_counters = 3, .models = models, .n_models = 2,
	};
	rt_ok(&m, &d);
	str_eq(d.u.status.server, m.u.status.server);
	str_eq(d.u.status.backend, m.u.status.backend);
	str_eq(d.u.status.gpu, m.u.status.gpu);
	ck_assert_uint_eq(d.u.status.n_counters, 3);
	for (int i = 0; i < 3; i++) {
		str_eq(d.u.status.counters[i].name, ctr[i].name);
		ck_assert(d.u.status.counters[i].value == ctr[i].value);
	}
	ck_assert_uint_eq(d.u.status.n_models, 2);
	model_eq(&d.u.status.models[0], &models[0]);
	model_eq(&d.u.status.models[1], &models[1]);
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_DONE, 8);
	rt_ok(&m, &d);
	orc_msg_clear(&d);
}
END_TEST

START_TEST(test_rt_error)
{
	struct orc_msg m, d;
	char text[] = "model needs 812 MiB, 300 MiB free of a 4096 MiB budget";

	orc_msg_error(&m, 12, OCC_NO_MEMORY, text);
	rt_ok(&m, &d);
	ck_assert_uint_eq(d.u.error.code, OCC_NO_MEMORY);
	ck_assert_uint_eq(d.u.error.code, 13);      /* stable number */
	ck_assert_str_eq(d.u.error.name.s, "NO_MEMORY");
	ck_assert_str_eq(d.u.error.message.s, text);
	orc_msg_clear(&d);
}
END_TEST

/* Every type in the schema comment has a table, and every table fits the
 * 64-bit "seen" mask of the decoder. */
START_TEST(test_every_type_has_a_table)
{
	static const uint32_t types[] = {
		ORC_MSG_HELLO, ORC_MSG_WELCOME, ORC_MSG_GENERATE, ORC_MSG_CANCEL, ORC_MSG_TOKENIZE,
		ORC_MSG_DETOKENIZE, ORC_MSG_LOAD, ORC_MSG_UNLOAD, ORC_MSG_LIST, ORC_MSG_SHOW,
		ORC_MSG_STATUS, ORC_MSG_TOKEN, ORC_MSG_FINAL, ORC_MSG_PROMPT_LOGPROBS,
		ORC_MSG_PROGRESS, ORC_MSG_TOKENS, ORC_MSG_TEXT, ORC_MSG_MODEL, ORC_MSG_LIST_END,
		ORC_MSG_STATUS_RESULT, ORC_MSG_DONE, ORC_MSG_ERROR,
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		const struct orc_msgdesc *d = orc_proto_desc(types[i]);

		ck_assert_ptr_nonnull(d);
		ck_assert_uint_le(d->body.n_fields, 64);
		ck_assert_str_ne(orc_msg_type_name(types[i]), "?");
		for (size_t k = 0; k < d->body.n_fields; k++) {   /* no clash with the envelope */
			ck_assert_str_ne(d->body.fields[k].key, "type");
			ck_assert_str_ne(d->body.fields[k].key, "id");
		}
	}
	ck_assert_ptr_null(orc_proto_desc(0x3f));
	ck_assert_str_eq(orc_msg_type_name(0x99), "?");
	ck_assert_str_eq(orc_wire_stop_name(ORC_WIRE_STOP_EOG), "eos");
	ck_assert_str_eq(orc_wire_stop_name(ORC_WIRE_STOP_LENGTH), orc_stop_reason_name(ORC_STOP_LENGTH));
	ck_assert_str_eq(orc_wire_stop_name(ORC_WIRE_STOP_STRING), orc_stop_reason_name(ORC_STOP_STRING));
	ck_assert_str_eq(orc_wire_stop_name(99), "?");
	ck_assert_str_eq(orc_status_name(OCC_BUSY), "BUSY");
	ck_assert_str_eq(orc_status_name(9999), "UNKNOWN");
}
END_TEST

/* ---- hand-written MessagePack (from the format specification) ---- */

static int decode_bytes(const char *p, size_t n, struct orc_msg *ret, struct orc_err *err)
{
	return orc_proto_decode(p, n, ret, err);
}

#define DEC(lit, ret, err) decode_bytes((lit), sizeof(lit) - 1, (ret), (err))

START_TEST(test_hand_encoded_hello)
{
	/* fixmap(3) "type":1 "version":1 "client":"x"  -- no "id": defaults to 0 */
	static const char hello[] = "\x83\xa4type\x01\xa7version\x01\xa6" "client\xa1x";
	/* the same hello as orc_proto_encode writes it: type, id, then the table order */
	static const uint8_t expect[] = {
		0x00, 0x00, 0x00, 0x1d, 0x84, 0xa4, 't', 'y', 'p', 'e', 0x01, 0xa2, 'i', 'd', 0x00,
		0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01, 0xa6, 'c', 'l', 'i', 'e', 'n', 't',
		0xa1, 'x',
	};
	struct orc_msg d, m;
	struct orc_err err = { 0 };
	struct orc_buf b;

	ck_assert_int_eq(DEC(hello, &d, &err), 0);
	ck_assert_uint_eq(d.type, ORC_MSG_HELLO);
	ck_assert_uint_eq(d.id, 0);
	ck_assert_uint_eq(d.u.hello.version, 1);
	ck_assert_str_eq(d.u.hello.client.s, "x");
	orc_msg_clear(&d);

	orc_msg_init(&m, ORC_MSG_HELLO, 0);
	m.u.hello.version = 1;
	m.u.hello.client = S("x");
	orc_buf_init(&b, 0);
	ck_assert_int_eq(orc_proto_encode(&m, &b, &err), 0);
	ck_assert_uint_eq(orc_buf_pending(&b), sizeof(expect));
	ck_assert_mem_eq(b.data, expect, sizeof(expect));
	orc_buf_free(&b);
}
END_TEST

START_TEST(test_hand_encoded_generate)
{
	/* map(5): type 0x10, id 3 (as uint16), model "m", prompt_ids [1, 2],
	 * temperature 0 as a positive fixint (ints are accepted for floats),
	 * plus an unknown key "future" which is ignored. */
	static const char gen[] =
		"\x86\xa4type\x10\xa2id\xcd\x00\x03\xa5model\xa1m"
		"\xaaprompt_ids\x92\x01\x02\xabtemperature\x00\xa6" "future\xc0";
	struct orc_msg d;
	struct orc_err err = { 0 };

	ck_assert_msg(DEC(gen, &d, &err) == 0, "%s", orc_err_msg(&err));
	ck_assert_uint_eq(d.id, 3);
	ck_assert_uint_eq(d.u.generate.has, ORC_GEN_HAS_PROMPT_IDS | ORC_GEN_HAS_TEMPERATURE);
	ck_assert_uint_eq(d.u.generate.prompt_ids.n, 2);
	ck_assert(d.u.generate.temperature == 0.0f);
	orc_msg_clear(&d);
}
END_TEST

/* ---- refusals ---- */

/* Decode, expecting `code`, an error message containing `needle`, and
 * (unless BAD_FRAME) the envelope's type and id kept for the reply. */
static void refuse_at(int line, const char *p, size_t n, int code, const char *needle,
		      uint32_t type, uint32_t id)
{
	struct orc_msg d;
	struct orc_err err = { 0 };
	int r = decode_bytes(p, n, &d, &err);

	ck_assert_msg(r == code, "line %d: expected %d, got %d (%s)", line, code, r, orc_err_msg(&err));
	ck_assert_msg(strstr(orc_err_msg(&err), needle), "line %d: '%s' lacks '%s'", line,
		      orc_err_msg(&err), needle);
	ck_assert_msg(d.type == type && d.id == id, "line %d: type %u id %u", line, d.type, d.id);
	ck_assert_ptr_null(d.arena);
}
#define refuse(...) refuse_at(__LINE__, __VA_ARGS__)
#define REFUSE(lit, code, needle, type, id) \
	refuse_at(__LINE__, (lit), sizeof(lit) - 1, (code), (needle), (type), (id))

START_TEST(test_refuse_envelope)
{
	REFUSE("\x92\x01\x02", -EINVAL, "expected a map", 0, 0);
	REFUSE("\x81\xa2id\x05", -EINVAL, "'type': missing", 0, 5);
	REFUSE("\x81\xa4type\xa1x", -EINVAL, "'type'", 0, 0);
	REFUSE("\x82\xa4type\x10\xa4type\x10", -EINVAL, "given twice", ORC_MSG_GENERATE, 0);
	REFUSE("\x82\xa4type\xcc\x99\xa2id\x07", -ENOMSG, "unknown message type 153", 0x99, 7);
	REFUSE("\x82\xa4type\x11\xa2id\x00", -EINVAL, "request id", ORC_MSG_CANCEL, 0);
	REFUSE("\x82\xa4type\x11\xa2id\xff", -EINVAL, "'id'", 0x11, 0);
	REFUSE("\x83\xa4type\x16\xa2id\x01\x05\x06", -EINVAL, "not a str", ORC_MSG_LIST, 1);
	/* not exactly one object: BAD_FRAME, nothing kept */
	REFUSE("\x80\x80", -EBADMSG, "after the message", 0, 0);
	REFUSE("\x82\xa4type", -EBADMSG, "truncated", 0, 0);
}
END_TEST

START_TEST(test_refuse_values)
{
	/* wrong type, naming the key */
	REFUSE("\x84\xa4type\x10\xa2id\x01\xa5model\x07\xa6prompt\xa0", -EINVAL,
	       "key 'model': expected str, got uint", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xabtemperature\xa1x",
	       -EINVAL, "key 'temperature': expected float", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xabtemperature\xff",
	       -EINVAL, "key 'temperature': -1 out of range", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xa5top_p\xcb\x7f\xf8\0\0\0\0\0\0",
	       -EINVAL, "key 'top_p': NaN", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xa5top_p\x02",
	       -EINVAL, "key 'top_p': 2 out of range", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xa8logprobs\x15",
	       -EINVAL, "key 'logprobs'", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xae" "repeat_penalty\x00",
	       -EINVAL, "key 'repeat_penalty'", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xaamax_tokens\x00",
	       -EINVAL, "key 'max_tokens'", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xadparse_special\x01",
	       -EINVAL, "key 'parse_special': expected bool", ORC_MSG_GENERATE, 1);
	/* nested paths */
	REFUSE("\x84\xa4type\x10\xa2id\x01\xa5model\xa1m\xa8messages\x91\x82\xa4role\xa3" "bot\xa7" "content\xa0",
	       -EINVAL, "key 'messages[0].role'", ORC_MSG_GENERATE, 1);
	REFUSE("\x84\xa4type\x10\xa2id\x01\xa5model\xa1m\xa8messages\x91\x81\xa4role\xa4user",
	       -EINVAL, "key 'messages[0].content': missing", ORC_MSG_GENERATE, 1);
	REFUSE("\x84\xa4type\x10\xa2id\x01\xa5model\xa1m\xaaprompt_ids\x92\x01\xff",
	       -EINVAL, "key 'prompt_ids': element 1", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xa4stop\x91\xa0",
	       -EINVAL, "key 'stop[0]'", ORC_MSG_GENERATE, 1);
	/* cross-key rules */
	REFUSE("\x83\xa4type\x10\xa2id\x01\xa5model\xa1m", -EINVAL, "exactly one of", ORC_MSG_GENERATE, 1);
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xaaprompt_ids\x90",
	       -EINVAL, "exactly one of", ORC_MSG_GENERATE, 1);
	/* duplicates and missing keys */
	REFUSE("\x85\xa4type\x10\xa2id\x01\xa5model\xa1m\xa6prompt\xa0\xa6prompt\xa0",
	       -EINVAL, "key 'prompt': given twice", ORC_MSG_GENERATE, 1);
	REFUSE("\x82\xa4type\x15\xa2id\x02", -EINVAL, "key 'model': missing", ORC_MSG_UNLOAD, 2);
	/* the same refusal without an error record (found by the fuzzer) */
	{
		struct orc_msg d;

		ck_assert_int_eq(orc_proto_decode("\x82\xa4type\x15\xa2id\x02", 11, &d, NULL), -EINVAL);
	}
}
END_TEST

START_TEST(test_refuse_model_names)
{
	static const char *bad[] = { "..", "../etc/passwd", "a/b", "a..b", ".hidden", "", "a\\b", "a\nb" };
	struct orc_msg m;
	struct orc_err err = { 0 };
	struct orc_buf b;
	char frame[300];

	orc_buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]), len;

		/* the encoder refuses it ... */
		orc_msg_init(&m, ORC_MSG_LOAD, 1);
		m.u.load.model = (struct orc_str){ bad[i], (uint32_t)n };
		ck_assert_int_eq(orc_proto_encode(&m, &b, &err), -EINVAL);
		ck_assert_uint_eq(orc_buf_pending(&b), 0);
		/* ... and so does the decoder, when another client sends it */
		len = (size_t)snprintf(frame, sizeof(frame), "\x83\xa4type\x14\xa2id\x01\xa5model%c%s",
				       (char)(0xa0 | n), bad[i]);
		refuse(frame, len, -EINVAL, "key 'model': invalid name", ORC_MSG_LOAD, 1);
	}
	orc_msg_init(&m, ORC_MSG_LOAD, 1);
	m.u.load.model = S("Qwen2.5-0.5B-Instruct-Q8_0");
	ck_assert_int_eq(orc_proto_encode(&m, &b, &err), 0);
	orc_buf_free(&b);
}
END_TEST

START_TEST(test_encode_checks)
{
	struct orc_msg m;
	struct orc_err err = { 0 };
	struct orc_buf b;
	struct orc_str stops[ORC_STOP_STRINGS_MAX + 1];
	char *big;

	orc_buf_init(&b, 0);
	/* the encoder applies the decoder's rules */
	orc_msg_init(&m, ORC_MSG_GENERATE, 1);
	m.u.generate.model = S("m");
	m.u.generate.has = ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_TOP_P;
	m.u.generate.top_p = 1.5f;
	ck_assert_int_eq(orc_proto_encode(&m, &b, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(orc_err_msg(&err), "top_p"));
	m.u.generate.top_p = 0.5f;
	for (int i = 0; i <= ORC_STOP_STRINGS_MAX; i++)
		stops[i] = S("x");
	m.u.generate.stop = (struct orc_strs){ stops, ORC_STOP_STRINGS_MAX + 1 };
	m.u.generate.has |= ORC_GEN_HAS_STOP;
	ck_assert_int_eq(orc_proto_encode(&m, &b, &err), -EINVAL);
	m.u.generate.stop.n = ORC_STOP_STRINGS_MAX;
	ck_assert_int_eq(orc_proto_encode(&m, &b, &err), 0);
	orc_buf_free(&b);

	/* request id 0 is reserved */
	orc_msg_init(&m, ORC_MSG_STATUS, 0);
	ck_assert_int_eq(orc_proto_encode(&m, &b, &err), -EINVAL);

	/* a reply over the frame limit is -E2BIG and leaves the buffer as it was */
	big = calloc(1, ORC_FRAME_MAX);
	ck_assert_ptr_nonnull(big);
	orc_msg_init(&m, ORC_MSG_TEXT, 1);
	m.u.text.text = (struct orc_str){ big, ORC_FRAME_MAX };
	ck_assert_int_eq(orc_buf_append(&b, "abc", 3), 0);
	ck_assert_int_eq(orc_proto_encode(&m, &b, &err), -E2BIG);
	ck_assert_uint_eq(orc_buf_pending(&b), 3);
	free(big);

	/* a capped write queue refuses with -ENOBUFS, and is unchanged */
	orc_buf_free(&b);
	orc_buf_init(&b, 16);
	orc_msg_init(&m, ORC_MSG_TOKEN, 1);
	m.u.token.text = S("a fairly long piece of text");
	ck_assert_int_eq(orc_proto_encode(&m, &b, &err), -ENOBUFS);
	ck_assert_uint_eq(orc_buf_pending(&b), 0);
	orc_buf_free(&b);
}
END_TEST

START_TEST(test_status_mapping)
{
	ck_assert_int_eq(orc_proto_status_from_errno(-EBADMSG), OCC_BAD_FRAME);
	ck_assert_int_eq(orc_proto_status_from_errno(-EINVAL), OCC_BAD_REQUEST);
	ck_assert_int_eq(orc_proto_status_from_errno(-ENOMSG), OCC_UNKNOWN_TYPE);
	ck_assert_int_eq(orc_proto_status_from_errno(-ENOMEM), OCC_INTERNAL);
}
END_TEST

/* The fuzzer's seeds and every crasher it found stay in the corpus and are
 * replayed here, in the normal and the sanitizer builds. */
START_TEST(test_replay_fuzz_corpus)
{
	ck_assert_uint_ge(orc_test_replay_corpus("proto", orc_fuzz_proto_one), 44);    /* the seeds: 22 messages, raw and framed */
}
END_TEST

Suite *proto_frame_suite(void);

int main(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("codec");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_rt_hello_welcome);
	tcase_add_test(tc, test_rt_generate_full);
	tcase_add_test(tc, test_rt_generate_ids_and_chat);
	tcase_add_test(tc, test_rt_small_requests);
	tcase_add_test(tc, test_rt_token_final);
	tcase_add_test(tc, test_rt_prompt_logprobs_progress);
	tcase_add_test(tc, test_rt_tokens_text);
	tcase_add_test(tc, test_rt_model_list_status);
	tcase_add_test(tc, test_rt_error);
	tcase_add_test(tc, test_every_type_has_a_table);
	tcase_add_test(tc, test_hand_encoded_hello);
	tcase_add_test(tc, test_hand_encoded_generate);
	tcase_add_test(tc, test_refuse_envelope);
	tcase_add_test(tc, test_refuse_values);
	tcase_add_test(tc, test_refuse_model_names);
	tcase_add_test(tc, test_encode_checks);
	tcase_add_test(tc, test_status_mapping);
	tcase_add_test(tc, test_replay_fuzz_corpus);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_add_suite(sr, proto_frame_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
