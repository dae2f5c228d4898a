/* Tests for cpu/cache: each level against a naive model (one explicit LRU list per set, most
 * recent at the head) on random streams of several geometries; the hierarchy against three
 * such models combined as cache.h says (a level that misses takes the line); the slice hash;
 * a short run with walk.refs = cache whose stats add up. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cache.h"
#include "sim/config.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include "sim/stats.h"

/* ------------------------------------------------------------ the naive model */

struct node { uint64_t line; struct node *next; };

struct naive {
	struct node **head;    /* per set: its lines, most recently used first */
	uint64_t sets_per_slice, slices;
	uint32_t ways;
};

static void naive_init(struct naive *n, const struct cache_geom *g, unsigned line_shift)
{
	n->ways = g->ways;
	n->slices = g->slices;
	n->sets_per_slice = (g->size >> line_shift) / g->ways / g->slices;
	n->head = calloc(n->sets_per_slice * n->slices, sizeof(*n->head));
	assert_non_null(n->head);
}

static void naive_free(struct naive *n)
{
	for (uint64_t s = 0; s < n->sets_per_slice * n->slices; s++)
		for (struct node *p = n->head[s], *q; p; p = q)
			q = p->next, free(p);
	free(n->head);
}

/* The set: the slice from the cache's own hash (checked on its own below), the set in the
 * slice the line's low bits, by plain modulo. */
static uint64_t naive_set(const struct naive *n, const struct cache *c, uint64_t line)
{
	uint64_t slice = cache_set_of(c, line) / n->sets_per_slice;
	return slice * n->sets_per_slice + line % n->sets_per_slice;
}

/* Hit: unlink the line and put it at the head.  Miss: a new node at the head, and the tail
 * dropped if the set holds more than ways lines. */
static bool naive_access(struct naive *n, uint64_t set, uint64_t line)
{
	struct node **pp = &n->head[set];
	uint32_t len = 0;

	for (; *pp; pp = &(*pp)->next, len++) {
		if ((*pp)->line == line) {
			struct node *hit = *pp;
			*pp = hit->next;
			hit->next = n->head[set];
			n->head[set] = hit;
			return true;
		}
	}
	struct node *fresh = malloc(sizeof(*fresh));
	assert_non_null(fresh);
	*fresh = (struct node){ line, n->head[set] };
	n->head[set] = fresh;
	if (len + 1 > n->ways) {
		struct node **tail = &n->head[set];
		while ((*tail)->next)
			tail = &(*tail)->next;
		free(*tail);
		*tail = NULL;
	}
	return false;
}

static bool naive_contains(const struct naive *n, uint64_t set, uint64_t line)
{
	for (const struct node *p = n->head[set]; p; p = p->next)
		if (p->line == line)
			return true;
	return false;
}

/* ------------------------------------------------------------ one level */

static const struct cache_geom geoms[] = {
	{ 16 * 64, 4, 1 },     /* 4 sets x 4 ways */
	{ 8 * 64, 8, 1 },      /* fully associative */
	{ 8 * 64, 1, 1 },      /* direct mapped */
	{ 48 * 64, 3, 2 },     /* 2 slices x 8 sets x 3 ways (ways not a power of two) */
	{ 176 * 64, 11, 4 },   /* 4 slices x 4 sets x 11 ways, as an LLC */
};

static void test_cache_vs_naive(void **state)
{
	for (size_t k = 0; k < sizeof(geoms) / sizeof(geoms[0]); k++) {
		const struct cache_geom *g = &geoms[k];
		struct cache *c = cache_new(g, 6);
		struct naive n;
		struct rng rng;
		uint64_t hits = 0, lines = g->size / 64;

		assert_non_null(c);
		naive_init(&n, g, 6);
		rng_seed(&rng, 42, k);
		for (int i = 0; i < 200000; i++) {
			/* mostly a window a little larger than the cache (hits and evictions), now
			 * and then anywhere in a large range */
			uint64_t line = rng_below(&rng, 8) ? rng_below(&rng, lines + lines / 2)
							   : rng_below(&rng, 1ULL << 40);
			uint64_t set = naive_set(&n, c, line);
			bool want = naive_access(&n, set, line);
			assert_int_equal(cache_access(c, line), want);
			hits += want;
			if (i % 997 == 0)
				for (uint64_t l = 0; l < lines * 2; l++)
					assert_int_equal(cache_contains(c, l), naive_contains(&n, naive_set(&n, c, l), l));
		}
		print_message("geometry %zu: %llu hits of 200000\n", k, (unsigned long long)hits);
		assert_true(hits > 20000 && hits < 180000);   /* the stream exercises both */
		naive_free(&n);
		cache_free(c);
	}
}

/* The slice hash: the set within the slice is the line's low bits, every slice is used, and
 * consecutive lines spread over the slices. */
static void test_cache_slices(void **state)
{
	struct cache_geom g = { 28 * 2048 * 11 * 64ULL, 11, 28 };
	struct cache *c = cache_new(&g, 6);
	uint64_t per[28] = { 0 };

	assert_non_null(c);
	assert_int_equal(cache_sets(c), 28 * 2048);
	for (uint64_t line = 0; line < 28 * 4096; line++) {
		uint64_t s = cache_set_of(c, line);
		assert_true(s < 28 * 2048);
		assert_int_equal(s % 2048, line % 2048);
		per[s / 2048]++;
	}
	for (int i = 0; i < 28; i++)
		assert_in_range(per[i], 4096 * 8 / 10, 4096 * 12 / 10);
	cache_free(c);
}

static void test_cache_geometry(void **state)
{
	struct cache_geom bad[] = {
		{ 0, 8, 1 }, { 32 << 10, 0, 1 }, { 32 << 10, 65, 1 }, { 32 << 10, 8, 0 },
		{ 24 << 10, 8, 1 },        /* 48 sets: not a power of two */
		{ (32 << 10) + 32, 8, 1 }, /* not whole lines */
		{ 28 * 2048 * 11 * 64ULL, 11, 27 },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(cache_geom_valid(&bad[i], 6));
		errno = 0;
		assert_null(cache_new(&bad[i], 6));
		assert_int_equal(errno, EINVAL);
	}
	struct cache_geom good = { 32 << 10, 8, 1 };
	assert_true(cache_geom_valid(&good, 6));
	assert_false(cache_geom_valid(&good, 5));   /* lines under 64 bytes */
	struct cache_hier h;
	struct cache_hier_config cfg = { good, good, good, 6 };
	assert_int_equal(cache_hier_init(&h, &cfg, NULL), -EINVAL);
}

/* ------------------------------------------------------------ the hierarchy */

static void test_cache_hier_vs_naive(void **state)
{
	struct cache_geom l1 = { 8 * 64, 2, 1 }, l2 = { 32 * 64, 4, 1 }, llc = { 96 * 64, 3, 4 };
	struct cache_hier_config cfg = { l1, l1, l2, 6 };
	struct cache *shared = cache_new(&llc, 6);
	struct cache_hier h[2];
	struct naive nd[2], ni[2], n2[2], n3;
	struct rng rng;
	uint64_t served[CACHE_LEVELS] = { 0 };

	naive_init(&n3, &llc, 6);
	for (int v = 0; v < 2; v++) {
		assert_int_equal(cache_hier_init(&h[v], &cfg, shared), 0);
		naive_init(&nd[v], &l1, 6), naive_init(&ni[v], &l1, 6), naive_init(&n2[v], &l2, 6);
	}
	rng_seed(&rng, 7, 7);
	for (int i = 0; i < 300000; i++) {
		int v = (int)rng_below(&rng, 2);
		enum cache_stream s = (enum cache_stream)rng_below(&rng, CACHE_STREAMS);
		uint64_t pa = rng_below(&rng, 160 * 64) + (rng_below(&rng, 4) ? 0 : (uint64_t)v << 20);
		uint64_t line = pa >> 6;
		struct naive *first = s == CACHE_FETCH ? &ni[v] : &nd[v];
		/* each level that misses takes the line (non-inclusive, non-exclusive) */
		enum cache_level want = naive_access(first, naive_set(first, h[v].l1d, line), line) ? CACHE_L1
				      : naive_access(&n2[v], naive_set(&n2[v], h[v].l2, line), line) ? CACHE_L2
				      : naive_access(&n3, naive_set(&n3, shared, line), line) ? CACHE_LLC : CACHE_MEM;
		assert_int_equal(cache_hier_access(&h[v], s, pa), want);
		served[want]++;
	}
	for (int l = 0; l < CACHE_LEVELS; l++) {
		uint64_t n = 0;
		for (int v = 0; v < 2; v++)
			for (int s = 0; s < CACHE_STREAMS; s++)
				n += h[v].served[s][l];
		assert_int_equal(n, served[l]);
		assert_true(served[l] > 1000);   /* every level serves some */
	}
	for (int v = 0; v < 2; v++) {
		cache_hier_destroy(&h[v]);
		naive_free(&nd[v]), naive_free(&ni[v]), naive_free(&n2[v]);
	}
	naive_free(&n3);
	cache_free(shared);
}

/* ------------------------------------------------------------ a run */

static uint64_t stat(struct stats *st, const char *name)
{
	stat_id id = stats_lookup(st, name);
	assert_int_not_equal(id, STAT_NONE);
	return stats_counter(st, id);
}

/* walk.refs = cache on the kbuild scenario: every walk reference is served somewhere, the
 * per-walk histogram adds up to walk.refs, the data streams see at most one access per
 * record, and the walks cost what the levels that served them say. */
static void test_cache_run(void **state)
{
	struct scenario sc;
	struct config_error err;
	char msg[256];

	config_defaults(&sc);
	assert_int_equal(config_set(&sc, "walk.refs=cache", &err), 0);
	assert_int_equal(config_set(&sc, "workload.duration_ms=5", &err), 0);
	assert_int_equal(config_set(&sc, "cache.llc_size=2816K", &err), 0);
	assert_int_equal(config_set(&sc, "cache.llc_slices=2", &err), 0);
	assert_int_equal(config_validate(&sc, &err), 0);
	sc.series = false;
	struct sim *s = sim_new(&sc, ENGINE_BATCHED, msg, sizeof(msg));
	assert_non_null(s);
	assert_int_equal(sim_run(s), 0);
	struct stats *st = sim_stats(s);
	static const char *const lv[] = { "l1", "l2", "llc", "dram" };
	const uint64_t lat[] = { sc.costs.ref_l1, sc.costs.ref_l2, sc.costs.ref_l3, sc.costs.ref_dram };
	uint64_t walk = 0, data = 0, walk_cycles = 0, cyc = 0;
	char name[64];
	for (int l = 0; l < 4; l++) {
		snprintf(name, sizeof(name), "cache.walk.%s", lv[l]);
		walk += stat(st, name);
		walk_cycles += stat(st, name) * lat[l];
		snprintf(name, sizeof(name), "cache.data.%s", lv[l]);
		data += stat(st, name);
		snprintf(name, sizeof(name), "cache.fetch.%s", lv[l]);
		data += stat(st, name);
	}
	assert_true(walk > 10000);
	assert_int_equal(walk, stat(st, "walk.refs"));
	stat_id h = stats_lookup(st, "walk.refs_per_walk");
	assert_int_equal(stats_hist_sum(st, h), walk);
	assert_true(stats_hist_max(st, h) <= 24);
	assert_true(data > stat(st, "vcpu.records") / 2 && data <= stat(st, "vcpu.records"));
	/* vcpu.N.cycles.walk = STLB look-up + references per walk */
	for (uint32_t v = 0; v < sc.vcpus; v++) {
		snprintf(name, sizeof(name), "vcpu.%u.cycles.walk", v);
		cyc += stat(st, name);
	}
	assert_int_equal(cyc, stats_hist_count(st, h) * sc.costs.stlb_hit + walk_cycles);
	sim_free(s);

	/* an LLC of sets that are not a power of two is refused, naming the key */
	config_defaults(&sc);
	assert_int_equal(config_set(&sc, "cache.llc_slices=27", &err), 0);
	assert_int_equal(config_validate(&sc, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cache.llc_size"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_vs_naive),
		cmocka_unit_test(test_cache_slices),
		cmocka_unit_test(test_cache_geometry),
		cmocka_unit_test(test_cache_hier_vs_naive),
		cmocka_unit_test(test_cache_run),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
