/* cmd_detokenize.c -- `orcctl detokenize -m NAME IDS...`: the text of token
 * ids under model NAME's tokenizer, through the daemon. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "jsonw.h"

#define CMD "detokenize"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl detokenize -m NAME [--skip-special] [--json] IDS...\n"
		"\n"
		"Print the text of token IDS (separated by commas or blanks, in one or more\n"
		"arguments) under model NAME's tokenizer. The bytes are written as they are:\n"
		"ids may end inside a UTF-8 character.\n"
		"\n"
		"  -m, --model NAME     the model (required)\n"
		"  -s, --skip-special   leave out control tokens (BOS, EOS, ...)\n"
		"  -j, --json           {\"text\": \"...\"} (invalid UTF-8 becomes U+FFFD)\n"
		"  -h, --help           this help\n");
}

/* All remaining arguments as one id list. */
static int collect_ids(int argc, char **argv, int32_t **ret, size_t *ret_n)
{
	size_t len = 1;
	char *all;
	int r;

	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (!(all = malloc(len)))
		return -ENOMEM;
	all[0] = '\0';
	for (int i = 0; i < argc; i++) {
		strcat(all, argv[i]);
		strcat(all, " ");
	}
	r = orcctl_parse_id_list(all, ret, ret_n);
	free(all);
	return r;
}

int cmd_detokenize(int argc, char **argv, const struct orcctl_global *g)
{
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' }, { "skip-special", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *model = NULL;
	unsigned flags = 0;
	bool json = g->json;
	int32_t *ids = NULL;
	size_t n = 0, len;
	char *text;
	occ_conn *c;
	enum occ_status s;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "m:sjh", opts, NULL)) != -1) {
		switch (ch) {
		case 'm': model = optarg; break;
		case 's': flags |= OCC_DETOK_SKIP_SPECIAL; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return ORCCTL_EXIT_OK;
		default: usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if (!model || optind >= argc) {
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	if ((rc = orcctl_check_model(CMD, model)) != ORCCTL_EXIT_OK)
		return rc;
	if (collect_ids(argc - optind, argv + optind, &ids, &n) < 0) {
		fprintf(stderr, "orcctl " CMD ": bad token id list (non-negative integers)\n");
		return ORCCTL_EXIT_USAGE;
	}
	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK) {
		free(ids);
		return rc;
	}
	s = occ_detokenize(c, model, ids, n, flags, &text, &len);
	free(ids);
	if (s != OCC_OK) {
		rc = orcctl_fail(CMD, c, s);
		occ_close(c);
		return rc;
	}
	if (json) {
		struct jsonw w;

		jsonw_init(&w, stdout, false);
		jsonw_obj_begin(&w);
		jsonw_key(&w, "text");
		jsonw_strn(&w, text, len);
		jsonw_obj_end(&w);
		jsonw_finish(&w);
	} else {
		fwrite(text, 1, len, stdout);
		putchar('\n');
	}
	occ_free(text);
	occ_close(c);
	return fflush(stdout) == 0 ? ORCCTL_EXIT_OK : ORCCTL_EXIT_FAILURE;
}
