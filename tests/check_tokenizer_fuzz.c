/* check_tokenizer_fuzz.c -- replays the tokenizer fuzz corpus, seeds and
 * past crashers alike (tests/fuzz/corpus/tokenizer), through the same checks
 * the libFuzzer harness makes, so a fixed finding stays fixed without clang. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tok_fuzz_one.h"
#include "gguf.h"
#include "testutil.h"

static struct orc_tok *load(const char *rel)
{
	struct orc_err err = { 0 };
	struct orc_gguf *g;
	struct orc_tok *t;

	ck_assert_msg(orc_gguf_open(orc_test_shared(rel), &g, &err) == 0, "%s", err.msg);
	ck_assert_msg(orc_tok_new(g, &t, &err) == 0, "%s", err.msg);
	orc_gguf_free(g);  /* the tokenizer keeps its own copy of the vocabulary */
	return t;
}

START_TEST(replay_corpus)
{
	const char *src = getenv("ORC_SRCDIR");
	char dir[2048];
	struct orc_tok *toks[2];
	struct dirent *de;
	size_t n_files = 0;
	DIR *d;

	orc_test_require_shared();
	toks[0] = load("models/stories260K.gguf");
	toks[1] = load("vocab/qwen2-vocab.gguf");
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/tokenizer", src ? src : ".");
	d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		size_t len;
		char *data;
		const char *bad;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		data = orc_test_read_file(path, &len);
		ck_assert_msg(data != NULL, "cannot read %s", path);
		if (len > 0) {
			bad = fuzz_tokenizer_one(toks[((unsigned char)data[0] >> 3) & 1u],
						 (const uint8_t *)data, len);
			ck_assert_msg(bad == NULL, "%s: %s", de->d_name, bad);
		}
		free(data);
		n_files++;
	}
	closedir(d);
	ck_assert_msg(n_files >= 10, "only %zu corpus files in %s", n_files, dir);
	orc_tok_free(toks[0]);
	orc_tok_free(toks[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tokenizer_fuzz");
	TCase *tc = tcase_create("corpus");

	orc_test_require_shared();   /* the vocabularies are in ../shared: skip (77) without */
	tcase_add_test(tc, replay_corpus);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
