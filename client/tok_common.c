/* tok_common.c -- helpers shared by orcctl's tokenize and detokenize (see
 * tok_common.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "gguf.h"
#include "log.h"
#include "orcctl.h"
#include "tok_common.h"
#include "tokenizer.h"

int orcctl_tok_src_check(const char *cmd, const struct orcctl_tok_src *src)
{
	if (!src->file == !src->model) {
		log_warnx("%s: give either --file MODEL.gguf (offline) or -m NAME (through orcd)", cmd);
		return ORCCTL_EXIT_USAGE;
	}
	return src->model ? orcctl_check_model(cmd, src->model) : ORCCTL_EXIT_OK;
}

char *orcctl_read_all(const char *cmd, FILE *in, size_t max, size_t *ret_len)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);

	while (buf) {
		size_t n;

		if (cap - len < 2) {
			char *grown = realloc(buf, cap * 2);

			if (!grown) {
				log_warnx("%s: out of memory reading standard input", cmd);
				break;
			}
			buf = grown;
			cap *= 2;
		}
		n = fread(buf + len, 1, cap - len - 1, in);
		len += n;
		if (len > max) {
			log_warnx("%s: standard input is larger than %zu bytes", cmd, max);
			break;
		}
		if (n == 0) {
			if (ferror(in)) {
				log_warn("%s: reading standard input", cmd);
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

int orcctl_open_tok(const char *cmd, const char *path, struct orc_gguf **ret_g,
		    struct orc_tok **ret_t)
{
	struct orc_err err = { 0 };
	struct orc_gguf *g;

	if (orc_gguf_open(path, &g, &err) < 0) {
		log_warnx("%s: %s: %s", cmd, path, orc_err_msg(&err));
		return -1;
	}
	if (orc_tok_new(g, ret_t, &err) < 0) {
		log_warnx("%s: %s: %s", cmd, path, orc_err_msg(&err));
		orc_gguf_free(g);
		return -1;
	}
	*ret_g = g;
	return 0;
}
