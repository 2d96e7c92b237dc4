/* cmd_generate.c -- `orcctl generate --file MODEL.gguf [PROMPT]`: local mode,
 * the engine linked into orcctl; `-m NAME` hands over to the daemon mode
 * (gen_daemon.c), which shares gen_opts.h and the output of gen_output.c.
 * Streams the text to stdout, or prints one JSON document with --json. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "gen.h"
#include "gen_opts.h"
#include "gen_output.h"
#include "log.h"
#include "orcctl.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---- request ---- */

static int prompt_ids(const struct orcctl_gen_opts *o, const struct orc_model *m,
		      int32_t **ret, size_t *ret_n, struct orc_err *err)
{
	const char *text = o->prompt ? o->prompt : "";

	if (o->have_prompt_ids) {
		*ret = malloc((o->n_prompt_ids ? o->n_prompt_ids : 1) * sizeof(**ret));
		if (!*ret)
			return orc_err_set(err, -ENOMEM, "out of memory");
		memcpy(*ret, o->prompt_ids, o->n_prompt_ids * sizeof(**ret));
		*ret_n = o->n_prompt_ids;
		return 0;
	}
	return orc_tok_encode(orc_model_get_tok(m), text, strlen(text),
			      ORC_TOK_ADD_SPECIAL | ORC_TOK_PARSE_SPECIAL, ret, ret_n, err);
}

static void gen_params(const struct orcctl_gen_opts *o, uint32_t n_ctx, size_t n_prompt,
		       struct orc_gen_params *p)
{
	struct orc_sampler_params *s = &p->sampling;

	orc_gen_params_default(p);
	if (o->set & ORCCTL_GEN_SET_TEMPERATURE) s->temperature = o->temperature;
	if (o->set & ORCCTL_GEN_SET_TOP_K) s->top_k = o->top_k;
	if (o->set & ORCCTL_GEN_SET_TOP_P) s->top_p = o->top_p;
	if (o->set & ORCCTL_GEN_SET_MIN_P) s->min_p = o->min_p;
	if (o->set & ORCCTL_GEN_SET_REPEAT) s->repeat_penalty = o->repeat_penalty;
	if (o->set & ORCCTL_GEN_SET_REPEAT_N) s->repeat_last_n = o->repeat_last_n;
	if (o->set & ORCCTL_GEN_SET_PRESENCE) s->presence_penalty = o->presence_penalty;
	if (o->set & ORCCTL_GEN_SET_FREQUENCY) s->frequency_penalty = o->frequency_penalty;
	if (o->set & ORCCTL_GEN_SET_SEED) s->seed = o->seed;
	if (o->set & ORCCTL_GEN_SET_MAX_TOKENS)
		p->max_tokens = o->max_tokens;
	else if (n_prompt < n_ctx && n_ctx - n_prompt < ORCCTL_GEN_MAX_TOKENS_DEFAULT)
		p->max_tokens = n_ctx - (uint32_t)n_prompt;
	else
		p->max_tokens = ORCCTL_GEN_MAX_TOKENS_DEFAULT;
	p->stop = o->stop;
	p->n_stop = o->n_stop;
	p->logprobs = o->logprobs;
	p->prompt_logprobs = o->prompt_logprobs;
}

/* ---- output ---- */

static int stream_text(void *user, const struct orc_gen_event *ev)
{
	bool *json = user;

	if (!*json && ev->text_len) {
		fwrite(ev->text, 1, ev->text_len, stdout);
		fflush(stdout);
	}
	return interrupted ? -1 : 0;
}

/* ---- the command ---- */

static int run(const struct orcctl_gen_opts *o, bool json, bool quiet)
{
	struct orc_model_opts mo = { .backend = ORC_BACKEND_AUTO, .n_threads = o->threads,
				     .n_ctx = o->ctx, .n_seq_max = 1 };
	struct orc_model *m = NULL;
	struct orc_gen_params p;
	struct orc_gen_result res = { 0 };
	struct orc_err err = { 0 };
	int32_t *ids = NULL;
	size_t n_ids = 0;
	int r, rc = ORCCTL_EXIT_FAILURE;

	if ((r = orc_model_load(o->file, &mo, &m, &err)) < 0) {
		log_warnx("%s: %s", o->file, orc_err_msg(&err));
		return ORCCTL_EXIT_FAILURE;
	}
	if ((r = prompt_ids(o, m, &ids, &n_ids, &err)) < 0) {
		log_warnx("prompt: %s", orc_err_msg(&err));
		goto out;
	}
	gen_params(o, orc_model_n_ctx(m), n_ids, &p);
	r = orc_generate(m, &p, ids, n_ids, stream_text, &json, &res, &err);
	if (r == -ECANCELED) {
		rc = ORCCTL_EXIT_CANCELED;
		goto out;
	}
	if (r < 0) {
		log_warnx("%s", orc_err_msg(&err));
		goto out;
	}
	if (json)
		orcctl_gen_print_json(&res, orc_stop_reason_name(res.stop_reason));
	else if (isatty(STDOUT_FILENO) && (res.text_len == 0 || res.text[res.text_len - 1] != '\n'))
		putchar('\n');
	if (!json && !quiet && isatty(STDERR_FILENO))
		orcctl_gen_print_summary(&res, orc_stop_reason_name(res.stop_reason));
	rc = fflush(stdout) == 0 ? ORCCTL_EXIT_OK : ORCCTL_EXIT_FAILURE;
out:
	orc_gen_result_free(&res);
	free(ids);
	orc_model_free(m);
	return rc;
}

int cmd_generate(int argc, char **argv, const struct orcctl_global *g)
{
	struct orcctl_gen_opts o;
	struct sigaction sa = { .sa_handler = on_sigint };
	int rc;

	if ((rc = orcctl_gen_opts_parse(argc, argv, &o)) != 0 || o.help) {
		orcctl_gen_opts_free(&o);
		return rc;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	if (o.model)
		rc = orcctl_generate_daemon(&o, g, &interrupted);
	else
		rc = run(&o, o.json || g->json, g->quiet);
	orcctl_gen_opts_free(&o);
	return rc;
}
