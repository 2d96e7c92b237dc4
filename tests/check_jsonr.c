/* check_jsonr.c -- the test JSON reader: values, escapes, nesting, errors
 * (golden values from the JSON grammar, RFC 8259), and the shared reference files. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonr.h"
#include "testutil.h"

static struct orc_jsonr *parse(const char *s)
{
	char err[256];
	return orc_jsonr_parse(s, strlen(s), err, sizeof(err));
}

START_TEST(values)
{
	struct orc_jsonr *v = parse(" {\"a\": [1, -2.5e1, 0.125], \"b\": \"x\\n\\u00e9\\ud83d\\ude00\","
				    " \"c\": true, \"d\": false, \"e\": null, \"f\": {}} ");
	const struct orc_jsonr *a;
	int32_t *ids = NULL;
	size_t n = 0;

	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(orc_jsonr_len(v), 6);
	a = orc_jsonr_get(v, "a");
	ck_assert_uint_eq(orc_jsonr_len(a), 3);
	ck_assert(orc_jsonr_num(orc_jsonr_at(a, 1), 0) == -25.0);
	ck_assert(orc_jsonr_num(orc_jsonr_at(a, 2), 0) == 0.125);
	ck_assert_int_eq(orc_jsonr_i32_array(a, &ids, &n), -1);   /* -25.0 ok, 0.125 not integral */
	ck_assert_str_eq(orc_jsonr_str(orc_jsonr_get(v, "b")), "x\n\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert(orc_jsonr_get(v, "c")->b == true);
	ck_assert(orc_jsonr_get(v, "d")->b == false);
	ck_assert_int_eq(orc_jsonr_get(v, "e")->type, ORC_JSONR_NULL);
	ck_assert_int_eq(orc_jsonr_get(v, "f")->type, ORC_JSONR_OBJ);
	ck_assert_ptr_null(orc_jsonr_get(v, "zz"));
	orc_jsonr_free(v);

	v = parse("[3, 0, -7]");
	ck_assert_int_eq(orc_jsonr_i32_array(v, &ids, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(ids[0], 3);
	ck_assert_int_eq(ids[2], -7);
	free(ids);
	orc_jsonr_free(v);
}
END_TEST

START_TEST(errors)
{
	static const char *bad[] = { "", "[1,]", "{\"a\" 1}", "[01]", "\"abc", "[1] x", "-",
				     "\"\\x\"", "\"\\ud800\"", "{1: 2}", "[1.]", "tru" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";
		struct orc_jsonr *v = orc_jsonr_parse(bad[i], strlen(bad[i]), err, sizeof(err));
		ck_assert_msg(v == NULL, "accepted '%s'", bad[i]);
		ck_assert_msg(strstr(err, "JSON at byte") != NULL, "no message for '%s'", bad[i]);
	}
}
END_TEST

START_TEST(shared_reference)
{
	char err[256];
	struct orc_jsonr *v;
	int32_t *ids;
	size_t n;

	orc_test_require_shared();
	v = orc_jsonr_parse_file(orc_test_shared("models/tiny-qwen2-q8_0.ref.json"), err, sizeof(err));
	ck_assert_msg(v != NULL, "%s", err);
	ck_assert_int_eq(orc_jsonr_i32_array(orc_jsonr_get(v, "prompt_ids"), &ids, &n), 0);
	ck_assert_uint_eq(n, 16);
	ck_assert_int_eq(ids[0], 151644);   /* <|im_start|>, as the prompt.json says */
	free(ids);
	ck_assert_uint_eq(orc_jsonr_len(orc_jsonr_get(v, "positions")), 16);
	orc_jsonr_free(v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jsonr");
	TCase *tc = tcase_create("core");
	struct stat st;

	tcase_add_test(tc, values);
	tcase_add_test(tc, errors);
	if (stat(orc_test_shared("models"), &st) == 0)
		tcase_add_test(tc, shared_reference);
	else
		fprintf(stderr, "note: no shared fixtures (ORC_SHARED): reference file test not run\n");
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
