/* orcctl.c -- orcctl's entry point: global options and subcommand dispatch.
 * Each subcommand lives in its own cmd_<name>.c. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "orcctl.h"

const struct orcctl_cmd orcctl_cmds[] = {
	{ "generate", "generate text, through orcd (-m NAME) or from a GGUF file (--file)", cmd_generate },
	{ "chat", "talk with a model through orcd, using its chat format", cmd_chat },
	{ "tokenize", "text -> token ids, through orcd (-m NAME) or from a GGUF file (--file)", cmd_tokenize },
	{ "detokenize", "token ids -> text, through orcd (-m NAME) or from a GGUF file (--file)", cmd_detokenize },
	{ "models", "list the models orcd can serve", cmd_models },
	{ "load", "load a model in orcd and keep it resident", cmd_load },
	{ "unload", "release a resident model in orcd", cmd_unload },
	{ "status", "orcd's state, counters and resident models", cmd_status },
	{ "bench", "time to first token, tokens/s and latency under concurrent clients", cmd_bench },
	{ "inspect", "describe a GGUF file offline (no daemon needed)", cmd_inspect },

	{ NULL, NULL, NULL },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: orcctl [--socket PATH] [--json] [--quiet] COMMAND [ARGS...]\n"
		"\n"
		"Talk to orcd, the local LLM inference daemon, or work on GGUF files offline.\n"
		"\n"
		"Global options:\n"
		"  -s, --socket PATH   daemon socket (default $ORCD_SOCKET, else /run/orcd/orcd.sock)\n"
		"  -j, --json          machine-readable output\n"
		"  -q, --quiet         print only results\n"
		"  -h, --help          this help; `orcctl COMMAND --help` for a command's options\n"
		"  -V, --version       print the version\n"
		"\n"
		"Commands:\n");
	for (const struct orcctl_cmd *c = orcctl_cmds; c->name; c++)
		fprintf(out, "  %-12s %s\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct orcctl_global g = { 0 };
	int c;

	orc_log_init("orcctl", ORC_LOG_PLAIN, 6);
	g.socket_path = getenv("ORCD_SOCKET");
	/* '+': stop at the first non-option, which is the subcommand. */
	while ((c = getopt_long(argc, argv, "+s:jqhV", opts, NULL)) != -1) {
		switch (c) {
		case 's': g.socket_path = optarg; break;
		case 'j': g.json = true; break;
		case 'q': g.quiet = true; break;
		case 'h': usage(stdout); return ORCCTL_EXIT_OK;
		case 'V': printf("orcctl %s\n", PACKAGE_VERSION); return ORCCTL_EXIT_OK;
		default: usage(stderr); return ORCCTL_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return ORCCTL_EXIT_USAGE;
	}
	for (const struct orcctl_cmd *cmd = orcctl_cmds; cmd->name; cmd++) {
		if (strcmp(cmd->name, argv[optind]) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0;  /* full getopt reset for the subcommand */
			return cmd->run(sub_argc, sub_argv, &g);
		}
	}
	fprintf(stderr, "orcctl: unknown command '%s' (see orcctl --help)\n", argv[optind]);
	return ORCCTL_EXIT_USAGE;
}
