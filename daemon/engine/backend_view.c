/* backend_view.c -- the view checks every backend makes before an op uses
 * a tensor: shape, whole blocks, stride, bounds in its buffer, alignment.
 * Each backend adds its own type checks (and stricter alignment). */
#include "config.h"

#include <errno.h>

#include "backend.h"

const char *orc_tensor_type_name(enum orc_type t)
{
	const struct orc_type_info *ti = orc_type_info(t);
	return ti ? ti->name : "?";
}

int orc_tensor_check_layout(const struct orc_tensor *t, uint64_t buf_size, const char *op, const char *what,
			    uint32_t ne0, uint32_t ne1, struct orc_err *err)
{
	uint64_t row;

	if ((ne0 && t->ne0 != ne0) || (ne1 && t->ne1 != ne1))
		return orc_err_set(err, -EINVAL, "%s: %s is [%u, %u], expected [%u, %u]", op, what, t->ne1, t->ne0,
				   ne1 ? ne1 : t->ne1, ne0 ? ne0 : t->ne0);
	row = orc_type_row_bytes(t->type, t->ne0);
	if (row == 0 && t->ne0 != 0)
		return orc_err_set(err, -EINVAL, "%s: %s rows of %u elements are not whole %s blocks", op, what,
				   t->ne0, orc_tensor_type_name(t->type));
	if (t->ne1 > 1 && t->nb1 < row)
		return orc_err_set(err, -EINVAL, "%s: %s row stride %llu is below the row size %llu", op, what,
				   (unsigned long long)t->nb1, (unsigned long long)row);
	if (t->ne1 > 0 && (t->offset > buf_size || (uint64_t)(t->ne1 - 1) * t->nb1 + row > buf_size - t->offset))
		return orc_err_set(err, -EINVAL, "%s: %s [%u, %u] at offset %llu lies outside its buffer of %llu bytes",
				   op, what, t->ne1, t->ne0, (unsigned long long)t->offset, (unsigned long long)buf_size);
	if ((t->type == ORC_TYPE_F32 || t->type == ORC_TYPE_I32) && (t->offset | t->nb1) % 4 != 0)
		return orc_err_set(err, -EINVAL, "%s: %s is not 4-byte aligned", op, what);
	return 0;
}

int orc_topk_check_k(const struct orc_tensor *x, const struct orc_tensor *out_logit,
		     const struct orc_tensor *out_id, struct orc_err *err)
{
	const uint32_t K = out_logit->ne0;

	if (K < 1 || K > x->ne0 || K > ORC_SAMPLE_TOPK_MAX || out_logit->nb1 != (uint64_t)K * 4 ||
	    out_id->nb1 != (uint64_t)K * 4)
		return orc_err_set(err, -EINVAL, "topk: K = %u for rows of %u (at most %d, rows packed)", K,
				   x->ne0, ORC_SAMPLE_TOPK_MAX);
	return 0;
}
