/* cmd_load.c -- `orcctl load NAME`: make a model resident in the daemon,
 * with a progress bar on stderr when stderr is a terminal. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "daemon.h"
#include "jsonw.h"

#define CMD "load"
#define BAR_WIDTH 40

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl load [--keep-alive DURATION] [--json] NAME\n"
		"\n"
		"Load model NAME (a file stem in the daemon's models directory) and keep it\n"
		"resident. Shows a progress bar on stderr when it is a terminal.\n"
		"\n"
		"  -k, --keep-alive D   how long it stays resident after its last request:\n"
		"                       seconds, or 30s, 5m, 2h, 1d, or 'forever'\n"
		"                       (default: the daemon's configuration)\n"
		"  -j, --json           print the loaded model as JSON\n"
		"  -h, --help           this help\n"
		"\n"
		"Exit status: 0 loaded, 1 it failed (the daemon says why), 3 no daemon,\n"
		"5 busy, 6 no such model.\n");
}

static void progress(void *user, uint64_t done, uint64_t total)
{
	int filled = total ? (int)((double)done / (double)total * BAR_WIDTH) : 0;

	(void)user;
	if (filled > BAR_WIDTH)
		filled = BAR_WIDTH;
	fprintf(stderr, "\r[%-*.*s] %3d%%", BAR_WIDTH, filled,
		"########################################", total ? (int)(100.0 * done / total) : 0);
	fflush(stderr);
}

int cmd_load(int argc, char **argv, const struct orcctl_global *g)
{
	static const struct option opts[] = {
		{ "keep-alive", required_argument, NULL, 'k' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int64_t keep = OCC_KEEP_ALIVE_DEFAULT;
	bool json = g->json, bar;
	occ_model *m = NULL;
	occ_conn *c;
	enum occ_status s;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "k:jh", opts, NULL)) != -1) {
		switch (ch) {
		case 'k':
			if (orcctl_parse_duration(optarg, &keep) < 0) {
				fprintf(stderr, "orcctl " CMD ": bad --keep-alive '%s'\n", optarg);
				return ORCCTL_EXIT_USAGE;
			}
			break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return ORCCTL_EXIT_OK;
		default: usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	if ((rc = orcctl_check_model(CMD, argv[optind])) != ORCCTL_EXIT_OK)
		return rc;
	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	bar = !g->quiet && isatty(STDERR_FILENO);
	s = occ_load(c, argv[optind], keep, bar ? progress : NULL, NULL, &m);
	if (bar)
		fputc('\n', stderr);
	if (s != OCC_OK) {
		rc = orcctl_fail(CMD, c, s);
		occ_close(c);
		return rc;
	}
	if (json) {
		struct jsonw w;

		jsonw_init(&w, stdout, false);
		orcctl_json_model(&w, m);
		jsonw_finish(&w);
	} else if (!g->quiet) {
		char mem[32];

		printf("%s loaded (%s)\n", occ_model_name(m),
		       orcctl_fmt_bytes(occ_model_get(m, OCC_MODEL_MEM), mem, sizeof(mem)));
	}
	occ_model_free(m);
	occ_close(c);
	return fflush(stdout) == 0 ? ORCCTL_EXIT_OK : ORCCTL_EXIT_FAILURE;
}
