/* check_gguf_file.c -- how the GGUF bytes are read (gguf_file.c) and what a
 * file that changes underneath does: a COPY handle keeps its bytes when the
 * file is truncated or replaced later; a file truncated before the open, or
 * a model missing a tensor, fails cleanly with nothing left allocated (the
 * sanitizer build's LeakSanitizer checks every test); META reads only the
 * tables; drop_tensor_data keeps the metadata. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "ggufw.h"
#include "gguf.h"
#include "testutil.h"

#define BIG_N   (300u * 1024u)           /* floats: 1.2 MB of tensor data */
#define META_N  40000u                   /* strings: ~1.6 MB of metadata (past META's first read) */

static char path[64];

static float val(uint32_t i) { return (float)(i % 977) * 0.5f; }

/* A file with a string array, a u32 key and one big F32 tensor. */
static void write_fixture(void)
{
	struct ggufw *w = ggufw_new();
	float *data = malloc(sizeof(float) * BIG_N);
	const char **strs = malloc(sizeof(char *) * META_N);
	uint64_t ne[2] = { 1024, BIG_N / 1024 };
	int fd;

	ck_assert(w && data && strs);
	for (uint32_t i = 0; i < BIG_N; i++)
		data[i] = val(i);
	for (uint32_t i = 0; i < META_N; i++)
		strs[i] = "a metadata string of about forty bytes";
	ggufw_kv_u32(w, "test.answer", 42);
	ggufw_kv_arr_str(w, "test.strings", strs, META_N);
	ggufw_tensor(w, "big", ORC_TYPE_F32, 2, ne, data);
	snprintf(path, sizeof(path), "/tmp/check_gguf_file.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(ggufw_write_file(w, path), 0);
	ggufw_free(w);
	free(data);
	free(strs);
}

static void check_meta(const struct orc_gguf *g)
{
	struct orc_gguf_arr arr;
	uint32_t v = 0;

	ck_assert_int_eq(orc_gguf_get_u32(g, "test.answer", &v, NULL), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(orc_gguf_get_arr(g, "test.strings", &arr, NULL), 0);
	ck_assert_uint_eq(arr.n, META_N);
	ck_assert(orc_gguf_str_eq(orc_gguf_arr_str(&arr, META_N - 1), "a metadata string of about forty bytes"));
}

static void check_data(const struct orc_gguf *g)
{
	const struct orc_gguf_tensor *t = orc_gguf_find_tensor(g, "big");
	const float *f;

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(t->data);
	f = t->data;
	for (uint32_t i = 0; i < BIG_N; i += 4093)
		ck_assert(f[i] == val(i));
	ck_assert(f[BIG_N - 1] == val(BIG_N - 1));
}

START_TEST(copy_survives_truncation_and_replacement)
{
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };
	uint64_t size;

	write_fixture();
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_COPY, &g, &err), 0);
	size = orc_gguf_file_size(g);
	/* truncated: a mapping would raise SIGBUS on the next line */
	ck_assert_int_eq(truncate(path, 100), 0);
	check_data(g);
	check_meta(g);
	/* replaced in place (same inode), with other bytes */
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_int_eq(truncate(path, (off_t)size), 0);
	check_data(g);
	orc_gguf_free(g);
	unlink(path);
}
END_TEST

START_TEST(truncated_before_open)
{
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };

	write_fixture();
	/* the tables are whole, the tensor data is cut short */
	ck_assert_int_eq(truncate(path, 2u << 20), 0);
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_COPY, &g, &err), -EBADMSG);
	ck_assert_msg(strstr(err.msg, "data outside the file") && strstr(err.msg, path), "%s", err.msg);
	ck_assert_ptr_null(g);
	/* META does not need the data, but still checks that it is in the file */
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_META, &g, &err), -EBADMSG);
	/* the tables themselves cut short */
	ck_assert_int_eq(truncate(path, 1000), 0);
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_COPY, &g, &err), -EBADMSG);
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_META, &g, &err), -EBADMSG);
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_COPY, &g, &err), -EBADMSG);
	unlink(path);
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_COPY, &g, &err), -ENOENT);
	ck_assert_int_eq(orc_gguf_open_read("/tmp", ORC_GGUF_COPY, &g, &err), -EINVAL);
}
END_TEST

START_TEST(meta_reads_tables_only)
{
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };
	const struct orc_gguf_tensor *t;

	write_fixture();
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_META, &g, &err), 0);
	check_meta(g);
	t = orc_gguf_find_tensor(g, "big");
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_null(t->data);
	ck_assert_uint_eq(t->size, BIG_N * sizeof(float));
	orc_gguf_free(g);
	unlink(path);
}
END_TEST

START_TEST(drop_keeps_metadata)
{
	struct orc_gguf *g = NULL;
	struct orc_err err = { 0 };

	write_fixture();
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_COPY, &g, &err), 0);
	orc_gguf_drop_tensor_data(g);
	check_meta(g);
	ck_assert_ptr_null(orc_gguf_find_tensor(g, "big")->data);
	orc_gguf_free(g);
	/* a no-op on a mapping */
	ck_assert_int_eq(orc_gguf_open_read(path, ORC_GGUF_MMAP, &g, &err), 0);
	orc_gguf_drop_tensor_data(g);
	check_data(g);
	orc_gguf_free(g);
	unlink(path);
}
END_TEST

/* ---- a model load that fails half way ---- */

/* A copy of a shared model, with `edit` applied to its bytes. */
static void model_copy(const char *name, void (*edit)(char *buf, size_t *len))
{
	size_t len = 0;
	char *buf = orc_test_read_file(orc_test_shared(name), &len);
	FILE *f;

	ck_assert_ptr_nonnull(buf);
	edit(buf, &len);
	snprintf(path, sizeof(path), "/tmp/check_gguf_file_model.XXXXXX");
	ck_assert_int_ge(mkstemp(path), 0);
	f = fopen(path, "wb");
	ck_assert(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
	free(buf);
}

static void cut_tail(char *buf, size_t *len) { (void)buf; *len -= 4096; }

/* Rename the tensor output_norm.weight (same length: the file stays valid). */
static void rename_tensor(char *buf, size_t *len)
{
	char *p = memmem(buf, *len, "output_norm.weight", 18);
	ck_assert_ptr_nonnull(p);
	p[17] = 'X';
}

START_TEST(load_fails_half_way)
{
	struct orc_model_opts o = { .backend = ORC_BACKEND_CPU, .n_threads = 1, .copy_file = true };
	struct orc_model *m = NULL;
	struct orc_err err = { 0 };

	orc_test_require_shared();
	model_copy("models/stories260K.gguf", cut_tail);
	ck_assert_int_eq(orc_model_load(path, &o, &m, &err), -EBADMSG);
	ck_assert_msg(strstr(err.msg, "data outside the file") != NULL, "%s", err.msg);
	ck_assert_ptr_null(m);
	unlink(path);
	model_copy("models/stories260K.gguf", rename_tensor);
	ck_assert_int_eq(orc_model_load(path, &o, &m, &err), -EBADMSG);
	ck_assert_msg(strstr(err.msg, "output_norm.weight' is missing") != NULL, "%s", err.msg);
	ck_assert_ptr_null(m);
	unlink(path);
	/* the intact file loads from a copy */
	ck_assert_int_eq(orc_model_load(orc_test_shared("models/stories260K.gguf"), &o, &m, &err), 0);
	orc_model_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gguf_file");
	TCase *tc = tcase_create("read");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, copy_survives_truncation_and_replacement);
	tcase_add_test(tc, truncated_before_open);
	tcase_add_test(tc, meta_reads_tables_only);
	tcase_add_test(tc, drop_keeps_metadata);
	tcase_add_test(tc, load_fails_half_way);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
