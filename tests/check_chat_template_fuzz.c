/* check_chat_template_fuzz.c -- replays the chat-template fuzzer's corpus
 * (tests/fuzz/corpus/chat_template: the seeds and every crasher it found)
 * through the harness body, in the normal and the sanitizer builds. */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_chat_template.h"
#include "testutil.h"

START_TEST(replay_corpus)
{
	const char *src = getenv("ORC_SRCDIR");
	char dir[4096], path[4400];
	struct dirent *e;
	size_t n_files = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/chat_template", src ? src : "..");
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
		ck_assert_msg(orc_fuzz_chat_template_one((const uint8_t *)data, len) == 0, "%s", e->d_name);
		free(data);
		n_files++;
	}
	closedir(d);
	ck_assert_uint_ge(n_files, 17);    /* the seeds */
}
END_TEST

/* Two inputs built here: valid turns, and a turn with an invalid role
 * (which the renderer must refuse with -EINVAL). */
START_TEST(known_inputs)
{
	static const uint8_t bad_role[] = "<|im_start|>\0\x02hi\0\x04oops";
	static const uint8_t ok[] = "<|im_start|>\0\x02hi\0\x03there";

	ck_assert_int_eq(orc_fuzz_chat_template_one(ok, sizeof(ok) - 1), 0);
	ck_assert_int_eq(orc_fuzz_chat_template_one(bad_role, sizeof(bad_role) - 1), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("chat_template_fuzz");
	TCase *tc = tcase_create("corpus");

	tcase_add_test(tc, replay_corpus);
	tcase_add_test(tc, known_inputs);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
