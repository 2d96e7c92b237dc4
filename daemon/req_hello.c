/* req_hello.c -- the handshake: check the client's protocol version and
 * answer welcome with the server's capabilities and limits. */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "log.h"
#include "registry.h"
#include "req.h"
#include "server.h"

static const char *configured_backend(const struct orc_conf *c)
{
	switch (c->backend) {
	case ORC_BACKEND_CPU: return "cpu";
	case ORC_BACKEND_CUDA: return "cuda";
	default: return "auto";
	}
}

/* The backend in use: that of a resident model, else the one found at
 * startup, else the configured one. */
const char *orc_server_backend_name(struct orc_server *s)
{
	const char *b = orc_registry_backend(s->reg);

	if (!b)
		b = s->device.backend;
	return b ? b : configured_backend(&s->conf);
}

void orc_req_hello(struct orc_conn *c, const struct orc_msg *m)
{
	static struct orc_str backends[] = { { "cpu", 3 }, { "cuda", 4 } };
	const uint32_t n_backends = orc_backend_built(ORC_BACKEND_CUDA) ? 2 : 1;
	const char *server = "orcd " PACKAGE_VERSION;
	const char *backend = orc_server_backend_name(c->srv);
	struct orc_msg w;

	if (m->u.hello.version != ORC_PROTO_VERSION) {
		orc_conn_error(c, 0, OCC_UNSUPPORTED_VERSION,
			       "client speaks protocol version %u; orcd speaks %u", m->u.hello.version,
			       ORC_PROTO_VERSION);
		orc_conn_close_after_flush(c);
		return;
	}
	c->greeted = true;
	log_info("conn %u (uid %u gid %u pid %d): hello from %.*s", ORC_CONN_NUM(c),
		 (unsigned)c->cred.uid, (unsigned)c->cred.gid, (int)c->cred.pid,
		 (int)m->u.hello.client.len, m->u.hello.client.s ? m->u.hello.client.s : "");
	orc_msg_init(&w, ORC_MSG_WELCOME, 0);
	w.u.welcome.version = ORC_PROTO_VERSION;
	w.u.welcome.server = (struct orc_str){ server, (uint32_t)strlen(server) };
	w.u.welcome.backend = (struct orc_str){ backend, (uint32_t)strlen(backend) };
	w.u.welcome.backends = (struct orc_strs){ backends, n_backends };
	w.u.welcome.frame_max = ORC_FRAME_MAX;
	w.u.welcome.inflight_max = ORC_MAX_INFLIGHT_PER_CONN;
	w.u.welcome.max_tokens = c->srv->conf.max_tokens;
	w.u.welcome.ctx_max = c->srv->conf.max_context;
	w.u.welcome.logprobs_max = ORC_LOGPROBS_TOP_MAX;
	w.u.welcome.stop_max = ORC_STOP_STRINGS_MAX;
	orc_conn_send(c, &w);
}
