/* registry.c -- models by name, residency and the memory budget (see
 * registry.h). Policy, in one place:
 *   - a model that is not resident is loaded on first use; a load that does
 *     not fit first evicts idle, unpinned models, least recently used first;
 *   - models waiting for room are served strictly first come, first served;
 *   - while a model waits for room, new work for unpinned resident models is
 *     held back, so they drain, go idle and can be evicted (no starvation);
 *   - a model with requests in flight is never evicted; a pinned one never;
 *   - a model that cannot fit even with every unpinned model gone fails its
 *     requests at once with the sizes. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deliver.h"
#include "engine.h"
#include "job.h"
#include "loader.h"
#include "log.h"
#include "notify.h"
#include "proto.h"
#include "registry.h"
#include "scheduler.h"
#include "server.h"

struct orc_registry {
	struct orc_server *srv;
	struct orc_reg_model *models;   /* sorted by name */
	bool single_file;               /* --model-file: no directory */
	bool draining;
	uint64_t budget;
};

static void make_room(struct orc_registry *r);
static void flush_pending_all(struct orc_registry *r);

/* ---- budget ---- */

static uint64_t mem_available(void)
{
	char line[256];
	unsigned long long kb;
	FILE *f = fopen("/proc/meminfo", "re");
	uint64_t v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			v = (uint64_t)kb * 1024;
	fclose(f);
	return v;
}

static uint64_t compute_budget(const struct orc_conf *c)
{
	uint64_t avail;

	if (c->mem_budget)
		return c->mem_budget;
#ifdef HAVE_CUDA
	if (c->backend != ORC_BACKEND_CPU)
		return UINT64_MAX;   /* the engine reports VRAM exhaustion itself */
#endif
	avail = mem_available();
	if (!avail)
		return UINT64_MAX;
	return avail / 100 * c->mem_budget_pct;
}

/* ---- entries ---- */

int orc_registry_check_name(const char *name, size_t len, struct orc_err *err)
{
	if (len == 0)
		return orc_err_set(err, -EINVAL, "empty model name");
	if (len > ORC_MODEL_NAME_MAX)
		return orc_err_set(err, -EINVAL, "model name longer than %u bytes", ORC_MODEL_NAME_MAX);
	if (name[0] == '.')
		return orc_err_set(err, -EINVAL, "model name may not start with '.'");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch == '/' || ch == '\\')
			return orc_err_set(err, -EINVAL, "model name may not contain '%c'", ch);
		if (ch < 0x20 || ch == 0x7f)
			return orc_err_set(err, -EINVAL, "model name has a control character at %zu", i);
		if (ch == '.' && i + 1 < len && name[i + 1] == '.')
			return orc_err_set(err, -EINVAL, "model name may not contain \"..\"");
	}
	return 0;
}

static void entry_free(struct orc_reg_model *e)
{
	struct orc_reg_waiter *w, *next;

	for (w = e->load_waiters; w; w = next) {
		next = w->next;
		free(w);
	}
	for (w = e->unload_waiters; w; w = next) {
		next = w->next;
		free(w);
	}
	free(e->info_err);
	free(e->name);
	free(e->path);
	free(e);
}

static struct orc_reg_model *entry_new(struct orc_registry *r, const char *name, size_t len,
				       const char *path)
{
	struct orc_reg_model *e = calloc(1, sizeof(*e)), **pp;

	if (!e || !(e->name = strndup(name, len)) || !(e->path = strdup(path))) {
		if (e)
			entry_free(e);
		return NULL;
	}
	e->reg = r;
	e->present = true;
	e->keep_alive_ms = -2;
	e->pinned = orc_conf_is_preload(&r->srv->conf, e->name);
	for (pp = &r->models; *pp && strcmp((*pp)->name, e->name) < 0; pp = &(*pp)->next)
		;
	e->next = *pp;
	*pp = e;
	return e;
}

static struct orc_reg_model *lookup(struct orc_registry *r, const char *name, size_t len)
{
	for (struct orc_reg_model *e = r->models; e; e = e->next)
		if (strlen(e->name) == len && memcmp(e->name, name, len) == 0)
			return e;
	return NULL;
}

static char *model_path(const struct orc_registry *r, const char *name, size_t len)
{
	const char *dir = r->srv->conf.models_dir;
	size_t n = strlen(dir) + len + 8;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%.*s.gguf", dir, (int)len, name);
	return p;
}

static bool is_gguf_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int orc_registry_find(struct orc_registry *r, const char *name, size_t len,
		      struct orc_reg_model **ret, struct orc_err *err)
{
	struct orc_reg_model *e;
	char *path;
	int rc = orc_registry_check_name(name, len, err);

	if (rc < 0)
		return rc;
	e = lookup(r, name, len);
	if (r->single_file) {
		if (!e)
			return orc_err_set(err, -ENOENT, "no model '%.*s' (this orcd serves only '%s')",
					   (int)len, name, r->models ? r->models->name : "");
		*ret = e;
		return 0;
	}
	path = model_path(r, name, len);
	if (!path)
		return orc_err_set(err, -ENOMEM, "out of memory");
	if (!is_gguf_file(path) && !(e && e->state != ORC_REG_UNLOADED)) {
		free(path);
		if (e)
			e->present = false;
		return orc_err_set(err, -ENOENT, "no model '%.*s' in %s", (int)len, name,
				   r->srv->conf.models_dir);
	}
	if (!e)
		e = entry_new(r, name, len, path);
	free(path);
	if (!e)
		return orc_err_set(err, -ENOMEM, "out of memory");
	e->present = true;
	*ret = e;
	return 0;
}

static bool entry_idle(const struct orc_reg_model *e)
{
	return e->n_jobs == 0 && !e->load_waiters && !e->unload_waiters && !e->want_room &&
	       e->state == ORC_REG_UNLOADED;
}

void orc_registry_scan(struct orc_registry *r)
{
	struct orc_reg_model **pp, *e;
	struct dirent *d;
	DIR *dir;

	if (r->single_file)
		return;
	for (e = r->models; e; e = e->next)
		e->present = false;
	dir = opendir(r->srv->conf.models_dir);
	while (dir && (d = readdir(dir))) {
		size_t len = strlen(d->d_name);
		char *path;

		if (len <= 5 || strcmp(d->d_name + len - 5, ".gguf") != 0)
			continue;
		len -= 5;
		if (orc_registry_check_name(d->d_name, len, NULL) < 0)
			continue;
		path = model_path(r, d->d_name, len);
		if (path && is_gguf_file(path)) {
			e = lookup(r, d->d_name, len);
			if (!e)
				e = entry_new(r, d->d_name, len, path);
			if (e)
				e->present = true;
		}
		free(path);
	}
	if (dir)
		closedir(dir);
	for (pp = &r->models; (e = *pp);) {
		if (!e->present && entry_idle(e)) {
			*pp = e->next;
			entry_free(e);
		} else {
			pp = &e->next;
		}
	}
}

struct orc_reg_model *orc_registry_first(struct orc_registry *r)
{
	return r->models;
}

/* ---- header facts ---- */

static const char *main_type(const struct orc_gguf *g, uint64_t *ret_params)
{
	uint64_t bytes[ORC_TYPE_COUNT] = { 0 }, params = 0, best = 0;
	const struct orc_type_info *ti;
	int best_t = -1;

	for (uint64_t i = 0; i < orc_gguf_n_tensors(g); i++) {
		const struct orc_gguf_tensor *t = orc_gguf_tensor_at(g, i);
		uint64_t n = 1;

		for (uint32_t d = 0; d < t->n_dims; d++)
			n *= t->ne[d];
		params += n;
		if ((unsigned)t->type < ORC_TYPE_COUNT && t->n_dims >= 2)
			bytes[t->type] += t->size;
	}
	for (int t = 0; t < ORC_TYPE_COUNT; t++) {
		if (bytes[t] > best) {
			best = bytes[t];
			best_t = t;
		}
	}
	*ret_params = params;
	ti = best_t >= 0 ? orc_type_info((uint32_t)best_t) : NULL;
	return ti ? ti->name : "";
}

/* The chat format from the file's tokenizer.chat_template (NONE without one). */
static void chat_format_of(const struct orc_gguf *g, struct orc_chat_format *ret)
{
	struct orc_gguf_str s;

	memset(ret, 0, sizeof(*ret));
	if (orc_gguf_get_str(g, "tokenizer.chat_template", &s, NULL) == 0)
		orc_chat_format_detect(s.ptr, (size_t)s.len, ret);
}

static void set_info_err(struct orc_reg_model *e, const char *msg)
{
	free(e->info_err);
	e->info_err = strdup(msg);
	e->have_info = false;
}

/* Read (or reuse) the facts of the file's header. */
static void read_info(struct orc_registry *r, struct orc_reg_model *e)
{
	const struct orc_conf *c = &r->srv->conf;
	struct orc_model_desc *desc = NULL;
	struct orc_err err = { 0 };
	struct orc_gguf *g = NULL;
	struct stat st;
	uint32_t kv_elem;

	if (stat(e->path, &st) < 0) {
		set_info_err(e, strerror(errno));
		return;
	}
	if (e->have_info && (uint64_t)st.st_size == e->file_size &&
	    st.st_mtim.tv_sec == e->mtime.tv_sec && st.st_mtim.tv_nsec == e->mtime.tv_nsec)
		return;
	e->file_size = (uint64_t)st.st_size;
	e->mtime = st.st_mtim;
	if (orc_gguf_open(e->path, &g, &err) < 0 || orc_model_desc_new(g, &desc, &err) < 0) {
		set_info_err(e, orc_err_msg(&err));
		orc_gguf_free(g);
		return;
	}
	snprintf(e->arch, sizeof(e->arch), "%s", desc->arch_name);
	snprintf(e->type, sizeof(e->type), "%s", main_type(g, &e->n_params));
	e->hp = desc->hp;
	chat_format_of(g, &e->chat);
	e->n_ctx = c->max_context;
	if (e->hp.n_ctx_train && e->hp.n_ctx_train < e->n_ctx)
		e->n_ctx = e->hp.n_ctx_train;
	/* Weights, the KV cache of every sequence, and the logits rows of a
	 * full batch; replaced by the engine's own count after a load. */
	kv_elem = c->backend == ORC_BACKEND_CUDA ? 2 : 4;
	e->mem_est = desc->weight_bytes +
		     orc_model_kv_bytes(desc, e->n_ctx, kv_elem) * c->max_sequences +
		     (uint64_t)c->max_sequences * e->hp.n_vocab * sizeof(float);
	free(e->info_err);
	e->info_err = NULL;
	e->have_info = true;
	orc_model_desc_free(desc);
	orc_gguf_free(g);
}

static int64_t keep_alive(const struct orc_registry *r, const struct orc_reg_model *e)
{
	if (e->keep_alive_override)
		return e->keep_alive_ms;
	return orc_conf_keep_alive(&r->srv->conf, e->name);
}

static bool is_pinned(const struct orc_registry *r, const struct orc_reg_model *e)
{
	return e->pinned || keep_alive(r, e) == ORC_KEEP_ALIVE_FOREVER;
}

static uint32_t n_queued(const struct orc_reg_model *e)
{
	uint32_t n = 0;

	for (struct orc_job *j = e->jobs_head; j; j = j->entry_next)
		if (!atomic_load(&j->started))
			n++;
	return n;
}

static uint64_t oldest_wait_us(const struct orc_reg_model *e, uint64_t now)
{
	uint64_t oldest = 0;

	for (struct orc_job *j = e->jobs_head; j; j = j->entry_next)
		if (!atomic_load(&j->started) && now - j->t_received_us > oldest)
			oldest = now - j->t_received_us;
	return oldest;
}

void orc_registry_info(struct orc_registry *r, struct orc_reg_model *e, struct orc_model_info *m)
{
	int64_t ka;

	if (e->state == ORC_REG_UNLOADED)
		read_info(r, e);
	memset(m, 0, sizeof(*m));
	m->name = (struct orc_str){ e->name, (uint32_t)strlen(e->name) };
	m->arch = (struct orc_str){ e->arch, (uint32_t)strlen(e->arch) };
	m->quant = (struct orc_str){ e->type, (uint32_t)strlen(e->type) };
	m->chat_format.s = orc_chat_format_name(e->chat.kind);
	m->chat_format.len = (uint32_t)strlen(m->chat_format.s);
	m->size = e->file_size;
	m->mem = e->state == ORC_REG_RESIDENT ? e->mem : 0;
	m->n_params = e->n_params;
	m->n_ctx_train = e->hp.n_ctx_train;
	m->n_ctx = e->state == ORC_REG_RESIDENT && e->model ? orc_model_n_ctx(e->model) : e->n_ctx;
	m->n_vocab = e->hp.n_vocab;
	m->n_layer = e->hp.n_layer;
	m->n_embd = e->hp.n_embd;
	m->n_head = e->hp.n_head;
	m->n_head_kv = e->hp.n_head_kv;
	m->resident = e->state == ORC_REG_RESIDENT;
	m->pinned = is_pinned(r, e);
	ka = keep_alive(r, e);
	m->keep_alive = ka == ORC_KEEP_ALIVE_FOREVER ? -1 : ka / 1000;
	m->queued = n_queued(e);
	m->active = e->n_jobs - m->queued;
	m->oldest_wait_us = oldest_wait_us(e, orc_now_us());
}

/* ---- jobs ---- */

static void link_job(struct orc_reg_model *e, struct orc_job *j)
{
	j->entry = e;
	j->entry_next = NULL;
	j->entry_prev = e->jobs_tail;
	if (e->jobs_tail)
		e->jobs_tail->entry_next = j;
	else
		e->jobs_head = j;
	e->jobs_tail = j;
	e->n_jobs++;
}

static void unlink_job(struct orc_reg_model *e, struct orc_job *j)
{
	if (j->entry_prev)
		j->entry_prev->entry_next = j->entry_next;
	else
		e->jobs_head = j->entry_next;
	if (j->entry_next)
		j->entry_next->entry_prev = j->entry_prev;
	else
		e->jobs_tail = j->entry_prev;
	e->n_jobs--;
}

/* A job waits while a model that began waiting for room before the job
 * arrived needs this one to make way (an unpinned model then drains, goes
 * idle and can be evicted). Jobs older than every such wait go ahead, so
 * models take turns instead of evicting each other before any work runs. */
static bool held(const struct orc_registry *r, const struct orc_reg_model *e,
		 const struct orc_job *j)
{
	if (is_pinned(r, e))
		return false;
	for (const struct orc_reg_model *w = r->models; w; w = w->next)
		if (w != e && w->want_room && w->want_since_us <= j->t_received_us)
			return true;
	return false;
}

static void submit_job(struct orc_registry *r, struct orc_reg_model *e, struct orc_job *j)
{
	j->model = e->model;
	j->chat = e->chat;
	j->submitted = true;
	e->n_running++;
	orc_sched_submit(r->srv->sched, j);
}

static void flush_pending(struct orc_registry *r, struct orc_reg_model *e)
{
	if (e->state != ORC_REG_RESIDENT)
		return;
	for (struct orc_job *j = e->jobs_head; j; j = j->entry_next)
		if (!j->submitted && !held(r, e, j))
			submit_job(r, e, j);
}

static void flush_pending_all(struct orc_registry *r)
{
	for (struct orc_reg_model *e = r->models; e; e = e->next)
		flush_pending(r, e);
}

static void expire_cb(struct orc_loop *l, uint64_t id, void *data);

static void cancel_expire(struct orc_registry *r, struct orc_reg_model *e)
{
	if (e->expire_timer)
		orc_loop_del_timer(r->srv->loop, e->expire_timer);
	e->expire_timer = 0;
}

static void evict(struct orc_registry *r, struct orc_reg_model *e, const char *why)
{
	cancel_expire(r, e);
	if (orc_loader_free(r->srv->loader, e, e->model) < 0) {
		log_warnx("model %s: cannot queue unloading (out of memory)", e->name);
		return;
	}
	log_info("model %s: unloading (%s)", e->name, why);
	e->model = NULL;
	e->state = ORC_REG_UNLOADING;
}

static void schedule_expire(struct orc_registry *r, struct orc_reg_model *e)
{
	int64_t ka = keep_alive(r, e);

	cancel_expire(r, e);
	if (e->state != ORC_REG_RESIDENT || e->n_jobs || is_pinned(r, e) || r->draining)
		return;
	if (ka == 0) {
		evict(r, e, "keep_alive 0");
		return;
	}
	e->expire_timer = orc_loop_add_timer(r->srv->loop, (uint64_t)ka, expire_cb, e);
}

static void expire_cb(struct orc_loop *l, uint64_t id, void *data)
{
	struct orc_reg_model *e = data;
	struct orc_registry *r = e->reg;

	(void)l;
	(void)id;
	e->expire_timer = 0;
	if (e->state == ORC_REG_RESIDENT && e->n_jobs == 0 && !e->load_waiters && !is_pinned(r, e))
		evict(r, e, "keep_alive expired");
}

/* ---- loading and making room ---- */

static uint64_t mem_used(const struct orc_registry *r)
{
	uint64_t used = 0;

	for (const struct orc_reg_model *e = r->models; e; e = e->next)
		if (e->state != ORC_REG_UNLOADED)
			used += e->mem;
	return used;
}

/* Memory that never goes away: pinned models other than `except`. */
static uint64_t mem_pinned(const struct orc_registry *r, const struct orc_reg_model *except)
{
	uint64_t used = 0;

	for (const struct orc_reg_model *e = r->models; e; e = e->next)
		if (e != except && e->state != ORC_REG_UNLOADED && is_pinned(r, e))
			used += e->mem;
	return used;
}

static void fail_waiting(struct orc_registry *r, struct orc_reg_model *e, enum occ_status code,
			 const char *msg)
{
	struct orc_reg_waiter *w, *next;
	struct orc_job *j, *jn;

	e->want_room = false;
	for (j = e->jobs_head; j; j = jn) {
		jn = j->entry_next;
		if (j->submitted)
			continue;
		orc_deliver_job_error(r->srv, j, code, "%s", msg);
		unlink_job(e, j);
		orc_job_free(j);
	}
	for (w = e->load_waiters; w; w = next) {
		next = w->next;
		orc_deliver_error(r->srv, w->conn_id, w->req_id, code, "%s", msg);
		free(w);
	}
	e->load_waiters = NULL;
}

static void start_load(struct orc_registry *r, struct orc_reg_model *e)
{
	const struct orc_conf *c = &r->srv->conf;
	struct orc_model_opts o = { 0 };

	o.backend = c->backend;
	o.n_threads = c->threads;
	o.n_ctx = e->n_ctx;
	o.n_seq_max = c->max_sequences;
	e->want_room = false;
	if (orc_loader_load(r->srv->loader, e, e->path, &o) < 0) {
		fail_waiting(r, e, OCC_INTERNAL, "out of memory queueing the load");
		return;
	}
	log_info("model %s: loading %s (about %" PRIu64 " MiB)", e->name, e->path, e->mem_est >> 20);
	e->state = ORC_REG_LOADING;
	e->mem = e->mem_est;
	e->progress_done = 0;
	e->progress_total = e->file_size;
	orc_server_notify_status(r->srv);
}

/* Idle, unpinned, resident models, least recently used first, are unloaded
 * until `need` more bytes would fit once they are gone. */
static void evict_lru(struct orc_registry *r, uint64_t need, uint64_t have,
		      const struct orc_reg_model *except)
{
	while (have < need) {
		struct orc_reg_model *lru = NULL;

		for (struct orc_reg_model *e = r->models; e; e = e->next)
			if (e != except && e->state == ORC_REG_RESIDENT && e->n_running == 0 &&
			    !e->load_waiters && !is_pinned(r, e) && (!lru || e->last_used_ms < lru->last_used_ms))
				lru = e;
		if (!lru)
			return;
		have += lru->mem;
		r->srv->metrics.evictions++;
		evict(r, lru, "evicted to make room");
	}
}

/* Try to start the load of one model waiting for room. False: it must
 * keep waiting (and so must every model behind it). */
static bool try_fit(struct orc_registry *r, struct orc_reg_model *w)
{
	uint64_t need = w->have_info ? w->mem_est : 0;
	uint64_t used = mem_used(r), pinned = mem_pinned(r, w), leaving = 0;
	uint64_t cap = pinned >= r->budget ? 0 : r->budget - pinned;

	if (need > cap) {
		char msg[ORC_ERR_MSG_MAX];

		snprintf(msg, sizeof(msg),
			 "model %s needs about %" PRIu64 " MiB; the memory budget is %" PRIu64
			 " MiB, of which pinned models hold %" PRIu64 " MiB",
			 w->name, need >> 20, r->budget >> 20, pinned >> 20);
		log_warnx("%s", msg);
		fail_waiting(r, w, OCC_NO_MEMORY, msg);
		return true;
	}
	if (used <= r->budget && need <= r->budget - used) {
		start_load(r, w);
		return true;
	}
	for (struct orc_reg_model *e = r->models; e; e = e->next)
		if (e->state == ORC_REG_UNLOADING)
			leaving += e->mem;
	evict_lru(r, used + need - r->budget, leaving, w);
	return false;
}

/* Memory over the budget (a load that needed more than estimated) is
 * given back as soon as models go idle. */
static void enforce_budget(struct orc_registry *r)
{
	uint64_t used = mem_used(r), leaving = 0;

	if (used <= r->budget)
		return;
	for (struct orc_reg_model *e = r->models; e; e = e->next)
		if (e->state == ORC_REG_UNLOADING)
			leaving += e->mem;
	evict_lru(r, used - r->budget, leaving, NULL);
}

static void make_room(struct orc_registry *r)
{
	enforce_budget(r);
	for (;;) {
		struct orc_reg_model *first = NULL;

		for (struct orc_reg_model *e = r->models; e; e = e->next)
			if (e->want_room && (!first || e->want_since_us < first->want_since_us))
				first = e;
		if (!first || !try_fit(r, first))
			break;
	}
	flush_pending_all(r);
}

static void want_load(struct orc_registry *r, struct orc_reg_model *e)
{
	if (e->state != ORC_REG_UNLOADED || e->want_room || r->draining)
		return;
	read_info(r, e);
	e->want_room = true;
	e->want_since_us = orc_now_us();
	make_room(r);
}

/* ---- requests ---- */

static uint64_t never_fits(const struct orc_registry *r, const struct orc_reg_model *e)
{
	if (e->state != ORC_REG_UNLOADED || !e->have_info)
		return 0;
	return e->mem_est > r->budget ? e->mem_est : 0;
}

int orc_registry_submit(struct orc_registry *r, struct orc_reg_model *e, struct orc_job *j,
			struct orc_err *err)
{
	uint32_t q;

	if (r->draining)
		return orc_err_set(err, -ESHUTDOWN, "orcd is shutting down");
	q = n_queued(e);
	if (q >= r->srv->conf.max_queued)
		return orc_err_set(err, -EBUSY, "model %s has %u requests waiting (max_queued %u)",
				   e->name, q, r->srv->conf.max_queued);
	if (e->state == ORC_REG_UNLOADED)
		read_info(r, e);
	if (never_fits(r, e))
		return orc_err_set(err, -ENOSPC,
				   "model %s needs about %" PRIu64 " MiB; the memory budget is %" PRIu64 " MiB",
				   e->name, e->mem_est >> 20, r->budget >> 20);
	link_job(e, j);
	e->last_used_ms = orc_now_ms();
	cancel_expire(r, e);
	if (e->state == ORC_REG_RESIDENT && !held(r, e, j))
		submit_job(r, e, j);
	else
		want_load(r, e);
	return 0;
}

static void job_forget(struct orc_registry *r, struct orc_job *j)
{
	struct orc_reg_model *e = j->entry;

	unlink_job(e, j);
	if (j->submitted)
		e->n_running--;
	orc_job_free(j);
	e->last_used_ms = orc_now_ms();
	if (e->n_jobs == 0)
		schedule_expire(r, e);
	make_room(r);
	orc_server_check_drained(r->srv);
}

void orc_registry_job_cancel(struct orc_registry *r, struct orc_job *j, int reason)
{
	if (j->submitted) {
		atomic_store(&j->cancel, reason);
		orc_sched_wake(r->srv->sched);
		return;
	}
	orc_deliver_job_end(r->srv, j, (uint32_t)reason);
	job_forget(r, j);
}

void orc_registry_job_done(struct orc_registry *r, struct orc_job *j)
{
	job_forget(r, j);
}

static int add_waiter(struct orc_reg_waiter **list, uint64_t conn_id, uint32_t req_id,
		      struct orc_err *err)
{
	struct orc_reg_waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return orc_err_set(err, -ENOMEM, "out of memory");
	w->conn_id = conn_id;
	w->req_id = req_id;
	w->next = *list;
	*list = w;
	return 0;
}

int orc_registry_load(struct orc_registry *r, struct orc_reg_model *e, uint64_t conn_id,
		      uint32_t req_id, int64_t ka, struct orc_err *err)
{
	int rc;

	if (r->draining)
		return orc_err_set(err, -ESHUTDOWN, "orcd is shutting down");
	if (ka != -2) {
		e->keep_alive_ms = ka;
		e->keep_alive_override = true;
	}
	if (e->state == ORC_REG_RESIDENT) {
		orc_deliver_model(r->srv, conn_id, req_id, e);
		schedule_expire(r, e);
		return 0;
	}
	if (e->state == ORC_REG_UNLOADED) {
		read_info(r, e);
		if (never_fits(r, e))
			return orc_err_set(err, -ENOSPC,
					   "model %s needs about %" PRIu64 " MiB; the memory budget is %" PRIu64
					   " MiB", e->name, e->mem_est >> 20, r->budget >> 20);
	}
	rc = add_waiter(&e->load_waiters, conn_id, req_id, err);
	if (rc == 0)
		want_load(r, e);
	return rc;
}

int orc_registry_unload(struct orc_registry *r, struct orc_reg_model *e, uint64_t conn_id,
			uint32_t req_id, struct orc_err *err)
{
	switch (e->state) {
	case ORC_REG_UNLOADED:
		e->pinned = false;
		e->keep_alive_override = false;
		orc_deliver_done(r->srv, conn_id, req_id);
		return 0;
	case ORC_REG_LOADING:
		return orc_err_set(err, -EBUSY, "model %s is being loaded", e->name);
	case ORC_REG_RESIDENT:
		if (e->n_jobs || e->load_waiters)
			return orc_err_set(err, -EBUSY, "model %s has %u requests in flight", e->name,
					   e->n_jobs);
		e->pinned = false;
		e->keep_alive_override = false;
		evict(r, e, "unload request");
		if (e->state != ORC_REG_UNLOADING)
			return orc_err_set(err, -ENOMEM, "out of memory");
		break;
	case ORC_REG_UNLOADING:
		break;
	}
	return add_waiter(&e->unload_waiters, conn_id, req_id, err);
}

void orc_registry_preload(struct orc_registry *r)
{
	const struct orc_conf *c = &r->srv->conf;

	for (struct orc_reg_model *e = r->models; e; e = e->next) {
		bool was = e->pinned;

		e->pinned = orc_conf_is_preload(c, e->name);
		if (was && !e->pinned)
			schedule_expire(r, e);
	}
	for (size_t i = 0; i < c->n_preload; i++) {
		struct orc_err err = { 0 };
		struct orc_reg_model *e;

		if (orc_registry_find(r, c->preload[i], strlen(c->preload[i]), &e, &err) < 0) {
			log_warnx("preload %s: %s", c->preload[i], orc_err_msg(&err));
			continue;
		}
		e->pinned = true;
		cancel_expire(r, e);
		want_load(r, e);
	}
}

bool orc_registry_preloading(const struct orc_registry *r)
{
	for (const struct orc_reg_model *e = r->models; e; e = e->next)
		if (e->pinned && (e->want_room || e->state == ORC_REG_LOADING))
			return true;
	return false;
}

/* ---- loader events ---- */

static void on_loaded(struct orc_registry *r, struct orc_reg_model *e, struct orc_event *ev)
{
	struct orc_reg_waiter *w, *next;
	struct orc_model_mem mm;

	e->model = ev->u.load.model;
	e->state = ORC_REG_RESIDENT;
	orc_model_get_mem(e->model, &mm);
	e->mem = mm.weights + mm.kv_cache + mm.scratch;
	e->mem_est = e->mem;   /* the next load of this file needs the same */
	chat_format_of(orc_model_get_gguf(e->model), &e->chat);
	e->last_used_ms = orc_now_ms();
	r->srv->metrics.loads++;
	log_info("model %s: resident on %s, %" PRIu64 " MiB (weights %" PRIu64 ", KV %" PRIu64
		 ", scratch %" PRIu64 "), context %u, chat format %s", e->name,
		 orc_model_backend_name(e->model), e->mem >> 20, mm.weights >> 20, mm.kv_cache >> 20,
		 mm.scratch >> 20, orc_model_n_ctx(e->model),
		 e->chat.kind ? orc_chat_format_name(e->chat.kind) : "none");
	for (w = e->load_waiters; w; w = next) {
		next = w->next;
		orc_deliver_model(r->srv, w->conn_id, w->req_id, e);
		free(w);
	}
	e->load_waiters = NULL;
	if (r->draining)
		return;
	if (mem_used(r) > r->budget) {
		log_info("model %s: %" PRIu64 " MiB in use is over the budget of %" PRIu64
			 " MiB; evicting idle models", e->name, mem_used(r) >> 20, r->budget >> 20);
		evict_lru(r, mem_used(r) - r->budget, 0, e);
	}
	flush_pending(r, e);
	if (e->n_jobs == 0)
		schedule_expire(r, e);
}

static void on_load_failed(struct orc_registry *r, struct orc_reg_model *e, struct orc_event *ev)
{
	char msg[ORC_ERR_MSG_MAX];

	e->state = ORC_REG_UNLOADED;
	e->mem = 0;
	snprintf(msg, sizeof(msg), "loading %s: %s", e->name, ev->u.load.msg);
	log_err("model %s: %s", e->name, msg);
	fail_waiting(r, e, ev->u.load.err == -ENOMEM ? OCC_NO_MEMORY : OCC_MODEL_LOAD_FAILED, msg);
}

static void on_freed(struct orc_registry *r, struct orc_reg_model *e)
{
	struct orc_reg_waiter *w, *next;

	e->state = ORC_REG_UNLOADED;
	e->mem = 0;
	log_info("model %s: unloaded", e->name);
	for (w = e->unload_waiters; w; w = next) {
		next = w->next;
		orc_deliver_done(r->srv, w->conn_id, w->req_id);
		free(w);
	}
	e->unload_waiters = NULL;
	if (e->n_jobs || e->load_waiters)
		want_load(r, e);
}

void orc_registry_on_event(struct orc_registry *r, struct orc_event *ev)
{
	struct orc_reg_model *e = ev->entry;

	switch (ev->type) {
	case ORC_EV_LOAD_PROGRESS:
		e->progress_done = ev->u.progress.done;
		e->progress_total = ev->u.progress.total;
		for (struct orc_reg_waiter *w = e->load_waiters; w; w = w->next)
			orc_deliver_progress(r->srv, w->conn_id, w->req_id, ev->u.progress.done,
					     ev->u.progress.total);
		return;
	case ORC_EV_LOAD_DONE:
		if (ev->u.load.err == 0)
			on_loaded(r, e, ev);
		else
			on_load_failed(r, e, ev);
		break;
	case ORC_EV_FREED:
		on_freed(r, e);
		break;
	default:
		return;
	}
	make_room(r);
	orc_server_notify_status(r->srv);
	orc_server_check_drained(r->srv);
}

/* ---- draining and exit ---- */

void orc_registry_drain(struct orc_registry *r)
{
	r->draining = true;
	for (struct orc_reg_model *e = r->models; e; e = e->next) {
		struct orc_job *j, *jn;

		cancel_expire(r, e);
		e->want_room = false;
		for (j = e->jobs_head; j; j = jn) {
			jn = j->entry_next;
			if (j->submitted)
				continue;
			orc_deliver_job_end(r->srv, j, ORC_JOB_CANCEL_SHUTDOWN);
			unlink_job(e, j);
			orc_job_free(j);
		}
		fail_waiting(r, e, OCC_SHUTTING_DOWN, "orcd is shutting down");
	}
}

void orc_registry_cancel_all(struct orc_registry *r, int reason)
{
	for (struct orc_reg_model *e = r->models; e; e = e->next)
		for (struct orc_job *j = e->jobs_head; j; j = j->entry_next)
			if (j->submitted)
				atomic_store(&j->cancel, reason);
	orc_sched_wake(r->srv->sched);
}

void orc_registry_unload_all(struct orc_registry *r)
{
	for (struct orc_reg_model *e = r->models; e; e = e->next) {
		if (e->model)
			orc_model_free(e->model);
		e->model = NULL;
		e->state = ORC_REG_UNLOADED;
		e->mem = 0;
	}
}

/* ---- counts ---- */

uint32_t orc_registry_n_jobs(const struct orc_registry *r)
{
	uint32_t n = 0;

	for (const struct orc_reg_model *e = r->models; e; e = e->next)
		n += e->n_jobs;
	return n;
}

uint32_t orc_registry_n_queued(const struct orc_registry *r)
{
	uint32_t n = 0;

	for (const struct orc_reg_model *e = r->models; e; e = e->next)
		n += n_queued(e);
	return n;
}

uint64_t orc_registry_oldest_wait_us(const struct orc_registry *r)
{
	uint64_t now = orc_now_us(), oldest = 0;

	for (const struct orc_reg_model *e = r->models; e; e = e->next) {
		uint64_t w = oldest_wait_us(e, now);

		if (w > oldest)
			oldest = w;
	}
	return oldest;
}

uint64_t orc_registry_mem_used(const struct orc_registry *r)
{
	return mem_used(r);
}

uint64_t orc_registry_budget(const struct orc_registry *r)
{
	return r->budget;
}

bool orc_registry_busy(const struct orc_registry *r)
{
	for (const struct orc_reg_model *e = r->models; e; e = e->next)
		if (e->state == ORC_REG_LOADING || e->state == ORC_REG_UNLOADING)
			return true;
	return false;
}

const char *orc_registry_backend(const struct orc_registry *r)
{
	for (const struct orc_reg_model *e = r->models; e; e = e->next)
		if (e->state == ORC_REG_RESIDENT && e->model)
			return orc_model_backend_name(e->model);
	return NULL;
}

/* ---- construction ---- */

int orc_registry_new(struct orc_server *srv, struct orc_registry **ret, struct orc_err *err)
{
	struct orc_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return orc_err_set(err, -ENOMEM, "out of memory");
	r->srv = srv;
	r->budget = compute_budget(&srv->conf);
	*ret = r;
	return 0;
}

int orc_registry_add_file(struct orc_registry *r, const char *path, struct orc_err *err)
{
	const char *base = strrchr(path, '/');
	size_t len;
	int rc;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".gguf") == 0)
		len -= 5;
	rc = orc_registry_check_name(base, len, err);
	if (rc < 0)
		return orc_err_prefix(err, "%s", path);
	if (!is_gguf_file(path))
		return orc_err_set(err, -ENOENT, "%s: not a regular file", path);
	if (!entry_new(r, base, len, path))
		return orc_err_set(err, -ENOMEM, "out of memory");
	r->single_file = true;
	return 0;
}

void orc_registry_free(struct orc_registry *r)
{
	struct orc_reg_model *e, *next;

	if (!r)
		return;
	for (e = r->models; e; e = next) {
		struct orc_job *j, *jn;

		next = e->next;
		for (j = e->jobs_head; j; j = jn) {
			jn = j->entry_next;
			orc_job_free(j);
		}
		entry_free(e);
	}
	free(r);
}
