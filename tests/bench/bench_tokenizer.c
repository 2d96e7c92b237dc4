/* bench_tokenizer.c -- tokenizer benchmark (not a test: it asserts nothing).
 * For each vocabulary it reports the time to open the GGUF and build the
 * tokenizer, and encode throughput on one thread over English prose (the
 * opening of Pride and Prejudice, public domain) and over mixed
 * multilingual text with code and emoji, each repeated to about 4 MB.
 * Usage: bench_tokenizer [SHARED_DIR [DATA_DIR]]; defaults from ORC_SHARED
 * and ORC_SRCDIR/tests/bench/data. Times are the thread's CPU time (best of
 * several runs), so other load on a shared machine distorts them less. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gguf.h"
#include "tokenizer.h"

#define BUILD_RUNS   10
#define ENCODE_BYTES (4u << 20)
#define ENCODE_RUNS  3

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static char *read_all(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
		*ret_len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The sample repeated (whole copies) up to about ENCODE_BYTES. */
static char *repeat(const char *s, size_t n, size_t *ret_len)
{
	size_t copies = ENCODE_BYTES / n + 1, len = copies * n;
	char *buf = malloc(len);

	if (!buf)
		return NULL;
	for (size_t i = 0; i < copies; i++)
		memcpy(buf + i * n, s, n);
	*ret_len = len;
	return buf;
}

/* Best of BUILD_RUNS: open + build, and build alone. */
static int bench_build(const char *path, double *ret_open_ms, double *ret_build_ms)
{
	struct orc_err err = { 0 };
	double best_open = 1e9, best_build = 1e9;

	for (int i = 0; i < BUILD_RUNS; i++) {
		struct orc_gguf *g;
		struct orc_tok *t;
		double t0 = now_s(), t1, t2;

		if (orc_gguf_open(path, &g, &err) < 0) {
			fprintf(stderr, "bench_tokenizer: %s: %s\n", path, err.msg);
			return -1;
		}
		t1 = now_s();
		if (orc_tok_new(g, &t, &err) < 0) {
			fprintf(stderr, "bench_tokenizer: %s: %s\n", path, err.msg);
			orc_gguf_free(g);
			return -1;
		}
		t2 = now_s();
		if (t1 - t0 < best_open)
			best_open = t1 - t0;
		if (t2 - t1 < best_build)
			best_build = t2 - t1;
		orc_tok_free(t);
		orc_gguf_free(g);
	}
	*ret_open_ms = best_open * 1e3;
	*ret_build_ms = best_build * 1e3;
	return 0;
}

/* Best of ENCODE_RUNS, in MB/s (1 MB = 1e6 bytes), and tokens per byte. */
static int bench_encode(const struct orc_tok *t, const char *text, size_t len,
			double *ret_mbs, double *ret_tpb)
{
	struct orc_err err = { 0 };
	double best = 1e9;
	size_t n = 0;

	for (int i = 0; i < ENCODE_RUNS; i++) {
		int32_t *ids;
		double t0 = now_s(), dt;
		if (orc_tok_encode(t, text, len, 0, &ids, &n, &err) < 0) {
			fprintf(stderr, "bench_tokenizer: encode: %s\n", err.msg);
			return -1;
		}
		dt = now_s() - t0;
		if (dt < best)
			best = dt;
		free(ids);
	}
	*ret_mbs = (double)len / best / 1e6;
	*ret_tpb = (double)n / (double)len;
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const vocabs[] = {
		"vocab/qwen2-vocab.gguf", "vocab/ggml-vocab-llama-spm.gguf",
		"vocab/ggml-vocab-gpt-2.gguf", "vocab/ggml-vocab-phi-3.gguf",
	};
	static const char *const samples[] = { "english.txt", "multilingual.txt" };
	const char *shared = argc > 1 ? argv[1] : getenv("ORC_SHARED");
	const char *srcdir = getenv("ORC_SRCDIR");
	char data_dir[1024], path[2048];
	char *text[2];
	size_t len[2];

	if (!shared)
		shared = "../shared";
	if (argc > 2)
		snprintf(data_dir, sizeof(data_dir), "%s", argv[2]);
	else
		snprintf(data_dir, sizeof(data_dir), "%s/tests/bench/data", srcdir ? srcdir : ".");
	for (int i = 0; i < 2; i++) {
		size_t n;
		char *s;
		snprintf(path, sizeof(path), "%s/%s", data_dir, samples[i]);
		if (!(s = read_all(path, &n)) || !(text[i] = repeat(s, n, &len[i]))) {
			fprintf(stderr, "bench_tokenizer: cannot read %s\n", path);
			return 1;
		}
		free(s);
	}

	printf("one thread, CPU time, best of %d builds / %d encodes of ~%u MB\n",
	       BUILD_RUNS, ENCODE_RUNS, ENCODE_BYTES >> 20);
	printf("%-34s %9s %9s %13s %13s\n", "vocabulary", "open ms", "build ms",
	       "english MB/s", "multi MB/s");
	for (size_t v = 0; v < sizeof(vocabs) / sizeof(vocabs[0]); v++) {
		struct orc_err err = { 0 };
		double open_ms, build_ms, mbs[2], tpb[2];
		struct orc_gguf *g;
		struct orc_tok *t;

		snprintf(path, sizeof(path), "%s/%s", shared, vocabs[v]);
		if (bench_build(path, &open_ms, &build_ms) < 0)
			return 1;
		if (orc_gguf_open(path, &g, &err) < 0 || orc_tok_new(g, &t, &err) < 0) {
			fprintf(stderr, "bench_tokenizer: %s: %s\n", path, err.msg);
			return 1;
		}
		for (int i = 0; i < 2; i++)
			if (bench_encode(t, text[i], len[i], &mbs[i], &tpb[i]) < 0)
				return 1;
		printf("%-34s %9.2f %9.2f %13.2f %13.2f   (%.3f / %.3f tokens per byte)\n",
		       vocabs[v], open_ms, build_ms, mbs[0], mbs[1], tpb[0], tpb[1]);
		orc_tok_free(t);
		orc_gguf_free(g);
	}
	free(text[0]);
	free(text[1]);
	return 0;
}
