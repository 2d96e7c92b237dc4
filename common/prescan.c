/* prescan.c -- walk MessagePack bytes without allocating and check every
 * declared count against the bytes left, the nesting depth and the number
 * of objects, so msgpack-c is only ever given bounded input (prescan.h). */
#include "config.h"

#include <errno.h>
#include <stdbool.h>

#include "limits.h"
#include "prescan.h"

/* One open container: how many objects it still expects. */
struct frame_slot {
	uint64_t left;
};

struct scan {
	const uint8_t *p;
	size_t n, off;
	size_t items, items_max;
	struct orc_err *err;
};

static uint64_t be(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < w; i++)
		v = (v << 8) | p[i];
	return v;
}

static int fail(struct scan *s, const char *why)
{
	return orc_err_set(s->err, -EBADMSG, "msgpack at byte %zu: %s", s->off, why);
}

/* Read a w-byte big-endian count that follows the type byte. */
static int read_count(struct scan *s, unsigned w, uint64_t *ret)
{
	if (s->n - s->off < 1 + (size_t)w)
		return fail(s, "truncated length");
	*ret = be(s->p + s->off + 1, w);
	s->off += 1 + w;
	return 0;
}

/* Skip a payload of len bytes (str/bin/ext data, fixed-size scalars). */
static int skip(struct scan *s, uint64_t len, const char *what)
{
	if (len > s->n - s->off)
		return orc_err_set(s->err, -EBADMSG,
				   "msgpack at byte %zu: %s of %llu bytes but only %zu left",
				   s->off, what, (unsigned long long)len, s->n - s->off);
	s->off += (size_t)len;
	return 0;
}

/* Check a container's declared number of objects against the bytes left
 * (each object takes at least one byte) and the items cap. */
static int check_container(struct scan *s, uint64_t objs, const char *what)
{
	if (objs > s->n - s->off)
		return orc_err_set(s->err, -EBADMSG,
				   "msgpack at byte %zu: %s declares %llu objects but only %zu bytes left",
				   s->off, what, (unsigned long long)objs, s->n - s->off);
	if (objs > s->items_max - s->items)
		return orc_err_set(s->err, -EBADMSG,
				   "msgpack at byte %zu: more than %zu objects in one message",
				   s->off, s->items_max);
	return 0;
}

/* Consume one object header. For a container, *ret_objs gets the number of
 * objects inside (maps: keys and values) and *ret_container is true. */
static int scan_one(struct scan *s, bool *ret_container, uint64_t *ret_objs)
{
	uint8_t b = s->p[s->off];
	uint64_t len;
	int r;

	*ret_container = false;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return skip(s, 1, "byte");
	if ((b & 0xe0) == 0xa0) {               /* fixstr */
		s->off++;
		return skip(s, b & 0x1f, "str");
	}
	if ((b & 0xf0) == 0x90 || (b & 0xf0) == 0x80) {   /* fixarray / fixmap */
		len = b & 0x0f;
		s->off++;
		*ret_objs = (b & 0xf0) == 0x80 ? 2 * len : len;
		*ret_container = true;
		return check_container(s, *ret_objs, (b & 0xf0) == 0x80 ? "map" : "array");
	}
	switch (b) {
	case 0xc4: case 0xc5: case 0xc6:        /* bin 8/16/32 */
		if ((r = read_count(s, 1u << (b - 0xc4), &len)) < 0)
			return r;
		return skip(s, len, "bin");
	case 0xd9: case 0xda: case 0xdb:        /* str 8/16/32 */
		if ((r = read_count(s, 1u << (b - 0xd9), &len)) < 0)
			return r;
		return skip(s, len, "str");
	case 0xc7: case 0xc8: case 0xc9:        /* ext 8/16/32: length, type, data */
		if ((r = read_count(s, 1u << (b - 0xc7), &len)) < 0)
			return r;
		return skip(s, len + 1, "ext");
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:   /* fixext 1..16 */
		return skip(s, 2 + (1u << (b - 0xd4)), "fixext");
	case 0xca: return skip(s, 5, "float32");
	case 0xcb: return skip(s, 9, "float64");
	case 0xcc: case 0xd0: return skip(s, 2, "int8");
	case 0xcd: case 0xd1: return skip(s, 3, "int16");
	case 0xce: case 0xd2: return skip(s, 5, "int32");
	case 0xcf: case 0xd3: return skip(s, 9, "int64");
	case 0xdc: case 0xdd:                   /* array 16/32 */
		if ((r = read_count(s, b == 0xdc ? 2 : 4, &len)) < 0)
			return r;
		*ret_objs = len;
		*ret_container = true;
		return check_container(s, len, "array");
	case 0xde: case 0xdf:                   /* map 16/32 */
		if ((r = read_count(s, b == 0xde ? 2 : 4, &len)) < 0)
			return r;
		*ret_objs = 2 * len;
		*ret_container = true;
		return check_container(s, 2 * len, "map");
	default:                                /* 0xc1: never used */
		return fail(s, "reserved type byte 0xc1");
	}
}

int orc_prescan(const uint8_t *p, size_t n, unsigned depth_max, size_t items_max,
		size_t *ret_items, struct orc_err *err)
{
	struct frame_slot stack[ORC_MSGPACK_DEPTH_MAX + 1];
	struct scan s = { .p = p, .n = n, .items_max = items_max, .err = err };
	unsigned depth = 0;
	bool container;
	uint64_t objs;
	int r;

	if (depth_max > ORC_MSGPACK_DEPTH_MAX)
		depth_max = ORC_MSGPACK_DEPTH_MAX;
	if (n == 0)
		return fail(&s, "empty");
	/* The top level is a container expecting exactly one object. */
	stack[0].left = 1;
	while (depth > 0 || stack[0].left > 0) {
		if (stack[depth].left == 0) {   /* container complete */
			depth--;
			continue;
		}
		if (s.off >= n)
			return fail(&s, "truncated");
		if (s.items >= items_max)
			return orc_err_set(err, -EBADMSG, "msgpack at byte %zu: more than %zu objects",
					   s.off, items_max);
		s.items++;
		stack[depth].left--;
		if ((r = scan_one(&s, &container, &objs)) < 0)
			return r;
		if (!container)
			continue;
		if (depth + 1 > depth_max)
			return orc_err_set(err, -EBADMSG, "msgpack at byte %zu: nesting deeper than %u",
					   s.off, depth_max);
		if (objs > 0)
			stack[++depth].left = objs;
	}
	if (s.off != n)
		return orc_err_set(err, -EBADMSG, "msgpack: %zu bytes after the message", n - s.off);
	if (ret_items)
		*ret_items = s.items;
	return 0;
}
