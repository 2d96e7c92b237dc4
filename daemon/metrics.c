/* metrics.c -- latency windows and percentiles (see metrics.h). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

int orc_metrics_init(struct orc_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->ttft.us = calloc(ORC_METRICS_WINDOW, sizeof(uint32_t));
	m->itl.us = calloc(ORC_METRICS_WINDOW, sizeof(uint32_t));
	if (!m->ttft.us || !m->itl.us) {
		orc_metrics_free(m);
		return -ENOMEM;
	}
	return 0;
}

void orc_metrics_free(struct orc_metrics *m)
{
	free(m->ttft.us);
	free(m->itl.us);
	m->ttft.us = m->itl.us = NULL;
}

void orc_lat_add(struct orc_lat_window *w, uint64_t us)
{
	if (!w->us)
		return;
	w->us[w->next] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	w->next = (w->next + 1) % ORC_METRICS_WINDOW;
	if (w->n < ORC_METRICS_WINDOW)
		w->n++;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t orc_lat_percentile(const struct orc_lat_window *w, unsigned p)
{
	uint32_t tmp[ORC_METRICS_WINDOW];
	size_t rank;

	if (!w->us || w->n == 0)
		return 0;
	memcpy(tmp, w->us, w->n * sizeof(uint32_t));
	qsort(tmp, w->n, sizeof(uint32_t), cmp_u32);
	rank = ((size_t)p * w->n + 99) / 100;   /* nearest rank, 1-based */
	if (rank < 1)
		rank = 1;
	return tmp[rank - 1];
}
