/* conf.c -- orcd.conf parsing and the command-line overrides (see conf.h).
 * Every value is checked against the caps of limits.h; user and group names
 * are resolved to ids when read, so access checks never call NSS. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "conf.h"
#include "limits.h"

int orc_conf_defaults(struct orc_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->socket_path = strdup("/run/orcd/orcd.sock");
	c->models_dir = strdup("/var/lib/orcd/models");
	if (!c->socket_path || !c->models_dir) {
		orc_conf_free(c);
		return -ENOMEM;
	}
	c->backend = ORC_BACKEND_AUTO;
	c->max_connections = ORC_MAX_CONNECTIONS_DEFAULT;
	c->max_queued = ORC_MAX_QUEUED_DEFAULT;
	c->max_context = ORC_MAX_CONTEXT_DEFAULT;
	c->max_tokens = ORC_MAX_TOKENS_DEFAULT;
	c->max_sequences = ORC_SEQS_PER_MODEL_DEFAULT;
	c->prefill_chunk = ORC_PREFILL_CHUNK_DEFAULT;
	c->prefix_cache = true;
	c->keep_alive_ms = ORC_KEEP_ALIVE_DEFAULT_MS;
	c->drain_timeout_ms = ORC_DRAIN_TIMEOUT_MS;
	c->handshake_timeout_ms = ORC_HANDSHAKE_TIMEOUT_MS;
	c->frame_timeout_ms = ORC_PARTIAL_FRAME_TIMEOUT_MS;
	c->metrics_interval_ms = 10000;
	c->mem_budget_pct = ORC_MEM_BUDGET_PERCENT_DEFAULT;
	c->log_level = LOG_INFO;
	return 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void orc_conf_free(struct orc_conf *c)
{
	if (!c)
		return;
	free(c->socket_path);
	free(c->socket_group);
	free(c->models_dir);
	free(c->metrics_file);
	free_list(c->preload, c->n_preload);
	free(c->allowed_uids);
	free(c->allowed_gids);
	for (size_t i = 0; i < c->n_models; i++)
		free(c->models[i].name);
	free(c->models);
	memset(c, 0, sizeof(*c));
}

/* ---- value parsers ---- */

int orc_parse_duration_ms(const char *s, int64_t *ret)
{
	unsigned long long v;
	uint64_t mult = 1000;
	char *end;

	if (strcmp(s, "forever") == 0 || strcmp(s, "-1") == 0) {
		*ret = ORC_KEEP_ALIVE_FOREVER;
		return 0;
	}
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (strcmp(end, "ms") == 0)
		mult = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		mult = 1000;
	else if (strcmp(end, "m") == 0)
		mult = 60000;
	else if (strcmp(end, "h") == 0)
		mult = 3600000;
	else if (strcmp(end, "d") == 0)
		mult = 86400000;
	else
		return -EINVAL;
	if (v > (uint64_t)INT64_MAX / mult)
		return -ERANGE;
	*ret = (int64_t)(v * mult);
	return 0;
}

int orc_parse_size(const char *s, uint64_t *ret, unsigned *ret_pct)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (strcmp(end, "%") == 0) {
		if (v < 1 || v > 100 || !ret_pct)
			return -ERANGE;
		*ret = 0;
		*ret_pct = (unsigned)v;
		return 0;
	}
	switch (toupper((unsigned char)*end)) {
	case '\0': mult = 1; break;
	case 'K': mult = 1ull << 10; break;
	case 'M': mult = 1ull << 20; break;
	case 'G': mult = 1ull << 30; break;
	case 'T': mult = 1ull << 40; break;
	default: return -EINVAL;
	}
	if (*end && end[1] && !(toupper((unsigned char)end[1]) == 'B' && !end[2]) &&
	    !(toupper((unsigned char)end[1]) == 'I' && toupper((unsigned char)end[2]) == 'B' && !end[3]))
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*ret = v * mult;
	if (ret_pct)
		*ret_pct = 0;
	return 0;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *ret)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	if (v < lo || v > hi)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

/* Split "a, b,c" into a malloc'ed list of trimmed, non-empty items. */
static int split_list(const char *s, char ***ret, size_t *ret_n)
{
	char **v = NULL;
	size_t n = 0;
	const char *p = s;

	while (*p) {
		const char *b, *e;
		char **nv;

		while (*p == ',' || isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		b = p;
		while (*p && *p != ',')
			p++;
		e = p;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (n >= ORC_CONF_LIST_MAX) {
			free_list(v, n);
			return -E2BIG;
		}
		nv = realloc(v, (n + 1) * sizeof(*v));
		if (!nv || !(nv[n] = strndup(b, (size_t)(e - b)))) {
			free_list(nv ? nv : v, n);
			return -ENOMEM;
		}
		v = nv;
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* conf.h keeps the lists as uid_t [] and gid_t []; resolve_ids() fills
 * either as uint32_t [], which they are (checked here). */
_Static_assert(_Generic((uid_t *)0, uint32_t *: 1, default: 0) &&
	       _Generic((gid_t *)0, uint32_t *: 1, default: 0), "uid_t and gid_t are not uint32_t");

static bool user_id(const char *name, uint32_t *ret)
{
	const struct passwd *pw = getpwnam(name);

	if (pw)
		*ret = pw->pw_uid;
	return pw != NULL;
}

static bool group_id(const char *name, uint32_t *ret)
{
	const struct group *gr = getgrnam(name);

	if (gr)
		*ret = gr->gr_gid;
	return gr != NULL;
}

/* The comma list s of names (found with `lookup`) or numbers, as ids;
 * `key` and `kind` ("user", "group") name it in errors. */
static int resolve_ids(const char *s, const char *key, const char *kind,
		       bool (*lookup)(const char *name, uint32_t *ret), uint32_t **ret, size_t *ret_n,
		       struct orc_err *err)
{
	char **names;
	size_t n;
	uint32_t *ids;
	int r = split_list(s, &names, &n);

	if (r < 0)
		return orc_err_set(err, r, "%s: %s", key, strerror(-r));
	ids = calloc(n ? n : 1, sizeof(*ids));
	if (!ids) {
		free_list(names, n);
		return orc_err_set(err, -ENOMEM, "%s: out of memory", key);
	}
	for (size_t i = 0; i < n; i++) {
		if (!lookup(names[i], &ids[i]) && parse_u32(names[i], 0, UINT32_MAX - 1, &ids[i]) < 0) {
			r = orc_err_set(err, -ENOENT, "%s: no %s '%s'", key, kind, names[i]);
			free(ids);
			free_list(names, n);
			return r;
		}
	}
	free_list(names, n);
	*ret = ids;
	*ret_n = n;
	return 0;
}

/* ---- settings ---- */

static int set_str(char **dst, const char *v)
{
	char *s = strdup(v);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static int set_backend(struct orc_conf *c, const char *v)
{
	if (strcmp(v, "auto") == 0)
		c->backend = ORC_BACKEND_AUTO;
	else if (strcmp(v, "cpu") == 0)
		c->backend = ORC_BACKEND_CPU;
	else if (strcmp(v, "cuda") == 0)
		c->backend = ORC_BACKEND_CUDA;
	else
		return -EINVAL;
	return 0;
}

static int set_kv_cache_type(struct orc_conf *c, const char *v)
{
	if (strcmp(v, "f32") != 0 && strcmp(v, "f16") != 0)
		return -EINVAL;
	c->kv_f16 = strcmp(v, "f16") == 0;
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *yes[] = { "yes", "true", "on", "1" }, *no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*ret = strcmp(v, yes[i]) == 0;
			return 0;
		}
	}
	return -EINVAL;
}

static int set_log_level(struct orc_conf *c, const char *v)
{
	static const char *names[] = { "emerg", "alert", "crit", "err", "warning", "notice",
				       "info", "debug" };

	for (int i = 0; i < 8; i++) {
		if (strcmp(v, names[i]) == 0) {
			c->log_level = i;
			return 0;
		}
	}
	return -EINVAL;
}

struct u32_key {
	const char *key;
	size_t off;
	uint32_t lo, hi;
};

#define U32_KEY(k, field, lo, hi) { k, offsetof(struct orc_conf, field), lo, hi }
static const struct u32_key u32_keys[] = {
	U32_KEY("max_connections", max_connections, 1, ORC_MAX_CONNECTIONS_CAP),
	U32_KEY("max_queued", max_queued, 1, 1u << 20),
	U32_KEY("max_context", max_context, 16, ORC_CTX_MAX),
	U32_KEY("max_tokens", max_tokens, 1, ORC_MAX_TOKENS_CAP),
	U32_KEY("default_max_tokens", default_max_tokens, 0, ORC_MAX_TOKENS_CAP),
	U32_KEY("max_sequences", max_sequences, 1, ORC_SESSIONS_MAX),
	U32_KEY("prefill_chunk", prefill_chunk, 1, ORC_CTX_MAX),
};

static int set_u32_key(struct orc_conf *c, const char *key, const char *v, struct orc_err *err,
		       bool *found)
{
	for (size_t i = 0; i < sizeof(u32_keys) / sizeof(u32_keys[0]); i++) {
		const struct u32_key *k = &u32_keys[i];
		uint32_t x;

		if (strcmp(key, k->key) != 0)
			continue;
		*found = true;
		if (parse_u32(v, k->lo, k->hi, &x) < 0)
			return orc_err_set(err, -EINVAL, "%s: '%s' is not a number in %u..%u",
					   key, v, k->lo, k->hi);
		*(uint32_t *)(void *)((char *)c + k->off) = x;
		return 0;
	}
	*found = false;
	return 0;
}

static int set_list(char ***dst, size_t *dst_n, const char *key, const char *v, struct orc_err *err)
{
	char **list;
	size_t n;
	int r = split_list(v, &list, &n);

	if (r < 0)
		return orc_err_set(err, r, "%s: %s", key, r == -E2BIG ? "too many items" : strerror(-r));
	free_list(*dst, *dst_n);
	*dst = list;
	*dst_n = n;
	return 0;
}

int orc_conf_set(struct orc_conf *c, const char *key, const char *v, struct orc_err *err)
{
	bool found;
	int r = set_u32_key(c, key, v, err, &found);

	if (found)
		return r;
	if (strcmp(key, "socket") == 0)
		r = *v ? set_str(&c->socket_path, v) : -EINVAL;
	else if (strcmp(key, "socket_group") == 0)
		r = set_str(&c->socket_group, v);
	else if (strcmp(key, "models") == 0 || strcmp(key, "models_dir") == 0)
		r = *v ? set_str(&c->models_dir, v) : -EINVAL;
	else if (strcmp(key, "preload") == 0)
		return set_list(&c->preload, &c->n_preload, key, v, err);
	else if (strcmp(key, "backend") == 0)
		r = set_backend(c, v);
	else if (strcmp(key, "threads") == 0) {
		uint32_t x;
		r = parse_u32(v, 0, ORC_THREADS_MAX, &x);
		if (r == 0)
			c->threads = (int)x;
	} else if (strcmp(key, "allowed_users") == 0) {
		free(c->allowed_uids);
		c->allowed_uids = NULL;
		c->n_allowed_uids = 0;
		return resolve_ids(v, key, "user", user_id, &c->allowed_uids, &c->n_allowed_uids, err);
	} else if (strcmp(key, "allowed_groups") == 0) {
		free(c->allowed_gids);
		c->allowed_gids = NULL;
		c->n_allowed_gids = 0;
		return resolve_ids(v, key, "group", group_id, &c->allowed_gids, &c->n_allowed_gids, err);
	} else if (strcmp(key, "keep_alive") == 0)
		r = orc_parse_duration_ms(v, &c->keep_alive_ms);
	else if (strcmp(key, "drain_timeout") == 0) {
		r = orc_parse_duration_ms(v, &c->drain_timeout_ms);
		if (r == 0 && (c->drain_timeout_ms < 0 || c->drain_timeout_ms > 3600000))
			r = -ERANGE;
	} else if (strcmp(key, "handshake_timeout") == 0 || strcmp(key, "frame_timeout") == 0) {
		int64_t *ms = key[0] == 'h' ? &c->handshake_timeout_ms : &c->frame_timeout_ms;
		r = orc_parse_duration_ms(v, ms);
		if (r == 0 && (*ms < 100 || *ms > 3600000))
			r = -ERANGE;
	} else if (strcmp(key, "memory_budget") == 0)
		r = orc_parse_size(v, &c->mem_budget, &c->mem_budget_pct);
	else if (strcmp(key, "metrics_file") == 0) {
		free(c->metrics_file);
		c->metrics_file = NULL;
		r = *v ? set_str(&c->metrics_file, v) : 0;
	} else if (strcmp(key, "metrics_interval") == 0) {
		r = orc_parse_duration_ms(v, &c->metrics_interval_ms);
		if (r == 0 && (c->metrics_interval_ms < 100 || c->metrics_interval_ms > 86400000))
			r = -ERANGE;
	} else if (strcmp(key, "prefix_cache") == 0)
		r = parse_bool(v, &c->prefix_cache);
	else if (strcmp(key, "kv_cache_type") == 0)
		r = set_kv_cache_type(c, v);
	else if (strcmp(key, "log_level") == 0)
		r = set_log_level(c, v);
	else
		return orc_err_set(err, -EINVAL, "unknown setting '%s'", key);
	if (r == -ENOMEM)
		return orc_err_set(err, r, "%s: out of memory", key);
	if (r < 0)
		return orc_err_set(err, -EINVAL, "%s: bad value '%s'", key, v);
	return 0;
}

/* ---- per-model sections ---- */

static struct orc_conf_model *model_section(struct orc_conf *c, const char *name)
{
	struct orc_conf_model *m;

	for (size_t i = 0; i < c->n_models; i++)
		if (strcmp(c->models[i].name, name) == 0)
			return &c->models[i];
	if (c->n_models >= ORC_CONF_LIST_MAX)
		return NULL;
	m = realloc(c->models, (c->n_models + 1) * sizeof(*m));
	if (!m)
		return NULL;
	c->models = m;
	m = &c->models[c->n_models];
	m->name = strdup(name);
	if (!m->name)
		return NULL;
	m->keep_alive_ms = -2;
	c->n_models++;
	return m;
}

static int model_set(struct orc_conf_model *m, const char *key, const char *v, struct orc_err *err)
{
	if (strcmp(key, "keep_alive") == 0) {
		if (orc_parse_duration_ms(v, &m->keep_alive_ms) < 0)
			return orc_err_set(err, -EINVAL, "keep_alive: bad value '%s'", v);
		return 0;
	}
	return orc_err_set(err, -EINVAL, "unknown model setting '%s'", key);
}

int64_t orc_conf_keep_alive(const struct orc_conf *c, const char *model)
{
	for (size_t i = 0; i < c->n_models; i++)
		if (strcmp(c->models[i].name, model) == 0 && c->models[i].keep_alive_ms != -2)
			return c->models[i].keep_alive_ms;
	return c->keep_alive_ms;
}

bool orc_conf_is_preload(const struct orc_conf *c, const char *model)
{
	for (size_t i = 0; i < c->n_preload; i++)
		if (strcmp(c->preload[i], model) == 0)
			return true;
	return false;
}

/* ---- the file ---- */

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "[model NAME]": returns the section, or NULL with err set. */
static struct orc_conf_model *parse_section(struct orc_conf *c, char *line, struct orc_err *err)
{
	char *end = strchr(line, ']'), *name;
	struct orc_conf_model *m;

	if (!end || end[1] != '\0' || strncmp(line, "[model", 6) != 0 ||
	    !isspace((unsigned char)line[6])) {
		orc_err_set(err, -EINVAL, "bad section header (want \"[model NAME]\")");
		return NULL;
	}
	*end = '\0';
	name = trim(line + 6);
	if (!*name) {
		orc_err_set(err, -EINVAL, "section without a model name");
		return NULL;
	}
	m = model_section(c, name);
	if (!m)
		orc_err_set(err, -E2BIG, "too many model sections");
	return m;
}

static int parse_line(struct orc_conf *c, char *line, struct orc_conf_model **section,
		      struct orc_err *err)
{
	char *eq, *key, *val;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	if (*line == '[') {
		*section = parse_section(c, line, err);
		return *section ? 0 : -EINVAL;
	}
	eq = strchr(line, '=');
	if (!eq)
		return orc_err_set(err, -EINVAL, "expected \"key = value\"");
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if (*section)
		return model_set(*section, key, val, err);
	return orc_conf_set(c, key, val, err);
}

int orc_conf_load(struct orc_conf *c, const char *path, bool optional, struct orc_err *err)
{
	char line[ORC_CONF_LINE_MAX + 2];
	struct orc_conf_model *section = NULL;
	unsigned lineno = 0;
	FILE *f = fopen(path, "re");
	int r = 0;

	if (!f) {
		if (errno == ENOENT && optional)
			return 0;
		return orc_err_set(err, -errno, "%s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		lineno++;
		if (len > ORC_CONF_LINE_MAX) {
			r = orc_err_set(err, -E2BIG, "%s:%u: line longer than %u bytes", path, lineno,
					ORC_CONF_LINE_MAX);
			break;
		}
		r = parse_line(c, line, &section, err);
		if (r < 0) {
			orc_err_prefix(err, "%s:%u", path, lineno);
			break;
		}
	}
	if (r == 0 && ferror(f))
		r = orc_err_set(err, -EIO, "%s: read error", path);
	fclose(f);
	return r;
}
