/* cmd_status.c -- `orcctl status`: the daemon's version, backend and GPU,
 * every counter it reports (requests, tokens, cache, latency percentiles,
 * memory; see orcd-protocol(7)) and its models with their queues. */
#include "config.h"

#include <stdio.h>

#include "daemon.h"
#include "jsonw.h"

#define CMD "status"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl status [--json]\n"
		"\n"
		"Show the daemon's state: version, backend and GPU, its counters (uptime,\n"
		"connections, active and queued requests, tokens in and out, prefix-cache\n"
		"hits, evictions, latency percentiles, memory), and the resident models.\n"
		"Counters the daemon does not measure are not shown.\n"
		"\n"
		"  -j, --json   one JSON object: server, backend, gpu, counters, models\n"
		"  -h, --help   this help\n");
}

static void print_json(const occ_stats *st)
{
	struct jsonw w;
	const char *name;
	uint64_t v;

	jsonw_init(&w, stdout, false);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "server"); jsonw_str(&w, occ_stats_server(st));
	jsonw_key(&w, "backend"); jsonw_str(&w, occ_stats_backend(st));
	jsonw_key(&w, "gpu"); jsonw_str(&w, occ_stats_gpu(st));
	jsonw_key(&w, "counters");
	jsonw_obj_begin(&w);
	for (size_t i = 0; occ_stats_counter_at(st, i, &name, &v); i++) {
		jsonw_key(&w, name);
		jsonw_uint(&w, v);
	}
	jsonw_obj_end(&w);
	jsonw_key(&w, "models");
	jsonw_arr_begin(&w);
	for (size_t i = 0; i < occ_stats_n_models(st); i++)
		orcctl_json_model(&w, occ_stats_model(st, i));
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	jsonw_finish(&w);
}

static void print_text(const occ_stats *st)
{
	const char *name, *gpu = occ_stats_gpu(st);
	uint64_t v;

	printf("server:   %s\n", occ_stats_server(st));
	printf("backend:  %s%s%s\n", occ_stats_backend(st), *gpu ? ", " : "", gpu);
	for (size_t i = 0; occ_stats_counter_at(st, i, &name, &v); i++)
		printf("%-24s %llu\n", name, (unsigned long long)v);
	if (occ_stats_n_models(st) == 0)
		return;
	printf("\n%-32s %-9s %10s %7s %7s\n", "MODEL", "RESIDENT", "MEMORY", "ACTIVE", "QUEUED");
	for (size_t i = 0; i < occ_stats_n_models(st); i++) {
		const occ_model *m = occ_stats_model(st, i);
		char mem[32];

		printf("%-32s %-9s %10s %7llu %7llu\n", occ_model_name(m),
		       occ_model_get(m, OCC_MODEL_RESIDENT) ? "yes" : "no",
		       orcctl_fmt_bytes(occ_model_get(m, OCC_MODEL_MEM), mem, sizeof(mem)),
		       (unsigned long long)occ_model_get(m, OCC_MODEL_ACTIVE),
		       (unsigned long long)occ_model_get(m, OCC_MODEL_QUEUED));
	}
}

int cmd_status(int argc, char **argv, const struct orcctl_global *g)
{
	bool json;
	occ_stats *st;
	occ_conn *c;
	enum occ_status s;
	int rc;

	if ((rc = orcctl_parse_json_only(argc, argv, g, usage, &json)) >= 0)
		return rc;
	if ((rc = orcctl_connect(CMD, g, &c)) != ORCCTL_EXIT_OK)
		return rc;
	if ((s = occ_server_status(c, &st)) != OCC_OK) {
		rc = orcctl_fail(CMD, c, s);
		occ_close(c);
		return rc;
	}
	if (json)
		print_json(st);
	else
		print_text(st);
	occ_stats_free(st);
	occ_close(c);
	return fflush(stdout) == 0 ? ORCCTL_EXIT_OK : ORCCTL_EXIT_FAILURE;
}
