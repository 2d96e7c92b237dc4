/* check_chat_template_fuzz.c -- replays the chat-template fuzzer's corpus
 * (tests/fuzz/corpus/chat_template: the seeds and every crasher it found)
 * through the harness body, in the normal and the sanitizer builds. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz_chat_template.h"
#include "testutil.h"

START_TEST(replay_corpus)
{
	ck_assert_uint_ge(orc_test_replay_corpus("chat_template", orc_fuzz_chat_template_one), 17);    /* the seeds */
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
