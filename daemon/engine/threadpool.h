/* threadpool.h -- a fixed pool of worker threads for the CPU backend. One
 * job at a time: orc_pool_run() calls fn(ctx, item, ith) once for every
 * item 0..n_items-1. The caller (thread 0) and the workers claim items
 * from a shared counter, so a worker that the OS has preempted never holds
 * the job up: one that arrives after the items are gone does not join, and
 * the caller waits only for workers still inside an item. Workers spin
 * briefly between jobs, then sleep on a condition variable. */
#ifndef ORC_THREADPOOL_H
#define ORC_THREADPOOL_H

#include <stdint.h>

#include "error.h"

struct orc_pool;

/* ith (0 = the caller) identifies the thread, e.g. to pick its scratch. */
typedef void (*orc_pool_fn)(void *ctx, uint32_t item, int ith);

/* n_threads >= 1 (the caller counts as one). */
int orc_pool_new(int n_threads, struct orc_pool **ret, struct orc_err *err);
void orc_pool_free(struct orc_pool *p);   /* NULL is a no-op; joins the workers */
int orc_pool_size(const struct orc_pool *p);
/* Not reentrant: call from one thread at a time, never from inside fn. */
void orc_pool_run(struct orc_pool *p, orc_pool_fn fn, void *ctx, uint32_t n_items);

/* The cores this process may run on (sched_getaffinity), at least 1. */
int orc_cpu_count(void);

#endif
