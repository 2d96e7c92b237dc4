/* server.h -- the state of one orcd process that the event loop thread owns:
 * settings, listening sockets, connections, the model registry, the
 * scheduler and loader threads, and the counters. Request handlers
 * (req_*.c) receive a connection and reach everything else through it. */
#ifndef ORC_SERVER_H
#define ORC_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "evq.h"
#include "limits.h"
#include "listen.h"
#include "loop.h"
#include "metrics.h"

struct orc_conn;
struct orc_registry;
struct orc_sched;
struct orc_loader;

/* Settings given on the command line: they win over orcd.conf, also
 * after SIGHUP re-reads the file. */
struct orc_cli {
	const char *config_path;   /* NULL: the default path, optional */
	const char *socket_path;
	const char *models_dir;
	const char *backend;
	const char *preload;
	const char *threads;
	int serve_fd;              /* --serve-fd: one connection, exit when it closes; -1 none */
	const char *model_file;    /* --model-file: serve just this GGUF */
	const char *sets[ORC_CONF_LIST_MAX];   /* --set KEY=VALUE, in order */
	int n_sets;
	int verbose;
};

struct orc_server {
	struct orc_cli cli;
	struct orc_conf conf;
	struct orc_loop *loop;
	struct orc_listen listen;
	bool listening;
	struct orc_evq evq;
	struct orc_registry *reg;
	struct orc_sched *sched;
	struct orc_loader *loader;
	struct orc_metrics metrics;
	struct orc_device_info device;   /* as found at startup (orc_device_query); zero when unknown */

	struct orc_conn **conns;    /* [conns_cap] slots; a connection id is (generation << 32 | slot) */
	uint32_t conns_cap;
	uint32_t n_conns;
	uint32_t conn_gen;

	uint64_t start_ms;
	bool ready;                 /* READY=1 sent */
	bool draining;              /* SIGTERM received */
	uint64_t drain_timer;
	bool drain_canceled;        /* the drain deadline passed: jobs were cancelled */
	int exit_code;
	uint64_t sweep_timer;
	uint64_t watchdog_timer;
	uint64_t watchdog_ms;
	uint64_t metrics_timer;
	bool metrics_failed;        /* the last write failed (logged once) */
};

struct orc_conn *orc_server_conn(struct orc_server *s, uint64_t conn_id);  /* NULL when gone */
/* Add an accepted or handed-over socket as a connection (*ret, optional). */
int orc_server_add_conn(struct orc_server *s, int fd, struct orc_conn **ret);
void orc_server_remove_conn(struct orc_server *s, struct orc_conn *c);
/* Watch the listening sockets and the worker events; start the sweep and
 * watchdog timers. */
int orc_server_listen(struct orc_server *s);
int orc_server_watch_events(struct orc_server *s);
void orc_server_start_timers(struct orc_server *s);
/* Close every connection (at exit). */
void orc_server_free_conns(struct orc_server *s);
/* SIGTERM: stop accepting, let work finish within ORC_DRAIN_TIMEOUT_MS,
 * then cancel it; the loop stops when nothing is left. */
void orc_server_drain(struct orc_server *s);
/* Called when a job or a connection ends, to finish a drain. */
void orc_server_check_drained(struct orc_server *s);
/* Re-read orcd.conf (SIGHUP). */
void orc_server_reload(struct orc_server *s);
/* The backend in use: that of a resident model, else the one found at
 * startup, else the configured one. */
const char *orc_server_backend_name(struct orc_server *s);
/* The device models run on: that of a resident model (memory as of now),
 * else as found at startup. */
void orc_server_device(struct orc_server *s, struct orc_device_info *ret);
/* Update the STATUS= line (and send READY=1 once preloads are resident). */
void orc_server_notify_status(struct orc_server *s);

#endif
