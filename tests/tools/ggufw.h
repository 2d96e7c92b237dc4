/* ggufw.h -- a small GGUF writer for tests and tools (the model generator):
 * metadata of every value type including nested arrays, tensors of any ggml
 * type placed at the file's alignment, and overrides (magic, version, counts,
 * offsets, raw bytes) that let tests craft malformed files on purpose.
 *
 * Usage: w = ggufw_new(); add keys and tensors; ggufw_write_file() or
 * ggufw_to_mem(); ggufw_free(). Allocation failures are sticky and reported
 * by the write call, so the add functions return nothing. Tensor data is
 * borrowed: it must stay valid until the file is written. */
#ifndef ORC_GGUFW_H
#define ORC_GGUFW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gguf.h"

struct ggufw;

struct ggufw *ggufw_new(void);       /* GGUF v3, alignment 32; NULL on ENOMEM */
void ggufw_free(struct ggufw *w);    /* NULL is a no-op */

/* ---- header (defaults are valid; these exist to craft bad files) ---- */
void ggufw_set_magic(struct ggufw *w, const char magic[4]);
void ggufw_set_version(struct ggufw *w, uint32_t version);
/* Write these counts instead of the real ones. */
void ggufw_override_counts(struct ggufw *w, uint64_t n_tensors, uint64_t n_kv);
/* Place tensor data at multiples of `a` (not checked: any value, even 0,
 * is written as given; 0 places data without padding). With write_key, also
 * add the key general.alignment (uint32) = a. */
void ggufw_set_alignment(struct ggufw *w, uint32_t a, bool write_key);

/* ---- metadata, low level: ggufw_key() then exactly one value ---- */
void ggufw_key(struct ggufw *w, const char *key, enum orc_gguf_vtype type);
void ggufw_keyn(struct ggufw *w, const char *key, size_t len, enum orc_gguf_vtype type);
void ggufw_u8(struct ggufw *w, uint8_t v);
void ggufw_i8(struct ggufw *w, int8_t v);
void ggufw_u16(struct ggufw *w, uint16_t v);
void ggufw_i16(struct ggufw *w, int16_t v);
void ggufw_u32(struct ggufw *w, uint32_t v);
void ggufw_i32(struct ggufw *w, int32_t v);
void ggufw_f32(struct ggufw *w, float v);
void ggufw_bool(struct ggufw *w, bool v);
void ggufw_u64(struct ggufw *w, uint64_t v);
void ggufw_i64(struct ggufw *w, int64_t v);
void ggufw_f64(struct ggufw *w, double v);
void ggufw_str(struct ggufw *w, const char *s);
void ggufw_strn(struct ggufw *w, const char *s, size_t len);
/* An array header; the n elements follow (for ORC_GGUF_ARRAY elements, each
 * is itself a ggufw_arr() header plus its elements). */
void ggufw_arr(struct ggufw *w, enum orc_gguf_vtype elem, uint64_t n);
/* Arbitrary bytes into the metadata section (not counted as a key). */
void ggufw_raw(struct ggufw *w, const void *p, size_t n);

/* ---- metadata, one call per key ---- */
void ggufw_kv_u32(struct ggufw *w, const char *key, uint32_t v);
void ggufw_kv_i32(struct ggufw *w, const char *key, int32_t v);
void ggufw_kv_u64(struct ggufw *w, const char *key, uint64_t v);
void ggufw_kv_f32(struct ggufw *w, const char *key, float v);
void ggufw_kv_bool(struct ggufw *w, const char *key, bool v);
void ggufw_kv_str(struct ggufw *w, const char *key, const char *v);
void ggufw_kv_arr_str(struct ggufw *w, const char *key, const char *const *v, uint64_t n);
void ggufw_kv_arr_i32(struct ggufw *w, const char *key, const int32_t *v, uint64_t n);
void ggufw_kv_arr_f32(struct ggufw *w, const char *key, const float *v, uint64_t n);

/* ---- tensors ---- */
/* A tensor of ggml type `type` with n_dims dimensions ne[0..n_dims-1] (ne[0]
 * is the row length). Its size comes from the type table; data (borrowed)
 * holds that many bytes, or is NULL: then the fill callback, else zeros,
 * provides them. Returns the tensor's index. */
int ggufw_tensor(struct ggufw *w, const char *name, uint32_t type, uint32_t n_dims,
		 const uint64_t *ne, const void *data);
/* Everything explicit: name bytes (may hold NUL), any type number and
 * n_dims, and the data size in bytes. */
int ggufw_tensor_raw(struct ggufw *w, const char *name, size_t name_len, uint32_t type,
		     uint32_t n_dims, const uint64_t *ne, const void *data, uint64_t size);
/* Write `offset` in the tensor table instead of the real one (the data is
 * still stored where it would be). */
void ggufw_tensor_set_offset(struct ggufw *w, int idx, uint64_t offset);

/* Produces tensor idx's `size` bytes into dst when its data is NULL;
 * returns 0 or a negative errno that aborts the write. */
typedef int (*ggufw_fill_fn)(void *user, int idx, void *dst, uint64_t size);
void ggufw_set_fill(struct ggufw *w, ggufw_fill_fn fn, void *user);

/* ---- output: 0 or a negative errno ---- */
int ggufw_write_fp(struct ggufw *w, FILE *f);
int ggufw_write_file(struct ggufw *w, const char *path);
/* The whole file in a malloc'ed buffer (the caller frees it). */
int ggufw_to_mem(struct ggufw *w, uint8_t **ret, size_t *ret_len);
/* Bytes from the start of the file to the end of the tensor table. */
uint64_t ggufw_header_bytes(const struct ggufw *w);

#endif
