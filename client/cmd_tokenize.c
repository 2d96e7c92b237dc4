/* cmd_tokenize.c -- `orcctl tokenize` (standard input -> token ids) and
 * `orcctl detokenize` (ids -> text), offline on a GGUF's tokenizer with
 * --file. Both are thin wrappers over orc_tok_encode()/orc_tok_decode(), so
 * the same commands can later ask the daemon instead. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "jsonw.h"
#include "limits.h"
#include "log.h"
#include "orcctl.h"
#include "tokenizer.h"

static void tokenize_usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl tokenize --file MODEL.gguf [--special] [--bos | --no-bos] [--json]\n"
		"\n"
		"Tokenize standard input exactly as given (every byte, a trailing newline\n"
		"included) with the tokenizer stored in MODEL.gguf, and print the token ids\n"
		"separated by spaces, then a newline.\n"
		"\n"
		"By default BOS and EOS are added as the file says (tokenizer.ggml.add_bos_token,\n"
		"add_eos_token; SentencePiece models add BOS unless the file says otherwise),\n"
		"and text that looks like a special token (<|im_start|>, </s>, ...) is\n"
		"tokenized as ordinary text.\n"
		"\n"
		"Options:\n"
		"  -f, --file MODEL.gguf  the model or vocabulary file (required: asking the\n"
		"                         daemon is not available yet)\n"
		"  -s, --special          recognise special tokens in the text (as a chat\n"
		"                         template's output needs)\n"
		"      --bos              start with BOS even if the file does not add it\n"
		"      --no-bos           add neither BOS nor EOS\n"
		"  -j, --json             print {\"ids\": [...], \"pieces\": [...]}, pieces being\n"
		"                         the vocabulary entries of the ids\n"
		"  -h, --help             this help\n"
		"\n"
		"Exit status: 0 on success, 1 when the file cannot be used or the input is\n"
		"not valid UTF-8 (the message gives the byte offset), 2 for a bad command line.\n");
}

static void detokenize_usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl detokenize --file MODEL.gguf [--skip-special] [ID...]\n"
		"\n"
		"Turn token ids back into text with the tokenizer stored in MODEL.gguf and\n"
		"print the text exactly, without an added newline. The ids come from the\n"
		"arguments, or else from standard input, separated by spaces, commas or\n"
		"newlines (brackets are ignored, so a JSON array works too).\n"
		"Special tokens (BOS, <|im_end|>, ...) are printed as their text unless\n"
		"--skip-special is given. Bytes that do not form valid UTF-8 come out as\n"
		"U+FFFD.\n"
		"\n"
		"Options:\n"
		"  -f, --file MODEL.gguf  the model or vocabulary file (required)\n"
		"      --skip-special     leave control tokens out of the text\n"
		"  -h, --help             this help\n"
		"\n"
		"Exit status: 0 on success, 1 when the file cannot be used or an id is out of\n"
		"the vocabulary's range, 2 for a bad command line or an id that is not a number.\n");
}

/* ---- shared ---- */

static int open_tok(const char *cmd, const char *path, struct orc_gguf **ret_g,
		    struct orc_tok **ret_t)
{
	struct orc_err err = { 0 };

	if (orc_gguf_open(path, ret_g, &err) < 0) {
		log_warnx("%s: %s: %s", cmd, path, orc_err_msg(&err));
		return -1;
	}
	if (orc_tok_new(*ret_g, ret_t, &err) < 0) {
		log_warnx("%s: %s: %s", cmd, path, orc_err_msg(&err));
		orc_gguf_free(*ret_g);
		return -1;
	}
	return 0;
}

/* All of a stream, as bytes (NUL-terminated, the NUL not counted); NULL,
 * with a message, on error or past `max` bytes. */
static char *read_all(FILE *in, size_t max, size_t *ret_len)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);

	while (buf) {
		size_t n;
		if (cap - len < 2) {
			char *grown = realloc(buf, cap * 2);
			if (!grown) {
				log_warnx("out of memory reading standard input");
				break;
			}
			buf = grown;
			cap *= 2;
		}
		n = fread(buf + len, 1, cap - len - 1, in);
		len += n;
		if (len > max) {
			log_warnx("standard input is larger than %zu bytes", max);
			break;
		}
		if (n == 0) {
			if (ferror(in)) {
				log_warn("reading standard input");
				break;
			}
			buf[len] = '\0';
			*ret_len = len;
			return buf;
		}
	}
	free(buf);
	return NULL;
}

/* ---- tokenize ---- */

enum bos_mode { BOS_FILE, BOS_FORCE, BOS_NONE };

static int print_ids(const struct orc_tok *t, const int32_t *ids, size_t n, bool json)
{
	if (json) {
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
			const char *p;
			size_t len;
			if (orc_tok_piece(t, ids[i], &p, &len) == 0)
				jsonw_strn(&w, p, len);
			else
				jsonw_null(&w);
		}
		jsonw_arr_end(&w);
		jsonw_obj_end(&w);
		jsonw_finish(&w);
	} else {
		for (size_t i = 0; i < n; i++)
			printf(i ? " %" PRId32 : "%" PRId32, ids[i]);
		putchar('\n');
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warn("writing standard output");
		return -1;
	}
	return 0;
}

/* Encode with BOS/EOS as asked; *ret_ids is malloc'ed. */
static int encode(const struct orc_tok *t, const char *text, size_t len, bool special,
		  enum bos_mode bos, int32_t **ret_ids, size_t *ret_n)
{
	unsigned flags = (special ? ORC_TOK_PARSE_SPECIAL : 0) | (bos != BOS_NONE ? ORC_TOK_ADD_SPECIAL : 0);
	struct orc_err err = { 0 };
	int32_t *ids, *grown;
	size_t n;

	if (orc_tok_encode(t, text, len, flags, &ids, &n, &err) < 0) {
		log_warnx("tokenize: %s", orc_err_msg(&err));
		return -1;
	}
	if (bos == BOS_FORCE && !orc_tok_add_bos(t)) {
		if (orc_tok_bos(t) < 0) {
			log_warnx("tokenize: --bos: this tokenizer has no BOS token");
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

int orcctl_cmd_tokenize(int argc, char **argv, const struct orcctl_global *g)
{
	enum { OPT_BOS = 256, OPT_NO_BOS };
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "special", no_argument, NULL, 's' },
		{ "bos", no_argument, NULL, OPT_BOS },
		{ "no-bos", no_argument, NULL, OPT_NO_BOS },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool special = false, json = g->json;
	enum bos_mode bos = BOS_FILE;
	struct orc_gguf *gg;
	struct orc_tok *t;
	int32_t *ids;
	size_t len, n;
	char *text;
	int c, rc = ORCCTL_EXIT_FAILURE;

	while ((c = getopt_long(argc, argv, "f:sjh", opts, NULL)) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case 's': special = true; break;
		case OPT_BOS: bos = BOS_FORCE; break;
		case OPT_NO_BOS: bos = BOS_NONE; break;
		case 'j': json = true; break;
		case 'h': tokenize_usage(stdout); return ORCCTL_EXIT_OK;
		default: tokenize_usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_warnx("tokenize: unexpected argument '%s' (the text comes from standard input)",
			  argv[optind]);
		return ORCCTL_EXIT_USAGE;
	}
	if (!path) {
		log_warnx("tokenize: --file MODEL.gguf is required (the daemon cannot tokenize yet)");
		return ORCCTL_EXIT_USAGE;
	}
	if (open_tok("tokenize", path, &gg, &t) < 0)
		return ORCCTL_EXIT_FAILURE;
	text = read_all(stdin, ORC_TOK_TEXT_MAX, &len);
	if (text && encode(t, text, len, special, bos, &ids, &n) == 0) {
		if (print_ids(t, ids, n, json) == 0)
			rc = ORCCTL_EXIT_OK;
		free(ids);
	}
	free(text);
	orc_tok_free(t);
	orc_gguf_free(gg);
	return rc;
}

/* ---- detokenize ---- */

struct id_list {
	int32_t *v;
	size_t n, cap;
};

/* Parse ids separated by spaces, commas, newlines or brackets. */
static int parse_ids(const char *s, struct id_list *ids)
{
	while (*s) {
		char *end;
		long long v;
		int32_t *grown;

		if (strchr(" \t\r\n,[]", *s)) {
			s++;
			continue;
		}
		errno = 0;
		v = strtoll(s, &end, 10);
		if (end == s || errno || v < INT32_MIN || v > INT32_MAX ||
		    (*end && !strchr(" \t\r\n,[]", *end))) {
			size_t k = strcspn(s, " \t\r\n,[]");
			log_warnx("detokenize: '%.*s' is not a token id", (int)(k > 64 ? 64 : k), s);
			return -1;
		}
		if (ids->n == ids->cap) {
			ids->cap = ids->cap ? ids->cap * 2 : 256;
			if (!(grown = realloc(ids->v, ids->cap * sizeof(*grown))))
				return -1;
			ids->v = grown;
		}
		ids->v[ids->n++] = (int32_t)v;
		s = end;
	}
	return 0;
}

int orcctl_cmd_detokenize(int argc, char **argv, const struct orcctl_global *g)
{
	enum { OPT_SKIP = 256 };
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "skip-special", no_argument, NULL, OPT_SKIP },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct id_list ids = { 0 };
	struct orc_err err = { 0 };
	const char *path = NULL;
	unsigned flags = 0;
	struct orc_gguf *gg;
	struct orc_tok *t;
	char *text = NULL;
	size_t len;
	int c, rc = ORCCTL_EXIT_FAILURE;

	(void)g;
	while ((c = getopt_long(argc, argv, "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case OPT_SKIP: flags |= ORC_DETOK_SKIP_SPECIAL; break;
		case 'h': detokenize_usage(stdout); return ORCCTL_EXIT_OK;
		default: detokenize_usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if (!path) {
		log_warnx("detokenize: --file MODEL.gguf is required (the daemon cannot detokenize yet)");
		return ORCCTL_EXIT_USAGE;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++)
			if (parse_ids(argv[i], &ids) < 0)
				goto usage;
	} else {
		char *in = read_all(stdin, ORC_TOK_TEXT_MAX, &len);
		if (!in)
			return ORCCTL_EXIT_FAILURE;
		if (memchr(in, '\0', len)) {
			log_warnx("detokenize: standard input holds a NUL byte");
			free(in);
			goto usage;
		}
		if (parse_ids(in, &ids) < 0) {
			free(in);
			goto usage;
		}
		free(in);
	}
	if (open_tok("detokenize", path, &gg, &t) < 0) {
		free(ids.v);
		return ORCCTL_EXIT_FAILURE;
	}
	if (orc_tok_decode(t, ids.v, ids.n, flags, &text, &len, &err) < 0) {
		log_warnx("detokenize: %s", orc_err_msg(&err));
	} else if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
		log_warn("writing standard output");
	} else {
		rc = ORCCTL_EXIT_OK;
	}
	free(text);
	free(ids.v);
	orc_tok_free(t);
	orc_gguf_free(gg);
	return rc;
usage:
	free(ids.v);
	return ORCCTL_EXIT_USAGE;
}
