/* stats.h -- orcd's counters, gathered in one place for the status reply
 * (names are the protocol's ORC_CTR_*) and for the Prometheus text file
 * that orcd can write periodically (metrics_file in orcd.conf(5)). */
#ifndef ORC_STATS_H
#define ORC_STATS_H

#include <stdbool.h>
#include <stdint.h>

struct orc_server;

#define ORC_STATS_MAX 32

struct orc_stat {
	const char *name;       /* ORC_CTR_* */
	const char *help;       /* one line for the Prometheus HELP comment */
	bool counter;           /* only ever grows (else a gauge) */
	uint64_t value;
};

/* Fill v (at least ORC_STATS_MAX entries); returns how many. */
unsigned orc_stats_collect(struct orc_server *s, struct orc_stat *v);

/* Write the metrics file now (atomically: a temporary file renamed over
 * it). 0 or a negative errno. */
int orc_stats_write_file(struct orc_server *s, const char *path);
/* Start the periodic writer when metrics_file is set. */
void orc_stats_start(struct orc_server *s);

#endif
