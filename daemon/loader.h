/* loader.h -- orcd's loader thread: loads models (orc_model_load, which
 * may take seconds) and frees them, one task at a time in FIFO order, so
 * that neither the event loop nor the scheduler waits for disk or device
 * uploads. Results come back to the loop as ORC_EV_LOAD_PROGRESS,
 * ORC_EV_LOAD_DONE and ORC_EV_FREED events. */
#ifndef ORC_LOADER_H
#define ORC_LOADER_H

#include "engine.h"
#include "evq.h"

struct orc_loader;
struct orc_reg_model;

int orc_loader_start(struct orc_evq *evq, struct orc_loader **ret);
/* Finish the task at hand, drop the queued ones, join the thread. */
void orc_loader_stop(struct orc_loader *l);   /* NULL is a no-op */

/* Queue a load of `path` (copied) for `entry`; opts' progress fields are
 * set by the loader. */
int orc_loader_load(struct orc_loader *l, struct orc_reg_model *entry, const char *path,
		    const struct orc_model_opts *opts);
/* Queue freeing `model` (ownership passes to the loader). */
int orc_loader_free(struct orc_loader *l, struct orc_reg_model *entry, struct orc_model *model);

#endif
