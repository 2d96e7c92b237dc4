/* req_cancel.c -- cancel a request in flight on this connection. The
 * cancelled generate ends with a final whose stop reason is "cancel"; a
 * cancel for an id that is not in flight is ignored (it may have just
 * ended), as orcd-protocol(7) says. */
#include "config.h"

#include "registry.h"
#include "req.h"
#include "server.h"

void orc_req_cancel(struct orc_conn *c, const struct orc_msg *m)
{
	struct orc_inflight *f = orc_conn_inflight(c, m->id);

	if (!f || f->kind != ORC_INFLIGHT_JOB || !f->job)
		return;
	orc_registry_job_cancel(c->srv->reg, f->job, ORC_JOB_CANCEL_CLIENT);
}
