/* cmd_bench.c -- `orcctl bench -m NAME`: load the daemon with N concurrent
 * clients (threads, one connection each) and report aggregate tokens/s,
 * time to first token and inter-token latency percentiles, measured on the
 * client side from the moment each request is sent. With --system-file, a
 * shared system prompt: first the TTFT of a request that finds it uncached,
 * then of one that reuses it (prefix reuse), then the load as usual. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "jsonw.h"
#include "limits.h"

#define CMD "bench"
#define BENCH_CLIENTS_MAX 1024

struct bench_opts {
	const char *model, *prompt;
	const char *system_file;       /* --system-file */
	char *text;                    /* with --system-file: the whole prompt of the load */
	uint32_t clients, requests, max_tokens, prompt_tokens;
	bool has_temp, has_seed;
	float temperature;
	uint64_t seed;
	int32_t *ids;                  /* the prompt as ids, when --prompt-tokens */
	size_t n_ids;
};

struct samples {
	double *v;
	size_t n, cap;
};

/* All clients connect, then wait here until every thread is ready. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint32_t ready;                /* clients connected (or failed to) */
	bool open;
};

struct client {
	const struct bench_opts *o;
	const struct orcctl_global *g;
	struct gate *start;
	struct samples ttft, itl;      /* milliseconds */
	uint64_t tokens;
	uint32_t ok, failed;
	enum occ_status first_error;
	double t_end;                  /* seconds, CLOCK_MONOTONIC */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool push(struct samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		double *p = realloc(s->v, cap * sizeof(*p));

		if (!p)
			return false;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = v;
	return true;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl bench -m NAME [OPTIONS]\n"
		"\n"
		"Measure the daemon under load: C clients (threads, one connection each)\n"
		"start together and each runs R generations one after another. Reports\n"
		"aggregate generated tokens/s over the wall time, and the p50/p99 of the\n"
		"time to first token and of the gap between tokens, as the clients see them.\n"
		"\n"
		"  -m, --model NAME         the model (required)\n"
		"  -c, --clients C          concurrent clients (default 1, at most %u)\n"
		"  -r, --requests R         generations per client (default 1)\n"
		"  -n, --max-tokens N       tokens per generation (default 128)\n"
		"  -p, --prompt TEXT        the prompt (default \"Once upon a time\")\n"
		"      --prompt-tokens N    repeat the prompt's tokens to N tokens\n"
		"      --system-file FILE   a shared system prompt: every prompt is a run\n"
		"                           id, FILE's text, then the prompt. First the TTFT\n"
		"                           of one request with it uncached, then of one with\n"
		"                           another question that reuses its cached blocks\n"
		"  -t, --temperature T      (default: the daemon's)\n"
		"      --seed N             (default: the daemon's)\n"
		"  -j, --json               one JSON object with the results\n"
		"  -h, --help               this help\n"
		"\n"
		"A generation may end early at an end-of-generation token: tokens/s counts\n"
		"the tokens actually generated. The run id (a line with the time and pid)\n"
		"keeps an earlier run's cached prompt from being reused by the first request.\n",
		BENCH_CLIENTS_MAX);
}

/* One generation: its TTFT and gaps go into the client's samples. */
static enum occ_status one(struct client *cl, occ_conn *c, const occ_gen_req *r)
{
	const occ_token *t;
	occ_gen *g;
	enum occ_status s;
	double t0 = now_s(), last = 0;
	size_t n = 0;

	if ((s = occ_gen_start(c, r, &g)) != OCC_OK)
		return s;
	while ((s = occ_gen_next(g, -1, &t)) == OCC_OK && t) {
		double now = now_s();

		if (n++ == 0)
			push(&cl->ttft, (now - t0) * 1e3);
		else
			push(&cl->itl, (now - last) * 1e3);
		last = now;
	}
	if (s == OCC_OK)
		cl->tokens += occ_gen_n_tokens(g);
	occ_gen_free(g);
	return s;
}

/* A request for the prompt `text` (NULL: the load's prompt). */
static occ_gen_req *make_req(const struct bench_opts *o, const char *text)
{
	occ_gen_req *r = occ_gen_req_new(o->model);
	enum occ_status s;

	if (!r)
		return NULL;
	if (!text)
		text = o->text ? o->text : o->prompt;
	s = o->ids ? occ_gen_req_prompt_ids(r, o->ids, o->n_ids)
		   : occ_gen_req_prompt(r, text, strlen(text));
	if (s == OCC_OK)
		s = occ_gen_req_max_tokens(r, o->max_tokens);
	if (s == OCC_OK && o->has_temp)
		s = occ_gen_req_temperature(r, o->temperature);
	if (s == OCC_OK && o->has_seed)
		s = occ_gen_req_seed(r, o->seed);
	if (s != OCC_OK) {
		occ_gen_req_free(r);
		return NULL;
	}
	return r;
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	occ_gen_req *r = make_req(cl->o, NULL);
	occ_conn *c = NULL;
	enum occ_status s = occ_connect(cl->g->socket_path, &c);

	pthread_mutex_lock(&cl->start->lock);
	cl->start->ready++;
	pthread_cond_broadcast(&cl->start->cond);
	while (!cl->start->open)
		pthread_cond_wait(&cl->start->cond, &cl->start->lock);
	pthread_mutex_unlock(&cl->start->lock);
	for (uint32_t i = 0; i < cl->o->requests; i++) {
		if (s == OCC_OK)
			s = r ? one(cl, c, r) : OCC_INVALID_ARGUMENT;
		if (s == OCC_OK) {
			cl->ok++;
			continue;
		}
		cl->failed++;
		if (!cl->first_error)
			cl->first_error = s;
		if (s == OCC_CONNECT || s == OCC_DISCONNECTED || s == OCC_PROTOCOL || !r)
			cl->failed += cl->o->requests - i - 1;   /* the rest cannot run */
		if (s == OCC_CONNECT || s == OCC_DISCONNECTED || s == OCC_PROTOCOL || !r)
			break;
		s = OCC_OK;     /* a refused request (busy ...): go on */
	}
	cl->t_end = now_s();
	occ_gen_req_free(r);
	occ_close(c);
	return NULL;
}

/* ---- --system-file: the prefix probe ---- */

struct probe {
	double ttft_ms[2];           /* uncached, then reusing the system prompt */
	uint32_t prompt_tokens[2], cached[2];
};

/* FILE's text, at most ORC_PROMPT_BYTES_MAX bytes. */
static int read_system(const char *path, char **ret)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(ORC_PROMPT_BYTES_MAX + 1);
	size_t n = 0;

	if (!f || !buf) {
		fprintf(stderr, "orcctl " CMD ": %s: %s\n", path, f ? "out of memory" : strerror(errno));
		goto fail;
	}
	n = fread(buf, 1, ORC_PROMPT_BYTES_MAX + 1, f);
	if (ferror(f) || n > ORC_PROMPT_BYTES_MAX) {
		fprintf(stderr, "orcctl " CMD ": %s: %s\n", path,
			ferror(f) ? "read error" : "larger than a prompt may be");
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*ret = buf;
	return ORCCTL_EXIT_OK;
fail:
	if (f)
		fclose(f);
	free(buf);
	return ORCCTL_EXIT_FAILURE;
}

/* "run ID\n" + system + "\n" + tail, or NULL when out of memory. */
static char *join_prompt(const char *id, const char *system, const char *tail)
{
	size_t len = strlen(id) + strlen(system) + strlen(tail) + 3;
	char *t = malloc(len);

	if (t)
		snprintf(t, len, "%s\n%s\n%s", id, system, tail);
	return t;
}

/* One generation of one token: its client-side TTFT and the counts. */
static enum occ_status probe_one(occ_conn *c, const struct bench_opts *o, const char *text,
				 struct probe *p, int k)
{
	occ_gen_req *r = make_req(o, text);
	const occ_token *t;
	occ_gen *g = NULL;
	enum occ_status s = r ? occ_gen_req_max_tokens(r, 1) : OCC_ALLOC_FAILED;
	double t0 = now_s();

	if (s == OCC_OK && (s = occ_gen_start(c, r, &g)) == OCC_OK) {
		while ((s = occ_gen_next(g, -1, &t)) == OCC_OK && t)
			if (p->ttft_ms[k] == 0)
				p->ttft_ms[k] = (now_s() - t0) * 1e3;
		p->prompt_tokens[k] = occ_gen_prompt_tokens(g);
		p->cached[k] = occ_gen_cached_tokens(g);
	}
	occ_gen_free(g);
	occ_gen_req_free(r);
	return s;
}

/* Read --system-file, time the two probe requests (two questions after
 * the system prompt), and set the load's prompt. */
static int run_probe(struct bench_opts *o, const struct orcctl_global *g, struct probe *p)
{
	char id[64], *system = NULL, *q[2] = { NULL, NULL };
	occ_conn *c = NULL;
	enum occ_status s = OCC_OK;
	int rc;

	if ((rc = read_system(o->system_file, &system)) != ORCCTL_EXIT_OK)
		return rc;
	snprintf(id, sizeof(id), "run %lld.%d", (long long)time(NULL), (int)getpid());
	for (int k = 0; k < 2; k++) {
		size_t len = strlen(o->prompt) + 32;

		if ((q[k] = malloc(len)))
			snprintf(q[k], len, "Question %d: %s", k + 1, o->prompt);
	}
	o->text = join_prompt(id, system, o->prompt);
	for (int k = 0; k < 2 && q[k]; k++) {
		char *text = join_prompt(id, system, q[k]);

		free(q[k]);
		q[k] = text;
	}
	if (!o->text || !q[0] || !q[1]) {
		fprintf(stderr, "orcctl " CMD ": out of memory\n");
		rc = ORCCTL_EXIT_FAILURE;
	} else if ((rc = orcctl_connect(CMD, g, &c)) == ORCCTL_EXIT_OK) {
		for (int k = 0; k < 2 && s == OCC_OK; k++)
			s = probe_one(c, o, q[k], p, k);
		if (s != OCC_OK)
			rc = orcctl_fail(CMD, c, s);
		occ_close(c);
	}
	free(q[0]);
	free(q[1]);
	free(system);
	return rc;
}

static void report_probe(const struct probe *p, struct jsonw *w)
{
	double x = p->ttft_ms[1] > 0 ? p->ttft_ms[0] / p->ttft_ms[1] : 0;

	if (w) {
		jsonw_key(w, "prefix");
		jsonw_obj_begin(w);
		jsonw_key(w, "first_prompt_tokens"); jsonw_uint(w, p->prompt_tokens[0]);
		jsonw_key(w, "first_cached_tokens"); jsonw_uint(w, p->cached[0]);
		jsonw_key(w, "first_ttft_ms"); jsonw_double(w, p->ttft_ms[0]);
		jsonw_key(w, "second_prompt_tokens"); jsonw_uint(w, p->prompt_tokens[1]);
		jsonw_key(w, "second_cached_tokens"); jsonw_uint(w, p->cached[1]);
		jsonw_key(w, "second_ttft_ms"); jsonw_double(w, p->ttft_ms[1]);
		jsonw_key(w, "ttft_ratio"); jsonw_double(w, x);
		jsonw_obj_end(w);
		return;
	}
	printf("system prompt: first request %u prompt tokens (%u cached), TTFT %.2f ms\n",
	       p->prompt_tokens[0], p->cached[0], p->ttft_ms[0]);
	printf("               second request %u prompt tokens (%u cached), TTFT %.2f ms (%.1fx)\n",
	       p->prompt_tokens[1], p->cached[1], p->ttft_ms[1], x);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples; NAN when empty. */
static double pct(const struct samples *s, double p)
{
	size_t k;

	if (s->n == 0)
		return NAN;
	k = (size_t)ceil(p / 100.0 * (double)s->n);
	return s->v[k ? k - 1 : 0];
}

static bool merge(struct samples *dst, const struct samples *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (!push(dst, src->v[i]))
			return false;
	return true;
}

static void report(const struct bench_opts *o, struct client *cls, double wall,
		   const struct probe *probe, bool json)
{
	struct samples ttft = { 0 }, itl = { 0 };
	uint64_t tokens = 0;
	uint32_t ok = 0, failed = 0;
	enum occ_status err = OCC_OK;

	for (uint32_t i = 0; i < o->clients; i++) {
		tokens += cls[i].tokens;
		ok += cls[i].ok;
		failed += cls[i].failed;
		if (!err)
			err = cls[i].first_error;
		merge(&ttft, &cls[i].ttft);
		merge(&itl, &cls[i].itl);
	}
	qsort(ttft.v, ttft.n, sizeof(double), cmp_double);
	qsort(itl.v, itl.n, sizeof(double), cmp_double);
	if (json) {
		struct jsonw w;

		jsonw_init(&w, stdout, false);
		jsonw_obj_begin(&w);
		jsonw_key(&w, "model"); jsonw_str(&w, o->model);
		jsonw_key(&w, "clients"); jsonw_uint(&w, o->clients);
		jsonw_key(&w, "requests_ok"); jsonw_uint(&w, ok);
		jsonw_key(&w, "requests_failed"); jsonw_uint(&w, failed);
		jsonw_key(&w, "tokens"); jsonw_uint(&w, tokens);
		jsonw_key(&w, "wall_s"); jsonw_double(&w, wall);
		jsonw_key(&w, "tokens_per_s"); jsonw_double(&w, wall > 0 ? tokens / wall : 0);
		jsonw_key(&w, "ttft_p50_ms"); jsonw_double(&w, pct(&ttft, 50));
		jsonw_key(&w, "ttft_p99_ms"); jsonw_double(&w, pct(&ttft, 99));
		jsonw_key(&w, "itl_p50_ms"); jsonw_double(&w, pct(&itl, 50));
		jsonw_key(&w, "itl_p99_ms"); jsonw_double(&w, pct(&itl, 99));
		if (err) {
			jsonw_key(&w, "first_error"); jsonw_str(&w, occ_status_name(err));
		}
		if (probe)
			report_probe(probe, &w);
		jsonw_obj_end(&w);
		jsonw_finish(&w);
	} else {
		printf("model %s, %u clients x %u requests, max %u tokens\n", o->model, o->clients,
		       o->requests, o->max_tokens);
		printf("requests:     %u ok, %u failed%s%s\n", ok, failed, err ? ", first error " : "",
		       err ? occ_status_name(err) : "");
		printf("tokens:       %llu in %.3f s = %.1f tokens/s aggregate\n",
		       (unsigned long long)tokens, wall, wall > 0 ? tokens / wall : 0.0);
		printf("TTFT:         p50 %.2f ms, p99 %.2f ms\n", pct(&ttft, 50), pct(&ttft, 99));
		printf("inter-token:  p50 %.2f ms, p99 %.2f ms\n", pct(&itl, 50), pct(&itl, 99));
		if (probe)
			report_probe(probe, NULL);
	}
	free(ttft.v);
	free(itl.v);
}

/* --prompt-tokens: the prompt's tokens repeated to n (the first, BOS, once). */
static int expand_prompt(struct bench_opts *o, const struct orcctl_global *g)
{
	occ_conn *c;
	occ_tokens *t;
	enum occ_status s;
	size_t have;
	int rc;

	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	s = occ_tokenize(c, o->model, o->prompt, strlen(o->prompt), OCC_TOK_ADD_SPECIAL, &t);
	if (s != OCC_OK) {
		rc = orcctl_fail(CMD, c, s);
		occ_close(c);
		return rc;
	}
	have = occ_tokens_count(t);
	if (!(o->ids = malloc(o->prompt_tokens * sizeof(int32_t))) || have < 2) {
		fprintf(stderr, "orcctl " CMD ": %s\n", o->ids ? "the prompt is too short to repeat"
							       : "out of memory");
		occ_tokens_free(t);
		occ_close(c);
		return ORCCTL_EXIT_FAILURE;
	}
	o->ids[0] = occ_tokens_ids(t)[0];
	for (size_t i = 1; i < o->prompt_tokens; i++)
		o->ids[i] = occ_tokens_ids(t)[1 + (i - 1) % (have - 1)];
	o->n_ids = o->prompt_tokens;
	occ_tokens_free(t);
	occ_close(c);
	return ORCCTL_EXIT_OK;
}

static int parse(int argc, char **argv, struct bench_opts *o, bool *json)
{
	enum { OPT_PROMPT_TOKENS = 256, OPT_SEED, OPT_SYSTEM_FILE };
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' }, { "clients", required_argument, NULL, 'c' },
		{ "requests", required_argument, NULL, 'r' },
		{ "max-tokens", required_argument, NULL, 'n' },
		{ "prompt", required_argument, NULL, 'p' },
		{ "prompt-tokens", required_argument, NULL, OPT_PROMPT_TOKENS },
		{ "system-file", required_argument, NULL, OPT_SYSTEM_FILE },
		{ "temperature", required_argument, NULL, 't' }, { "seed", required_argument, NULL, OPT_SEED },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "m:c:r:n:p:t:jh", opts, NULL)) != -1) {
		char *end = NULL;
		unsigned long v = 0;

		errno = 0;
		if (c == 'c' || c == 'r' || c == 'n' || c == OPT_PROMPT_TOKENS) {
			v = strtoul(optarg, &end, 10);
			if (end == optarg || *end || errno || v == 0 || v > ORC_PROMPT_TOKENS_MAX ||
			    (c == 'c' && v > BENCH_CLIENTS_MAX) || (c == 'n' && v > ORC_MAX_TOKENS_CAP)) {
				fprintf(stderr, "orcctl " CMD ": bad value '%s'\n", optarg);
				return ORCCTL_EXIT_USAGE;
			}
		}
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'c': o->clients = (uint32_t)v; break;
		case 'r': o->requests = (uint32_t)v; break;
		case 'n': o->max_tokens = (uint32_t)v; break;
		case 'p': o->prompt = optarg; break;
		case OPT_PROMPT_TOKENS: o->prompt_tokens = (uint32_t)v; break;
		case OPT_SYSTEM_FILE: o->system_file = optarg; break;
		case 't':
			o->temperature = strtof(optarg, &end);
			o->has_temp = true;
			if (end == optarg || *end) {
				fprintf(stderr, "orcctl " CMD ": bad temperature '%s'\n", optarg);
				return ORCCTL_EXIT_USAGE;
			}
			break;
		case OPT_SEED:
			o->seed = strtoull(optarg, &end, 0);
			o->has_seed = true;
			if (end == optarg || *end) {
				fprintf(stderr, "orcctl " CMD ": bad seed '%s'\n", optarg);
				return ORCCTL_EXIT_USAGE;
			}
			break;
		case 'j': *json = true; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if (!o->model || optind < argc) {
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	if (o->system_file && o->prompt_tokens) {
		fprintf(stderr, "orcctl " CMD ": --system-file and --prompt-tokens do not go together\n");
		return ORCCTL_EXIT_USAGE;
	}
	return 0;
}

int cmd_bench(int argc, char **argv, const struct orcctl_global *g)
{
	struct bench_opts o = { .prompt = "Once upon a time", .clients = 1, .requests = 1,
				.max_tokens = 128 };
	struct gate start = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false };
	struct probe probe = { { 0, 0 }, { 0, 0 }, { 0, 0 } };
	struct client *cls;
	pthread_t *threads;
	bool json = g->json;
	double t0, t_end = 0;
	uint32_t started = 0, failed = 0;
	int rc;

	if ((rc = parse(argc, argv, &o, &json)) != 0)
		return rc < 0 ? ORCCTL_EXIT_OK : rc;
	if ((rc = orcctl_check_model(CMD, o.model)) != ORCCTL_EXIT_OK)
		return rc;
	if (o.prompt_tokens && (rc = expand_prompt(&o, g)) != ORCCTL_EXIT_OK)
		return rc;
	if (o.system_file && (rc = run_probe(&o, g, &probe)) != ORCCTL_EXIT_OK) {
		free(o.text);
		return rc;
	}
	cls = calloc(o.clients, sizeof(*cls));
	threads = calloc(o.clients, sizeof(*threads));
	if (!cls || !threads) {
		free(cls);
		free(threads);
		free(o.ids);
		free(o.text);
		return ORCCTL_EXIT_FAILURE;
	}
	for (uint32_t i = 0; i < o.clients; i++) {
		cls[i] = (struct client){ .o = &o, .g = g, .start = &start };
		if (pthread_create(&threads[i], NULL, client_main, &cls[i]) != 0)
			break;
		started++;
	}
	/* the clock starts once every client has connected */
	pthread_mutex_lock(&start.lock);
	while (start.ready < started)
		pthread_cond_wait(&start.cond, &start.lock);
	start.open = true;
	t0 = now_s();
	pthread_cond_broadcast(&start.cond);
	pthread_mutex_unlock(&start.lock);
	for (uint32_t i = 0; i < started; i++) {
		pthread_join(threads[i], NULL);
		if (cls[i].t_end > t_end)
			t_end = cls[i].t_end;
		failed += cls[i].failed;
	}
	if (started < o.clients) {
		fprintf(stderr, "orcctl " CMD ": could start only %u of %u client threads\n", started,
			o.clients);
		o.clients = started;
		failed++;
	}
	report(&o, cls, t_end > t0 ? t_end - t0 : 0, o.system_file ? &probe : NULL, json);
	for (uint32_t i = 0; i < started; i++) {
		free(cls[i].ttft.v);
		free(cls[i].itl.v);
	}
	free(cls);
	free(threads);
	free(o.ids);
	free(o.text);
	return failed ? ORCCTL_EXIT_FAILURE : ORCCTL_EXIT_OK;
}
