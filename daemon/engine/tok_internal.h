/* tok_internal.h -- what the tokenizer's files share: the immutable
 * struct orc_tok, its hash tables, the per-call scratch buffers, and the
 * entry points of the algorithm files (BPE, SentencePiece, pre-tokenizer,
 * UTF-8). Not a contract: only daemon/engine/tok*.c and detok.c include it. */
#ifndef ORC_TOK_INTERNAL_H
#define ORC_TOK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tokenizer.h"

/* Token types as GGUF's tokenizer.ggml.token_type stores them. */
enum orc_tok_type {
	ORC_TOK_TYPE_UNDEFINED = 0,
	ORC_TOK_TYPE_NORMAL = 1,
	ORC_TOK_TYPE_UNKNOWN = 2,
	ORC_TOK_TYPE_CONTROL = 3,
	ORC_TOK_TYPE_USER_DEFINED = 4,
	ORC_TOK_TYPE_UNUSED = 5,
	ORC_TOK_TYPE_BYTE = 6,
};

/* Per-token flags. */
#define ORC_TOKF_EOG     0x01u  /* ends generation */
#define ORC_TOKF_LSTRIP  0x02u  /* special token eats whitespace on its left */
#define ORC_TOKF_RSTRIP  0x04u  /* ... and on its right */
#define ORC_TOKF_SKIP    0x08u  /* dropped from text under ORC_DETOK_SKIP_SPECIAL */

struct orc_tok_entry {
	uint32_t text_off, text_len;    /* the entry as stored, in t->text */
	uint32_t piece_off, piece_len;  /* the bytes it decodes to, in t->piece */
	float score;                    /* SentencePiece merge priority */
	uint8_t type;                   /* enum orc_tok_type */
	uint8_t flags;                  /* ORC_TOKF_* */
};

/* Open-addressing table: token text -> id. A slot carries what a lookup
 * compares (hash, text offset and length), so a probe touches the slot and
 * the text only. */
struct orc_tok_slot {
	uint32_t hash;
	uint32_t id1;      /* id + 1; 0 = empty */
	uint32_t text_off, text_len;
};
struct orc_tok_strtab {
	struct orc_tok_slot *slots;  /* [mask + 1] */
	uint32_t mask;
};

/* Open-addressing table: (left id, right id) -> merge rank and result id. */
struct orc_tok_merge {
	uint64_t key;      /* (left << 32 | right) + 1; 0 = empty */
	int32_t rank;
	int32_t result;
};
struct orc_tok_mergetab {
	struct orc_tok_merge *slots;  /* [mask + 1] */
	uint32_t mask;
	uint32_t n;                   /* merges stored */
	uint32_t n_skipped;           /* merges naming text not in the vocabulary */
};

struct orc_pretok;   /* tok_pretok.c */

struct orc_tok {
	enum orc_tok_kind kind;
	char model[16];                 /* tokenizer.ggml.model */
	char pre[32];                   /* tokenizer.ggml.pre, "default" when absent */
	uint32_t n_vocab;
	struct orc_tok_entry *entries;  /* [n_vocab] */
	char *text;                     /* all entries' text, each NUL-terminated */
	char *piece;                    /* all entries' decoded bytes */
	uint32_t max_text_len;
	struct orc_tok_strtab vocab;
	struct orc_tok_mergetab merges; /* BPE only */
	int32_t byte_id[256];           /* token for a raw byte (BPE char or <0xNN>), -1 none */
	int32_t bos, eos, unk, pad, eot, eom;  /* -1 when absent */
	bool add_bos, add_eos;
	bool add_space_prefix;          /* SPM: " " before the text; stripped again in decode */
	bool ignore_merges;             /* BPE (llama3): a word that is a token is taken whole */
	bool nfc;                       /* BPE (qwen2): NFC-normalize before pre-tokenizing */
	bool spm_words;                 /* SPM: no entry has "▁" after another character */
	uint32_t short_word;            /* words of up to this many bytes are merged by a
					 * scan, longer ones with a heap (tests set 0) */
	int32_t *special;               /* [n_special] CONTROL/USER_DEFINED/UNKNOWN ids, longest first */
	uint32_t n_special;
	struct orc_pretok *pretok;      /* BPE only */
};

/* ---- growable buffers used during one call ---- */
struct orc_tok_ids {
	int32_t *v;
	size_t n, cap;
};
int orc_tok_ids_push(struct orc_tok_ids *ids, int32_t id);

struct orc_tok_bytes {
	char *v;
	size_t n, cap;
};
int orc_tok_bytes_reserve(struct orc_tok_bytes *b, size_t extra);
int orc_tok_bytes_append(struct orc_tok_bytes *b, const void *p, size_t n);

/* One symbol of a word being merged (BPE and SPM). */
struct orc_tok_sym {
	int32_t prev, next;    /* neighbours in the word, -1 at the ends */
	uint32_t off, len;     /* bytes of the word it covers; len 0 once merged away */
	int32_t id;            /* current token (BPE), -1 when none */
};

/* A candidate merge of two neighbouring symbols. */
struct orc_tok_pair {
	float prio;            /* BPE: rank (lower first); SPM: -score (lower first) */
	int32_t left, right;   /* symbol indices */
	int32_t lid, rid;      /* BPE: the ids it was computed for; SPM: lid = merged length */
	int32_t res;           /* BPE: the merged token */
};

/* Scratch reused across the fragments and words of one encode call. */
struct orc_tok_scratch {
	struct orc_tok_sym *syms;
	size_t n_syms, cap_syms;
	struct orc_tok_pair *heap;
	size_t n_heap, cap_heap;
	struct orc_tok_bytes buf;       /* SPM: escaped text; BPE: normalized text */
	struct orc_tok_bytes mapped;    /* BPE: byte-level text of a word (ignore_merges) */
	uint32_t *words;                /* [2 * n_words] offsets and lengths */
	size_t n_words, cap_words;
	void *match_data;               /* pcre2_match_data, per call */
};
void orc_tok_scratch_free(struct orc_tok_scratch *s);
int orc_tok_syms_reserve(struct orc_tok_scratch *s, size_t n);
int orc_tok_heap_push(struct orc_tok_scratch *s, const struct orc_tok_pair *p);
bool orc_tok_heap_pop(struct orc_tok_scratch *s, struct orc_tok_pair *ret);

/* ---- hash tables (tok_vocab.c) ---- */
uint32_t orc_tok_hash(const char *s, size_t len);
int orc_tok_strtab_init(struct orc_tok_strtab *h, uint32_t n);
void orc_tok_strtab_free(struct orc_tok_strtab *h);
/* Insert id (whose text, of hash `hash`, is in t->text); -EEXIST when the
 * text is already there, with that entry's id in *ret_existing. */
int orc_tok_strtab_insert(struct orc_tok *t, int32_t id, uint32_t hash, int32_t *ret_existing);
int32_t orc_tok_find(const struct orc_tok *t, const char *s, size_t len);  /* -1 if absent */
/* The same with the hash computed already (0 < len <= max_text_len). The
 * builder hashes a batch, prefetches, then looks up: tables are built with
 * memory latency hidden. */
int32_t orc_tok_find_hashed(const struct orc_tok *t, const char *s, size_t len, uint32_t hash);
void orc_tok_prefetch(const struct orc_tok *t, uint32_t hash);
void orc_tok_merge_prefetch(const struct orc_tok_mergetab *m, int32_t left, int32_t right);
int orc_tok_mergetab_init(struct orc_tok_mergetab *m, uint32_t n);
void orc_tok_mergetab_free(struct orc_tok_mergetab *m);
void orc_tok_mergetab_put(struct orc_tok_mergetab *m, int32_t left, int32_t right,
			  int32_t rank, int32_t result);
const struct orc_tok_merge *orc_tok_merge_find(const struct orc_tok_mergetab *m,
					       int32_t left, int32_t right);

static inline const char *orc_tok_text(const struct orc_tok *t, int32_t id)
{
	return t->text + t->entries[id].text_off;
}

/* ---- UTF-8 (tok_utf8.c) ---- */
/* Length of the valid UTF-8 prefix of s; == len when all of it is valid. */
size_t orc_utf8_valid_prefix(const char *s, size_t len);
/* Bytes of the sequence a lead byte starts (1 for invalid lead bytes). */
size_t orc_utf8_seq_len(unsigned char lead);
size_t orc_utf8_encode(uint32_t cp, char out[4]);
/* Append s to out, replacing ill-formed sequences by U+FFFD (one per maximal
 * subpart, as Unicode recommends). Unless `final`, a trailing sequence that
 * is incomplete but could still become valid is not consumed: the number of
 * bytes consumed is returned in *ret_used. */
int orc_utf8_sanitize(const char *s, size_t len, bool final, struct orc_tok_bytes *out,
		      size_t *ret_used);

/* ---- pre-tokenizer (tok_pretok.c) ---- */
/* Choose the regexes for tokenizer.ggml.pre; -EINVAL naming an unknown value. */
int orc_pretok_new(const char *pre, struct orc_pretok **ret, bool *ret_nfc,
		   bool *ret_ignore_merges, bool *ret_add_bos, struct orc_err *err);
void orc_pretok_free(struct orc_pretok *p);
void orc_pretok_match_data_free(void *match_data);
/* Split text[0, len) (valid UTF-8) into words: s->words gets offset/length pairs. */
int orc_pretok_split(const struct orc_pretok *p, const char *text, size_t len,
		     struct orc_tok_scratch *s, struct orc_err *err);
/* NFC-normalize into s->buf when the text is not ASCII; *ret points to the
 * text to use (the input itself or s->buf). */
int orc_pretok_nfc(const char *text, size_t len, struct orc_tok_scratch *s,
		   const char **ret, size_t *ret_len, struct orc_err *err);

/* ---- algorithms ---- */
#define ORC_TOK_SHORT_WORD 48   /* the scan paths' array size */
/* Byte-level BPE of one raw fragment (tok_bpe.c). */
int orc_tok_bpe_fragment(const struct orc_tok *t, const char *text, size_t len,
			 struct orc_tok_scratch *s, struct orc_tok_ids *out, struct orc_err *err);
/* GPT-2's byte -> code point table (tok_bpe.c). */
uint32_t orc_tok_byte_to_cp(uint8_t b);
/* Code point -> byte, -1 when the code point is not a byte-level character. */
int orc_tok_cp_to_byte(uint32_t cp);
/* SentencePiece BPE of one raw fragment; `prefix_space` prepends " " (tok_spm.c). */
int orc_tok_spm_fragment(const struct orc_tok *t, const char *text, size_t len,
			 bool prefix_space, struct orc_tok_scratch *s, struct orc_tok_ids *out,
			 struct orc_err *err);

/* ---- special tokens (tok_special.c) ---- */
/* A piece of the text to encode: raw text (id -1) or a special token. */
struct orc_tok_frag {
	uint32_t off, len;
	int32_t id;
};
struct orc_tok_frags {
	struct orc_tok_frag *v;
	size_t n, cap;
};
/* EOG flags, the list of special entries, Phi-3's rstrip; once, at build. */
int orc_tok_build_special(struct orc_tok *t, const struct orc_gguf *g, struct orc_err *err);
/* Split text at the special tokens it contains (into *frags, reused). */
int orc_tok_partition(const struct orc_tok *t, const char *text, size_t len,
		      struct orc_tok_frags *frags, struct orc_err *err);

/* ---- decoding (detok.c) ---- */
/* Fill every entry's decoded bytes (t->piece); called once by orc_tok_new. */
int orc_tok_build_pieces(struct orc_tok *t, struct orc_err *err);

#endif
