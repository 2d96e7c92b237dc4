/* loader.c -- the loader thread (see loader.h). Progress events are
 * throttled to one per percent so a fast load does not flood the loop. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"

enum task_kind { TASK_LOAD, TASK_FREE };

struct task {
	enum task_kind kind;
	struct orc_reg_model *entry;
	char *path;
	struct orc_model_opts opts;
	struct orc_model *model;
	struct orc_event *done;     /* allocated when queued, so it can always be sent */
	struct task *next;
};

struct orc_loader {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct task *head, **tail;
	bool stop;
	struct orc_evq *evq;
	/* progress of the load at hand */
	struct orc_reg_model *cur;
	uint64_t last_pct;
};

static void progress(void *user, uint64_t done, uint64_t total)
{
	struct orc_loader *l = user;
	uint64_t pct = total ? done * 100 / total : 0;
	struct orc_event *e;

	if (pct == l->last_pct && done != total)
		return;
	l->last_pct = pct;
	e = orc_event_new(ORC_EV_LOAD_PROGRESS);
	if (!e)
		return;
	e->entry = l->cur;
	e->u.progress.done = done;
	e->u.progress.total = total;
	orc_evq_push(l->evq, e);
}

static void run_load(struct orc_loader *l, struct task *t)
{
	struct orc_event *e = t->done;
	struct orc_err err = { 0 };
	struct orc_model *m = NULL;
	int r;

	l->cur = t->entry;
	l->last_pct = UINT64_MAX;
	t->opts.progress = progress;
	t->opts.progress_user = l;
	/* COPY, not mmap: the file may be truncated or replaced while the model
	 * serves, and a read past the end of a mapping raises SIGBUS. */
	t->opts.copy_file = true;
	r = orc_model_load(t->path, &t->opts, &m, &err);
	t->done = NULL;
	e->entry = t->entry;
	e->u.load.model = r == 0 ? m : NULL;
	e->u.load.err = r;
	if (r < 0)
		snprintf(e->u.load.msg, sizeof(e->u.load.msg), "%s", orc_err_msg(&err));
	orc_evq_push(l->evq, e);
}

static void run_free(struct orc_loader *l, struct task *t)
{
	struct orc_event *e = t->done;

	orc_model_free(t->model);
	t->done = NULL;
	e->entry = t->entry;
	orc_evq_push(l->evq, e);
}

static void *loader_main(void *arg)
{
	struct orc_loader *l = arg;

	for (;;) {
		struct task *t;

		pthread_mutex_lock(&l->lock);
		while (!l->head && !l->stop)
			pthread_cond_wait(&l->cond, &l->lock);
		if (l->stop) {
			pthread_mutex_unlock(&l->lock);
			break;
		}
		t = l->head;
		l->head = t->next;
		if (!l->head)
			l->tail = &l->head;
		pthread_mutex_unlock(&l->lock);
		if (t->kind == TASK_LOAD)
			run_load(l, t);
		else
			run_free(l, t);
		free(t->path);
		free(t);
	}
	return NULL;
}

int orc_loader_start(struct orc_evq *evq, struct orc_loader **ret)
{
	struct orc_loader *l = calloc(1, sizeof(*l));
	int r;

	if (!l)
		return -ENOMEM;
	l->evq = evq;
	l->tail = &l->head;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->cond, NULL);
	r = pthread_create(&l->thread, NULL, loader_main, l);
	if (r) {
		pthread_mutex_destroy(&l->lock);
		pthread_cond_destroy(&l->cond);
		free(l);
		return -r;
	}
	*ret = l;
	return 0;
}

void orc_loader_stop(struct orc_loader *l)
{
	struct task *t, *next;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	for (t = l->head; t; t = next) {
		next = t->next;
		if (t->kind == TASK_FREE)
			orc_model_free(t->model);
		orc_event_free(t->done);
		free(t->path);
		free(t);
	}
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l);
}

static int queue(struct orc_loader *l, struct task *t)
{
	pthread_mutex_lock(&l->lock);
	*l->tail = t;
	l->tail = &t->next;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->lock);
	return 0;
}

int orc_loader_load(struct orc_loader *l, struct orc_reg_model *entry, const char *path,
		    const struct orc_model_opts *opts)
{
	struct task *t = calloc(1, sizeof(*t));

	if (!t || !(t->path = strdup(path)) || !(t->done = orc_event_new(ORC_EV_LOAD_DONE))) {
		if (t)
			free(t->path);
		free(t);
		return -ENOMEM;
	}
	t->kind = TASK_LOAD;
	t->entry = entry;
	t->opts = *opts;
	return queue(l, t);
}

int orc_loader_free(struct orc_loader *l, struct orc_reg_model *entry, struct orc_model *model)
{
	struct task *t = calloc(1, sizeof(*t));

	if (!t || !(t->done = orc_event_new(ORC_EV_FREED))) {
		free(t);
		return -ENOMEM;
	}
	t->kind = TASK_FREE;
	t->entry = entry;
	t->model = model;
	return queue(l, t);
}
