/* frame.h -- the framing of orcd's protocol: a 4-byte big-endian length and
 * one MessagePack message. An incremental reader for non-blocking sockets
 * (partial reads anywhere, even inside the length) and a byte buffer used as
 * a capped write queue. Library code: never prints. */
#ifndef ORC_FRAME_H
#define ORC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ORC_FRAME_HDR 4u   /* bytes of the length prefix */
#define ORC_FRAME_KEEP_MAX (64u << 10)  /* a reader's buffer above this is freed between frames */

/* ---- byte buffer / write queue ----
 * Bytes [off, len) are pending. `max` caps len - off (0: ORC_WRITE_QUEUE_MAX
 * is not applied, only SIZE_MAX); appending past it fails with -ENOBUFS so a
 * server can drop a client that does not read. */
struct orc_buf {
	uint8_t *data;
	size_t off, len, cap, max;
};

void orc_buf_init(struct orc_buf *b, size_t max);
void orc_buf_free(struct orc_buf *b);          /* NULL is a no-op; leaves it empty */
static inline size_t orc_buf_pending(const struct orc_buf *b) { return b->len - b->off; }
/* Make room for n more bytes; -ENOBUFS over the cap, -ENOMEM. */
int orc_buf_reserve(struct orc_buf *b, size_t n);
int orc_buf_append(struct orc_buf *b, const void *p, size_t n);
/* Drop n pending bytes from the front. */
void orc_buf_consume(struct orc_buf *b, size_t n);

/* Write pending bytes to a (possibly non-blocking) socket with send(2)
 * and MSG_NOSIGNAL. Returns 0 when everything was written, 1 when the socket
 * would block with bytes left, or a negative errno (-EPIPE, -ECONNRESET ...). */
int orc_buf_flush(struct orc_buf *b, int fd);

/* Append one frame holding `payload` (checks ORC_FRAME_MIN..max). */
int orc_frame_append(struct orc_buf *b, const void *payload, size_t len, uint32_t max,
		     struct orc_err *err);

/* ---- incremental reader ---- */
struct orc_frame_reader {
	uint32_t max;             /* largest accepted length */
	uint8_t hdr[ORC_FRAME_HDR];
	uint32_t hdr_have;        /* bytes of the length read so far */
	uint32_t len;             /* the frame's length once the header is complete */
	uint32_t have;            /* payload bytes read so far */
	uint8_t *buf;             /* [cap] payload, grown to the frame's length */
	uint32_t cap;
	bool ready;               /* a whole frame is in buf */
	bool started;             /* at least one byte of the current frame was read */
};

void orc_frame_reader_init(struct orc_frame_reader *r, uint32_t max);
void orc_frame_reader_free(struct orc_frame_reader *r);

/* Feed up to n bytes; *ret_used says how many were taken. Returns 1 when a
 * frame is complete (get it with orc_frame_reader_frame(); the rest of the
 * input was not consumed), 0 when more bytes are needed, -EBADMSG for a zero
 * length, -E2BIG for a length over max (the stream cannot be resynchronised
 * after either), -ENOMEM. */
int orc_frame_reader_feed(struct orc_frame_reader *r, const void *data, size_t n,
			  size_t *ret_used, struct orc_err *err);

/* Read from a non-blocking or blocking socket, never past the current frame.
 * Returns 1 for a complete frame, 0 when it would block, -ECONNRESET for EOF
 * at a frame boundary ("closed"), -EPIPE for EOF inside a frame, -EBADMSG,
 * -E2BIG, or another negative errno from read(2). */
int orc_frame_reader_read(struct orc_frame_reader *r, int fd, struct orc_err *err);

/* The complete frame's payload (valid until the next feed/read/next). */
void orc_frame_reader_frame(const struct orc_frame_reader *r, const uint8_t **ret, size_t *ret_len);
/* Forget the complete frame and get ready for the next one. */
void orc_frame_reader_next(struct orc_frame_reader *r);
/* True when a frame has been started but not finished (for partial-frame timeouts). */
static inline bool orc_frame_reader_partial(const struct orc_frame_reader *r)
{
	return r->started && !r->ready;
}

#endif
