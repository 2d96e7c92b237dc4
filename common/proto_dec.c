/* proto_dec.c -- orc_proto_decode(): prescan the bytes, unpack them with
 * msgpack-c, then walk the message's key table to type- and range-check
 * every value and copy it into the plain C struct (arena-owned). */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "prescan.h"
#include "proto_codec.h"

#define AT(base, off, T) ((T *)(void *)((base) + (off)))
#define TRY(x) do { int try_r_ = (x); if (try_r_ < 0) return try_r_; } while (0)

static const char *type_name(msgpack_object_type t)
{
	switch (t) {
	case MSGPACK_OBJECT_NIL: return "nil";
	case MSGPACK_OBJECT_BOOLEAN: return "bool";
	case MSGPACK_OBJECT_POSITIVE_INTEGER: return "uint";
	case MSGPACK_OBJECT_NEGATIVE_INTEGER: return "int";
	case MSGPACK_OBJECT_FLOAT32: case MSGPACK_OBJECT_FLOAT64: return "float";
	case MSGPACK_OBJECT_STR: return "str";
	case MSGPACK_OBJECT_ARRAY: return "array";
	case MSGPACK_OBJECT_MAP: return "map";
	case MSGPACK_OBJECT_BIN: return "bin";
	default: return "ext";
	}
}

static int want(struct orc_pc *c, const msgpack_object *o, msgpack_object_type t, const char *what)
{
	if (o->type != t)
		return orc_pc_bad(c, "expected %s, got %s", what, type_name(o->type));
	return 0;
}

static int nomem(struct orc_pc *c)
{
	return orc_err_set(c->err, -ENOMEM, "out of memory decoding key '%s'", c->path.s);
}

/* Copy bytes into the arena, NUL-terminated. */
static int copy_str(struct orc_pc *c, const char *p, uint32_t n, struct orc_str *ret)
{
	char *s = orc_pc_alloc(c->m, (size_t)n + 1);

	if (!s)
		return nomem(c);
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	ret->s = s;
	ret->len = n;
	return 0;
}

static int get_uint(struct orc_pc *c, const msgpack_object *o, const struct orc_field *f, uint64_t *ret)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return orc_pc_bad(c, "%lld is negative", (long long)o->via.i64);
	TRY(want(c, o, MSGPACK_OBJECT_POSITIVE_INTEGER, "uint"));
	TRY(orc_pc_check_uint(c, f, o->via.u64));
	*ret = o->via.u64;
	return 0;
}

static int get_int(struct orc_pc *c, const msgpack_object *o, const struct orc_field *f, int64_t *ret)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return orc_pc_bad(c, "%llu out of range", (unsigned long long)o->via.u64);
		*ret = (int64_t)o->via.u64;
	} else {
		TRY(want(c, o, MSGPACK_OBJECT_NEGATIVE_INTEGER, "int"));
		*ret = o->via.i64;
	}
	return orc_pc_check_int(c, f, *ret);
}

static int get_float(struct orc_pc *c, const msgpack_object *o, const struct orc_field *f, float *ret)
{
	double v;

	if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
		v = o->via.f64;
	else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		v = (double)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		v = (double)o->via.i64;
	else
		return orc_pc_bad(c, "expected float, got %s", type_name(o->type));
	TRY(orc_pc_check_float(c, f, v));
	*ret = (float)v;
	return 0;
}

/* str (or, when bin_ok, bin) into *ret with a length in [lo, hi]. */
static int get_str(struct orc_pc *c, const msgpack_object *o, bool bin_ok, uint64_t lo, uint64_t hi,
		   struct orc_str *ret)
{
	if (o->type == MSGPACK_OBJECT_BIN && bin_ok) {
		TRY(orc_pc_check_len(c, o->via.bin.size, lo, hi, "bytes"));
		return copy_str(c, o->via.bin.ptr, o->via.bin.size, ret);
	}
	TRY(want(c, o, MSGPACK_OBJECT_STR, bin_ok ? "bin or str" : "str"));
	TRY(orc_pc_check_len(c, o->via.str.size, lo, hi, "string"));
	return copy_str(c, o->via.str.ptr, o->via.str.size, ret);
}

/* An array with at most max elements; *ret gets n * elem zeroed bytes. */
static int get_array(struct orc_pc *c, const msgpack_object *o, uint64_t max, size_t elem,
		     void **ret)
{
	uint32_t n;

	TRY(want(c, o, MSGPACK_OBJECT_ARRAY, "array"));
	n = o->via.array.size;
	if (n > max)
		return orc_pc_bad(c, "%u elements, at most %llu", n, (unsigned long long)max);
	*ret = NULL;
	if (n == 0)
		return 0;
	if (!(*ret = orc_pc_alloc(c->m, (size_t)n * elem)))
		return nomem(c);
	memset(*ret, 0, (size_t)n * elem);
	return 0;
}

static int get_top(struct orc_pc *c, const msgpack_object *o, struct orc_top *ret)
{
	int64_t id;

	TRY(want(c, o, MSGPACK_OBJECT_ARRAY, "[id, logprob]"));
	if (o->via.array.size != 2)
		return orc_pc_bad(c, "expected [id, logprob], got %u elements", o->via.array.size);
	TRY(get_int(c, &o->via.array.ptr[0], &orc_field_token_id, &id));
	ret->token = (int32_t)id;
	return get_float(c, &o->via.array.ptr[1], &orc_field_logprob, &ret->logprob);
}

static int get_tops(struct orc_pc *c, const msgpack_object *o, struct orc_top **ret, uint32_t *ret_n)
{
	void *v;

	TRY(get_array(c, o, ORC_LOGPROBS_TOP_MAX, sizeof(struct orc_top), &v));
	*ret = v;
	*ret_n = o->via.array.size;
	for (uint32_t i = 0; i < *ret_n; i++) {
		size_t mark = orc_pc_push(&c->path, NULL, (long)i);

		TRY(get_top(c, &o->via.array.ptr[i], &(*ret)[i]));
		orc_pc_pop(&c->path, mark);
	}
	return 0;
}

static int get_logprob(struct orc_pc *c, const msgpack_object *o, struct orc_wire_logprob *ret)
{
	const msgpack_object *a;
	int64_t id;

	TRY(want(c, o, MSGPACK_OBJECT_ARRAY, "[id, logprob, top]"));
	if (o->via.array.size != 3)
		return orc_pc_bad(c, "expected [id, logprob, top], got %u elements", o->via.array.size);
	a = o->via.array.ptr;
	TRY(get_int(c, &a[0], &orc_field_token_id, &id));
	ret->token = (int32_t)id;
	TRY(get_float(c, &a[1], &orc_field_logprob, &ret->logprob));
	return get_tops(c, &a[2], &ret->top, &ret->n_top);
}

static int dec_map(struct orc_pc *c, const msgpack_object *o, const struct orc_mapdesc *md,
		   char *base);

static int get_counters(struct orc_pc *c, const msgpack_object *o, const struct orc_field *f,
			struct orc_counter **ret, uint32_t *ret_n)
{
	const msgpack_object_map *map = &o->via.map;

	TRY(want(c, o, MSGPACK_OBJECT_MAP, "map"));
	if (map->size > f->hi)
		return orc_pc_bad(c, "%u counters, at most %llu", map->size, (unsigned long long)f->hi);
	*ret = NULL;
	*ret_n = map->size;
	if (map->size && !(*ret = orc_pc_alloc(c->m, map->size * sizeof(**ret))))
		return nomem(c);
	for (uint32_t i = 0; i < map->size; i++) {
		size_t mark = orc_pc_push(&c->path, NULL, (long)i);
		struct orc_counter *k = &(*ret)[i];
		uint64_t v;

		TRY(get_str(c, &map->ptr[i].key, false, 1, ORC_PROTO_STR_MAX, &k->name));
		TRY(orc_pc_check_name(c, k->name.s, k->name.len, ORC_PROTO_STR_MAX));
		TRY(get_uint(c, &map->ptr[i].val, &orc_field_counter, &v));
		k->value = v;
		orc_pc_pop(&c->path, mark);
	}
	return 0;
}

/* Array-valued keys with a pointer at off and a uint32_t count at off2. */
static int dec_array(struct orc_pc *c, const struct orc_field *f, const msgpack_object *o, char *base)
{
	size_t elem;
	void *v;

	if (f->kind == ORC_FK_COUNTERS)
		return get_counters(c, o, f, AT(base, f->off, struct orc_counter *),
				    AT(base, f->off2, uint32_t));
	elem = f->kind == ORC_FK_TOPS ? sizeof(struct orc_top)
	     : f->kind == ORC_FK_LOGPROBS ? sizeof(struct orc_wire_logprob) : f->sub->size;
	TRY(get_array(c, o, f->hi, elem, &v));
	*AT(base, f->off, void *) = v;
	*AT(base, f->off2, uint32_t) = o->via.array.size;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		size_t mark = orc_pc_push(&c->path, NULL, (long)i);
		const msgpack_object *e = &o->via.array.ptr[i];
		char *dst = (char *)v + i * elem;

		if (f->kind == ORC_FK_TOPS)
			TRY(get_top(c, e, (struct orc_top *)(void *)dst));
		else if (f->kind == ORC_FK_LOGPROBS)
			TRY(get_logprob(c, e, (struct orc_wire_logprob *)(void *)dst));
		else
			TRY(dec_map(c, e, f->sub, dst));
		orc_pc_pop(&c->path, mark);
	}
	return 0;
}

static int get_strs(struct orc_pc *c, const struct orc_field *f, const msgpack_object *o,
		    struct orc_strs *ret)
{
	void *v;

	TRY(get_array(c, o, f->hi, sizeof(struct orc_str), &v));
	ret->v = v;
	ret->n = o->via.array.size;
	for (uint32_t i = 0; i < ret->n; i++) {
		size_t mark = orc_pc_push(&c->path, NULL, (long)i);

		TRY(get_str(c, &o->via.array.ptr[i], f->kind == ORC_FK_BINS,
			    f->kind == ORC_FK_STRS ? f->elo : 0, f->ehi, &ret->v[i]));
		orc_pc_pop(&c->path, mark);
	}
	return 0;
}

static int get_ids(struct orc_pc *c, const struct orc_field *f, const msgpack_object *o,
		   struct orc_ids *ret)
{
	void *v;

	TRY(get_array(c, o, f->hi, sizeof(int32_t), &v));
	ret->v = v;
	ret->n = o->via.array.size;
	for (uint32_t i = 0; i < ret->n; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];

		if (e->type != MSGPACK_OBJECT_POSITIVE_INTEGER || e->via.u64 > INT32_MAX)
			return orc_pc_bad(c, "element %u is not a token id (uint 0..%d)", i, INT32_MAX);
		ret->v[i] = (int32_t)e->via.u64;
	}
	return 0;
}

static int dec_value(struct orc_pc *c, const struct orc_field *f, const msgpack_object *o, char *base)
{
	char *p = base + f->off;
	uint64_t u;
	int64_t i;
	int role;

	switch (f->kind) {
	case ORC_FK_U32:
		TRY(get_uint(c, o, f, &u));
		*AT(p, 0, uint32_t) = (uint32_t)u;
		return 0;
	case ORC_FK_U64:
		return get_uint(c, o, f, AT(p, 0, uint64_t));
	case ORC_FK_I32:
		TRY(get_int(c, o, f, &i));
		*AT(p, 0, int32_t) = (int32_t)i;
		return 0;
	case ORC_FK_I64:
		return get_int(c, o, f, AT(p, 0, int64_t));
	case ORC_FK_F32:
		return get_float(c, o, f, AT(p, 0, float));
	case ORC_FK_BOOL:
		TRY(want(c, o, MSGPACK_OBJECT_BOOLEAN, "bool"));
		*AT(p, 0, bool) = o->via.boolean;
		return 0;
	case ORC_FK_STR:
	case ORC_FK_BYTES:
		return get_str(c, o, f->kind == ORC_FK_BYTES, f->kind == ORC_FK_STR ? (uint64_t)f->lo : 0,
			       f->hi, AT(p, 0, struct orc_str));
	case ORC_FK_NAME:
		TRY(want(c, o, MSGPACK_OBJECT_STR, "str"));
		TRY(orc_pc_check_name(c, o->via.str.ptr, o->via.str.size, f->hi));
		return copy_str(c, o->via.str.ptr, o->via.str.size, AT(p, 0, struct orc_str));
	case ORC_FK_ROLE:
		TRY(want(c, o, MSGPACK_OBJECT_STR, "str"));
		if ((role = orc_pc_role(o->via.str.ptr, o->via.str.size)) < 0)
			return orc_pc_bad(c, "role must be \"system\", \"user\" or \"assistant\"");
		*AT(p, 0, uint32_t) = (uint32_t)role;
		return 0;
	case ORC_FK_IDS:
		return get_ids(c, f, o, AT(p, 0, struct orc_ids));
	case ORC_FK_STRS:
	case ORC_FK_BINS:
		return get_strs(c, f, o, AT(p, 0, struct orc_strs));
	default:
		return dec_array(c, f, o, base);
	}
}

static const struct orc_field *find(const struct orc_mapdesc *md, const msgpack_object_str *k,
				    size_t *ret_i)
{
	for (size_t i = 0; i < md->n_fields; i++) {
		const char *key = md->fields[i].key;

		if (strlen(key) == k->size && memcmp(key, k->ptr, k->size) == 0) {
			*ret_i = i;
			return &md->fields[i];
		}
	}
	return NULL;
}

/* Decode a map by its table. Unknown keys are skipped; at the top level,
 * "type" and "id" were handled by the caller. */
static int dec_map(struct orc_pc *c, const msgpack_object *o, const struct orc_mapdesc *md,
		   char *base)
{
	uint64_t seen = 0;

	TRY(want(c, o, MSGPACK_OBJECT_MAP, "map"));
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		const struct orc_field *f;
		size_t idx, mark;

		if (kv->key.type != MSGPACK_OBJECT_STR)
			return orc_pc_bad(c, "map key #%u is a %s, not a str", i, type_name(kv->key.type));
		if (!(f = find(md, &kv->key.via.str, &idx)))
			continue;     /* unknown keys are ignored (orcd-protocol(7)) */
		mark = orc_pc_push(&c->path, f->key, 0);
		if (seen & (1ull << idx))
			return orc_pc_bad(c, "given twice");
		seen |= 1ull << idx;
		TRY(dec_value(c, f, &kv->val, base));
		if (f->presence == ORC_FP_HAS)
			*AT(base, md->has_off, uint32_t) |= f->has_bit;
		orc_pc_pop(&c->path, mark);
	}
	for (size_t i = 0; i < md->n_fields; i++) {
		if (md->fields[i].presence == ORC_FP_REQUIRED && !(seen & (1ull << i))) {
			size_t mark = orc_pc_push(&c->path, md->fields[i].key, 0);
			int r = orc_pc_bad(c, "missing");

			orc_pc_pop(&c->path, mark);
			return r;
		}
	}
	return 0;
}

/* "type" and "id" of the top-level map. */
static int envelope(struct orc_pc *c, const msgpack_object *o, uint32_t *ret_type, uint32_t *ret_id)
{
	bool have_type = false, have_id = false;

	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		const msgpack_object_str *k = &kv->key.via.str;
		bool is_type, is_id;

		if (kv->key.type != MSGPACK_OBJECT_STR)
			continue;   /* reported by dec_map */
		is_type = k->size == 4 && memcmp(k->ptr, "type", 4) == 0;
		is_id = k->size == 2 && memcmp(k->ptr, "id", 2) == 0;
		if (!is_type && !is_id)
			continue;
		if ((is_type && have_type) || (is_id && have_id))
			return orc_err_set(c->err, -EINVAL, "key '%s': given twice", is_type ? "type" : "id");
		if (kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER || kv->val.via.u64 > UINT32_MAX)
			return orc_err_set(c->err, -EINVAL, "key '%s': expected uint 0..%u, got %s",
					   is_type ? "type" : "id", UINT32_MAX, type_name(kv->val.type));
		if (is_type)
			*ret_type = (uint32_t)kv->val.via.u64;
		else
			*ret_id = (uint32_t)kv->val.via.u64;
		have_type |= is_type;
		have_id |= is_id;
	}
	if (!have_type)
		return orc_err_set(c->err, -EINVAL, "key 'type': missing");
	return 0;
}

static int decode_body(struct orc_pc *c, const msgpack_object *o, struct orc_msg *ret)
{
	const struct orc_msgdesc *d;
	uint32_t type, id;
	int r;

	if (o->type != MSGPACK_OBJECT_MAP)
		return orc_err_set(c->err, -EINVAL, "message: expected a map, got %s", type_name(o->type));
	/* type and id are kept in *ret as soon as read, for the error reply */
	TRY(envelope(c, o, &ret->type, &ret->id));
	type = ret->type;
	id = ret->id;
	if (!(d = orc_proto_desc(type)))
		return orc_err_set(c->err, -ENOMSG, "unknown message type %u", type);
	if (orc_msg_is_request(type) && id == 0)
		return orc_err_set(c->err, -EINVAL, "%s: key 'id': a request id must be 1..%u",
				   d->name, UINT32_MAX);
	orc_msg_init(ret, type, id);
	if ((r = dec_map(c, o, &d->body, (char *)&ret->u)) < 0) {
		orc_err_prefix(c->err, "%s", d->name);   /* returns 0 when err is NULL */
		return r;
	}
	if (d->check)
		return d->check(ret, c->err);
	return 0;
}

int orc_proto_decode(const void *payload, size_t len, struct orc_msg *ret, struct orc_err *err)
{
	struct orc_pc c = { .err = err, .m = ret };
	msgpack_unpacked u;
	size_t off = 0;
	uint32_t type, id;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (len > ORC_FRAME_MAX)
		return orc_err_set(err, -EBADMSG, "message of %zu bytes over the frame limit", len);
	if ((r = orc_prescan(payload, len, ORC_MSGPACK_DEPTH_MAX, ORC_MSGPACK_ITEMS_MAX, NULL, err)) < 0)
		return r;
	msgpack_unpacked_init(&u);
	switch (msgpack_unpack_next(&u, payload, len, &off)) {
	case MSGPACK_UNPACK_SUCCESS:
		r = off == len ? decode_body(&c, &u.data, ret)
			       : orc_err_set(err, -EBADMSG, "msgpack: bytes after the message");
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		r = orc_err_set(err, -ENOMEM, "msgpack: out of memory");
		break;
	default:
		r = orc_err_set(err, -EBADMSG, "msgpack: malformed message");
		break;
	}
	msgpack_unpacked_destroy(&u);
	if (r < 0) {
		type = ret->type;
		id = ret->id;
		orc_msg_clear(ret);
		if (r != -EBADMSG) {
			ret->type = type;
			ret->id = id;
		}
	}
	return r;
}
