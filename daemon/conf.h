/* conf.h -- orcd's settings: built-in defaults, then orcd.conf, then the
 * command line. orcd.conf is "key = value" lines with '#' comments and
 * optional "[model NAME]" sections for per-model settings (orcd.conf(5)).
 * SIGHUP builds a fresh orc_conf the same way and swaps it in. */
#ifndef ORC_DAEMON_CONF_H
#define ORC_DAEMON_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine.h"
#include "error.h"

#define ORC_KEEP_ALIVE_FOREVER  (-1)
#define ORC_KEEP_ALIVE_DEFAULT_MS (5 * 60 * 1000)
#define ORC_MEM_BUDGET_PERCENT_DEFAULT 90
#define ORC_SEQS_PER_MODEL_DEFAULT 64
#define ORC_PREFILL_CHUNK_DEFAULT 128
#define ORC_MAX_CONTEXT_DEFAULT 4096
#define ORC_MAX_TOKENS_DEFAULT 4096

/* Per-model settings from a "[model NAME]" section. */
struct orc_conf_model {
	char *name;
	int64_t keep_alive_ms;      /* ORC_KEEP_ALIVE_FOREVER pins; -2 = the global value */
};

struct orc_conf {
	char *socket_path;          /* listen here when systemd passes no socket */
	char *socket_group;         /* chgrp the socket we create; NULL = leave it */
	char *models_dir;
	char **preload;             /* model names; stay resident until unloaded */
	size_t n_preload;
	enum orc_backend_kind backend;
	int threads;                /* CPU threads per model; 0 = all cores */

	uint32_t max_connections;
	uint32_t max_queued;        /* requests waiting, per model */
	uint32_t max_context;       /* tokens per sequence */
	uint32_t max_tokens;        /* generated tokens per request */
	uint32_t default_max_tokens; /* ... when the request sets none; 0 = max_tokens */
	uint32_t max_sequences;     /* sequences decoding at once, per model */
	uint32_t prefill_chunk;     /* prompt tokens per sequence per step */
	bool prefix_cache;          /* reuse cached KV blocks of common prompt prefixes */
	bool kv_f16;                /* kv_cache_type = f16: KV cache rows in F16 (CUDA) */

	uid_t *allowed_uids;        /* empty lists: everyone may connect */
	size_t n_allowed_uids;
	gid_t *allowed_gids;
	size_t n_allowed_gids;

	int64_t keep_alive_ms;      /* after the last request; FOREVER pins */
	int64_t drain_timeout_ms;   /* SIGTERM: running work is cancelled after this */
	int64_t handshake_timeout_ms; /* a connection must say hello by then */
	int64_t frame_timeout_ms;   /* a started frame must complete by then */
	uint64_t mem_budget;        /* bytes; 0 = mem_budget_pct of what is free */
	unsigned mem_budget_pct;

	struct orc_conf_model *models;
	size_t n_models;

	char *metrics_file;         /* Prometheus text file written periodically; NULL: none */
	int64_t metrics_interval_ms;

	int log_level;              /* syslog priority, LOG_INFO default */
};

/* Defaults only (no file read). */
int orc_conf_defaults(struct orc_conf *c);
/* Read `path` over the current values. A missing file is -ENOENT unless
 * `optional`. Every error names the file and line. */
int orc_conf_load(struct orc_conf *c, const char *path, bool optional, struct orc_err *err);
/* Apply one "key = value" setting, as from the file (the command line uses it). */
int orc_conf_set(struct orc_conf *c, const char *key, const char *value, struct orc_err *err);
void orc_conf_free(struct orc_conf *c);   /* frees the members, not c itself */

/* The effective keep-alive of a model. */
int64_t orc_conf_keep_alive(const struct orc_conf *c, const char *model);
bool orc_conf_is_preload(const struct orc_conf *c, const char *model);

/* Parsers shared with the request handlers: "30s", "5m", "2h", "forever". */
int orc_parse_duration_ms(const char *s, int64_t *ret);
/* "4G", "512M", "123456", or "90%" (ret_pct set, *ret 0). */
int orc_parse_size(const char *s, uint64_t *ret, unsigned *ret_pct);

#endif
