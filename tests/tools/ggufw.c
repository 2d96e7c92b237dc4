/* ggufw.c -- a small GGUF writer for tests and tools (see ggufw.h).
 * Metadata bytes accumulate in one buffer as they are added; the tensor
 * table and data are laid out when the file is written. Little-endian host. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ggufw.h"
#include "quant.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
};

struct wtensor {
	char *name;
	size_t name_len;
	uint32_t type, n_dims;   /* n_dims as written; at most 8 ne values are kept */
	uint64_t ne[8];
	const void *data;
	uint64_t size;
	bool offset_set;
	uint64_t offset;      /* override written in the table */
};

struct ggufw {
	char magic[4];
	uint32_t version;
	bool counts_set;
	uint64_t n_tensors_override, n_kv_override;
	uint64_t alignment;
	uint64_t n_kv;
	struct buf kv;
	struct wtensor *t;
	size_t n_t, cap_t;
	ggufw_fill_fn fill;
	void *fill_user;
	bool oom;
};

static void buf_put(struct ggufw *w, struct buf *b, const void *p, size_t n)
{
	if (w->oom || n == 0)
		return;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (!np) {
			w->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

struct ggufw *ggufw_new(void)
{
	struct ggufw *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	memcpy(w->magic, "GGUF", 4);
	w->version = 3;
	w->alignment = ORC_GGUF_DEFAULT_ALIGNMENT;
	return w;
}

void ggufw_free(struct ggufw *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_t; i++)
		free(w->t[i].name);
	free(w->t);
	free(w->kv.p);
	free(w);
}

void ggufw_set_magic(struct ggufw *w, const char magic[4]) { memcpy(w->magic, magic, 4); }
void ggufw_set_version(struct ggufw *w, uint32_t version) { w->version = version; }

void ggufw_override_counts(struct ggufw *w, uint64_t n_tensors, uint64_t n_kv)
{
	w->counts_set = true;
	w->n_tensors_override = n_tensors;
	w->n_kv_override = n_kv;
}

void ggufw_set_alignment(struct ggufw *w, uint32_t a, bool write_key)
{
	w->alignment = a;
	if (write_key)
		ggufw_kv_u32(w, "general.alignment", a);
}

/* ---- metadata ---- */

void ggufw_raw(struct ggufw *w, const void *p, size_t n) { buf_put(w, &w->kv, p, n); }
void ggufw_u8(struct ggufw *w, uint8_t v) { ggufw_raw(w, &v, 1); }
void ggufw_i8(struct ggufw *w, int8_t v) { ggufw_raw(w, &v, 1); }
void ggufw_u16(struct ggufw *w, uint16_t v) { ggufw_raw(w, &v, 2); }
void ggufw_i16(struct ggufw *w, int16_t v) { ggufw_raw(w, &v, 2); }
void ggufw_u32(struct ggufw *w, uint32_t v) { ggufw_raw(w, &v, 4); }
void ggufw_i32(struct ggufw *w, int32_t v) { ggufw_raw(w, &v, 4); }
void ggufw_f32(struct ggufw *w, float v) { ggufw_raw(w, &v, 4); }
void ggufw_u64(struct ggufw *w, uint64_t v) { ggufw_raw(w, &v, 8); }
void ggufw_i64(struct ggufw *w, int64_t v) { ggufw_raw(w, &v, 8); }
void ggufw_f64(struct ggufw *w, double v) { ggufw_raw(w, &v, 8); }
void ggufw_bool(struct ggufw *w, bool v) { ggufw_u8(w, v ? 1 : 0); }

void ggufw_strn(struct ggufw *w, const char *s, size_t len)
{
	ggufw_u64(w, len);
	ggufw_raw(w, s, len);
}

void ggufw_str(struct ggufw *w, const char *s) { ggufw_strn(w, s, strlen(s)); }

void ggufw_arr(struct ggufw *w, enum orc_gguf_vtype elem, uint64_t n)
{
	ggufw_u32(w, (uint32_t)elem);
	ggufw_u64(w, n);
}

void ggufw_keyn(struct ggufw *w, const char *key, size_t len, enum orc_gguf_vtype type)
{
	ggufw_strn(w, key, len);
	ggufw_u32(w, (uint32_t)type);
	w->n_kv++;
}

void ggufw_key(struct ggufw *w, const char *key, enum orc_gguf_vtype type)
{
	ggufw_keyn(w, key, strlen(key), type);
}

void ggufw_kv_u32(struct ggufw *w, const char *key, uint32_t v)
{
	ggufw_key(w, key, ORC_GGUF_UINT32);
	ggufw_u32(w, v);
}

void ggufw_kv_i32(struct ggufw *w, const char *key, int32_t v)
{
	ggufw_key(w, key, ORC_GGUF_INT32);
	ggufw_i32(w, v);
}

void ggufw_kv_u64(struct ggufw *w, const char *key, uint64_t v)
{
	ggufw_key(w, key, ORC_GGUF_UINT64);
	ggufw_u64(w, v);
}

void ggufw_kv_f32(struct ggufw *w, const char *key, float v)
{
	ggufw_key(w, key, ORC_GGUF_FLOAT32);
	ggufw_f32(w, v);
}

void ggufw_kv_bool(struct ggufw *w, const char *key, bool v)
{
	ggufw_key(w, key, ORC_GGUF_BOOL);
	ggufw_bool(w, v);
}

void ggufw_kv_str(struct ggufw *w, const char *key, const char *v)
{
	ggufw_key(w, key, ORC_GGUF_STRING);
	ggufw_str(w, v);
}

void ggufw_kv_arr_str(struct ggufw *w, const char *key, const char *const *v, uint64_t n)
{
	ggufw_key(w, key, ORC_GGUF_ARRAY);
	ggufw_arr(w, ORC_GGUF_STRING, n);
	for (uint64_t i = 0; i < n; i++)
		ggufw_str(w, v[i]);
}

void ggufw_kv_arr_i32(struct ggufw *w, const char *key, const int32_t *v, uint64_t n)
{
	ggufw_key(w, key, ORC_GGUF_ARRAY);
	ggufw_arr(w, ORC_GGUF_INT32, n);
	ggufw_raw(w, v, (size_t)n * 4);
}

void ggufw_kv_arr_f32(struct ggufw *w, const char *key, const float *v, uint64_t n)
{
	ggufw_key(w, key, ORC_GGUF_ARRAY);
	ggufw_arr(w, ORC_GGUF_FLOAT32, n);
	ggufw_raw(w, v, (size_t)n * 4);
}

/* ---- tensors ---- */

int ggufw_tensor_raw(struct ggufw *w, const char *name, size_t name_len, uint32_t type,
		     uint32_t n_dims, const uint64_t *ne, const void *data, uint64_t size)
{
	if (w->n_t == w->cap_t) {
		size_t cap = w->cap_t ? 2 * w->cap_t : 16;
		struct wtensor *nt = realloc(w->t, cap * sizeof(*nt));
		if (!nt) {
			w->oom = true;
			return -1;
		}
		w->t = nt;
		w->cap_t = cap;
	}
	struct wtensor *t = &w->t[w->n_t];
	memset(t, 0, sizeof(*t));
	t->name = malloc(name_len + 1);
	if (!t->name) {
		w->oom = true;
		return -1;
	}
	memcpy(t->name, name, name_len);
	t->name[name_len] = '\0';
	t->name_len = name_len;
	t->type = type;
	t->n_dims = n_dims;
	for (uint32_t d = 0; d < n_dims && d < 8; d++)
		t->ne[d] = ne[d];
	t->data = data;
	t->size = size;
	return (int)w->n_t++;
}

int ggufw_tensor(struct ggufw *w, const char *name, uint32_t type, uint32_t n_dims,
		 const uint64_t *ne, const void *data)
{
	uint64_t size = n_dims ? orc_type_row_bytes((enum orc_type)type, ne[0]) : 0;
	for (uint32_t d = 1; d < n_dims; d++)
		size *= ne[d];
	return ggufw_tensor_raw(w, name, strlen(name), type, n_dims, ne, data, size);
}

void ggufw_tensor_set_offset(struct ggufw *w, int idx, uint64_t offset)
{
	if (idx < 0 || (size_t)idx >= w->n_t)
		return;
	w->t[idx].offset_set = true;
	w->t[idx].offset = offset;
}

void ggufw_set_fill(struct ggufw *w, ggufw_fill_fn fn, void *user)
{
	w->fill = fn;
	w->fill_user = user;
}

/* ---- layout and output ---- */

static uint64_t pad_to(uint64_t x, uint64_t a)
{
	return a ? (x + a - 1) / a * a : x;
}

static uint32_t ne_written(const struct wtensor *t)
{
	return t->n_dims > 8 ? 8 : t->n_dims;
}

uint64_t ggufw_header_bytes(const struct ggufw *w)
{
	uint64_t n = 24 + w->kv.len;
	for (size_t i = 0; i < w->n_t; i++)
		n += 8 + w->t[i].name_len + 4 + 8ull * ne_written(&w->t[i]) + 4 + 8;
	return n;
}

static int put_zeros(FILE *f, uint64_t n)
{
	static const uint8_t z[256];
	while (n) {
		size_t k = n > sizeof(z) ? sizeof(z) : (size_t)n;
		if (fwrite(z, 1, k, f) != k)
			return -EIO;
		n -= k;
	}
	return 0;
}

static int put(FILE *f, const void *p, size_t n)
{
	return fwrite(p, 1, n, f) == n ? 0 : -EIO;
}

static int write_table(struct ggufw *w, FILE *f)
{
	uint64_t nt = w->counts_set ? w->n_tensors_override : w->n_t;
	uint64_t nkv = w->counts_set ? w->n_kv_override : w->n_kv;
	uint64_t data_off = 0;   /* as ggml lays data out: each tensor at a multiple of the alignment */
	int r = 0;

	r |= put(f, w->magic, 4);
	r |= put(f, &w->version, 4);
	r |= put(f, &nt, 8);
	r |= put(f, &nkv, 8);
	r |= put(f, w->kv.p ? (const void *)w->kv.p : "", w->kv.len);
	for (size_t i = 0; i < w->n_t && r == 0; i++) {
		const struct wtensor *t = &w->t[i];
		uint64_t len = t->name_len;
		uint64_t off = t->offset_set ? t->offset : data_off;
		data_off = pad_to(data_off + t->size, w->alignment);
		r |= put(f, &len, 8);
		r |= put(f, t->name, t->name_len);
		r |= put(f, &t->n_dims, 4);
		r |= put(f, t->ne, 8 * (size_t)ne_written(t));
		r |= put(f, &t->type, 4);
		r |= put(f, &off, 8);
	}
	return r ? -EIO : 0;
}

static int write_data(struct ggufw *w, FILE *f, uint64_t pos)
{
	uint64_t start = pad_to(pos, w->alignment);
	int r = put_zeros(f, start - pos);

	pos = start;
	for (size_t i = 0; i < w->n_t && r == 0; i++) {
		const struct wtensor *t = &w->t[i];
		if (t->data) {
			r = put(f, t->data, (size_t)t->size);
		} else if (w->fill && t->size) {
			void *tmp = malloc((size_t)t->size);
			if (!tmp)
				return -ENOMEM;
			r = w->fill(w->fill_user, (int)i, tmp, t->size);
			if (r == 0)
				r = put(f, tmp, (size_t)t->size);
			free(tmp);
		} else {
			r = put_zeros(f, t->size);
		}
		pos += t->size;
		uint64_t next = pad_to(pos, w->alignment);
		if (r == 0)
			r = put_zeros(f, next - pos);
		pos = next;
	}
	return r;
}

int ggufw_write_fp(struct ggufw *w, FILE *f)
{
	if (w->oom)
		return -ENOMEM;
	int r = write_table(w, f);
	if (r == 0 && w->n_t > 0)
		r = write_data(w, f, ggufw_header_bytes(w));
	return r;
}

int ggufw_write_file(struct ggufw *w, const char *path)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -errno;
	int r = ggufw_write_fp(w, f);
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	return r;
}

int ggufw_to_mem(struct ggufw *w, uint8_t **ret, size_t *ret_len)
{
	char *p = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&p, &n);
	if (!f)
		return -errno;
	int r = ggufw_write_fp(w, f);
	if (fclose(f) != 0 && r == 0)
		r = -ENOMEM;
	if (r < 0) {
		free(p);
		return r;
	}
	*ret = (uint8_t *)p;
	*ret_len = n;
	return 0;
}
