/* cmd_tokenize.c -- `orcctl tokenize`: the token ids of a text (the TEXT
 * argument, else standard input exactly as given), offline with a GGUF's
 * tokenizer (--file) or through orcd (-m NAME). Both modes print through the
 * same code: ids, `ID<TAB>PIECE` lines, or {"ids": [...], "pieces": [...]}. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
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

#define CMD "tokenize"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl tokenize (--file MODEL.gguf | -m NAME) [OPTIONS] [TEXT]\n"
		"\n"
		"Print the token ids of TEXT, separated by spaces, then a newline. Without\n"
		"TEXT, standard input is tokenized exactly as given (every byte, a trailing\n"
		"newline included).\n"
		"\n"
		"With --file the tokenizer stored in MODEL.gguf is used, without a daemon;\n"
		"with -m the daemon tokenizes with model NAME's tokenizer. By default BOS and\n"
		"EOS are added as the model says (tokenizer.ggml.add_bos_token, add_eos_token;\n"
		"SentencePiece models add BOS unless the file says otherwise), and text that\n"
		"looks like a special token (<|im_start|>, </s>, ...) is tokenized as\n"
		"ordinary text.\n"
		"\n"
		"Options:\n"
		"  -f, --file MODEL.gguf  the model or vocabulary file (offline)\n"
		"  -m, --model NAME       the model, through orcd\n"
		"  -s, --special          recognise special tokens in the text (as a chat\n"
		"      --parse-special    template's output needs)\n"
		"      --bos              start with BOS even if the model does not add it\n"
		"                         (--file only)\n"
		"      --no-bos           add neither BOS nor EOS\n"
		"  -p, --pieces           one 'ID<TAB>PIECE' line per token, PIECE being the\n"
		"                         vocabulary entry (control bytes escaped)\n"
		"  -j, --json             print {\"ids\": [...], \"pieces\": [...]}, pieces being\n"
		"                         the vocabulary entries of the ids\n"
		"  -h, --help             this help\n"
		"\n"
		"Exit status: 0 on success, 1 when the file cannot be used, the input is not\n"
		"valid UTF-8 (the message gives the byte offset) or the daemon refused, 2 for\n"
		"a bad command line, 3-7 for the daemon's errors as in `orcctl --help`.\n");
}

enum bos_mode { BOS_MODEL, BOS_FORCE, BOS_NONE };

struct tok_opts {
	struct orcctl_tok_src src;
	bool special, json, pieces;
	enum bos_mode bos;
};

/* ---- output, the same for both modes ---- */

/* The raw vocabulary piece of token i (NULL: none). */
typedef const char *(*piece_fn)(const void *ctx, const int32_t *ids, size_t i, size_t *ret_len);

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

static void print_json(const int32_t *ids, size_t n, piece_fn piece, const void *ctx)
{
	struct jsonw w;

	jsonw_init(&w, stdout, false);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "ids");
	jsonw_arr_begin(&w);
	for (size_t i = 0; i < n; i++)
		jsonw_int(&w, ids[i]);
	jsonw_arr_end(&w);
	jsonw_key(&w, "pieces");
	jsonw_arr_begin(&w);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const char *p = piece(ctx, ids, i, &len);

		if (p)
			jsonw_strn(&w, p, len);
		else
			jsonw_null(&w);
	}
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	jsonw_finish(&w);
}

static int print_tokens(const struct tok_opts *o, const int32_t *ids, size_t n,
			piece_fn piece, const void *ctx)
{
	if (o->json) {
		print_json(ids, n, piece, ctx);
	} else if (o->pieces) {
		for (size_t i = 0; i < n; i++) {
			size_t len;
			const char *p = piece(ctx, ids, i, &len);

			printf("%" PRId32 "\t", ids[i]);
			print_piece(p ? p : "", p ? len : 0);
			putchar('\n');
		}
	} else {
		for (size_t i = 0; i < n; i++)
			printf(i ? " %" PRId32 : "%" PRId32, ids[i]);
		putchar('\n');
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn(CMD ": writing standard output");
		return ORCCTL_EXIT_FAILURE;
	}
	return ORCCTL_EXIT_OK;
}

/* ---- offline, --file ---- */

static const char *file_piece(const void *ctx, const int32_t *ids, size_t i, size_t *ret_len)
{
	const char *p;

	return orc_tok_piece(ctx, ids[i], &p, ret_len) == 0 ? p : NULL;
}

/* Encode with BOS/EOS as asked; *ret_ids is malloc'ed. */
static int encode(const struct orc_tok *t, const char *text, size_t len, const struct tok_opts *o,
		  int32_t **ret_ids, size_t *ret_n)
{
	unsigned flags = (o->special ? ORC_TOK_PARSE_SPECIAL : 0) |
			 (o->bos != BOS_NONE ? ORC_TOK_ADD_SPECIAL : 0);
	struct orc_err err = { 0 };
	int32_t *ids, *grown;
	size_t n;

	if (orc_tok_encode(t, text, len, flags, &ids, &n, &err) < 0) {
		log_warnx(CMD ": %s", orc_err_msg(&err));
		return -1;
	}
	if (o->bos == BOS_FORCE && !orc_tok_add_bos(t)) {
		if (orc_tok_bos(t) < 0) {
			log_warnx(CMD ": --bos: this tokenizer has no BOS token");
			free(ids);
			return -1;
		}
		if (!(grown = realloc(ids, (n + 1) * sizeof(*ids)))) {
			free(ids);
			return -1;
		}
		ids = grown;
		memmove(ids + 1, ids, n * sizeof(*ids));
		ids[0] = orc_tok_bos(t);
		n++;
	}
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}

static int run_file(const struct tok_opts *o, const char *text, size_t len)
{
	struct orc_gguf *gg;
	struct orc_tok *t;
	int32_t *ids;
	size_t n;
	int rc = ORCCTL_EXIT_FAILURE;

	if (orcctl_open_tok(CMD, o->src.file, &gg, &t) < 0)
		return ORCCTL_EXIT_FAILURE;
	if (encode(t, text, len, o, &ids, &n) == 0) {
		rc = print_tokens(o, ids, n, file_piece, t);
		free(ids);
	}
	orc_tok_free(t);
	orc_gguf_free(gg);
	return rc;
}

/* ---- through the daemon, -m ---- */

static const char *daemon_piece(const void *ctx, const int32_t *ids, size_t i, size_t *ret_len)
{
	(void)ids;
	return occ_tokens_piece(ctx, i, ret_len);
}

static int run_daemon(const struct tok_opts *o, const struct orcctl_global *g, const char *text,
		      size_t len)
{
	unsigned flags = (o->special ? OCC_TOK_PARSE_SPECIAL : 0) |
			 (o->bos != BOS_NONE ? OCC_TOK_ADD_SPECIAL : 0) |
			 (o->pieces || o->json ? OCC_TOK_PIECES : 0);
	enum occ_status s;
	occ_tokens *t;
	occ_conn *c;
	int rc;

	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	s = occ_tokenize(c, o->src.model, text, len, flags, &t);
	if (s != OCC_OK) {
		rc = orcctl_fail(CMD, c, s);
		occ_close(c);
		return rc;
	}
	rc = print_tokens(o, occ_tokens_ids(t), occ_tokens_count(t), daemon_piece, t);
	occ_tokens_free(t);
	occ_close(c);
	return rc;
}

/* ---- the command ---- */

static int parse_opts(int argc, char **argv, struct tok_opts *o)
{
	enum { OPT_BOS = 256, OPT_NO_BOS };
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "model", required_argument, NULL, 'm' },
		{ "special", no_argument, NULL, 's' },
		{ "parse-special", no_argument, NULL, 's' },
		{ "bos", no_argument, NULL, OPT_BOS },
		{ "no-bos", no_argument, NULL, OPT_NO_BOS },
		{ "pieces", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "f:m:spjh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': o->src.file = optarg; break;
		case 'm': o->src.model = optarg; break;
		case 's': o->special = true; break;
		case OPT_BOS: o->bos = BOS_FORCE; break;
		case OPT_NO_BOS: o->bos = BOS_NONE; break;
		case 'p': o->pieces = true; break;
		case 'j': o->json = true; break;
		case 'h': usage(stdout); return -1;
		default: usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if (argc - optind > 1) {
		log_warnx(CMD ": one TEXT argument at most (quote it), got '%s' after it",
			  argv[optind + 1]);
		return ORCCTL_EXIT_USAGE;
	}
	if (o->bos == BOS_FORCE && o->src.model) {
		log_warnx(CMD ": --bos needs --file (through orcd, BOS is added as the model says)");
		return ORCCTL_EXIT_USAGE;
	}
	return orcctl_tok_src_check(CMD, &o->src);
}

int cmd_tokenize(int argc, char **argv, const struct orcctl_global *g)
{
	struct tok_opts o = { .json = g->json, .bos = BOS_MODEL };
	char *in = NULL;
	const char *text;
	size_t len;
	int rc;

	if ((rc = parse_opts(argc, argv, &o)) != ORCCTL_EXIT_OK)
		return rc < 0 ? ORCCTL_EXIT_OK : rc;
	if (optind < argc) {
		text = argv[optind];
		len = strlen(text);
	} else if ((text = in = orcctl_read_all(CMD, stdin, ORC_TOK_TEXT_MAX, &len)) == NULL) {
		return ORCCTL_EXIT_FAILURE;
	}
	rc = o.src.file ? run_file(&o, text, len) : run_daemon(&o, g, text, len);
	free(in);
	return rc;
}
