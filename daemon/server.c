/* server.c -- what the event loop serves: accepting connections (with the
 * access check), the connection table, worker events, the periodic sweep
 * (timeouts, watchdog), draining on SIGTERM and re-reading the
 * configuration on SIGHUP. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "deliver.h"
#include "job.h"
#include "log.h"
#include "notify.h"
#include "registry.h"
#include "scheduler.h"
#include "server.h"

#define SWEEP_MS 500
#define PEER_GROUPS_MAX 256

/* ---- the device ---- */

void orc_server_device(struct orc_server *s, struct orc_device_info *ret)
{
	if (!orc_registry_device(s->reg, ret))
		*ret = s->device;
}

/* ---- connections ---- */

struct orc_conn *orc_server_conn(struct orc_server *s, uint64_t conn_id)
{
	uint32_t slot = (uint32_t)conn_id;
	struct orc_conn *c;

	if (slot >= s->conns_cap)
		return NULL;
	c = s->conns[slot];
	return c && c->id == conn_id ? c : NULL;
}

static bool in_list_uid(const uid_t *v, size_t n, uid_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static bool in_list_gid(const gid_t *v, size_t n, gid_t x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* allowed_users / allowed_groups: the peer's uid, primary gid, or a
 * supplementary group of its user. Empty lists allow everyone. */
static bool peer_allowed(const struct orc_conf *c, const struct ucred *cr)
{
	gid_t groups[PEER_GROUPS_MAX];
	int ng = PEER_GROUPS_MAX;
	struct passwd *pw;

	if (!c->n_allowed_uids && !c->n_allowed_gids)
		return true;
	if (in_list_uid(c->allowed_uids, c->n_allowed_uids, cr->uid) ||
	    in_list_gid(c->allowed_gids, c->n_allowed_gids, cr->gid))
		return true;
	if (!c->n_allowed_gids || !(pw = getpwuid(cr->uid)))
		return false;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) < 0)
		ng = PEER_GROUPS_MAX;
	for (int i = 0; i < ng; i++)
		if (in_list_gid(c->allowed_gids, c->n_allowed_gids, groups[i]))
			return true;
	return false;
}

static int free_slot(struct orc_server *s, uint32_t *ret)
{
	struct orc_conn **v;
	uint32_t cap;

	for (uint32_t i = 0; i < s->conns_cap; i++) {
		if (!s->conns[i]) {
			*ret = i;
			return 0;
		}
	}
	cap = s->conns_cap ? s->conns_cap * 2 : 64;
	v = realloc(s->conns, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	memset(v + s->conns_cap, 0, (cap - s->conns_cap) * sizeof(*v));
	*ret = s->conns_cap;
	s->conns = v;
	s->conns_cap = cap;
	return 0;
}

int orc_server_add_conn(struct orc_server *s, int fd, struct orc_conn **ret)
{
	struct orc_conn *c;
	uint32_t slot;

	if (free_slot(s, &slot) < 0)
		return -ENOMEM;
	c = orc_conn_new(s, fd, ((uint64_t)++s->conn_gen << 32) | slot);
	if (!c)
		return -ENOMEM;
	if (ret)
		*ret = c;
	c->allowed = peer_allowed(&s->conf, &c->cred);
	s->conns[slot] = c;
	s->n_conns++;
	log_debug("conn %u: uid %u gid %u pid %d%s", ORC_CONN_NUM(c), (unsigned)c->cred.uid,
		  (unsigned)c->cred.gid, (int)c->cred.pid, c->allowed ? "" : " (not allowed)");
	return 0;
}

static struct orc_conn *dead_conns;

static void reap_cb(struct orc_loop *l, uint64_t id, void *data)
{
	struct orc_conn *c, *next;

	(void)l;
	(void)id;
	(void)data;
	for (c = dead_conns; c; c = next) {
		next = c->next_dead;
		orc_conn_free(c);
	}
	dead_conns = NULL;
}

/* The connection is closed already; free it once the current callback is over. */
void orc_server_remove_conn(struct orc_server *s, struct orc_conn *c)
{
	uint32_t slot = (uint32_t)c->id;

	if (slot < s->conns_cap && s->conns[slot] == c) {
		s->conns[slot] = NULL;
		s->n_conns--;
	}
	if (!dead_conns)
		orc_loop_add_timer(s->loop, 0, reap_cb, NULL);
	c->next_dead = dead_conns;
	dead_conns = c;
	if (c->single) {
		log_info("the client of --serve-fd left; stopping");
		orc_server_drain(s);
	}
	orc_server_check_drained(s);
}

void orc_server_free_conns(struct orc_server *s)
{
	for (uint32_t i = 0; i < s->conns_cap; i++) {
		if (s->conns[i]) {
			s->conns[i]->single = false;
			orc_conn_drop(s->conns[i], "orcd is stopping");
		}
	}
	reap_cb(s->loop, 0, NULL);
	free(s->conns);
	s->conns = NULL;
	s->conns_cap = 0;
}

static void accept_cb(struct orc_loop *l, int fd, unsigned events, void *data)
{
	struct orc_server *s = data;

	(void)l;
	(void)events;
	for (int i = 0; i < 16; i++) {
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		if (s->n_conns >= s->conf.max_connections) {
			log_warnx("refusing a connection: max_connections (%u) reached",
				  s->conf.max_connections);
			close(cfd);
			continue;
		}
		if (orc_server_add_conn(s, cfd, NULL) < 0) {
			log_warnx("refusing a connection: out of memory");
			close(cfd);
		}
	}
}

int orc_server_listen(struct orc_server *s)
{
	for (size_t i = 0; i < s->listen.n_fds; i++) {
		int r = orc_loop_add_fd(s->loop, s->listen.fds[i], ORC_LOOP_READ, accept_cb, s);

		if (r < 0)
			return r;
	}
	s->listening = true;
	return 0;
}

static void stop_listening(struct orc_server *s)
{
	if (!s->listening)
		return;
	for (size_t i = 0; i < s->listen.n_fds; i++)
		orc_loop_del_fd(s->loop, s->listen.fds[i]);
	orc_listen_close(&s->listen);
	s->listening = false;
}

/* ---- worker events ---- */

static void evq_cb(struct orc_loop *l, int fd, unsigned events, void *data)
{
	(void)l;
	(void)fd;
	(void)events;
	orc_deliver_events(data);
}

int orc_server_watch_events(struct orc_server *s)
{
	return orc_loop_add_fd(s->loop, s->evq.efd, ORC_LOOP_READ, evq_cb, s);
}

/* ---- status, readiness, watchdog ---- */

void orc_server_notify_status(struct orc_server *s)
{
	uint32_t jobs = orc_registry_n_jobs(s->reg);

	if (!s->ready && !s->draining && !orc_registry_preloading(s->reg)) {
		s->ready = true;
		orc_notify_ready();
		log_notice("ready: serving on %s with backend %s", s->listen.path ? s->listen.path :
			   s->listen.activated ? "the socket from systemd" : "the given descriptor",
			   orc_server_backend_name(s));
	}
	if (s->draining)
		orc_notify_status("stopping: %u request(s) left", jobs);
	else if (!s->ready)
		orc_notify_status("loading preloaded models");
	else
		orc_notify_status("serving: %u connection(s), %u request(s), %" PRIu64 " MiB of models",
				  s->n_conns, jobs, orc_registry_mem_used(s->reg) >> 20);
}

static void sweep_cb(struct orc_loop *l, uint64_t id, void *data)
{
	struct orc_server *s = data;
	uint64_t now = orc_now_ms();

	(void)id;
	for (uint32_t i = 0; i < s->conns_cap; i++)
		if (s->conns[i])
			orc_conn_sweep(s->conns[i], now);
	s->sweep_timer = orc_loop_add_timer(l, SWEEP_MS, sweep_cb, s);
	orc_server_check_drained(s);
}

static void watchdog_cb(struct orc_loop *l, uint64_t id, void *data)
{
	struct orc_server *s = data;

	(void)id;
	orc_notify_watchdog();
	s->watchdog_timer = orc_loop_add_timer(l, s->watchdog_ms, watchdog_cb, s);
}

void orc_server_start_timers(struct orc_server *s)
{
	s->sweep_timer = orc_loop_add_timer(s->loop, SWEEP_MS, sweep_cb, s);
	s->watchdog_ms = orc_notify_watchdog_ms();
	if (s->watchdog_ms)
		s->watchdog_timer = orc_loop_add_timer(s->loop, s->watchdog_ms, watchdog_cb, s);
}

/* ---- draining ---- */

static void drain_timeout_cb(struct orc_loop *l, uint64_t id, void *data)
{
	struct orc_server *s = data;

	(void)l;
	(void)id;
	s->drain_timer = 0;
	if (s->drain_canceled) {
		log_warnx("drain: %u request(s) did not end after cancelling; exiting anyway",
			  orc_registry_n_jobs(s->reg));
		orc_loop_stop(s->loop);
		return;
	}
	s->drain_canceled = true;
	log_notice("drain: %u request(s) still running after %lld ms; cancelling them",
		   orc_registry_n_jobs(s->reg), (long long)s->conf.drain_timeout_ms);
	orc_registry_cancel_all(s->reg, ORC_JOB_CANCEL_SHUTDOWN);
	/* Cancelled jobs end within one step; give them and the replies 5 s more. */
	s->drain_timer = orc_loop_add_timer(s->loop, 5000, drain_timeout_cb, s);
}

void orc_server_drain(struct orc_server *s)
{
	if (s->draining)
		return;
	s->draining = true;
	orc_notify_stopping();
	log_notice("stopping: no new connections; %u request(s) in flight",
		   orc_registry_n_jobs(s->reg));
	stop_listening(s);
	orc_registry_drain(s->reg);
	s->drain_timer = orc_loop_add_timer(s->loop, (uint64_t)s->conf.drain_timeout_ms,
					    drain_timeout_cb, s);
	orc_server_notify_status(s);
	orc_server_check_drained(s);
}

static bool writes_pending(const struct orc_server *s)
{
	for (uint32_t i = 0; i < s->conns_cap; i++)
		if (s->conns[i] && !s->conns[i]->dead && orc_buf_pending(&s->conns[i]->wq))
			return true;
	return false;
}

void orc_server_check_drained(struct orc_server *s)
{
	if (!s->draining)
		return;
	if (orc_registry_n_jobs(s->reg) || orc_registry_busy(s->reg))
		return;
	if (writes_pending(s))
		return;   /* the sweep looks again */
	orc_loop_stop(s->loop);
}
