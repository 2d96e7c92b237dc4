/* conn.c -- a client connection: reading frames, dispatching them to the
 * request table, the capped write queue, timeouts and closing (see conn.h).
 * A fatal protocol error is answered, the queue is flushed, the write side
 * is shut down and the rest of the input is discarded for a short linger,
 * so the client reads the error instead of a connection reset. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "job.h"
#include "log.h"
#include "proto.h"
#include "registry.h"
#include "req.h"
#include "server.h"

#define CONN_FRAMES_PER_WAKEUP 32
#define CONN_LINGER_MS 2000

static void conn_on_io(struct orc_loop *l, int fd, unsigned events, void *data);

struct orc_conn *orc_conn_new(struct orc_server *s, int fd, uint64_t id)
{
	struct orc_conn *c = calloc(1, sizeof(*c));
	socklen_t len = sizeof(c->cred);

	if (!c)
		return NULL;
	c->srv = s;
	c->fd = fd;
	c->id = id;
	c->opened_ms = orc_now_ms();
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) < 0) {
		c->cred.pid = 0;
		c->cred.uid = (uid_t)-1;
		c->cred.gid = (gid_t)-1;
	}
	orc_frame_reader_init(&c->rd, ORC_FRAME_MAX);
	orc_buf_init(&c->wq, ORC_WRITE_QUEUE_MAX);
	c->mask = ORC_LOOP_READ;
	if (orc_loop_add_fd(s->loop, fd, c->mask, conn_on_io, c) < 0) {
		orc_frame_reader_free(&c->rd);
		orc_buf_free(&c->wq);
		free(c);
		return NULL;
	}
	return c;
}

void orc_conn_free(struct orc_conn *c)
{
	if (!c)
		return;
	orc_frame_reader_free(&c->rd);
	orc_buf_free(&c->wq);
	free(c);
}

static void set_mask(struct orc_conn *c, unsigned mask)
{
	if (c->dead || c->mask == mask)
		return;
	if (orc_loop_mod_fd(c->srv->loop, c->fd, mask) == 0)
		c->mask = mask;
}

/* ---- closing ---- */

/* Cancel every request in flight; the table is emptied first because
 * cancelling may reply (and so touch the table). */
static void cancel_requests(struct orc_conn *c)
{
	struct orc_inflight fl[ORC_MAX_INFLIGHT_PER_CONN];
	unsigned n = c->n_inflight;

	memcpy(fl, c->inflight, n * sizeof(fl[0]));
	c->n_inflight = 0;
	for (unsigned i = 0; i < n; i++)
		if (fl[i].kind == ORC_INFLIGHT_JOB && fl[i].job)
			orc_registry_job_cancel(c->srv->reg, fl[i].job, ORC_JOB_CANCEL_CLIENT);
}

void orc_conn_drop(struct orc_conn *c, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (c->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->n_inflight)
		log_info("conn %u (uid %u pid %d): closed (%s), cancelling %u request(s)",
			 ORC_CONN_NUM(c), (unsigned)c->cred.uid, (int)c->cred.pid, why, c->n_inflight);
	else
		log_debug("conn %u (uid %u pid %d): closed (%s)", ORC_CONN_NUM(c),
			  (unsigned)c->cred.uid, (int)c->cred.pid, why);
	c->dead = true;
	orc_loop_del_fd(c->srv->loop, c->fd);
	close(c->fd);
	c->fd = -1;
	orc_server_remove_conn(c->srv, c);
	cancel_requests(c);
}

void orc_conn_close_after_flush(struct orc_conn *c)
{
	if (c->dead || c->closing)
		return;
	c->closing = true;
	c->closing_ms = orc_now_ms();
	cancel_requests(c);
	set_mask(c, orc_buf_pending(&c->wq) ? ORC_LOOP_WRITE | ORC_LOOP_READ : ORC_LOOP_READ);
	if (!orc_buf_pending(&c->wq))
		shutdown(c->fd, SHUT_WR);
}

/* ---- writing ---- */

static void flush(struct orc_conn *c)
{
	int r = orc_buf_flush(&c->wq, c->fd);

	if (r < 0) {
		orc_conn_drop(c, "write: %s", strerror(-r));
		return;
	}
	if (r == 0) {
		set_mask(c, ORC_LOOP_READ);
		if (c->closing)
			shutdown(c->fd, SHUT_WR);
	} else {
		set_mask(c, ORC_LOOP_READ | ORC_LOOP_WRITE);
	}
}

int orc_conn_send(struct orc_conn *c, const struct orc_msg *m)
{
	struct orc_err err = { 0 };
	int r;

	if (c->dead || c->closing)
		return -EPIPE;
	r = orc_proto_encode(m, &c->wq, &err);
	if (r == -ENOBUFS) {
		orc_conn_drop(c, "slow reader: write queue over %u bytes", ORC_WRITE_QUEUE_MAX);
		return r;
	}
	if (r == -E2BIG && m->type != ORC_MSG_ERROR) {
		orc_conn_error(c, m->id, OCC_TOO_LARGE, "the %s reply is larger than a frame (%u bytes)",
			       orc_msg_type_name(m->type), ORC_FRAME_MAX);
		return r;
	}
	if (r < 0) {
		log_err("conn %u: cannot encode %s: %s", ORC_CONN_NUM(c), orc_msg_type_name(m->type),
			orc_err_msg(&err));
		if (m->type != ORC_MSG_ERROR)
			orc_conn_error(c, m->id, OCC_INTERNAL, "orcd could not encode its reply");
		return r;
	}
	if (!(c->mask & ORC_LOOP_WRITE))
		flush(c);
	return 0;
}

void orc_conn_error(struct orc_conn *c, uint32_t id, enum occ_status code, const char *fmt, ...)
{
	char text[ORC_ERR_MSG_MAX];
	struct orc_msg m;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_info("conn %u (uid %u pid %d): request %u: error %s: %s", ORC_CONN_NUM(c),
		 (unsigned)c->cred.uid, (int)c->cred.pid, id, orc_status_name(code), text);
	orc_msg_error(&m, id, code, text);
	orc_conn_send(c, &m);
}

/* ---- requests in flight ---- */

struct orc_inflight *orc_conn_inflight(struct orc_conn *c, uint32_t id)
{
	for (unsigned i = 0; i < c->n_inflight; i++)
		if (c->inflight[i].id == id)
			return &c->inflight[i];
	return NULL;
}

struct orc_inflight *orc_conn_inflight_add(struct orc_conn *c, uint32_t id,
					   enum orc_inflight_kind kind)
{
	struct orc_inflight *f;

	if (c->n_inflight >= ORC_MAX_INFLIGHT_PER_CONN)
		return NULL;
	f = &c->inflight[c->n_inflight++];
	memset(f, 0, sizeof(*f));
	f->id = id;
	f->kind = kind;
	return f;
}

void orc_conn_inflight_del(struct orc_conn *c, uint32_t id)
{
	for (unsigned i = 0; i < c->n_inflight; i++) {
		if (c->inflight[i].id == id) {
			c->inflight[i] = c->inflight[--c->n_inflight];
			return;
		}
	}
}

/* ---- reading ---- */

static void handle_frame(struct orc_conn *c, const uint8_t *p, size_t n)
{
	struct orc_err err = { 0 };
	struct orc_msg m;
	int r = orc_proto_decode(p, n, &m, &err);

	if (r == -EBADMSG) {
		orc_conn_error(c, 0, OCC_BAD_FRAME, "%s", orc_err_msg(&err));
		orc_conn_close_after_flush(c);
		return;
	}
	if (r < 0) {
		orc_conn_error(c, m.id, orc_proto_status_from_errno(r), "%s", orc_err_msg(&err));
		if (!c->greeted)
			orc_conn_close_after_flush(c);
		return;
	}
	orc_req_dispatch(c, &m);
	orc_msg_clear(&m);
}

/* Discard input after a fatal error until EOF (the linger). */
static void discard_input(struct orc_conn *c)
{
	char junk[4096];
	ssize_t r = read(c->fd, junk, sizeof(junk));

	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
		orc_conn_drop(c, "closed after an error");
}

static void read_frames(struct orc_conn *c)
{
	for (int i = 0; i < CONN_FRAMES_PER_WAKEUP && !c->dead && !c->closing; i++) {
		struct orc_err err = { 0 };
		const uint8_t *p;
		size_t n;
		int r = orc_frame_reader_read(&c->rd, c->fd, &err);

		if (r == 0)
			break;
		if (r == -ECONNRESET) {
			orc_conn_drop(c, "peer closed");
			return;
		}
		if (r == -EBADMSG || r == -E2BIG) {
			orc_conn_error(c, 0, OCC_BAD_FRAME, "%s", orc_err_msg(&err));
			orc_conn_close_after_flush(c);
			return;
		}
		if (r < 0) {
			orc_conn_drop(c, "read: %s", r == -EPIPE ? "end of stream inside a frame"
							       : strerror(-r));
			return;
		}
		orc_frame_reader_frame(&c->rd, &p, &n);
		c->frame_start_ms = 0;
		handle_frame(c, p, n);
		orc_frame_reader_next(&c->rd);
	}
	if (!c->dead && orc_frame_reader_partial(&c->rd) && !c->frame_start_ms)
		c->frame_start_ms = orc_now_ms();
}

static void conn_on_io(struct orc_loop *l, int fd, unsigned events, void *data)
{
	struct orc_conn *c = data;

	(void)l;
	(void)fd;
	if (events & ORC_LOOP_WRITE)
		flush(c);
	if (c->dead || !(events & ORC_LOOP_READ))
		return;
	if (c->closing)
		discard_input(c);
	else
		read_frames(c);
}

void orc_conn_sweep(struct orc_conn *c, uint64_t now)
{
	const struct orc_conf *cf = &c->srv->conf;

	if (c->dead)
		return;
	if (c->closing) {
		if (now - c->closing_ms > CONN_LINGER_MS)
			orc_conn_drop(c, "closed after an error");
		return;
	}
	if (!c->greeted && now - c->opened_ms > (uint64_t)cf->handshake_timeout_ms) {
		orc_conn_drop(c, "no hello within %lld ms", (long long)cf->handshake_timeout_ms);
		return;
	}
	if (c->frame_start_ms && now - c->frame_start_ms > (uint64_t)cf->frame_timeout_ms)
		orc_conn_drop(c, "a frame stayed incomplete for %lld ms", (long long)cf->frame_timeout_ms);
}
