/* occ_internal.h -- libocclient's insides, shared by its source files: the
 * connection, the table of requests in flight (keyed by request id) and
 * how replies are dispatched to them. Not installed. */
#ifndef OCC_INTERNAL_H
#define OCC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "frame.h"
#include "occlient.h"
#include "proto.h"

#define OCC_ERR_MAX 512
#define OCC_READ_CHUNK (64u << 10)

struct occ_pending;

/* Called for each reply/event addressed to the request. Returns true when
 * `m` ended the request (its terminal message). It may take ownership of
 * `m` by moving the struct out and zeroing it. */
typedef bool (*occ_handler_fn)(struct occ_conn *c, struct occ_pending *p, struct orc_msg *m);

struct occ_pending {
	uint32_t id;
	uint32_t req_type;             /* enum orc_msg_type of the request */
	occ_handler_fn handle;
	bool done;
	enum occ_status status;        /* when done: OK or why it failed */
	bool orphan;                   /* heap-allocated, freed when done (dropped events) */
	struct occ_pending *next;
};

struct occ_conn {
	int fd;
	struct orc_frame_reader rd;
	struct orc_buf wq;
	uint8_t *rbuf;                 /* [OCC_READ_CHUNK] bytes read, not yet fed */
	size_t rlen, roff;
	struct occ_pending *pending;   /* requests in flight */
	uint32_t next_id;
	bool dead;                     /* no more I/O: every request fails with dead_status */
	enum occ_status dead_status;
	char err[OCC_ERR_MAX];
	bool handshaking, hs_done;
	struct orc_msg hs_reply;       /* the id-0 answer to hello */
	/* from the welcome */
	char server_version[ORC_PROTO_STR_MAX + 1];
	char server_backend[ORC_PROTO_STR_MAX + 1];
	uint32_t max_tokens;
};

/* ---- occ_conn.c ---- */
/* Record a detail for occ_conn_error(); returns `s`. */
enum occ_status occ_fail(struct occ_conn *c, enum occ_status s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A fresh request id not in flight. */
uint32_t occ_next_id(struct occ_conn *c);
/* Encode and send one message (blocking). */
enum occ_status occ_send(struct occ_conn *c, const struct orc_msg *m);
/* Register p (id, req_type, handle set by the caller) as in flight. */
void occ_pending_add(struct occ_conn *c, struct occ_pending *p);
void occ_pending_remove(struct occ_conn *c, struct occ_pending *p);
/* Read and dispatch whatever arrives within timeout_ms (-1: wait for at
 * least one read). OCC_OK when something was read, OCC_TIMEOUT, or the
 * connection's failure. */
enum occ_status occ_pump(struct occ_conn *c, int timeout_ms);
/* Send `req`, then pump until p is done; p is registered and removed here.
 * Returns p->status. */
enum occ_status occ_call(struct occ_conn *c, struct orc_msg *req, struct occ_pending *p);
/* The common handling of an error reply: p fails with its code and the
 * message becomes occ_conn_error(). Returns true (terminal). */
bool occ_take_error(struct occ_conn *c, struct occ_pending *p, const struct orc_msg *m);
/* A message type the request did not expect: fails p with OCC_PROTOCOL. */
bool occ_unexpected(struct occ_conn *c, struct occ_pending *p, const struct orc_msg *m);
/* Copy a C string into a wire string (borrowed); NULL -> "". */
struct orc_str occ_str(const char *s);
/* Move a decoded message: *dst takes the arena, *src is zeroed. */
void occ_msg_move(struct orc_msg *dst, struct orc_msg *src);

/* ---- occ_gen.c ---- */
/* Detach a generation whose connection is closing. */
void occ_gen_detach(struct occ_pending *p);
bool occ_pending_is_gen(const struct occ_pending *p);

#endif
