/* metrics.h -- orcd's counters and latency percentiles for status:
 * requests, tokens in and out, cache hits, evictions, loads, and time to
 * first token / inter-token latency over a window of recent samples.
 * Loop thread only. */
#ifndef ORC_METRICS_H
#define ORC_METRICS_H

#include <stdint.h>

#define ORC_METRICS_WINDOW 4096   /* latency samples kept (most recent) */

struct orc_lat_window {
	uint32_t *us;       /* [ORC_METRICS_WINDOW] ring */
	uint32_t n, next;
};

struct orc_metrics {
	uint64_t requests_total, requests_failed, requests_canceled, requests_busy;
	uint64_t tokens_in, tokens_out, tokens_cached, cache_hits;
	uint64_t evictions, loads;
	struct orc_lat_window ttft, itl;
};

int orc_metrics_init(struct orc_metrics *m);
void orc_metrics_free(struct orc_metrics *m);
void orc_lat_add(struct orc_lat_window *w, uint64_t us);
/* The p-th percentile (0..100, nearest rank) of the window; 0 when empty. */
uint64_t orc_lat_percentile(const struct orc_lat_window *w, unsigned p);

#endif
