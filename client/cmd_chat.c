/* cmd_chat.c -- `orcctl chat -m NAME`: an interactive conversation. Each
 * line the user types is sent with the whole history as chat messages; the
 * daemon renders them with the model's chat format and the reply streams to
 * stdout. /exit, /reset and /history are commands; SIGINT stops a reply. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "gen_opts.h"

#define CMD "chat"
#define POLL_MS 100

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct turn {
	const char *role;              /* "user" or "assistant" */
	char *content;
};

struct chat {
	const char *model, *system;
	struct orcctl_gen_opts o;      /* sampling options (only `set` fields are sent) */
	struct turn *turns;
	size_t n, cap;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl chat -m NAME [OPTIONS]\n"
		"\n"
		"Talk with model NAME through the daemon, which formats the conversation\n"
		"with the model's chat template (ChatML, Llama 2/3, Phi-3). Type a message\n"
		"and press Enter; the reply streams back. Lines starting with '/' are\n"
		"commands:\n"
		"  /exit      leave (so does end of input)\n"
		"  /reset     forget the conversation so far\n"
		"  /history   show the conversation so far\n"
		"Ctrl-C stops a reply; the part already shown stays in the history.\n"
		"\n"
		"  -m, --model NAME        the model (required)\n"
		"  -s, --system TEXT       a system message before the conversation\n"
		"  -t, --temperature T     sampling temperature, 0 = greedy\n"
		"  -n, --max-tokens N      at most N tokens per reply\n"
		"      --top-k K, --top-p P, --min-p P, --repeat-penalty R, --seed N\n"
		"                          as for orcctl generate (default: the daemon's)\n"
		"  -h, --help              this help\n");
}

static int add_turn(struct chat *ch, const char *role, const char *text, size_t len)
{
	char *copy;

	if (ch->n == ch->cap) {
		size_t cap = ch->cap ? 2 * ch->cap : 16;
		struct turn *t = realloc(ch->turns, cap * sizeof(*t));

		if (!t)
			return -ENOMEM;
		ch->turns = t;
		ch->cap = cap;
	}
	if (!(copy = malloc(len + 1)))
		return -ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	ch->turns[ch->n++] = (struct turn){ role, copy };
	return 0;
}

static void reset(struct chat *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		free(ch->turns[i].content);
	ch->n = 0;
}

static enum occ_status build(const struct chat *ch, occ_gen_req **ret)
{
	const struct orcctl_gen_opts *o = &ch->o;
	occ_gen_req *r = occ_gen_req_new(ch->model);
	enum occ_status s = r ? OCC_OK : OCC_INVALID_ARGUMENT;

	if (s == OCC_OK && ch->system)
		s = occ_gen_req_add_message(r, "system", ch->system);
	for (size_t i = 0; s == OCC_OK && i < ch->n; i++)
		s = occ_gen_req_add_message(r, ch->turns[i].role, ch->turns[i].content);
#define SET(bit, call) do { if (s == OCC_OK && (o->set & (bit))) s = (call); } while (0)
	SET(ORCCTL_GEN_SET_TEMPERATURE, occ_gen_req_temperature(r, o->temperature));
	SET(ORCCTL_GEN_SET_MAX_TOKENS, occ_gen_req_max_tokens(r, o->max_tokens));
	SET(ORCCTL_GEN_SET_TOP_K, occ_gen_req_top_k(r, o->top_k));
	SET(ORCCTL_GEN_SET_TOP_P, occ_gen_req_top_p(r, o->top_p));
	SET(ORCCTL_GEN_SET_MIN_P, occ_gen_req_min_p(r, o->min_p));
	SET(ORCCTL_GEN_SET_REPEAT, occ_gen_req_repeat_penalty(r, o->repeat_penalty));
	SET(ORCCTL_GEN_SET_SEED, occ_gen_req_seed(r, o->seed));
#undef SET
	if (s != OCC_OK) {
		occ_gen_req_free(r);
		return s;
	}
	*ret = r;
	return OCC_OK;
}

/* One reply, streamed; its text joins the history. */
static enum occ_status reply(struct chat *ch, occ_conn *c)
{
	const occ_token *t;
	occ_gen_req *r;
	occ_gen *g;
	enum occ_status s;
	const char *text;
	size_t len, shown = 0;

	if ((s = build(ch, &r)) != OCC_OK)
		return s;
	s = occ_gen_start(c, r, &g);
	occ_gen_req_free(r);
	if (s != OCC_OK)
		return s;
	interrupted = 0;
	while ((s = occ_gen_next(g, POLL_MS, &t)) == OCC_OK || s == OCC_TIMEOUT) {
		if (interrupted)
			occ_cancel(g);
		if (s == OCC_TIMEOUT)
			continue;
		if (!t)
			break;
		text = occ_token_text(t, &len);
		fwrite(text, 1, len, stdout);
		fflush(stdout);
		shown += len;
	}
	if (s == OCC_OK) {
		text = occ_gen_text(g, &len);
		fwrite(text + shown, 1, len - shown, stdout);
		putchar('\n');
		if (interrupted)
			fprintf(stderr, "[stopped]\n");
		if (add_turn(ch, "assistant", text, len) < 0)
			s = OCC_ALLOC_FAILED;
	}
	occ_gen_free(g);
	interrupted = 0;
	return s;
}

static void show_history(const struct chat *ch)
{
	if (ch->system)
		printf("[system] %s\n", ch->system);
	for (size_t i = 0; i < ch->n; i++)
		printf("[%s] %s\n", ch->turns[i].role, ch->turns[i].content);
	if (!ch->system && ch->n == 0)
		printf("(empty)\n");
}

/* The conversation loop; an exit code. */
static int loop(struct chat *ch, occ_conn *c)
{
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = ORCCTL_EXIT_OK;

	for (;;) {
		enum occ_status s;

		if (tty) {
			fputs("> ", stdout);
			fflush(stdout);
		}
		errno = 0;
		if ((n = getline(&line, &cap, stdin)) < 0) {
			if (errno == EINTR)
				rc = ORCCTL_EXIT_CANCELED;
			if (tty)
				putchar('\n');
			break;
		}
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if (strcmp(line, "/exit") == 0 || strcmp(line, "/quit") == 0)
			break;
		if (strcmp(line, "/reset") == 0) {
			reset(ch);
			continue;
		}
		if (strcmp(line, "/history") == 0) {
			show_history(ch);
			continue;
		}
		if (line[0] == '/') {
			fprintf(stderr, "unknown command %s (/exit, /reset, /history)\n", line);
			continue;
		}
		if (add_turn(ch, "user", line, (size_t)n) < 0) {
			rc = ORCCTL_EXIT_FAILURE;
			break;
		}
		if ((s = reply(ch, c)) != OCC_OK) {
			/* the turn did not happen: forget the question */
			free(ch->turns[--ch->n].content);
			rc = orcctl_fail(CMD, c, s);
			if (rc == ORCCTL_EXIT_CONNECT || rc == ORCCTL_EXIT_PROTOCOL)
				break;
			rc = ORCCTL_EXIT_OK;
		}
	}
	free(line);
	return rc;
}

static int parse(int argc, char **argv, struct chat *ch)
{
	enum { OPT_TOP_K = 256, OPT_TOP_P, OPT_MIN_P, OPT_REPEAT, OPT_SEED };
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' }, { "system", required_argument, NULL, 's' },
		{ "temperature", required_argument, NULL, 't' },
		{ "max-tokens", required_argument, NULL, 'n' },
		{ "top-k", required_argument, NULL, OPT_TOP_K },
		{ "top-p", required_argument, NULL, OPT_TOP_P },
		{ "min-p", required_argument, NULL, OPT_MIN_P },
		{ "repeat-penalty", required_argument, NULL, OPT_REPEAT },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct orcctl_gen_opts *o = &ch->o;
	int c;

	while ((c = getopt_long(argc, argv, "m:s:t:n:h", opts, NULL)) != -1) {
		char *end = NULL;

		errno = 0;
		switch (c) {
		case 'm': ch->model = optarg; continue;
		case 's': ch->system = optarg; continue;
		case 'h': usage(stdout); return -1;
		case 't': o->temperature = strtof(optarg, &end); o->set |= ORCCTL_GEN_SET_TEMPERATURE; break;
		case 'n': o->max_tokens = (uint32_t)strtoul(optarg, &end, 10); o->set |= ORCCTL_GEN_SET_MAX_TOKENS; break;
		case OPT_TOP_K: o->top_k = (int32_t)strtol(optarg, &end, 10); o->set |= ORCCTL_GEN_SET_TOP_K; break;
		case OPT_TOP_P: o->top_p = strtof(optarg, &end); o->set |= ORCCTL_GEN_SET_TOP_P; break;
		case OPT_MIN_P: o->min_p = strtof(optarg, &end); o->set |= ORCCTL_GEN_SET_MIN_P; break;
		case OPT_REPEAT: o->repeat_penalty = strtof(optarg, &end); o->set |= ORCCTL_GEN_SET_REPEAT; break;
		case OPT_SEED: o->seed = strtoull(optarg, &end, 0); o->set |= ORCCTL_GEN_SET_SEED; break;
		default: usage(stderr); return ORCCTL_EXIT_USAGE;
		}
		if (!end || end == optarg || *end || errno) {
			fprintf(stderr, "orcctl " CMD ": bad value '%s' (see orcctl chat --help)\n", optarg);
			return ORCCTL_EXIT_USAGE;
		}
	}
	if (!ch->model || optind < argc) {
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	return 0;
}

int cmd_chat(int argc, char **argv, const struct orcctl_global *g)
{
	struct sigaction sa = { .sa_handler = on_sigint };   /* no SA_RESTART: getline sees EINTR */
	struct chat ch = { 0 };
	occ_conn *c;
	int rc;

	if ((rc = parse(argc, argv, &ch)) != 0)
		return rc < 0 ? ORCCTL_EXIT_OK : rc;
	if ((rc = orcctl_check_model(CMD, ch.model)) != ORCCTL_EXIT_OK)
		return rc;
	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	rc = loop(&ch, c);
	reset(&ch);
	free(ch.turns);
	occ_close(c);
	return rc;
}
