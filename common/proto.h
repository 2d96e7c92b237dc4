/* proto.h -- THE orcd wire protocol: message types, keys, value types and
 * limits, plus the codec that turns each message into a plain C struct and
 * back. orcd-protocol(7) follows this comment block; keep both in step, and
 * bump ORC_PROTO_VERSION (limits.h) when a message, key or meaning changes. */
#ifndef ORC_PROTO_H
#define ORC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "limits.h"
#include "occlient.h"   /* enum occ_status: the stable error codes */

/*
 * ---- transport ----
 * A Unix stream socket. Each message travels in a frame: a 4-byte unsigned
 * big-endian length N (ORC_FRAME_MIN..ORC_FRAME_MAX), then exactly N bytes
 * holding ONE MessagePack object. A frame with a zero or oversized length,
 * bytes that are not exactly one object, a nesting deeper than
 * ORC_MSGPACK_DEPTH_MAX, more than ORC_MSGPACK_ITEMS_MAX objects, or a
 * declared array/map/str/bin/ext count larger than the bytes left is a
 * BAD_FRAME: the server answers with an error (id 0) and closes the
 * connection, since it can no longer trust the stream.
 *
 * ---- messages ----
 * Every message is a MessagePack map with string keys. Two keys are common
 * to all messages:
 *   "type"  uint    the message type (enum orc_msg_type), required
 *   "id"    uint    the request id (1..2^32-1); 0 or absent on hello,
 *                   welcome and connection-level errors
 * A client picks request ids; ids of requests in flight on one connection
 * must be distinct (DUPLICATE_ID otherwise). Every reply and event carries
 * the id of the request it answers, so several requests may be in flight on
 * one connection. Each request ends with exactly ONE terminal message:
 *   generate   -> token* [prompt_logprobs*] ... final   | error
 *   tokenize   -> tokens                                 | error
 *   detokenize -> text                                   | error
 *   load       -> progress* model                        | error
 *   unload     -> done                                   | error
 *   list       -> model* list_end                        | error
 *   show       -> model                                  | error
 *   status     -> status_result                          | error
 *   cancel     -> (nothing of its own: the cancelled generate ends with a
 *                 final whose stop reason is ORC_WIRE_STOP_CANCEL; a cancel for
 *                 an id not in flight is ignored, it may have just ended)
 * Decoding rules, for both sides:
 *   - every value is type checked; integers are range checked; float keys
 *     accept any MessagePack float or integer and must be finite; string
 *     keys accept str (bytes keys also bin) and are length checked;
 *   - a missing required key, a wrong type or a value out of range is
 *     BAD_REQUEST, and the message names the key;
 *   - a key given twice is BAD_REQUEST;
 *   - UNKNOWN KEYS ARE IGNORED, so a later minor revision can add optional
 *     keys without a version bump (a newer client's extra options are
 *     silently unsupported by an older server: check the welcome);
 *   - an unknown "type" is UNKNOWN_TYPE (the connection stays open);
 *   - a well-formed frame whose object is not a map, or lacks "type", is
 *     BAD_REQUEST with id 0 (the stream is intact, the connection stays);
 *   - optional keys without a stated default are "unset" when absent (the
 *     struct's `has` bit is clear) and the server applies its own default.
 *
 * ---- handshake ----
 * The client's first message must be hello; the server answers welcome, or
 * error UNSUPPORTED_VERSION and closes. Anything else first is BAD_REQUEST
 * and the connection is closed. A hello must arrive within
 * ORC_HANDSHAKE_TIMEOUT_MS.
 *   hello    0x01  "version" uint (ORC_PROTO_VERSION), "client" str (name/version, <= ORC_PROTO_STR_MAX bytes)
 *   welcome  0x02  "version" uint, "server" str (orcd version), "backend" str (in use),
 *                  "backends" [str] (built in), "frame_max" uint, "inflight_max" uint
 *                  (requests in flight per connection), "max_tokens" uint,
 *                  "ctx_max" uint, "logprobs_max" uint, "stop_max" uint
 *
 * ---- requests (client -> server), 0x10..0x3f ----
 *   generate   0x10  "model" str (required, a file stem: no '/', no "..")
 *                    exactly one of:
 *                      "prompt"      str   raw text (<= ORC_PROMPT_BYTES_MAX; may be empty)
 *                      "prompt_ids"  [uint] token ids (<= ORC_PROMPT_TOKENS_MAX)
 *                      "messages"    [{"role": str, "content": str}] chat, rendered
 *                                    with the model's chat format; role is
 *                                    "system", "user" or "assistant"
 *                    optional (unset -> the engine's default):
 *                      "temperature" float >= 0 (0 = greedy)
 *                      "top_k" int >= 0 (0 = off)      "top_p" float 0..1
 *                      "min_p" float 0..1              "repeat_penalty" float > 0
 *                      "repeat_last_n" int >= -1 (-1 = whole context)
 *                      "presence_penalty" float        "frequency_penalty" float
 *                      "seed" uint (64-bit)            "max_tokens" uint (>= 1)
 *                      "stop" [str] (<= ORC_STOP_STRINGS_MAX, each 1..ORC_STOP_STRING_LEN_MAX)
 *                      "logprobs" uint K (0..ORC_LOGPROBS_TOP_MAX): every token
 *                          event carries its log-probability and the top K
 *                      "prompt_logprobs" uint K: prompt_logprobs events
 *                    with defaults:
 *                      "parse_special" bool (false): control tokens in a raw
 *                          prompt's text are recognised
 *                      "add_special" bool (true): BOS/EOS as the model says (raw prompt)
 *   cancel     0x11  "id" is the request to cancel; no other key
 *   tokenize   0x12  "model" str, "text" str, "add_special" bool (true),
 *                    "parse_special" bool (false), "pieces" bool (false)
 *   detokenize 0x13  "model" str, "ids" [uint], "skip_special" bool (false)
 *   load       0x14  "model" str, optional "keep_alive" int seconds (-1 = forever)
 *   unload     0x15  "model" str
 *   list       0x16  (no keys)
 *   show       0x17  "model" str
 *   status     0x18  (no keys)
 *
 * ---- replies and events (server -> client), 0x40..0x7e ----
 *   token      0x40  "text" str: the text this token completes, always whole
 *                    UTF-8 (may be empty while a character or a possible stop
 *                    string is held back); "token" uint id;
 *                    optional "logprob" float, "top" [[id, logprob], ...]
 *   final      0x41  "stop" uint (enum orc_wire_stop), "text" str (held-back text
 *                    flushed at the end, usually empty), "prompt_tokens" uint,
 *                    "cached_tokens" uint (prompt tokens served from the
 *                    prefix cache), "gen_tokens" uint, "queue_us" "prompt_us"
 *                    "gen_us" "ttft_us" uint (microseconds: waiting in the
 *                    queue, prefill, decode, request received -> first token)
 *   prompt_logprobs 0x42  "offset" uint (prompt position of the first entry),
 *                    "entries" [[id, logprob, [[id, logprob], ...]], ...];
 *                    sent before the first token event, in chunks of at most
 *                    ORC_PROMPT_LOGPROBS_CHUNK entries. Position 0 has no
 *                    log-probability, so the first chunk starts at offset 1.
 *   progress   0x43  "done" uint, "total" uint (bytes of the model loaded)
 *   tokens     0x44  "ids" [uint], "pieces" [bin] (only when asked)
 *   text       0x45  "text" bin (raw bytes: ids may split a character)
 *   model      0x46  a model entry (below): list item, show and load result
 *   list_end   0x47  "count" uint (model messages sent before it)
 *   status_result 0x48  "server" str, "backend" str, "gpu" str (empty: none),
 *                    "counters" {str: uint} (names: ORC_CTR_*; a server sends
 *                    those it measures, a client keeps unknown ones),
 *                    "models" [model entry]
 *   done       0x49  (no keys): unload succeeded
 *   error      0x7f  "code" uint (enum occ_status), "name" str (e.g. "BUSY"),
 *                    "message" str (human readable, names the key/limit/size)
 *
 * ---- errors ----
 * An error reply ends the request it names (id), or with id 0 concerns the
 * connection. "code" is a stable number of enum occ_status (occlient.h),
 * "name" its upper-case name, "message" says what exactly was wrong (the
 * key, the limit, the sizes). Codes sent by orcd:
 *    1 BAD_REQUEST          a key missing, mistyped, out of range, or given twice
 *    2 BAD_FRAME            not a valid frame/MessagePack object (id 0; closed)
 *    3 UNSUPPORTED_VERSION  hello with another protocol version (closed)
 *    4 UNKNOWN_TYPE         unknown or misdirected message type
 *    5 DUPLICATE_ID         the request id is already in flight
 *    6 PERMISSION           the peer is not in allowed_users/allowed_groups
 *    7 NOT_FOUND            no such model
 *    8 BUSY                 the model's queue is full: retry later
 *    9 TOO_MANY_REQUESTS    too many requests in flight on this connection
 *   10 TOO_LARGE            a prompt, count or reply over a limit
 *   11 CONTEXT_OVERFLOW     the prompt (+ max_tokens) does not fit the context
 *   12 MODEL_LOAD_FAILED    the model file could not be loaded
 *   13 NO_MEMORY            the model does not fit the memory budget (sizes in message)
 *   14 CANCELED             the request was cancelled before it completed
 *   15 UNSUPPORTED          not supported here (e.g. chat without a chat format)
 *   16 SHUTTING_DOWN        the daemon is draining
 *   17 INTERNAL             a bug or a backend failure
 * Codes 100 and up are local to libocclient and never travel.
 *
 * ---- limits (limits.h) ----
 * frame ORC_FRAME_MAX (1 MiB); nesting ORC_MSGPACK_DEPTH_MAX (16); objects
 * per frame ORC_MSGPACK_ITEMS_MAX; model name ORC_MODEL_NAME_MAX bytes;
 * prompt ORC_PROMPT_BYTES_MAX bytes or ORC_PROMPT_TOKENS_MAX ids; chat
 * messages ORC_CHAT_MESSAGES_MAX; stop strings ORC_STOP_STRINGS_MAX of at
 * most ORC_STOP_STRING_LEN_MAX bytes; logprobs K <= ORC_LOGPROBS_TOP_MAX;
 * short strings ORC_PROTO_STR_MAX, token/final text ORC_PROTO_TEXT_MAX,
 * error messages ORC_PROTO_ERRMSG_MAX bytes. A daemon may configure lower
 * limits (max_tokens, ctx_max ... in the welcome).
 *
 * A model entry (the "model" message and each element of status "models"):
 *   "name" str, "arch" str, "quant" str (weight type, e.g. "Q8_0"), "size" uint (file bytes),
 *   "resident" bool, "mem" uint (bytes used while resident), "n_params" uint,
 *   "n_ctx_train" "n_ctx" "n_vocab" "n_layer" "n_embd" "n_head" "n_head_kv" uint,
 *   "chat_format" str ("" when none), "pinned" bool, "keep_alive" int (s, -1 forever),
 *   "active" "queued" uint (requests), "oldest_wait_us" uint.
 *   Every key is required; 0 or "" means unknown / not applicable.
 */

/* ---- message types: bump ORC_PROTO_VERSION when these change ---- */
enum orc_msg_type {
	/* 0x01..0x0f: handshake */
	ORC_MSG_HELLO           = 0x01,
	ORC_MSG_WELCOME         = 0x02,
	/* 0x10..0x3f: requests, client -> server */
	ORC_MSG_GENERATE        = 0x10,
	ORC_MSG_CANCEL          = 0x11,
	ORC_MSG_TOKENIZE        = 0x12,
	ORC_MSG_DETOKENIZE      = 0x13,
	ORC_MSG_LOAD            = 0x14,
	ORC_MSG_UNLOAD          = 0x15,
	ORC_MSG_LIST            = 0x16,
	ORC_MSG_SHOW            = 0x17,
	ORC_MSG_STATUS          = 0x18,
	/* 0x40..0x7e: replies and events, server -> client */
	ORC_MSG_TOKEN           = 0x40,
	ORC_MSG_FINAL           = 0x41,
	ORC_MSG_PROMPT_LOGPROBS = 0x42,
	ORC_MSG_PROGRESS        = 0x43,
	ORC_MSG_TOKENS          = 0x44,
	ORC_MSG_TEXT            = 0x45,
	ORC_MSG_MODEL           = 0x46,
	ORC_MSG_LIST_END        = 0x47,
	ORC_MSG_STATUS_RESULT   = 0x48,
	ORC_MSG_DONE            = 0x49,
	/* 0x7f: error, server -> client */
	ORC_MSG_ERROR           = 0x7f,
};

static inline bool orc_msg_is_request(uint32_t t) { return t >= 0x10 && t <= 0x3f; }
static inline bool orc_msg_is_reply(uint32_t t) { return t >= 0x40 && t <= 0x7f; }

/* Why a generation stopped ("stop" in final). Stable numbers. */
enum orc_wire_stop {
	ORC_WIRE_STOP_EOG     = 1,   /* the model produced an end-of-generation token */
	ORC_WIRE_STOP_LENGTH  = 2,   /* max_tokens reached */
	ORC_WIRE_STOP_STRING  = 3,   /* a stop string matched (it is not in the text) */
	ORC_WIRE_STOP_CANCEL  = 4,   /* cancel request, or the client went away */
	ORC_WIRE_STOP_CONTEXT = 5,   /* the sequence's context is full */
	ORC_WIRE_STOP_SHUTDOWN = 6,  /* the daemon is draining (SIGTERM) */
};
#define ORC_WIRE_STOP_MAX 6

enum orc_role { ORC_ROLE_SYSTEM = 1, ORC_ROLE_USER = 2, ORC_ROLE_ASSISTANT = 3 };

/* ---- values ---- */
/* A byte string. Decoded strings are NUL-terminated (the NUL is not counted
 * in len) and owned by the message; strings put in by an encoder's caller
 * are borrowed and need no NUL. */
struct orc_str {
	const char *s;
	uint32_t len;
};

struct orc_strs {           /* an array of strings */
	struct orc_str *v;
	uint32_t n;
};

struct orc_ids {            /* [n] token ids, each 0..INT32_MAX */
	int32_t *v;
	uint32_t n;
};

struct orc_top {            /* one alternative: a token and its log-probability */
	int32_t token;
	float logprob;
};

struct orc_wire_logprob {        /* a chosen token, its log-probability, top K */
	int32_t token;
	float logprob;
	struct orc_top *top;    /* [n_top] */
	uint32_t n_top;
};

struct orc_chat_msg {
	uint32_t role;          /* enum orc_role */
	struct orc_str content;
};

struct orc_counter {
	struct orc_str name;
	uint64_t value;
};

struct orc_model_info {
	struct orc_str name, arch, quant, chat_format;
	uint64_t size, mem, n_params;
	uint32_t n_ctx_train, n_ctx, n_vocab, n_layer, n_embd, n_head, n_head_kv;
	bool resident, pinned;
	int64_t keep_alive;     /* seconds, -1 = forever */
	uint32_t active, queued;
	uint64_t oldest_wait_us;
};

/* ---- one struct per message ---- */
struct orc_msg_hello {
	uint32_t version;
	struct orc_str client;
};

struct orc_msg_welcome {
	uint32_t version;
	struct orc_str server, backend;
	struct orc_strs backends;
	uint32_t frame_max, inflight_max, max_tokens, ctx_max, logprobs_max, stop_max;
};

/* `has` bits of struct orc_msg_generate: set when the key is present. */
#define ORC_GEN_HAS_TEMPERATURE       (1u << 0)
#define ORC_GEN_HAS_TOP_K             (1u << 1)
#define ORC_GEN_HAS_TOP_P             (1u << 2)
#define ORC_GEN_HAS_MIN_P             (1u << 3)
#define ORC_GEN_HAS_REPEAT_PENALTY    (1u << 4)
#define ORC_GEN_HAS_REPEAT_LAST_N     (1u << 5)
#define ORC_GEN_HAS_PRESENCE_PENALTY  (1u << 6)
#define ORC_GEN_HAS_FREQUENCY_PENALTY (1u << 7)
#define ORC_GEN_HAS_SEED              (1u << 8)
#define ORC_GEN_HAS_MAX_TOKENS        (1u << 9)
#define ORC_GEN_HAS_STOP              (1u << 10)
#define ORC_GEN_HAS_LOGPROBS          (1u << 11)
#define ORC_GEN_HAS_PROMPT_LOGPROBS   (1u << 12)
#define ORC_GEN_HAS_PROMPT            (1u << 13)
#define ORC_GEN_HAS_PROMPT_IDS        (1u << 14)
#define ORC_GEN_HAS_MESSAGES          (1u << 15)

struct orc_msg_generate {
	uint32_t has;                 /* ORC_GEN_HAS_* */
	struct orc_str model;
	/* the prompt: exactly one of these three (has PROMPT / PROMPT_IDS / MESSAGES) */
	struct orc_str prompt;
	struct orc_ids prompt_ids;
	struct orc_chat_msg *messages;  /* [n_messages] */
	uint32_t n_messages;
	/* sampling */
	float temperature, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
	int32_t top_k, repeat_last_n;
	uint64_t seed;
	uint32_t max_tokens;
	struct orc_strs stop;
	uint32_t logprobs, prompt_logprobs;   /* K when has LOGPROBS / PROMPT_LOGPROBS */
	bool parse_special, add_special;
};

struct orc_msg_tokenize {
	struct orc_str model, text;
	bool add_special, parse_special, pieces;
};

struct orc_msg_detokenize {
	struct orc_str model;
	struct orc_ids ids;
	bool skip_special;
};

#define ORC_LOAD_HAS_KEEP_ALIVE (1u << 0)
struct orc_msg_load {
	uint32_t has;
	struct orc_str model;
	int64_t keep_alive;           /* seconds, -1 = forever */
};

struct orc_msg_model_name {       /* unload, show */
	struct orc_str model;
};

#define ORC_TOKEN_HAS_LOGPROB (1u << 0)
#define ORC_TOKEN_HAS_TOP     (1u << 1)
struct orc_msg_token {
	uint32_t has;
	struct orc_str text;
	int32_t token;
	float logprob;
	struct orc_top *top;          /* [n_top] */
	uint32_t n_top;
};

struct orc_msg_final {
	uint32_t stop;                /* enum orc_wire_stop */
	struct orc_str text;
	uint32_t prompt_tokens, cached_tokens, gen_tokens;
	uint64_t queue_us, prompt_us, gen_us, ttft_us;
};

struct orc_msg_prompt_logprobs {
	uint32_t offset;
	struct orc_wire_logprob *entries;  /* [n] */
	uint32_t n;
};

struct orc_msg_progress {
	uint64_t done, total;
};

#define ORC_TOKENS_HAS_PIECES (1u << 0)
struct orc_msg_tokens {
	uint32_t has;
	struct orc_ids ids;
	struct orc_strs pieces;       /* [ids.n] when has PIECES */
};

struct orc_msg_text {
	struct orc_str text;
};

struct orc_msg_list_end {
	uint32_t count;
};

struct orc_msg_status_result {
	struct orc_str server, backend, gpu;
	struct orc_counter *counters; /* [n_counters] */
	uint32_t n_counters;
	struct orc_model_info *models; /* [n_models] */
	uint32_t n_models;
};

struct orc_msg_error {
	uint32_t code;                /* enum occ_status; unknown codes are kept */
	struct orc_str name, message;
};

/* Counter names of status_result (issue 6 adds to this list; a name's
 * meaning never changes). Times in microseconds, memory in bytes. */
#define ORC_CTR_UPTIME_S          "uptime_s"
#define ORC_CTR_CONNECTIONS       "connections"
#define ORC_CTR_REQUESTS_ACTIVE   "requests_active"
#define ORC_CTR_REQUESTS_QUEUED   "requests_queued"
#define ORC_CTR_REQUESTS_TOTAL    "requests_total"
#define ORC_CTR_REQUESTS_FAILED   "requests_failed"
#define ORC_CTR_REQUESTS_CANCELED "requests_canceled"
#define ORC_CTR_REQUESTS_BUSY     "requests_busy"       /* refused: queue full */
#define ORC_CTR_TOKENS_IN         "tokens_in"           /* prompt tokens */
#define ORC_CTR_TOKENS_OUT        "tokens_out"          /* generated tokens */
#define ORC_CTR_TOKENS_CACHED     "tokens_cached"       /* prompt tokens from the prefix cache */
#define ORC_CTR_CACHE_HITS        "cache_hits"
#define ORC_CTR_EVICTIONS         "evictions"
#define ORC_CTR_LOADS             "loads"
#define ORC_CTR_QUEUE_OLDEST_US   "queue_oldest_wait_us"
#define ORC_CTR_TTFT_P50_US       "ttft_p50_us"
#define ORC_CTR_TTFT_P99_US       "ttft_p99_us"
#define ORC_CTR_ITL_P50_US        "itl_p50_us"          /* inter-token latency */
#define ORC_CTR_ITL_P99_US        "itl_p99_us"
#define ORC_CTR_MEM_BUDGET        "mem_budget"
#define ORC_CTR_MEM_USED          "mem_used"
#define ORC_CTR_GPU_MEM_TOTAL     "gpu_mem_total"
#define ORC_CTR_GPU_MEM_FREE      "gpu_mem_free"

/* ---- a message ---- */
struct orc_arena;

struct orc_msg {
	uint32_t type;                /* enum orc_msg_type */
	uint32_t id;
	union {
		struct orc_msg_hello hello;
		struct orc_msg_welcome welcome;
		struct orc_msg_generate generate;
		struct orc_msg_tokenize tokenize;
		struct orc_msg_detokenize detokenize;
		struct orc_msg_load load;
		struct orc_msg_model_name unload, show;
		struct orc_msg_token token;
		struct orc_msg_final final;
		struct orc_msg_prompt_logprobs prompt_logprobs;
		struct orc_msg_progress progress;
		struct orc_msg_tokens tokens;
		struct orc_msg_text text;
		struct orc_model_info model;
		struct orc_msg_list_end list_end;
		struct orc_msg_status_result status;
		struct orc_msg_error error;
	} u;                          /* cancel, list, status, done: no body */
	struct orc_arena *arena;      /* owns decoded strings/arrays; NULL when caller-built */
};

/* ---- codec ---- */
struct orc_buf;   /* frame.h */

/* Start a message for encoding: zeroes it, sets type and id, and applies the
 * documented defaults (add_special = true for generate and tokenize). */
void orc_msg_init(struct orc_msg *m, uint32_t type, uint32_t id);

/* Append one complete frame (length + MessagePack) holding `m` to `out`.
 * -EINVAL: the message breaks the schema (names the key: the same checks as
 * the decoder, so nothing we send would be refused); -E2BIG: it would exceed
 * ORC_FRAME_MAX; -ENOMEM. On error `out` is unchanged. */
int orc_proto_encode(const struct orc_msg *m, struct orc_buf *out, struct orc_err *err);

/* Decode one frame's payload (without the 4-byte length). On success *ret
 * owns its strings and arrays: release with orc_msg_clear(). Errors:
 *   -EBADMSG  not exactly one well-formed, bounded MessagePack map (BAD_FRAME)
 *   -EINVAL   a key is missing, duplicated, of the wrong type or out of range
 *             (BAD_REQUEST; the message names the key)
 *   -ENOMSG   unknown message type (UNKNOWN_TYPE)
 *   -ENOMEM
 * On every error except -EBADMSG, ret->type and ret->id hold what could be
 * read (0 when not), so the server can address its error reply; the rest of
 * *ret is cleared and needs no orc_msg_clear(). */
int orc_proto_decode(const void *payload, size_t len, struct orc_msg *ret, struct orc_err *err);

/* Free what a decoded message owns and zero it. NULL and caller-built
 * messages are fine. */
void orc_msg_clear(struct orc_msg *m);

/* 0 when s[0..len) is an acceptable name (a model name, a counter name):
 * 1..max bytes, no '/', '\\', "..", NUL or control bytes, not starting
 * with '.'; -EINVAL otherwise. The codec applies it to every "model" key. */
int orc_proto_check_name(const char *s, uint32_t len, uint64_t max);

/* The wire status for a codec errno (-EBADMSG -> OCC_BAD_FRAME, ...). */
enum occ_status orc_proto_status_from_errno(int neg_errno);

/* Names, for logs and orcctl: "generate"; a stop reason as orcctl's JSON
 * writes it ("eos", "length", "stop", "cancel", "context", "shutdown", the
 * same words as the engine's orc_stop_reason_name()); "?" when unknown. */
const char *orc_msg_type_name(uint32_t type);
const char *orc_wire_stop_name(uint32_t stop);
const char *orc_role_name(uint32_t role);

/* A status code's name ("BUSY") and message ("the model's request queue is
 * full"); "UNKNOWN" / "unknown status code" for codes not in the table. */
const char *orc_status_name(uint32_t code);
const char *orc_status_message(uint32_t code);

/* Fill `m` (ready to encode) as an error reply: the code, its name, and
 * `message`, which is borrowed (it must outlive the encode). */
void orc_msg_error(struct orc_msg *m, uint32_t id, enum occ_status code, const char *message);

#endif
