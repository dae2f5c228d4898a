/* sim/rng — deterministic pseudo-random streams (xoshiro256**, seeded by splitmix64).
 *
 * Every actor draws from its own stream, derived from (run seed, stream id), so the order in
 * which the engine interleaves actors never changes what any one actor draws: that is what
 * makes batched and per-access execution give the same results.
 */
#ifndef EPTSIM_SIM_RNG_H
#define EPTSIM_SIM_RNG_H

#include <stdint.h>

struct rng { uint64_t s[4]; };

void rng_seed(struct rng *r, uint64_t seed, uint64_t stream);

static inline uint64_t rng_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rng_rotl(s[3], 45);
	return result;
}

/* Uniform in [0, 1). */
static inline double rng_double(struct rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

/* Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for n < 2^32). */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

/* Exponentially distributed with the given mean (>= 0). */
double rng_exp(struct rng *r, double mean);
/* Geometric on {1, 2, ...} with the given mean (>= 1). */
uint64_t rng_geom(struct rng *r, double mean);

#endif
