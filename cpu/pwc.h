/* cpu/pwc — a paging-structure cache (PWC), one per translation dimension.
 *
 * Intel keeps the upper-level entries of a walk (PML4E, PDPTE, PDE) in small caches so a TLB
 * miss can skip the levels above the deepest cached entry.  eptsim has one PWC for the guest
 * dimension (keyed by GVA) and one for the EPT dimension (keyed by GPA).  Level numbering
 * follows KVM: level 4 = PML4E (key = addr >> 39), 3 = PDPTE (addr >> 30), 2 = PDE
 * (addr >> 21).  Only non-leaf entries are cached (a large-page PDE is a leaf, it is a TLB
 * entry, never a PWC entry).  Each level is its own set-associative LRU array.  The value is
 * an opaque 64-bit word (the walker stores what lets it resume: a table reference).
 *
 * Flush = epoch bump, as for the TLB.
 */
#ifndef EPTSIM_CPU_PWC_H
#define EPTSIM_CPU_PWC_H

#include <stdbool.h>
#include <stdint.h>

#define PWC_MIN_LEVEL 2
#define PWC_MAX_LEVEL 4

struct pwc_config {
	/* entries/ways for levels 2 (PDE), 3 (PDPTE), 4 (PML4E); entries 0 disables a level */
	uint32_t entries[PWC_MAX_LEVEL + 1];
	uint32_t ways[PWC_MAX_LEVEL + 1];
};

struct pwc_counters { uint64_t lookups, hits[PWC_MAX_LEVEL + 1], misses, flushes; };

struct pwc;

struct pwc *pwc_new(const struct pwc_config *cfg);   /* NULL + errno=EINVAL if invalid */
void pwc_free(struct pwc *p);

/* Find the deepest cached level for addr, searching level 2 first, then 3, then 4, but
 * only levels >= min_level.  Returns the level hit (2..4) and stores its value, or 0 on a
 * miss.  LRU updated on hit. */
int pwc_lookup(struct pwc *p, uint64_t addr, int min_level, uint64_t *val);
/* Cache the entry at level (2..4) for addr. */
void pwc_fill(struct pwc *p, int level, uint64_t addr, uint64_t val);
void pwc_flush(struct pwc *p);
const struct pwc_counters *pwc_counters(const struct pwc *p);

#endif
