/* scheduler_impl.h -- what scheduler.c (the thread, admission, steps) and
 * sched_events.c (the events it sends back: tokens, log-probabilities,
 * finals, errors, tokenize results) share. Private to those two files.
 * gen.h is included here, so proto.h must not be (both name ORC_STOP_*). */
#ifndef ORC_SCHEDULER_IMPL_H
#define ORC_SCHEDULER_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "gen.h"
#include "job.h"
#include "occlient.h"
#include "scheduler.h"

/* Values of the protocol's enum orc_stop (proto.h cannot be included next to
 * gen.h: both name ORC_STOP_LENGTH). */
#define WIRE_STOP_EOG    1
#define WIRE_STOP_LENGTH 2
#define WIRE_STOP_STRING 3

struct slot {
	struct orc_job *job;
	struct orc_gen *gen;
	struct orc_seq *seq;
	int32_t *prompt;             /* [n_prompt] */
	uint32_t n_prompt;
	uint32_t fed;                /* prompt tokens evaluated so far (cached ones included) */
	uint32_t n_cached;           /* prompt tokens served from the prefix cache */
	uint32_t n_gen;
	uint64_t t_admit_us, t_first_us, t_last_us;
	struct slot *next;
};

struct smodel {
	struct orc_model *model;
	struct orc_job *qhead, *qtail;   /* waiting for a slot, oldest first */
	struct slot *slots;              /* running, in admission order */
	uint32_t n_slots;
	bool seq_full;                   /* the engine refused a sequence this step */
	struct smodel *next;
};

struct orc_sched {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct orc_job *inbox, **inbox_tail;
	bool stop, woken;
	struct orc_sched_limits lim;
	struct orc_evq *evq;

	/* scheduler thread only */
	struct smodel *models;
	struct orc_event *out_head, *out_tail;
	struct orc_sched_limits cur;     /* lim as of this step */
	struct orc_eval_item *items;     /* [cap] */
	struct slot **item_slots;        /* [cap] */
	uint32_t *starts;                /* [cap] position of each item's first token */
	size_t cap;
};

void orc_sched_emit(struct orc_sched *s, struct orc_event *e);
void orc_sched_flush(struct orc_sched *s);
/* The job's preallocated terminal event, as an error or a final. */
void orc_sched_job_error(struct orc_sched *s, struct orc_job *j, enum occ_status code,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void orc_sched_job_final(struct orc_sched *s, struct orc_job *j, uint32_t stop);
/* Tokenize and detokenize jobs: answered at once. */
void orc_sched_tokenize(struct orc_sched *s, struct orc_job *j, const struct orc_tok *tok);
void orc_sched_detokenize(struct orc_sched *s, struct orc_job *j, const struct orc_tok *tok);
/* A token event with the log-probabilities asked for (row: its logits). */
struct orc_event *orc_sched_token_event(struct orc_job *j, const struct orc_gen_event *gev,
					const float *row, uint32_t n_vocab);
/* Prompt log-probabilities of a prefill chunk evaluated with logits_all. */
void orc_sched_prompt_logprobs(struct orc_sched *s, struct slot *sl,
			       const struct orc_eval_item *it, uint32_t start, uint32_t n_vocab);
uint32_t orc_sched_wire_stop(enum orc_stop_reason r);

#endif
