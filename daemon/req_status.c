/* req_status.c -- the status request: server, backend, counters (see the
 * ORC_CTR_* names in proto.h) and every known model. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "registry.h"
#include "req.h"
#include "server.h"

#define N_COUNTERS 24

static void put(struct orc_counter *v, uint32_t *n, const char *name, uint64_t value)
{
	v[*n].name = (struct orc_str){ name, (uint32_t)strlen(name) };
	v[*n].value = value;
	(*n)++;
}

static uint32_t counters(struct orc_server *s, struct orc_counter *v)
{
	const struct orc_metrics *m = &s->metrics;
	uint64_t budget = orc_registry_budget(s->reg);
	uint32_t n = 0;

	put(v, &n, ORC_CTR_UPTIME_S, (orc_now_ms() - s->start_ms) / 1000);
	put(v, &n, ORC_CTR_CONNECTIONS, s->n_conns);
	put(v, &n, ORC_CTR_REQUESTS_ACTIVE, orc_registry_n_jobs(s->reg) - orc_registry_n_queued(s->reg));
	put(v, &n, ORC_CTR_REQUESTS_QUEUED, orc_registry_n_queued(s->reg));
	put(v, &n, ORC_CTR_REQUESTS_TOTAL, m->requests_total);
	put(v, &n, ORC_CTR_REQUESTS_FAILED, m->requests_failed);
	put(v, &n, ORC_CTR_REQUESTS_CANCELED, m->requests_canceled);
	put(v, &n, ORC_CTR_REQUESTS_BUSY, m->requests_busy);
	put(v, &n, ORC_CTR_TOKENS_IN, m->tokens_in);
	put(v, &n, ORC_CTR_TOKENS_OUT, m->tokens_out);
	put(v, &n, ORC_CTR_TOKENS_CACHED, m->tokens_cached);
	put(v, &n, ORC_CTR_CACHE_HITS, m->cache_hits);
	put(v, &n, ORC_CTR_EVICTIONS, m->evictions);
	put(v, &n, ORC_CTR_LOADS, m->loads);
	put(v, &n, ORC_CTR_QUEUE_OLDEST_US, orc_registry_oldest_wait_us(s->reg));
	put(v, &n, ORC_CTR_TTFT_P50_US, orc_lat_percentile(&m->ttft, 50));
	put(v, &n, ORC_CTR_TTFT_P99_US, orc_lat_percentile(&m->ttft, 99));
	put(v, &n, ORC_CTR_ITL_P50_US, orc_lat_percentile(&m->itl, 50));
	put(v, &n, ORC_CTR_ITL_P99_US, orc_lat_percentile(&m->itl, 99));
	if (budget != UINT64_MAX)
		put(v, &n, ORC_CTR_MEM_BUDGET, budget);
	put(v, &n, ORC_CTR_MEM_USED, orc_registry_mem_used(s->reg));
	return n;
}

void orc_req_status(struct orc_conn *c, const struct orc_msg *m)
{
	struct orc_server *s = c->srv;
	const char *server = "orcd " PACKAGE_VERSION, *backend = orc_server_backend_name(s);
	struct orc_counter ctr[N_COUNTERS];
	struct orc_model_info *models;
	struct orc_reg_model *e;
	uint32_t n = 0;
	struct orc_msg r;

	orc_registry_scan(s->reg);
	for (e = orc_registry_first(s->reg); e; e = e->next)
		n++;
	if (n > ORC_STATUS_MODELS_MAX)
		n = ORC_STATUS_MODELS_MAX;
	models = calloc(n ? n : 1, sizeof(*models));
	if (!models) {
		orc_conn_error(c, m->id, OCC_INTERNAL, "out of memory");
		return;
	}
	n = 0;
	for (e = orc_registry_first(s->reg); e && n < ORC_STATUS_MODELS_MAX; e = e->next)
		orc_registry_info(s->reg, e, &models[n++]);
	orc_msg_init(&r, ORC_MSG_STATUS_RESULT, m->id);
	r.u.status.server = (struct orc_str){ server, (uint32_t)strlen(server) };
	r.u.status.backend = (struct orc_str){ backend, (uint32_t)strlen(backend) };
	r.u.status.gpu = (struct orc_str){ "", 0 };
	r.u.status.counters = ctr;
	r.u.status.n_counters = counters(s, ctr);
	r.u.status.models = models;
	r.u.status.n_models = n;
	orc_conn_send(c, &r);
	free(models);
}
