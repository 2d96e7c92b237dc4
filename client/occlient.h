/* occlient.h -- libocclient, the client library of orcd: connect to the
 * daemon's Unix socket, stream generations, tokenize, and manage models.
 * It never prints and never exits. Handles are not shared between threads:
 * use one connection per thread. See libocclient(3). */
#ifndef OCCLIENT_H
#define OCCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stable status codes. 1..99 travel on the wire (orcd-protocol(7)); 100 and
 * up are local to the library. Numbers never change meaning. A newer daemon
 * may send a code in 1..99 that this header lacks: it is returned as is
 * (occ_status_name() says "UNKNOWN"), so treat unknown codes as failures. */
enum occ_status {
	OCC_OK                  = 0,
	/* ---- sent by orcd ---- */
	OCC_BAD_REQUEST         = 1,   /* a key is missing, mistyped or out of range */
	OCC_BAD_FRAME           = 2,   /* the stream is not valid frames; connection closed */
	OCC_UNSUPPORTED_VERSION = 3,   /* protocol version mismatch at hello */
	OCC_UNKNOWN_TYPE        = 4,   /* unknown message type */
	OCC_DUPLICATE_ID        = 5,   /* request id already in flight on this connection */
	OCC_PERMISSION          = 6,   /* peer not in allowed_users/allowed_groups */
	OCC_NOT_FOUND           = 7,   /* no such model */
	OCC_BUSY                = 8,   /* the model's request queue is full: retry later */
	OCC_TOO_MANY_REQUESTS   = 9,   /* too many requests in flight on this connection */
	OCC_TOO_LARGE           = 10,  /* a prompt, reply or count over a limit */
	OCC_CONTEXT_OVERFLOW    = 11,  /* prompt (+ max_tokens) does not fit the context */
	OCC_MODEL_LOAD_FAILED   = 12,  /* the model file could not be loaded */
	OCC_NO_MEMORY           = 13,  /* the model does not fit the memory budget (sizes in the message) */
	OCC_CANCELED            = 14,  /* the request was cancelled before it completed */
	OCC_UNSUPPORTED         = 15,  /* not supported by this model or server (e.g. no chat format) */
	OCC_SHUTTING_DOWN       = 16,  /* the daemon is stopping */
	OCC_INTERNAL            = 17,  /* a bug or backend failure in orcd */
	/* ---- local to libocclient, never on the wire ---- */
	OCC_CONNECT             = 100, /* could not connect to the socket */
	OCC_DISCONNECTED        = 101, /* the daemon closed the connection */
	OCC_PROTOCOL            = 102, /* the daemon sent something malformed or unexpected */
	OCC_INVALID_ARGUMENT    = 103, /* a bad argument to a library call */
	OCC_TIMEOUT             = 104, /* nothing arrived within the timeout */
	OCC_IO                  = 105, /* a socket error */
	OCC_ALLOC_FAILED        = 106, /* out of memory in the client */
};

/* "the model's request queue is full"; never NULL. */
const char *occ_strerror(enum occ_status s);
/* "BUSY"; "UNKNOWN" for a code this library does not know. */
const char *occ_status_name(enum occ_status s);
/* The library's version, e.g. "0.1.0". */
const char *occ_version(void);

/* Why a generation stopped. */
enum occ_stop {
	OCC_STOP_NONE     = 0,   /* not finished */
	OCC_STOP_EOG      = 1,   /* end-of-generation token */
	OCC_STOP_LENGTH   = 2,   /* max_tokens reached */
	OCC_STOP_STRING   = 3,   /* a stop string matched */
	OCC_STOP_CANCEL   = 4,   /* cancelled */
	OCC_STOP_CONTEXT  = 5,   /* context full */
	OCC_STOP_SHUTDOWN = 6,   /* the daemon is stopping */
};
const char *occ_stop_name(enum occ_stop s);   /* "eos", "length", ... */

/* ---- connections ---- */
#define OCC_DEFAULT_SOCKET "/run/orcd/orcd.sock"

typedef struct occ_conn occ_conn;

/* Connect and handshake. `path` NULL: $ORCD_SOCKET, else OCC_DEFAULT_SOCKET.
 * On failure *ret is NULL; occ_last_error() may say more. */
enum occ_status occ_connect(const char *path, occ_conn **ret);
/* Handshake over an already-connected stream socket; takes ownership of fd
 * (it is closed on failure too). */
enum occ_status occ_connect_fd(int fd, occ_conn **ret);
/* Close; cancels nothing explicitly: the daemon cancels what was in flight. */
void occ_close(occ_conn *c);   /* NULL is a no-op */

/* The detail of the last failure on this connection (the daemon's message
 * or the system error), "" when none. Valid until the next call. */
const char *occ_conn_error(const occ_conn *c);
/* The detail of the last occ_connect*() failure in this thread. */
const char *occ_last_error(void);
/* The socket, for poll(2): readable means occ_gen_next() has work. */
int occ_conn_fd(const occ_conn *c);
/* From the daemon's welcome. */
const char *occ_server_version(const occ_conn *c);
const char *occ_server_backend(const occ_conn *c);
uint32_t occ_server_max_tokens(const occ_conn *c);

/* ---- generation requests ---- */
typedef struct occ_gen_req occ_gen_req;

occ_gen_req *occ_gen_req_new(const char *model);   /* NULL: out of memory or bad name */
void occ_gen_req_free(occ_gen_req *r);
/* The prompt: set exactly one kind (raw text, token ids, or chat messages). */
enum occ_status occ_gen_req_prompt(occ_gen_req *r, const char *text, size_t len);
enum occ_status occ_gen_req_prompt_ids(occ_gen_req *r, const int32_t *ids, size_t n);
/* role: "system", "user" or "assistant". */
enum occ_status occ_gen_req_add_message(occ_gen_req *r, const char *role, const char *content);
/* Sampling; an option not set takes the daemon's default. Each setter checks
 * its range and returns OCC_INVALID_ARGUMENT when it is out of range. */
enum occ_status occ_gen_req_temperature(occ_gen_req *r, float t);        /* >= 0 */
enum occ_status occ_gen_req_top_k(occ_gen_req *r, int32_t k);            /* >= 0 */
enum occ_status occ_gen_req_top_p(occ_gen_req *r, float p);              /* 0..1 */
enum occ_status occ_gen_req_min_p(occ_gen_req *r, float p);              /* 0..1 */
enum occ_status occ_gen_req_repeat_penalty(occ_gen_req *r, float p);     /* > 0 */
enum occ_status occ_gen_req_repeat_last_n(occ_gen_req *r, int32_t n);    /* >= -1 */
enum occ_status occ_gen_req_presence_penalty(occ_gen_req *r, float p);
enum occ_status occ_gen_req_frequency_penalty(occ_gen_req *r, float p);
enum occ_status occ_gen_req_seed(occ_gen_req *r, uint64_t seed);
enum occ_status occ_gen_req_max_tokens(occ_gen_req *r, uint32_t n);      /* >= 1 */
enum occ_status occ_gen_req_add_stop(occ_gen_req *r, const char *stop);
enum occ_status occ_gen_req_logprobs(occ_gen_req *r, uint32_t top_k);        /* 0..20 */
enum occ_status occ_gen_req_prompt_logprobs(occ_gen_req *r, uint32_t top_k); /* 0..20 */
enum occ_status occ_gen_req_parse_special(occ_gen_req *r, bool on);      /* default false */
enum occ_status occ_gen_req_add_special(occ_gen_req *r, bool on);        /* default true */

/* ---- generation ---- */
typedef struct occ_gen occ_gen;
typedef struct occ_token occ_token;

/* Callback style: blocks until the generation ends, calling `fn` for each
 * token as it arrives. `fn` returns 0 to go on, nonzero to cancel (the call
 * then still waits for the end, whose stop reason is OCC_STOP_CANCEL).
 * On OCC_OK and ret non-NULL, *ret is the finished generation (free it with
 * occ_gen_free). A server error for this request is returned as its code. */
typedef int (*occ_token_fn)(void *user, const occ_token *tok);
enum occ_status occ_generate(occ_conn *c, const occ_gen_req *r, occ_token_fn fn, void *user,
			     occ_gen **ret);

/* Iterator style: start, then call occ_gen_next() until it gives NULL.
 * Several generations may be in flight on one connection. */
enum occ_status occ_gen_start(occ_conn *c, const occ_gen_req *r, occ_gen **ret);
/* Wait up to timeout_ms (-1 forever, 0 not at all) for the next token.
 * OCC_OK with *ret_tok set: a token (valid until the next call on this
 * connection); OCC_OK with *ret_tok NULL: the generation is finished;
 * OCC_TIMEOUT: nothing yet; other codes: it failed. */
enum occ_status occ_gen_next(occ_gen *g, int timeout_ms, const occ_token **ret_tok);
/* Ask the daemon to stop; keep calling occ_gen_next() to collect the end. */
enum occ_status occ_cancel(occ_gen *g);
/* An unfinished generation is cancelled; its remaining events are dropped
 * as they arrive. The connection must still be open or already closed. */
void occ_gen_free(occ_gen *g);

bool occ_gen_finished(const occ_gen *g);
uint32_t occ_gen_id(const occ_gen *g);
/* All text so far (tokens and the final flush), NUL-terminated. */
const char *occ_gen_text(const occ_gen *g, size_t *ret_len);
size_t occ_gen_n_tokens(const occ_gen *g);
const occ_token *occ_gen_token(const occ_gen *g, size_t i);   /* NULL out of range */
enum occ_stop occ_gen_stop(const occ_gen *g);
uint32_t occ_gen_prompt_tokens(const occ_gen *g);
uint32_t occ_gen_cached_tokens(const occ_gen *g);   /* prompt tokens from the prefix cache */
uint32_t occ_gen_gen_tokens(const occ_gen *g);
enum occ_time { OCC_TIME_QUEUE, OCC_TIME_PROMPT, OCC_TIME_GEN, OCC_TIME_TTFT };
uint64_t occ_gen_time_us(const occ_gen *g, enum occ_time which);
/* Prompt log-probabilities (when asked): position `pos` of the prompt, 1..
 * occ_gen_n_prompt_logprobs(); NULL when the daemon sent none for it. */
size_t occ_gen_n_prompt_logprobs(const occ_gen *g);
const occ_token *occ_gen_prompt_logprob(const occ_gen *g, size_t pos);

/* A token: its text piece (complete UTF-8, may be empty), id, and, when
 * asked, its log-probability and the top alternatives. */
const char *occ_token_text(const occ_token *t, size_t *ret_len);
int32_t occ_token_id(const occ_token *t);
bool occ_token_logprob(const occ_token *t, float *ret);     /* false: not asked */
size_t occ_token_n_top(const occ_token *t);
bool occ_token_top(const occ_token *t, size_t i, int32_t *ret_id, float *ret_logprob);

/* ---- tokenizer ---- */
#define OCC_TOK_ADD_SPECIAL   0x1u  /* add BOS/EOS as the model says */
#define OCC_TOK_PARSE_SPECIAL 0x2u  /* recognise control tokens in the text */
#define OCC_TOK_PIECES        0x4u  /* also return each token's vocabulary piece */
#define OCC_DETOK_SKIP_SPECIAL 0x1u

typedef struct occ_tokens occ_tokens;
enum occ_status occ_tokenize(occ_conn *c, const char *model, const char *text, size_t len,
			     unsigned flags, occ_tokens **ret);
size_t occ_tokens_count(const occ_tokens *t);
const int32_t *occ_tokens_ids(const occ_tokens *t);
/* The raw piece bytes of token i; NULL without OCC_TOK_PIECES. */
const char *occ_tokens_piece(const occ_tokens *t, size_t i, size_t *ret_len);
void occ_tokens_free(occ_tokens *t);

/* *ret_text is malloc'ed and NUL-terminated (raw bytes: ids may split a
 * UTF-8 character); release it with occ_free(). */
enum occ_status occ_detokenize(occ_conn *c, const char *model, const int32_t *ids, size_t n,
			       unsigned flags, char **ret_text, size_t *ret_len);
void occ_free(void *p);

/* ---- models ---- */
typedef struct occ_model occ_model;
typedef struct occ_model_list occ_model_list;

enum occ_model_field {
	OCC_MODEL_SIZE, OCC_MODEL_MEM, OCC_MODEL_N_PARAMS, OCC_MODEL_N_CTX_TRAIN, OCC_MODEL_N_CTX,
	OCC_MODEL_N_VOCAB, OCC_MODEL_N_LAYER, OCC_MODEL_N_EMBD, OCC_MODEL_N_HEAD,
	OCC_MODEL_N_HEAD_KV, OCC_MODEL_RESIDENT, OCC_MODEL_PINNED, OCC_MODEL_ACTIVE,
	OCC_MODEL_QUEUED, OCC_MODEL_OLDEST_WAIT_US,
};
const char *occ_model_name(const occ_model *m);
const char *occ_model_arch(const occ_model *m);
const char *occ_model_quant(const occ_model *m);   /* weight type, e.g. "Q8_0" */
const char *occ_model_chat_format(const occ_model *m);   /* "" when none */
uint64_t occ_model_get(const occ_model *m, enum occ_model_field f);  /* 0: unknown */
int64_t occ_model_keep_alive(const occ_model *m);        /* seconds, -1 forever */
void occ_model_free(occ_model *m);

enum occ_status occ_models(occ_conn *c, occ_model_list **ret);
size_t occ_model_list_count(const occ_model_list *l);
const occ_model *occ_model_list_get(const occ_model_list *l, size_t i);
void occ_model_list_free(occ_model_list *l);

/* Load progress: bytes done of total. */
typedef void (*occ_progress_fn)(void *user, uint64_t done, uint64_t total);
#define OCC_KEEP_ALIVE_DEFAULT INT64_MIN   /* the daemon's configured keep_alive */
#define OCC_KEEP_ALIVE_FOREVER (-1)
/* ret may be NULL; otherwise *ret describes the loaded model. */
enum occ_status occ_load(occ_conn *c, const char *model, int64_t keep_alive_s,
			 occ_progress_fn fn, void *user, occ_model **ret);
enum occ_status occ_unload(occ_conn *c, const char *model);
enum occ_status occ_show(occ_conn *c, const char *model, occ_model **ret);

/* ---- daemon status ---- */
typedef struct occ_stats occ_stats;
enum occ_status occ_server_status(occ_conn *c, occ_stats **ret);
const char *occ_stats_server(const occ_stats *s);    /* orcd version */
const char *occ_stats_backend(const occ_stats *s);
const char *occ_stats_gpu(const occ_stats *s);       /* "" without a GPU */
/* Counters by name ("tokens_out", see orcd-protocol(7)); false when the
 * daemon did not send that one. */
bool occ_stats_counter(const occ_stats *s, const char *name, uint64_t *ret);
size_t occ_stats_n_counters(const occ_stats *s);
bool occ_stats_counter_at(const occ_stats *s, size_t i, const char **ret_name, uint64_t *ret);
size_t occ_stats_n_models(const occ_stats *s);
const occ_model *occ_stats_model(const occ_stats *s, size_t i);
void occ_stats_free(occ_stats *s);

#ifdef __cplusplus
}
#endif

#endif
