/* prescan.h -- a bounds check of MessagePack bytes before msgpack-c sees
 * them. msgpack-c allocates an array or map as soon as it reads the declared
 * count (msgpack-c issue #1013: 5 bytes can ask for ~96 GB), so every count
 * is checked here against the bytes that are actually left. */
#ifndef ORC_PRESCAN_H
#define ORC_PRESCAN_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Check that [p, p+n) is exactly one complete MessagePack object: every
 * array count <= bytes left, every map count <= (bytes left) / 2, every
 * str/bin/ext length <= bytes left, nesting of arrays/maps <= depth_max,
 * total objects (scalars, containers, keys, values) <= items_max, no
 * reserved byte (0xc1), nothing after the object. 0 or -EBADMSG with the
 * offset and the reason in err. *ret_items (optional) gets the object count. */
int orc_prescan(const uint8_t *p, size_t n, unsigned depth_max, size_t items_max,
		size_t *ret_items, struct orc_err *err);

#endif
