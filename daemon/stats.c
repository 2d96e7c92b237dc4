/* stats.c -- the counters of status and the Prometheus text file (see
 * stats.h). The file holds the same counters as "orcd_<name>" plus
 * per-model gauges labelled with the model name. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "registry.h"
#include "server.h"
#include "stats.h"

static void put(struct orc_stat *v, unsigned *n, const char *name, const char *help, bool counter,
		uint64_t value)
{
	v[*n] = (struct orc_stat){ name, help, counter, value };
	(*n)++;
}

unsigned orc_stats_collect(struct orc_server *s, struct orc_stat *v)
{
	const struct orc_metrics *m = &s->metrics;
	struct orc_device_info dev;
	uint64_t budget = orc_registry_budget(s->reg);
	uint32_t queued = orc_registry_n_queued(s->reg);
	unsigned n = 0;

	put(v, &n, ORC_CTR_UPTIME_S, "Seconds since orcd started.", true,
	    (orc_now_ms() - s->start_ms) / 1000);
	put(v, &n, ORC_CTR_CONNECTIONS, "Open client connections.", false, s->n_conns);
	put(v, &n, ORC_CTR_REQUESTS_ACTIVE, "Requests running in a decode slot.", false,
	    orc_registry_n_jobs(s->reg) - queued);
	put(v, &n, ORC_CTR_REQUESTS_QUEUED, "Requests waiting for a slot or a model.", false, queued);
	put(v, &n, ORC_CTR_REQUESTS_TOTAL, "Generate, tokenize and detokenize requests.", true,
	    m->requests_total);
	put(v, &n, ORC_CTR_REQUESTS_FAILED, "Requests that ended with an error.", true,
	    m->requests_failed);
	put(v, &n, ORC_CTR_REQUESTS_CANCELED, "Requests cancelled (client or shutdown).", true,
	    m->requests_canceled);
	put(v, &n, ORC_CTR_REQUESTS_BUSY, "Requests refused because a queue was full.", true,
	    m->requests_busy);
	put(v, &n, ORC_CTR_TOKENS_IN, "Prompt tokens, those from the prefix cache included.", true,
	    m->tokens_in);
	put(v, &n, ORC_CTR_TOKENS_OUT, "Tokens generated.", true, m->tokens_out);
	put(v, &n, ORC_CTR_TOKENS_CACHED, "Prompt tokens served from the prefix cache.", true,
	    m->tokens_cached);
	put(v, &n, ORC_CTR_CACHE_HITS, "Requests that reused a cached prefix.", true, m->cache_hits);
	put(v, &n, ORC_CTR_EVICTIONS, "Models unloaded to make room.", true, m->evictions);
	put(v, &n, ORC_CTR_LOADS, "Model loads.", true, m->loads);
	put(v, &n, ORC_CTR_QUEUE_OLDEST_US, "Wait of the oldest queued request, microseconds.", false,
	    orc_registry_oldest_wait_us(s->reg));
	put(v, &n, ORC_CTR_TTFT_P50_US, "Time to first token, median of recent requests, us.", false,
	    orc_lat_percentile(&m->ttft, 50));
	put(v, &n, ORC_CTR_TTFT_P99_US, "Time to first token, 99th percentile, us.", false,
	    orc_lat_percentile(&m->ttft, 99));
	put(v, &n, ORC_CTR_ITL_P50_US, "Time between tokens of a stream, median, us.", false,
	    orc_lat_percentile(&m->itl, 50));
	put(v, &n, ORC_CTR_ITL_P99_US, "Time between tokens of a stream, 99th percentile, us.", false,
	    orc_lat_percentile(&m->itl, 99));
	if (budget != UINT64_MAX)
		put(v, &n, ORC_CTR_MEM_BUDGET, "Memory budget for models, bytes.", false, budget);
	put(v, &n, ORC_CTR_MEM_USED, "Memory held by models, bytes.", false,
	    orc_registry_mem_used(s->reg));
	orc_server_device(s, &dev);
	if (dev.gpu && dev.mem_total) {
		put(v, &n, ORC_CTR_GPU_MEM_TOTAL, "GPU memory, bytes.", false, dev.mem_total);
		put(v, &n, ORC_CTR_GPU_MEM_FREE, "GPU memory free, bytes.", false, dev.mem_free);
	}
	return n;
}

/* Model names are file stems without control characters; quotes and
 * backslashes are escaped as the text format asks. */
static void put_label(FILE *f, const char *name)
{
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
}

static void write_models(struct orc_server *s, FILE *f)
{
	static const char *names[] = { "resident", "memory_bytes", "active", "queued" };
	static const char *helps[] = { "1 while the model is loaded.", "Bytes the model holds.",
				       "Requests of the model in a decode slot.",
				       "Requests of the model waiting." };

	for (int k = 0; k < 4; k++) {
		fprintf(f, "# HELP orcd_model_%s %s\n# TYPE orcd_model_%s gauge\n", names[k], helps[k],
			names[k]);
		for (struct orc_reg_model *e = orc_registry_first(s->reg); e; e = e->next) {
			struct orc_model_info i;
			uint64_t v;

			orc_registry_info(s->reg, e, &i);
			v = k == 0 ? i.resident : k == 1 ? i.mem : k == 2 ? i.active : i.queued;
			fprintf(f, "orcd_model_%s{model=\"", names[k]);
			put_label(f, e->name);
			fprintf(f, "\"} %" PRIu64 "\n", v);
		}
	}
}

int orc_stats_write_file(struct orc_server *s, const char *path)
{
	struct orc_stat v[ORC_STATS_MAX];
	unsigned n = orc_stats_collect(s, v);
	size_t len = strlen(path) + 8;
	char *tmp = malloc(len);
	FILE *f;
	int fd, r = 0;

	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, len, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		free(tmp);
		return r;
	}
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "# HELP orcd_%s %s\n# TYPE orcd_%s %s\norcd_%s %" PRIu64 "\n", v[i].name,
			v[i].help, v[i].name, v[i].counter ? "counter" : "gauge", v[i].name, v[i].value);
	write_models(s, f);
	if (fflush(f) != 0 || ferror(f))
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	free(tmp);
	return r;
}

static void stats_cb(struct orc_loop *l, uint64_t id, void *data)
{
	struct orc_server *s = data;
	int r;

	(void)id;
	s->metrics_timer = 0;
	if (!s->conf.metrics_file)
		return;   /* turned off by a reload */
	r = orc_stats_write_file(s, s->conf.metrics_file);
	if (r < 0 && !s->metrics_failed)
		log_warnx("metrics file %s: %s", s->conf.metrics_file, strerror(-r));
	s->metrics_failed = r < 0;
	s->metrics_timer = orc_loop_add_timer(l, (uint64_t)s->conf.metrics_interval_ms, stats_cb, s);
}

void orc_stats_start(struct orc_server *s)
{
	if (s->conf.metrics_file && !s->metrics_timer)
		s->metrics_timer = orc_loop_add_timer(s->loop, 0, stats_cb, s);
}
