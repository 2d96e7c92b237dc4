/* daemon.c -- helpers of orcctl's daemon-side commands (see daemon.h). */
#include "config.h"

#include <getopt.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "jsonw.h"
#include "limits.h"
#include "proto.h"

int orcctl_exit_for(enum occ_status s)
{
	switch (s) {
	case OCC_OK:
		return ORCCTL_EXIT_OK;
	case OCC_CONNECT:
	case OCC_DISCONNECTED:
	case OCC_IO:
		return ORCCTL_EXIT_CONNECT;
	case OCC_CANCELED:
		return ORCCTL_EXIT_CANCELED;
	case OCC_BUSY:
	case OCC_TOO_MANY_REQUESTS:
	case OCC_SHUTTING_DOWN:
		return ORCCTL_EXIT_BUSY;
	case OCC_NOT_FOUND:
		return ORCCTL_EXIT_NOT_FOUND;
	case OCC_PROTOCOL:
	case OCC_UNSUPPORTED_VERSION:
	case OCC_BAD_FRAME:
	case OCC_UNKNOWN_TYPE:
		return ORCCTL_EXIT_PROTOCOL;
	case OCC_INVALID_ARGUMENT:
		return ORCCTL_EXIT_USAGE;
	default:
		return ORCCTL_EXIT_FAILURE;
	}
}

int orcctl_fail(const char *cmd, occ_conn *c, enum occ_status s)
{
	const char *detail = c ? occ_conn_error(c) : occ_last_error();

	if (detail && *detail)
		fprintf(stderr, "orcctl %s: %s (%s)\n", cmd, detail, occ_strerror(s));
	else
		fprintf(stderr, "orcctl %s: %s\n", cmd, occ_strerror(s));
	return orcctl_exit_for(s);
}

int orcctl_check_model(const char *cmd, const char *name)
{
	if (orc_proto_check_name(name, (uint32_t)strnlen(name, ORC_MODEL_NAME_MAX + 1),
				 ORC_MODEL_NAME_MAX) == 0)
		return ORCCTL_EXIT_OK;
	fprintf(stderr, "orcctl %s: invalid model name '%s' (a file stem in the daemon's models "
		"directory: no '/' or \"..\")\n", cmd, name);
	return ORCCTL_EXIT_USAGE;
}

int orcctl_connect(const char *cmd, const struct orcctl_global *g, occ_conn **ret)
{
	enum occ_status s = occ_connect(g->socket_path, ret);

	if (s == OCC_OK)
		return ORCCTL_EXIT_OK;
	return orcctl_fail(cmd, NULL, s);
}

/* Separators between ids: blanks, commas, and brackets (a JSON array). */
static bool id_sep(char ch)
{
	return ch == ',' || ch == '[' || ch == ']' || isspace((unsigned char)ch);
}

int orcctl_parse_id_list(const char *cmd, const char *s, int32_t **ret, size_t *ret_n)
{
	size_t n = 0, cap = 16;
	int32_t *ids = malloc(cap * sizeof(*ids));

	if (!ids)
		goto nomem;
	for (;;) {
		char *end;
		long v;

		while (*s && id_sep(*s))
			s++;
		if (!*s)
			break;
		errno = 0;
		v = strtol(s, &end, 10);
		if (end == s || errno == ERANGE || v < 0 || v > INT32_MAX || (*end && !id_sep(*end))) {
			size_t k = 0;

			while (s[k] && !id_sep(s[k]))
				k++;
			fprintf(stderr, "orcctl %s: '%.*s' is not a token id (a non-negative integer)\n",
				cmd, (int)(k > 64 ? 64 : k), s);
			free(ids);
			return ORCCTL_EXIT_USAGE;
		}
		if (n == ORC_PROMPT_TOKENS_MAX) {
			fprintf(stderr, "orcctl %s: more than %u token ids\n", cmd, ORC_PROMPT_TOKENS_MAX);
			free(ids);
			return ORCCTL_EXIT_USAGE;
		}
		if (n == cap) {
			int32_t *p = realloc(ids, 2 * cap * sizeof(*ids));

			if (!p) {
				free(ids);
				goto nomem;
			}
			ids = p;
			cap *= 2;
		}
		ids[n++] = (int32_t)v;
		s = end;
	}
	*ret = ids;
	*ret_n = n;
	return ORCCTL_EXIT_OK;
nomem:
	fprintf(stderr, "orcctl %s: out of memory\n", cmd);
	return ORCCTL_EXIT_FAILURE;
}

int orcctl_parse_duration(const char *s, int64_t *ret)
{
	char *end;
	long long v;
	int64_t mult = 1;

	if (strcmp(s, "forever") == 0 || strcmp(s, "-1") == 0) {
		*ret = -1;
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno == ERANGE || v < 0)
		return -EINVAL;
	if (*end == 's' || *end == '\0')
		mult = 1;
	else if (*end == 'm')
		mult = 60;
	else if (*end == 'h')
		mult = 3600;
	else if (*end == 'd')
		mult = 86400;
	else
		return -EINVAL;
	if (*end && end[1] != '\0')
		return -EINVAL;
	if (v > INT64_MAX / mult)
		return -EINVAL;
	*ret = v * mult;
	return 0;
}

const char *orcctl_fmt_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, size, "%.1f %s", v, units[u]);
	return buf;
}

/* One model as a JSON object (also used by load, show and status). */
void orcctl_json_model(struct jsonw *w, const occ_model *m)
{
	static const struct { const char *key; enum occ_model_field f; } nums[] = {
		{ "size", OCC_MODEL_SIZE }, { "mem", OCC_MODEL_MEM }, { "n_params", OCC_MODEL_N_PARAMS },
		{ "n_ctx_train", OCC_MODEL_N_CTX_TRAIN }, { "n_ctx", OCC_MODEL_N_CTX },
		{ "n_vocab", OCC_MODEL_N_VOCAB }, { "n_layer", OCC_MODEL_N_LAYER },
		{ "n_embd", OCC_MODEL_N_EMBD }, { "n_head", OCC_MODEL_N_HEAD },
		{ "n_head_kv", OCC_MODEL_N_HEAD_KV }, { "active", OCC_MODEL_ACTIVE },
		{ "queued", OCC_MODEL_QUEUED }, { "oldest_wait_us", OCC_MODEL_OLDEST_WAIT_US },
	};

	jsonw_obj_begin(w);
	jsonw_key(w, "name"); jsonw_str(w, occ_model_name(m));
	jsonw_key(w, "arch"); jsonw_str(w, occ_model_arch(m));
	jsonw_key(w, "quant"); jsonw_str(w, occ_model_quant(m));
	jsonw_key(w, "chat_format"); jsonw_str(w, occ_model_chat_format(m));
	jsonw_key(w, "resident"); jsonw_bool(w, occ_model_get(m, OCC_MODEL_RESIDENT));
	jsonw_key(w, "pinned"); jsonw_bool(w, occ_model_get(m, OCC_MODEL_PINNED));
	jsonw_key(w, "keep_alive"); jsonw_int(w, occ_model_keep_alive(m));
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		jsonw_key(w, nums[i].key);
		jsonw_uint(w, occ_model_get(m, nums[i].f));
	}
	jsonw_obj_end(w);
}

int orcctl_parse_json_only(int argc, char **argv, const struct orcctl_global *g,
			   void (*usage)(FILE *out), bool *ret_json)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int ch;

	*ret_json = g->json;
	while ((ch = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (ch == 'j') *ret_json = true;
		else if (ch == 'h') { usage(stdout); return ORCCTL_EXIT_OK; }
		else { usage(stderr); return ORCCTL_EXIT_USAGE; }
	}
	if (optind < argc) {
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	return -1;
}
