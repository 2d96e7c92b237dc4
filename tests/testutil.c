/* testutil.c -- helpers shared by the libcheck suites (see testutil.h). */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static const char *shared_dir(void)
{
	const char *d = getenv("ORC_SHARED");
	return d && *d ? d : "../shared";
}

const char *orc_test_shared(const char *rel)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s/%s", shared_dir(), rel);
	return buf;
}

void orc_test_require_shared(void)
{
	struct stat st;
	if (stat(shared_dir(), &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "SKIP: shared fixtures not found at %s (set ORC_SHARED)\n", shared_dir());
		exit(ORC_TEST_SKIP);
	}
}

bool orc_test_have_shared(void)
{
	if (access(orc_test_shared("models"), R_OK) == 0)
		return true;
	fprintf(stderr, "SKIP: shared fixtures not found (set ORC_SHARED); fixture tests not run\n");
	return false;
}

char *orc_test_read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)n + 1);
	if (!buf)
		goto out;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	if (ret_len)
		*ret_len = (size_t)n;
out:
	fclose(f);
	return buf;
}

size_t orc_test_replay_corpus(const char *name, int (*one)(const uint8_t *data, size_t len))
{
	const char *src = getenv("ORC_SRCDIR");
	char dir[4096], path[4400];
	struct dirent *e;
	size_t n_files = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", src ? src : "..", name);
	d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((e = readdir(d))) {
		size_t len;
		char *data;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		data = orc_test_read_file(path, &len);
		ck_assert_ptr_nonnull(data);
		ck_assert_msg(one((const uint8_t *)data, len) == 0, "%s/%s", name, e->d_name);
		free(data);
		n_files++;
	}
	closedir(d);
	return n_files;
}

int orc_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
