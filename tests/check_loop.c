/* check_loop.c -- orcd's event loop: timers fire in deadline order and can
 * be deleted, fd events reach their callbacks, a callback may delete
 * another fd that already has an event pending in the same round without
 * that event being delivered, and stop ends run. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "testutil.h"

static int order[8], n_order;

static void timer_cb(struct orc_loop *l, uint64_t id, void *data)
{
	(void)id;
	order[n_order++] = (int)(intptr_t)data;
	if ((intptr_t)data == 3)
		orc_loop_stop(l);
}

START_TEST(timers)
{
	struct orc_loop *l = orc_loop_new();
	uint64_t doomed;
	uint64_t t0 = orc_now_ms();

	n_order = 0;
	orc_loop_add_timer(l, 30, timer_cb, (void *)3);
	orc_loop_add_timer(l, 0, timer_cb, (void *)1);
	doomed = orc_loop_add_timer(l, 10, timer_cb, (void *)9);
	orc_loop_add_timer(l, 10, timer_cb, (void *)2);
	orc_loop_del_timer(l, doomed);
	orc_loop_del_timer(l, 12345);
	ck_assert_int_eq(orc_loop_run(l), 0);
	ck_assert_int_eq(n_order, 3);
	ck_assert_int_eq(order[0], 1);
	ck_assert_int_eq(order[1], 2);
	ck_assert_int_eq(order[2], 3);
	ck_assert_uint_ge(orc_now_ms() - t0, 30);
	orc_loop_free(l);
}
END_TEST

struct pair {
	int rd[2], wr[2];
	int hits_a, hits_b;
	struct orc_loop *l;
};

static void cb_b(struct orc_loop *l, int fd, unsigned ev, void *data)
{
	struct pair *p = data;

	(void)l;
	(void)fd;
	(void)ev;
	p->hits_b++;
}

/* a deletes b (whose event may be pending in the same round) and stops. */
static void cb_a(struct orc_loop *l, int fd, unsigned ev, void *data)
{
	struct pair *p = data;
	char buf[8];

	ck_assert(ev & ORC_LOOP_READ);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 1);
	p->hits_a++;
	orc_loop_del_fd(l, p->wr[0]);
	orc_loop_stop(l);
}

START_TEST(fd_events)
{
	struct pair p = { 0 };

	p.l = orc_loop_new();
	ck_assert_int_eq(pipe(p.rd), 0);
	ck_assert_int_eq(pipe(p.wr), 0);
	ck_assert_int_eq(orc_loop_add_fd(p.l, p.rd[0], ORC_LOOP_READ, cb_a, &p), 0);
	ck_assert_int_eq(orc_loop_add_fd(p.l, p.rd[0], ORC_LOOP_READ, cb_a, &p), -EEXIST);
	ck_assert_int_eq(orc_loop_add_fd(p.l, p.wr[0], ORC_LOOP_READ, cb_b, &p), 0);
	ck_assert_int_eq(orc_loop_mod_fd(p.l, 999, ORC_LOOP_READ), -ENOENT);
	/* both readable before the loop runs: whichever comes first, b is
	 * never called after a deleted it, and a runs exactly once */
	ck_assert_int_eq(write(p.rd[1], "x", 1), 1);
	ck_assert_int_eq(write(p.wr[1], "y", 1), 1);
	ck_assert_int_eq(orc_loop_run(p.l), 0);
	ck_assert_int_eq(p.hits_a, 1);
	ck_assert_int_le(p.hits_b, 1);
	/* write interest on a pipe's write end fires at once */
	ck_assert_int_eq(orc_loop_mod_fd(p.l, p.rd[0], 0), 0);
	ck_assert_int_eq(orc_loop_add_fd(p.l, p.rd[1], ORC_LOOP_WRITE, cb_a, &p), 0);
	orc_loop_del_fd(p.l, p.rd[1]);
	orc_loop_free(p.l);
	close(p.rd[0]);
	close(p.rd[1]);
	close(p.wr[0]);
	close(p.wr[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, timers);
	tcase_add_test(tc, fd_events);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
