/* check_device.c -- the device query (engine.h, "the device"): the CPU
 * backend reports the host's RAM as the kernel states it in /proc/meminfo
 * (MemTotal; MemAvailable within what the machine has) and the CPU's model
 * name from /proc/cpuinfo; a loaded model reports the same device; CUDA
 * either describes a GPU or is refused with -ENODEV and a reason; AUTO
 * gives one of the two. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "testutil.h"

/* A /proc file (its size reads as 0, so read until the end), NUL-terminated. */
static char *read_proc(const char *path)
{
	static char buf[1 << 20];
	FILE *f = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strdup(buf);
}

/* "Key:   123 kB" of /proc/meminfo in bytes, read with strtoull (the
 * engine uses sscanf). 0 when absent. */
static unsigned long long meminfo(const char *key)
{
	char *text = read_proc("/proc/meminfo"), *p;
	unsigned long long v = 0;

	ck_assert_ptr_nonnull(text);
	for (p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, strlen(key)) == 0 && p[strlen(key)] == ':') {
			v = strtoull(p + strlen(key) + 1, NULL, 10) * 1024;
			break;
		}
	}
	free(text);
	return v;
}

START_TEST(cpu_reports_the_host)
{
	struct orc_device_info d;
	struct orc_err err = { 0 };
	unsigned long long total = meminfo("MemTotal");
	char *cpuinfo = read_proc("/proc/cpuinfo");

	ck_assert_int_eq(orc_device_query(ORC_BACKEND_CPU, &d, &err), 0);
	ck_assert_str_eq(d.backend, "cpu");
	ck_assert(!d.gpu);
	ck_assert_uint_gt(total, 0);
	ck_assert_uint_eq(d.mem_total, total);
	ck_assert_uint_gt(d.mem_free, 0);
	ck_assert_uint_le(d.mem_free, d.mem_total);
	/* the name is the first "model name" line's value, where there is one */
	ck_assert_ptr_nonnull(cpuinfo);
	if (strstr(cpuinfo, "model name")) {
		char want[160];

		ck_assert_uint_gt(strlen(d.name), 0);
		snprintf(want, sizeof(want), ": %s\n", d.name);
		ck_assert_msg(strstr(strstr(cpuinfo, "model name"), want) != NULL, "name '%s'", d.name);
	}
	free(cpuinfo);
}
END_TEST

START_TEST(model_reports_its_device)
{
	struct orc_model_opts o = { .backend = ORC_BACKEND_CPU, .n_threads = 1 };
	struct orc_device_info q, d;
	struct orc_model *m = NULL;
	struct orc_err err = { 0 };

	ck_assert_int_eq(orc_device_query(ORC_BACKEND_CPU, &q, &err), 0);
	ck_assert_msg(orc_model_load(orc_test_shared("models/stories260K.gguf"), &o, &m, &err) == 0,
		      "%s", err.msg);
	orc_model_get_device_info(m, &d);
	ck_assert_str_eq(d.backend, orc_model_backend_name(m));
	ck_assert_str_eq(d.name, q.name);
	ck_assert(!d.gpu);
	ck_assert_uint_eq(d.mem_total, q.mem_total);
	ck_assert_uint_gt(d.mem_free, 0);
	orc_model_free(m);
}
END_TEST

START_TEST(cuda_describes_a_gpu_or_says_why_not)
{
	struct orc_device_info d;
	struct orc_err err = { 0 };
	int r = orc_device_query(ORC_BACKEND_CUDA, &d, &err);

	if (r == 0) {
		ck_assert_str_eq(d.backend, "cuda");
		ck_assert(d.gpu);
		ck_assert_uint_gt(strlen(d.name), 0);
		ck_assert_uint_gt(d.mem_total, 0);
		ck_assert_uint_le(d.mem_free, d.mem_total);
	} else {
		ck_assert_int_eq(r, -ENODEV);
		ck_assert_uint_gt(strlen(err.msg), 0);
	}
}
END_TEST

START_TEST(auto_is_one_of_them)
{
	struct orc_device_info d;
	struct orc_err err = { 0 };

	ck_assert_int_eq(orc_device_query(ORC_BACKEND_AUTO, &d, &err), 0);
	ck_assert(strcmp(d.backend, "cpu") == 0 || strcmp(d.backend, "cuda") == 0);
	ck_assert(d.gpu == (strcmp(d.backend, "cuda") == 0));
	ck_assert_uint_gt(d.mem_total, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("device");
	TCase *tc = tcase_create("query");

	orc_test_require_shared();
	tcase_add_test(tc, cpu_reports_the_host);
	tcase_add_test(tc, model_reports_its_device);
	tcase_add_test(tc, cuda_describes_a_gpu_or_says_why_not);
	tcase_add_test(tc, auto_is_one_of_them);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
