/* registry.h -- the models orcd can serve: GGUF files in the models
 * directory, named by file stem. For each: its header facts (read once and
 * cached by size and mtime), residency (unloaded, loading, resident,
 * unloading), memory, keep-alive, and the requests that use it. It decides
 * what fits the memory budget, evicts idle models least recently used
 * first, loads on first use, and holds new work for a model that must give
 * way to one waiting for room. Loop thread only. */
#ifndef ORC_REGISTRY_H
#define ORC_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "chat_template.h"
#include "error.h"
#include "model_desc.h"

struct orc_server;
struct orc_job;
struct orc_event;
struct orc_device_info;
struct orc_model;
struct orc_model_info;

enum orc_reg_state { ORC_REG_UNLOADED, ORC_REG_LOADING, ORC_REG_RESIDENT, ORC_REG_UNLOADING };

/* A client waiting for a load or an unload to finish. */
struct orc_reg_waiter {
	uint64_t conn_id;
	uint32_t req_id;
	struct orc_reg_waiter *next;
};

struct orc_reg_model {
	char *name;
	char *path;
	bool present;                 /* the file was there at the last look */

	/* from the file's header */
	bool have_info;
	char *info_err;               /* why the header could not be read */
	uint64_t file_size;
	struct timespec mtime;
	char arch[32], type[16];
	uint64_t n_params;
	struct orc_hparams hp;
	struct orc_chat_format chat;
	uint32_t n_ctx;               /* tokens per sequence when loaded */
	uint64_t mem_est;             /* weights + KV cache, before loading */

	/* residency */
	enum orc_reg_state state;
	struct orc_model *model;
	uint64_t mem;                 /* bytes reserved: estimate while loading, engine's count after */
	bool pinned;                  /* preloaded or keep_alive forever: never evicted */
	int64_t keep_alive_ms;        /* ORC_KEEP_ALIVE_FOREVER, or ms after the last request */
	bool keep_alive_override;     /* set by a load request */
	uint64_t last_used_ms;
	uint64_t expire_timer;
	bool want_room;               /* waiting for other models to leave */
	uint64_t want_since_us;       /* orc_now_us() */
	uint64_t progress_done, progress_total;

	/* requests */
	struct orc_job *jobs_head, *jobs_tail;   /* live jobs, oldest first */
	uint32_t n_jobs;
	uint32_t n_running;           /* of those, handed to the scheduler */
	struct orc_reg_waiter *load_waiters, *unload_waiters;

	struct orc_registry *reg;
	struct orc_reg_model *next;
};

struct orc_registry;

int orc_registry_new(struct orc_server *srv, struct orc_registry **ret, struct orc_err *err);
void orc_registry_free(struct orc_registry *r);   /* models must be unloaded by then */

/* Serve just this file (orcctl's local mode) instead of a models directory. */
int orc_registry_add_file(struct orc_registry *r, const char *path, struct orc_err *err);
/* Names: 1..ORC_MODEL_NAME_MAX bytes, no '/', no "..", no leading '.', no
 * control characters. -EINVAL with the reason. */
int orc_registry_check_name(const char *name, size_t len, struct orc_err *err);
/* Find a model by name (looking at the directory again when it is not
 * known yet). -EINVAL for a bad name, -ENOENT when there is no such file. */
int orc_registry_find(struct orc_registry *r, const char *name, size_t len,
		      struct orc_reg_model **ret, struct orc_err *err);
/* Look at the directory again; entries are sorted by name. */
void orc_registry_scan(struct orc_registry *r);
struct orc_reg_model *orc_registry_first(struct orc_registry *r);

/* The settings changed (SIGHUP): sizes and contexts of models that are not
 * resident are worked out again from their headers. */
void orc_registry_conf_changed(struct orc_registry *r);

/* The protocol's model entry (strings borrowed from the entry). */
void orc_registry_info(struct orc_registry *r, struct orc_reg_model *e,
		       struct orc_model_info *ret);

/* A job for a model: hand it to the scheduler when the model is resident,
 * else load the model first. -EBUSY when the model's queue is full, -ENOSPC
 * when the model can never fit the budget (sizes in err), -ESHUTDOWN while
 * draining. On success the registry owns the job until it ends. */
int orc_registry_submit(struct orc_registry *r, struct orc_reg_model *e, struct orc_job *j,
			struct orc_err *err);
/* Stop a job (a cancel request or its connection went away). A job not yet
 * handed to the scheduler ends here; the others end at the scheduler's
 * next step. */
void orc_registry_job_cancel(struct orc_registry *r, struct orc_job *j, int reason);
/* The scheduler's terminal event for a job arrived: forget and free it. */
void orc_registry_job_done(struct orc_registry *r, struct orc_job *j);

/* Load and unload requests; the reply comes when the work is done.
 * keep_alive_ms: -2 = leave as configured. */
int orc_registry_load(struct orc_registry *r, struct orc_reg_model *e, uint64_t conn_id,
		      uint32_t req_id, int64_t keep_alive_ms, struct orc_err *err);
int orc_registry_unload(struct orc_registry *r, struct orc_reg_model *e, uint64_t conn_id,
			uint32_t req_id, struct orc_err *err);
/* Preload the configured models (startup and SIGHUP); failures are logged. */
void orc_registry_preload(struct orc_registry *r);
/* True while a preload is still loading. */
bool orc_registry_preloading(const struct orc_registry *r);

/* LOAD_PROGRESS, LOAD_DONE and FREED events from the loader. */
void orc_registry_on_event(struct orc_registry *r, struct orc_event *ev);

/* SIGTERM: refuse new work, end the jobs still waiting for a model. */
void orc_registry_drain(struct orc_registry *r);
/* The drain deadline passed: cancel every job. */
void orc_registry_cancel_all(struct orc_registry *r, int reason);
/* Free every resident model now (at exit, after the scheduler stopped). */
void orc_registry_unload_all(struct orc_registry *r);

/* Counts for status and draining. */
uint32_t orc_registry_n_jobs(const struct orc_registry *r);
uint32_t orc_registry_n_queued(const struct orc_registry *r);
uint64_t orc_registry_oldest_wait_us(const struct orc_registry *r);
uint64_t orc_registry_mem_used(const struct orc_registry *r);
uint64_t orc_registry_budget(const struct orc_registry *r);
/* The settings changed (SIGHUP): work the budget out again (the device
 * memory free at startup stays the base of a percentage) and evict idle
 * models when it shrank below what they hold. */
void orc_registry_budget_changed(struct orc_registry *r);
bool orc_registry_busy(const struct orc_registry *r);  /* loads or frees under way */
/* The backend of the first resident model ("cpu", "cuda"), else NULL. */
const char *orc_registry_backend(const struct orc_registry *r);
/* The device of the first resident model, with its memory now; false when
 * no model is resident. */
bool orc_registry_device(const struct orc_registry *r, struct orc_device_info *ret);

#endif
