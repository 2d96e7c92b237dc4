/* limits.h -- every hard limit of orcd, libocclient and orcctl in one place.
 * Anything read from a file, a socket or a command line is checked against
 * these before memory is allocated for it. Change a limit here, and update
 * orcd-protocol(7) when it is a protocol limit. */

/* common/ is on the -I path, so <limits.h> (msgpack.h includes it) finds
 * this file before the system's: pull the system header in as well. Outside
 * the guard, so that it also works when this file was found by "limits.h"
 * relative to a file in common/ (include_next then restarts the search). */
#ifndef CHAR_BIT
#include_next <limits.h>
#endif

#ifndef ORC_LIMITS_H
#define ORC_LIMITS_H

/* ---- protocol (see orcd-protocol(7)) ---- */
#define ORC_PROTO_VERSION          1
#define ORC_FRAME_MAX              (1u << 20)  /* bytes of one MessagePack frame */
#define ORC_FRAME_MIN              1u
#define ORC_MSGPACK_DEPTH_MAX      16          /* nesting of arrays/maps in a frame */
#define ORC_MSGPACK_ITEMS_MAX      (1u << 19)  /* total objects in one frame (keys, values,
						  * elements): room for ORC_PROMPT_TOKENS_MAX ids */
#define ORC_REQUEST_ID_MAX         UINT32_MAX
#define ORC_MODEL_NAME_MAX         128         /* bytes, file stem */
#define ORC_STOP_STRINGS_MAX       16
#define ORC_STOP_STRING_LEN_MAX    256
#define ORC_CHAT_MESSAGES_MAX      1024
#define ORC_LOGPROBS_TOP_MAX       20
#define ORC_SAMPLE_TOPK_MAX        128         /* top_k up to this samples from candidates the
						  * backend picks (GPU: only they reach the host) */
#define ORC_PROMPT_LOGPROBS_CHUNK  1024        /* entries in one prompt_logprobs event */
#define ORC_PROTO_STR_MAX          256         /* bytes of a short string (version, arch, ...) */
#define ORC_PROTO_TEXT_MAX         (64u << 10) /* bytes of text in one token/final event */
#define ORC_PROTO_ERRMSG_MAX       4096        /* bytes of an error reply's message */
#define ORC_PROTO_BACKENDS_MAX     8
#define ORC_STATUS_COUNTERS_MAX    256
#define ORC_STATUS_MODELS_MAX      1024
#define ORC_WRITE_QUEUE_MAX        (8u << 20)  /* bytes buffered for one slow client */
#define ORC_HANDSHAKE_TIMEOUT_MS   10000
#define ORC_PARTIAL_FRAME_TIMEOUT_MS 30000    /* a started frame must complete by then */

/* ---- daemon defaults (overridable in orcd.conf, never above the caps) ---- */
#define ORC_MAX_CONNECTIONS_DEFAULT  256
#define ORC_MAX_CONNECTIONS_CAP      65536
#define ORC_MAX_QUEUED_DEFAULT       256
#define ORC_MAX_INFLIGHT_PER_CONN    64
#define ORC_SESSIONS_MAX             256       /* sequences decoding at once */
#define ORC_DRAIN_TIMEOUT_MS         10000     /* SIGTERM: finish or cancel by then */

/* ---- prompts and generation ---- */
#define ORC_PROMPT_BYTES_MAX       (512u << 10) /* raw prompt text */
#define ORC_PROMPT_TOKENS_MAX      131072
#define ORC_CTX_MAX                131072      /* tokens in one sequence's KV cache */
#define ORC_MAX_TOKENS_CAP         131072      /* generated tokens per request */

/* ---- GGUF files ---- */
#define ORC_GGUF_MAX_DIMS          4
#define ORC_GGUF_KEY_MAX           65535       /* bytes of a metadata key */
#define ORC_GGUF_NAME_MAX          64          /* bytes of a tensor name (ggml's GGML_MAX_NAME) */
#define ORC_GGUF_ARRAY_DEPTH_MAX   8           /* nested metadata arrays */
#define ORC_GGUF_DEFAULT_ALIGNMENT 32

/* ---- model geometry sanity caps (a file claiming more is refused) ---- */
#define ORC_MODEL_LAYERS_MAX       512
#define ORC_MODEL_VOCAB_MAX        (1u << 22)
#define ORC_MODEL_HEADS_MAX        1024
#define ORC_MODEL_EMBD_MAX         (1u << 16)
#define ORC_MODEL_FF_MAX           (1u << 20)  /* feed-forward width */

/* ---- tokenizer ---- */
#define ORC_TOKEN_PIECE_MAX        1024        /* bytes of one vocabulary entry */
#define ORC_TOK_TEXT_MAX           (1u << 30)  /* bytes of text in one encode call */

/* ---- CPU backend ---- */
#define ORC_THREADS_MAX            256

/* ---- config file ---- */
#define ORC_CONF_LINE_MAX          4096
#define ORC_CONF_LIST_MAX          64

#endif
