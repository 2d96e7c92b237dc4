/* check_proto_frame.c -- frames and the MessagePack prescan of common/:
 * partial reads, zero and oversized lengths, EOF, write-queue caps, and
 * hostile MessagePack (huge declared counts, deep nesting, truncation).
 * Linked into check_proto. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "limits.h"
#include "prescan.h"
#include "testutil.h"

Suite *proto_frame_suite(void);

/* ---- reader ---- */

START_TEST(test_reader_byte_by_byte)
{
	static const uint8_t in[] = { 0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'z' };
	struct orc_frame_reader r;
	const uint8_t *p;
	size_t len, used, frames = 0;

	orc_frame_reader_init(&r, 0);
	ck_assert_uint_eq(r.max, ORC_FRAME_MAX);
	for (size_t i = 0; i < sizeof(in); i++) {
		int e = orc_frame_reader_feed(&r, in + i, 1, &used, NULL);

		ck_assert_uint_eq(used, 1);
		ck_assert_int_ge(e, 0);
		ck_assert(orc_frame_reader_partial(&r) == (e == 0));
		if (e == 1) {
			orc_frame_reader_frame(&r, &p, &len);
			if (frames++ == 0) {
				ck_assert_uint_eq(len, 3);
				ck_assert_mem_eq(p, "abc", 3);
			} else {
				ck_assert_uint_eq(len, 1);
				ck_assert_int_eq(p[0], 'z');
			}
			orc_frame_reader_next(&r);
		}
	}
	ck_assert_uint_eq(frames, 2);
	ck_assert(!orc_frame_reader_partial(&r));
	orc_frame_reader_free(&r);
}
END_TEST

START_TEST(test_reader_stops_at_frame_end)
{
	static const uint8_t in[] = { 0, 0, 0, 2, 'h', 'i', 0, 0, 0, 2, 'y', 'o', 0, 0 };
	struct orc_frame_reader r;
	const uint8_t *p;
	size_t len, used, off = 0;

	orc_frame_reader_init(&r, 16);
	ck_assert_int_eq(orc_frame_reader_feed(&r, in, sizeof(in), &used, NULL), 1);
	ck_assert_uint_eq(used, 6);        /* the rest is not consumed */
	/* feeding again before next() takes nothing */
	ck_assert_int_eq(orc_frame_reader_feed(&r, in + 6, 4, &len, NULL), 1);
	ck_assert_uint_eq(len, 0);
	orc_frame_reader_next(&r);
	off = used;
	ck_assert_int_eq(orc_frame_reader_feed(&r, in + off, sizeof(in) - off, &used, NULL), 1);
	ck_assert_uint_eq(used, 6);
	orc_frame_reader_frame(&r, &p, &len);
	ck_assert_uint_eq(len, 2);
	ck_assert_mem_eq(p, "yo", 2);
	orc_frame_reader_next(&r);
	off += used;
	ck_assert_int_eq(orc_frame_reader_feed(&r, in + off, sizeof(in) - off, &used, NULL), 0);
	ck_assert(orc_frame_reader_partial(&r));   /* half a length */
	orc_frame_reader_free(&r);
}
END_TEST

START_TEST(test_reader_bad_lengths)
{
	static const uint8_t zero[] = { 0, 0, 0, 0 };
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t over[] = { 0x00, 0x10, 0x00, 0x01 };  /* ORC_FRAME_MAX + 1 */
	static const uint8_t at_max[] = { 0x00, 0x10, 0x00, 0x00 };
	struct orc_frame_reader r;
	struct orc_err err = { 0 };
	size_t used;

	orc_frame_reader_init(&r, 0);
	ck_assert_int_eq(orc_frame_reader_feed(&r, zero, 4, &used, &err), -EBADMSG);
	orc_frame_reader_free(&r);

	orc_frame_reader_init(&r, 0);
	ck_assert_int_eq(orc_frame_reader_feed(&r, huge, 4, &used, &err), -E2BIG);
	ck_assert_ptr_null(r.buf);          /* nothing allocated for the claim */
	ck_assert_ptr_nonnull(strstr(orc_err_msg(&err), "4294967295"));
	orc_frame_reader_free(&r);

	orc_frame_reader_init(&r, 0);
	ck_assert_int_eq(orc_frame_reader_feed(&r, over, 4, &used, &err), -E2BIG);
	orc_frame_reader_free(&r);

	orc_frame_reader_init(&r, 0);
	ck_assert_int_eq(orc_frame_reader_feed(&r, at_max, 4, &used, &err), 0);
	ck_assert_uint_eq(r.len, ORC_FRAME_MAX);
	orc_frame_reader_free(&r);

	orc_frame_reader_init(&r, 8);        /* a smaller configured limit */
	ck_assert_int_eq(orc_frame_reader_feed(&r, (const uint8_t[]){ 0, 0, 0, 9 }, 4, &used, &err),
			 -E2BIG);
	orc_frame_reader_free(&r);
}
END_TEST

START_TEST(test_reader_socket)
{
	struct orc_frame_reader r;
	struct orc_err err = { 0 };
	const uint8_t *p;
	size_t len;
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	orc_frame_reader_init(&r, 0);
	ck_assert_int_eq(orc_frame_reader_read(&r, sv[0], &err), 0);      /* would block */
	ck_assert_int_eq(write(sv[1], "\0\0", 2), 2);
	ck_assert_int_eq(orc_frame_reader_read(&r, sv[0], &err), 0);
	ck_assert(orc_frame_reader_partial(&r));
	ck_assert_int_eq(write(sv[1], "\0\5hel", 5), 5);
	ck_assert_int_eq(orc_frame_reader_read(&r, sv[0], &err), 0);
	ck_assert_int_eq(write(sv[1], "lo\0\0\0\1!", 7), 7);
	ck_assert_int_eq(orc_frame_reader_read(&r, sv[0], &err), 1);
	orc_frame_reader_frame(&r, &p, &len);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(p, "hello", 5);
	orc_frame_reader_next(&r);
	ck_assert_int_eq(orc_frame_reader_read(&r, sv[0], &err), 1);       /* never read past a frame */
	orc_frame_reader_next(&r);
	/* EOF at a frame boundary vs. inside a frame */
	ck_assert_int_eq(write(sv[1], "\0\0\0\7ab", 6), 6);
	close(sv[1]);
	ck_assert_int_eq(orc_frame_reader_read(&r, sv[0], &err), -EPIPE);
	orc_frame_reader_free(&r);
	close(sv[0]);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	orc_frame_reader_init(&r, 0);
	close(sv[1]);
	ck_assert_int_eq(orc_frame_reader_read(&r, sv[0], &err), -ECONNRESET);
	orc_frame_reader_free(&r);
	close(sv[0]);
}
END_TEST

/* A large frame grows the buffer; next() gives the memory back. */
START_TEST(test_reader_large_then_small)
{
	struct orc_frame_reader r;
	uint8_t *big = calloc(1, 4 + 200000);
	size_t used;

	ck_assert_ptr_nonnull(big);
	big[1] = (200000 >> 16) & 0xff;
	big[2] = (200000 >> 8) & 0xff;
	big[3] = 200000 & 0xff;
	orc_frame_reader_init(&r, 0);
	ck_assert_int_eq(orc_frame_reader_feed(&r, big, 4 + 200000, &used, NULL), 1);
	ck_assert_uint_ge(r.cap, 200000);
	orc_frame_reader_next(&r);
	ck_assert_ptr_null(r.buf);
	ck_assert_int_eq(orc_frame_reader_feed(&r, "\0\0\0\1x", 5, &used, NULL), 1);
	ck_assert_uint_le(r.cap, ORC_FRAME_KEEP_MAX);
	orc_frame_reader_free(&r);
	free(big);
}
END_TEST

/* ---- write queue ---- */

START_TEST(test_buf_cap_and_flush)
{
	struct orc_buf b;
	struct orc_err err = { 0 };
	char out[64];
	int sv[2];

	orc_buf_init(&b, 10);
	ck_assert_int_eq(orc_frame_append(&b, "abcd", 4, ORC_FRAME_MAX, &err), 0);
	ck_assert_uint_eq(orc_buf_pending(&b), 8);
	ck_assert_int_eq(orc_frame_append(&b, "ef", 2, ORC_FRAME_MAX, &err), -ENOBUFS);
	ck_assert_uint_eq(orc_buf_pending(&b), 8);
	ck_assert_int_eq(orc_frame_append(&b, "", 0, ORC_FRAME_MAX, &err), -E2BIG);
	ck_assert_int_eq(orc_frame_append(&b, "abcd", 4, 3, &err), -E2BIG);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	ck_assert_int_eq(orc_buf_flush(&b, sv[0]), 0);
	ck_assert_uint_eq(orc_buf_pending(&b), 0);
	ck_assert_int_eq(read(sv[1], out, sizeof(out)), 8);
	ck_assert_mem_eq(out, "\0\0\0\4abcd", 8);
	/* consumed space is reused: the cap counts pending bytes only */
	ck_assert_int_eq(orc_frame_append(&b, "123456", 6, ORC_FRAME_MAX, &err), 0);
	close(sv[1]);
	ck_assert_int_eq(orc_buf_flush(&b, sv[0]), -EPIPE);   /* no SIGPIPE */
	close(sv[0]);
	orc_buf_free(&b);
	orc_buf_free(NULL);
}
END_TEST

START_TEST(test_buf_flush_would_block)
{
	struct orc_buf b;
	char chunk[4096] = { 0 };
	int sv[2], r = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	orc_buf_init(&b, 0);
	for (int i = 0; i < 2048; i++)       /* 8 MiB: more than a socket buffer holds */
		ck_assert_int_eq(orc_buf_append(&b, chunk, sizeof(chunk)), 0);
	r = orc_buf_flush(&b, sv[0]);
	ck_assert_int_eq(r, 1);
	ck_assert_uint_gt(orc_buf_pending(&b), 0);
	ck_assert_uint_lt(orc_buf_pending(&b), 2048u * sizeof(chunk));
	orc_buf_free(&b);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- prescan ---- */

static int scan(const void *p, size_t n, struct orc_err *err)
{
	return orc_prescan(p, n, ORC_MSGPACK_DEPTH_MAX, ORC_MSGPACK_ITEMS_MAX, NULL, err);
}
#define SCAN(lit, err) scan((lit), sizeof(lit) - 1, (err))

START_TEST(test_prescan_huge_counts)
{
	struct orc_err err = { 0 };

	/* msgpack-c issue #1013: array32 of 4294967295 in 5 bytes */
	ck_assert_int_eq(SCAN("\xdd\xff\xff\xff\xff", &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(orc_err_msg(&err), "4294967295"));
	ck_assert_int_eq(SCAN("\xdf\xff\xff\xff\xff", &err), -EBADMSG);          /* map32 */
	ck_assert_int_eq(SCAN("\xdc\xff\xff\x01\x02", &err), -EBADMSG);          /* array16 */
	ck_assert_int_eq(SCAN("\xde\x00\x02\x01\x02\x03", &err), -EBADMSG);      /* map16: 4 objects, 3 bytes */
	ck_assert_int_eq(SCAN("\xdb\xff\xff\xff\xff", &err), -EBADMSG);          /* str32 */
	ck_assert_int_eq(SCAN("\xc6\x7f\xff\xff\xff\x00", &err), -EBADMSG);      /* bin32 */
	ck_assert_int_eq(SCAN("\xc9\xff\xff\xff\xff\x01", &err), -EBADMSG);      /* ext32 */
	ck_assert_int_eq(SCAN("\xc7\x02\x01\x00", &err), -EBADMSG);              /* ext8: 1 of 2 */
	ck_assert_int_eq(SCAN("\xd8\x01\x00", &err), -EBADMSG);                  /* fixext16 */
	ck_assert_int_eq(SCAN("\x9f\x01", &err), -EBADMSG);                      /* fixarray 15 */
	ck_assert_int_eq(SCAN("\xbf" "abc", &err), -EBADMSG);                    /* fixstr 31 */
	/* and the exact sizes pass */
	ck_assert_int_eq(SCAN("\xdc\x00\x02\x01\x02", &err), 0);
	ck_assert_int_eq(SCAN("\xde\x00\x01\x01\x02", &err), 0);
	ck_assert_int_eq(SCAN("\xc7\x02\x01\x00\x00", &err), 0);
	ck_assert_int_eq(SCAN("\xd8\x01" "0123456789abcdef", &err), 0);
	ck_assert_int_eq(SCAN("\xc4\x00", &err), 0);
}
END_TEST

START_TEST(test_prescan_depth)
{
	uint8_t buf[64];
	struct orc_err err = { 0 };
	size_t items;

	/* 16 nested one-element arrays around a nil: allowed */
	memset(buf, 0x91, 16);
	buf[16] = 0xc0;
	ck_assert_int_eq(orc_prescan(buf, 17, ORC_MSGPACK_DEPTH_MAX, ORC_MSGPACK_ITEMS_MAX, &items, &err), 0);
	ck_assert_uint_eq(items, 17);
	/* 17 levels: refused */
	memset(buf, 0x91, 17);
	buf[17] = 0xc0;
	ck_assert_int_eq(scan(buf, 18, &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(orc_err_msg(&err), "nesting"));
	/* an empty container at level 17 counts too */
	memset(buf, 0x91, 16);
	buf[16] = 0x80;
	ck_assert_int_eq(scan(buf, 17, &err), -EBADMSG);
	/* maps nest the same way: {k: {k: ...}} */
	for (int i = 0; i < 17; i++) {
		buf[2 * i] = 0x81;
		buf[2 * i + 1] = 0x00;
	}
	buf[34] = 0xc0;
	ck_assert_int_eq(scan(buf, 35, &err), -EBADMSG);
	/* a caller may ask for less */
	ck_assert_int_eq(orc_prescan((const uint8_t *)"\x91\x91\xc0", 3, 1, 100, NULL, &err), -EBADMSG);
	ck_assert_int_eq(orc_prescan((const uint8_t *)"\x91\x91\xc0", 3, 2, 100, NULL, &err), 0);
}
END_TEST

START_TEST(test_prescan_truncated_and_trailing)
{
	static const char msg[] = "\x83\xa4type\x10\xa5model\xa3" "abc\xa4stop\x92\xa1x\xcb\x3f\xf0\0\0\0\0\0\0";
	size_t n = sizeof(msg) - 1;
	struct orc_err err = { 0 };

	ck_assert_int_eq(scan(msg, n, &err), 0);
	for (size_t k = 0; k < n; k++)       /* every proper prefix is refused */
		ck_assert_msg(scan(msg, k, &err) == -EBADMSG, "prefix %zu accepted", k);
	ck_assert_int_eq(SCAN("\xc0\xc0", &err), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(orc_err_msg(&err), "after"));
	ck_assert_int_eq(SCAN("\xc1", &err), -EBADMSG);
	ck_assert_int_eq(SCAN("\x91\xc1", &err), -EBADMSG);
	ck_assert_int_eq(scan("", 0, &err), -EBADMSG);
}
END_TEST

START_TEST(test_prescan_items_cap)
{
	/* [nil * 100] with a cap of 50 objects */
	uint8_t buf[103] = { 0xdc, 0x00, 100 };
	struct orc_err err = { 0 };

	memset(buf + 3, 0xc0, 100);
	ck_assert_int_eq(orc_prescan(buf, sizeof(buf), 16, 50, NULL, &err), -EBADMSG);
	ck_assert_int_eq(orc_prescan(buf, sizeof(buf), 16, 101, NULL, &err), 0);
	ck_assert_int_eq(orc_prescan(buf, sizeof(buf), 16, 100, NULL, &err), -EBADMSG);
}
END_TEST

START_TEST(test_prescan_every_scalar)
{
	/* one of each format in an array: ints, floats, str8/16, bin8/16, fixext1..8, ext16 */
	static const char all[] =
		"\xdc\x00\x15"
		"\x7f\xe0\xc0\xc2\xc3"
		"\xcc\x01\xcd\x00\x01\xce\0\0\0\1\xcf\0\0\0\0\0\0\0\1"
		"\xd0\xff\xd1\xff\xff\xd2\xff\xff\xff\xff\xd3\xff\xff\xff\xff\xff\xff\xff\xff"
		"\xca\0\0\0\0\xcb\0\0\0\0\0\0\0\0"
		"\xd9\x01x\xda\x00\x01y\xc5\x00\x01z"
		"\xd4\x01\x00\xd5\x01\0\0\xc8\x00\x01\x05q";
	struct orc_err err = { 0 };
	size_t items;

	ck_assert_msg(orc_prescan((const uint8_t *)all, sizeof(all) - 1, 16, 100, &items, &err) == 0,
		      "%s", orc_err_msg(&err));
	ck_assert_uint_eq(items, 22);
}
END_TEST

Suite *proto_frame_suite(void)
{
	Suite *s = suite_create("proto-frame");
	TCase *tc = tcase_create("frame");
	TCase *tp = tcase_create("prescan");

	tcase_add_test(tc, test_reader_byte_by_byte);
	tcase_add_test(tc, test_reader_stops_at_frame_end);
	tcase_add_test(tc, test_reader_bad_lengths);
	tcase_add_test(tc, test_reader_socket);
	tcase_add_test(tc, test_reader_large_then_small);
	tcase_add_test(tc, test_buf_cap_and_flush);
	tcase_add_test(tc, test_buf_flush_would_block);
	tcase_add_test(tp, test_prescan_huge_counts);
	tcase_add_test(tp, test_prescan_depth);
	tcase_add_test(tp, test_prescan_truncated_and_trailing);
	tcase_add_test(tp, test_prescan_items_cap);
	tcase_add_test(tp, test_prescan_every_scalar);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tp);
	return s;
}
