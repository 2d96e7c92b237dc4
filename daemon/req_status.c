/* req_status.c -- the status request: server, backend, GPU, counters
 * (stats.h, named as ORC_CTR_* in proto.h) and every known model. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "registry.h"
#include "req.h"
#include "server.h"
#include "stats.h"

void orc_req_status(struct orc_conn *c, const struct orc_msg *m)
{
	struct orc_server *s = c->srv;
	const char *server = "orcd " PACKAGE_VERSION, *backend = orc_server_backend_name(s);
	struct orc_counter ctr[ORC_STATS_MAX];
	struct orc_stat st[ORC_STATS_MAX];
	unsigned n_st = orc_stats_collect(s, st);
	struct orc_model_info *models;
	struct orc_reg_model *e;
	uint32_t n = 0;
	struct orc_device_info dev;
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
	orc_server_device(s, &dev);
	if (dev.gpu)
		r.u.status.gpu = (struct orc_str){ dev.name, (uint32_t)strlen(dev.name) };
	else
		r.u.status.gpu = (struct orc_str){ "", 0 };
	for (unsigned i = 0; i < n_st; i++) {
		ctr[i].name = (struct orc_str){ st[i].name, (uint32_t)strlen(st[i].name) };
		ctr[i].value = st[i].value;
	}
	r.u.status.counters = ctr;
	r.u.status.n_counters = n_st;
	r.u.status.models = models;
	r.u.status.n_models = n;
	orc_conn_send(c, &r);
	free(models);
}
