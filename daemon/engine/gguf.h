/* gguf.h -- read-only GGUF v2/v3 parser over an mmap'ed file.
 *
 * File layout (little-endian throughout):
 *   u32 magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
 *   n_kv x { gguf_str key | u32 vtype | value }
 *   n_tensors x { gguf_str name | u32 n_dims | u64 ne[n_dims] | u32 type | u64 offset }
 *   padding to general.alignment (default 32) | tensor data
 *   gguf_str = u64 len | len bytes (not NUL-terminated)
 *   array value = u32 elem_vtype | u64 n | n elements (arrays may nest)
 *
 * orc_gguf_open() validates the whole header, metadata and tensor table
 * before returning, so every accessor below is safe on any returned handle.
 * Strings and tensor data point into the mapping and live as long as the
 * handle. Library code: errors are returned, never printed.
 *
 * Errors: -EBADMSG for a malformed file (the message names the field and
 * its file offset), -E2BIG for arrays nested deeper than
 * ORC_GGUF_ARRAY_DEPTH_MAX, -ENOMEM, or the errno of open/mmap. Every count
 * is checked against the bytes left before memory is allocated for it.
 * Lookups by key and tensor name are hashed; a handle is immutable after
 * open and may be read from several threads at once. */
#ifndef ORC_GGUF_H
#define ORC_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "limits.h"
#include "quant.h"

enum orc_gguf_vtype {
	ORC_GGUF_UINT8 = 0, ORC_GGUF_INT8 = 1, ORC_GGUF_UINT16 = 2, ORC_GGUF_INT16 = 3,
	ORC_GGUF_UINT32 = 4, ORC_GGUF_INT32 = 5, ORC_GGUF_FLOAT32 = 6, ORC_GGUF_BOOL = 7,
	ORC_GGUF_STRING = 8, ORC_GGUF_ARRAY = 9, ORC_GGUF_UINT64 = 10, ORC_GGUF_INT64 = 11,
	ORC_GGUF_FLOAT64 = 12,
	ORC_GGUF_VTYPE_COUNT
};

struct orc_gguf;

struct orc_gguf_str {
	const char *ptr;   /* into the mapping; NOT NUL-terminated */
	uint64_t len;
};

/* An array value. Elements are read through the orc_gguf_arr_* accessors. */
struct orc_gguf_arr {
	enum orc_gguf_vtype type;  /* element type (ORC_GGUF_ARRAY when nested) */
	uint64_t n;
	const void *impl;          /* parser-private */
};

struct orc_gguf_kv {
	struct orc_gguf_str key;
	enum orc_gguf_vtype type;
	uint64_t file_offset;      /* of the key's length field */
	union {
		uint64_t u;            /* UINT8..UINT64 */
		int64_t i;             /* INT8..INT64 */
		double f;              /* FLOAT32, FLOAT64 */
		bool b;
		struct orc_gguf_str s;
		struct orc_gguf_arr arr;
	} v;
};

struct orc_gguf_tensor {
	const char *name;          /* NUL-terminated copy owned by the handle */
	uint32_t n_dims;
	uint64_t ne[ORC_GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
	enum orc_type type;
	uint64_t offset;           /* relative to the data section */
	uint64_t size;             /* bytes */
	uint64_t file_offset;      /* absolute offset of the data in the file */
	const void *data;          /* into the mapping */
	uint64_t info_offset;      /* of its entry in the tensor table (for messages) */
};

/* How orc_gguf_open_read() gets the bytes (see gguf_file.c).
 *  MMAP: map the file (offline tools). Reads past the end of a file that is
 *        truncated while mapped raise SIGBUS: never use it in a server.
 *  COPY: read() the whole file into anonymous memory. A file truncated or
 *        replaced later cannot affect the handle; a file that changes while
 *        it is read gives -EIO. orcd loads models this way.
 *  META: read() only as much of the start as the header, metadata and tensor
 *        table need (listing models); every tensor's data is NULL. */
enum orc_gguf_read { ORC_GGUF_MMAP, ORC_GGUF_COPY, ORC_GGUF_META };

/* Open and validate a file through mmap (ORC_GGUF_MMAP). */
int orc_gguf_open(const char *path, struct orc_gguf **ret, struct orc_err *err);
int orc_gguf_open_read(const char *path, enum orc_gguf_read how, struct orc_gguf **ret,
		       struct orc_err *err);
/* After a backend has copied the weights elsewhere: give the tensor data of
 * a COPY handle back to the system (whole pages past the data offset);
 * every tensor's data becomes NULL. A no-op for other handles. Not
 * thread-safe: call it before the handle is shared. */
void orc_gguf_drop_tensor_data(struct orc_gguf *g);
/* Parse a caller-owned buffer (tests, fuzzing); it must outlive the handle. */
int orc_gguf_open_mem(const void *data, size_t size, struct orc_gguf **ret, struct orc_err *err);
void orc_gguf_free(struct orc_gguf *g);  /* NULL is a no-op */

uint32_t orc_gguf_version(const struct orc_gguf *g);
uint64_t orc_gguf_alignment(const struct orc_gguf *g);
uint64_t orc_gguf_file_size(const struct orc_gguf *g);
uint64_t orc_gguf_data_offset(const struct orc_gguf *g);

/* ---- metadata ---- */
uint64_t orc_gguf_n_kv(const struct orc_gguf *g);
const struct orc_gguf_kv *orc_gguf_kv_at(const struct orc_gguf *g, uint64_t i);
const struct orc_gguf_kv *orc_gguf_find(const struct orc_gguf *g, const char *key); /* NULL if absent */

/* Typed getters: 0 on success; -ENOENT when the key is absent (err untouched);
 * -EBADMSG with a message naming the key when the type does not fit.
 * Integer getters accept any integer type whose value fits the result. */
int orc_gguf_get_u32(const struct orc_gguf *g, const char *key, uint32_t *ret, struct orc_err *err);
int orc_gguf_get_u64(const struct orc_gguf *g, const char *key, uint64_t *ret, struct orc_err *err);
int orc_gguf_get_i32(const struct orc_gguf *g, const char *key, int32_t *ret, struct orc_err *err);
int orc_gguf_get_f32(const struct orc_gguf *g, const char *key, float *ret, struct orc_err *err); /* FLOAT32/64 */
int orc_gguf_get_bool(const struct orc_gguf *g, const char *key, bool *ret, struct orc_err *err);
int orc_gguf_get_str(const struct orc_gguf *g, const char *key, struct orc_gguf_str *ret, struct orc_err *err);
int orc_gguf_get_arr(const struct orc_gguf *g, const char *key, struct orc_gguf_arr *ret, struct orc_err *err);

/* Array elements; i < arr->n is the caller's duty. O(1) for every type. */
struct orc_gguf_str orc_gguf_arr_str(const struct orc_gguf_arr *arr, uint64_t i);
int64_t orc_gguf_arr_int(const struct orc_gguf_arr *arr, uint64_t i);   /* integer and bool types */
double orc_gguf_arr_float(const struct orc_gguf_arr *arr, uint64_t i);  /* FLOAT32/64 */
struct orc_gguf_arr orc_gguf_arr_arr(const struct orc_gguf_arr *arr, uint64_t i); /* nested */

/* Does the string equal the NUL-terminated `s`? */
bool orc_gguf_str_eq(struct orc_gguf_str a, const char *s);
const char *orc_gguf_vtype_name(enum orc_gguf_vtype t);

/* ---- tensors ---- */
uint64_t orc_gguf_n_tensors(const struct orc_gguf *g);
const struct orc_gguf_tensor *orc_gguf_tensor_at(const struct orc_gguf *g, uint64_t i);
const struct orc_gguf_tensor *orc_gguf_find_tensor(const struct orc_gguf *g, const char *name);

#endif
