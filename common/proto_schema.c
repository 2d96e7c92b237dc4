/* proto_schema.c -- every message of the protocol as a key table (see the
 * schema comment in proto.h, which this must match), the cross-key rules,
 * the defaults of orc_msg_init(), and the names of types, stop reasons,
 * roles and status codes. */
#include "config.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "proto_schema.h"

/* ---- table helpers ---- */
#define REQ     .presence = ORC_FP_REQUIRED
#define DEF     .presence = ORC_FP_DEFAULT
#define HAS(b)  .presence = ORC_FP_HAS, .has_bit = (b)

#define U32(k, p, st, m, l, h)  { .key = k, .kind = ORC_FK_U32, p, .off = offsetof(st, m), .lo = (l), .hi = (h) }
#define U64(k, p, st, m, l, h)  { .key = k, .kind = ORC_FK_U64, p, .off = offsetof(st, m), .lo = (l), .hi = (h) }
#define I32(k, p, st, m, l, h)  { .key = k, .kind = ORC_FK_I32, p, .off = offsetof(st, m), .lo = (l), .hi = (h) }
#define I64(k, p, st, m, l, h)  { .key = k, .kind = ORC_FK_I64, p, .off = offsetof(st, m), .lo = (l), .hi = (h) }
#define F32(k, p, st, m, l, h, ff) { .key = k, .kind = ORC_FK_F32, p, .off = offsetof(st, m), \
				     .flo = (l), .fhi = (h), .fflags = (ff) }
#define BOOL(k, p, st, m)       { .key = k, .kind = ORC_FK_BOOL, p, .off = offsetof(st, m) }
#define STR(k, p, st, m, l, h)  { .key = k, .kind = ORC_FK_STR, p, .off = offsetof(st, m), .lo = (l), .hi = (h) }
#define BYTES(k, p, st, m, h)   { .key = k, .kind = ORC_FK_BYTES, p, .off = offsetof(st, m), .hi = (h) }
#define NAME(k, p, st, m, h)    { .key = k, .kind = ORC_FK_NAME, p, .off = offsetof(st, m), .hi = (h) }
#define ROLE(k, p, st, m)       { .key = k, .kind = ORC_FK_ROLE, p, .off = offsetof(st, m) }
#define IDS(k, p, st, m, h)     { .key = k, .kind = ORC_FK_IDS, p, .off = offsetof(st, m), .hi = (h) }
#define STRS(k, p, st, m, h, el, eh) { .key = k, .kind = ORC_FK_STRS, p, .off = offsetof(st, m), \
				       .hi = (h), .elo = (el), .ehi = (eh) }
#define BINS(k, p, st, m, h, eh) { .key = k, .kind = ORC_FK_BINS, p, .off = offsetof(st, m), \
				   .hi = (h), .ehi = (eh) }
#define ARR(k, kd, p, st, m, cnt, h) { .key = k, .kind = (kd), p, .off = offsetof(st, m), \
				       .off2 = offsetof(st, cnt), .hi = (h) }
#define STRUCTS(k, p, st, m, cnt, h, s) { .key = k, .kind = ORC_FK_STRUCTS, p, .off = offsetof(st, m), \
					  .off2 = offsetof(st, cnt), .hi = (h), .sub = (s) }
#define MAP(f, st)      { .fields = (f), .n_fields = sizeof(f) / sizeof((f)[0]), .size = sizeof(st), \
			  .has_off = ORC_NO_HAS }
#define MAP_HAS(f, st)  { .fields = (f), .n_fields = sizeof(f) / sizeof((f)[0]), .size = sizeof(st), \
			  .has_off = offsetof(st, has) }
#define EMPTY           { .fields = NULL, .n_fields = 0, .size = 0, .has_off = ORC_NO_HAS }

#define STRMAX ORC_PROTO_STR_MAX

/* ---- handshake ---- */
static const struct orc_field hello_f[] = {
	U32("version", REQ, struct orc_msg_hello, version, 1, UINT32_MAX),
	STR("client", REQ, struct orc_msg_hello, client, 0, STRMAX),
};

static const struct orc_field welcome_f[] = {
	U32("version", REQ, struct orc_msg_welcome, version, 1, UINT32_MAX),
	STR("server", REQ, struct orc_msg_welcome, server, 0, STRMAX),
	STR("backend", REQ, struct orc_msg_welcome, backend, 0, STRMAX),
	STRS("backends", REQ, struct orc_msg_welcome, backends, ORC_PROTO_BACKENDS_MAX, 1, STRMAX),
	U32("frame_max", REQ, struct orc_msg_welcome, frame_max, ORC_FRAME_MIN, UINT32_MAX),
	U32("inflight_max", REQ, struct orc_msg_welcome, inflight_max, 0, UINT32_MAX),
	U32("max_tokens", REQ, struct orc_msg_welcome, max_tokens, 0, UINT32_MAX),
	U32("ctx_max", REQ, struct orc_msg_welcome, ctx_max, 0, UINT32_MAX),
	U32("logprobs_max", REQ, struct orc_msg_welcome, logprobs_max, 0, UINT32_MAX),
	U32("stop_max", REQ, struct orc_msg_welcome, stop_max, 0, UINT32_MAX),
};

/* ---- requests ---- */
static const struct orc_field chat_f[] = {
	ROLE("role", REQ, struct orc_chat_msg, role),
	STR("content", REQ, struct orc_chat_msg, content, 0, ORC_PROMPT_BYTES_MAX),
};
static const struct orc_mapdesc chat_map = MAP(chat_f, struct orc_chat_msg);

#define G struct orc_msg_generate
static const struct orc_field generate_f[] = {
	NAME("model", REQ, G, model, ORC_MODEL_NAME_MAX),
	STR("prompt", HAS(ORC_GEN_HAS_PROMPT), G, prompt, 0, ORC_PROMPT_BYTES_MAX),
	IDS("prompt_ids", HAS(ORC_GEN_HAS_PROMPT_IDS), G, prompt_ids, ORC_PROMPT_TOKENS_MAX),
	STRUCTS("messages", HAS(ORC_GEN_HAS_MESSAGES), G, messages, n_messages,
		ORC_CHAT_MESSAGES_MAX, &chat_map),
	F32("temperature", HAS(ORC_GEN_HAS_TEMPERATURE), G, temperature, 0, FLT_MAX, 0),
	I32("top_k", HAS(ORC_GEN_HAS_TOP_K), G, top_k, 0, INT32_MAX),
	F32("top_p", HAS(ORC_GEN_HAS_TOP_P), G, top_p, 0, 1, 0),
	F32("min_p", HAS(ORC_GEN_HAS_MIN_P), G, min_p, 0, 1, 0),
	F32("repeat_penalty", HAS(ORC_GEN_HAS_REPEAT_PENALTY), G, repeat_penalty, 0, FLT_MAX, ORC_FF_GT_LO),
	I32("repeat_last_n", HAS(ORC_GEN_HAS_REPEAT_LAST_N), G, repeat_last_n, -1, ORC_CTX_MAX),
	F32("presence_penalty", HAS(ORC_GEN_HAS_PRESENCE_PENALTY), G, presence_penalty, -FLT_MAX, FLT_MAX, 0),
	F32("frequency_penalty", HAS(ORC_GEN_HAS_FREQUENCY_PENALTY), G, frequency_penalty, -FLT_MAX, FLT_MAX, 0),
	U64("seed", HAS(ORC_GEN_HAS_SEED), G, seed, 0, UINT64_MAX),
	U32("max_tokens", HAS(ORC_GEN_HAS_MAX_TOKENS), G, max_tokens, 1, ORC_MAX_TOKENS_CAP),
	STRS("stop", HAS(ORC_GEN_HAS_STOP), G, stop, ORC_STOP_STRINGS_MAX, 1, ORC_STOP_STRING_LEN_MAX),
	U32("logprobs", HAS(ORC_GEN_HAS_LOGPROBS), G, logprobs, 0, ORC_LOGPROBS_TOP_MAX),
	U32("prompt_logprobs", HAS(ORC_GEN_HAS_PROMPT_LOGPROBS), G, prompt_logprobs, 0, ORC_LOGPROBS_TOP_MAX),
	BOOL("parse_special", DEF, G, parse_special),
	BOOL("add_special", DEF, G, add_special),
};
#undef G

static const struct orc_field tokenize_f[] = {
	NAME("model", REQ, struct orc_msg_tokenize, model, ORC_MODEL_NAME_MAX),
	STR("text", REQ, struct orc_msg_tokenize, text, 0, ORC_PROMPT_BYTES_MAX),
	BOOL("add_special", DEF, struct orc_msg_tokenize, add_special),
	BOOL("parse_special", DEF, struct orc_msg_tokenize, parse_special),
	BOOL("pieces", DEF, struct orc_msg_tokenize, pieces),
};

static const struct orc_field detokenize_f[] = {
	NAME("model", REQ, struct orc_msg_detokenize, model, ORC_MODEL_NAME_MAX),
	IDS("ids", REQ, struct orc_msg_detokenize, ids, ORC_PROMPT_TOKENS_MAX),
	BOOL("skip_special", DEF, struct orc_msg_detokenize, skip_special),
};

static const struct orc_field load_f[] = {
	NAME("model", REQ, struct orc_msg_load, model, ORC_MODEL_NAME_MAX),
	I64("keep_alive", HAS(ORC_LOAD_HAS_KEEP_ALIVE), struct orc_msg_load, keep_alive, -1, INT64_MAX),
};

static const struct orc_field model_name_f[] = {
	NAME("model", REQ, struct orc_msg_model_name, model, ORC_MODEL_NAME_MAX),
};

/* ---- replies and events ---- */
#define T struct orc_msg_token
static const struct orc_field token_f[] = {
	STR("text", REQ, T, text, 0, ORC_PROTO_TEXT_MAX),
	I32("token", REQ, T, token, 0, INT32_MAX),
	F32("logprob", HAS(ORC_TOKEN_HAS_LOGPROB), T, logprob, -FLT_MAX, FLT_MAX, ORC_FF_NEG_INF),
	ARR("top", ORC_FK_TOPS, HAS(ORC_TOKEN_HAS_TOP), T, top, n_top, ORC_LOGPROBS_TOP_MAX),
};
#undef T

#define F struct orc_msg_final
static const struct orc_field final_f[] = {
	U32("stop", REQ, F, stop, 1, ORC_WIRE_STOP_MAX),
	STR("text", REQ, F, text, 0, ORC_PROTO_TEXT_MAX),
	U32("prompt_tokens", REQ, F, prompt_tokens, 0, UINT32_MAX),
	U32("cached_tokens", REQ, F, cached_tokens, 0, UINT32_MAX),
	U32("gen_tokens", REQ, F, gen_tokens, 0, UINT32_MAX),
	U64("queue_us", REQ, F, queue_us, 0, UINT64_MAX),
	U64("prompt_us", REQ, F, prompt_us, 0, UINT64_MAX),
	U64("gen_us", REQ, F, gen_us, 0, UINT64_MAX),
	U64("ttft_us", REQ, F, ttft_us, 0, UINT64_MAX),
};
#undef F

static const struct orc_field prompt_logprobs_f[] = {
	U32("offset", REQ, struct orc_msg_prompt_logprobs, offset, 0, ORC_PROMPT_TOKENS_MAX),
	ARR("entries", ORC_FK_LOGPROBS, REQ, struct orc_msg_prompt_logprobs, entries, n,
	    ORC_PROMPT_LOGPROBS_CHUNK),
};

static const struct orc_field progress_f[] = {
	U64("done", REQ, struct orc_msg_progress, done, 0, UINT64_MAX),
	U64("total", REQ, struct orc_msg_progress, total, 0, UINT64_MAX),
};

static const struct orc_field tokens_f[] = {
	IDS("ids", REQ, struct orc_msg_tokens, ids, ORC_PROMPT_TOKENS_MAX),
	BINS("pieces", HAS(ORC_TOKENS_HAS_PIECES), struct orc_msg_tokens, pieces,
	     ORC_PROMPT_TOKENS_MAX, ORC_TOKEN_PIECE_MAX),
};

static const struct orc_field text_f[] = {
	BYTES("text", REQ, struct orc_msg_text, text, ORC_FRAME_MAX),
};

#define M struct orc_model_info
static const struct orc_field model_f[] = {
	NAME("name", REQ, M, name, ORC_MODEL_NAME_MAX),
	STR("arch", REQ, M, arch, 0, STRMAX),
	STR("quant", REQ, M, quant, 0, STRMAX),
	U64("size", REQ, M, size, 0, UINT64_MAX),
	BOOL("resident", REQ, M, resident),
	U64("mem", REQ, M, mem, 0, UINT64_MAX),
	U64("n_params", REQ, M, n_params, 0, UINT64_MAX),
	U32("n_ctx_train", REQ, M, n_ctx_train, 0, UINT32_MAX),
	U32("n_ctx", REQ, M, n_ctx, 0, UINT32_MAX),
	U32("n_vocab", REQ, M, n_vocab, 0, UINT32_MAX),
	U32("n_layer", REQ, M, n_layer, 0, UINT32_MAX),
	U32("n_embd", REQ, M, n_embd, 0, UINT32_MAX),
	U32("n_head", REQ, M, n_head, 0, UINT32_MAX),
	U32("n_head_kv", REQ, M, n_head_kv, 0, UINT32_MAX),
	STR("chat_format", REQ, M, chat_format, 0, STRMAX),
	BOOL("pinned", REQ, M, pinned),
	I64("keep_alive", REQ, M, keep_alive, -1, INT64_MAX),
	U32("active", REQ, M, active, 0, UINT32_MAX),
	U32("queued", REQ, M, queued, 0, UINT32_MAX),
	U64("oldest_wait_us", REQ, M, oldest_wait_us, 0, UINT64_MAX),
};
#undef M
static const struct orc_mapdesc model_map = MAP(model_f, struct orc_model_info);

static const struct orc_field list_end_f[] = {
	U32("count", REQ, struct orc_msg_list_end, count, 0, UINT32_MAX),
};

#define S struct orc_msg_status_result
static const struct orc_field status_f[] = {
	STR("server", REQ, S, server, 0, STRMAX),
	STR("backend", REQ, S, backend, 0, STRMAX),
	STR("gpu", REQ, S, gpu, 0, STRMAX),
	ARR("counters", ORC_FK_COUNTERS, REQ, S, counters, n_counters, ORC_STATUS_COUNTERS_MAX),
	STRUCTS("models", REQ, S, models, n_models, ORC_STATUS_MODELS_MAX, &model_map),
};
#undef S

static const struct orc_field error_f[] = {
	U32("code", REQ, struct orc_msg_error, code, 0, UINT32_MAX),
	STR("name", REQ, struct orc_msg_error, name, 0, STRMAX),
	STR("message", REQ, struct orc_msg_error, message, 0, ORC_PROTO_ERRMSG_MAX),
};

/* ---- values inside arrays ---- */
const struct orc_field orc_field_token_id = I32("token", REQ, struct orc_top, token, 0, INT32_MAX);
const struct orc_field orc_field_logprob = F32("logprob", REQ, struct orc_top, logprob,
					       -FLT_MAX, FLT_MAX, ORC_FF_NEG_INF);
const struct orc_field orc_field_counter = U64("value", REQ, struct orc_counter, value, 0, UINT64_MAX);

/* ---- cross-key rules ---- */
static int check_generate(const struct orc_msg *m, struct orc_err *err)
{
	uint32_t kinds = m->u.generate.has &
		(ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_PROMPT_IDS | ORC_GEN_HAS_MESSAGES);

	if (kinds == 0 || (kinds & (kinds - 1)) != 0)
		return orc_err_set(err, -EINVAL,
				   "generate: exactly one of 'prompt', 'prompt_ids', 'messages' is required");
	if ((kinds & ORC_GEN_HAS_MESSAGES) && m->u.generate.n_messages == 0)
		return orc_err_set(err, -EINVAL, "key 'messages': at least one message is required");
	return 0;
}

static int check_tokens(const struct orc_msg *m, struct orc_err *err)
{
	const struct orc_msg_tokens *t = &m->u.tokens;

	if ((t->has & ORC_TOKENS_HAS_PIECES) && t->pieces.n != t->ids.n)
		return orc_err_set(err, -EINVAL, "key 'pieces': %u pieces for %u ids",
				   t->pieces.n, t->ids.n);
	return 0;
}

static int check_token(const struct orc_msg *m, struct orc_err *err)
{
	if ((m->u.token.has & ORC_TOKEN_HAS_TOP) && !(m->u.token.has & ORC_TOKEN_HAS_LOGPROB))
		return orc_err_set(err, -EINVAL, "key 'top' without 'logprob'");
	return 0;
}

/* ---- the message table ---- */
#define U(member) struct orc_msg_##member
static const struct orc_msgdesc descs[] = {
	{ ORC_MSG_HELLO, "hello", MAP(hello_f, U(hello)), NULL },
	{ ORC_MSG_WELCOME, "welcome", MAP(welcome_f, U(welcome)), NULL },
	{ ORC_MSG_GENERATE, "generate", MAP_HAS(generate_f, U(generate)), check_generate },
	{ ORC_MSG_CANCEL, "cancel", EMPTY, NULL },
	{ ORC_MSG_TOKENIZE, "tokenize", MAP(tokenize_f, U(tokenize)), NULL },
	{ ORC_MSG_DETOKENIZE, "detokenize", MAP(detokenize_f, U(detokenize)), NULL },
	{ ORC_MSG_LOAD, "load", MAP_HAS(load_f, U(load)), NULL },
	{ ORC_MSG_UNLOAD, "unload", MAP(model_name_f, U(model_name)), NULL },
	{ ORC_MSG_LIST, "list", EMPTY, NULL },
	{ ORC_MSG_SHOW, "show", MAP(model_name_f, U(model_name)), NULL },
	{ ORC_MSG_STATUS, "status", EMPTY, NULL },
	{ ORC_MSG_TOKEN, "token", MAP_HAS(token_f, U(token)), check_token },
	{ ORC_MSG_FINAL, "final", MAP(final_f, U(final)), NULL },
	{ ORC_MSG_PROMPT_LOGPROBS, "prompt_logprobs", MAP(prompt_logprobs_f, U(prompt_logprobs)), NULL },
	{ ORC_MSG_PROGRESS, "progress", MAP(progress_f, U(progress)), NULL },
	{ ORC_MSG_TOKENS, "tokens", MAP_HAS(tokens_f, U(tokens)), check_tokens },
	{ ORC_MSG_TEXT, "text", MAP(text_f, U(text)), NULL },
	{ ORC_MSG_MODEL, "model", MAP(model_f, struct orc_model_info), NULL },
	{ ORC_MSG_LIST_END, "list_end", MAP(list_end_f, U(list_end)), NULL },
	{ ORC_MSG_STATUS_RESULT, "status_result", MAP(status_f, U(status_result)), NULL },
	{ ORC_MSG_DONE, "done", EMPTY, NULL },
	{ ORC_MSG_ERROR, "error", MAP(error_f, U(error)), NULL },
};
#undef U

const struct orc_msgdesc *orc_proto_desc(uint32_t type)
{
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
		if (descs[i].type == type)
			return &descs[i];
	return NULL;
}

void orc_msg_init(struct orc_msg *m, uint32_t type, uint32_t id)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->id = id;
	if (type == ORC_MSG_GENERATE)
		m->u.generate.add_special = true;
	else if (type == ORC_MSG_TOKENIZE)
		m->u.tokenize.add_special = true;
}

/* ---- names ---- */
const char *orc_msg_type_name(uint32_t type)
{
	const struct orc_msgdesc *d = orc_proto_desc(type);

	return d ? d->name : "?";
}

const char *orc_wire_stop_name(uint32_t stop)
{
	static const char *const names[] = {
		[ORC_WIRE_STOP_EOG] = "eos", [ORC_WIRE_STOP_LENGTH] = "length", [ORC_WIRE_STOP_STRING] = "stop",
		[ORC_WIRE_STOP_CANCEL] = "cancel", [ORC_WIRE_STOP_CONTEXT] = "context",
		[ORC_WIRE_STOP_SHUTDOWN] = "shutdown",
	};

	return stop >= 1 && stop <= ORC_WIRE_STOP_MAX ? names[stop] : "?";
}

const char *orc_role_name(uint32_t role)
{
	switch (role) {
	case ORC_ROLE_SYSTEM: return "system";
	case ORC_ROLE_USER: return "user";
	case ORC_ROLE_ASSISTANT: return "assistant";
	default: return "?";
	}
}

int orc_proto_check_name(const char *s, uint32_t len, uint64_t max)
{
	if (len == 0 || len > max)
		return -EINVAL;
	if (s[0] == '.')
		return -EINVAL;
	for (uint32_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			return -EINVAL;
		if (c == '.' && i + 1 < len && s[i + 1] == '.')
			return -EINVAL;
	}
	return 0;
}
