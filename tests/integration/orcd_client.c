/* orcd_client.c -- a small protocol client for orcd's integration tests,
 * built on common/'s codec and framing only (independent of libocclient),
 * plus a "raw" mode that sends malformed bytes and reports what orcd did.
 *
 *   orcd-client -S SOCK gen -m MODEL [-p PROMPT] [-t TEMP] [-s SEED] [-n MAX]
 *                   [--chat] [--system FILE] [--cancel-after K] [--die-after K]
 *                   [--logprobs K] (--system: a chat with FILE as the system message)
 *       prints the generated text on stdout and "stop=NAME prompt=P gen=G"
 *       and "cached=C" (prompt tokens from the prefix cache) on stderr;
 *       exit 0 on a final, 1 on an error reply (printed as "error NAME:
 *       message"), 3 on a broken connection
 *   orcd-client -S SOCK status | list | show M | load M [KEEPALIVE_S] | unload M
 *   orcd-client -S SOCK tokenize M TEXT | detokenize M ID...
 *   orcd-client -S SOCK raw CASE    (see raw_cases below; prints the outcome)
 *   orcd-client -S SOCK rawname load|gen NAME   a request naming the model NAME
 *       as given (no client-side check); prints the outcome as raw does
 *   orcd-client -S SOCK idle SECONDS   connect, hello, wait
 *   orcd-client -S SOCK mid -m MODEL -n N -B FILE [-c CHUNK]
 *       one connection, two requests: a generation of N tokens, and after
 *       its 3rd token a generation whose prompt is FILE; prints how many
 *       tokens of the first arrived while the second was being prefilled
 *   orcd-client -S SOCK slow -m MODEL (-B FILE | -i ID) -k COUNT
 *       COUNT tokenize requests (with pieces) of FILE, or detokenize
 *       requests of ORC_PROMPT_TOKENS_MAX copies of token ID, never reading
 *       the replies; prints "dropped" when orcd closes the connection
 *   orcd-client -X 'ORCD ARGS...' CMD ...   instead of -S: start a private
 *       orcd on a socketpair (it gets --serve-fd 3), as orcctl's local mode does */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame.h"
#include "limits.h"
#include "proto.h"

static const char *sock_path;
static const char *spawn_cmd;
static pid_t spawn_pid;
static struct orc_frame_reader rd;

/* A private orcd on one end of a socketpair, its fd 3 being the other. */
static int spawn_orcd(void)
{
	char cmd[4096];
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		exit(3);
	snprintf(cmd, sizeof(cmd), "exec %s --serve-fd 3", spawn_cmd);
	spawn_pid = fork();
	if (spawn_pid < 0)
		exit(3);
	if (spawn_pid == 0) {
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	orc_frame_reader_init(&rd, ORC_FRAME_MAX);
	return sv[0];
}

static int connect_raw(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (spawn_cmd)
		return spawn_orcd();
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(sock_path) >= sizeof(sa.sun_path))
		exit(3);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "connect %s: %s\n", sock_path, strerror(errno));
		exit(3);
	}
	orc_frame_reader_init(&rd, ORC_FRAME_MAX);
	return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = send(fd, c, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			fprintf(stderr, "write: %s\n", strerror(errno));
			exit(3);
		}
		c += w;
		n -= (size_t)w;
	}
}

static void send_msg(int fd, const struct orc_msg *m)
{
	struct orc_buf b;
	struct orc_err err = { 0 };

	orc_buf_init(&b, 0);
	if (orc_proto_encode(m, &b, &err) < 0) {
		fprintf(stderr, "encode: %s\n", orc_err_msg(&err));
		exit(2);
	}
	write_all(fd, b.data + b.off, orc_buf_pending(&b));
	orc_buf_free(&b);
}

/* 0: a message; -1: the connection closed. */
static int recv_msg(int fd, struct orc_msg *m)
{
	struct orc_err err = { 0 };
	const uint8_t *p;
	size_t n;
	int r;

	do
		r = orc_frame_reader_read(&rd, fd, &err);
	while (r == 0);
	if (r < 0)
		return -1;
	orc_frame_reader_frame(&rd, &p, &n);
	r = orc_proto_decode(p, n, m, &err);
	orc_frame_reader_next(&rd);
	if (r < 0) {
		fprintf(stderr, "decode: %s\n", orc_err_msg(&err));
		exit(3);
	}
	return 0;
}

static int handshake(void)
{
	int fd = connect_raw();
	struct orc_msg m;

	orc_msg_init(&m, ORC_MSG_HELLO, 0);
	m.u.hello.version = ORC_PROTO_VERSION;
	m.u.hello.client = (struct orc_str){ "orcd-client", 11 };
	send_msg(fd, &m);
	if (recv_msg(fd, &m) < 0)
		exit(3);
	if (m.type == ORC_MSG_ERROR) {
		printf("error %s: %s\n", orc_status_name(m.u.error.code), m.u.error.message.s);
		exit(1);
	}
	if (m.type != ORC_MSG_WELCOME)
		exit(3);
	orc_msg_clear(&m);
	return fd;
}

static struct orc_str S(const char *s)
{
	return (struct orc_str){ s, (uint32_t)strlen(s) };
}

static int print_error(const struct orc_msg *m)
{
	printf("error %s: %s\n", orc_status_name(m->u.error.code), m->u.error.message.s);
	fflush(stdout);
	return 1;
}

/* ---- gen ---- */

static char *read_file(const char *path, size_t *ret_len);

static int cmd_gen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chat", no_argument, NULL, 'c' }, { "cancel-after", required_argument, NULL, 'C' },
		{ "die-after", required_argument, NULL, 'D' }, { "logprobs", required_argument, NULL, 'L' },
		{ "count", required_argument, NULL, 'k' }, { "ids", no_argument, NULL, 'I' },
		{ "prompt-logprobs", required_argument, NULL, 'P' },
		{ "system", required_argument, NULL, 'Y' }, { NULL, 0, NULL, 0 },
	};
	const char *model = NULL, *prompt = "", *system_file = NULL;
	char *system = NULL;
	size_t system_len = 0;
	long cancel_after = -1, die_after = -1, n_tok = 0;
	bool ids = false;
	struct orc_chat_msg chat[2];
	struct orc_msg m;
	int c, fd, rc = 3;

	orc_msg_init(&m, ORC_MSG_GENERATE, 1);
	while ((c = getopt_long(argc, argv, "m:p:t:s:n:", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'p': prompt = optarg; break;
		case 't': m.u.generate.has |= ORC_GEN_HAS_TEMPERATURE; m.u.generate.temperature = strtof(optarg, NULL); break;
		case 's': m.u.generate.has |= ORC_GEN_HAS_SEED; m.u.generate.seed = strtoull(optarg, NULL, 10); break;
		case 'n': m.u.generate.has |= ORC_GEN_HAS_MAX_TOKENS; m.u.generate.max_tokens = (uint32_t)atol(optarg); break;
		case 'c': m.u.generate.has |= ORC_GEN_HAS_MESSAGES; break;
		case 'C': cancel_after = atol(optarg); break;
		case 'D': die_after = atol(optarg); break;
		case 'L': m.u.generate.has |= ORC_GEN_HAS_LOGPROBS; m.u.generate.logprobs = (uint32_t)atol(optarg); break;
		case 'P': m.u.generate.has |= ORC_GEN_HAS_PROMPT_LOGPROBS; m.u.generate.prompt_logprobs = (uint32_t)atol(optarg); break;
		case 'I': ids = true; break;
		case 'Y': system_file = optarg; m.u.generate.has |= ORC_GEN_HAS_MESSAGES; break;
		default: return 2;
		}
	}
	if (!model)
		return 2;
	m.u.generate.model = S(model);
	if (m.u.generate.has & ORC_GEN_HAS_MESSAGES) {
		uint32_t n = 0;

		if (system_file) {
			system = read_file(system_file, &system_len);
			chat[n].role = ORC_ROLE_SYSTEM;
			chat[n++].content = (struct orc_str){ system, (uint32_t)system_len };
		}
		chat[n].role = ORC_ROLE_USER;
		chat[n++].content = S(prompt);
		m.u.generate.messages = chat;
		m.u.generate.n_messages = n;
	} else {
		m.u.generate.has |= ORC_GEN_HAS_PROMPT;
		m.u.generate.prompt = S(prompt);
	}
	fd = handshake();
	send_msg(fd, &m);
	if (cancel_after == 0) {
		struct orc_msg x;

		orc_msg_init(&x, ORC_MSG_CANCEL, 1);
		send_msg(fd, &x);
	}
	for (;;) {
		struct orc_msg r;

		if (recv_msg(fd, &r) < 0)
			break;
		if (r.type == ORC_MSG_PROMPT_LOGPROBS && ids) {
			for (uint32_t i = 0; i < r.u.prompt_logprobs.n; i++) {
				const struct orc_wire_logprob *e = &r.u.prompt_logprobs.entries[i];

				fprintf(stderr, "plp %u %d %.6f", r.u.prompt_logprobs.offset + i, e->token,
					e->logprob);
				for (uint32_t k = 0; k < e->n_top; k++)
					fprintf(stderr, " %d:%.6f", e->top[k].token, e->top[k].logprob);
				fprintf(stderr, "\n");
			}
		}
		if (r.type == ORC_MSG_TOKEN && ids) {
			fprintf(stderr, "tok %d", r.u.token.token);
			if (r.u.token.has & ORC_TOKEN_HAS_LOGPROB)
				fprintf(stderr, " %.6f", r.u.token.logprob);
			for (uint32_t k = 0; k < r.u.token.n_top; k++)
				fprintf(stderr, " %d:%.6f", r.u.token.top[k].token, r.u.token.top[k].logprob);
			fprintf(stderr, "\n");
		}
		if (r.type == ORC_MSG_TOKEN) {
			fwrite(r.u.token.text.s, 1, r.u.token.text.len, stdout);
			fflush(stdout);
			n_tok++;
			if (n_tok == die_after)
				_exit(4);
			if (n_tok == cancel_after) {
				struct orc_msg x;

				orc_msg_init(&x, ORC_MSG_CANCEL, 1);
				send_msg(fd, &x);
			}
		} else if (r.type == ORC_MSG_FINAL) {
			fwrite(r.u.final.text.s, 1, r.u.final.text.len, stdout);
			fprintf(stderr, "stop=%s prompt=%u gen=%u\n", orc_wire_stop_name(r.u.final.stop),
				r.u.final.prompt_tokens, r.u.final.gen_tokens);
			fprintf(stderr, "cached=%u\n", r.u.final.cached_tokens);
			rc = 0;
			orc_msg_clear(&r);
			break;
		} else if (r.type == ORC_MSG_ERROR) {
			rc = print_error(&r);
			orc_msg_clear(&r);
			break;
		}
		orc_msg_clear(&r);
	}
	close(fd);
	free(system);
	return rc;
}

/* ---- simple requests ---- */

static void print_model(const struct orc_model_info *i)
{
	printf("model %.*s arch=%s quant=%s resident=%d mem=%llu pinned=%d chat=%s active=%u queued=%u\n",
	       (int)i->name.len, i->name.s, i->arch.s, i->quant.s, i->resident,
	       (unsigned long long)i->mem, i->pinned, i->chat_format.s, i->active, i->queued);
}

/* Send `m` and print replies until the terminal one. */
static int request(struct orc_msg *m)
{
	int fd = handshake(), rc = 3;

	send_msg(fd, m);
	for (;;) {
		struct orc_msg r;
		bool end = true;

		if (recv_msg(fd, &r) < 0)
			break;
		rc = 0;
		switch (r.type) {
		case ORC_MSG_ERROR: rc = print_error(&r); break;
		case ORC_MSG_MODEL: print_model(&r.u.model); end = m->type != ORC_MSG_LIST; break;
		case ORC_MSG_LIST_END: printf("count %u\n", r.u.list_end.count); break;
		case ORC_MSG_PROGRESS:
			printf("progress %llu/%llu\n", (unsigned long long)r.u.progress.done,
			       (unsigned long long)r.u.progress.total);
			end = false;
			break;
		case ORC_MSG_DONE: printf("done\n"); break;
		case ORC_MSG_TOKENS:
			for (uint32_t i = 0; i < r.u.tokens.ids.n; i++)
				printf("%s%d", i ? " " : "", r.u.tokens.ids.v[i]);
			printf("\n");
			break;
		case ORC_MSG_TEXT: fwrite(r.u.text.text.s, 1, r.u.text.text.len, stdout); break;
		case ORC_MSG_STATUS_RESULT:
			printf("backend %s\n", r.u.status.backend.s);
			if (r.u.status.gpu.len)
				printf("gpu %.*s\n", (int)r.u.status.gpu.len, r.u.status.gpu.s);
			for (uint32_t i = 0; i < r.u.status.n_counters; i++)
				printf("%s %llu\n", r.u.status.counters[i].name.s,
				       (unsigned long long)r.u.status.counters[i].value);
			for (uint32_t i = 0; i < r.u.status.n_models; i++)
				print_model(&r.u.status.models[i]);
			break;
		default: printf("unexpected %s\n", orc_msg_type_name(r.type)); rc = 3; break;
		}
		orc_msg_clear(&r);
		if (end)
			break;
	}
	close(fd);
	return rc;
}

static int cmd_simple(int argc, char **argv)
{
	const char *cmd = argv[0];
	struct orc_msg m;
	int32_t ids[256];

	if (!strcmp(cmd, "status")) {
		orc_msg_init(&m, ORC_MSG_STATUS, 7);
	} else if (!strcmp(cmd, "list")) {
		orc_msg_init(&m, ORC_MSG_LIST, 7);
	} else if (argc < 2) {
		return 2;
	} else if (!strcmp(cmd, "show")) {
		orc_msg_init(&m, ORC_MSG_SHOW, 7);
		m.u.show.model = S(argv[1]);
	} else if (!strcmp(cmd, "load")) {
		orc_msg_init(&m, ORC_MSG_LOAD, 7);
		m.u.load.model = S(argv[1]);
		if (argc > 2) {
			m.u.load.has |= ORC_LOAD_HAS_KEEP_ALIVE;
			m.u.load.keep_alive = atoll(argv[2]);
		}
	} else if (!strcmp(cmd, "unload")) {
		orc_msg_init(&m, ORC_MSG_UNLOAD, 7);
		m.u.unload.model = S(argv[1]);
	} else if (!strcmp(cmd, "tokenize") && argc > 2) {
		orc_msg_init(&m, ORC_MSG_TOKENIZE, 7);
		m.u.tokenize.model = S(argv[1]);
		m.u.tokenize.text = S(argv[2]);
	} else if (!strcmp(cmd, "detokenize")) {
		orc_msg_init(&m, ORC_MSG_DETOKENIZE, 7);
		m.u.detokenize.model = S(argv[1]);
		for (int i = 2; i < argc && i - 2 < 256; i++)
			ids[i - 2] = atoi(argv[i]);
		m.u.detokenize.ids = (struct orc_ids){ ids, (uint32_t)(argc - 2 > 256 ? 256 : argc - 2) };
	} else {
		return 2;
	}
	return request(&m);
}

/* ---- raw: malformed input ---- */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void send_frame(int fd, const void *payload, uint32_t n)
{
	uint8_t hdr[4];

	put_be32(hdr, n);
	write_all(fd, hdr, 4);
	write_all(fd, payload, n);
}

/* A generate request whose "model" value is given as raw MessagePack. */
static size_t generate_with_model(uint8_t *out, const uint8_t *model, size_t n)
{
	static const uint8_t head[] = { 0x84, 0xa4, 't', 'y', 'p', 'e', 0x10, 0xa2, 'i', 'd', 0x05,
					0xa6, 'p', 'r', 'o', 'm', 'p', 't', 0xa0,
					0xa5, 'm', 'o', 'd', 'e', 'l' };

	memcpy(out, head, sizeof(head));
	memcpy(out + sizeof(head), model, n);
	return sizeof(head) + n;
}

/* Print the outcome: each reply's type (and error name), then "closed"
 * when orcd closed the connection, or "open" when it still answers. */
static void outcome(int fd, int replies)
{
	for (int i = 0; i < replies; i++) {
		struct orc_msg r;

		if (recv_msg(fd, &r) < 0) {
			printf("closed\n");
			return;
		}
		if (r.type == ORC_MSG_ERROR)
			printf("error %s id=%u\n", orc_status_name(r.u.error.code), r.id);
		else
			printf("%s id=%u\n", orc_msg_type_name(r.type), r.id);
		orc_msg_clear(&r);
	}
	{
		struct orc_msg st, r;

		orc_msg_init(&st, ORC_MSG_STATUS, 99);
		send_msg(fd, &st);
		if (recv_msg(fd, &r) < 0) {
			printf("closed\n");
			return;
		}
		printf(r.type == ORC_MSG_STATUS_RESULT ? "open\n" : "confused\n");
		orc_msg_clear(&r);
	}
}

static int cmd_raw(const char *name)
{
	uint8_t buf[4096];
	size_t n;
	int fd;

	if (!strcmp(name, "zero-length")) {
		fd = connect_raw();
		write_all(fd, "\0\0\0\0", 4);
	} else if (!strcmp(name, "oversized")) {
		fd = connect_raw();
		put_be32(buf, ORC_FRAME_MAX + 1);
		write_all(fd, buf, 4);
	} else if (!strcmp(name, "huge-count")) {       /* msgpack-c #1013 style */
		fd = handshake();
		send_frame(fd, "\xdd\xff\xff\xff\xff", 5);
	} else if (!strcmp(name, "deep-nesting")) {
		fd = handshake();
		memset(buf, 0x91, 40);                    /* 40 nested one-element arrays */
		buf[40] = 0x01;
		send_frame(fd, buf, 41);
	} else if (!strcmp(name, "trailing-bytes")) {
		fd = handshake();
		send_frame(fd, "\x80\x80", 2);
	} else if (!strcmp(name, "not-a-map")) {
		fd = handshake();
		send_frame(fd, "\x2a", 1);
		outcome(fd, 1);
		return 0;
	} else if (!strcmp(name, "unknown-type")) {
		fd = handshake();
		send_frame(fd, "\x82\xa4type\x3e\xa2id\x05", 11);
		outcome(fd, 1);
		return 0;
	} else if (!strcmp(name, "wrong-type")) {
		fd = handshake();
		n = generate_with_model(buf, (const uint8_t *)"\x2a", 1);   /* model: 42 */
		send_frame(fd, buf, (uint32_t)n);
		outcome(fd, 1);
		return 0;
	} else if (!strcmp(name, "dotdot")) {
		fd = handshake();
		n = generate_with_model(buf, (const uint8_t *)"\xa8../x/y/z", 9);
		send_frame(fd, buf, (uint32_t)n);
		outcome(fd, 1);
		return 0;
	} else if (!strcmp(name, "slash")) {
		fd = handshake();
		n = generate_with_model(buf, (const uint8_t *)"\xa4/etc", 5);
		send_frame(fd, buf, (uint32_t)n);
		outcome(fd, 1);
		return 0;
	} else if (!strcmp(name, "no-such-model")) {
		fd = handshake();
		n = generate_with_model(buf, (const uint8_t *)"\xa4nope", 5);
		send_frame(fd, buf, (uint32_t)n);
		outcome(fd, 1);
		return 0;
	} else if (!strcmp(name, "no-hello")) {
		fd = connect_raw();
		send_frame(fd, "\x82\xa4type\x18\xa2id\x05", 11);   /* status first */
	} else if (!strcmp(name, "bad-version")) {
		fd = connect_raw();
		send_frame(fd, "\x83\xa4type\x01\xa7version\x63\xa6" "client\xa1x", 25);
	} else if (!strcmp(name, "id-zero")) {
		fd = handshake();
		send_frame(fd, "\x82\xa4type\x18\xa2id\x00", 11);
		outcome(fd, 1);
		return 0;
	} else if (!strcmp(name, "half-frame-hang")) {   /* half a frame, then silence */
		fd = handshake();
		put_be32(buf, 100);
		write_all(fd, buf, 10);
		outcome(fd, 1);
		return 0;
	} else if (!strcmp(name, "silent")) {            /* connect, never say hello */
		fd = connect_raw();
		outcome(fd, 1);
		return 0;
	} else if (!strcmp(name, "truncated-eof")) {
		fd = handshake();
		put_be32(buf, 100);
		write_all(fd, buf, 10);
		shutdown(fd, SHUT_WR);
		outcome(fd, 1);
		return 0;
	} else {
		fprintf(stderr, "unknown raw case %s\n", name);
		return 2;
	}
	outcome(fd, 2);
	return 0;
}

/* A load (or generate) request naming a model by the raw string NAME,
 * past the client-side name check: prints orcd's outcome. */
static int cmd_rawname(const char *kind, const char *name)
{
	static const uint8_t load_head[] = { 0x83, 0xa4, 't', 'y', 'p', 'e', 0x14, 0xa2, 'i', 'd', 0x05,
					     0xa5, 'm', 'o', 'd', 'e', 'l' };
	uint8_t buf[512], model[300];
	size_t len = strlen(name), n;
	int fd;

	if (len > 255)
		return 2;
	model[0] = 0xd9;                      /* str 8 */
	model[1] = (uint8_t)len;
	memcpy(model + 2, name, len);
	if (!strcmp(kind, "gen")) {
		n = generate_with_model(buf, model, len + 2);
	} else {
		memcpy(buf, load_head, sizeof(load_head));
		memcpy(buf + sizeof(load_head), model, len + 2);
		n = sizeof(load_head) + len + 2;
	}
	fd = handshake();
	send_frame(fd, buf, (uint32_t)n);
	outcome(fd, 1);
	return 0;
}

static char *read_file(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		exit(2);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	buf[n] = '\0';
	fclose(f);
	*ret_len = (size_t)n;
	return buf;
}

static int cmd_mid(int argc, char **argv)
{
	const char *model = NULL, *file = NULL;
	long n = 100, during = 0, a_tokens = 0;
	bool b_sent = false, b_first = false, a_done = false, b_done = false;
	uint32_t b_prompt = 0;
	struct orc_msg a, b;
	size_t len = 0;
	char *text;
	int c, fd;

	while ((c = getopt(argc, argv, "m:n:B:")) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'B': file = optarg; break;
		default: return 2;
		}
	}
	if (!model || !file)
		return 2;
	text = read_file(file, &len);
	fd = handshake();
	orc_msg_init(&a, ORC_MSG_GENERATE, 1);
	a.u.generate.model = S(model);
	a.u.generate.has = ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_TEMPERATURE | ORC_GEN_HAS_MAX_TOKENS;
	a.u.generate.prompt = S("Once upon a time");
	a.u.generate.max_tokens = (uint32_t)n;
	send_msg(fd, &a);
	orc_msg_init(&b, ORC_MSG_GENERATE, 2);
	b.u.generate.model = S(model);
	b.u.generate.has = ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_TEMPERATURE | ORC_GEN_HAS_MAX_TOKENS;
	b.u.generate.prompt = (struct orc_str){ text, (uint32_t)len };
	b.u.generate.max_tokens = 1;
	while (!a_done || !b_done) {
		struct orc_msg r;

		if (recv_msg(fd, &r) < 0)
			return 3;
		if (r.type == ORC_MSG_ERROR)
			return print_error(&r);
		if (r.id == 1 && r.type == ORC_MSG_TOKEN) {
			fwrite(r.u.token.text.s, 1, r.u.token.text.len, stdout);
			if (++a_tokens == 3) {
				send_msg(fd, &b);
				b_sent = true;
			} else if (b_sent && !b_first) {
				during++;
			}
		}
		if (r.id == 2 && (r.type == ORC_MSG_TOKEN || r.type == ORC_MSG_FINAL))
			b_first = true;
		if (r.id == 2 && r.type == ORC_MSG_FINAL) {
			b_prompt = r.u.final.prompt_tokens;
			b_done = true;
		}
		if (r.id == 1 && r.type == ORC_MSG_FINAL)
			a_done = true;
		orc_msg_clear(&r);
	}
	fprintf(stderr, "during=%ld b_prompt=%u\n", during, b_prompt);
	free(text);
	close(fd);
	return 0;
}

static int cmd_slow(int argc, char **argv)
{
	const char *model = NULL, *file = NULL;
	long count = 20, id = -1;
	struct orc_msg m;
	struct orc_buf out;
	int32_t *ids = NULL;
	size_t len = 0;
	char *text = NULL, junk[65536];
	int c, fd;

	while ((c = getopt(argc, argv, "m:B:k:i:")) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'B': file = optarg; break;
		case 'k': count = atol(optarg); break;
		case 'i': id = atol(optarg); break;
		default: return 2;
		}
	}
	if (!model || (!file && id < 0))
		return 2;
	if (file) {
		text = read_file(file, &len);
	} else {
		ids = malloc(ORC_PROMPT_TOKENS_MAX * sizeof(*ids));
		if (!ids)
			return 2;
		for (uint32_t i = 0; i < ORC_PROMPT_TOKENS_MAX; i++)
			ids[i] = (int32_t)id;
	}
	fd = handshake();
	for (long i = 0; i < count; i++) {
		if (file) {
			orc_msg_init(&m, ORC_MSG_TOKENIZE, (uint32_t)(i + 1));
			m.u.tokenize.model = S(model);
			m.u.tokenize.text = (struct orc_str){ text, (uint32_t)len };
			m.u.tokenize.pieces = true;
		} else {
			orc_msg_init(&m, ORC_MSG_DETOKENIZE, (uint32_t)(i + 1));
			m.u.detokenize.model = S(model);
			m.u.detokenize.ids = (struct orc_ids){ ids, ORC_PROMPT_TOKENS_MAX };
		}
		orc_buf_init(&out, 0);
		if (orc_proto_encode(&m, &out, NULL) < 0)
			return 2;
		if (send(fd, out.data + out.off, orc_buf_pending(&out), MSG_NOSIGNAL) < 0) {
			orc_buf_free(&out);
			break;   /* orcd may already have dropped us */
		}
		orc_buf_free(&out);
	}
	free(text);
	free(ids);
	sleep(2);   /* orcd answers into a queue nobody reads */
	for (;;) {
		ssize_t r = read(fd, junk, sizeof(junk));

		if (r <= 0) {
			printf("%s\n", r == 0 || errno == ECONNRESET ? "dropped" : "error");
			break;
		}
	}
	close(fd);
	return 0;
}

static int cmd_idle(int secs)
{
	int fd = handshake();

	sleep((unsigned)secs);
	close(fd);
	return 0;
}

/* With a private orcd: it must exit 0 once we closed our end. */
static int finish(int rc)
{
	int status;

	if (!spawn_pid)
		return rc;
	if (waitpid(spawn_pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "the private orcd did not exit cleanly (status %#x)\n", status);
		return rc ? rc : 3;
	}
	return rc;
}

int main(int argc, char **argv)
{
	int c, rc;

	sock_path = getenv("ORCD_SOCKET");
	while ((c = getopt(argc, argv, "+S:X:")) != -1) {
		if (c == 'S')
			sock_path = optarg;
		else if (c == 'X')
			spawn_cmd = optarg;
		else
			return 2;
	}
	if ((!sock_path && !spawn_cmd) || optind >= argc)
		return 2;
	argc -= optind;
	argv += optind;
	optind = 1;
	if (!strcmp(argv[0], "gen"))
		return finish(cmd_gen(argc, argv));
	if (!strcmp(argv[0], "raw") && argc > 1)
		return cmd_raw(argv[1]);
	if (!strcmp(argv[0], "rawname") && argc > 2)
		return finish(cmd_rawname(argv[1], argv[2]));
	if (!strcmp(argv[0], "idle") && argc > 1)
		return cmd_idle(atoi(argv[1]));
	if (!strcmp(argv[0], "mid"))
		return cmd_mid(argc, argv);
	if (!strcmp(argv[0], "slow"))
		return cmd_slow(argc, argv);
	rc = cmd_simple(argc, argv);
	return finish(rc);
}
