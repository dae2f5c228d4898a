// SPDX-License-Identifier: GPL-2.0
/* Tests for cpu/pwc: directed cases, then a differential run against a naive reference. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/pwc.h"

#define MB2	0x200000ull
#define GB1	0x40000000ull
#define GB512	0x8000000000ull

static struct pwc *pwc_mk(uint32_t e2, uint32_t w2, uint32_t e3, uint32_t w3, uint32_t e4,
			  uint32_t w4)
{
	struct pwc_config cfg = { 0 };
	struct pwc *p;

	cfg.entries[2] = e2;
	cfg.ways[2] = w2;
	cfg.entries[3] = e3;
	cfg.ways[3] = w3;
	cfg.entries[4] = e4;
	cfg.ways[4] = w4;
	p = pwc_new(&cfg);
	assert_non_null(p);
	return p;
}

static void test_geometry(void **state)
{
	struct pwc_config cfg;
	struct pwc *p;

	memset(&cfg, 0, sizeof(cfg));
	p = pwc_new(&cfg);
	assert_non_null(p);
	assert_int_equal(pwc_lookup(p, 0, 2, NULL), 0);
	pwc_fill(p, 2, 0, 1);
	assert_int_equal(pwc_lookup(p, 0, 2, NULL), 0);
	pwc_free(p);

	memset(&cfg, 0, sizeof(cfg));
	cfg.entries[2] = 24;	/* 6 sets */
	cfg.ways[2] = 4;
	errno = 0;
	assert_null(pwc_new(&cfg));
	assert_int_equal(errno, EINVAL);

	memset(&cfg, 0, sizeof(cfg));
	cfg.entries[4] = 2;
	cfg.ways[4] = 0;
	errno = 0;
	assert_null(pwc_new(&cfg));
	assert_int_equal(errno, EINVAL);

	memset(&cfg, 0, sizeof(cfg));
	cfg.entries[3] = 6;
	cfg.ways[3] = 4;
	errno = 0;
	assert_null(pwc_new(&cfg));
	assert_int_equal(errno, EINVAL);

	/* Levels 0 and 1 are not PWC levels: their slots are ignored. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.entries[0] = 3;
	cfg.entries[1] = 5;
	cfg.ways[1] = 2;
	cfg.entries[2] = 32;
	cfg.ways[2] = 4;
	cfg.entries[3] = 4;
	cfg.ways[3] = 4;
	cfg.entries[4] = 2;
	cfg.ways[4] = 2;
	p = pwc_new(&cfg);
	assert_non_null(p);
	pwc_free(p);
	pwc_free(NULL);
}

static void test_deepest_first(void **state)
{
	struct pwc *p = pwc_mk(32, 4, 4, 4, 2, 2);
	const struct pwc_counters *c = pwc_counters(p);
	uint64_t a = 5 * GB512 + 7 * GB1 + 9 * MB2 + 0x1234, v = 0;

	pwc_fill(p, 4, a, 44);
	assert_int_equal(pwc_lookup(p, a, 2, &v), 4);
	assert_int_equal(v, 44);
	pwc_fill(p, 2, a, 22);
	pwc_fill(p, 3, a, 33);
	assert_int_equal(pwc_lookup(p, a, 2, &v), 2);
	assert_int_equal(v, 22);
	assert_int_equal(pwc_lookup(p, a, 1, &v), 2);
	assert_int_equal(pwc_lookup(p, a, 3, &v), 3);
	assert_int_equal(v, 33);
	assert_int_equal(pwc_lookup(p, a, 4, &v), 4);
	assert_int_equal(v, 44);
	v = 7;
	assert_int_equal(pwc_lookup(p, a, 5, &v), 0);
	assert_int_equal(v, 7);

	/* Key granularity: the PDE covers its 2M, the PDPTE its 1G, the PML4E its 512G. */
	assert_int_equal(pwc_lookup(p, a - 0x1234 + MB2 - 1, 2, &v), 2);
	assert_int_equal(pwc_lookup(p, a - 0x1234 + MB2, 2, &v), 3);
	assert_int_equal(pwc_lookup(p, a - 9 * MB2 + GB1, 2, &v), 4);
	assert_int_equal(pwc_lookup(p, 6 * GB512, 2, &v), 0);

	assert_int_equal(c->lookups, 10);
	assert_int_equal(c->hits[2], 3);
	assert_int_equal(c->hits[3], 2);
	assert_int_equal(c->hits[4], 3);
	assert_int_equal(c->misses, 2);
	pwc_free(p);
}

static void test_disabled_level_and_bad_fill(void **state)
{
	struct pwc *p = pwc_mk(16, 4, 0, 0, 4, 4);
	uint64_t v;

	pwc_fill(p, 3, 0x1234, 3);	/* level 3 absent: dropped */
	pwc_fill(p, 1, 0x1234, 1);	/* not a PWC level */
	pwc_fill(p, 5, 0x1234, 5);
	assert_int_equal(pwc_lookup(p, 0x1234, 2, &v), 0);
	pwc_fill(p, 4, 0x1234, 4);
	assert_int_equal(pwc_lookup(p, 0x1234, 3, &v), 4);
	assert_int_equal(v, 4);
	pwc_free(p);
}

static void test_fill_updates_value(void **state)
{
	struct pwc *p = pwc_mk(4, 4, 0, 0, 0, 0);
	uint64_t v;
	int i;

	for (i = 0; i < 4; i++)
		pwc_fill(p, 2, (uint64_t)i * MB2, 100 + i);
	pwc_fill(p, 2, 0, 999);		/* update in place and touch: no duplicate */
	pwc_fill(p, 2, 4 * MB2, 104);	/* evicts entry 1, the LRU */
	assert_int_equal(pwc_lookup(p, 0, 2, &v), 2);
	assert_int_equal(v, 999);
	assert_int_equal(pwc_lookup(p, MB2, 2, &v), 0);
	for (i = 2; i < 5; i++) {
		assert_int_equal(pwc_lookup(p, (uint64_t)i * MB2, 2, &v), 2);
		assert_int_equal(v, 100 + i);
	}
	pwc_free(p);
}

/* 16 entries, 4 ways: 4 sets; PDE keys 0, 4, 8, 12, 16 share set 0. */
static void test_lru_eviction(void **state)
{
	struct pwc *p = pwc_mk(16, 4, 0, 0, 0, 0);
	uint64_t v;
	int i;

	for (i = 0; i < 4; i++)
		pwc_fill(p, 2, (uint64_t)i * 4 * MB2, i);
	assert_int_equal(pwc_lookup(p, 0, 2, &v), 2);
	pwc_fill(p, 2, 16 * MB2, 4);
	assert_int_equal(pwc_lookup(p, 4 * MB2, 2, &v), 0);
	for (i = 0; i < 5; i++) {
		if (i == 1)
			continue;
		assert_int_equal(pwc_lookup(p, (uint64_t)i * 4 * MB2, 2, &v), 2);
		assert_int_equal(v, i);
	}
	pwc_free(p);
}

static void test_flush(void **state)
{
	struct pwc *p = pwc_mk(16, 4, 4, 4, 2, 2);
	const struct pwc_counters *c = pwc_counters(p);
	uint64_t v;
	int i;

	pwc_fill(p, 2, 0x12345678, 2);
	pwc_fill(p, 3, 0x12345678, 3);
	pwc_fill(p, 4, 0x12345678, 4);
	pwc_flush(p);
	assert_int_equal(pwc_lookup(p, 0x12345678, 2, &v), 0);
	pwc_fill(p, 3, 0x12345678, 33);
	assert_int_equal(pwc_lookup(p, 0x12345678, 2, &v), 3);
	assert_int_equal(v, 33);
	assert_int_equal(c->flushes, 1);
	assert_int_equal(c->misses, 1);

	/* Flushed ways are reused before live ones are evicted. */
	pwc_flush(p);
	for (i = 0; i < 4; i++)
		pwc_fill(p, 3, (uint64_t)i * GB1, i);
	for (i = 0; i < 4; i++)
		assert_int_equal(pwc_lookup(p, (uint64_t)i * GB1, 3, &v), 3);
	assert_int_equal(c->flushes, 2);
	pwc_free(p);
}

/* ---- naive reference ---- */

#define REF_MAX_WAYS 16

struct ref_e {
	uint64_t key, val;
};

struct ref_level {
	uint32_t sets, ways;
	struct ref_e *e;	/* e[set * ways + i], i = 0 is the MRU */
	uint32_t *n;
};

struct ref_pwc {
	struct ref_level lv[PWC_MAX_LEVEL + 1];
	struct pwc_counters cnt;
};

static void ref_init(struct ref_pwc *r, const struct pwc_config *cfg)
{
	int l;

	memset(r, 0, sizeof(*r));
	for (l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL; l++) {
		if (!cfg->entries[l])
			continue;
		assert_true(cfg->ways[l] <= REF_MAX_WAYS);
		r->lv[l].ways = cfg->ways[l];
		r->lv[l].sets = cfg->entries[l] / cfg->ways[l];
		r->lv[l].e = calloc(cfg->entries[l], sizeof(struct ref_e));
		r->lv[l].n = calloc(r->lv[l].sets, sizeof(uint32_t));
		assert_non_null(r->lv[l].e);
		assert_non_null(r->lv[l].n);
	}
}

static void ref_fini(struct ref_pwc *r)
{
	int l;

	for (l = 0; l <= PWC_MAX_LEVEL; l++) {
		free(r->lv[l].e);
		free(r->lv[l].n);
	}
}

static uint64_t ref_key(uint64_t addr, int level)
{
	uint64_t span = 4096;
	int i;

	for (i = 1; i < level; i++)
		span *= 512;
	return addr / span;
}

/* Full search of every set; checks the entry sits in the set it belongs to. */
static bool ref_find(struct ref_level *lv, uint64_t key, uint32_t *set, uint32_t *pos)
{
	uint32_t s, i;

	for (s = 0; s < lv->sets; s++) {
		for (i = 0; i < lv->n[s]; i++) {
			if (lv->e[s * lv->ways + i].key == key) {
				assert_int_equal(s, key % lv->sets);
				*set = s;
				*pos = i;
				return true;
			}
		}
	}
	return false;
}

/* Move (or insert) e to the front of its set's list, dropping entry pos if pos < n. */
static void ref_to_front(struct ref_level *lv, uint32_t set, uint32_t pos, struct ref_e e)
{
	struct ref_e *l = &lv->e[set * lv->ways];
	uint32_t i;

	if (pos >= lv->n[set]) {
		assert_true(lv->n[set] < lv->ways);
		pos = lv->n[set]++;
	}
	for (i = pos; i > 0; i--)
		l[i] = l[i - 1];
	l[0] = e;
}

static int ref_lookup(struct ref_pwc *r, uint64_t addr, int min_level, uint64_t *val)
{
	uint32_t set, pos;
	int l;

	r->cnt.lookups++;
	for (l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL; l++) {
		struct ref_level *lv = &r->lv[l];

		if (l < min_level || !lv->ways || !ref_find(lv, ref_key(addr, l), &set, &pos))
			continue;
		*val = lv->e[set * lv->ways + pos].val;
		ref_to_front(lv, set, pos, lv->e[set * lv->ways + pos]);
		r->cnt.hits[l]++;
		return l;
	}
	r->cnt.misses++;
	return 0;
}

static void ref_fill(struct ref_pwc *r, int level, uint64_t addr, uint64_t val)
{
	struct ref_level *lv;
	struct ref_e e = { 0, val };
	uint32_t set, pos;

	if (level < PWC_MIN_LEVEL || level > PWC_MAX_LEVEL || !r->lv[level].ways)
		return;
	lv = &r->lv[level];
	e.key = ref_key(addr, level);
	if (!ref_find(lv, e.key, &set, &pos)) {
		set = (uint32_t)(e.key % lv->sets);
		/* Full set: the last (LRU) entry is overwritten; otherwise append. */
		pos = lv->n[set] == lv->ways ? lv->ways - 1 : lv->n[set];
	}
	ref_to_front(lv, set, pos, e);
}

static void ref_flush(struct ref_pwc *r)
{
	int l;

	for (l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL; l++)
		if (r->lv[l].ways)
			memset(r->lv[l].n, 0, r->lv[l].sets * sizeof(uint32_t));
	r->cnt.flushes++;
}

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Addresses from a few 512G regions, a few 1G regions each, a few 2M regions each, so
 * that keys collide at the upper levels and spread at the lower ones. */
static uint64_t pick_addr(uint64_t *rng)
{
	uint64_t x = xorshift64(rng);

	return (x % 3) * GB512 + ((x >> 8) % 6) * GB1 * 5 + ((x >> 16) % 40) * MB2 +
	       ((x >> 32) & (MB2 - 1));
}

static void test_diff(void **state)
{
	struct pwc_config cfg = { 0 };
	struct pwc *p;
	struct ref_pwc ref;
	uint64_t rng = 0x2545f4914f6cdd1dull;
	const struct pwc_counters *c;
	unsigned i;
	int l;

	/* Working set: 3 PML4Es (2 fit), 18 PDPTEs (8 fit), 720 PDEs (32 fit). */
	cfg.entries[2] = 32;
	cfg.ways[2] = 4;
	cfg.entries[3] = 8;
	cfg.ways[3] = 2;
	cfg.entries[4] = 2;
	cfg.ways[4] = 2;
	p = pwc_new(&cfg);
	assert_non_null(p);
	ref_init(&ref, &cfg);

	for (i = 0; i < 400000; i++) {
		unsigned op = (unsigned)(xorshift64(&rng) % 1000);
		uint64_t addr = pick_addr(&rng);

		if (op < 3) {
			pwc_flush(p);
			ref_flush(&ref);
		} else if (op < 100) {
			l = (int)(xorshift64(&rng) % 5) + 1;	/* 1..5: out of range too */
			pwc_fill(p, l, addr, addr ^ (uint64_t)l);
			ref_fill(&ref, l, addr, addr ^ (uint64_t)l);
		} else {
			int min = (int)(xorshift64(&rng) % 100 < 80 ? 2 :
					xorshift64(&rng) % 5 + 1);
			uint64_t got_v = 0, want_v = 0;
			int got = pwc_lookup(p, addr, min, &got_v);
			int want = ref_lookup(&ref, addr, min, &want_v);

			assert_int_equal(got, want);
			if (want) {
				assert_int_equal(got_v, want_v);
				continue;
			}
			/* A walker fills the levels it had to walk. */
			for (l = PWC_MAX_LEVEL; l >= PWC_MIN_LEVEL; l--) {
				if (l < min || (xorshift64(&rng) & 7) == 0)
					continue;
				pwc_fill(p, l, addr, addr + (uint64_t)l);
				ref_fill(&ref, l, addr, addr + (uint64_t)l);
			}
		}
	}
	c = pwc_counters(p);
	assert_int_equal(c->lookups, ref.cnt.lookups);
	assert_int_equal(c->misses, ref.cnt.misses);
	assert_int_equal(c->flushes, ref.cnt.flushes);
	for (l = 0; l <= PWC_MAX_LEVEL; l++)
		assert_int_equal(c->hits[l], ref.cnt.hits[l]);
	for (l = PWC_MIN_LEVEL; l <= PWC_MAX_LEVEL; l++)
		assert_true(c->hits[l] > 0);
	assert_true(c->misses > c->lookups / 100);
	ref_fini(&ref);
	pwc_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_deepest_first),
		cmocka_unit_test(test_disabled_level_and_bad_fill),
		cmocka_unit_test(test_fill_updates_value),
		cmocka_unit_test(test_lru_eviction),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_diff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
