/* threadpool.c -- the CPU backend's worker threads (see threadpool.h).
 * A job is published by bumping a generation counter; workers notice it by
 * spinning for a short while, or are woken from their condition variable.
 * `join` holds the number of workers inside the job plus a CLOSED bit: a
 * worker enters only while the bit is clear; the caller sets it once the
 * items are all claimed, then waits for the workers still inside. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "limits.h"
#include "threadpool.h"

#define SPIN_ITERS 10000          /* polls before sleeping (some hundred microseconds) */
#define CLOSED     0x80000000u

struct worker {
	struct orc_pool *pool;
	pthread_t thread;
	int ith;
};

struct orc_pool {
	int n;                       /* threads, caller included */
	struct worker *workers;      /* n - 1 */
	int n_started;
	pthread_mutex_t mu;
	pthread_cond_t wake;         /* a new generation, or stop */
	pthread_cond_t done;         /* the last worker left a closed job */
	atomic_uint gen;
	atomic_uint join;            /* CLOSED | workers inside the job */
	atomic_uint next;            /* the next item to claim */
	atomic_bool stop;
	/* the current job: written while join is CLOSED, before it opens */
	orc_pool_fn fn;
	void *ctx;
	uint32_t n_items;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

int orc_cpu_count(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

static void run_items(struct orc_pool *p, int ith)
{
	uint32_t i;

	while ((i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed)) < p->n_items)
		p->fn(p->ctx, i, ith);
}

static unsigned wait_generation(struct orc_pool *p, unsigned seen)
{
	unsigned g;

	for (int i = 0; i < SPIN_ITERS; i++) {
		g = atomic_load_explicit(&p->gen, memory_order_acquire);
		if (g != seen || atomic_load(&p->stop))
			return g;
		cpu_relax();
	}
	pthread_mutex_lock(&p->mu);
	while ((g = atomic_load(&p->gen)) == seen && !atomic_load(&p->stop))
		pthread_cond_wait(&p->wake, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return g;
}

/* Enter the current job unless it is closed. */
static bool try_join(struct orc_pool *p)
{
	unsigned w = atomic_load_explicit(&p->join, memory_order_relaxed);

	while (!(w & CLOSED))
		if (atomic_compare_exchange_weak_explicit(&p->join, &w, w + 1, memory_order_acquire,
							  memory_order_relaxed))
			return true;
	return false;
}

static void leave(struct orc_pool *p)
{
	if (atomic_fetch_sub_explicit(&p->join, 1, memory_order_acq_rel) == (CLOSED | 1)) {
		pthread_mutex_lock(&p->mu);
		pthread_cond_signal(&p->done);
		pthread_mutex_unlock(&p->mu);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct orc_pool *p = w->pool;
	unsigned seen = 0;

	for (;;) {
		seen = wait_generation(p, seen);
		if (atomic_load(&p->stop))
			break;
		if (!try_join(p))
			continue;
		run_items(p, w->ith);
		leave(p);
	}
	return NULL;
}

int orc_pool_new(int n_threads, struct orc_pool **ret, struct orc_err *err)
{
	struct orc_pool *p;

	if (n_threads < 1 || n_threads > ORC_THREADS_MAX)
		return orc_err_set(err, -EINVAL, "thread count %d outside 1..%d", n_threads,
				   ORC_THREADS_MAX);
	p = calloc(1, sizeof(*p));
	if (!p)
		return orc_err_set(err, -ENOMEM, "out of memory for the thread pool");
	p->n = n_threads;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	pthread_cond_init(&p->done, NULL);
	atomic_init(&p->gen, 0);
	atomic_init(&p->join, CLOSED);
	atomic_init(&p->next, 0);
	atomic_init(&p->stop, false);
	if (n_threads > 1) {
		p->workers = calloc((size_t)n_threads - 1, sizeof(*p->workers));
		if (!p->workers) {
			orc_pool_free(p);
			return orc_err_set(err, -ENOMEM, "out of memory for the thread pool");
		}
	}
	for (int i = 0; i < n_threads - 1; i++) {
		struct worker *w = &p->workers[i];
		int rc;

		w->pool = p;
		w->ith = i + 1;
		rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc != 0) {
			orc_pool_free(p);
			return orc_err_set(err, -rc, "cannot start CPU worker thread %d: %s", i + 1,
					   strerror(rc));
		}
		p->n_started++;
	}
	*ret = p;
	return 0;
}

void orc_pool_free(struct orc_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->stop, true);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n_started; i++)
		pthread_join(p->workers[i].thread, NULL);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
	free(p->workers);
	free(p);
}

int orc_pool_size(const struct orc_pool *p)
{
	return p->n;
}

void orc_pool_run(struct orc_pool *p, orc_pool_fn fn, void *ctx, uint32_t n_items)
{
	unsigned inside;

	if (p->n == 1 || n_items <= 1) {
		for (uint32_t i = 0; i < n_items; i++)
			fn(ctx, i, 0);
		return;
	}
	p->fn = fn;
	p->ctx = ctx;
	p->n_items = n_items;
	atomic_store_explicit(&p->next, 0, memory_order_relaxed);
	atomic_store_explicit(&p->join, 0, memory_order_release);     /* open */
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);

	run_items(p, 0);

	inside = atomic_fetch_or_explicit(&p->join, CLOSED, memory_order_acq_rel) & ~CLOSED;
	for (int i = 0; inside && i < SPIN_ITERS; i++) {
		if ((atomic_load_explicit(&p->join, memory_order_acquire) & ~CLOSED) == 0)
			return;
		cpu_relax();
	}
	if (!inside)
		return;
	pthread_mutex_lock(&p->mu);
	while ((atomic_load(&p->join) & ~CLOSED) != 0)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}
