/* proto_codec.h -- internal to the codec (proto_codec.c, proto_enc.c,
 * proto_dec.c): the state of one encode or decode, and the value checks
 * that both directions apply identically. */
#ifndef ORC_PROTO_CODEC_H
#define ORC_PROTO_CODEC_H

#include <msgpack.h>

#include "frame.h"
#include "proto_schema.h"

struct orc_pc_path {
	char s[160];        /* "messages[2].role" */
	size_t len;
};

struct orc_pc {
	struct orc_pc_path path;
	struct orc_err *err;
	struct orc_msg *m;          /* decoding: owns the arena */
	msgpack_packer pk;          /* encoding */
	struct orc_buf *out;
	int write_err;
};

/* Append ".key" (or "[idx]" when key is NULL); returns what to pop back to. */
size_t orc_pc_push(struct orc_pc_path *p, const char *key, long idx);
void orc_pc_pop(struct orc_pc_path *p, size_t old);
/* -EINVAL with "key 'PATH': why". */
int orc_pc_bad(struct orc_pc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* n bytes from the message's arena (16-byte aligned); NULL when out of memory. */
void *orc_pc_alloc(struct orc_msg *m, size_t n);

int orc_pc_check_uint(struct orc_pc *c, const struct orc_field *f, uint64_t v);
int orc_pc_check_int(struct orc_pc *c, const struct orc_field *f, int64_t v);
int orc_pc_check_float(struct orc_pc *c, const struct orc_field *f, double v);
int orc_pc_check_len(struct orc_pc *c, uint64_t len, uint64_t lo, uint64_t hi, const char *what);
int orc_pc_check_name(struct orc_pc *c, const char *s, uint32_t len, uint64_t max);
/* enum orc_role from its name; -1 when unknown. */
int orc_pc_role(const char *s, size_t len);

#endif
