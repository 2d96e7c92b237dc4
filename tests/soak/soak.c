/* soak.c -- the soak driver (make soak; not part of make check): N client
 * processes on libocclient send R generation requests in all against a
 * running orcd, with random sampling options (always seeded, so each
 * request has one right answer), ~10% cancelled mid-stream and ~5% of the
 * clients killed (SIGKILL, mid-stream). Each distinct request is first run
 * solo; afterwards every completed request must equal its solo run, every
 * cancelled one must be a prefix of it, and none may be lost or failed.
 * Samples orcd's RSS every second. Prints a summary; exit 0 when clean.
 *
 *   soak -S SOCK -p ORCD_PID -m MODEL[,MODEL...] [-c 64] [-n 2000] [-d DISTINCT]
 *        [-s SEED] -o DIR      (DIR gets rss.tsv and per-client results) */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "occlient.h"

#define MODELS_MAX 8

struct spec {                 /* one distinct request */
	const char *model, *prompt;
	float temp, top_p, min_p, rep;
	int32_t top_k;
	uint64_t seed;
	uint32_t max_tokens;
	char *ref;                /* the solo run's text */
	size_t ref_len;
	int ref_stop;
};

struct plan {                 /* one of the R requests */
	uint32_t spec;
	int cancel_after;         /* tokens; 0 = run to the end */
	bool die;                 /* kill this client after 2 tokens */
};

static const char *sock, *outdir;
static const char *models[MODELS_MAX];
static int n_models, n_clients = 64, n_req = 2000, n_distinct = 200;
static struct spec *specs;
static struct plan *plan;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static const char *prompts[] = {
	"Once upon a time", "The little dog", "Hello", "Lily wanted to", "Tom and Sue went",
	"One day, a big", "The sun was", "She said", "A cat sat on", "In the park,",
};

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}
static double unif(void) { return (double)(rnd() >> 11) / 9007199254740992.0; }

static occ_gen_req *make_req(const struct spec *s)
{
	occ_gen_req *r = occ_gen_req_new(s->model);

	if (!r || occ_gen_req_prompt(r, s->prompt, strlen(s->prompt)) ||
	    occ_gen_req_temperature(r, s->temp) || occ_gen_req_top_k(r, s->top_k) ||
	    occ_gen_req_top_p(r, s->top_p) || occ_gen_req_min_p(r, s->min_p) ||
	    occ_gen_req_repeat_penalty(r, s->rep) || occ_gen_req_seed(r, s->seed) ||
	    occ_gen_req_max_tokens(r, s->max_tokens)) {
		occ_gen_req_free(r);
		return NULL;
	}
	return r;
}

/* Run one request; cancel after `cancel_after` tokens, _exit hard after 2
 * tokens when `die`. Returns 0 and the result, or an occ_status. */
static int run_one(occ_conn *c, const struct spec *s, int cancel_after, bool die,
		   char **ret_text, size_t *ret_len, int *ret_stop)
{
	occ_gen_req *r = make_req(s);
	occ_gen *g = NULL;
	const occ_token *t;
	const char *text;
	int n = 0, rc;

	if (!r)
		return OCC_NO_MEMORY;
	rc = occ_gen_start(c, r, &g);
	occ_gen_req_free(r);
	while (rc == OCC_OK) {
		rc = occ_gen_next(g, 60000, &t);
		if (rc != OCC_OK || !t)
			break;
		n++;
		if (die && n == 2)
			kill(getpid(), SIGKILL);
		if (cancel_after && n == cancel_after)
			rc = occ_cancel(g);
	}
	if (rc == OCC_OK) {
		text = occ_gen_text(g, ret_len);
		*ret_text = malloc(*ret_len + 1);
		if (*ret_text)
			memcpy(*ret_text, text, *ret_len + 1);
		else
			rc = OCC_NO_MEMORY;
		*ret_stop = occ_gen_stop(g);
	}
	occ_gen_free(g);
	return rc;
}

/* ---- the solo references ---- */

static int references(void)
{
	occ_conn *c;

	if (occ_connect(sock, &c) != OCC_OK) {
		fprintf(stderr, "soak: connect: %s\n", occ_last_error());
		return -1;
	}
	for (int i = 0; i < n_distinct; i++) {
		struct spec *s = &specs[i];
		int rc = run_one(c, s, 0, false, &s->ref, &s->ref_len, &s->ref_stop);
		if (rc != OCC_OK) {
			fprintf(stderr, "soak: solo run %d failed: %s %s\n", i,
				occ_status_name((enum occ_status)rc), occ_conn_error(c));
			occ_close(c);
			return -1;
		}
	}
	occ_close(c);
	return 0;
}

/* ---- clients ---- */

/* Client k serves requests k, k + N, k + 2N, ... from index `from`,
 * appending "idx status verdict stop" per request to its result file;
 * verdict 0: the text equals the solo run's (a prefix of it when
 * cancelled), 1: it does not. */
static void client_main(int k, int from)
{
	char path[4096];
	occ_conn *c = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/client-%d.txt", outdir, k);
	f = fopen(path, "a");
	if (!f || occ_connect(sock, &c) != OCC_OK)
		_exit(3);
	for (int i = from; i < n_req; i += n_clients) {
		const struct spec *s = &specs[plan[i].spec];
		char *text = NULL;
		size_t len = 0;
		int stop = 0, bad = 0;
		int rc;

		fprintf(f, "start %d\n", i);
		fflush(f);
		rc = run_one(c, s, plan[i].cancel_after, plan[i].die, &text, &len, &stop);
		if (rc == OCC_OK && stop == OCC_STOP_CANCEL)
			bad = len > s->ref_len || memcmp(text, s->ref, len) != 0;
		else if (rc == OCC_OK)
			bad = len != s->ref_len || memcmp(text, s->ref, len) != 0 || stop != s->ref_stop;
		free(text);
		fprintf(f, "%d %d %d %d\n", i, rc, bad, stop);
		fflush(f);
		if (rc != OCC_OK) {        /* reconnect: the connection may be unusable */
			occ_close(c);
			if (occ_connect(sock, &c) != OCC_OK)
				_exit(3);
		}
	}
	occ_close(c);
	fclose(f);
	_exit(0);
}

static pid_t spawn(int k, int from)
{
	pid_t p = fork();
	if (p == 0)
		client_main(k, from);
	return p;
}

/* ---- RSS ---- */

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- verification ---- */

struct tally { int done, ok, cancelled, killed, failed, wrong, lost; };

static void check_results(struct tally *t)
{
	char *seen = calloc((size_t)n_req, 1);
	char path[4096], line[256];

	for (int k = 0; k < n_clients; k++) {
		FILE *f;
		snprintf(path, sizeof(path), "%s/client-%d.txt", outdir, k);
		if (!(f = fopen(path, "r")))
			continue;
		while (fgets(line, sizeof(line), f)) {
			int i, rc, bad, stop;
			if (sscanf(line, "%d %d %d %d", &i, &rc, &bad, &stop) != 4 || i < 0 || i >= n_req)
				continue;
			seen[i] = 1;
			t->done++;
			if (rc != OCC_OK) {
				t->failed++;
				fprintf(stderr, "soak: request %d failed: %s\n", i,
					occ_status_name((enum occ_status)rc));
			} else if (bad) {
				t->wrong++;
				fprintf(stderr, "soak: request %d (spec %u) differs from its solo run\n", i,
					plan[i].spec);
			} else if (stop == OCC_STOP_CANCEL) {
				t->cancelled++;
			} else {
				t->ok++;
			}
		}
		fclose(f);
	}
	for (int i = 0; i < n_req; i++) {
		if (seen[i])
			continue;
		if (plan[i].die)
			t->killed++;
		else {
			t->lost++;
			fprintf(stderr, "soak: request %d lost\n", i);
		}
	}
	free(seen);
}

/* The next request of client k after its last "start" line (killed: the
 * one in flight is abandoned). */
static int resume_from(int k)
{
	char path[4096], line[256];
	int last = -1, i;
	FILE *f;

	snprintf(path, sizeof(path), "%s/client-%d.txt", outdir, k);
	if (!(f = fopen(path, "r")))
		return k;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "start %d", &i) == 1)
			last = i;
	fclose(f);
	return last < 0 ? k : last + n_clients;
}

static void make_plan(void)
{
	specs = calloc((size_t)n_distinct, sizeof(*specs));
	plan = calloc((size_t)n_req, sizeof(*plan));
	if (!specs || !plan)
		exit(2);
	for (int i = 0; i < n_distinct; i++) {
		struct spec *s = &specs[i];
		s->model = models[rnd() % (uint64_t)n_models];
		s->prompt = prompts[rnd() % (sizeof(prompts) / sizeof(prompts[0]))];
		s->temp = unif() < 0.25 ? 0.0f : (float)(0.2 + 1.3 * unif());
		s->top_k = unif() < 0.5 ? 0 : (int32_t)(1 + rnd() % 50);
		s->top_p = unif() < 0.5 ? 1.0f : (float)(0.5 + 0.5 * unif());
		s->min_p = unif() < 0.7 ? 0.0f : (float)(0.2 * unif());
		s->rep = unif() < 0.6 ? 1.0f : (float)(1.0 + 0.5 * unif());
		s->seed = rnd();
		s->max_tokens = (uint32_t)(8 + rnd() % 57);
	}
	/* 5% of the clients die, each at one of its requests */
	int n_die = (n_clients * 5 + 99) / 100;
	for (int i = 0; i < n_req; i++) {
		plan[i].spec = (uint32_t)(rnd() % (uint64_t)n_distinct);
		plan[i].cancel_after = unif() < 0.10 ? (int)(1 + rnd() % 4) : 0;
	}
	for (int d = 0; d < n_die; d++) {
		int k = (int)(rnd() % (uint64_t)n_clients);
		int per = (n_req - k + n_clients - 1) / n_clients;
		int i = k + n_clients * (int)(rnd() % (uint64_t)(per > 1 ? per - 1 : 1));
		if (plan[i].die || i >= n_req) {
			d--;
			continue;
		}
		plan[i].die = true;
		plan[i].cancel_after = 0;
	}
}

int main(int argc, char **argv)
{
	pid_t orcd = 0, *pids;
	struct tally t = { 0 };
	char path[4096];
	FILE *rss;
	int c, running, kills = 0;
	long rss_first = -1, rss_warm = -1, rss_max = 0, rss_last = -1;
	time_t t0;

	while ((c = getopt(argc, argv, "S:p:m:c:n:d:s:o:")) != -1) {
		switch (c) {
		case 'S': sock = optarg; break;
		case 'p': orcd = (pid_t)atoi(optarg); break;
		case 'm':
			for (char *m = strtok(optarg, ","); m && n_models < MODELS_MAX; m = strtok(NULL, ","))
				models[n_models++] = m;
			break;
		case 'c': n_clients = atoi(optarg); break;
		case 'n': n_req = atoi(optarg); break;
		case 'd': n_distinct = atoi(optarg); break;
		case 's': rng_state = strtoull(optarg, NULL, 0); break;
		case 'o': outdir = optarg; break;
		default: return 2;
		}
	}
	if (!sock || !outdir || !n_models || n_clients < 1 || n_req < 1 || n_distinct < 1)
		return 2;
	make_plan();
	t0 = time(NULL);
	if (references() < 0)
		return 1;
	printf("solo references: %d distinct requests in %lld s\n", n_distinct,
	       (long long)(time(NULL) - t0));
	snprintf(path, sizeof(path), "%s/rss.tsv", outdir);
	rss = fopen(path, "w");
	pids = calloc((size_t)n_clients, sizeof(*pids));
	if (!rss || !pids)
		return 2;
	t0 = time(NULL);
	for (int k = 0; k < n_clients; k++)
		pids[k] = spawn(k, k);
	running = n_clients;
	while (running > 0) {
		int status;
		pid_t p;

		while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
			for (int k = 0; k < n_clients; k++) {
				if (pids[k] != p)
					continue;
				if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
					int from = resume_from(k);
					kills++;
					if (from < n_req) {
						pids[k] = spawn(k, from);
						break;
					}
				}
				pids[k] = 0;
				running--;
			}
		}
		long kb = orcd ? rss_kb(orcd) : -1;
		fprintf(rss, "%lld\t%ld\n", (long long)(time(NULL) - t0), kb);
		fflush(rss);
		if (rss_first < 0)
			rss_first = kb;
		if (time(NULL) - t0 >= 10 && rss_warm < 0)
			rss_warm = kb;
		if (kb > rss_max)
			rss_max = kb;
		rss_last = kb;
		if (running > 0)
			sleep(1);
	}
	check_results(&t);
	printf("requests: %d planned, %d completed (%d correct, %d cancelled mid-stream), %d in "
	       "killed clients\n", n_req, t.done, t.ok, t.cancelled, t.killed);
	printf("clients: %d, killed: %d; failed: %d, wrong: %d, lost: %d\n", n_clients, kills,
	       t.failed, t.wrong, t.lost);
	printf("time: %lld s; orcd RSS (KiB): start %ld, at 10 s %ld, max %ld, end %ld\n",
	       (long long)(time(NULL) - t0), rss_first, rss_warm, rss_max, rss_last);
	fclose(rss);
	free(pids);
	return t.failed || t.wrong || t.lost || t.done + t.killed != n_req ? 1 : 0;
}
