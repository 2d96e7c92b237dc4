/* registry.c -- the models orcd can serve, by name (see registry.h): name
 * checks, the models directory (scanned, or one --model-file), the facts
 * of each file's header (cached by size and mtime), and the protocol's
 * model entry. Residency and the budget live in residency.c. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine.h"
#include "job.h"
#include "proto.h"
#include "registry_impl.h"
#include "server.h"

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
void orc_reg_chat_format(const struct orc_gguf *g, struct orc_chat_format *ret)
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
void orc_reg_read_info(struct orc_registry *r, struct orc_reg_model *e)
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
	/* META: read(), never mmap, so a file truncated meanwhile gives an
	 * error, not SIGBUS; only the header and tables are read */
	if (orc_gguf_open_read(e->path, ORC_GGUF_META, &g, &err) < 0 || orc_model_desc_new(g, &desc, &err) < 0) {
		set_info_err(e, orc_err_msg(&err));
		orc_gguf_free(g);
		return;
	}
	snprintf(e->arch, sizeof(e->arch), "%s", desc->arch_name);
	snprintf(e->type, sizeof(e->type), "%s", main_type(g, &e->n_params));
	e->hp = desc->hp;
	orc_reg_chat_format(g, &e->chat);
	e->n_ctx = c->max_context;
	if (e->hp.n_ctx_train && e->hp.n_ctx_train < e->n_ctx)
		e->n_ctx = e->hp.n_ctx_train;
	/* Weights, the KV cache of every sequence, and the logits rows of a
	 * full batch; replaced by the engine's own count after a load. */
	kv_elem = c->kv_f16 ? 2 : 4;
	e->mem_est = desc->weight_bytes +
		     orc_model_kv_bytes(desc, e->n_ctx, kv_elem) * c->max_sequences +
		     (uint64_t)c->max_sequences * e->hp.n_vocab * sizeof(float);
	free(e->info_err);
	e->info_err = NULL;
	e->have_info = true;
	orc_model_desc_free(desc);
	orc_gguf_free(g);
}

void orc_registry_conf_changed(struct orc_registry *r)
{
	for (struct orc_reg_model *e = r->models; e; e = e->next)
		if (e->state == ORC_REG_UNLOADED)
			e->have_info = false;
}

int64_t orc_reg_keep_alive(const struct orc_registry *r, const struct orc_reg_model *e)
{
	if (e->keep_alive_override)
		return e->keep_alive_ms;
	return orc_conf_keep_alive(&r->srv->conf, e->name);
}

bool orc_reg_is_pinned(const struct orc_registry *r, const struct orc_reg_model *e)
{
	return e->pinned || orc_reg_keep_alive(r, e) == ORC_KEEP_ALIVE_FOREVER;
}

uint32_t orc_reg_n_queued(const struct orc_reg_model *e)
{
	uint32_t n = 0;

	for (struct orc_job *j = e->jobs_head; j; j = j->entry_next)
		if (!atomic_load(&j->started))
			n++;
	return n;
}

uint64_t orc_reg_oldest_wait_us(const struct orc_reg_model *e, uint64_t now)
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
		orc_reg_read_info(r, e);
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
	m->pinned = orc_reg_is_pinned(r, e);
	ka = orc_reg_keep_alive(r, e);
	m->keep_alive = ka == ORC_KEEP_ALIVE_FOREVER ? -1 : ka / 1000;
	m->queued = orc_reg_n_queued(e);
	m->active = e->n_jobs - m->queued;
	m->oldest_wait_us = orc_reg_oldest_wait_us(e, orc_now_us());
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
		n += orc_reg_n_queued(e);
	return n;
}

uint64_t orc_registry_oldest_wait_us(const struct orc_registry *r)
{
	uint64_t now = orc_now_us(), oldest = 0;

	for (const struct orc_reg_model *e = r->models; e; e = e->next) {
		uint64_t w = orc_reg_oldest_wait_us(e, now);

		if (w > oldest)
			oldest = w;
	}
	return oldest;
}

const char *orc_registry_backend(const struct orc_registry *r)
{
	for (const struct orc_reg_model *e = r->models; e; e = e->next)
		if (e->state == ORC_REG_RESIDENT && e->model)
			return orc_model_backend_name(e->model);
	return NULL;
}

bool orc_registry_device(const struct orc_registry *r, struct orc_device_info *ret)
{
	for (const struct orc_reg_model *e = r->models; e; e = e->next) {
		if (e->state == ORC_REG_RESIDENT && e->model) {
			orc_model_get_device_info(e->model, ret);
			return true;
		}
	}
	return false;
}

/* ---- construction ---- */

int orc_registry_new(struct orc_server *srv, struct orc_registry **ret, struct orc_err *err)
{
	struct orc_registry *r = calloc(1, sizeof(*r));

	if (!r)
		return orc_err_set(err, -ENOMEM, "out of memory");
	r->srv = srv;
	r->budget = orc_reg_compute_budget(&srv->conf, &srv->device);
	*ret = r;
	return 0;
}

int orc_registry_add_file(struct orc_registry *r, const char *path, struct orc_err *err)
{
	const char *base = strrchr(path, '/');
	struct stat st;
	size_t len;
	int rc;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (len > 5 && strcmp(base + len - 5, ".gguf") == 0)
		len -= 5;
	rc = orc_registry_check_name(base, len, err);
	if (rc < 0)
		return orc_err_prefix(err, "%s", path);
	if (stat(path, &st) < 0) {
		rc = -errno;
		return orc_err_set(err, rc, "%s: %s", path, strerror(-rc));
	}
	if (!S_ISREG(st.st_mode))
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
