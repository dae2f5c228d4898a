// SPDX-License-Identifier: GPL-2.0
/* Tests for sim/stats: registry, updates, histogram accuracy against an exact reference,
 * JSON shapes and the series files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sim/stats.h"
#include "sim/tests/test_util.h"

static const struct stat_def base_defs[] = {
	{ "zap.count", STAT_COUNTER, "events", "zap-all calls" },
	{ "zap.latency", STAT_HIST, "cycles", "cycles per zap-all" },
	{ "zap.pages", STAT_ARRAY, "pages", "pages zapped, per zap" },
	{ "mmu.pages", STAT_SERIES, "pages", "shadow pages over time" },
};
#define NBASE (sizeof(base_defs) / sizeof(base_defs[0]))

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void test_register_and_lookup(void **state)
{
	static const struct stat_def more[] = { { "x.y", STAT_COUNTER, "events", "h" } };
	struct stats *st = stats_new();
	stat_id ids[NBASE];
	size_t i;

	assert_non_null(st);
	assert_int_equal(stats_count(st), 0);
	assert_int_equal(stats_register(st, base_defs, NBASE, ids), 0);
	assert_int_equal(stats_count(st), NBASE);
	for (i = 0; i < NBASE; i++) {
		const struct stat_def *d = stats_def(st, ids[i]);

		assert_int_equal(ids[i], i);	/* dense, in registration order */
		assert_int_equal(stats_lookup(st, base_defs[i].name), ids[i]);
		assert_string_equal(d->name, base_defs[i].name);
		assert_int_equal(d->kind, base_defs[i].kind);
		assert_string_equal(d->unit, base_defs[i].unit);
		assert_string_equal(d->help, base_defs[i].help);
	}
	assert_int_equal(stats_lookup(st, "zap"), STAT_NONE);
	assert_int_equal(stats_lookup(st, "zap.count.x"), STAT_NONE);
	assert_int_equal(stats_lookup(st, ""), STAT_NONE);
	/* ids may be NULL */
	assert_int_equal(stats_register(st, more, 1, NULL), 0);
	assert_int_equal(stats_lookup(st, "x.y"), NBASE);
	stats_free(st);
}

static void test_register_duplicates(void **state)
{
	static const struct stat_def clash_old[] = {
		{ "a.new", STAT_COUNTER, "events", "" },
		{ "zap.count", STAT_HIST, "cycles", "" },
	};
	static const struct stat_def clash_self[] = {
		{ "b.one", STAT_COUNTER, "events", "" },
		{ "b.one", STAT_COUNTER, "events", "" },
	};
	static const struct stat_def fine[] = {
		{ "a.new", STAT_COUNTER, "events", "" },
		{ "b.one", STAT_HIST, "cycles", "" },
	};
	struct stats *st = stats_new();
	stat_id ids[2] = { 77, 77 };

	assert_int_equal(stats_register(st, base_defs, NBASE, NULL), 0);
	assert_int_equal(stats_register(st, clash_old, 2, ids), -EEXIST);
	assert_int_equal(stats_register(st, clash_self, 2, ids), -EEXIST);
	/* Nothing of the rejected tables got in. */
	assert_int_equal(stats_count(st), NBASE);
	assert_int_equal(stats_lookup(st, "a.new"), STAT_NONE);
	assert_int_equal(stats_lookup(st, "b.one"), STAT_NONE);
	assert_int_equal(stats_def(st, stats_lookup(st, "zap.count"))->kind, STAT_COUNTER);
	/* ... so the names are still free afterwards. */
	assert_int_equal(stats_register(st, fine, 2, ids), 0);
	assert_int_equal(ids[0], NBASE);
	assert_int_equal(ids[1], NBASE + 1);
	assert_int_equal(stats_register_one(st, "b.one", STAT_COUNTER, "x", "y"), STAT_NONE);
	assert_int_equal(stats_count(st), NBASE + 2);
	stats_free(st);
}

static void test_register_one_many(void **state)
{
	struct stats *st = stats_new();
	char name[64];
	stat_id id;
	int i;

	assert_int_equal(stats_register(st, base_defs, NBASE, NULL), 0);
	/* Enough run-time names to make the registry and its index grow several times. */
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "vcpu.%d.cycles.guest", i);
		id = stats_register_one(st, name, STAT_COUNTER, "cycles", "guest cycles");
		assert_int_equal(id, NBASE + (size_t)i);
		name[0] = 'X';		/* the registry must have copied the name */
	}
	assert_int_equal(stats_count(st), NBASE + 2000);
	for (i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "vcpu.%d.cycles.guest", i);
		id = stats_lookup(st, name);
		assert_int_equal(id, NBASE + (size_t)i);
		assert_string_equal(stats_def(st, id)->name, name);
		stats_add(st, id, (uint64_t)i);
	}
	for (i = 0; i < (int)NBASE; i++)
		assert_int_equal(stats_lookup(st, base_defs[i].name), (stat_id)i);
	assert_int_equal(stats_counter(st, stats_lookup(st, "vcpu.1999.cycles.guest")), 1999);
	stats_free(st);
}

static void test_counters(void **state)
{
	struct stats *st = stats_new();
	stat_id a = stats_register_one(st, "c.a", STAT_COUNTER, "events", "");
	stat_id b = stats_register_one(st, "c.b", STAT_COUNTER, "events", "");
	int i;

	assert_int_equal(stats_counter(st, a), 0);
	for (i = 1; i <= 100; i++)
		stats_add(st, a, (uint64_t)i);
	assert_int_equal(stats_counter(st, a), 5050);
	assert_int_equal(stats_counter(st, b), 0);
	stats_set(st, b, 1ull << 40);
	stats_add(st, b, 3);
	assert_int_equal(stats_counter(st, b), (1ull << 40) + 3);
	stats_set(st, a, 7);
	assert_int_equal(stats_counter(st, a), 7);
	stats_free(st);
}

static void test_arrays(void **state)
{
	struct stats *st = stats_new();
	stat_id a = stats_register_one(st, "arr", STAT_ARRAY, "pages", "");
	stat_id b = stats_register_one(st, "arr2", STAT_ARRAY, "pages", "");
	int64_t i;

	assert_int_equal(stats_array_len(st, a), 0);
	for (i = 0; i < 10000; i++)
		stats_array_push(st, a, i * i - 5000);
	stats_array_push(st, b, INT64_MIN);
	assert_int_equal(stats_array_len(st, a), 10000);
	assert_int_equal(stats_array_len(st, b), 1);
	for (i = 0; i < 10000; i++)
		assert_true(stats_array_at(st, a, (size_t)i) == i * i - 5000);
	assert_true(stats_array_at(st, b, 0) == INT64_MIN);
	stats_free(st);
}

static void test_hist_basics(void **state)
{
	struct stats *st = stats_new();
	stat_id h = stats_register_one(st, "h", STAT_HIST, "cycles", "");
	stat_id e = stats_register_one(st, "empty", STAT_HIST, "cycles", "");
	uint64_t v;

	/* Empty: everything 0. */
	assert_int_equal(stats_hist_count(st, e), 0);
	assert_int_equal(stats_hist_sum(st, e), 0);
	assert_int_equal(stats_hist_percentile(st, e, 50), 0);
	assert_int_equal(stats_hist_percentile(st, e, 100), 0);

	/* Below 16 every value has its own bucket, so percentiles are exact. */
	for (v = 1; v <= 10; v++)
		stats_hist_add(st, h, v);
	assert_int_equal(stats_hist_count(st, h), 10);
	assert_int_equal(stats_hist_sum(st, h), 55);
	assert_int_equal(stats_hist_max(st, h), 10);
	assert_int_equal(stats_hist_percentile(st, h, 0), 1);
	assert_int_equal(stats_hist_percentile(st, h, 10), 1);
	assert_int_equal(stats_hist_percentile(st, h, 10.5), 2);
	assert_int_equal(stats_hist_percentile(st, h, 50), 5);
	assert_int_equal(stats_hist_percentile(st, h, 90), 9);
	assert_int_equal(stats_hist_percentile(st, h, 99), 10);
	assert_int_equal(stats_hist_percentile(st, h, 100), 10);

	stats_free(st);
	st = stats_new();
	h = stats_register_one(st, "h", STAT_HIST, "cycles", "");
	e = stats_register_one(st, "empty", STAT_HIST, "cycles", "");
	/* 999 of 1000 samples is 99.9%, even though 99.9 / 100 * 1000 rounds above 999. */
	for (v = 0; v < 1000; v++)
		stats_hist_add(st, h, v ? 1 : 15);
	assert_int_equal(stats_hist_percentile(st, h, 99.9), 1);
	assert_int_equal(stats_hist_percentile(st, h, 99.95), 15);

	/* A single large sample: the bucket bound is clamped to [min, max]. */
	stats_hist_add(st, e, 1000003);
	assert_int_equal(stats_hist_percentile(st, e, 0), 1000003);
	assert_int_equal(stats_hist_percentile(st, e, 50), 1000003);
	assert_int_equal(stats_hist_percentile(st, e, 100), 1000003);

	/* Extremes: the top bucket works and the sum saturates. */
	stats_hist_add(st, e, UINT64_MAX);
	stats_hist_add(st, e, UINT64_MAX - 1);
	stats_hist_add(st, e, 0);
	assert_int_equal(stats_hist_count(st, e), 4);
	assert_true(stats_hist_sum(st, e) == UINT64_MAX);
	assert_true(stats_hist_max(st, e) == UINT64_MAX);
	assert_int_equal(stats_hist_percentile(st, e, 0), 0);
	assert_int_equal(stats_hist_percentile(st, e, 25), 0);
	v = stats_hist_percentile(st, e, 50);	/* the bucket bound above 1000003 */
	assert_true(v >= 1000003 && v <= 1000003 + 1000003 / 16);
	assert_true(stats_hist_percentile(st, e, 75) == UINT64_MAX);
	assert_true(stats_hist_percentile(st, e, 100) == UINT64_MAX);
	stats_free(st);
}

/* Histogram percentiles against the exact answer from the sorted raw samples. */
static void test_hist_vs_reference(void **state)
{
	/* q in tenths of a percent, so the reference rank is exact integer arithmetic. */
	static const unsigned int qt[] = { 0, 1, 10, 100, 250, 500, 750, 900, 990, 999, 1000 };
	enum { N = 5000 };
	struct stats *st = stats_new();
	stat_id h = stats_register_one(st, "lat", STAT_HIST, "cycles", "");
	uint64_t *raw = malloc(N * sizeof(*raw));
	uint64_t seed = 0x9e3779b97f4a7c15ull, sum = 0;
	size_t i, k;

	assert_non_null(raw);
	for (i = 0; i < N; i++) {
		/* Spread over many orders of magnitude, with some small values and repeats. */
		uint64_t x = xorshift64(&seed);

		raw[i] = i % 7 == 0 ? x % 40 : x >> (xorshift64(&seed) % 64);
		sum = raw[i] > UINT64_MAX - sum ? UINT64_MAX : sum + raw[i];
		stats_hist_add(st, h, raw[i]);
	}
	qsort(raw, N, sizeof(*raw), cmp_u64);
	assert_int_equal(stats_hist_count(st, h), N);
	assert_true(stats_hist_max(st, h) == raw[N - 1]);
	assert_true(stats_hist_sum(st, h) == sum);

	for (k = 0; k < sizeof(qt) / sizeof(qt[0]); k++) {
		/* Smallest rank r with r/N >= q: ceil(qt * N / 1000), at least 1. */
		size_t r = ((size_t)qt[k] * N + 999) / 1000;
		uint64_t exact = raw[r ? r - 1 : 0];
		uint64_t got = stats_hist_percentile(st, h, qt[k] / 10.0);

		assert_true(got >= exact);
		assert_true(got - exact <= exact / 16);
		assert_true(got <= raw[N - 1]);
	}
	/* And on many small values, where the buckets are exact, the answer is exact too. */
	stats_free(st);
	st = stats_new();
	h = stats_register_one(st, "small", STAT_HIST, "cycles", "");
	for (i = 0; i < N; i++) {
		raw[i] = xorshift64(&seed) % 16;
		stats_hist_add(st, h, raw[i]);
	}
	qsort(raw, N, sizeof(*raw), cmp_u64);
	for (k = 1; k < sizeof(qt) / sizeof(qt[0]); k++) {
		size_t r = ((size_t)qt[k] * N + 999) / 1000;

		assert_int_equal(stats_hist_percentile(st, h, qt[k] / 10.0), raw[r - 1]);
	}
	free(raw);
	stats_free(st);
}

static void test_json(void **state)
{
	struct stats *st = stats_new();
	stat_id ids[NBASE], empty;
	json_t *j, *o, *v;
	const char *key;
	char *dump;
	size_t i;

	assert_int_equal(stats_register(st, base_defs, NBASE, ids), 0);
	empty = stats_register_one(st, "empty.hist", STAT_HIST, "cycles", "never hit");
	stats_add(st, ids[0], 42);
	stats_hist_add(st, ids[1], 10);
	stats_hist_add(st, ids[1], 20);
	stats_hist_add(st, ids[1], 1000);
	stats_array_push(st, ids[2], -3);
	stats_array_push(st, ids[2], 9);
	stats_series_add(st, ids[3], 0.5, 1);
	stats_series_add(st, ids[3], 1.5, 2);

	/* Round-trip through text, as stats.json will be read. */
	j = stats_to_json(st);
	assert_non_null(j);
	dump = json_dumps(j, JSON_PRESERVE_ORDER);
	json_decref(j);
	assert_non_null(dump);
	j = json_loads(dump, 0, NULL);
	free(dump);
	assert_true(json_is_object(j));
	assert_int_equal(json_object_size(j), NBASE + 1);

	i = 0;
	json_object_foreach(j, key, v) {
		assert_string_equal(key, stats_def(st, (stat_id)i)->name);
		i++;
	}

	assert_true(json_is_integer(json_object_get(j, "zap.count")));
	assert_int_equal(json_integer_value(json_object_get(j, "zap.count")), 42);

	o = json_object_get(j, "zap.latency");
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), 10);
	assert_int_equal(json_integer_value(json_object_get(o, "count")), 3);
	assert_int_equal(json_integer_value(json_object_get(o, "sum")), 1030);
	assert_int_equal(json_integer_value(json_object_get(o, "min")), 10);
	assert_int_equal(json_integer_value(json_object_get(o, "max")), 1000);
	assert_true(json_is_real(json_object_get(o, "mean")));
	assert_float_equal(json_real_value(json_object_get(o, "mean")), 1030.0 / 3, 1e-9);
	assert_int_equal(json_integer_value(json_object_get(o, "p50")), 20);
	assert_int_equal(json_integer_value(json_object_get(o, "p90")), 1000);
	assert_int_equal(json_integer_value(json_object_get(o, "p99")), 1000);
	assert_int_equal(json_integer_value(json_object_get(o, "p999")), 1000);
	{
		static const char *const hk[] = { "count", "sum", "min", "max", "mean",
						  "p50", "p90", "p99", "p999", "buckets" };
		i = 0;
		json_object_foreach(o, key, v) {
			assert_string_equal(key, hk[i]);
			assert_true(i == 4 ? json_is_real(v) : i == 9 ? json_is_array(v) :
				    json_is_integer(v));
			i++;
		}
	}
	/* the buckets: 10 and 20 exact (width 1 below 32), 1000 in [992, 1023], its le
	 * clamped to the max */
	{
		json_t *b = json_object_get(o, "buckets");

		assert_int_equal(json_array_size(b), 3);
		assert_int_equal(json_integer_value(json_array_get(json_array_get(b, 0), 0)), 10);
		assert_int_equal(json_integer_value(json_array_get(json_array_get(b, 0), 1)), 1);
		assert_int_equal(json_integer_value(json_array_get(json_array_get(b, 1), 0)), 20);
		assert_int_equal(json_integer_value(json_array_get(json_array_get(b, 2), 0)), 1000);
		assert_int_equal(json_integer_value(json_array_get(json_array_get(b, 2), 1)), 1);
	}

	o = json_object_get(j, "empty.hist");
	assert_true(json_is_object(o));
	json_object_foreach(o, key, v)
		assert_true(json_is_array(v) ? json_array_size(v) == 0 : json_number_value(v) == 0);
	assert_int_equal(json_object_size(o), 10);

	o = json_object_get(j, "zap.pages");
	assert_true(json_is_array(o));
	assert_int_equal(json_array_size(o), 2);
	assert_int_equal(json_integer_value(json_array_get(o, 0)), -3);
	assert_int_equal(json_integer_value(json_array_get(o, 1)), 9);

	o = json_object_get(j, "mmu.pages");
	assert_true(json_is_object(o));
	assert_int_equal(json_object_size(o), 2);
	assert_string_equal(json_string_value(json_object_get(o, "series")),
			    "series/mmu.pages.dat");
	assert_int_equal(json_integer_value(json_object_get(o, "points")), 2);
	json_decref(j);

	/* Schema */
	j = stats_schema_json(st);
	assert_true(json_is_object(j));
	assert_int_equal(json_object_size(j), NBASE + 1);
	i = 0;
	json_object_foreach(j, key, o) {
		assert_string_equal(key, stats_def(st, (stat_id)i)->name);
		assert_int_equal(json_object_size(o), 3);
		i++;
	}
	o = json_object_get(j, "zap.latency");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "histogram");
	assert_string_equal(json_string_value(json_object_get(o, "unit")), "cycles");
	assert_string_equal(json_string_value(json_object_get(o, "help")), "cycles per zap-all");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "zap.count"),
							      "kind")), "counter");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "zap.pages"),
							      "kind")), "array");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "mmu.pages"),
							      "kind")), "series");
	(void)empty;
	json_decref(j);
	stats_free(st);
}

/* Names in dir, sorted and joined with spaces. */
static void list_dir(const char *dir, char *out, size_t outsz)
{
	struct dirent **ents;
	int n, i;

	out[0] = '\0';
	n = scandir(dir, &ents, NULL, alphasort);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.') {
			strncat(out, ents[i]->d_name, outsz - strlen(out) - 1);
			strncat(out, " ", outsz - strlen(out) - 1);
		}
		free(ents[i]);
	}
	free(ents);
}

static void test_write_series(void **state)
{
	char tmpl[] = "/tmp/test_stats.XXXXXX";
	char *top = mkdtemp(tmpl), out[256], path[512], expect[4096], names[512];
	struct stats *st = stats_new();
	stat_id a = stats_register_one(st, "mmu.pages", STAT_SERIES, "pages", "");
	stat_id b = stats_register_one(st, "never", STAT_SERIES, "pages", "");
	stat_id c = stats_register_one(st, "tlb.misses", STAT_SERIES, "events", "");
	char *got;
	int i, len = 0;

	assert_non_null(top);
	(void)b;
	/* DIR does not exist yet: the whole path is created. */
	snprintf(out, sizeof(out), "%s/run/one", top);
	len += snprintf(expect + len, sizeof(expect) - len, "# t value\n");
	for (i = 0; i < 10; i++) {
		double t = i * 0.1, v = 1.0 / (i + 3);

		stats_series_add(st, a, t, v);
		len += snprintf(expect + len, sizeof(expect) - len, "%.17g %.17g\n", t, v);
	}
	stats_series_add(st, c, 1e9, -2.5);
	assert_int_equal(stats_write_series(st, out), 0);

	snprintf(path, sizeof(path), "%s/series", out);
	list_dir(path, names, sizeof(names));
	/* Only the non-empty series, and no temp files left behind. */
	assert_string_equal(names, "mmu.pages.dat tlb.misses.dat ");

	snprintf(path, sizeof(path), "%s/series/mmu.pages.dat", out);
	got = tu_slurp(path, NULL);
	assert_non_null(got);
	assert_string_equal(got, expect);
	free(got);
	/* Integral doubles print without exponent or fraction under %.17g. */
	snprintf(path, sizeof(path), "%s/series/tlb.misses.dat", out);
	got = tu_slurp(path, NULL);
	assert_non_null(got);
	assert_string_equal(got, "# t value\n1000000000 -2.5\n");
	free(got);

	/* Writing again replaces the file (rename over the old one). */
	stats_series_add(st, c, 2e9, 0.25);
	assert_int_equal(stats_write_series(st, out), 0);
	got = tu_slurp(path, NULL);
	assert_string_equal(got, "# t value\n1000000000 -2.5\n2000000000 0.25\n");
	free(got);
	snprintf(path, sizeof(path), "%s/series", out);
	list_dir(path, names, sizeof(names));
	assert_string_equal(names, "mmu.pages.dat tlb.misses.dat ");

	/* A DIR that cannot be created reports -errno and writes nothing. */
	snprintf(path, sizeof(path), "%s/series/mmu.pages.dat/x", out);
	assert_int_equal(stats_write_series(st, path), -ENOTDIR);

	/* Clean up. */
	snprintf(path, sizeof(path), "%s/series/mmu.pages.dat", out);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/series/tlb.misses.dat", out);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/series", out);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(out), 0);
	snprintf(path, sizeof(path), "%s/run", top);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(top), 0);
	stats_free(st);
}

/* A series file name that cannot be written: the temp file is removed, -errno returned. */
static void test_write_series_unwritable(void **state)
{
	char tmpl[] = "/tmp/test_stats.XXXXXX";
	char *top = mkdtemp(tmpl), path[512], names[512];
	struct stats *st = stats_new();
	stat_id a = stats_register_one(st, "s", STAT_SERIES, "x", "");

	assert_non_null(top);
	stats_series_add(st, a, 1, 2);
	/* A directory squatting on the target name makes rename() fail. */
	snprintf(path, sizeof(path), "%s/series", top);
	assert_int_equal(mkdir(path, 0777), 0);
	snprintf(path, sizeof(path), "%s/series/s.dat", top);
	assert_int_equal(mkdir(path, 0777), 0);
	assert_int_equal(stats_write_series(st, top), -EISDIR);
	snprintf(path, sizeof(path), "%s/series", top);
	list_dir(path, names, sizeof(names));
	assert_string_equal(names, "s.dat ");
	snprintf(path, sizeof(path), "%s/series/s.dat", top);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s/series", top);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(top), 0);
	stats_free(st);
}

/* Using an id of the wrong kind must trip an assert, not corrupt memory. */
static void test_wrong_kind_asserts(void **state)
{
#ifdef NDEBUG
	skip();
#else
	struct stats *st = stats_new();
	stat_id h = stats_register_one(st, "h", STAT_HIST, "cycles", "");
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stderr))	/* keep the assert message out of the log */
			_exit(1);
		stats_add(st, h, 1);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	stats_free(st);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_lookup),
		cmocka_unit_test(test_register_duplicates),
		cmocka_unit_test(test_register_one_many),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_hist_basics),
		cmocka_unit_test(test_hist_vs_reference),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_write_series),
		cmocka_unit_test(test_write_series_unwritable),
		cmocka_unit_test(test_wrong_kind_asserts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
