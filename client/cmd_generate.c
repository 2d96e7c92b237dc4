/* cmd_generate.c -- `orcctl generate`: with -m NAME through the system's
 * orcd; with --file MODEL.gguf through a private orcd that serves just
 * that file (private.h), so both modes run the same code and print the
 * same (gen_daemon.c, gen_output.c): text streamed to stdout, or one JSON
 * document with --json. */
#include "config.h"

#include <signal.h>
#include <stdio.h>

#include "gen_opts.h"
#include "gen_output.h"
#include "orcctl.h"
#include "private.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* --file: the private orcd gets the engine's defaults of the local mode:
 * ORCCTL_GEN_MAX_TOKENS_DEFAULT tokens, or with --max-tokens 0 all the room
 * left in the context. */
static int run_file(const struct orcctl_gen_opts *o, const struct orcctl_global *g)
{
	struct orcctl_private_opts po = {
		.file = o->file, .threads = o->threads, .ctx = o->ctx,
		.max_tokens = (o->set & ORCCTL_GEN_SET_MAX_TOKENS) && o->max_tokens == 0
			      ? 0 : ORCCTL_GEN_MAX_TOKENS_DEFAULT,
	};
	struct orcctl_private *p;
	const char *model;
	occ_conn *c;
	int rc = orcctl_private_start("generate", &po, &p, &c, &model);

	if (rc != ORCCTL_EXIT_OK)
		return rc;
	rc = orcctl_generate_on(c, model, o, g, &interrupted);
	if (interrupted && rc != ORCCTL_EXIT_OK)
		rc = ORCCTL_EXIT_CANCELED;
	return orcctl_private_end("generate", p, c, rc);
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
		rc = run_file(&o, g);
	orcctl_gen_opts_free(&o);
	return rc;
}
