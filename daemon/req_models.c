/* req_models.c -- model management: load (with progress to the client
 * that asked), unload, list and show. */
#include "config.h"

#include <errno.h>

#include "conf.h"
#include "registry.h"
#include "req.h"
#include "server.h"

static enum occ_status status_of(int r)
{
	switch (r) {
	case -EBUSY: return OCC_BUSY;
	case -ENOSPC: return OCC_NO_MEMORY;
	case -ESHUTDOWN: return OCC_SHUTTING_DOWN;
	default: return OCC_INTERNAL;
	}
}

void orc_req_load(struct orc_conn *c, const struct orc_msg *m)
{
	const struct orc_msg_load *l = &m->u.load;
	struct orc_err err = { 0 };
	struct orc_reg_model *e = orc_req_model(c, m->id, &l->model);
	int64_t ka = -2;
	int r;

	if (!e)
		return;
	if (l->has & ORC_LOAD_HAS_KEEP_ALIVE) {
		if (l->keep_alive < -1 || l->keep_alive > INT64_MAX / 1000) {
			orc_conn_error(c, m->id, OCC_BAD_REQUEST, "keep_alive: %lld is out of range",
				       (long long)l->keep_alive);
			return;
		}
		ka = l->keep_alive < 0 ? ORC_KEEP_ALIVE_FOREVER : l->keep_alive * 1000;
	}
	if (!orc_conn_inflight_add(c, m->id, ORC_INFLIGHT_LOAD)) {
		orc_conn_error(c, m->id, OCC_TOO_MANY_REQUESTS, "more than %u requests in flight",
			       ORC_MAX_INFLIGHT_PER_CONN);
		return;
	}
	r = orc_registry_load(c->srv->reg, e, c->id, m->id, ka, &err);
	if (r < 0) {
		orc_conn_inflight_del(c, m->id);
		orc_conn_error(c, m->id, status_of(r), "%s", orc_err_msg(&err));
	}
}

void orc_req_unload(struct orc_conn *c, const struct orc_msg *m)
{
	struct orc_err err = { 0 };
	struct orc_reg_model *e = orc_req_model(c, m->id, &m->u.unload.model);
	int r;

	if (!e)
		return;
	if (!orc_conn_inflight_add(c, m->id, ORC_INFLIGHT_UNLOAD)) {
		orc_conn_error(c, m->id, OCC_TOO_MANY_REQUESTS, "more than %u requests in flight",
			       ORC_MAX_INFLIGHT_PER_CONN);
		return;
	}
	r = orc_registry_unload(c->srv->reg, e, c->id, m->id, &err);
	if (r < 0) {
		orc_conn_inflight_del(c, m->id);
		orc_conn_error(c, m->id, status_of(r), "%s", orc_err_msg(&err));
	}
}

static void send_model(struct orc_conn *c, uint32_t id, struct orc_reg_model *e)
{
	struct orc_msg m;

	orc_msg_init(&m, ORC_MSG_MODEL, id);
	orc_registry_info(c->srv->reg, e, &m.u.model);
	orc_conn_send(c, &m);
}

void orc_req_list(struct orc_conn *c, const struct orc_msg *m)
{
	struct orc_msg end;
	uint32_t n = 0;

	orc_registry_scan(c->srv->reg);
	for (struct orc_reg_model *e = orc_registry_first(c->srv->reg); e && !c->dead; e = e->next) {
		if (!e->present && e->state == ORC_REG_UNLOADED)
			continue;
		send_model(c, m->id, e);
		n++;
	}
	orc_msg_init(&end, ORC_MSG_LIST_END, m->id);
	end.u.list_end.count = n;
	orc_conn_send(c, &end);
}

void orc_req_show(struct orc_conn *c, const struct orc_msg *m)
{
	struct orc_reg_model *e = orc_req_model(c, m->id, &m->u.show.model);

	if (e)
		send_model(c, m->id, e);
}
