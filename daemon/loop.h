/* loop.h -- orcd's event loop: epoll file events and millisecond timers, in
 * the style of redis ae.c. Everything here runs on the loop's own thread;
 * worker threads reach the loop through an eventfd they register as a file
 * event (see evq.h). Callbacks may add or delete any fd or timer. */
#ifndef ORC_LOOP_H
#define ORC_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct orc_loop;

#define ORC_LOOP_READ  0x1u
#define ORC_LOOP_WRITE 0x2u
#define ORC_LOOP_HUP   0x4u   /* reported only: error or hang-up on the fd */

typedef void (*orc_loop_fd_fn)(struct orc_loop *l, int fd, unsigned events, void *data);
typedef void (*orc_loop_timer_fn)(struct orc_loop *l, uint64_t id, void *data);

struct orc_loop *orc_loop_new(void);
void orc_loop_free(struct orc_loop *l);   /* NULL is a no-op; does not close fds */

/* Watch fd for `mask` (READ and/or WRITE). One registration per fd. */
int orc_loop_add_fd(struct orc_loop *l, int fd, unsigned mask, orc_loop_fd_fn fn, void *data);
int orc_loop_mod_fd(struct orc_loop *l, int fd, unsigned mask);
void orc_loop_del_fd(struct orc_loop *l, int fd);

/* A one-shot timer `ms` from now; returns its id (> 0), or 0 on ENOMEM. */
uint64_t orc_loop_add_timer(struct orc_loop *l, uint64_t ms, orc_loop_timer_fn fn, void *data);
void orc_loop_del_timer(struct orc_loop *l, uint64_t id);   /* unknown ids are ignored */

/* Run until orc_loop_stop(); returns 0, or a negative errno when epoll fails. */
int orc_loop_run(struct orc_loop *l);
void orc_loop_stop(struct orc_loop *l);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t orc_now_ms(void);

#endif
