/* req.c -- request dispatch: the handler table and the checks every
 * request passes first (handshake, access control, request ids, the
 * per-connection in-flight limit, draining). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "registry.h"
#include "req.h"
#include "server.h"

static const struct orc_req_handler handlers[] = {
	{ ORC_MSG_GENERATE, orc_req_generate, true },
	{ ORC_MSG_CANCEL, orc_req_cancel, false },
	{ ORC_MSG_TOKENIZE, orc_req_tokenize, true },
	{ ORC_MSG_DETOKENIZE, orc_req_detokenize, true },
	{ ORC_MSG_LOAD, orc_req_load, true },
	{ ORC_MSG_UNLOAD, orc_req_unload, true },
	{ ORC_MSG_LIST, orc_req_list, true },
	{ ORC_MSG_SHOW, orc_req_show, true },
	{ ORC_MSG_STATUS, orc_req_status, true },
};

static const struct orc_req_handler *find_handler(uint32_t type)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (handlers[i].type == type)
			return &handlers[i];
	return NULL;
}

static void first_message(struct orc_conn *c, const struct orc_msg *m)
{
	if (m->type != ORC_MSG_HELLO) {
		orc_conn_error(c, m->id, OCC_BAD_REQUEST, "the first message must be hello, not %s",
			       orc_msg_type_name(m->type));
		orc_conn_close_after_flush(c);
		return;
	}
	if (!c->allowed) {
		orc_conn_error(c, 0, OCC_PERMISSION, "uid %u gid %u may not use orcd",
			       (unsigned)c->cred.uid, (unsigned)c->cred.gid);
		orc_conn_close_after_flush(c);
		return;
	}
	orc_req_hello(c, m);
}

void orc_req_dispatch(struct orc_conn *c, const struct orc_msg *m)
{
	const struct orc_req_handler *h;

	if (!c->greeted) {
		first_message(c, m);
		return;
	}
	h = find_handler(m->type);
	if (!h) {
		orc_conn_error(c, m->id, m->type == ORC_MSG_HELLO ? OCC_BAD_REQUEST : OCC_UNKNOWN_TYPE,
			       "%s is not a request orcd accepts here",
			       m->type == ORC_MSG_HELLO ? "a second hello" : orc_msg_type_name(m->type));
		return;
	}
	if (m->id == 0) {
		orc_conn_error(c, 0, OCC_BAD_REQUEST, "%s: request id 0 is reserved",
			       orc_msg_type_name(m->type));
		return;
	}
	if (h->needs_id) {
		if (orc_conn_inflight(c, m->id)) {
			orc_conn_error(c, m->id, OCC_DUPLICATE_ID, "request id %u is already in flight",
				       m->id);
			return;
		}
		if (c->srv->draining) {
			orc_conn_error(c, m->id, OCC_SHUTTING_DOWN, "orcd is shutting down");
			return;
		}
	}
	log_info("conn %u (uid %u gid %u pid %d): %s id=%u", ORC_CONN_NUM(c), (unsigned)c->cred.uid,
		  (unsigned)c->cred.gid, (int)c->cred.pid, orc_msg_type_name(m->type), m->id);
	h->fn(c, m);
}

struct orc_reg_model *orc_req_model(struct orc_conn *c, uint32_t id, const struct orc_str *name)
{
	struct orc_err err = { 0 };
	struct orc_reg_model *e;
	int r = orc_registry_find(c->srv->reg, name->s, name->len, &e, &err);

	if (r == -EINVAL) {
		orc_conn_error(c, id, OCC_BAD_REQUEST, "model: %s", orc_err_msg(&err));
		return NULL;
	}
	if (r < 0) {
		orc_conn_error(c, id, OCC_NOT_FOUND, "%s", orc_err_msg(&err));
		return NULL;
	}
	return e;
}
