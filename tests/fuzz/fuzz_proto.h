/* fuzz_proto.h -- the body of the protocol fuzzer, shared by the libFuzzer
 * harness (fuzz_proto.c with ORC_FUZZ_MAIN) and check_proto, which replays
 * the seed corpus and every crasher found so far. */
#ifndef ORC_FUZZ_PROTO_H
#define ORC_FUZZ_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Run one input through the frame reader, prescan, decoder and re-encoder.
 * Returns 0, or -1 when an invariant broke (the fuzzer then aborts). */
int orc_fuzz_proto_one(const uint8_t *data, size_t size);

#endif
