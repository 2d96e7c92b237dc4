/* conn.h -- one client connection of orcd: the peer's credentials
 * (SO_PEERCRED), an incremental frame reader, a capped write queue, the
 * handshake state and the requests in flight, keyed by request id.
 * A connection that breaks the framing, does not read its replies or
 * stalls mid-frame is dropped with a logged reason; the others go on. */
#ifndef ORC_CONN_H
#define ORC_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "frame.h"
#include "limits.h"
#include "occlient.h"

struct orc_server;
struct orc_job;
struct orc_msg;

enum orc_inflight_kind { ORC_INFLIGHT_JOB, ORC_INFLIGHT_LOAD, ORC_INFLIGHT_UNLOAD };

struct orc_inflight {
	uint32_t id;
	enum orc_inflight_kind kind;
	struct orc_job *job;        /* ORC_INFLIGHT_JOB */
	uint64_t last_token_us;     /* inter-token latency */
};

struct orc_conn {
	struct orc_server *srv;
	uint64_t id;
	int fd;
	struct ucred cred;
	bool allowed;               /* passes allowed_users / allowed_groups */
	bool greeted;               /* hello accepted */
	bool closing;               /* flush what is queued, then close */
	bool dead;                  /* closed; freed at the next reap */
	bool single;                /* --serve-fd: the daemon exits when it closes */
	unsigned mask;              /* loop interest */
	uint64_t opened_ms;
	uint64_t frame_start_ms;    /* when the current partial frame began; 0 when none */
	uint64_t closing_ms;
	struct orc_frame_reader rd;
	struct orc_buf wq;
	struct orc_inflight inflight[ORC_MAX_INFLIGHT_PER_CONN];
	unsigned n_inflight;
	struct orc_conn *next_dead;
};

/* The connection's number in logs (its id's generation part). */
#define ORC_CONN_NUM(c) ((unsigned)((c)->id >> 32))

struct orc_conn *orc_conn_new(struct orc_server *s, int fd, uint64_t id);
void orc_conn_free(struct orc_conn *c);

/* Encode `m` onto the write queue and try to send it. A client whose queue
 * would pass ORC_WRITE_QUEUE_MAX is dropped. Returns 0 or a negative errno
 * (the caller needs to do nothing more: errors are handled and logged). */
int orc_conn_send(struct orc_conn *c, const struct orc_msg *m);
/* An error reply; the message is printf-formatted. */
void orc_conn_error(struct orc_conn *c, uint32_t id, enum occ_status code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Send what is queued, then close (after a fatal protocol error). */
void orc_conn_close_after_flush(struct orc_conn *c);
/* Close now: cancel its requests, log the reason. */
void orc_conn_drop(struct orc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Requests in flight. */
struct orc_inflight *orc_conn_inflight(struct orc_conn *c, uint32_t id);   /* NULL if none */
struct orc_inflight *orc_conn_inflight_add(struct orc_conn *c, uint32_t id,
					   enum orc_inflight_kind kind);
void orc_conn_inflight_del(struct orc_conn *c, uint32_t id);

/* Timeouts, from the server's periodic sweep. */
void orc_conn_sweep(struct orc_conn *c, uint64_t now_ms);

#endif
