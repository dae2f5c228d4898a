/* cpu/cache — a set-associative cache hierarchy for the walk's memory references and the data
 * accesses they compete with (walk.refs = cache; README, Design: vCPUs, TLBs and the walk).
 *
 * Levels: a private L1D and L1I and a private L2 per vCPU, and one LLC shared by every vCPU.
 * Each level is an array of sets of `ways` lines with exact LRU.  The hierarchy is
 * non-inclusive and non-exclusive: a miss at a level fills that level on the way in (the
 * line ends up in every level it missed), and an eviction never touches another level (no
 * back-invalidation, no victim fill).  Skylake-SP's L2 is non-inclusive of the L1 and its
 * LLC non-inclusive of the L2 (Intel 64 and IA-32 Architectures Optimization Reference
 * Manual, order no. 248966, "Skylake Server microarchitecture"); its LLC fills mostly from
 * L2 evictions, which this model does not do (it fills the LLC on the way in, as older,
 * inclusive Intel LLCs did): a deviation stated in the README.
 *
 * Addresses are host-physical: the caller maps what it touches to one (walk.h: EPT pages get
 * synthetic addresses; guest memory uses its GPA, eptsim having no host frames).  The set is
 * the low bits of the line number, as in the hardware; a level of several slices (the LLC:
 * one slice per core on Skylake-SP) first picks the slice by a hash of the line number, as
 * Intel's undocumented slice hash spreads lines over the slices.
 *
 * Walk references go L1D -> L2 -> LLC -> DRAM (Intel's page walker loads are cached in L1D:
 * the PAGE_WALKER_LOADS.DTLB_L1/L2/L3/MEMORY events); data reads and writes the same; fetches
 * L1I -> L2 -> LLC.  Only walk references are charged a latency here: a data access's cost is
 * in cpu.cpi, and it is sent through the caches only so that it competes with the walk's lines.
 */
#ifndef EPTSIM_CPU_CACHE_H
#define EPTSIM_CPU_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define CACHE_MAX_WAYS 64

struct cache_geom {
	uint64_t size;       /* bytes, all slices */
	uint32_t ways;       /* 1..CACHE_MAX_WAYS */
	uint32_t slices;     /* >= 1; the slice is a hash of the line number */
};

struct cache;

/* size / line / ways / slices sets per slice: a power of two (at least one). */
bool cache_geom_valid(const struct cache_geom *g, unsigned line_shift);
/* NULL with errno = EINVAL for an invalid geometry, ENOMEM without memory. */
struct cache *cache_new(const struct cache_geom *g, unsigned line_shift);
void cache_free(struct cache *c);
uint64_t cache_sets(const struct cache *c);   /* all slices */
/* The set a line number maps to, 0..cache_sets() - 1. */
uint64_t cache_set_of(const struct cache *c, uint64_t line);
/* Look a line number up.  A hit makes it most recently used and returns true; a miss
 * inserts it as most recently used, evicting the least recently used line of its set if the
 * set is full, and returns false. */
bool cache_access(struct cache *c, uint64_t line);
/* Whether the line is cached (no LRU update). */
bool cache_contains(const struct cache *c, uint64_t line);

enum cache_level { CACHE_L1 = 0, CACHE_L2 = 1, CACHE_LLC = 2, CACHE_MEM = 3, CACHE_LEVELS = 4 };
enum cache_stream { CACHE_WALK = 0, CACHE_DATA = 1, CACHE_FETCH = 2, CACHE_STREAMS = 3 };

struct cache_hier {
	struct cache *l1d, *l1i, *l2;    /* this vCPU's */
	struct cache *llc;               /* shared: not owned */
	unsigned line_shift;
	uint64_t served[CACHE_STREAMS][CACHE_LEVELS];   /* accesses by where they were served */
};

struct cache_hier_config {
	struct cache_geom l1d, l1i, l2;
	unsigned line_shift;
};

/* The private levels of hier; llc is shared.  0 or -EINVAL / -ENOMEM. */
int cache_hier_init(struct cache_hier *h, const struct cache_hier_config *cfg, struct cache *llc);
void cache_hier_destroy(struct cache_hier *h);
/* One access of stream s to host-physical address pa: the level that served it. */
enum cache_level cache_hier_access(struct cache_hier *h, enum cache_stream s, uint64_t pa);

#endif
