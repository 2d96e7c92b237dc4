/* gguf_impl.h -- internals shared by the GGUF parser (gguf.c) and its
 * accessors (gguf_get.c): the handle, the array index and little-endian
 * loads. Not part of the contract: include gguf.h instead. */
#ifndef ORC_GGUF_IMPL_H
#define ORC_GGUF_IMPL_H

#include <stdint.h>
#include <string.h>

#include "gguf.h"

/* ---- the handle ---- */

/* The arena: every parser allocation, freed at once. */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char mem[];
};

/* Array element access state (struct orc_gguf_arr.impl). */
struct arr_impl {
	const uint8_t *data;              /* first element, in the mapping */
	const uint64_t *off;              /* STRING: offset of element i from data */
	const struct orc_gguf_arr *sub;   /* ARRAY: the nested arrays */
};

struct orc_gguf {
	const uint8_t *base;     /* the file, or its first buf_len bytes */
	uint64_t size;           /* of the file */
	uint64_t buf_len;        /* bytes at base (== size unless ORC_GGUF_READ_META) */
	void *map;               /* NULL for orc_gguf_open_mem(); else munmap'ed by free */
	size_t map_len;
	bool private_copy;       /* map is anonymous memory holding a read() copy */
	uint32_t version;
	uint64_t alignment;
	uint64_t data_offset;
	uint64_t n_kv, n_tensors;
	struct orc_gguf_kv *kv;              /* [n_kv] */
	struct orc_gguf_tensor *tensors;     /* [n_tensors] */
	uint64_t *kv_hash, *t_hash;          /* open addressing: index + 1, 0 = empty */
	uint64_t kv_mask, t_mask;
	struct arena_chunk *arena;
};

/* Parse the first `size` bytes of a file of `file_size` bytes (gguf.c). */
int orc_gguf_parse(const void *data, size_t size, uint64_t file_size, struct orc_gguf **ret,
		   struct orc_err *err);

/* Bytes of one scalar element; 0 for string and array. */
extern const uint8_t orc_gguf_vtype_size[ORC_GGUF_VTYPE_COUNT];

/* A printable copy of at most 48 bytes of s, for messages. */
const char *orc_gguf_printable(const char *s, uint64_t len, char buf[64]);

/* Index of a metadata key, or UINT64_MAX. */
uint64_t orc_gguf_kv_index(const struct orc_gguf *g, const char *key, size_t len);

static inline bool orc_gguf_kv_key_eq(const struct orc_gguf_kv *kv, const char *key, size_t len)
{
	return kv->key.len == len && memcmp(kv->key.ptr, key, len) == 0;
}

/* ---- little-endian loads (the host is little-endian) ---- */

static inline uint32_t orc_ld32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t orc_ld64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* FNV-1a */
static inline uint64_t orc_gguf_hash(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

#endif
