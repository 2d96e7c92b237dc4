/* gen_opts.c -- parse `orcctl generate`'s command line (see gen_opts.h).
 * Only syntax is checked here; ranges are the engine's (or the daemon's)
 * business, so both modes report the same errors. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "gen_opts.h"
#include "orcctl.h"

#define STR_(x) #x
#define STR(x) STR_(x)

enum {
	OPT_PROMPT_IDS = 256, OPT_MAX_TOKENS, OPT_TEMPERATURE, OPT_TOP_K, OPT_TOP_P, OPT_MIN_P,
	OPT_REPEAT, OPT_REPEAT_N, OPT_PRESENCE, OPT_FREQUENCY, OPT_SEED, OPT_STOP, OPT_LOGPROBS,
	OPT_PROMPT_LOGPROBS, OPT_THREADS, OPT_CTX, OPT_JSON,
};

void orcctl_gen_opts_usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl generate (--file MODEL.gguf | -m NAME) [OPTIONS] [PROMPT]\n"
		"\n"
		"Generate a continuation of PROMPT (text, tokenized with BOS as the model says)\n"
		"or of --prompt-ids, streaming the text to stdout as it is produced. With -m\n"
		"the daemon runs model NAME (a file stem in its models directory). With --file\n"
		"orcctl starts a private orcd that serves just that file for this one command\n"
		"(no running daemon is needed): the orcd beside orcctl, the installed one, or\n"
		"$ORCD_BINARY.\n"
		"\n"
		"  -f, --file PATH            the GGUF model to run in a private orcd\n"
		"  -m, --model NAME           the model to run in orcd (see --socket)\n"
		"      --prompt-ids 1,2,3     token ids instead of PROMPT text\n"
		"  -n, --max-tokens N         tokens to generate (default %u, clipped to the\n"
		"                             room left in the context; 0 = all that room;\n"
		"                             with -m the default and 0 are the daemon's:\n"
		"                             the room left, at most its max_tokens)\n"
		"  -t, --temperature T        0 = greedy (default 0.8)\n"
		"      --top-k K              0 = off (default 40)\n"
		"      --top-p P              1 = off (default 0.95)\n"
		"      --min-p P              0 = off (default 0.05)\n"
		"      --repeat-penalty R     1 = off (default 1)\n"
		"      --repeat-last-n N      tokens the penalties look at, -1 = all (default 64)\n"
		"      --presence-penalty P   -2..2 (default 0)\n"
		"      --frequency-penalty P  -2..2 (default 0)\n"
		"      --seed N               PRNG seed (default 0); same seed, same output\n"
		"      --stop STRING          stop before STRING (repeatable, at most %u)\n"
		"      --logprobs K           top-K log-probabilities per token (--json only)\n"
		"      --prompt-logprobs K    top-K per prompt position (--json only)\n"
		"      --threads N            CPU threads (default: the cores available; --file)\n"
		"      --ctx N                context size (default: the model's, at most 4096;\n"
		"                             --file; the daemon sets its own)\n"
		"  -j, --json                 one JSON document at the end instead of text\n"
		"  -h, --help                 this help\n"
		"\n"
		"Exit status: 0 done, 1 the model or the request was refused, 2 bad\n"
		"command line, 3 the daemon could not be reached, 4 interrupted, 5 the\n"
		"daemon is busy, 6 no such model, 7 protocol error.\n",
		ORCCTL_GEN_MAX_TOKENS_DEFAULT, (unsigned)ORC_STOP_STRINGS_MAX);
}

/* ---- number parsing: the whole argument or an error ---- */

static int parse_float(const char *s, float *ret)
{
	char *end;
	float v;

	errno = 0;
	v = strtof(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_long(const char *s, long lo, long hi, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno == ERANGE || v < lo || v > hi)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (*s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (end == s || *end != '\0' || errno == ERANGE)
		return -EINVAL;
	*ret = v;
	return 0;
}

int orcctl_parse_ids(const char *s, int32_t **ret, size_t *ret_n)
{
	size_t n = 1, k = 0;
	int32_t *ids;

	for (const char *p = s; *p; p++)
		n += *p == ',';
	if (n > ORC_PROMPT_TOKENS_MAX)
		return -E2BIG;
	if (!(ids = malloc(n * sizeof(*ids))))
		return -ENOMEM;
	for (const char *p = s;; p++) {
		char *end;
		long v;

		errno = 0;
		v = strtol(p, &end, 10);
		if (end == p || errno == ERANGE || v < INT32_MIN || v > INT32_MAX ||
		    (*end != ',' && *end != '\0')) {
			free(ids);
			return -EINVAL;
		}
		ids[k++] = (int32_t)v;
		if (*end == '\0')
			break;
		p = end;
	}
	*ret = ids;
	*ret_n = k;
	return 0;
}

/* ---- the option table ---- */

static const struct option long_opts[] = {
	{ "file", required_argument, NULL, 'f' },
	{ "model", required_argument, NULL, 'm' },
	{ "prompt-ids", required_argument, NULL, OPT_PROMPT_IDS },
	{ "max-tokens", required_argument, NULL, 'n' },
	{ "temperature", required_argument, NULL, 't' },
	{ "top-k", required_argument, NULL, OPT_TOP_K },
	{ "top-p", required_argument, NULL, OPT_TOP_P },
	{ "min-p", required_argument, NULL, OPT_MIN_P },
	{ "repeat-penalty", required_argument, NULL, OPT_REPEAT },
	{ "repeat-last-n", required_argument, NULL, OPT_REPEAT_N },
	{ "presence-penalty", required_argument, NULL, OPT_PRESENCE },
	{ "frequency-penalty", required_argument, NULL, OPT_FREQUENCY },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "stop", required_argument, NULL, OPT_STOP },
	{ "logprobs", required_argument, NULL, OPT_LOGPROBS },
	{ "prompt-logprobs", required_argument, NULL, OPT_PROMPT_LOGPROBS },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "ctx", required_argument, NULL, OPT_CTX },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *opt_name(int c)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

/* What a bad value of option c should have been. */
static const char *value_hint(int c, int r)
{
	switch (c) {
	case OPT_PROMPT_IDS: return r == -E2BIG ? " (too many ids)" : " (comma-separated integers)";
	case 'n': return " (an integer, 0.." STR(ORC_MAX_TOKENS_CAP) ")";
	case OPT_LOGPROBS: case OPT_PROMPT_LOGPROBS:
		return " (an integer, 0.." STR(ORC_LOGPROBS_TOP_MAX) ")";
	case OPT_THREADS: return " (an integer, 0.." STR(ORC_THREADS_MAX) ")";
	case OPT_CTX: return " (an integer, 0.." STR(ORC_CTX_MAX) ")";
	case OPT_SEED: return " (an unsigned 64-bit integer)";
	case OPT_TOP_K: case OPT_REPEAT_N: return " (an integer)";
	default: return " (a number)";
	}
}

/* The float-valued sampling options: where each goes and its "set" bit. */
static int parse_float_opt(struct orcctl_gen_opts *o, int c, const char *arg)
{
	float *dst;
	unsigned bit;

	switch (c) {
	case 't': dst = &o->temperature; bit = ORCCTL_GEN_SET_TEMPERATURE; break;
	case OPT_TOP_P: dst = &o->top_p; bit = ORCCTL_GEN_SET_TOP_P; break;
	case OPT_MIN_P: dst = &o->min_p; bit = ORCCTL_GEN_SET_MIN_P; break;
	case OPT_REPEAT: dst = &o->repeat_penalty; bit = ORCCTL_GEN_SET_REPEAT; break;
	case OPT_PRESENCE: dst = &o->presence_penalty; bit = ORCCTL_GEN_SET_PRESENCE; break;
	default: dst = &o->frequency_penalty; bit = ORCCTL_GEN_SET_FREQUENCY; break;
	}
	o->set |= bit;
	return parse_float(arg, dst);
}

/* One option with an argument; 0 or -EINVAL. */
static int parse_one(struct orcctl_gen_opts *o, int c, const char *arg)
{
	long v;
	int r = 0;

	switch (c) {
	case 'f': o->file = arg; break;
	case 'm': o->model = arg; break;
	case OPT_PROMPT_IDS:
		free(o->prompt_ids);
		o->prompt_ids = NULL;
		r = orcctl_parse_ids(arg, &o->prompt_ids, &o->n_prompt_ids);
		o->have_prompt_ids = r == 0;
		break;
	case 'n':
		if ((r = parse_long(arg, 0, ORC_MAX_TOKENS_CAP, &v)) == 0)
			o->max_tokens = (uint32_t)v;
		o->set |= ORCCTL_GEN_SET_MAX_TOKENS;
		break;
	case 't': case OPT_TOP_P: case OPT_MIN_P: case OPT_REPEAT: case OPT_PRESENCE:
	case OPT_FREQUENCY:
		r = parse_float_opt(o, c, arg);
		break;
	case OPT_TOP_K:
		if ((r = parse_long(arg, INT32_MIN, INT32_MAX, &v)) == 0)
			o->top_k = (int32_t)v;
		o->set |= ORCCTL_GEN_SET_TOP_K;
		break;
	case OPT_REPEAT_N:
		if ((r = parse_long(arg, INT32_MIN, INT32_MAX, &v)) == 0)
			o->repeat_last_n = (int32_t)v;
		o->set |= ORCCTL_GEN_SET_REPEAT_N;
		break;
	case OPT_SEED: r = parse_u64(arg, &o->seed); o->set |= ORCCTL_GEN_SET_SEED; break;
	case OPT_STOP:
		if (o->n_stop == ORC_STOP_STRINGS_MAX) {
			fprintf(stderr, "orcctl generate: at most %u --stop strings\n",
				(unsigned)ORC_STOP_STRINGS_MAX);
			return -E2BIG;
		}
		o->stop[o->n_stop++] = arg;
		break;
	case OPT_LOGPROBS:
		if ((r = parse_long(arg, 0, ORC_LOGPROBS_TOP_MAX, &v)) == 0)
			o->logprobs = (uint32_t)v;
		break;
	case OPT_PROMPT_LOGPROBS:
		if ((r = parse_long(arg, 0, ORC_LOGPROBS_TOP_MAX, &v)) == 0)
			o->prompt_logprobs = (uint32_t)v;
		break;
	case OPT_THREADS:
		if ((r = parse_long(arg, 0, ORC_THREADS_MAX, &v)) == 0)
			o->threads = (int)v;
		break;
	case OPT_CTX:
		if ((r = parse_long(arg, 0, ORC_CTX_MAX, &v)) == 0)
			o->ctx = (uint32_t)v;
		break;
	default:
		return -EINVAL;
	}
	return r;
}

int orcctl_gen_opts_parse(int argc, char **argv, struct orcctl_gen_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "f:m:n:t:jh", long_opts, NULL)) != -1) {
		int r;

		if (c == 'j') { o->json = true; continue; }
		if (c == 'h') {
			orcctl_gen_opts_usage(stdout);
			o->help = true;
			return 0;
		}
		if (c == '?' || c == ':') {
			fprintf(stderr, "(see orcctl generate --help)\n");
			return ORCCTL_EXIT_USAGE;
		}
		if ((r = parse_one(o, c, optarg)) < 0) {
			if (r != -E2BIG || c != OPT_STOP)
				fprintf(stderr, "orcctl generate: bad value '%s' for --%s%s\n", optarg,
					opt_name(c), value_hint(c, r));
			return ORCCTL_EXIT_USAGE;
		}
	}
	if (optind < argc)
		o->prompt = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "orcctl generate: unexpected argument '%s' (quote the prompt)\n",
			argv[optind]);
		return ORCCTL_EXIT_USAGE;
	}
	if (o->prompt && o->have_prompt_ids) {
		fprintf(stderr, "orcctl generate: give either PROMPT or --prompt-ids, not both\n");
		return ORCCTL_EXIT_USAGE;
	}
	if (!o->file && !o->model) {
		fprintf(stderr, "orcctl generate: --file MODEL.gguf or -m NAME is required\n");
		return ORCCTL_EXIT_USAGE;
	}
	if (o->file && o->model) {
		fprintf(stderr, "orcctl generate: give --file or -m, not both\n");
		return ORCCTL_EXIT_USAGE;
	}
	if (o->model && (o->threads || o->ctx)) {
		fprintf(stderr, "orcctl generate: --threads and --ctx apply to --file only\n");
		return ORCCTL_EXIT_USAGE;
	}
	return 0;
}

void orcctl_gen_opts_free(struct orcctl_gen_opts *o)
{
	free(o->prompt_ids);
	o->prompt_ids = NULL;
}
