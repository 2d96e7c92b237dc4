/* example.c -- the smallest useful libocclient program: connect to orcd,
 * stream a completion to stdout, then print why it stopped and how fast.
 * Usage: example MODEL [PROMPT]   (socket: $ORCD_SOCKET or the default) */
#include <stdio.h>
#include <string.h>

#include <occlient.h>

static int on_token(void *user, const occ_token *tok)
{
	size_t len;
	const char *text = occ_token_text(tok, &len);

	(void)user;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	return 0;   /* nonzero would cancel */
}

int main(int argc, char **argv)
{
	const char *prompt = argc > 2 ? argv[2] : "Once upon a time";
	occ_conn *c;
	occ_gen_req *req;
	occ_gen *gen;
	enum occ_status s;

	if (argc < 2) {
		fprintf(stderr, "usage: %s MODEL [PROMPT]\n", argv[0]);
		return 2;
	}
	if ((s = occ_connect(NULL, &c)) != OCC_OK) {
		fprintf(stderr, "connect: %s (%s)\n", occ_strerror(s), occ_last_error());
		return 3;
	}
	req = occ_gen_req_new(argv[1]);
	if (!req || occ_gen_req_prompt(req, prompt, strlen(prompt)) != OCC_OK ||
	    occ_gen_req_max_tokens(req, 64) != OCC_OK) {
		fprintf(stderr, "bad request\n");
		occ_gen_req_free(req);
		occ_close(c);
		return 2;
	}
	s = occ_generate(c, req, on_token, NULL, &gen);
	if (s == OCC_OK) {
		double gen_s = occ_gen_time_us(gen, OCC_TIME_GEN) / 1e6;

		printf("\n[%s, %u tokens, %.1f tokens/s]\n", occ_stop_name(occ_gen_stop(gen)),
		       occ_gen_gen_tokens(gen), gen_s > 0 ? occ_gen_gen_tokens(gen) / gen_s : 0.0);
		occ_gen_free(gen);
	} else {
		fprintf(stderr, "generate: %s: %s\n", occ_status_name(s), occ_conn_error(c));
	}
	occ_gen_req_free(req);
	occ_close(c);
	return s == OCC_OK ? 0 : 1;
}
