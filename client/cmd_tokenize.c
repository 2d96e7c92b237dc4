/* cmd_tokenize.c -- `orcctl tokenize -m NAME TEXT`: token ids of TEXT with
 * model NAME's tokenizer, through the daemon. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "jsonw.h"

#define CMD "tokenize"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl tokenize -m NAME [OPTIONS] TEXT\n"
		"\n"
		"Print the token ids of TEXT under model NAME's tokenizer, as the daemon\n"
		"computes them: space-separated on one line, or one 'ID<TAB>PIECE' line per\n"
		"token with --pieces.\n"
		"\n"
		"  -m, --model NAME      the model (required)\n"
		"      --no-bos          do not add BOS/EOS (default: as the model says)\n"
		"      --parse-special   recognise control tokens such as <|im_end|> in TEXT\n"
		"  -p, --pieces          also print each token's vocabulary piece\n"
		"  -j, --json            {\"ids\": [...], \"pieces\": [...]}\n"
		"  -h, --help            this help\n");
}

static void print_piece(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch == '\n') fputs("\\n", stdout);
		else if (ch == '\t') fputs("\\t", stdout);
		else if (ch < 0x20 || ch == 0x7f) printf("\\x%02x", ch);
		else putchar(ch);
	}
}

static void print_tokens(const occ_tokens *t, bool json, bool pieces)
{
	size_t n = occ_tokens_count(t), len;
	const int32_t *ids = occ_tokens_ids(t);

	if (json) {
		struct jsonw w;

		jsonw_init(&w, stdout, false);
		jsonw_obj_begin(&w);
		jsonw_key(&w, "ids");
		jsonw_arr_begin(&w);
		for (size_t i = 0; i < n; i++)
			jsonw_int(&w, ids[i]);
		jsonw_arr_end(&w);
		if (pieces) {
			jsonw_key(&w, "pieces");
			jsonw_arr_begin(&w);
			for (size_t i = 0; i < n; i++) {
				const char *p = occ_tokens_piece(t, i, &len);

				jsonw_strn(&w, p ? p : "", p ? len : 0);
			}
			jsonw_arr_end(&w);
		}
		jsonw_obj_end(&w);
		jsonw_finish(&w);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (pieces) {
			const char *p = occ_tokens_piece(t, i, &len);

			printf("%d\t", ids[i]);
			print_piece(p ? p : "", p ? len : 0);
			putchar('\n');
		} else {
			printf("%s%d", i ? " " : "", ids[i]);
		}
	}
	if (!pieces)
		putchar('\n');
}

int cmd_tokenize(int argc, char **argv, const struct orcctl_global *g)
{
	enum { OPT_NO_BOS = 256, OPT_PARSE_SPECIAL };
	static const struct option opts[] = {
		{ "model", required_argument, NULL, 'm' }, { "no-bos", no_argument, NULL, OPT_NO_BOS },
		{ "parse-special", no_argument, NULL, OPT_PARSE_SPECIAL },
		{ "pieces", no_argument, NULL, 'p' }, { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	unsigned flags = OCC_TOK_ADD_SPECIAL;
	const char *model = NULL;
	bool json = g->json, pieces = false;
	occ_tokens *t;
	occ_conn *c;
	enum occ_status s;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "m:pjh", opts, NULL)) != -1) {
		switch (ch) {
		case 'm': model = optarg; break;
		case OPT_NO_BOS: flags &= ~OCC_TOK_ADD_SPECIAL; break;
		case OPT_PARSE_SPECIAL: flags |= OCC_TOK_PARSE_SPECIAL; break;
		case 'p': pieces = true; flags |= OCC_TOK_PIECES; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return ORCCTL_EXIT_OK;
		default: usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if (!model || optind + 1 != argc) {
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	if ((rc = orcctl_check_model(CMD, model)) != ORCCTL_EXIT_OK)
		return rc;
	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	s = occ_tokenize(c, model, argv[optind], strlen(argv[optind]), flags, &t);
	if (s != OCC_OK) {
		rc = orcctl_fail(CMD, c, s);
		occ_close(c);
		return rc;
	}
	print_tokens(t, json, pieces);
	occ_tokens_free(t);
	occ_close(c);
	return fflush(stdout) == 0 ? ORCCTL_EXIT_OK : ORCCTL_EXIT_FAILURE;
}
