/* check_occlient.c -- libocclient against a scripted fake server: a thread
 * on the other end of a socketpair that speaks the protocol with common/'s
 * codec. Handshake, streaming, interleaved requests, errors, cancel,
 * disconnect, the one-reply calls, and a hostile server. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "occlient.h"
#include "proto.h"
#include "testutil.h"

#define S(lit) ((struct orc_str){ (lit), (uint32_t)(sizeof(lit) - 1) })

/* ---- the fake server ---- */
struct fake {
	int fd;
	void (*script)(struct fake *f);
	pthread_t thread;
	struct orc_frame_reader rd;
	int failures;                  /* checks that failed inside the thread */
	char why[256];
};

#define FAKE_CHECK(f, cond)                                                     \
	do {                                                                    \
		if (!(cond) && (f)->failures++ == 0)                            \
			snprintf((f)->why, sizeof((f)->why), "%s:%d: %s", __FILE__, \
				 __LINE__, #cond);                              \
	} while (0)

/* Read one message; false at EOF or on a bad frame. */
static bool fake_recv(struct fake *f, struct orc_msg *m)
{
	const uint8_t *p;
	size_t len;
	int r;

	while ((r = orc_frame_reader_read(&f->rd, f->fd, NULL)) == 0)
		;
	if (r < 0)
		return false;
	orc_frame_reader_frame(&f->rd, &p, &len);
	r = orc_proto_decode(p, len, m, NULL);
	orc_frame_reader_next(&f->rd);
	return r == 0;
}

static void fake_send(struct fake *f, const struct orc_msg *m)
{
	struct orc_buf b;

	orc_buf_init(&b, 0);
	FAKE_CHECK(f, orc_proto_encode(m, &b, NULL) == 0);
	FAKE_CHECK(f, orc_buf_flush(&b, f->fd) == 0);
	orc_buf_free(&b);
}

static void fake_send_raw(struct fake *f, const void *p, size_t n)
{
	FAKE_CHECK(f, write(f->fd, p, n) == (ssize_t)n);
}

static void fake_welcome(struct fake *f)
{
	struct orc_str backends[] = { S("cpu") };
	struct orc_msg m;

	FAKE_CHECK(f, fake_recv(f, &m));
	FAKE_CHECK(f, m.type == ORC_MSG_HELLO && m.u.hello.version == ORC_PROTO_VERSION);
	FAKE_CHECK(f, m.u.hello.client.s && strncmp(m.u.hello.client.s, "libocclient", 11) == 0);
	orc_msg_clear(&m);
	orc_msg_init(&m, ORC_MSG_WELCOME, 0);
	m.u.welcome = (struct orc_msg_welcome){
		.version = ORC_PROTO_VERSION, .server = S("fake 1.2.3"), .backend = S("cpu"),
		.backends = { backends, 1 }, .frame_max = ORC_FRAME_MAX, .inflight_max = 8,
		.max_tokens = 512, .ctx_max = 2048, .logprobs_max = 20, .stop_max = 16,
	};
	fake_send(f, &m);
}

static void send_token(struct fake *f, uint32_t id, const char *text, int32_t tok)
{
	struct orc_msg m;

	orc_msg_init(&m, ORC_MSG_TOKEN, id);
	m.u.token.text = (struct orc_str){ text, (uint32_t)strlen(text) };
	m.u.token.token = tok;
	fake_send(f, &m);
}

static void send_final(struct fake *f, uint32_t id, uint32_t stop, uint32_t n)
{
	struct orc_msg m;

	orc_msg_init(&m, ORC_MSG_FINAL, id);
	m.u.final = (struct orc_msg_final){ .stop = stop, .prompt_tokens = 3, .cached_tokens = 1,
					    .gen_tokens = n, .queue_us = 10, .prompt_us = 20,
					    .gen_us = 30, .ttft_us = 40 };
	fake_send(f, &m);
}

static void send_error(struct fake *f, uint32_t id, enum occ_status code, const char *text)
{
	struct orc_msg m;

	orc_msg_error(&m, id, code, text);
	fake_send(f, &m);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	f->script(f);
	close(f->fd);
	return NULL;
}

/* Start a fake server running `script`; returns the client's end. */
static int fake_start(struct fake *f, void (*script)(struct fake *f))
{
	int sv[2];

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->fd = sv[1];
	f->script = script;
	orc_frame_reader_init(&f->rd, 0);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
	return sv[0];
}

static void fake_join(struct fake *f)
{
	pthread_join(f->thread, NULL);
	orc_frame_reader_free(&f->rd);
	ck_assert_msg(f->failures == 0, "fake server: %s", f->why);
}

static occ_conn *connect_fake(struct fake *f, void (*script)(struct fake *f))
{
	occ_conn *c;
	enum occ_status s = occ_connect_fd(fake_start(f, script), &c);

	ck_assert_msg(s == OCC_OK, "connect: %s (%s)", occ_status_name(s), occ_last_error());
	return c;
}

/* ---- handshake ---- */
static void script_idle(struct fake *f)
{
	struct orc_msg m;

	fake_welcome(f);
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

START_TEST(test_handshake)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_idle);

	ck_assert_str_eq(occ_server_version(c), "fake 1.2.3");
	ck_assert_str_eq(occ_server_backend(c), "cpu");
	ck_assert_uint_eq(occ_server_max_tokens(c), 512);
	ck_assert_int_ge(occ_conn_fd(c), 0);
	occ_close(c);
	fake_join(&f);
}
END_TEST

static void script_refuse(struct fake *f)
{
	struct orc_msg m;

	FAKE_CHECK(f, fake_recv(f, &m));
	orc_msg_clear(&m);
	send_error(f, 0, OCC_UNSUPPORTED_VERSION, "protocol 1 only");
}

START_TEST(test_handshake_refused)
{
	struct fake f;
	occ_conn *c = (occ_conn *)1;

	ck_assert_int_eq(occ_connect_fd(fake_start(&f, script_refuse), &c), OCC_UNSUPPORTED_VERSION);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(occ_last_error(), "protocol 1 only"));
	fake_join(&f);
}
END_TEST

static void script_hangup(struct fake *f)
{
	struct orc_msg m;

	FAKE_CHECK(f, fake_recv(f, &m));
	orc_msg_clear(&m);
}

START_TEST(test_handshake_hangup_and_bad_socket)
{
	struct fake f;
	occ_conn *c;
	char path[108];

	ck_assert_int_eq(occ_connect_fd(fake_start(&f, script_hangup), &c), OCC_DISCONNECTED);
	fake_join(&f);
	ck_assert_int_eq(occ_connect_fd(-1, &c), OCC_INVALID_ARGUMENT);
	snprintf(path, sizeof(path), "/tmp/occ-none-%d/sock", (int)getpid());
	ck_assert_int_eq(occ_connect(path, &c), OCC_CONNECT);
	ck_assert_ptr_nonnull(strstr(occ_last_error(), path));
	/* $ORCD_SOCKET is used when no path is given */
	setenv("ORCD_SOCKET", path, 1);
	ck_assert_int_eq(occ_connect(NULL, &c), OCC_CONNECT);
	ck_assert_ptr_nonnull(strstr(occ_last_error(), path));
	unsetenv("ORCD_SOCKET");
}
END_TEST

/* A real listening socket: occ_connect() by path, and by $ORCD_SOCKET. */
static int listen_fd;

static void *accept_main(void *arg)
{
	struct fake *f = arg;

	f->fd = accept(listen_fd, NULL, NULL);
	if (f->fd >= 0) {
		f->script(f);
		close(f->fd);
	} else {
		f->failures++;
	}
	return NULL;
}

START_TEST(test_connect_path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fake f;
	occ_conn *c;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/tmp/occ-test-%d.sock", (int)getpid());
	unlink(sa.sun_path);
	listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(listen_fd, 0);
	ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(listen_fd, 2), 0);
	for (int round = 0; round < 2; round++) {
		memset(&f, 0, sizeof(f));
		f.script = script_idle;
		orc_frame_reader_init(&f.rd, 0);
		ck_assert_int_eq(pthread_create(&f.thread, NULL, accept_main, &f), 0);
		if (round == 0) {
			ck_assert_int_eq(occ_connect(sa.sun_path, &c), OCC_OK);
		} else {
			setenv("ORCD_SOCKET", sa.sun_path, 1);
			ck_assert_int_eq(occ_connect(NULL, &c), OCC_OK);
			unsetenv("ORCD_SOCKET");
		}
		ck_assert_str_eq(occ_server_version(c), "fake 1.2.3");
		occ_close(c);
		fake_join(&f);
	}
	close(listen_fd);
	unlink(sa.sun_path);
}
END_TEST

/* ---- streaming ---- */
static void script_stream(struct fake *f)
{
	struct orc_top top[] = { { 72, -0.1f }, { 74, -2.5f } };
	struct orc_wire_logprob pl[] = { { 5, -1.25f, top, 2 }, { 6, -0.5f, NULL, 0 } };
	struct orc_msg m, g;

	fake_welcome(f);
	FAKE_CHECK(f, fake_recv(f, &g));
	FAKE_CHECK(f, g.type == ORC_MSG_GENERATE && g.id != 0);
	FAKE_CHECK(f, strcmp(g.u.generate.model.s, "stories260K") == 0);
	FAKE_CHECK(f, strcmp(g.u.generate.prompt.s, "Once") == 0);
	FAKE_CHECK(f, g.u.generate.has == (ORC_GEN_HAS_PROMPT | ORC_GEN_HAS_TEMPERATURE |
					   ORC_GEN_HAS_MAX_TOKENS | ORC_GEN_HAS_STOP |
					   ORC_GEN_HAS_LOGPROBS | ORC_GEN_HAS_PROMPT_LOGPROBS |
					   ORC_GEN_HAS_SEED));
	FAKE_CHECK(f, g.u.generate.temperature == 0.0f && g.u.generate.max_tokens == 5);
	FAKE_CHECK(f, g.u.generate.seed == 1234 && g.u.generate.logprobs == 2);
	FAKE_CHECK(f, g.u.generate.stop.n == 1 && strcmp(g.u.generate.stop.v[0].s, "\n") == 0);
	FAKE_CHECK(f, g.u.generate.add_special && !g.u.generate.parse_special);

	orc_msg_init(&m, ORC_MSG_PROMPT_LOGPROBS, g.id);
	m.u.prompt_logprobs = (struct orc_msg_prompt_logprobs){ .offset = 1, .entries = pl, .n = 2 };
	fake_send(f, &m);
	orc_msg_init(&m, ORC_MSG_TOKEN, g.id);
	m.u.token = (struct orc_msg_token){ .text = S("Hel"), .token = 72, .logprob = -0.1f,
					    .top = top, .n_top = 2,
					    .has = ORC_TOKEN_HAS_LOGPROB | ORC_TOKEN_HAS_TOP };
	fake_send(f, &m);
	send_token(f, g.id, "", 73);           /* a held-back partial character */
	send_token(f, g.id, "lo \xc3\xa9", 74);
	orc_msg_init(&m, ORC_MSG_FINAL, g.id);
	m.u.final = (struct orc_msg_final){ .stop = ORC_WIRE_STOP_LENGTH, .text = S("!"),
					    .prompt_tokens = 3, .cached_tokens = 1, .gen_tokens = 3,
					    .queue_us = 10, .prompt_us = 20, .gen_us = 30, .ttft_us = 40 };
	fake_send(f, &m);
	orc_msg_clear(&g);
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

static occ_gen_req *stream_req(void)
{
	occ_gen_req *r = occ_gen_req_new("stories260K");

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(occ_gen_req_prompt(r, "Once", 4), OCC_OK);
	ck_assert_int_eq(occ_gen_req_temperature(r, 0.0f), OCC_OK);
	ck_assert_int_eq(occ_gen_req_max_tokens(r, 5), OCC_OK);
	ck_assert_int_eq(occ_gen_req_add_stop(r, "\n"), OCC_OK);
	ck_assert_int_eq(occ_gen_req_logprobs(r, 2), OCC_OK);
	ck_assert_int_eq(occ_gen_req_prompt_logprobs(r, 2), OCC_OK);
	ck_assert_int_eq(occ_gen_req_seed(r, 1234), OCC_OK);
	return r;
}

START_TEST(test_stream_iterator)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_stream);
	occ_gen_req *r = stream_req();
	const occ_token *t;
	occ_gen *g;
	int32_t id;
	float lp;
	size_t len;
	const char *text;

	ck_assert_int_eq(occ_gen_start(c, r, &g), OCC_OK);
	ck_assert_int_eq(occ_gen_next(g, -1, &t), OCC_OK);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(occ_token_id(t), 72);
	text = occ_token_text(t, &len);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(text, "Hel", 3);
	ck_assert(occ_token_logprob(t, &lp) && lp == -0.1f);
	ck_assert_uint_eq(occ_token_n_top(t), 2);
	ck_assert(occ_token_top(t, 1, &id, &lp) && id == 74 && lp == -2.5f);
	ck_assert(!occ_token_top(t, 2, &id, &lp));
	ck_assert_int_eq(occ_gen_next(g, -1, &t), OCC_OK);
	ck_assert_int_eq(occ_token_id(t), 73);
	occ_token_text(t, &len);
	ck_assert_uint_eq(len, 0);
	ck_assert(!occ_token_logprob(t, &lp));
	ck_assert_int_eq(occ_gen_next(g, -1, &t), OCC_OK);
	ck_assert_int_eq(occ_token_id(t), 74);
	ck_assert_int_eq(occ_gen_next(g, -1, &t), OCC_OK);
	ck_assert_ptr_null(t);                          /* finished */
	ck_assert(occ_gen_finished(g));
	ck_assert_int_eq(occ_gen_next(g, -1, &t), OCC_OK);   /* and stays finished */
	ck_assert_ptr_null(t);

	ck_assert_str_eq(occ_gen_text(g, &len), "Hello \xc3\xa9!");
	ck_assert_uint_eq(occ_gen_n_tokens(g), 3);
	ck_assert_int_eq(occ_gen_stop(g), OCC_STOP_LENGTH);
	ck_assert_str_eq(occ_stop_name(occ_gen_stop(g)), "length");
	ck_assert_uint_eq(occ_gen_prompt_tokens(g), 3);
	ck_assert_uint_eq(occ_gen_cached_tokens(g), 1);
	ck_assert_uint_eq(occ_gen_gen_tokens(g), 3);
	ck_assert_uint_eq(occ_gen_time_us(g, OCC_TIME_QUEUE), 10);
	ck_assert_uint_eq(occ_gen_time_us(g, OCC_TIME_PROMPT), 20);
	ck_assert_uint_eq(occ_gen_time_us(g, OCC_TIME_GEN), 30);
	ck_assert_uint_eq(occ_gen_time_us(g, OCC_TIME_TTFT), 40);
	ck_assert_uint_eq(occ_gen_n_prompt_logprobs(g), 3);
	ck_assert_ptr_null(occ_gen_prompt_logprob(g, 0));
	t = occ_gen_prompt_logprob(g, 1);
	ck_assert(t && occ_token_id(t) == 5 && occ_token_logprob(t, &lp) && lp == -1.25f);
	ck_assert(occ_token_top(t, 0, &id, &lp) && id == 72);
	t = occ_gen_prompt_logprob(g, 2);
	ck_assert(t && occ_token_id(t) == 6 && occ_token_n_top(t) == 0);
	occ_gen_free(g);
	occ_gen_req_free(r);
	occ_close(c);
	fake_join(&f);
}
END_TEST

struct collect {
	char text[64];
	size_t len;
	int calls, cancel_at;
};

static int collect_fn(void *user, const occ_token *tok)
{
	struct collect *k = user;
	size_t n;
	const char *t = occ_token_text(tok, &n);

	memcpy(k->text + k->len, t, n);
	k->len += n;
	return ++k->calls == k->cancel_at;
}

START_TEST(test_stream_callback)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_stream);
	occ_gen_req *r = stream_req();
	struct collect k = { .cancel_at = -1 };
	occ_gen *g;

	ck_assert_int_eq(occ_generate(c, r, collect_fn, &k, &g), OCC_OK);
	ck_assert_int_eq(k.calls, 3);
	ck_assert_mem_eq(k.text, "Hello \xc3\xa9", k.len);
	ck_assert_int_eq(occ_gen_stop(g), OCC_STOP_LENGTH);
	occ_gen_free(g);
	occ_gen_req_free(r);
	occ_close(c);
	fake_join(&f);
}
END_TEST

/* Two generations in flight on one connection, events interleaved. */
static void script_two(struct fake *f)
{
	struct orc_msg a, b, m;

	fake_welcome(f);
	FAKE_CHECK(f, fake_recv(f, &a));
	FAKE_CHECK(f, fake_recv(f, &b));
	FAKE_CHECK(f, a.id != b.id);
	send_token(f, b.id, "B1", 2);
	send_token(f, a.id, "A1", 1);
	send_token(f, b.id, "B2", 2);
	send_final(f, b.id, ORC_WIRE_STOP_EOG, 2);
	send_token(f, a.id, "A2", 1);
	send_final(f, a.id, ORC_WIRE_STOP_STRING, 2);
	orc_msg_clear(&a);
	orc_msg_clear(&b);
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

START_TEST(test_two_in_flight)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_two);
	occ_gen_req *r = occ_gen_req_new("m");
	const occ_token *t;
	occ_gen *a, *b;

	ck_assert_int_eq(occ_gen_req_prompt_ids(r, (const int32_t[]){ 1, 2 }, 2), OCC_OK);
	ck_assert_int_eq(occ_gen_start(c, r, &a), OCC_OK);
	ck_assert_int_eq(occ_gen_start(c, r, &b), OCC_OK);
	ck_assert_uint_ne(occ_gen_id(a), occ_gen_id(b));
	while (occ_gen_next(a, -1, &t) == OCC_OK && t)
		ck_assert_int_eq(occ_token_id(t), 1);
	ck_assert_str_eq(occ_gen_text(a, NULL), "A1A2");
	ck_assert_int_eq(occ_gen_stop(a), OCC_STOP_STRING);
	/* b's events arrived while a was read, and were kept for b */
	ck_assert(occ_gen_finished(b));
	while (occ_gen_next(b, 0, &t) == OCC_OK && t)
		ck_assert_int_eq(occ_token_id(t), 2);
	ck_assert_str_eq(occ_gen_text(b, NULL), "B1B2");
	ck_assert_int_eq(occ_gen_stop(b), OCC_STOP_EOG);
	occ_gen_free(a);
	occ_gen_free(b);
	occ_gen_req_free(r);
	occ_close(c);
	fake_join(&f);
}
END_TEST

/* ---- errors, cancel, disconnect ---- */
static void script_errors(struct fake *f)
{
	struct orc_msg m;

	fake_welcome(f);
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_GENERATE);
	send_error(f, m.id, OCC_BUSY, "queue of stories260K full (256 waiting)");
	orc_msg_clear(&m);
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_TOKENIZE);
	send_error(f, m.id, OCC_NOT_FOUND, "no model 'nope' in /models");
	orc_msg_clear(&m);
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_SHOW);
	send_error(f, m.id, 77, "a code from the future");
	orc_msg_clear(&m);
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

START_TEST(test_errors)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_errors);
	occ_gen_req *r = occ_gen_req_new("stories260K");
	occ_tokens *t;
	occ_model *m;
	occ_gen *g = (occ_gen *)1;

	ck_assert_int_eq(occ_gen_req_prompt(r, "", 0), OCC_OK);
	ck_assert_int_eq(occ_generate(c, r, NULL, NULL, &g), OCC_BUSY);
	ck_assert_ptr_null(g);
	ck_assert_ptr_nonnull(strstr(occ_conn_error(c), "BUSY: queue of stories260K full"));
	ck_assert_int_eq(occ_tokenize(c, "nope", "x", 1, 0, &t), OCC_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(occ_conn_error(c), "no model 'nope'"));
	/* a code this library does not know yet is passed through */
	ck_assert_int_eq(occ_show(c, "x", &m), 77);
	ck_assert_str_eq(occ_status_name(77), "UNKNOWN");
	ck_assert_str_eq(occ_strerror(OCC_BUSY), "the model's request queue is full");
	ck_assert_str_eq(occ_status_name(OCC_CONTEXT_OVERFLOW), "CONTEXT_OVERFLOW");
	occ_gen_req_free(r);
	occ_close(c);
	fake_join(&f);
}
END_TEST

static void script_cancel(struct fake *f)
{
	struct orc_msg g, m;

	fake_welcome(f);
	FAKE_CHECK(f, fake_recv(f, &g));
	send_token(f, g.id, "a", 1);
	FAKE_CHECK(f, fake_recv(f, &m));
	FAKE_CHECK(f, m.type == ORC_MSG_CANCEL && m.id == g.id);
	orc_msg_clear(&m);
	send_final(f, g.id, ORC_WIRE_STOP_CANCEL, 1);
	orc_msg_clear(&g);
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

START_TEST(test_cancel_from_callback)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_cancel);
	occ_gen_req *r = occ_gen_req_new("m");
	struct collect k = { .cancel_at = 1 };
	occ_gen *g;

	ck_assert_int_eq(occ_gen_req_prompt(r, "x", 1), OCC_OK);
	ck_assert_int_eq(occ_generate(c, r, collect_fn, &k, &g), OCC_OK);
	ck_assert_int_eq(k.calls, 1);
	ck_assert_int_eq(occ_gen_stop(g), OCC_STOP_CANCEL);
	occ_gen_free(g);
	occ_gen_req_free(r);
	occ_close(c);
	fake_join(&f);
}
END_TEST

static void script_disconnect(struct fake *f)
{
	struct orc_msg g;

	fake_welcome(f);
	FAKE_CHECK(f, fake_recv(f, &g));
	send_token(f, g.id, "a", 1);
	orc_msg_clear(&g);
}

START_TEST(test_disconnect_mid_stream)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_disconnect);
	occ_gen_req *r = occ_gen_req_new("m");
	const occ_token *t;
	occ_tokens *tk;
	occ_gen *g;

	ck_assert_int_eq(occ_gen_req_prompt(r, "x", 1), OCC_OK);
	ck_assert_int_eq(occ_gen_start(c, r, &g), OCC_OK);
	ck_assert_int_eq(occ_gen_next(g, -1, &t), OCC_OK);
	ck_assert_int_eq(occ_token_id(t), 1);
	ck_assert_int_eq(occ_gen_next(g, -1, &t), OCC_DISCONNECTED);
	ck_assert(!occ_gen_finished(g));
	ck_assert_int_eq(occ_tokenize(c, "m", "x", 1, 0, &tk), OCC_DISCONNECTED);
	occ_gen_free(g);
	occ_gen_req_free(r);
	occ_close(c);
	fake_join(&f);
}
END_TEST

/* Freeing an unfinished generation cancels it and drops its late events;
 * the connection keeps working. */
static void script_free_mid_stream(struct fake *f)
{
	struct orc_msg g, m;
	int32_t ids[] = { 9 };

	fake_welcome(f);
	FAKE_CHECK(f, fake_recv(f, &g));
	send_token(f, g.id, "a", 1);
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_CANCEL && m.id == g.id);
	orc_msg_clear(&m);
	send_token(f, g.id, "late", 2);       /* still in the pipe when the client moved on */
	send_final(f, g.id, ORC_WIRE_STOP_CANCEL, 2);
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_TOKENIZE);
	{
		struct orc_msg t;

		orc_msg_init(&t, ORC_MSG_TOKENS, m.id);
		t.u.tokens.ids = (struct orc_ids){ ids, 1 };
		fake_send(f, &t);
	}
	orc_msg_clear(&m);
	orc_msg_clear(&g);
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

START_TEST(test_free_mid_stream)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_free_mid_stream);
	occ_gen_req *r = occ_gen_req_new("m");
	const occ_token *t;
	occ_tokens *tk;
	occ_gen *g;

	ck_assert_int_eq(occ_gen_req_prompt(r, "x", 1), OCC_OK);
	ck_assert_int_eq(occ_gen_start(c, r, &g), OCC_OK);
	ck_assert_int_eq(occ_gen_next(g, -1, &t), OCC_OK);
	occ_gen_free(g);
	ck_assert_int_eq(occ_tokenize(c, "m", "x", 1, 0, &tk), OCC_OK);
	ck_assert_uint_eq(occ_tokens_count(tk), 1);
	ck_assert_int_eq(occ_tokens_ids(tk)[0], 9);
	occ_tokens_free(tk);
	occ_gen_req_free(r);
	occ_close(c);
	fake_join(&f);
}
END_TEST

START_TEST(test_timeout_and_close_with_live_gen)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_idle);
	occ_gen_req *r = occ_gen_req_new("m");
	const occ_token *t;
	occ_gen *g;

	ck_assert_int_eq(occ_gen_req_prompt(r, "x", 1), OCC_OK);
	ck_assert_int_eq(occ_gen_start(c, r, &g), OCC_OK);
	ck_assert_int_eq(occ_gen_next(g, 0, &t), OCC_TIMEOUT);
	ck_assert_int_eq(occ_gen_next(g, 20, &t), OCC_TIMEOUT);
	occ_close(c);                          /* the generation outlives its connection */
	ck_assert_int_eq(occ_gen_next(g, -1, &t), OCC_DISCONNECTED);
	ck_assert_int_eq(occ_cancel(g), OCC_OK);
	occ_gen_free(g);
	occ_gen_req_free(r);
	fake_join(&f);
}
END_TEST

/* A server that sends garbage is a protocol error, not a crash. */
static void script_garbage(struct fake *f)
{
	struct orc_msg m;

	fake_welcome(f);
	FAKE_CHECK(f, fake_recv(f, &m));
	orc_msg_clear(&m);
	fake_send_raw(f, "\0\0\0\5\xdd\xff\xff\xff\xff", 9);   /* msgpack-c #1013 */
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

static void script_huge_frame(struct fake *f)
{
	struct orc_msg m;

	fake_welcome(f);
	FAKE_CHECK(f, fake_recv(f, &m));
	orc_msg_clear(&m);
	fake_send_raw(f, "\xff\xff\xff\xff", 4);
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

static void script_request_from_server(struct fake *f)
{
	struct orc_msg m;

	fake_welcome(f);
	FAKE_CHECK(f, fake_recv(f, &m));
	orc_msg_clear(&m);
	orc_msg_init(&m, ORC_MSG_LIST, 5);
	fake_send(f, &m);
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

START_TEST(test_hostile_server)
{
	void (*scripts[])(struct fake *) = { script_garbage, script_huge_frame,
					     script_request_from_server };

	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		struct fake f;
		occ_conn *c = connect_fake(&f, scripts[i]);
		occ_stats *st;

		ck_assert_int_eq(occ_server_status(c, &st), OCC_PROTOCOL);
		ck_assert_ptr_null(st);
		ck_assert_int_eq(occ_server_status(c, &st), OCC_PROTOCOL);   /* the connection is dead */
		occ_close(c);
		fake_join(&f);
	}
}
END_TEST

/* ---- one-reply requests ---- */
static struct orc_model_info fake_model(const char *name, bool resident)
{
	return (struct orc_model_info){
		.name = { name, (uint32_t)strlen(name) }, .arch = S("llama"), .quant = S("F32"),
		.chat_format = S(""), .size = 1130000, .mem = resident ? 2000000 : 0,
		.n_params = 260000, .n_ctx_train = 512, .n_ctx = resident ? 512 : 0,
		.n_vocab = 512, .n_layer = 5, .n_embd = 64, .n_head = 8, .n_head_kv = 4,
		.resident = resident, .keep_alive = resident ? -1 : 0,
	};
}

static void script_calls(struct fake *f)
{
	struct orc_str pieces[] = { S("<s>"), S("\xe2\x96\x81Hi") };
	int32_t ids[] = { 1, 3 };
	struct orc_counter ctr[] = { { S("tokens_out"), 255 }, { S("requests_total"), 2 } };
	struct orc_model_info models[] = { fake_model("stories260K", true), fake_model("tiny", false) };
	struct orc_msg m, r;

	fake_welcome(f);
	/* tokenize */
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_TOKENIZE);
	FAKE_CHECK(f, strcmp(m.u.tokenize.text.s, "Hi") == 0 && m.u.tokenize.pieces);
	FAKE_CHECK(f, m.u.tokenize.add_special && !m.u.tokenize.parse_special);
	orc_msg_init(&r, ORC_MSG_TOKENS, m.id);
	r.u.tokens = (struct orc_msg_tokens){ .has = ORC_TOKENS_HAS_PIECES, .ids = { ids, 2 },
					      .pieces = { pieces, 2 } };
	fake_send(f, &r);
	orc_msg_clear(&m);
	/* detokenize */
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_DETOKENIZE);
	FAKE_CHECK(f, m.u.detokenize.ids.n == 2 && m.u.detokenize.ids.v[1] == 3);
	FAKE_CHECK(f, m.u.detokenize.skip_special);
	orc_msg_init(&r, ORC_MSG_TEXT, m.id);
	r.u.text.text = S("Hi\xe2");
	fake_send(f, &r);
	orc_msg_clear(&m);
	/* list */
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_LIST);
	for (int i = 0; i < 2; i++) {
		orc_msg_init(&r, ORC_MSG_MODEL, m.id);
		r.u.model = models[i];
		fake_send(f, &r);
	}
	orc_msg_init(&r, ORC_MSG_LIST_END, m.id);
	r.u.list_end.count = 2;
	fake_send(f, &r);
	orc_msg_clear(&m);
	/* load with progress */
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_LOAD);
	FAKE_CHECK(f, (m.u.load.has & ORC_LOAD_HAS_KEEP_ALIVE) && m.u.load.keep_alive == -1);
	for (uint64_t done = 0; done <= 100; done += 50) {
		orc_msg_init(&r, ORC_MSG_PROGRESS, m.id);
		r.u.progress.done = done;
		r.u.progress.total = 100;
		fake_send(f, &r);
	}
	orc_msg_init(&r, ORC_MSG_MODEL, m.id);
	r.u.model = models[1];
	r.u.model.resident = true;
	fake_send(f, &r);
	orc_msg_clear(&m);
	/* unload */
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_UNLOAD);
	FAKE_CHECK(f, strcmp(m.u.unload.model.s, "tiny") == 0);
	orc_msg_init(&r, ORC_MSG_DONE, m.id);
	fake_send(f, &r);
	orc_msg_clear(&m);
	/* show */
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_SHOW);
	orc_msg_init(&r, ORC_MSG_MODEL, m.id);
	r.u.model = models[0];
	fake_send(f, &r);
	orc_msg_clear(&m);
	/* status */
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_STATUS);
	orc_msg_init(&r, ORC_MSG_STATUS_RESULT, m.id);
	r.u.status = (struct orc_msg_status_result){ .server = S("fake"), .backend = S("cpu"),
						     .gpu = S(""), .counters = ctr, .n_counters = 2,
						     .models = models, .n_models = 2 };
	fake_send(f, &r);
	orc_msg_clear(&m);
	/* a reply of the wrong kind */
	FAKE_CHECK(f, fake_recv(f, &m) && m.type == ORC_MSG_UNLOAD);
	orc_msg_init(&r, ORC_MSG_LIST_END, m.id);
	fake_send(f, &r);
	orc_msg_clear(&m);
	while (fake_recv(f, &m))
		orc_msg_clear(&m);
}

struct progress_log {
	uint64_t done[8];
	int n;
};

static void on_progress(void *user, uint64_t done, uint64_t total)
{
	struct progress_log *p = user;

	ck_assert_uint_eq(total, 100);
	if (p->n < 8)
		p->done[p->n++] = done;
}

START_TEST(test_calls)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_calls);
	struct progress_log pl = { 0 };
	const occ_model *cm;
	occ_model_list *l;
	occ_tokens *t;
	occ_model *m;
	occ_stats *st;
	const char *name;
	char *text;
	size_t len;
	uint64_t v;

	ck_assert_int_eq(occ_tokenize(c, "stories260K", "Hi", 2, OCC_TOK_ADD_SPECIAL | OCC_TOK_PIECES, &t),
			 OCC_OK);
	ck_assert_uint_eq(occ_tokens_count(t), 2);
	ck_assert_int_eq(occ_tokens_ids(t)[1], 3);
	ck_assert_str_eq(occ_tokens_piece(t, 1, &len), "\xe2\x96\x81Hi");
	ck_assert_uint_eq(len, 5);
	ck_assert_ptr_null(occ_tokens_piece(t, 2, &len));
	occ_tokens_free(t);

	ck_assert_int_eq(occ_detokenize(c, "stories260K", (const int32_t[]){ 1, 3 }, 2,
					OCC_DETOK_SKIP_SPECIAL, &text, &len), OCC_OK);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(text, "Hi\xe2", 4);     /* NUL-terminated too */
	occ_free(text);

	ck_assert_int_eq(occ_models(c, &l), OCC_OK);
	ck_assert_uint_eq(occ_model_list_count(l), 2);
	cm = occ_model_list_get(l, 0);
	ck_assert_str_eq(occ_model_name(cm), "stories260K");
	ck_assert_str_eq(occ_model_arch(cm), "llama");
	ck_assert_str_eq(occ_model_quant(cm), "F32");
	ck_assert_uint_eq(occ_model_get(cm, OCC_MODEL_RESIDENT), 1);
	ck_assert_uint_eq(occ_model_get(cm, OCC_MODEL_N_LAYER), 5);
	ck_assert_int_eq(occ_model_keep_alive(cm), -1);
	ck_assert_str_eq(occ_model_name(occ_model_list_get(l, 1)), "tiny");
	ck_assert_ptr_null(occ_model_list_get(l, 2));
	occ_model_list_free(l);

	ck_assert_int_eq(occ_load(c, "tiny", OCC_KEEP_ALIVE_FOREVER, on_progress, &pl, &m), OCC_OK);
	ck_assert_int_eq(pl.n, 3);
	ck_assert(pl.done[0] == 0 && pl.done[1] == 50 && pl.done[2] == 100);
	ck_assert_str_eq(occ_model_name(m), "tiny");
	ck_assert_uint_eq(occ_model_get(m, OCC_MODEL_RESIDENT), 1);
	occ_model_free(m);

	ck_assert_int_eq(occ_unload(c, "tiny"), OCC_OK);
	ck_assert_int_eq(occ_show(c, "stories260K", &m), OCC_OK);
	ck_assert_uint_eq(occ_model_get(m, OCC_MODEL_SIZE), 1130000);
	ck_assert_uint_eq(occ_model_get(m, OCC_MODEL_N_HEAD_KV), 4);
	occ_model_free(m);

	ck_assert_int_eq(occ_server_status(c, &st), OCC_OK);
	ck_assert_str_eq(occ_stats_server(st), "fake");
	ck_assert_str_eq(occ_stats_backend(st), "cpu");
	ck_assert_str_eq(occ_stats_gpu(st), "");
	ck_assert(occ_stats_counter(st, "tokens_out", &v) && v == 255);
	ck_assert(!occ_stats_counter(st, "evictions", &v));
	ck_assert_uint_eq(occ_stats_n_counters(st), 2);
	ck_assert(occ_stats_counter_at(st, 1, &name, &v) && strcmp(name, "requests_total") == 0 && v == 2);
	ck_assert_uint_eq(occ_stats_n_models(st), 2);
	ck_assert_str_eq(occ_model_name(occ_stats_model(st, 1)), "tiny");
	occ_stats_free(st);

	ck_assert_int_eq(occ_unload(c, "x"), OCC_PROTOCOL);     /* list_end answering unload */
	occ_close(c);
	fake_join(&f);
}
END_TEST

/* Arguments are checked before anything is sent. */
START_TEST(test_argument_checks)
{
	struct fake f;
	occ_conn *c = connect_fake(&f, script_idle);
	occ_gen_req *r;
	occ_tokens *t;
	occ_gen *g;
	int i;

	ck_assert_ptr_null(occ_gen_req_new("../etc/passwd"));
	ck_assert_ptr_null(occ_gen_req_new(""));
	r = occ_gen_req_new("m");
	ck_assert_int_eq(occ_gen_start(c, r, &g), OCC_INVALID_ARGUMENT);   /* no prompt */
	ck_assert_int_eq(occ_gen_req_temperature(r, -1.0f), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_gen_req_top_p(r, 1.5f), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_gen_req_repeat_penalty(r, 0.0f), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_gen_req_repeat_last_n(r, -2), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_gen_req_max_tokens(r, 0), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_gen_req_logprobs(r, 21), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_gen_req_add_stop(r, ""), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_gen_req_add_message(r, "robot", "hi"), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_gen_req_prompt_ids(r, (const int32_t[]){ -1 }, 1), OCC_INVALID_ARGUMENT);
	for (i = 0; i < 16; i++)
		ck_assert_int_eq(occ_gen_req_add_stop(r, "s"), OCC_OK);
	ck_assert_int_eq(occ_gen_req_add_stop(r, "s"), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_gen_req_add_message(r, "user", "hi"), OCC_OK);
	ck_assert_int_eq(occ_tokenize(c, "a/b", "x", 1, 0, &t), OCC_INVALID_ARGUMENT);
	ck_assert_int_eq(occ_unload(c, ".."), OCC_INVALID_ARGUMENT);
	occ_gen_req_free(r);
	occ_close(c);
	fake_join(&f);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("occlient");
	TCase *tc = tcase_create("client");

	tcase_add_test(tc, test_handshake);
	tcase_add_test(tc, test_handshake_refused);
	tcase_add_test(tc, test_handshake_hangup_and_bad_socket);
	tcase_add_test(tc, test_connect_path);
	tcase_add_test(tc, test_stream_iterator);
	tcase_add_test(tc, test_stream_callback);
	tcase_add_test(tc, test_two_in_flight);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_cancel_from_callback);
	tcase_add_test(tc, test_disconnect_mid_stream);
	tcase_add_test(tc, test_free_mid_stream);
	tcase_add_test(tc, test_timeout_and_close_with_live_gen);
	tcase_add_test(tc, test_hostile_server);
	tcase_add_test(tc, test_calls);
	tcase_add_test(tc, test_argument_checks);
	suite_add_tcase(s, tc);
	return orc_test_run(s);
}
