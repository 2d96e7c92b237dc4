/* evq.c -- the worker-to-loop event queue (see evq.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "evq.h"

int orc_evq_init(struct orc_evq *q)
{
	memset(q, 0, sizeof(*q));
	q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->efd < 0)
		return -errno;
	pthread_mutex_init(&q->lock, NULL);
	q->tail = &q->head;
	return 0;
}

void orc_evq_destroy(struct orc_evq *q)
{
	struct orc_event *e = q->head, *next;

	for (; e; e = next) {
		next = e->next;
		orc_event_free(e);
	}
	q->head = NULL;
	q->tail = &q->head;
	if (q->efd >= 0) {
		close(q->efd);
		pthread_mutex_destroy(&q->lock);
	}
	q->efd = -1;
}

struct orc_event *orc_event_new(enum orc_ev_type type)
{
	struct orc_event *e = calloc(1, sizeof(*e));

	if (e)
		e->type = type;
	return e;
}

void orc_event_free(struct orc_event *e)
{
	if (!e)
		return;
	free(e->text);
	free(e->ids);
	if (e->pieces)
		for (uint32_t i = 0; i < e->n_ids; i++)
			free(e->pieces[i]);
	free(e->pieces);
	free(e->piece_lens);
	free(e->top);
	if (e->plp)
		for (uint32_t i = 0; i < e->n_plp; i++)
			free(e->plp[i].top);
	free(e->plp);
	free(e);
}

int orc_event_set_text(struct orc_event *e, const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return -ENOMEM;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	free(e->text);
	e->text = p;
	e->text_len = len;
	return 0;
}

void orc_evq_push(struct orc_evq *q, struct orc_event *e)
{
	e->next = NULL;
	orc_evq_push_list(q, e, e);
}

void orc_evq_push_list(struct orc_evq *q, struct orc_event *head, struct orc_event *tail)
{
	static const uint64_t one = 1;
	bool was_empty;

	if (!head)
		return;
	tail->next = NULL;
	pthread_mutex_lock(&q->lock);
	was_empty = q->head == NULL;
	*q->tail = head;
	q->tail = &tail->next;
	pthread_mutex_unlock(&q->lock);
	if (was_empty) {
		ssize_t r = write(q->efd, &one, sizeof(one));
		(void)r;   /* EAGAIN: the counter is already non-zero */
	}
}

struct orc_event *orc_evq_take(struct orc_evq *q)
{
	struct orc_event *head;
	uint64_t v;
	ssize_t r;

	pthread_mutex_lock(&q->lock);
	r = read(q->efd, &v, sizeof(v));
	(void)r;
	head = q->head;
	q->head = NULL;
	q->tail = &q->head;
	pthread_mutex_unlock(&q->lock);
	return head;
}
