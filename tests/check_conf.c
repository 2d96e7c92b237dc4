/* check_conf.c -- orcd.conf parsing: every setting, per-model sections,
 * durations and sizes, and the errors (naming file and line) for unknown
 * keys, bad values, over-long lines and values past the caps. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "limits.h"
#include "testutil.h"

static char path[64];

static void write_conf(const char *text)
{
	int fd;

	strcpy(path, "/tmp/check_conf.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
	close(fd);
}

static int load(const char *text, struct orc_conf *c, struct orc_err *err)
{
	int r;

	ck_assert_int_eq(orc_conf_defaults(c), 0);
	write_conf(text);
	r = orc_conf_load(c, path, false, err);
	unlink(path);
	return r;
}

START_TEST(defaults)
{
	struct orc_conf c;

	ck_assert_int_eq(orc_conf_defaults(&c), 0);
	ck_assert_str_eq(c.socket_path, "/run/orcd/orcd.sock");
	ck_assert_int_eq(c.backend, ORC_BACKEND_AUTO);
	ck_assert_uint_eq(c.max_connections, ORC_MAX_CONNECTIONS_DEFAULT);
	ck_assert_uint_eq(c.mem_budget_pct, 90);
	ck_assert(c.prefix_cache);
	ck_assert(!c.kv_f16);
	ck_assert_int_eq(c.keep_alive_ms, 5 * 60 * 1000);
	ck_assert_int_eq(c.handshake_timeout_ms, 10000);   /* orcd.conf(5) */
	ck_assert_int_eq(c.frame_timeout_ms, 30000);
	ck_assert_int_eq(c.n_allowed_uids, 0);
	ck_assert_int_eq(orc_conf_load(&c, "/nonexistent/orcd.conf", true, NULL), 0);
	ck_assert_int_eq(orc_conf_load(&c, "/nonexistent/orcd.conf", false, NULL), -ENOENT);
	orc_conf_free(&c);
	orc_conf_free(&c);   /* twice is fine */
}
END_TEST

START_TEST(full_file)
{
	struct orc_conf c;
	struct orc_err err = { 0 };
	int r = load("# orcd.conf\n"
		     "socket = /tmp/x.sock\n"
		     "  models=/srv/models  \n"
		     "\n"
		     "preload = a, b ,c\n"
		     "backend = cpu\n"
		     "threads = 3\n"
		     "max_connections = 10\n"
		     "max_queued = 5\n"
		     "max_context = 2048\n"
		     "max_tokens = 100\n"
		     "default_max_tokens = 50\n"
		     "max_sequences = 8\n"
		     "prefill_chunk = 32\n"
		     "prefix_cache = off\n"
		     "kv_cache_type = f16\n"
		     "allowed_users = root, 12345\n"
		     "allowed_groups = 0\n"
		     "keep_alive = 2m\n"
		     "memory_budget = 1536M\n"
		     "log_level = debug\n"
		     "drain_timeout = 3s\n"
		     "handshake_timeout = 1s\n"
		     "frame_timeout = 1500ms\n"
		     "metrics_file = /tmp/m.prom\n"
		     "metrics_interval = 500ms\n"
		     "[model a]\n"
		     "keep_alive = forever\n"
		     "[model b]\n"
		     "keep_alive = 0\n", &c, &err);

	ck_assert_msg(r == 0, "%s", err.msg);
	ck_assert_str_eq(c.socket_path, "/tmp/x.sock");
	ck_assert_str_eq(c.models_dir, "/srv/models");
	ck_assert_uint_eq(c.n_preload, 3);
	ck_assert_str_eq(c.preload[1], "b");
	ck_assert_str_eq(c.preload[2], "c");
	ck_assert_int_eq(c.backend, ORC_BACKEND_CPU);
	ck_assert_int_eq(c.threads, 3);
	ck_assert_uint_eq(c.max_connections, 10);
	ck_assert_uint_eq(c.max_queued, 5);
	ck_assert_uint_eq(c.max_context, 2048);
	ck_assert_uint_eq(c.max_tokens, 100);
	ck_assert_uint_eq(c.default_max_tokens, 50);
	ck_assert_uint_eq(c.max_sequences, 8);
	ck_assert_uint_eq(c.prefill_chunk, 32);
	ck_assert(!c.prefix_cache);
	ck_assert(c.kv_f16);
	ck_assert_uint_eq(c.n_allowed_uids, 2);
	ck_assert_uint_eq(c.allowed_uids[0], 0);
	ck_assert_uint_eq(c.allowed_uids[1], 12345);
	ck_assert_uint_eq(c.n_allowed_gids, 1);
	ck_assert_int_eq(c.keep_alive_ms, 120000);
	ck_assert_uint_eq(c.mem_budget, 1536ull << 20);
	ck_assert_uint_eq(c.mem_budget_pct, 0);
	ck_assert_int_eq(c.log_level, 7);
	ck_assert_int_eq(c.drain_timeout_ms, 3000);
	ck_assert_int_eq(c.handshake_timeout_ms, 1000);
	ck_assert_int_eq(c.frame_timeout_ms, 1500);
	ck_assert_str_eq(c.metrics_file, "/tmp/m.prom");
	ck_assert_int_eq(c.metrics_interval_ms, 500);
	ck_assert_int_eq(orc_conf_keep_alive(&c, "a"), ORC_KEEP_ALIVE_FOREVER);
	ck_assert_int_eq(orc_conf_keep_alive(&c, "b"), 0);
	ck_assert_int_eq(orc_conf_keep_alive(&c, "other"), 120000);
	ck_assert(orc_conf_is_preload(&c, "c"));
	ck_assert(!orc_conf_is_preload(&c, "d"));
	orc_conf_free(&c);
}
END_TEST

START_TEST(errors_name_the_line)
{
	static const struct { const char *text, *want; } cases[] = {
		{ "backend = cpu\nbogus = 1\n", ":2: unknown setting 'bogus'" },
		{ "max_connections = 0\n", "max_connections" },
		{ "max_connections = 70000\n", "max_connections" },
		{ "max_context = 12x\n", "max_context" },
		{ "backend = gpu\n", "backend" },
		{ "keep_alive = 5 minutes\n", "keep_alive" },
		{ "memory_budget = 101%\n", "memory_budget" },
		{ "memory_budget = -1\n", "memory_budget" },
		{ "threads = 100000\n", "threads" },
		{ "just words\n", ":1: expected" },
		{ "[model]\n", "section" },
		{ "[modelx a]\n", "section" },
		{ "[model a]\nmax_tokens = 3\n", "unknown model setting" },
		{ "allowed_users = no-such-user-orcd-test\n", "no user" },
		{ "allowed_groups = no-such-group-orcd-test\n", "no group" },
		{ "log_level = loud\n", "log_level" },
		{ "prefix_cache = maybe\n", "prefix_cache" },
		{ "kv_cache_type = f8\n", "kv_cache_type: bad value 'f8'" },
		{ "drain_timeout = forever\n", "drain_timeout" },
		{ "handshake_timeout = 10ms\n", "handshake_timeout" },
		{ "frame_timeout = 2h\n", "frame_timeout" },
		{ "metrics_interval = 1ms\n", "metrics_interval" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct orc_conf c;
		struct orc_err err = { 0 };
		int r = load(cases[i].text, &c, &err);

		ck_assert_msg(r < 0, "case %zu accepted", i);
		ck_assert_msg(strstr(err.msg, cases[i].want), "case %zu: '%s'", i, err.msg);
		ck_assert_msg(strstr(err.msg, "/tmp/check_conf."), "case %zu: no file name", i);
		orc_conf_free(&c);
	}
}
END_TEST

START_TEST(long_line)
{
	char *text = malloc(ORC_CONF_LINE_MAX + 64);
	struct orc_conf c;
	struct orc_err err = { 0 };

	strcpy(text, "socket = ");
	memset(text + 9, 'x', ORC_CONF_LINE_MAX);
	strcpy(text + 9 + ORC_CONF_LINE_MAX, "\n");
	ck_assert_int_eq(load(text, &c, &err), -E2BIG);
	ck_assert_ptr_nonnull(strstr(err.msg, ":1:"));
	orc_conf_free(&c);
	free(text);
}
END_TEST

START_TEST(too_many_list_items)
{
	char text[1024] = "preload = ";
	struct orc_conf c;
	struct orc_err err = { 0 };

	for (int i = 0; i <= ORC_CONF_LIST_MAX; i++)
		strcat(text, "m,");
	strcat(text, "\n");
	ck_assert_int_eq(load(text, &c, &err), -E2BIG);
	orc_conf_free(&c);
}
END_TEST

START_TEST(parsers)
{
	int64_t ms;
	uint64_t sz;
	unsigned pct;

	ck_assert_int_eq(orc_parse_duration_ms("30", &ms), 0);
	ck_assert_int_eq(ms, 30000);
	ck_assert_int_eq(orc_parse_duration_ms("250ms", &ms), 0);
	ck_assert_int_eq(ms, 250);
	ck_assert_int_eq(orc_parse_duration_ms("2h", &ms), 0);
	ck_assert_int_eq(ms, 7200000);
	ck_assert_int_eq(orc_parse_duration_ms("forever", &ms), 0);
	ck_assert_int_eq(ms, ORC_KEEP_ALIVE_FOREVER);
	ck_assert_int_eq(orc_parse_duration_ms("-5", &ms), -EINVAL);
	ck_assert_int_eq(orc_parse_duration_ms("99999999999999999999d", &ms), -EINVAL);
	ck_assert_int_eq(orc_parse_duration_ms("9999999999999999d", &ms), -ERANGE);
	ck_assert_int_eq(orc_parse_size("4G", &sz, &pct), 0);
	ck_assert_uint_eq(sz, 4ull << 30);
	ck_assert_int_eq(orc_parse_size("4GiB", &sz, &pct), 0);
	ck_assert_uint_eq(sz, 4ull << 30);
	ck_assert_int_eq(orc_parse_size("12kb", &sz, &pct), 0);
	ck_assert_uint_eq(sz, 12288);
	ck_assert_int_eq(orc_parse_size("75%", &sz, &pct), 0);
	ck_assert_uint_eq(pct, 75);
	ck_assert_uint_eq(sz, 0);
	ck_assert_int_eq(orc_parse_size("4Gx", &sz, &pct), -EINVAL);
	ck_assert_int_eq(orc_parse_size("0%", &sz, &pct), -ERANGE);
	ck_assert_int_eq(orc_parse_size("20000000000T", &sz, &pct), -ERANGE);
}
END_TEST

START_TEST(set_overrides)
{
	struct orc_conf c;
	struct orc_err err = { 0 };

	ck_assert_int_eq(orc_conf_defaults(&c), 0);
	ck_assert_int_eq(orc_conf_set(&c, "models", "/m", &err), 0);
	ck_assert_str_eq(c.models_dir, "/m");
	ck_assert_int_eq(orc_conf_set(&c, "models", "", &err), -EINVAL);
	ck_assert_int_eq(orc_conf_set(&c, "preload", "x", &err), 0);
	ck_assert_int_eq(orc_conf_set(&c, "preload", "", &err), 0);
	ck_assert_uint_eq(c.n_preload, 0);
	orc_conf_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, full_file);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, long_line);
	tcase_add_test(tc, too_many_list_items);
	tcase_add_test(tc, parsers);
	tcase_add_test(tc, set_overrides);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
