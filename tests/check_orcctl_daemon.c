/* check_orcctl_daemon.c -- orcctl's daemon-side commands, run as a process
 * against a fake server on a temporary socket that answers every request
 * with canned replies and records what it was sent: the output, the --json
 * documents, the requests built from the options, and the exit codes. */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "proto.h"
#include "testutil.h"

#define S(lit) ((struct orc_str){ (lit), (uint32_t)(sizeof(lit) - 1) })

static char sock_path[108];
static int listen_fd = -1;
static pthread_t server;

/* What the last requests carried (written by the server thread). */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	uint32_t gen_has;
	float temperature;
	uint32_t max_tokens, n_prompt_ids, n_stop;
	bool parse_special;
	int64_t keep_alive;
	uint32_t load_has;
	char prompt[64];
	char tok_text[64];             /* the last tokenize request */
	bool tok_add_special, tok_parse_special, tok_pieces;
	uint32_t detok_n;              /* the last detokenize request */
	bool detok_skip_special;
} seen;

static bool recv_msg(struct orc_frame_reader *rd, int fd, struct orc_msg *m)
{
	const uint8_t *p;
	size_t len;
	int r;

	while ((r = orc_frame_reader_read(rd, fd, NULL)) == 0)
		;
	if (r < 0)
		return false;
	orc_frame_reader_frame(rd, &p, &len);
	r = orc_proto_decode(p, len, m, NULL);
	orc_frame_reader_next(rd);
	return r == 0;
}

static void send_msg(int fd, const struct orc_msg *m)
{
	struct orc_buf b;

	orc_buf_init(&b, 0);
	if (orc_proto_encode(m, &b, NULL) == 0)
		orc_buf_flush(&b, fd);
	orc_buf_free(&b);
}

static struct orc_model_info model(const char *name, bool resident)
{
	return (struct orc_model_info){
		.name = { name, (uint32_t)strlen(name) }, .arch = S("llama"), .quant = S("F32"),
		.chat_format = S(""), .size = 1185344, .mem = resident ? 45049600 : 0,
		.n_ctx = 512, .n_vocab = 512, .n_layer = 5, .resident = resident, .keep_alive = 300,
	};
}

static void answer_generate(int fd, const struct orc_msg *q)
{
	const struct orc_msg_generate *g = &q->u.generate;
	struct orc_msg m;

	pthread_mutex_lock(&seen_lock);
	seen.gen_has = g->has;
	seen.temperature = g->temperature;
	seen.max_tokens = g->max_tokens;
	seen.n_prompt_ids = g->prompt_ids.n;
	seen.n_stop = g->stop.n;
	seen.parse_special = g->parse_special;
	snprintf(seen.prompt, sizeof(seen.prompt), "%s", g->prompt.s ? g->prompt.s : "");
	pthread_mutex_unlock(&seen_lock);
	if (strcmp(g->model.s, "busy") == 0 || strcmp(g->model.s, "nope") == 0) {
		bool busy = g->model.s[0] == 'b';

		orc_msg_error(&m, q->id, busy ? OCC_BUSY : OCC_NOT_FOUND,
			      busy ? "queue full (4 waiting)" : "no model 'nope'");
		send_msg(fd, &m);
		return;
	}
	orc_msg_init(&m, ORC_MSG_TOKEN, q->id);
	m.u.token.text = S("Hel");
	m.u.token.token = 10;
	send_msg(fd, &m);
	m.u.token.text = S("lo");
	m.u.token.token = 11;
	send_msg(fd, &m);
	orc_msg_init(&m, ORC_MSG_FINAL, q->id);
	m.u.final = (struct orc_msg_final){ .stop = ORC_WIRE_STOP_EOG, .text = S("!"),
					    .prompt_tokens = 2, .cached_tokens = 1, .gen_tokens = 2,
					    .queue_us = 1000, .prompt_us = 2000, .gen_us = 4000,
					    .ttft_us = 3000 };
	send_msg(fd, &m);
}

static void answer(int fd, const struct orc_msg *q)
{
	static int32_t ids[] = { 1, 2 };
	static struct orc_str pieces[] = { S("<s>"), S("\xe2\x96\x81Hel\tlo") };
	struct orc_model_info models[] = { model("stories260K", true), model("tiny", false) };
	struct orc_counter ctr[] = { { S("tokens_out"), 255 } };
	struct orc_msg m;

	switch (q->type) {
	case ORC_MSG_GENERATE:
		answer_generate(fd, q);
		return;
	case ORC_MSG_TOKENIZE:
		pthread_mutex_lock(&seen_lock);
		snprintf(seen.tok_text, sizeof(seen.tok_text), "%.*s", (int)q->u.tokenize.text.len,
			 q->u.tokenize.text.s ? q->u.tokenize.text.s : "");
		seen.tok_add_special = q->u.tokenize.add_special;
		seen.tok_parse_special = q->u.tokenize.parse_special;
		seen.tok_pieces = q->u.tokenize.pieces;
		pthread_mutex_unlock(&seen_lock);
		orc_msg_init(&m, ORC_MSG_TOKENS, q->id);
		m.u.tokens.ids = (struct orc_ids){ ids, 2 };
		if (q->u.tokenize.pieces) {      /* raw vocabulary pieces, as proto.h says */
			m.u.tokens.has = ORC_TOKENS_HAS_PIECES;
			m.u.tokens.pieces = (struct orc_strs){ pieces, 2 };
		}
		break;
	case ORC_MSG_DETOKENIZE:
		pthread_mutex_lock(&seen_lock);
		seen.detok_n = q->u.detokenize.ids.n;
		seen.detok_skip_special = q->u.detokenize.skip_special;
		pthread_mutex_unlock(&seen_lock);
		orc_msg_init(&m, ORC_MSG_TEXT, q->id);
		m.u.text.text = S("Hello");
		break;
	case ORC_MSG_LIST:
		for (int i = 0; i < 2; i++) {
			orc_msg_init(&m, ORC_MSG_MODEL, q->id);
			m.u.model = models[i];
			send_msg(fd, &m);
		}
		orc_msg_init(&m, ORC_MSG_LIST_END, q->id);
		m.u.list_end.count = 2;
		break;
	case ORC_MSG_LOAD:
		pthread_mutex_lock(&seen_lock);
		seen.load_has = q->u.load.has;
		seen.keep_alive = q->u.load.keep_alive;
		pthread_mutex_unlock(&seen_lock);
		orc_msg_init(&m, ORC_MSG_MODEL, q->id);
		m.u.model = models[0];
		break;
	case ORC_MSG_UNLOAD:
		orc_msg_init(&m, ORC_MSG_DONE, q->id);
		break;
	case ORC_MSG_STATUS:
		orc_msg_init(&m, ORC_MSG_STATUS_RESULT, q->id);
		m.u.status = (struct orc_msg_status_result){ .server = S("fake 9"), .backend = S("cpu"),
							     .gpu = S(""), .counters = ctr, .n_counters = 1,
							     .models = models, .n_models = 1 };
		break;
	default:
		return;
	}
	send_msg(fd, &m);
}

static void serve(int fd)
{
	struct orc_frame_reader rd;
	struct orc_msg m, w;

	orc_frame_reader_init(&rd, 0);
	if (recv_msg(&rd, fd, &m) && m.type == ORC_MSG_HELLO) {
		orc_msg_init(&w, ORC_MSG_WELCOME, 0);
		w.u.welcome = (struct orc_msg_welcome){ .version = ORC_PROTO_VERSION, .server = S("fake 9"),
							.backend = S("cpu"), .frame_max = ORC_FRAME_MAX };
		send_msg(fd, &w);
		orc_msg_clear(&m);
		while (recv_msg(&rd, fd, &m)) {
			answer(fd, &m);
			orc_msg_clear(&m);
		}
	}
	orc_msg_clear(&m);
	orc_frame_reader_free(&rd);
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;

	serve(fd);
	close(fd);
	return NULL;
}

/* One thread per connection: bench's clients are connected at once. */
static void *server_main(void *arg)
{
	pthread_t t;
	int fd;

	(void)arg;
	while ((fd = accept(listen_fd, NULL, NULL)) >= 0) {
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0) {
			close(fd);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static void setup(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sock_path, sizeof(sock_path), "/tmp/orcctl-test-%d.sock", (int)getpid());
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	unlink(sock_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(listen_fd, 0);
	ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(listen_fd, 8), 0);
	ck_assert_int_eq(pthread_create(&server, NULL, server_main, NULL), 0);
}

static void teardown(void)
{
	shutdown(listen_fd, SHUT_RDWR);
	close(listen_fd);
	pthread_join(server, NULL);
	unlink(sock_path);
}

/* Run `orcctl --socket SOCK ARGS` with `input` on stdin; stdout into out;
 * returns the exit code. */
static int orcctl_in(char *out, size_t size, const char *input, const char *args)
{
	const char *dir = getenv("ORC_BUILDDIR");
	char cmd[1024], in_path[128];
	size_t n = 0;
	FILE *p;
	int st;

	snprintf(in_path, sizeof(in_path), "/tmp/orcctl-test-%d.in", (int)getpid());
	p = fopen(in_path, "w");
	ck_assert_ptr_nonnull(p);
	fputs(input, p);
	fclose(p);
	snprintf(cmd, sizeof(cmd), "%s/client/orcctl --socket %s %s 2>/dev/null <%s",
		 dir ? dir : ".", sock_path, args, in_path);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (n + 1 < size && !feof(p))
		n += fread(out + n, 1, size - 1 - n, p);
	out[n] = '\0';
	st = pclose(p);
	unlink(in_path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int orcctl(char *out, size_t size, const char *args)
{
	return orcctl_in(out, size, "", args);
}

START_TEST(test_generate_streams)
{
	char out[4096];

	ck_assert_int_eq(orcctl(out, sizeof(out), "generate -m stories260K -t 0 -n 7 --stop x \"Once\""), 0);
	ck_assert_str_eq(out, "Hello!");      /* tokens, then the final flush; no newline off a TTY */
	pthread_mutex_lock(&seen_lock);
	ck_assert_uint_eq(seen.gen_has & (ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_TEMPERATURE |
					  ORC_GEN_HAS_MAX_TOKENS | ORC_GEN_HAS_STOP),
			  ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_TEMPERATURE | ORC_GEN_HAS_MAX_TOKENS |
			  ORC_GEN_HAS_STOP);
	ck_assert(!(seen.gen_has & (ORC_GEN_HAS_TOP_K | ORC_GEN_HAS_SEED)));  /* not given: unset */
	ck_assert(seen.temperature == 0.0f && seen.max_tokens == 7 && seen.n_stop == 1);
	ck_assert(seen.parse_special);          /* as the local mode tokenizes */
	ck_assert_str_eq(seen.prompt, "Once");
	pthread_mutex_unlock(&seen_lock);
}
END_TEST

START_TEST(test_generate_json)
{
	char out[4096];

	ck_assert_int_eq(orcctl(out, sizeof(out), "--json generate -m stories260K \"Once\""), 0);
	/* the prompt was tokenized first, and its ids went to the daemon */
	pthread_mutex_lock(&seen_lock);
	ck_assert_uint_eq(seen.gen_has & ORC_GEN_HAS_PROMPT_IDS, ORC_GEN_HAS_PROMPT_IDS);
	ck_assert_uint_eq(seen.n_prompt_ids, 2);
	pthread_mutex_unlock(&seen_lock);
	ck_assert_msg(strstr(out, "{\"prompt_ids\":[1,2],\"ids\":[10,11],\"text\":\"Hello!\","
			     "\"stop_reason\":\"eos\",\"timings\":{\"prompt_tokens\":2,"
			     "\"generated_tokens\":2,\"cached_prompt_tokens\":1,\"queue_ms\":1,\"prompt_ms\":2,\"ttft_ms\":3,"
			     "\"decode_ms\":4,\"total_ms\":7,") == out, "%s", out);
}
END_TEST

START_TEST(test_exit_codes)
{
	char out[4096];

	ck_assert_int_eq(orcctl(out, sizeof(out), "generate -m busy x"), 5);
	ck_assert_int_eq(orcctl(out, sizeof(out), "generate -m nope x"), 6);
	ck_assert_int_eq(orcctl(out, sizeof(out), "generate -m ../x x"), 2);
	ck_assert_int_eq(orcctl(out, sizeof(out), "load"), 2);
	ck_assert_int_eq(orcctl(out, sizeof(out), "--socket /nonexistent/sock status"), 3);
}
END_TEST

START_TEST(test_models_status)
{
	char out[4096];

	ck_assert_int_eq(orcctl(out, sizeof(out), "models"), 0);
	ck_assert_ptr_nonnull(strstr(out, "stories260K"));
	ck_assert_ptr_nonnull(strstr(out, "43.0 MiB"));
	ck_assert_int_eq(orcctl(out, sizeof(out), "--quiet models"), 0);
	ck_assert_str_eq(out, "stories260K\ntiny\n");
	ck_assert_int_eq(orcctl(out, sizeof(out), "models --json"), 0);
	ck_assert_ptr_nonnull(strstr(out, "[{\"name\":\"stories260K\",\"arch\":\"llama\",\"quant\":\"F32\""));
	ck_assert_int_eq(orcctl(out, sizeof(out), "status --json"), 0);
	ck_assert_msg(strstr(out, "{\"server\":\"fake 9\",\"backend\":\"cpu\",\"gpu\":\"\","
			     "\"counters\":{\"tokens_out\":255},\"models\":[{") == out, "%s", out);
}
END_TEST

START_TEST(test_load_unload_tokens)
{
	char out[4096];

	ck_assert_int_eq(orcctl(out, sizeof(out), "load --keep-alive forever stories260K"), 0);
	ck_assert_str_eq(out, "stories260K loaded (43.0 MiB)\n");
	pthread_mutex_lock(&seen_lock);
	ck_assert(seen.load_has == ORC_LOAD_HAS_KEEP_ALIVE && seen.keep_alive == -1);
	pthread_mutex_unlock(&seen_lock);
	ck_assert_int_eq(orcctl(out, sizeof(out), "load -k 5m stories260K"), 0);
	pthread_mutex_lock(&seen_lock);
	ck_assert(seen.keep_alive == 300);
	pthread_mutex_unlock(&seen_lock);
	ck_assert_int_eq(orcctl(out, sizeof(out), "unload stories260K"), 0);
	ck_assert_str_eq(out, "stories260K unloaded\n");
	ck_assert_int_eq(orcctl(out, sizeof(out), "tokenize -m stories260K Hello"), 0);
	ck_assert_str_eq(out, "1 2\n");
	ck_assert_int_eq(orcctl(out, sizeof(out), "detokenize -m stories260K 1,2"), 0);
	ck_assert_str_eq(out, "Hello");     /* the text exactly, as with --file */
	ck_assert_int_eq(orcctl(out, sizeof(out), "detokenize -m stories260K --json 1 2"), 0);
	ck_assert_str_eq(out, "{\"text\":\"Hello\"}\n");
}
END_TEST

/* The same input rules and output formats as tokenize.test checks with --file. */
START_TEST(test_tokenize_modes)
{
	char out[4096];

	/* standard input exactly as given, trailing newline included */
	ck_assert_int_eq(orcctl_in(out, sizeof(out), "Hello\n", "tokenize -m stories260K"), 0);
	ck_assert_str_eq(out, "1 2\n");
	pthread_mutex_lock(&seen_lock);
	ck_assert_str_eq(seen.tok_text, "Hello\n");
	ck_assert(seen.tok_add_special && !seen.tok_parse_special && !seen.tok_pieces);
	pthread_mutex_unlock(&seen_lock);
	ck_assert_int_eq(orcctl(out, sizeof(out), "tokenize -m stories260K --no-bos --parse-special -p Hi"), 0);
	ck_assert_str_eq(out, "1\t<s>\n2\t\xe2\x96\x81Hel\\tlo\n");
	pthread_mutex_lock(&seen_lock);
	ck_assert_str_eq(seen.tok_text, "Hi");
	ck_assert(!seen.tok_add_special && seen.tok_parse_special && seen.tok_pieces);
	pthread_mutex_unlock(&seen_lock);
	ck_assert_int_eq(orcctl(out, sizeof(out), "tokenize -m stories260K -s --json Hi"), 0);
	ck_assert_str_eq(out, "{\"ids\":[1,2],\"pieces\":[\"<s>\",\"\xe2\x96\x81Hel\\tlo\"]}\n");
	pthread_mutex_lock(&seen_lock);
	ck_assert(seen.tok_parse_special && seen.tok_pieces);
	pthread_mutex_unlock(&seen_lock);
	/* usage errors: --bos is offline only; exactly one of --file / -m */
	ck_assert_int_eq(orcctl(out, sizeof(out), "tokenize -m stories260K --bos Hi"), 2);
	ck_assert_int_eq(orcctl(out, sizeof(out), "tokenize -m stories260K -f x.gguf Hi"), 2);
	ck_assert_int_eq(orcctl(out, sizeof(out), "tokenize Hi"), 2);
	ck_assert_int_eq(orcctl(out, sizeof(out), "tokenize -m stories260K Hi there"), 2);

	/* detokenize: ids from standard input (a JSON array works), text exactly */
	ck_assert_int_eq(orcctl_in(out, sizeof(out), "[1, 2, 3]\n", "detokenize -m stories260K"), 0);
	ck_assert_str_eq(out, "Hello");
	pthread_mutex_lock(&seen_lock);
	ck_assert(seen.detok_n == 3 && !seen.detok_skip_special);
	pthread_mutex_unlock(&seen_lock);
	ck_assert_int_eq(orcctl(out, sizeof(out), "detokenize -m stories260K -s 1"), 0);
	pthread_mutex_lock(&seen_lock);
	ck_assert(seen.detok_n == 1 && seen.detok_skip_special);
	pthread_mutex_unlock(&seen_lock);
	ck_assert_int_eq(orcctl(out, sizeof(out), "detokenize -m stories260K 1 x7"), 2);
	ck_assert_int_eq(orcctl(out, sizeof(out), "detokenize -m stories260K -- -1"), 2);
}
END_TEST

START_TEST(test_chat_and_bench)
{
	char out[4096];

	/* no TTY: no prompt characters; the reply and a newline per turn */
	ck_assert_int_eq(orcctl(out, sizeof(out), "chat -m stories260K"), 0);   /* EOF at once */
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(orcctl_in(out, sizeof(out), "hi\n\n/history\n/reset\n/history\n/exit\nnot sent\n",
				   "chat -m stories260K -s \"Be kind.\""), 0);
	ck_assert_str_eq(out, "Hello!\n[system] Be kind.\n[user] hi\n[assistant] Hello!\n"
			      "[system] Be kind.\n");
	pthread_mutex_lock(&seen_lock);
	ck_assert_uint_eq(seen.gen_has & ORC_GEN_HAS_MESSAGES, ORC_GEN_HAS_MESSAGES);
	pthread_mutex_unlock(&seen_lock);
	ck_assert_int_eq(orcctl(out, sizeof(out), "bench -m stories260K -c 3 -r 2 --json"), 0);
	ck_assert_msg(strstr(out, "\"clients\":3,\"requests_ok\":6,\"requests_failed\":0,\"tokens\":12,"),
		      "%s", out);
	ck_assert_int_eq(orcctl(out, sizeof(out), "bench -m busy -c 2"), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("orcctl-daemon");
	TCase *tc = tcase_create("commands");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_generate_streams);
	tcase_add_test(tc, test_generate_json);
	tcase_add_test(tc, test_exit_codes);
	tcase_add_test(tc, test_models_status);
	tcase_add_test(tc, test_load_unload_tokens);
	tcase_add_test(tc, test_tokenize_modes);
	tcase_add_test(tc, test_chat_and_bench);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
