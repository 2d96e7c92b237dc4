/* residency.c -- which models are resident (see registry.h). Policy, in
 * one place:
 *   - a model that is not resident is loaded on first use; a load that does
 *     not fit first evicts idle, unpinned models, least recently used first;
 *   - models waiting for room are served strictly first come, first served;
 *   - while a model waits for room, jobs that arrive later for unpinned
 *     resident models are held back, so those drain, go idle and can be
 *     evicted (no starvation), and jobs older than the wait still go first;
 *   - a model with requests in flight is never evicted; a pinned one never;
 *   - a model that cannot fit even with every unpinned model gone fails its
 *     requests at once with the sizes;
 *   - a load that turns out larger than estimated gives memory back as soon
 *     as other models go idle, and its real size is remembered. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "engine.h"
#include "job.h"
#include "loader.h"
#include "log.h"
#include "registry_impl.h"
#include "scheduler.h"
#include "server.h"

static void make_room(struct orc_registry *r);
static void flush_pending_all(struct orc_registry *r);

/* ---- budget ---- */

/* memory_budget in bytes, or its percentage of the device memory that was
 * free when orcd started (VRAM, or the host's MemAvailable); unlimited when
 * that is unknown (the engine then reports exhaustion itself). */
uint64_t orc_reg_compute_budget(const struct orc_conf *c, const struct orc_device_info *dev)
{
	if (c->mem_budget)
		return c->mem_budget;
	if (!dev->mem_total)
		return UINT64_MAX;
	return dev->mem_free / 100 * c->mem_budget_pct;
}

void orc_registry_budget_changed(struct orc_registry *r)
{
	uint64_t b = orc_reg_compute_budget(&r->srv->conf, &r->srv->device);

	if (b == r->budget)
		return;
	log_notice("memory budget: %" PRIu64 " MiB (was %" PRIu64 " MiB)", b >> 20, r->budget >> 20);
	r->budget = b;
	make_room(r);
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
	if (orc_reg_is_pinned(r, e))
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
	int64_t ka = orc_reg_keep_alive(r, e);

	cancel_expire(r, e);
	if (e->state != ORC_REG_RESIDENT || e->n_jobs || orc_reg_is_pinned(r, e) || r->draining)
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
	if (e->state == ORC_REG_RESIDENT && e->n_jobs == 0 && !e->load_waiters && !orc_reg_is_pinned(r, e))
		evict(r, e, "keep_alive expired");
}

/* ---- loading and making room ---- */

uint64_t orc_reg_mem_used(const struct orc_registry *r)
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
		if (e != except && e->state != ORC_REG_UNLOADED && orc_reg_is_pinned(r, e))
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
	o.kv_f16 = c->kv_f16;
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
			    !e->load_waiters && !orc_reg_is_pinned(r, e) && (!lru || e->last_used_ms < lru->last_used_ms))
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
	uint64_t used = orc_reg_mem_used(r), pinned = mem_pinned(r, w), leaving = 0;
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
	uint64_t used = orc_reg_mem_used(r), leaving = 0;

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
	orc_reg_read_info(r, e);
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
	q = orc_reg_n_queued(e);
	if (q >= r->srv->conf.max_queued)
		return orc_err_set(err, -EBUSY, "model %s has %u requests waiting (max_queued %u)",
				   e->name, q, r->srv->conf.max_queued);
	if (e->state == ORC_REG_UNLOADED)
		orc_reg_read_info(r, e);
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
		orc_reg_read_info(r, e);
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
	const char *note = orc_model_backend_note(ev->u.load.model);
	struct orc_reg_waiter *w, *next;
	struct orc_model_mem mm;

	if (note && *note && !r->backend_noted) {
		log_notice("backend: %s", note);   /* why AUTO did not pick CUDA, once */
		r->backend_noted = true;
	}
	e->model = ev->u.load.model;
	e->state = ORC_REG_RESIDENT;
	orc_model_get_mem(e->model, &mm);
	e->mem = mm.weights + mm.kv_cache + mm.scratch;
	e->mem_est = e->mem;   /* the next load of this file needs the same */
	orc_reg_chat_format(orc_model_get_gguf(e->model), &e->chat);
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
	if (orc_reg_mem_used(r) > r->budget) {
		log_info("model %s: %" PRIu64 " MiB in use is over the budget of %" PRIu64
			 " MiB; evicting idle models", e->name, orc_reg_mem_used(r) >> 20, r->budget >> 20);
		evict_lru(r, orc_reg_mem_used(r) - r->budget, 0, e);
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

/* ---- memory ---- */

uint64_t orc_registry_mem_used(const struct orc_registry *r)
{
	return orc_reg_mem_used(r);
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

