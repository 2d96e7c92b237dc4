/* frame.c -- length-prefixed frames: the incremental reader (partial reads
 * anywhere), and the byte buffer that serves as a capped write queue. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame.h"
#include "limits.h"

/* ---- byte buffer ---- */

void orc_buf_init(struct orc_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void orc_buf_free(struct orc_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

int orc_buf_reserve(struct orc_buf *b, size_t n)
{
	size_t pending = b->len - b->off, cap;
	uint8_t *p;

	if (b->max && n > b->max - pending)
		return -ENOBUFS;
	if (n > SIZE_MAX / 2 - pending)
		return -ENOMEM;
	if (b->cap - b->len >= n)
		return 0;
	/* Slide pending bytes to the front first when that makes room. */
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, pending);
		b->off = 0;
		b->len = pending;
		if (b->cap - b->len >= n)
			return 0;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int orc_buf_append(struct orc_buf *b, const void *p, size_t n)
{
	int r = orc_buf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void orc_buf_consume(struct orc_buf *b, size_t n)
{
	if (n > b->len - b->off)
		n = b->len - b->off;
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}

int orc_buf_flush(struct orc_buf *b, int fd)
{
	while (b->len > b->off) {
		ssize_t w = send(fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 1;
			return -errno;
		}
		orc_buf_consume(b, (size_t)w);
	}
	return 0;
}

int orc_frame_append(struct orc_buf *b, const void *payload, size_t len, uint32_t max,
		     struct orc_err *err)
{
	uint8_t hdr[ORC_FRAME_HDR];
	int r;

	if (len < ORC_FRAME_MIN || len > max)
		return orc_err_set(err, -E2BIG, "frame of %zu bytes outside %u..%u",
				   len, ORC_FRAME_MIN, max);
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	if ((r = orc_buf_reserve(b, ORC_FRAME_HDR + len)) < 0)
		return orc_err_set(err, r, "write queue: %s",
				   r == -ENOBUFS ? "over its cap" : "out of memory");
	orc_buf_append(b, hdr, sizeof(hdr));
	orc_buf_append(b, payload, len);
	return 0;
}

/* ---- reader ---- */

void orc_frame_reader_init(struct orc_frame_reader *r, uint32_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max ? max : ORC_FRAME_MAX;
}

void orc_frame_reader_free(struct orc_frame_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	r->buf = NULL;
	r->cap = 0;
	orc_frame_reader_next(r);
}

void orc_frame_reader_next(struct orc_frame_reader *r)
{
	/* An idle connection should not keep a big buffer from one large frame. */
	if (r->cap > ORC_FRAME_KEEP_MAX) {
		free(r->buf);
		r->buf = NULL;
		r->cap = 0;
	}
	r->hdr_have = 0;
	r->len = 0;
	r->have = 0;
	r->ready = false;
	r->started = false;
}

void orc_frame_reader_frame(const struct orc_frame_reader *r, const uint8_t **ret, size_t *ret_len)
{
	*ret = r->ready ? r->buf : NULL;
	*ret_len = r->ready ? r->len : 0;
}

/* The header just completed: check the length and get the buffer. */
static int header_done(struct orc_frame_reader *r, struct orc_err *err)
{
	uint32_t len = (uint32_t)r->hdr[0] << 24 | (uint32_t)r->hdr[1] << 16 |
		       (uint32_t)r->hdr[2] << 8 | r->hdr[3];

	if (len < ORC_FRAME_MIN)
		return orc_err_set(err, -EBADMSG, "frame length 0");
	if (len > r->max)
		return orc_err_set(err, -E2BIG, "frame length %u over the limit of %u bytes",
				   len, r->max);
	if (len > r->cap) {
		/* Grow to the frame's size (at least 4 KiB), never to max up front. */
		uint32_t cap = len < 4096 ? 4096 : len;
		uint8_t *p = realloc(r->buf, cap);

		if (!p)
			return orc_err_set(err, -ENOMEM, "out of memory for a %u-byte frame", len);
		r->buf = p;
		r->cap = cap;
	}
	r->len = len;
	return 0;
}

/* Where the next bytes go and how many the current frame still needs. */
static uint8_t *want(struct orc_frame_reader *r, size_t *ret_n)
{
	if (r->hdr_have < ORC_FRAME_HDR) {
		*ret_n = ORC_FRAME_HDR - r->hdr_have;
		return r->hdr + r->hdr_have;
	}
	*ret_n = r->len - r->have;
	return r->buf + r->have;
}

/* Account for n bytes just stored at want(); 1 when the frame is complete. */
static int got(struct orc_frame_reader *r, size_t n, struct orc_err *err)
{
	int e;

	if (n)
		r->started = true;
	if (r->hdr_have < ORC_FRAME_HDR) {
		r->hdr_have += (uint32_t)n;
		if (r->hdr_have < ORC_FRAME_HDR)
			return 0;
		if ((e = header_done(r, err)) < 0)
			return e;
		return 0;
	}
	r->have += (uint32_t)n;
	if (r->have == r->len) {
		r->ready = true;
		return 1;
	}
	return 0;
}

int orc_frame_reader_feed(struct orc_frame_reader *r, const void *data, size_t n,
			  size_t *ret_used, struct orc_err *err)
{
	const uint8_t *in = data;
	size_t used = 0;
	int e = 0;

	*ret_used = 0;
	if (r->ready)
		return 1;
	while (used < n) {
		size_t need, take;
		uint8_t *dst = want(r, &need);

		take = need < n - used ? need : n - used;
		memcpy(dst, in + used, take);
		used += take;
		if ((e = got(r, take, err)) != 0)
			break;
	}
	*ret_used = used;
	return e;
}

int orc_frame_reader_read(struct orc_frame_reader *r, int fd, struct orc_err *err)
{
	int e;

	if (r->ready)
		return 1;
	for (;;) {
		size_t need;
		uint8_t *dst = want(r, &need);
		ssize_t n = read(fd, dst, need);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return orc_err_set(err, -errno, "read: %s", strerror(errno));
		}
		if (n == 0) {
			if (r->started)
				return orc_err_set(err, -EPIPE, "connection closed inside a frame");
			return orc_err_set(err, -ECONNRESET, "connection closed");
		}
		if ((e = got(r, (size_t)n, err)) != 0)
			return e;
	}
}
