// SPDX-License-Identifier: GPL-2.0
/* cpu/pwc — a paging-structure cache.  See pwc.h for the contract.
 *
 * One set-associative array per level (2..4), all in one cache-line aligned allocation.
 * The set index is a mask (sets is a power of two).  LRU is exact: a per-PWC 64-bit clock
 * stamps every touch and the victim is the smallest stamp.
 *
 * A flush bumps a 64-bit epoch; an entry is live only while its epoch is current.  Epoch 0
 * is never current, so zeroed ways start out empty, and a 64-bit epoch cannot wrap in any
 * run.  Unlike the TLB there is no refill accounting, so a flushed entry is as good as an
 * empty way: nothing can make it live again.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/pwc.h"

struct pwc_entry {
	uint64_t key;		/* addr >> pwc_shift(level) */
	uint64_t val;
	uint64_t epoch;		/* live iff == pwc->epoch */
	uint64_t lru;		/* clock value at the last touch */
};

struct pwc_array {
	struct pwc_entry *e;	/* sets * ways entries, set-major */
	uint64_t set_mask;	/* sets - 1 */
	uint32_t ways;		/* 0 = level disabled */
	uint32_t shift;
};

struct pwc {
	struct pwc_array lv[PWC_MAX_LEVEL + 1];	/* only PWC_MIN_LEVEL.. are used */
	uint64_t epoch;
	uint64_t clock;
	struct pwc_entry *slots;
	struct pwc_counters cnt;
};

/* A level-L entry maps 2^(12 + 9 * (L - 1)) bytes: level 2 -> 21, 3 -> 30, 4 -> 39. */
static inline unsigned pwc_shift(int level)
{
	return 12 + 9 * (unsigned)(level - 1);
}

static bool pwc_geom_valid(uint32_t entries, uint32_t ways)
{
	uint32_t sets;

	if (!entries)
		return true;
	if (!ways || entries % ways)
		return false;
	sets = entries / ways;
	return (sets & (sets - 1)) == 0;
}

struct pwc *pwc_new(const struct pwc_config *cfg)
{
	struct pwc *p;
	size_t total = 0, bytes, off = 0;
	int l;

	for (l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL; l++) {
		if (!pwc_geom_valid(cfg->entries[l], cfg->ways[l])) {
			errno = EINVAL;
			return NULL;
		}
		total += cfg->entries[l];
	}

	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	/* aligned_alloc wants a multiple of the alignment; never ask for 0 bytes. */
	bytes = total * sizeof(struct pwc_entry);
	bytes = (bytes + 63) & ~(size_t)63;
	if (!bytes)
		bytes = 64;
	p->slots = aligned_alloc(64, bytes);
	if (!p->slots) {
		free(p);
		return NULL;
	}
	memset(p->slots, 0, bytes);

	for (l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL; l++) {
		struct pwc_array *a = &p->lv[l];

		a->shift = pwc_shift(l);
		if (!cfg->entries[l])
			continue;
		a->e = p->slots + off;
		a->ways = cfg->ways[l];
		a->set_mask = cfg->entries[l] / cfg->ways[l] - 1;
		off += cfg->entries[l];
	}
	p->epoch = 1;
	return p;
}

void pwc_free(struct pwc *p)
{
	if (!p)
		return;
	free(p->slots);
	free(p);
}

static inline struct pwc_entry *pwc_set(const struct pwc_array *a, uint64_t key)
{
	return a->e + (size_t)(key & a->set_mask) * a->ways;
}

int pwc_lookup(struct pwc *p, uint64_t addr, int min_level, uint64_t *val)
{
	int l;

	p->cnt.lookups++;
	if (min_level < PWC_MIN_LEVEL)
		min_level = PWC_MIN_LEVEL;
	for (l = min_level; l <= PWC_MAX_LEVEL; l++) {
		const struct pwc_array *a = &p->lv[l];
		uint64_t key = addr >> a->shift;
		struct pwc_entry *set;
		uint32_t w;

		if (!a->ways)
			continue;
		set = pwc_set(a, key);
		for (w = 0; w < a->ways; w++) {
			struct pwc_entry *e = &set[w];

			if (e->key == key && e->epoch == p->epoch) {
				e->lru = ++p->clock;
				if (val)
					*val = e->val;
				p->cnt.hits[l]++;
				return l;
			}
		}
	}
	p->cnt.misses++;
	return 0;
}

void pwc_fill(struct pwc *p, int level, uint64_t addr, uint64_t val)
{
	struct pwc_array *a;
	struct pwc_entry *set, *victim = NULL, *lru;
	uint64_t key;
	uint32_t w;

	if (level < PWC_MIN_LEVEL || level > PWC_MAX_LEVEL)
		return;
	a = &p->lv[level];
	if (!a->ways)
		return;
	key = addr >> a->shift;
	set = pwc_set(a, key);
	/* ways >= 1; if way 0 is not live, an invalid victim wins over lru anyway. */
	lru = set;
	for (w = 0; w < a->ways; w++) {
		struct pwc_entry *e = &set[w];

		if (e->epoch != p->epoch) {
			/* Empty or flushed; keep looking in case key is live further on. */
			if (!victim)
				victim = e;
			continue;
		}
		if (e->key == key) {
			victim = e;
			goto store;
		}
		if (e->lru < lru->lru)
			lru = e;
	}
	if (!victim)
		victim = lru;
store:
	victim->key = key;
	victim->val = val;
	victim->epoch = p->epoch;
	victim->lru = ++p->clock;
}

void pwc_flush(struct pwc *p)
{
	p->epoch++;
	p->cnt.flushes++;
}

const struct pwc_counters *pwc_counters(const struct pwc *p)
{
	return &p->cnt;
}
