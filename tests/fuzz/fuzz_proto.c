/* fuzz_proto.c -- fuzz the protocol's frame reader, prescan and codec.
 * Every input is decoded as one payload and as a stream of frames fed in
 * odd-sized chunks; whatever decodes must re-encode, decode again to the
 * same type and id, and re-encode to the same bytes (a fixpoint). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fuzz_proto.h"
#include "proto.h"

static int check_payload(const uint8_t *p, size_t n)
{
	struct orc_msg m, m2;
	struct orc_buf b1, b2;
	int r, bad = 0;

	r = orc_proto_decode(p, n, &m, NULL);
	if (r < 0)
		return m.arena ? -1 : 0;     /* a refused message owns nothing */
	orc_buf_init(&b1, 0);
	orc_buf_init(&b2, 0);
	r = orc_proto_encode(&m, &b1, NULL);
	if (r == -E2BIG || r == -ENOMEM)
		goto out;                    /* ints re-encoded as float32 may grow */
	if (r < 0) {
		bad = 1;                     /* decoded means valid: encoding must work */
		goto out;
	}
	r = orc_proto_decode(b1.data + ORC_FRAME_HDR, orc_buf_pending(&b1) - ORC_FRAME_HDR, &m2, NULL);
	if (r < 0 || m2.type != m.type || m2.id != m.id) {
		bad = 1;
		if (r == 0)
			orc_msg_clear(&m2);
		goto out;
	}
	if (orc_proto_encode(&m2, &b2, NULL) < 0 || orc_buf_pending(&b1) != orc_buf_pending(&b2) ||
	    memcmp(b1.data, b2.data, orc_buf_pending(&b1)) != 0)
		bad = 1;
	orc_msg_clear(&m2);
out:
	orc_msg_clear(&m);
	orc_buf_free(&b1);
	orc_buf_free(&b2);
	return bad ? -1 : 0;
}

int orc_fuzz_proto_one(const uint8_t *data, size_t size)
{
	struct orc_frame_reader rd;
	size_t off = 0, chunk = 1;
	int r = 0;

	if (check_payload(data, size) < 0)
		return -1;
	orc_frame_reader_init(&rd, 4096);
	while (off < size && r == 0) {
		size_t n = chunk < size - off ? chunk : size - off, used;
		int e = orc_frame_reader_feed(&rd, data + off, n, &used, NULL);

		off += used;
		chunk = chunk % 7 + 1;
		if (e < 0)
			break;                   /* a bad length: the stream is lost */
		if (e == 1) {
			const uint8_t *p;
			size_t len;

			orc_frame_reader_frame(&rd, &p, &len);
			r = check_payload(p, len);
			orc_frame_reader_next(&rd);
		}
	}
	orc_frame_reader_free(&rd);
	return r;
}

#ifdef ORC_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (orc_fuzz_proto_one(data, size) < 0)
		abort();
	return 0;
}
#endif
