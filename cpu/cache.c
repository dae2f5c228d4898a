/* cpu/cache — see cache.h for the contract.
 *
 * A set is `ways` line numbers kept in recency order, most recent first (move to front): a
 * hit moves its way to the front, a miss shifts the set down one way (the last, least
 * recently used, falls off) and puts the line in front.  A level of several slices (the
 * LLC) is slices x sets x ways: the slice is a hash of the line number, the set within the
 * slice its low bits.  That is exact LRU with no stamps,
 * and the common hit, on the most recent line of its set, is one compare.  An empty way
 * holds CACHE_EMPTY, which no line number equals (a line number is an address >> 6 or more).
 */
#include "cpu/cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_EMPTY UINT64_MAX

struct cache {
	uint64_t *tags;      /* slices * sets * ways, set-major, each set most recent first */
	uint64_t sets;       /* per slice */
	uint64_t set_mask;   /* sets - 1 */
	uint32_t slices;
	uint32_t ways;
};

bool cache_geom_valid(const struct cache_geom *g, unsigned line_shift)
{
	if (!g->ways || g->ways > CACHE_MAX_WAYS || !g->slices || line_shift < 6 || line_shift > 12)
		return false;
	uint64_t lines = g->size >> line_shift;
	uint64_t per_set = (uint64_t)g->ways * g->slices;
	if (!lines || lines << line_shift != g->size || lines % per_set)
		return false;
	uint64_t sets = lines / per_set;
	return (sets & (sets - 1)) == 0;
}

struct cache *cache_new(const struct cache_geom *g, unsigned line_shift)
{
	if (!cache_geom_valid(g, line_shift)) {
		errno = EINVAL;
		return NULL;
	}
	struct cache *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->ways = g->ways;
	c->slices = g->slices;
	c->sets = (g->size >> line_shift) / g->ways / g->slices;
	c->set_mask = c->sets - 1;
	size_t bytes = (size_t)(g->size >> line_shift) * sizeof(*c->tags);
	c->tags = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
	if (!c->tags) {
		free(c);
		return NULL;
	}
	memset(c->tags, 0xff, bytes);   /* CACHE_EMPTY */
	return c;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	free(c->tags);
	free(c);
}

uint64_t cache_sets(const struct cache *c) { return c->sets * c->slices; }

uint64_t cache_set_of(const struct cache *c, uint64_t line)
{
	uint64_t set = line & c->set_mask;

	if (c->slices == 1)
		return set;
	/* the slice: Fibonacci hashing of the line number, its high bits scaled to [0, slices)
	 * (multiply-shift, no division), so every bit of the address moves the slice */
	uint64_t h = line * 0x9e3779b97f4a7c15ULL;
	uint64_t slice = (uint64_t)(((unsigned __int128)h * c->slices) >> 64);
	return slice * c->sets + set;
}

bool cache_access(struct cache *c, uint64_t line)
{
	uint64_t *set = c->tags + cache_set_of(c, line) * c->ways;
	uint64_t prev = set[0];
	uint32_t i;

	if (prev == line)
		return true;
	/* shift the more recent ways down one until the line's way (a hit) or past the last
	 * (a miss: the least recently used line falls off) */
	set[0] = line;
	for (i = 1; i < c->ways; i++) {
		uint64_t t = set[i];
		set[i] = prev;
		if (t == line)
			return true;
		prev = t;
	}
	return false;
}

bool cache_contains(const struct cache *c, uint64_t line)
{
	const uint64_t *set = c->tags + cache_set_of(c, line) * c->ways;

	for (uint32_t i = 0; i < c->ways; i++)
		if (set[i] == line)
			return true;
	return false;
}

int cache_hier_init(struct cache_hier *h, const struct cache_hier_config *cfg, struct cache *llc)
{
	*h = (struct cache_hier){ .llc = llc, .line_shift = cfg->line_shift };
	if (!llc || !cache_geom_valid(&cfg->l1d, cfg->line_shift) || !cache_geom_valid(&cfg->l1i, cfg->line_shift) ||
	    !cache_geom_valid(&cfg->l2, cfg->line_shift))
		return -EINVAL;
	h->l1d = cache_new(&cfg->l1d, cfg->line_shift);
	h->l1i = cache_new(&cfg->l1i, cfg->line_shift);
	h->l2 = cache_new(&cfg->l2, cfg->line_shift);
	if (!h->l1d || !h->l1i || !h->l2) {
		cache_hier_destroy(h);
		return -ENOMEM;
	}
	return 0;
}

void cache_hier_destroy(struct cache_hier *h)
{
	cache_free(h->l1d);
	cache_free(h->l1i);
	cache_free(h->l2);
	h->l1d = h->l1i = h->l2 = NULL;
}

enum cache_level cache_hier_access(struct cache_hier *h, enum cache_stream s, uint64_t pa)
{
	uint64_t line = pa >> h->line_shift;
	/* each level that misses takes the line on the way in (non-inclusive, non-exclusive) */
	enum cache_level l = cache_access(s == CACHE_FETCH ? h->l1i : h->l1d, line) ? CACHE_L1
			   : cache_access(h->l2, line) ? CACHE_L2
			   : cache_access(h->llc, line) ? CACHE_LLC : CACHE_MEM;
	h->served[s][l]++;
	return l;
}
