/* occ_conn.c -- libocclient's connection: connect and handshake, sending
 * frames, reading and dispatching replies to the requests in flight (keyed
 * by request id), error details, and the status code texts. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "occ_internal.h"

static _Thread_local char last_error[OCC_ERR_MAX];

/* ---- texts ---- */
const char *occ_strerror(enum occ_status s) { return orc_status_message((uint32_t)s); }
const char *occ_status_name(enum occ_status s) { return orc_status_name((uint32_t)s); }
const char *occ_version(void) { return PACKAGE_VERSION; }

const char *occ_stop_name(enum occ_stop s)
{
	return s == OCC_STOP_NONE ? "none" : orc_wire_stop_name((uint32_t)s);
}

const char *occ_last_error(void) { return last_error; }
const char *occ_conn_error(const occ_conn *c) { return c ? c->err : ""; }
int occ_conn_fd(const occ_conn *c) { return c ? c->fd : -1; }
const char *occ_server_version(const occ_conn *c) { return c ? c->server_version : ""; }
const char *occ_server_backend(const occ_conn *c) { return c ? c->server_backend : ""; }
uint32_t occ_server_max_tokens(const occ_conn *c) { return c ? c->max_tokens : 0; }
void occ_free(void *p) { free(p); }

enum occ_status occ_fail(struct occ_conn *c, enum occ_status s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return s;
}

struct orc_str occ_str(const char *s)
{
	if (!s)
		s = "";
	return (struct orc_str){ s, (uint32_t)strnlen(s, UINT32_MAX - 1) };
}

void occ_msg_move(struct orc_msg *dst, struct orc_msg *src)
{
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

/* ---- the table of requests in flight ---- */
static struct occ_pending *find(struct occ_conn *c, uint32_t id)
{
	for (struct occ_pending *p = c->pending; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

uint32_t occ_next_id(struct occ_conn *c)
{
	do {
		if (++c->next_id == 0)
			c->next_id = 1;
	} while (find(c, c->next_id));
	return c->next_id;
}

void occ_pending_add(struct occ_conn *c, struct occ_pending *p)
{
	p->done = false;
	p->status = OCC_OK;
	p->next = c->pending;
	c->pending = p;
}

void occ_pending_remove(struct occ_conn *c, struct occ_pending *p)
{
	for (struct occ_pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			p->next = NULL;
			return;
		}
	}
}

/* The connection is unusable: every request in flight fails with s. */
static enum occ_status die(struct occ_conn *c, enum occ_status s)
{
	struct occ_pending *p, *next;

	if (c->dead)
		return c->dead_status;
	c->dead = true;
	c->dead_status = s;
	for (p = c->pending; p; p = next) {
		next = p->next;
		if (!p->done) {
			p->done = true;
			p->status = s;
		}
		if (p->orphan) {
			occ_pending_remove(c, p);
			free(p);
		}
	}
	return s;
}

bool occ_take_error(struct occ_conn *c, struct occ_pending *p, const struct orc_msg *m)
{
	uint32_t code = m->u.error.code;

	/* wire codes are 1..99; one this library does not know is passed on */
	p->status = code == 0 || code >= 100 ? OCC_PROTOCOL : (enum occ_status)code;
	occ_fail(c, p->status, "%s: %s", m->u.error.name.s, m->u.error.message.s);
	return true;
}

bool occ_unexpected(struct occ_conn *c, struct occ_pending *p, const struct orc_msg *m)
{
	p->status = occ_fail(c, OCC_PROTOCOL, "unexpected %s reply to %s request %u",
			     orc_msg_type_name(m->type), orc_msg_type_name(p->req_type), p->id);
	return true;
}

/* ---- sending ---- */
enum occ_status occ_send(struct occ_conn *c, const struct orc_msg *m)
{
	struct orc_err err = { 0 };
	int r;

	if (c->dead)
		return c->dead_status;
	if ((r = orc_proto_encode(m, &c->wq, &err)) < 0)
		return occ_fail(c, r == -ENOMEM || r == -ENOBUFS ? OCC_ALLOC_FAILED :
				r == -E2BIG ? OCC_TOO_LARGE : OCC_INVALID_ARGUMENT,
				"%s", orc_err_msg(&err));
	r = orc_buf_flush(&c->wq, c->fd);   /* a blocking socket: all or an error */
	if (r < 0) {
		occ_fail(c, OCC_DISCONNECTED, "send: %s", strerror(-r));
		return die(c, OCC_DISCONNECTED);
	}
	return OCC_OK;
}

/* ---- receiving ---- */
static void dispatch(struct occ_conn *c, struct orc_msg *m)
{
	struct occ_pending *p;

	if (m->id == 0 && c->handshaking && !c->hs_done) {
		occ_msg_move(&c->hs_reply, m);     /* welcome, or the refusal */
		c->hs_done = true;
		return;
	}
	if (m->id == 0) {
		/* connection-level: a bad frame, shutdown ... */
		if (m->type == ORC_MSG_ERROR) {
			uint32_t code = m->u.error.code;

			occ_fail(c, OCC_PROTOCOL, "%s: %s", m->u.error.name.s, m->u.error.message.s);
			die(c, code > 0 && code < 100 ? (enum occ_status)code : OCC_INTERNAL);
		}
		return;
	}
	if (!orc_msg_is_reply(m->type)) {
		occ_fail(c, OCC_PROTOCOL, "the daemon sent a %s message", orc_msg_type_name(m->type));
		die(c, OCC_PROTOCOL);
		return;
	}
	if (!(p = find(c, m->id)) || p->done)
		return;     /* a request we gave up on; nothing to do */
	if (p->handle(c, p, m)) {
		p->done = true;
		if (p->orphan) {
			occ_pending_remove(c, p);
			free(p);
		}
	}
}

/* Feed buffered bytes to the frame reader; decode and dispatch each frame. */
static enum occ_status feed(struct occ_conn *c)
{
	struct orc_err err = { 0 };

	while (c->roff < c->rlen && !c->dead) {
		const uint8_t *payload;
		struct orc_msg m;
		size_t used, len;
		int r = orc_frame_reader_feed(&c->rd, c->rbuf + c->roff, c->rlen - c->roff, &used, &err);

		c->roff += used;
		if (r < 0) {
			occ_fail(c, OCC_PROTOCOL, "bad frame from the daemon: %s", orc_err_msg(&err));
			return die(c, OCC_PROTOCOL);
		}
		if (r == 0)
			break;
		orc_frame_reader_frame(&c->rd, &payload, &len);
		r = orc_proto_decode(payload, len, &m, &err);
		orc_frame_reader_next(&c->rd);
		if (r < 0) {
			occ_fail(c, OCC_PROTOCOL, "bad message from the daemon: %s", orc_err_msg(&err));
			return die(c, OCC_PROTOCOL);
		}
		dispatch(c, &m);
		orc_msg_clear(&m);
	}
	if (c->roff == c->rlen)
		c->roff = c->rlen = 0;
	return c->dead ? c->dead_status : OCC_OK;
}

enum occ_status occ_pump(struct occ_conn *c, int timeout_ms)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int r;

	if (c->dead)
		return c->dead_status;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		occ_fail(c, OCC_IO, "poll: %s", strerror(errno));
		return die(c, OCC_IO);
	}
	if (r == 0)
		return OCC_TIMEOUT;
	do
		n = read(c->fd, c->rbuf + c->rlen, OCC_READ_CHUNK - c->rlen);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		occ_fail(c, OCC_DISCONNECTED, "read: %s", strerror(errno));
		return die(c, OCC_DISCONNECTED);
	}
	if (n == 0) {
		if (!c->err[0] || c->pending)
			occ_fail(c, OCC_DISCONNECTED, "the daemon closed the connection");
		return die(c, OCC_DISCONNECTED);
	}
	c->rlen += (size_t)n;
	return feed(c);
}

enum occ_status occ_call(struct occ_conn *c, struct orc_msg *req, struct occ_pending *p)
{
	enum occ_status s;

	p->id = req->id = occ_next_id(c);
	p->req_type = req->type;
	occ_pending_add(c, p);
	if ((s = occ_send(c, req)) != OCC_OK) {
		occ_pending_remove(c, p);
		return s;
	}
	while (!p->done) {
		s = occ_pump(c, -1);
		if (s != OCC_OK && !p->done) {
			p->done = true;
			p->status = s;
		}
	}
	occ_pending_remove(c, p);
	return p->status;
}

/* ---- connect and handshake ---- */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Send hello and wait for the welcome (dispatch() keeps the id-0 reply in
 * c->hs_reply while c->handshaking). */
static enum occ_status handshake(struct occ_conn *c)
{
	int64_t deadline = now_ms() + ORC_HANDSHAKE_TIMEOUT_MS;
	struct orc_msg m, *w = &c->hs_reply;
	char client[64];
	enum occ_status s;

	snprintf(client, sizeof(client), "libocclient %s", PACKAGE_VERSION);
	orc_msg_init(&m, ORC_MSG_HELLO, 0);
	m.u.hello.version = ORC_PROTO_VERSION;
	m.u.hello.client = occ_str(client);
	if ((s = occ_send(c, &m)) != OCC_OK)
		return s;
	c->handshaking = true;
	while (!c->hs_done) {
		int64_t left = deadline - now_ms();

		s = left > 0 ? occ_pump(c, (int)left) : OCC_TIMEOUT;
		if (s == OCC_TIMEOUT)
			s = occ_fail(c, OCC_TIMEOUT, "no welcome from the daemon within %d ms",
				     ORC_HANDSHAKE_TIMEOUT_MS);
		if (s != OCC_OK && !c->hs_done)
			return s;
	}
	c->handshaking = false;
	if (w->type == ORC_MSG_ERROR) {
		uint32_t code = w->u.error.code;

		s = occ_fail(c, code > 0 && code < 100 ? (enum occ_status)code : OCC_PROTOCOL,
			     "%s: %s", w->u.error.name.s, w->u.error.message.s);
	} else if (w->type != ORC_MSG_WELCOME) {
		s = occ_fail(c, OCC_PROTOCOL, "expected welcome, got %s", orc_msg_type_name(w->type));
	} else if (w->u.welcome.version != ORC_PROTO_VERSION) {
		s = occ_fail(c, OCC_UNSUPPORTED_VERSION, "the daemon speaks protocol %u, this library %u",
			     w->u.welcome.version, ORC_PROTO_VERSION);
	} else {
		snprintf(c->server_version, sizeof(c->server_version), "%s", w->u.welcome.server.s);
		snprintf(c->server_backend, sizeof(c->server_backend), "%s", w->u.welcome.backend.s);
		c->max_tokens = w->u.welcome.max_tokens;
		s = OCC_OK;
	}
	orc_msg_clear(w);
	return s;
}

static void set_last_error(const char *msg)
{
	snprintf(last_error, sizeof(last_error), "%s", msg);
}

enum occ_status occ_connect_fd(int fd, occ_conn **ret)
{
	struct occ_conn *c;
	enum occ_status s;
	int fl;

	*ret = NULL;
	if (fd < 0) {
		set_last_error("invalid file descriptor");
		return OCC_INVALID_ARGUMENT;
	}
	if (!(c = calloc(1, sizeof(*c))) || !(c->rbuf = malloc(OCC_READ_CHUNK))) {
		free(c);
		close(fd);
		set_last_error("out of memory");
		return OCC_ALLOC_FAILED;
	}
	c->fd = fd;
	/* we wait with poll(2) and write whole frames: the socket must block */
	if ((fl = fcntl(fd, F_GETFL)) >= 0 && (fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	orc_frame_reader_init(&c->rd, ORC_FRAME_MAX);
	orc_buf_init(&c->wq, 0);
	if ((s = handshake(c)) != OCC_OK) {
		set_last_error(c->err);
		occ_close(c);
		return s;
	}
	*ret = c;
	return OCC_OK;
}

enum occ_status occ_connect(const char *path, occ_conn **ret)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	*ret = NULL;
	if (!path || !*path)
		path = getenv("ORCD_SOCKET");
	if (!path || !*path)
		path = OCC_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(last_error, sizeof(last_error), "socket path too long: %s", path);
		return OCC_INVALID_ARGUMENT;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(last_error, sizeof(last_error), "socket: %s", strerror(errno));
		return OCC_CONNECT;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(last_error, sizeof(last_error), "%s: %s", path, strerror(errno));
		close(fd);
		return OCC_CONNECT;
	}
	return occ_connect_fd(fd, ret);
}

void occ_close(occ_conn *c)
{
	struct occ_pending *p, *next;

	if (!c)
		return;
	if (!c->dead)
		die(c, OCC_DISCONNECTED);
	/* generations still held by the caller forget this connection */
	for (p = c->pending; p; p = next) {
		next = p->next;
		p->next = NULL;
		if (occ_pending_is_gen(p))
			occ_gen_detach(p);
	}
	c->pending = NULL;
	if (c->fd >= 0)
		close(c->fd);
	orc_msg_clear(&c->hs_reply);
	orc_frame_reader_free(&c->rd);
	orc_buf_free(&c->wq);
	free(c->rbuf);
	free(c);
}
