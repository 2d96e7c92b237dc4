/* job.h -- one request that needs a resident model (generate, tokenize,
 * detokenize), as the event loop hands it to the scheduler thread.
 * Ownership: the loop thread creates and frees a job; between submission
 * and the job's terminal event the scheduler reads it, and the only field
 * either side writes in that time is `cancel` (atomic). This header stays
 * free of the protocol's and the sampler's headers so that both sides can
 * include it. */
#ifndef ORC_JOB_H
#define ORC_JOB_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "chat_template.h"

struct orc_event;
struct orc_model;
struct orc_reg_model;

enum orc_job_kind { ORC_JOB_GENERATE, ORC_JOB_TOKENIZE, ORC_JOB_DETOKENIZE };

enum orc_job_prompt { ORC_JOB_PROMPT_TEXT, ORC_JOB_PROMPT_IDS, ORC_JOB_PROMPT_CHAT };

/* Sampling options; a bit in `has` (same numbering as the protocol's
 * ORC_GEN_HAS_*) says the client set the value, else the sampler's default. */
struct orc_job_sampling {
	uint32_t has;
	float temperature, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
	int32_t top_k, repeat_last_n;
	uint64_t seed;
};

/* Why the scheduler is asked to stop a job (values of enum orc_stop). */
#define ORC_JOB_CANCEL_CLIENT   4
#define ORC_JOB_CANCEL_SHUTDOWN 6

struct orc_job {
	enum orc_job_kind kind;
	uint64_t conn_id;
	uint32_t req_id;
	uid_t uid;
	pid_t pid;

	/* loop thread only */
	struct orc_reg_model *entry;
	struct orc_job *entry_prev, *entry_next;   /* the model's live jobs */
	bool submitted;                            /* handed to the scheduler */
	uint64_t last_token_us;                    /* inter-token latency */

	/* scheduler thread only */
	struct orc_job *sched_next;
	struct orc_event *term;      /* allocated with the job: its terminal event,
					so ending a job never needs memory */

	/* set before submission, read-only afterwards */
	struct orc_model *model;
	struct orc_chat_format chat;
	uint64_t t_received_us;                    /* CLOCK_MONOTONIC */

	/* the input */
	enum orc_job_prompt prompt;
	char *text;                  /* prompt / tokenize text; NUL-terminated */
	size_t text_len;
	int32_t *ids;                /* prompt_ids / detokenize ids */
	uint32_t n_ids;
	struct orc_chat_turn *turns; /* contents point into turns_blob */
	size_t n_turns;
	char *turns_blob;
	bool add_special, parse_special, pieces, skip_special;

	/* generation options */
	struct orc_job_sampling sp;
	uint32_t max_tokens;
	char **stop;
	size_t n_stop;
	int32_t logprobs;            /* top K per token; -1 = no logprobs */
	int32_t prompt_logprobs;     /* top K per prompt position; -1 = none */

	/* shared with the scheduler */
	atomic_int cancel;           /* 0, or ORC_JOB_CANCEL_* */
	atomic_bool started;         /* admitted to a decode slot */
	_Atomic uint64_t t_started_us;
};

void orc_job_free(struct orc_job *j);   /* NULL is a no-op */
uint64_t orc_now_us(void);

#endif
