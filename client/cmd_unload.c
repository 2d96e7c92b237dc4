/* cmd_unload.c -- `orcctl unload NAME`: release a resident model. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "daemon.h"

#define CMD "unload"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl unload NAME\n"
		"\n"
		"Release model NAME's memory in the daemon (it loads again on its next use).\n"
		"\n"
		"  -h, --help   this help\n"
		"\n"
		"Exit status: 0 unloaded, 1 refused (the daemon says why), 3 no daemon,\n"
		"6 no such model.\n");
}

int cmd_unload(int argc, char **argv, const struct orcctl_global *g)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	occ_conn *c;
	enum occ_status s;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'h') { usage(stdout); return ORCCTL_EXIT_OK; }
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	if ((rc = orcctl_check_model(CMD, argv[optind])) != ORCCTL_EXIT_OK)
		return rc;
	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	if ((s = occ_unload(c, argv[optind])) != OCC_OK)
		rc = orcctl_fail(CMD, c, s);
	else if (!g->quiet && !g->json)
		printf("%s unloaded\n", argv[optind]);
	occ_close(c);
	return rc;
}
