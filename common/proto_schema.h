/* proto_schema.h -- internal to the codec: how proto_schema.c describes
 * each message as a table of keys (name, value kind, range, where it lives
 * in the C struct) that proto_codec.c walks to encode and decode. */
#ifndef ORC_PROTO_SCHEMA_H
#define ORC_PROTO_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "proto.h"

enum orc_fkind {
	ORC_FK_U32,      /* uint32_t; range [lo, hi] */
	ORC_FK_U64,      /* uint64_t; range [lo, hi] */
	ORC_FK_I32,      /* int32_t; range [lo, hi] (hi read as int64) */
	ORC_FK_I64,      /* int64_t */
	ORC_FK_F32,      /* float; range [flo, fhi], finite */
	ORC_FK_BOOL,     /* bool */
	ORC_FK_STR,      /* struct orc_str, str on the wire, len in [lo, hi] */
	ORC_FK_BYTES,    /* struct orc_str, bin on the wire (str accepted) */
	ORC_FK_NAME,     /* struct orc_str: 1..hi bytes, no '/', NUL, control
			  * bytes or "..", not starting with '.' */
	ORC_FK_ROLE,     /* uint32_t enum orc_role, str "system"/"user"/"assistant" */
	ORC_FK_IDS,      /* struct orc_ids: [uint 0..INT32_MAX], n <= hi */
	ORC_FK_STRS,     /* struct orc_strs: [str], n <= hi, each len in [elo, ehi] */
	ORC_FK_BINS,     /* struct orc_strs: [bin], n <= hi, each len <= ehi */
	ORC_FK_TOPS,     /* struct orc_top * at off, uint32_t count at off2: [[id, lp]] */
	ORC_FK_LOGPROBS, /* struct orc_wire_logprob * at off, count at off2: [[id, lp, tops]] */
	ORC_FK_COUNTERS, /* struct orc_counter * at off, count at off2: {name: uint} */
	ORC_FK_STRUCTS,  /* an array of maps described by `sub`: elements of
			  * sub->size bytes at off, count at off2 */
};

/* How a key may be absent. */
enum orc_fpresence {
	ORC_FP_REQUIRED,  /* always encoded; missing -> BAD_REQUEST */
	ORC_FP_DEFAULT,   /* always encoded; missing -> orc_msg_init()'s default */
	ORC_FP_HAS,       /* encoded only when its `has` bit is set */
};

/* float ranges: exclusive lower bound; -inf allowed (log-probabilities) */
#define ORC_FF_GT_LO    0x1u
#define ORC_FF_NEG_INF  0x2u

struct orc_field;

/* A map (a message body or an array element). When has_off is not
 * ORC_NO_HAS, a uint32_t at that offset records which optional keys came. */
#define ORC_NO_HAS ((size_t)-1)
struct orc_mapdesc {
	const struct orc_field *fields;
	size_t n_fields;
	size_t size;          /* bytes of one element, for ORC_FK_STRUCTS */
	size_t has_off;
};

struct orc_field {
	const char *key;
	uint8_t kind;         /* enum orc_fkind */
	uint8_t presence;     /* enum orc_fpresence */
	uint8_t fflags;       /* ORC_FF_* */
	uint32_t has_bit;     /* for ORC_FP_HAS */
	size_t off, off2;     /* within the map's struct */
	int64_t lo;
	uint64_t hi;          /* count/length caps; integer upper bound */
	uint32_t elo, ehi;    /* element length bounds (STRS, BINS) */
	double flo, fhi;
	const struct orc_mapdesc *sub;   /* ORC_FK_STRUCTS */
};

/* One message type. */
struct orc_msgdesc {
	uint32_t type;
	const char *name;
	struct orc_mapdesc body;
	/* Cross-key rules after every key is checked; NULL when none. */
	int (*check)(const struct orc_msg *m, struct orc_err *err);
};

/* Values inside logprob arrays and counters maps. */
extern const struct orc_field orc_field_token_id, orc_field_logprob, orc_field_counter;

/* The table for a type; NULL when unknown. */
const struct orc_msgdesc *orc_proto_desc(uint32_t type);

#endif
