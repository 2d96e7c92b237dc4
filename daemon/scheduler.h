/* scheduler.h -- orcd's batching scheduler. One worker thread owns all
 * computation: each step it takes newly submitted jobs, drops cancelled
 * ones, admits queued jobs to free decode slots (fairly between
 * connections), and evaluates one batch per resident model in which every
 * decoding sequence adds one token and prefilling sequences add prompt
 * chunks, at most `prefill_chunk` prompt tokens per step in all. So a long
 * prompt delays the tokens of others by at most one chunk's compute per
 * step. Finished and cancelled sequences leave at once. A new sequence
 * starts from the model's cached KV blocks of the longest matching prompt
 * prefix (engine.h, prefix reuse) unless prefix_cache is off; the count is
 * reported in the final event. Results go back to
 * the loop as events (evq.h); the loop never waits for the scheduler. */
#ifndef ORC_SCHEDULER_H
#define ORC_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "evq.h"

struct orc_sched;
struct orc_job;

struct orc_sched_limits {
	uint32_t max_sequences;   /* decode slots per model */
	uint32_t prefill_chunk;   /* prompt tokens per step, over all sequences of a model */
	uint32_t max_tokens;      /* generated tokens when the request sets none */
	bool prefix_cache;        /* start sequences from cached blocks of their prompt's prefix */
};

int orc_sched_start(struct orc_evq *evq, const struct orc_sched_limits *lim,
		    struct orc_sched **ret);
/* Join the thread. Jobs still inside are dropped without events; the caller
 * (which owns them) frees them. */
void orc_sched_stop(struct orc_sched *s);   /* NULL is a no-op */
void orc_sched_set_limits(struct orc_sched *s, const struct orc_sched_limits *lim);

/* Hand a job over (loop thread). Its terminal event comes back through evq. */
void orc_sched_submit(struct orc_sched *s, struct orc_job *j);
/* Make the thread look at cancel flags now. */
void orc_sched_wake(struct orc_sched *s);

#endif
