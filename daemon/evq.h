/* evq.h -- events from orcd's worker threads (scheduler, loader) to the
 * event loop: a mutex-protected list plus an eventfd the loop watches.
 * Workers allocate an event, fill it and push it; the loop takes the whole
 * list at once and frees each event after handling it. */
#ifndef ORC_EVQ_H
#define ORC_EVQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct orc_job;
struct orc_model;
struct orc_reg_model;

enum orc_ev_type {
	ORC_EV_TOKEN,            /* a generated token (job) */
	ORC_EV_PROMPT_LOGPROBS,  /* a chunk of prompt log-probabilities (job) */
	ORC_EV_FINAL,            /* generation ended (job, terminal) */
	ORC_EV_ERROR,            /* the job failed (job, terminal) */
	ORC_EV_TOKENS,           /* tokenize result (job, terminal) */
	ORC_EV_TEXT,             /* detokenize result (job, terminal) */
	ORC_EV_LOAD_PROGRESS,    /* bytes loaded (entry) */
	ORC_EV_LOAD_DONE,        /* model loaded or failed (entry) */
	ORC_EV_FREED,            /* model freed (entry) */
};

struct orc_ev_top {
	int32_t token;
	float logprob;
};

/* One prompt position: the token, its log-probability and the top K. */
struct orc_ev_plp {
	int32_t token;
	float logprob;
	struct orc_ev_top *top;  /* [n_top] */
	uint32_t n_top;
};

struct orc_event {
	struct orc_event *next;
	enum orc_ev_type type;
	struct orc_job *job;
	struct orc_reg_model *entry;
	/* payloads (owned by the event, freed by orc_event_free) */
	char *text;              /* TOKEN, FINAL, TEXT: bytes (NUL-terminated) */
	size_t text_len;
	int32_t *ids;            /* TOKENS */
	uint32_t n_ids;
	char **pieces;           /* TOKENS: [n_ids] bytes, lengths in piece_lens; NULL unless asked */
	uint32_t *piece_lens;
	struct orc_ev_top *top;  /* TOKEN: [n_top] */
	uint32_t n_top;
	struct orc_ev_plp *plp;  /* PROMPT_LOGPROBS: [n_plp] */
	uint32_t n_plp;
	union {
		struct { int32_t token; bool has_logprob; float logprob; } token;
		struct { uint32_t offset; } plp;
		struct {
			uint32_t stop, prompt_tokens, cached_tokens, gen_tokens;
			uint64_t queue_us, prompt_us, gen_us, ttft_us;
		} final;
		struct { uint32_t code; char msg[512]; } error;     /* code: enum occ_status */
		struct { uint64_t done, total; } progress;
		struct { struct orc_model *model; int err; char msg[512]; } load;
	} u;
};

struct orc_evq {
	pthread_mutex_t lock;
	struct orc_event *head, **tail;
	int efd;                 /* eventfd: readable while events wait */
};

int orc_evq_init(struct orc_evq *q);
void orc_evq_destroy(struct orc_evq *q);   /* frees events still queued */

struct orc_event *orc_event_new(enum orc_ev_type type);  /* zeroed; NULL on ENOMEM */
void orc_event_free(struct orc_event *e);                  /* NULL is a no-op */
int orc_event_set_text(struct orc_event *e, const char *s, size_t len);

void orc_evq_push(struct orc_evq *q, struct orc_event *e);   /* any thread */
/* Push a chain of events linked through ->next (head..tail) at once. */
void orc_evq_push_list(struct orc_evq *q, struct orc_event *head, struct orc_event *tail);
/* Loop thread: take every queued event, oldest first; clears the eventfd. */
struct orc_event *orc_evq_take(struct orc_evq *q);

#endif
