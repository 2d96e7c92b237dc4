/* main.c -- orcd's entry point: the command line, the configuration
 * (defaults, orcd.conf, then command-line overrides; again on SIGHUP),
 * startup of the threads and sockets, signals through a signalfd, and an
 * orderly shutdown. orcd does not daemonize: systemd (Type=notify) or the
 * caller supervises it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "conn.h"
#include "loader.h"
#include "log.h"
#include "notify.h"
#include "registry.h"
#include "scheduler.h"
#include "server.h"
#include "stats.h"

#ifndef ORC_SYSCONFDIR
#define ORC_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG ORC_SYSCONFDIR "/orcd/orcd.conf"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcd [OPTIONS]\n"
		"\n"
		"orcd serves GGUF language models to local clients over a Unix socket.\n"
		"\n"
		"  -s, --socket PATH      listen on PATH when systemd passes no socket\n"
		"  -m, --models DIR       the models directory (a model is named by its file stem)\n"
		"  -b, --backend NAME     auto, cuda or cpu\n"
		"  -c, --config FILE      read FILE instead of " DEFAULT_CONFIG "\n"
		"  -p, --preload NAMES    models to load at startup and keep resident (comma list)\n"
		"  -t, --threads N        CPU threads per model (0: all cores)\n"
		"  -o, --set KEY=VALUE    any orcd.conf setting (repeatable)\n"
		"      --serve-fd FD      serve one already-connected socket; exit when it closes\n"
		"      --model-file PATH  serve just this GGUF file (named by its stem)\n"
		"  -v, --verbose          log debug messages\n"
		"  -h, --help             this help\n"
		"  -V, --version          print the version\n"
		"\n"
		"Command-line settings win over orcd.conf, also when SIGHUP re-reads it.\n"
		"SIGTERM drains: new work is refused, running work finishes (or is cancelled\n"
		"after drain_timeout, %u ms by default), then orcd exits 0.\n"
		"See orcd(8) and orcd.conf(5).\n",
		ORC_DRAIN_TIMEOUT_MS);
}

static int parse_fd(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 0 || v > 65535)
		return -1;
	return (int)v;
}

/* 0: go on; 1: exit 0 (help, version); -1: usage error. */
static int parse_args(int argc, char **argv, struct orc_cli *cli)
{
	enum { OPT_SERVE_FD = 256, OPT_MODEL_FILE };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "models", required_argument, NULL, 'm' },
		{ "backend", required_argument, NULL, 'b' },
		{ "config", required_argument, NULL, 'c' },
		{ "preload", required_argument, NULL, 'p' },
		{ "threads", required_argument, NULL, 't' },
		{ "set", required_argument, NULL, 'o' },
		{ "serve-fd", required_argument, NULL, OPT_SERVE_FD },
		{ "model-file", required_argument, NULL, OPT_MODEL_FILE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	cli->serve_fd = -1;
	while ((c = getopt_long(argc, argv, "s:m:b:c:p:t:o:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 's': cli->socket_path = optarg; break;
		case 'm': cli->models_dir = optarg; break;
		case 'b': cli->backend = optarg; break;
		case 'c': cli->config_path = optarg; break;
		case 'p': cli->preload = optarg; break;
		case 't': cli->threads = optarg; break;
		case 'o':
			if (cli->n_sets >= ORC_CONF_LIST_MAX || !strchr(optarg, '=')) {
				fprintf(stderr, "orcd: --set wants KEY=VALUE (at most %d)\n",
					ORC_CONF_LIST_MAX);
				return -1;
			}
			cli->sets[cli->n_sets++] = optarg;
			break;
		case OPT_SERVE_FD:
			cli->serve_fd = parse_fd(optarg);
			if (cli->serve_fd < 0) {
				fprintf(stderr, "orcd: --serve-fd: bad descriptor '%s'\n", optarg);
				return -1;
			}
			break;
		case OPT_MODEL_FILE: cli->model_file = optarg; break;
		case 'v': cli->verbose = 1; break;
		case 'h': usage(stdout); return 1;
		case 'V': printf("orcd %s\n", PACKAGE_VERSION); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "orcd: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	return 0;
}

/* A private orcd (--serve-fd) logs to its client's terminal: "orcd: "
 * prefixes there, journald's "<N>" priorities otherwise. */
static enum orc_log_style log_style(const struct orc_cli *cli)
{
	return cli->serve_fd >= 0 ? ORC_LOG_PLAIN : ORC_LOG_JOURNAL;
}

/* ---- configuration ---- */

static int apply_cli(struct orc_conf *c, const struct orc_cli *cli, struct orc_err *err)
{
	struct { const char *key, *value; } over[] = {
		{ "socket", cli->socket_path }, { "models", cli->models_dir },
		{ "backend", cli->backend }, { "preload", cli->preload }, { "threads", cli->threads },
	};
	int r;

	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		if (!over[i].value)
			continue;
		r = orc_conf_set(c, over[i].key, over[i].value, err);
		if (r < 0)
			return orc_err_prefix(err, "--%s", over[i].key);
	}
	for (int i = 0; i < cli->n_sets; i++) {
		char key[128];
		const char *eq = strchr(cli->sets[i], '=');
		size_t klen = (size_t)(eq - cli->sets[i]);

		if (klen >= sizeof(key))
			return orc_err_set(err, -EINVAL, "--set: key too long");
		memcpy(key, cli->sets[i], klen);
		key[klen] = '\0';
		r = orc_conf_set(c, key, eq + 1, err);
		if (r < 0)
			return orc_err_prefix(err, "--set");
	}
	if (cli->verbose)
		c->log_level = LOG_DEBUG;
	return 0;
}

static int build_conf(const struct orc_cli *cli, struct orc_conf *ret, struct orc_err *err)
{
	int r = orc_conf_defaults(ret);

	if (r < 0)
		return orc_err_set(err, r, "out of memory");
	r = orc_conf_load(ret, cli->config_path ? cli->config_path : DEFAULT_CONFIG,
			  cli->config_path == NULL, err);
	if (r == 0)
		r = apply_cli(ret, cli, err);
	if (r < 0)
		orc_conf_free(ret);
	return r;
}

static struct orc_sched_limits sched_limits(const struct orc_conf *c)
{
	struct orc_sched_limits l = {
		.max_sequences = c->max_sequences,
		.prefill_chunk = c->prefill_chunk,
		.max_tokens = c->default_max_tokens && c->default_max_tokens < c->max_tokens
			      ? c->default_max_tokens : c->max_tokens,
		.prefix_cache = c->prefix_cache,
	};
	return l;
}

/* SIGHUP: settings that can change live do; the others need a restart. */
void orc_server_reload(struct orc_server *s)
{
	struct orc_sched_limits lim;
	struct orc_err err = { 0 };
	struct orc_conf c;

	if (build_conf(&s->cli, &c, &err) < 0) {
		log_err("reload: %s; keeping the running configuration", orc_err_msg(&err));
		return;
	}
	if (strcmp(c.models_dir, s->conf.models_dir) != 0 ||
	    strcmp(c.socket_path, s->conf.socket_path) != 0 || c.backend != s->conf.backend)
		log_notice("reload: the socket, models directory and backend change only at restart");
	free(c.models_dir);
	c.models_dir = s->conf.models_dir;
	s->conf.models_dir = NULL;
	orc_conf_free(&s->conf);
	s->conf = c;
	orc_log_init("orcd", log_style(&s->cli), s->conf.log_level);
	lim = sched_limits(&s->conf);
	orc_sched_set_limits(s->sched, &lim);
	orc_registry_conf_changed(s->reg);
	orc_registry_budget_changed(s->reg);
	orc_registry_preload(s->reg);
	orc_stats_start(s);
	log_notice("reload: configuration re-read");
	orc_server_notify_status(s);
}

/* ---- signals ---- */

static void signal_cb(struct orc_loop *l, int fd, unsigned events, void *data)
{
	struct orc_server *s = data;
	struct signalfd_siginfo si;

	(void)l;
	(void)events;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (s->draining && si.ssi_signo == SIGINT) {
				log_notice("second SIGINT: stopping now");
				orc_loop_stop(s->loop);
			}
			orc_server_drain(s);
			break;
		case SIGHUP:
			orc_server_reload(s);
			break;
		default:
			break;
		}
	}
}

static int setup_signals(sigset_t *set)
{
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	/* Blocked before any thread starts, so only the signalfd sees them. */
	if (pthread_sigmask(SIG_BLOCK, set, NULL) != 0)
		return -1;
	fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd;
}

/* ---- startup and shutdown ---- */

/* The device that models will run on: its memory is the base of the
 * default budget. A backend that cannot start leaves it unknown (loads
 * then fail with the same reason). */
static void find_device(struct orc_server *s)
{
	struct orc_device_info *d = &s->device;
	struct orc_err err = { 0 };

	if (orc_device_query(s->conf.backend, d, &err) < 0) {
		log_warnx("no device to describe: %s", orc_err_msg(&err));
		memset(d, 0, sizeof(*d));
		return;
	}
	log_info("device: %s%s%s, %" PRIu64 " MiB of %s, %" PRIu64 " MiB free", d->backend,
		 *d->name ? ", " : "", d->name, d->mem_total >> 20, d->gpu ? "memory" : "RAM",
		 d->mem_free >> 20);
	if (s->conf.kv_f16 && !d->gpu)
		log_warnx("kv_cache_type = f16: the %s backend keeps its KV cache in f32 only, so models "
			  "will fail to load until kv_cache_type = f32", d->backend);
}

static int start(struct orc_server *s, int sigfd)
{
	struct orc_sched_limits lim = sched_limits(&s->conf);
	struct orc_err err = { 0 };
	int r;

	s->loop = orc_loop_new();
	if (!s->loop || orc_evq_init(&s->evq) < 0 || orc_metrics_init(&s->metrics) < 0) {
		log_err("out of memory at startup");
		return -1;
	}
	find_device(s);
	if (orc_registry_new(s, &s->reg, &err) < 0 ||
	    (s->cli.model_file && orc_registry_add_file(s->reg, s->cli.model_file, &err) < 0)) {
		log_err("%s", orc_err_msg(&err));
		return -1;
	}
	if (!s->cli.model_file && access(s->conf.models_dir, R_OK | X_OK) < 0)
		log_warn("models directory %s", s->conf.models_dir);
	if ((r = orc_loader_start(&s->evq, &s->loader)) < 0 ||
	    (r = orc_sched_start(&s->evq, &lim, &s->sched)) < 0) {
		log_err("starting the worker threads: %s", strerror(-r));
		return -1;
	}
	if (s->cli.serve_fd >= 0) {
		struct orc_conn *c;

		fcntl(s->cli.serve_fd, F_SETFL, fcntl(s->cli.serve_fd, F_GETFL) | O_NONBLOCK);
		fcntl(s->cli.serve_fd, F_SETFD, FD_CLOEXEC);
		if (orc_server_add_conn(s, s->cli.serve_fd, &c) < 0) {
			log_err("--serve-fd %d: cannot serve it", s->cli.serve_fd);
			return -1;
		}
		c->single = true;
	} else {
		if (orc_listen_open(&s->listen, s->conf.socket_path, s->conf.socket_group, &err) < 0) {
			log_err("%s", orc_err_msg(&err));
			return -1;
		}
		if (orc_server_listen(s) < 0) {
			log_err("watching the listening socket failed");
			return -1;
		}
	}
	if (orc_server_watch_events(s) < 0 ||
	    orc_loop_add_fd(s->loop, sigfd, ORC_LOOP_READ, signal_cb, s) < 0) {
		log_err("event loop setup failed");
		return -1;
	}
	orc_server_start_timers(s);
	orc_stats_start(s);
	orc_registry_preload(s->reg);
	orc_server_notify_status(s);
	return 0;
}

/* Free a model whose load finished after the loop stopped. */
static void drop_late_events(struct orc_server *s)
{
	struct orc_event *e = orc_evq_take(&s->evq), *next;

	for (; e; e = next) {
		next = e->next;
		if (e->type == ORC_EV_LOAD_DONE && e->u.load.model)
			orc_model_free(e->u.load.model);
		orc_event_free(e);
	}
}

static void stop(struct orc_server *s)
{
	if (s->listening) {
		for (size_t i = 0; i < s->listen.n_fds; i++)
			orc_loop_del_fd(s->loop, s->listen.fds[i]);
		orc_listen_close(&s->listen);
	}
	orc_sched_stop(s->sched);
	orc_loader_stop(s->loader);
	drop_late_events(s);
	if (s->loop)
		orc_server_free_conns(s);
	if (s->reg) {
		orc_registry_unload_all(s->reg);
		orc_registry_free(s->reg);
	}
	if (s->evq.efd > 0)
		orc_evq_destroy(&s->evq);
	orc_metrics_free(&s->metrics);
	orc_loop_free(s->loop);
	orc_conf_free(&s->conf);
}

int main(int argc, char **argv)
{
	struct orc_server s;
	struct orc_err err = { 0 };
	sigset_t set;
	int r, sigfd;

	memset(&s, 0, sizeof(s));
	s.evq.efd = -1;
	orc_log_init("orcd", ORC_LOG_JOURNAL, LOG_INFO);
	r = parse_args(argc, argv, &s.cli);
	if (r)
		return r > 0 ? 0 : 2;
	orc_log_init("orcd", log_style(&s.cli), LOG_INFO);
	if (build_conf(&s.cli, &s.conf, &err) < 0) {
		log_err("%s", orc_err_msg(&err));
		return 1;
	}
	orc_log_init("orcd", log_style(&s.cli), s.conf.log_level);
	sigfd = setup_signals(&set);
	if (sigfd < 0) {
		log_warn("signalfd");
		orc_conf_free(&s.conf);
		return 1;
	}
	s.start_ms = orc_now_ms();
	log_info("orcd %s starting (pid %d)", PACKAGE_VERSION, (int)getpid());
	r = start(&s, sigfd);
	if (r == 0) {
		r = orc_loop_run(s.loop);
		if (r < 0)
			log_err("the event loop failed: %s", strerror(-r));
	}
	stop(&s);
	close(sigfd);
	log_info("orcd stopped");
	return r < 0 ? 1 : 0;
}
