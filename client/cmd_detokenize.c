/* cmd_detokenize.c -- `orcctl detokenize`: the text of token ids (the
 * arguments, else standard input), offline with a GGUF's tokenizer (--file)
 * or through orcd (-m NAME). Both modes print the text the same way: its
 * bytes exactly, or {"text": "..."} with --json. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "gguf.h"
#include "jsonw.h"
#include "limits.h"
#include "log.h"
#include "orcctl.h"
#include "tok_common.h"
#include "tokenizer.h"

#define CMD "detokenize"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl detokenize (--file MODEL.gguf | -m NAME) [OPTIONS] [ID...]\n"
		"\n"
		"Turn token ids back into text and print the text exactly, without an added\n"
		"newline. The ids come from the arguments, or else from standard input,\n"
		"separated by spaces, commas or newlines (brackets are ignored, so a JSON\n"
		"array works too).\n"
		"\n"
		"With --file the tokenizer stored in MODEL.gguf is used, without a daemon;\n"
		"bytes that do not form valid UTF-8 come out as U+FFFD. With -m the daemon\n"
		"decodes with model NAME's tokenizer and its bytes are written as they are\n"
		"(ids may end inside a UTF-8 character). Special tokens (BOS, <|im_end|>,\n"
		"...) are printed as their text unless --skip-special is given.\n"
		"\n"
		"Options:\n"
		"  -f, --file MODEL.gguf  the model or vocabulary file (offline)\n"
		"  -m, --model NAME       the model, through orcd\n"
		"  -s, --skip-special     leave control tokens out of the text\n"
		"  -j, --json             print {\"text\": \"...\"} (invalid UTF-8 as U+FFFD)\n"
		"  -h, --help             this help\n"
		"\n"
		"Exit status: 0 on success, 1 when the file cannot be used, an id is out of\n"
		"the vocabulary's range or the daemon refused, 2 for a bad command line or\n"
		"an id that is not a number, 3-7 for the daemon's errors as in `orcctl --help`.\n");
}

/* ---- output, the same for both modes ---- */

static int print_text(const char *text, size_t len, bool json)
{
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
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn(CMD ": writing standard output");
		return ORCCTL_EXIT_FAILURE;
	}
	return ORCCTL_EXIT_OK;
}

/* ---- the ids ---- */

/* The ids from the arguments (joined), else from standard input. */
static int collect_ids(int argc, char **argv, int32_t **ret, size_t *ret_n)
{
	size_t len = 1;
	char *all;
	int rc;

	if (argc == 0) {
		if (!(all = orcctl_read_all(CMD, stdin, ORC_TOK_TEXT_MAX, &len)))
			return ORCCTL_EXIT_FAILURE;
		if (memchr(all, '\0', len)) {
			log_warnx(CMD ": standard input holds a NUL byte");
			free(all);
			return ORCCTL_EXIT_USAGE;
		}
	} else {
		for (int i = 0; i < argc; i++)
			len += strlen(argv[i]) + 1;
		if (!(all = malloc(len))) {
			log_warnx(CMD ": out of memory");
			return ORCCTL_EXIT_FAILURE;
		}
		all[0] = '\0';
		for (int i = 0; i < argc; i++) {
			strcat(all, argv[i]);
			strcat(all, " ");
		}
	}
	rc = orcctl_parse_id_list(CMD, all, ret, ret_n);
	free(all);
	return rc;
}

/* ---- the two modes ---- */

static int run_file(const char *path, const int32_t *ids, size_t n, bool skip, bool json)
{
	struct orc_err err = { 0 };
	struct orc_gguf *gg;
	struct orc_tok *t;
	char *text = NULL;
	size_t len;
	int rc = ORCCTL_EXIT_FAILURE;

	if (orcctl_open_tok(CMD, path, &gg, &t) < 0)
		return ORCCTL_EXIT_FAILURE;
	if (orc_tok_decode(t, ids, n, skip ? ORC_DETOK_SKIP_SPECIAL : 0, &text, &len, &err) < 0)
		log_warnx(CMD ": %s", orc_err_msg(&err));
	else
		rc = print_text(text, len, json);
	free(text);
	orc_tok_free(t);
	orc_gguf_free(gg);
	return rc;
}

static int run_daemon(const char *model, const struct orcctl_global *g, const int32_t *ids,
		      size_t n, bool skip, bool json)
{
	enum occ_status s;
	occ_conn *c;
	char *text;
	size_t len;
	int rc;

	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	s = occ_detokenize(c, model, ids, n, skip ? OCC_DETOK_SKIP_SPECIAL : 0, &text, &len);
	if (s != OCC_OK) {
		rc = orcctl_fail(CMD, c, s);
		occ_close(c);
		return rc;
	}
	rc = print_text(text, len, json);
	occ_free(text);
	occ_close(c);
	return rc;
}

int cmd_detokenize(int argc, char **argv, const struct orcctl_global *g)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "model", required_argument, NULL, 'm' },
		{ "skip-special", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct orcctl_tok_src src = { 0 };
	bool skip = false, json = g->json;
	int32_t *ids = NULL;
	size_t n = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "f:m:sjh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': src.file = optarg; break;
		case 'm': src.model = optarg; break;
		case 's': skip = true; break;
		case 'j': json = true; break;
		case 'h': usage(stdout); return ORCCTL_EXIT_OK;
		default: usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if ((rc = orcctl_tok_src_check(CMD, &src)) != ORCCTL_EXIT_OK)
		return rc;
	if ((rc = collect_ids(argc - optind, argv + optind, &ids, &n)) != ORCCTL_EXIT_OK)
		return rc;
	rc = src.file ? run_file(src.file, ids, n, skip, json)
		      : run_daemon(src.model, g, ids, n, skip, json);
	free(ids);
	return rc;
}
