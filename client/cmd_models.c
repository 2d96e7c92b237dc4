/* cmd_models.c -- `orcctl models`: the models in the daemon's directory,
 * with architecture, weight type, size, and whether (and how much memory)
 * each is resident. */
#include "config.h"

#include <stdio.h>

#include "daemon.h"
#include "jsonw.h"

#define CMD "models"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl models [--json]\n"
		"\n"
		"List the models orcd can serve (the GGUF files in its models directory):\n"
		"name, architecture, weight type, file size, and the memory of resident ones.\n"
		"\n"
		"  -j, --json   a JSON array of objects\n"
		"  -h, --help   this help\n");
}

int cmd_models(int argc, char **argv, const struct orcctl_global *g)
{
	bool json;
	occ_model_list *l;
	occ_conn *c;
	enum occ_status s;
	int rc;

	if ((rc = orcctl_parse_json_only(argc, argv, g, usage, &json)) >= 0)
		return rc;
	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	if ((s = occ_models(c, &l)) != OCC_OK) {
		rc = orcctl_fail(CMD, c, s);
		occ_close(c);
		return rc;
	}
	if (json) {
		struct jsonw w;

		jsonw_init(&w, stdout, false);
		jsonw_arr_begin(&w);
		for (size_t i = 0; i < occ_model_list_count(l); i++)
			orcctl_json_model(&w, occ_model_list_get(l, i));
		jsonw_arr_end(&w);
		jsonw_finish(&w);
	} else {
		if (!g->quiet)
			printf("%-32s %-8s %-8s %10s %-9s %10s\n", "NAME", "ARCH", "QUANT", "SIZE",
			       "RESIDENT", "MEMORY");
		for (size_t i = 0; i < occ_model_list_count(l); i++) {
			const occ_model *m = occ_model_list_get(l, i);
			char size[32], mem[32];
			bool res = occ_model_get(m, OCC_MODEL_RESIDENT);

			if (g->quiet) {
				printf("%s\n", occ_model_name(m));
				continue;
			}
			printf("%-32s %-8s %-8s %10s %-9s %10s\n", occ_model_name(m), occ_model_arch(m),
			       occ_model_quant(m),
			       orcctl_fmt_bytes(occ_model_get(m, OCC_MODEL_SIZE), size, sizeof(size)),
			       res ? "yes" : "no",
			       res ? orcctl_fmt_bytes(occ_model_get(m, OCC_MODEL_MEM), mem, sizeof(mem)) : "-");
		}
	}
	occ_model_list_free(l);
	occ_close(c);
	return fflush(stdout) == 0 ? ORCCTL_EXIT_OK : ORCCTL_EXIT_FAILURE;
}
