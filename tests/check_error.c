/* check_error.c -- unit tests for common/error.c. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "testutil.h"

START_TEST(test_set_and_prefix)
{
	struct orc_err err = {0};
	ck_assert_int_eq(orc_err_set(&err, -EBADMSG, "bad %s at %d", "magic", 0), -EBADMSG);
	ck_assert_str_eq(orc_err_msg(&err), "bad magic at 0");
	orc_err_prefix(&err, "x.gguf");
	ck_assert_str_eq(orc_err_msg(&err), "x.gguf: bad magic at 0");
	ck_assert_int_eq(err.code, -EBADMSG);
	orc_err_clear(&err);
	ck_assert_str_eq(orc_err_msg(&err), "no error");
	ck_assert_int_eq(orc_err_set(NULL, -E2BIG, "ignored"), -E2BIG);
}
END_TEST

START_TEST(test_fallback_strerror)
{
	struct orc_err err = { .code = -ENOMEM };
	ck_assert_str_eq(orc_err_msg(&err), strerror(ENOMEM));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_set_and_prefix);
	tcase_add_test(tc, test_fallback_strerror);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
