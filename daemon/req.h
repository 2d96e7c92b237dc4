/* req.h -- the request handlers of orcd, one file per request type
 * (req_<name>.c), dispatched from the table in req.c by message type.
 * A handler gets a decoded, schema-checked message; it answers with
 * orc_conn_send()/orc_conn_error(), now or later (asynchronous requests
 * register themselves in the connection's in-flight table). */
#ifndef ORC_REQ_H
#define ORC_REQ_H

#include "conn.h"
#include "job.h"
#include "proto.h"

typedef void (*orc_req_fn)(struct orc_conn *c, const struct orc_msg *m);

struct orc_req_handler {
	uint32_t type;             /* enum orc_msg_type */
	orc_req_fn fn;
	bool needs_id;             /* the message's id names a new request (not cancel) */
};

/* Check the handshake, access, id rules and limits, then run the handler. */
void orc_req_dispatch(struct orc_conn *c, const struct orc_msg *m);

void orc_req_hello(struct orc_conn *c, const struct orc_msg *m);
void orc_req_generate(struct orc_conn *c, const struct orc_msg *m);
void orc_req_cancel(struct orc_conn *c, const struct orc_msg *m);
void orc_req_tokenize(struct orc_conn *c, const struct orc_msg *m);
void orc_req_detokenize(struct orc_conn *c, const struct orc_msg *m);
void orc_req_load(struct orc_conn *c, const struct orc_msg *m);
void orc_req_unload(struct orc_conn *c, const struct orc_msg *m);
void orc_req_list(struct orc_conn *c, const struct orc_msg *m);
void orc_req_show(struct orc_conn *c, const struct orc_msg *m);
void orc_req_status(struct orc_conn *c, const struct orc_msg *m);

/* Shared by the handlers that run on a model (generate, tokenize): */
struct orc_job *orc_req_new_job(struct orc_conn *c, uint32_t id, enum orc_job_kind kind);
void orc_req_submit(struct orc_conn *c, uint32_t id, struct orc_reg_model *e, struct orc_job *j);

/* Shared by the handlers: look a model up by the request's name and answer
 * BAD_REQUEST / NOT_FOUND itself when that fails. */
struct orc_reg_model *orc_req_model(struct orc_conn *c, uint32_t id, const struct orc_str *name);

#endif
