/* proto_enc.c -- orc_proto_encode(): check a caller-built message against
 * its key table (the decoder's checks, so nothing we send is refused) and
 * pack it as one frame straight into a byte buffer / write queue. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "proto_codec.h"

#define AT(base, off, T) ((const T *)(const void *)((base) + (off)))
#define TRY(x) do { int try_r_ = (x); if (try_r_ < 0) return try_r_; } while (0)

static int wr(struct orc_pc *c, int r)
{
	if (r == 0)
		return 0;
	return c->write_err ? c->write_err : -ENOMEM;
}

static int write_cb(void *data, const char *buf, size_t len)
{
	struct orc_pc *c = data;
	int r = orc_buf_append(c->out, buf, len);

	if (r < 0) {
		c->write_err = r;
		return -1;
	}
	return 0;
}

static int enc_str(struct orc_pc *c, const struct orc_str *s, bool bin)
{
	if (s->len && !s->s)
		return orc_pc_bad(c, "NULL string of length %u", s->len);
	if (bin) {
		TRY(wr(c, msgpack_pack_bin(&c->pk, s->len)));
		return wr(c, msgpack_pack_bin_body(&c->pk, s->s, s->len));
	}
	TRY(wr(c, msgpack_pack_str(&c->pk, s->len)));
	return wr(c, msgpack_pack_str_body(&c->pk, s->s, s->len));
}

static int enc_top(struct orc_pc *c, const struct orc_top *t)
{
	TRY(orc_pc_check_int(c, &orc_field_token_id, t->token));
	TRY(orc_pc_check_float(c, &orc_field_logprob, t->logprob));
	TRY(wr(c, msgpack_pack_array(&c->pk, 2)));
	TRY(wr(c, msgpack_pack_int32(&c->pk, t->token)));
	return wr(c, msgpack_pack_float(&c->pk, t->logprob));
}

static int enc_tops(struct orc_pc *c, const struct orc_top *v, uint32_t n)
{
	int r;

	if (n > ORC_LOGPROBS_TOP_MAX)
		return orc_pc_bad(c, "%u alternatives, at most %u", n, ORC_LOGPROBS_TOP_MAX);
	if (n && !v)
		return orc_pc_bad(c, "NULL array of %u", n);
	if ((r = wr(c, msgpack_pack_array(&c->pk, n))) < 0)
		return r;
	for (uint32_t i = 0; i < n; i++)
		if ((r = enc_top(c, &v[i])) < 0)
			return r;
	return 0;
}

static int enc_logprob(struct orc_pc *c, const struct orc_wire_logprob *e)
{
	TRY(orc_pc_check_int(c, &orc_field_token_id, e->token));
	TRY(orc_pc_check_float(c, &orc_field_logprob, e->logprob));
	TRY(wr(c, msgpack_pack_array(&c->pk, 3)));
	TRY(wr(c, msgpack_pack_int32(&c->pk, e->token)));
	TRY(wr(c, msgpack_pack_float(&c->pk, e->logprob)));
	return enc_tops(c, e->top, e->n_top);
}

static int enc_map(struct orc_pc *c, const struct orc_mapdesc *md, const char *base,
		   const struct orc_msg *envelope);

/* An array-valued key: check the count, then each element. */
static int enc_array(struct orc_pc *c, const struct orc_field *f, const char *base)
{
	const void *v = *AT(base, f->off, void *);
	uint32_t n = *AT(base, f->off2, uint32_t);
	int r;

	if (n > f->hi)
		return orc_pc_bad(c, "%u elements, at most %llu", n, (unsigned long long)f->hi);
	if (n && !v)
		return orc_pc_bad(c, "NULL array of %u", n);
	if (f->kind == ORC_FK_COUNTERS)
		r = wr(c, msgpack_pack_map(&c->pk, n));
	else
		r = wr(c, msgpack_pack_array(&c->pk, n));
	for (uint32_t i = 0; r == 0 && i < n; i++) {
		size_t mark = orc_pc_push(&c->path, NULL, (long)i);

		switch (f->kind) {
		case ORC_FK_TOPS:
			r = enc_top(c, (const struct orc_top *)v + i);
			break;
		case ORC_FK_LOGPROBS:
			r = enc_logprob(c, (const struct orc_wire_logprob *)v + i);
			break;
		case ORC_FK_COUNTERS: {
			const struct orc_counter *k = (const struct orc_counter *)v + i;

			r = orc_pc_check_name(c, k->name.s ? k->name.s : "", k->name.len, ORC_PROTO_STR_MAX);
			if (r == 0)
				r = enc_str(c, &k->name, false);
			if (r == 0)
				r = wr(c, msgpack_pack_uint64(&c->pk, k->value));
			break;
		}
		default:   /* ORC_FK_STRUCTS */
			r = enc_map(c, f->sub, (const char *)v + i * f->sub->size, NULL);
			break;
		}
		orc_pc_pop(&c->path, mark);
	}
	return r;
}

static int enc_strs(struct orc_pc *c, const struct orc_field *f, const struct orc_strs *a)
{
	int r;

	if (a->n > f->hi)
		return orc_pc_bad(c, "%u strings, at most %llu", a->n, (unsigned long long)f->hi);
	if (a->n && !a->v)
		return orc_pc_bad(c, "NULL array of %u", a->n);
	if ((r = wr(c, msgpack_pack_array(&c->pk, a->n))) < 0)
		return r;
	for (uint32_t i = 0; i < a->n; i++) {
		size_t mark = orc_pc_push(&c->path, NULL, (long)i);

		r = orc_pc_check_len(c, a->v[i].len, f->kind == ORC_FK_STRS ? f->elo : 0, f->ehi, "string");
		if (r == 0)
			r = enc_str(c, &a->v[i], f->kind == ORC_FK_BINS);
		orc_pc_pop(&c->path, mark);
		if (r < 0)
			return r;
	}
	return 0;
}

static int enc_ids(struct orc_pc *c, const struct orc_field *f, const struct orc_ids *a)
{
	int r;

	if (a->n > f->hi)
		return orc_pc_bad(c, "%u ids, at most %llu", a->n, (unsigned long long)f->hi);
	if (a->n && !a->v)
		return orc_pc_bad(c, "NULL array of %u", a->n);
	if ((r = wr(c, msgpack_pack_array(&c->pk, a->n))) < 0)
		return r;
	for (uint32_t i = 0; i < a->n; i++) {
		if (a->v[i] < 0)
			return orc_pc_bad(c, "id %d at index %u is negative", a->v[i], i);
		if ((r = wr(c, msgpack_pack_uint32(&c->pk, (uint32_t)a->v[i]))) < 0)
			return r;
	}
	return 0;
}

static int enc_value(struct orc_pc *c, const struct orc_field *f, const char *base)
{
	const char *p = base + f->off;
	const struct orc_str *s = AT(p, 0, struct orc_str);

	switch (f->kind) {
	case ORC_FK_U32:
		TRY(orc_pc_check_uint(c, f, *AT(p, 0, uint32_t)));
		return wr(c, msgpack_pack_uint32(&c->pk, *AT(p, 0, uint32_t)));
	case ORC_FK_U64:
		TRY(orc_pc_check_uint(c, f, *AT(p, 0, uint64_t)));
		return wr(c, msgpack_pack_uint64(&c->pk, *AT(p, 0, uint64_t)));
	case ORC_FK_I32:
		TRY(orc_pc_check_int(c, f, *AT(p, 0, int32_t)));
		return wr(c, msgpack_pack_int32(&c->pk, *AT(p, 0, int32_t)));
	case ORC_FK_I64:
		TRY(orc_pc_check_int(c, f, *AT(p, 0, int64_t)));
		return wr(c, msgpack_pack_int64(&c->pk, *AT(p, 0, int64_t)));
	case ORC_FK_F32:
		TRY(orc_pc_check_float(c, f, *AT(p, 0, float)));
		return wr(c, msgpack_pack_float(&c->pk, *AT(p, 0, float)));
	case ORC_FK_BOOL:
		return wr(c, *AT(p, 0, bool) ? msgpack_pack_true(&c->pk) : msgpack_pack_false(&c->pk));
	case ORC_FK_STR:
	case ORC_FK_BYTES:
		TRY(orc_pc_check_len(c, s->len, f->kind == ORC_FK_STR ? (uint64_t)f->lo : 0, f->hi, "string"));
		return enc_str(c, s, f->kind == ORC_FK_BYTES);
	case ORC_FK_NAME:
		TRY(orc_pc_check_name(c, s->s ? s->s : "", s->s ? s->len : 0, f->hi));
		return enc_str(c, s, false);
	case ORC_FK_ROLE: {
		uint32_t role = *AT(p, 0, uint32_t);
		const char *n = orc_role_name(role);

		if (strcmp(n, "?") == 0)
			return orc_pc_bad(c, "unknown role %u", role);
		return enc_str(c, &(struct orc_str){ n, (uint32_t)strlen(n) }, false);
	}
	case ORC_FK_IDS:
		return enc_ids(c, f, AT(p, 0, struct orc_ids));
	case ORC_FK_STRS:
	case ORC_FK_BINS:
		return enc_strs(c, f, AT(p, 0, struct orc_strs));
	default:
		return enc_array(c, f, base);
	}
}

static bool present(const struct orc_mapdesc *md, const struct orc_field *f, const char *base)
{
	return f->presence != ORC_FP_HAS || (*AT(base, md->has_off, uint32_t) & f->has_bit);
}

/* A map of the table's keys; at the top level also "type" and "id". */
static int enc_map(struct orc_pc *c, const struct orc_mapdesc *md, const char *base,
		   const struct orc_msg *envelope)
{
	uint32_t n = envelope ? 2 : 0;
	int r;

	for (size_t i = 0; i < md->n_fields; i++)
		n += present(md, &md->fields[i], base);
	if ((r = wr(c, msgpack_pack_map(&c->pk, n))) < 0)
		return r;
	if (envelope) {
		TRY(enc_str(c, &(struct orc_str){ "type", 4 }, false));
		TRY(wr(c, msgpack_pack_uint32(&c->pk, envelope->type)));
		TRY(enc_str(c, &(struct orc_str){ "id", 2 }, false));
		TRY(wr(c, msgpack_pack_uint32(&c->pk, envelope->id)));
	}
	for (size_t i = 0; i < md->n_fields; i++) {
		const struct orc_field *f = &md->fields[i];
		size_t mark;

		if (!present(md, f, base))
			continue;
		mark = orc_pc_push(&c->path, f->key, 0);
		TRY(enc_str(c, &(struct orc_str){ f->key, (uint32_t)strlen(f->key) }, false));
		TRY(enc_value(c, f, base));
		orc_pc_pop(&c->path, mark);
	}
	return 0;
}

int orc_proto_encode(const struct orc_msg *m, struct orc_buf *out, struct orc_err *err)
{
	const struct orc_msgdesc *d = orc_proto_desc(m->type);
	struct orc_pc c = { .err = err, .out = out };
	size_t start = orc_buf_pending(out);   /* relative to out->off: append may slide */
	size_t len;
	uint8_t *hdr;
	int r;

	if (!d)
		return orc_err_set(err, -EINVAL, "encode: unknown message type 0x%x", m->type);
	if (orc_msg_is_request(m->type) && m->id == 0)
		return orc_err_set(err, -EINVAL, "encode %s: request id 0 is reserved", d->name);
	if (d->check && (r = d->check(m, err)) < 0)
		return r;
	msgpack_packer_init(&c.pk, &c, write_cb);
	if ((r = orc_buf_append(out, "\0\0\0\0", ORC_FRAME_HDR)) < 0)
		goto fail_write;
	r = enc_map(&c, &d->body, (const char *)&m->u, m);
	if (r < 0) {
		out->len = out->off + start;
		if (r == -EINVAL) {
			orc_err_prefix(err, "encode %s", d->name);   /* 0 when err is NULL */
			return r;
		}
		goto fail_write;
	}
	len = orc_buf_pending(out) - start - ORC_FRAME_HDR;
	if (len > ORC_FRAME_MAX) {
		out->len = out->off + start;
		return orc_err_set(err, -E2BIG, "encode %s: %zu bytes, over the frame limit of %u",
				   d->name, len, ORC_FRAME_MAX);
	}
	hdr = out->data + out->off + start;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	return 0;
fail_write:
	out->len = out->off + start;
	return orc_err_set(err, r, "encode %s: write queue %s", d->name,
			   r == -ENOBUFS ? "over its cap" : "out of memory");
}
