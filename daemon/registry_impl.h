/* registry_impl.h -- what registry.c (names, files, header facts) and
 * residency.c (loading, eviction, the budget, jobs) share. Private to
 * those two files; everything else uses registry.h. */
#ifndef ORC_REGISTRY_IMPL_H
#define ORC_REGISTRY_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "registry.h"

struct orc_registry {
	struct orc_server *srv;
	struct orc_reg_model *models;   /* sorted by name */
	bool single_file;               /* --model-file: no directory */
	bool draining;
	uint64_t budget;
	bool backend_noted;             /* the engine's backend note was logged */
};


/* registry.c */
void orc_reg_chat_format(const struct orc_gguf *g, struct orc_chat_format *ret);
void orc_reg_read_info(struct orc_registry *r, struct orc_reg_model *e);
int64_t orc_reg_keep_alive(const struct orc_registry *r, const struct orc_reg_model *e);
bool orc_reg_is_pinned(const struct orc_registry *r, const struct orc_reg_model *e);
uint32_t orc_reg_n_queued(const struct orc_reg_model *e);
uint64_t orc_reg_oldest_wait_us(const struct orc_reg_model *e, uint64_t now);

/* residency.c */
uint64_t orc_reg_compute_budget(const struct orc_conf *c, const struct orc_device_info *dev);
uint64_t orc_reg_mem_used(const struct orc_registry *r);

#endif
