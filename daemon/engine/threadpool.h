/* threadpool.h -- a fixed pool of worker threads for the CPU backend. One
 * job at a time: orc_pool_run() runs fn(ctx, ith, nth) for ith = 0..nth-1,
 * the caller being thread 0, and returns when all have finished. Workers
 * spin briefly between jobs, then sleep on a condition variable. */
#ifndef ORC_THREADPOOL_H
#define ORC_THREADPOOL_H

#include "error.h"

struct orc_pool;

typedef void (*orc_pool_fn)(void *ctx, int ith, int nth);

/* n_threads >= 1 (the caller counts as one). */
int orc_pool_new(int n_threads, struct orc_pool **ret, struct orc_err *err);
void orc_pool_free(struct orc_pool *p);   /* NULL is a no-op; joins the workers */
int orc_pool_size(const struct orc_pool *p);
/* Not reentrant: call from one thread at a time, never from inside fn. */
void orc_pool_run(struct orc_pool *p, orc_pool_fn fn, void *ctx);

/* The cores this process may run on (sched_getaffinity), at least 1. */
int orc_cpu_count(void);

/* The [begin, end) share of thread ith out of nth for n items (contiguous, balanced). */
static inline void orc_pool_share(int ith, int nth, unsigned long n,
				  unsigned long *ret_begin, unsigned long *ret_end)
{
	*ret_begin = (unsigned long)((unsigned long long)n * (unsigned)ith / (unsigned)nth);
	*ret_end = (unsigned long)((unsigned long long)n * (unsigned)(ith + 1) / (unsigned)nth);
}

#endif
