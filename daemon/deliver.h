/* deliver.h -- replies that reach a client after the request returned:
 * the scheduler's and loader's events turned into protocol messages, and
 * the terminal replies the registry sends for jobs and loads. Each looks
 * the connection up by id (it may be gone: then nothing is sent) and ends
 * the request's in-flight entry when the reply is terminal. */
#ifndef ORC_DELIVER_H
#define ORC_DELIVER_H

#include <stdint.h>

#include "occlient.h"

struct orc_server;
struct orc_job;
struct orc_reg_model;

/* The evq's eventfd is readable: handle every queued event. */
void orc_deliver_events(struct orc_server *s);

/* A job that never reached the scheduler ends: a final with this stop
 * reason, or an error. The caller frees the job afterwards. */
void orc_deliver_job_end(struct orc_server *s, struct orc_job *j, uint32_t stop);
void orc_deliver_job_error(struct orc_server *s, struct orc_job *j, enum occ_status code,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Load and unload replies. */
void orc_deliver_progress(struct orc_server *s, uint64_t conn_id, uint32_t req_id,
			  uint64_t done, uint64_t total);
void orc_deliver_model(struct orc_server *s, uint64_t conn_id, uint32_t req_id,
		       struct orc_reg_model *e);
void orc_deliver_done(struct orc_server *s, uint64_t conn_id, uint32_t req_id);
void orc_deliver_error(struct orc_server *s, uint64_t conn_id, uint32_t req_id,
		       enum occ_status code, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
