/* rng.h -- the portable pseudo-random generator behind seeded sampling.
 * xoshiro256** 1.0 (Blackman and Vigna, https://prng.di.unimi.it/), its
 * 256-bit state filled from a 64-bit seed by four successive splitmix64
 * outputs. Pure integer arithmetic: the same seed gives the same stream on
 * every machine, compiler and thread count. Library code. */
#ifndef ORC_RNG_H
#define ORC_RNG_H

#include <stdint.h>

struct orc_rng {
	uint64_t s[4];
};

/* splitmix64: *state += 0x9e3779b97f4a7c15, then the output is
 *   z = *state; z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
 *   z = (z ^ (z >> 27)) * 0x94d049bb133111eb; return z ^ (z >> 31). */
uint64_t orc_splitmix64(uint64_t *state);

/* s[0..3] = the first four splitmix64 outputs from state = seed.
 * (Never all zero: splitmix64 is a bijection of a counter.) */
void orc_rng_seed(struct orc_rng *r, uint64_t seed);

/* The next 64-bit output of xoshiro256**:
 *   result = rotl(s[1] * 5, 7) * 9; t = s[1] << 17;
 *   s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
 *   s[2] ^= t; s[3] = rotl(s[3], 45). */
uint64_t orc_rng_next(struct orc_rng *r);

/* A uniform double in [0, 1): (orc_rng_next() >> 11) * 2^-53, exact. */
double orc_rng_uniform(struct orc_rng *r);

#endif
