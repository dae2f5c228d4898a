/* Tests for sim/validate (`eptsim validate`) on a synthetic suite, no simulation: the
 * [validate] section through the config loader (its keys, the checks of a row), reducing a
 * run's stats (mean, median, max, per-event, unit conversion, a missing stat), the band and
 * ratio against values worked by hand, and the table / Markdown / CSV / JSON outputs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "sim/validate.h"
#include "sim/tests/test_util.h"

struct fix {
	char dir[64];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_validate.XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

#define RUN_CFG "[guest]\nvcpus = 2\nmem = 64M\nkernel_mem = 16M\n[cpu]\nfreq_mhz = 2000\n"

/* Write NAME.ini (RUN_CFG + [validate] + body) in the fixture's folder; its path in path. */
static void write_row(struct fix *f, const char *name, const char *body, char *path, size_t n)
{
	char text[2048];
	snprintf(path, n, "%s/%s.ini", f->dir, name);
	snprintf(text, sizeof(text), RUN_CFG "[validate]\n%s", body);
	tu_write_text(path, text);
}

static int load(struct fix *f, const char *name, const char *body, struct validate_row *r, char *err, size_t n)
{
	char path[256];
	write_row(f, name, body, path, sizeof(path));
	return validate_load_row(path, r, err, n);
}

#define GOOD "source = T (A, 2013)\npublished = 50\nstat = zap.hold_cycles\nunit = us\nband_lo = 25\nband_hi = 100\n"

static void test_load_keys(void **state)
{
	struct fix *f = *state;
	struct validate_row r;
	char err[VALIDATE_ERR_MAX] = "";

	assert_int_equal(load(f, "good", GOOD "commit = 982b3394dd23\nquote = only 50us for the 4GB guest\nreduce = max\n",
			      &r, err, sizeof(err)), 0);
	assert_string_equal(r.name, "good");
	assert_string_equal(r.v.source, "T (A, 2013)");
	assert_string_equal(r.v.commit, "982b3394dd23");
	assert_string_equal(r.v.quote, "only 50us for the 4GB guest");
	assert_string_equal(r.v.stat, "zap.hold_cycles");
	assert_int_equal(r.v.reduce, VALIDATE_MAX);
	assert_int_equal(r.v.unit, VALIDATE_US);
	assert_int_equal(r.nr_published, 1);
	assert_float_equal(r.published[0], 50, 0);
	assert_float_equal(r.v.band_lo, 25, 0);
	assert_float_equal(r.freq_mhz, 2000, 0);
	assert_int_equal(r.seed, 1);
	assert_int_equal(load(f, "seeded", GOOD "[run]\nseed = 7\n", &r, err, sizeof(err)), 0);
	assert_int_equal(r.seed, 7);   /* the first replicate's seed */

	/* per-event: one number per event */
	assert_int_equal(load(f, "pe", "source = s\npublished = 8 5 3 3 3 4\nstat = zap.lock_breaks\nreduce = per-event\n"
			      "band_lo = 1\nband_hi = 10\n", &r, err, sizeof(err)), 0);
	assert_int_equal(r.nr_published, 6);
	assert_float_equal(r.published[0], 8, 0);
	assert_float_equal(r.published[5], 4, 0);

	/* unreachable: no stat needed */
	assert_int_equal(load(f, "un", "source = s\npublished = 5\nunreachable = not a variant\n", &r, err, sizeof(err)), 0);
	assert_string_equal(r.v.unreachable, "not a variant");
	/* percent and factor are labels: no *cycles* stat needed */
	assert_int_equal(load(f, "pc", "source = s\npublished = 5\nunit = percent\nstat = vcpu.records\n", &r, err,
			      sizeof(err)), 0);
	assert_int_equal(r.v.unit, VALIDATE_PERCENT);
}

/* [validate] is not part of the run: the same run config, another [validate], one hash */
static void test_hash_ignores_validate(void **state)
{
	struct fix *f = *state;
	struct validate_row a, b;
	char err[VALIDATE_ERR_MAX];

	assert_int_equal(load(f, "a", GOOD, &a, err, sizeof(err)), 0);
	assert_int_equal(load(f, "b", "source = other\npublished = 1\nstat = zap.pages\nreduce = median\n", &b, err,
			      sizeof(err)), 0);
	assert_string_equal(a.hash, b.hash);
	/* a different run config: another hash */
	char path[256];
	snprintf(path, sizeof(path), "%s/c.ini", f->dir);
	tu_write_text(path, "[guest]\nvcpus = 3\nmem = 64M\nkernel_mem = 16M\n[cpu]\nfreq_mhz = 2000\n[validate]\n" GOOD);
	struct validate_row c;
	assert_int_equal(validate_load_row(path, &c, err, sizeof(err)), 0);
	assert_string_not_equal(a.hash, c.hash);
}

static void expect_bad(struct fix *f, const char *body, const char *want)
{
	struct validate_row r;
	char err[VALIDATE_ERR_MAX] = "";
	assert_int_not_equal(load(f, "bad", body, &r, err, sizeof(err)), 0);
	tu_assert_contains(err, want);
	tu_assert_contains(err, "bad.ini");
}

static void test_load_errors(void **state)
{
	struct fix *f = *state;

	expect_bad(f, "source = s\npublished = 5\n", "validate.stat: missing");
	expect_bad(f, "source = s\nstat = zap.pages\n", "validate.published: missing");
	expect_bad(f, "published = 5\nstat = zap.pages\n", "validate.source: missing");
	expect_bad(f, "source = s\npublished = 5x\nstat = zap.pages\n", "'5x' is not a number");
	expect_bad(f, "source = s\npublished = 5 6\nstat = zap.pages\n", "per-event");
	expect_bad(f, "source = s\npublished = 5\nstat = zap.pages\nband_lo = 2\nband_hi = 1\n", "band_lo: above band_hi");
	expect_bad(f, "source = s\npublished = 5\nstat = zap.pages\nunit = ms\n", "cycles");
	/* the schema's own checks, with the line */
	expect_bad(f, "source = s\npublished = 5\nstat = zap.pages\nreduce = average\n",
		   "bad.ini:11: validate.reduce: 'average' is not one of: mean median max per-event");
	expect_bad(f, "source = s\npublished = 5\nstat = zap.pages\nnosuch = 1\n", "validate.nosuch: unknown key");
	expect_bad(f, "source = s\npublished = 5\nstat = zap.pages\nband_lo = x\n", "'x' is not a number");
}

static json_t *stats_of(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	assert_non_null(j);
	return j;
}

static void test_run_values(void **state)
{
	struct fix *f = *state;
	struct validate_row r;
	char err[VALIDATE_ERR_MAX];
	double out[VALIDATE_MAX_EVENTS];
	json_t *st = stats_of("{\"zap.lock_breaks\": [8, 5, 3, 3, 3, 4], \"zap.count\": 6, "
			      "\"zap.hold_cycles\": [100000, 300000], \"mmu_lock.wait_cycles\": {\"max\": 4000}, "
			      "\"zap.none\": [], \"s\": \"text\", \"mixed\": [1, \"a\"]}");

	assert_int_equal(load(f, "v", "source = s\npublished = 4\nstat = zap.lock_breaks\n", &r, err, sizeof(err)), 0);
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), 1);
	assert_float_equal(out[0], 26.0 / 6, 1e-12);                  /* mean */
	r.v.reduce = VALIDATE_MEDIAN;
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), 1);
	assert_float_equal(out[0], 3.5, 0);                          /* 3 3 3 4 5 8: (3 + 4) / 2 */
	r.v.reduce = VALIDATE_MAX;
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), 1);
	assert_float_equal(out[0], 8, 0);
	r.v.reduce = VALIDATE_PER_EVENT;
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), 6);
	assert_float_equal(out[1], 5, 0);
	assert_float_equal(out[5], 4, 0);
	/* a scalar is one event; an odd count's median is the middle one */
	snprintf(r.v.stat, sizeof(r.v.stat), "zap.count");
	r.v.reduce = VALIDATE_MEDIAN;
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), 1);
	assert_float_equal(out[0], 6, 0);
	/* cycles to µs and ms at cpu.freq_mhz = 2000: 300,000 cycles = 150 µs = 0.15 ms */
	snprintf(r.v.stat, sizeof(r.v.stat), "zap.hold_cycles");
	r.v.reduce = VALIDATE_MAX;
	r.v.unit = VALIDATE_US;
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), 1);
	assert_float_equal(out[0], 150, 1e-9);
	r.v.unit = VALIDATE_MS;
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), 1);
	assert_float_equal(out[0], 0.15, 1e-12);
	/* a member of a histogram object */
	snprintf(r.v.stat, sizeof(r.v.stat), "mmu_lock.wait_cycles.max");
	r.v.unit = VALIDATE_US;
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), 1);
	assert_float_equal(out[0], 2, 1e-12);
	/* what is not there, or not numbers */
	r.v.unit = VALIDATE_COUNT;
	snprintf(r.v.stat, sizeof(r.v.stat), "zap.nosuch");
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "zap.nosuch: no such stat");
	snprintf(r.v.stat, sizeof(r.v.stat), "zap.none");
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "no events");
	r.v.reduce = VALIDATE_PER_EVENT;
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), -EINVAL);
	snprintf(r.v.stat, sizeof(r.v.stat), "s");
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "not a number or an array of numbers");
	snprintf(r.v.stat, sizeof(r.v.stat), "mixed");
	assert_int_equal(validate_run_values(&r, st, out, err, sizeof(err)), -EINVAL);
	tu_assert_contains(err, "element 1 is not a number");
	json_decref(st);
}

static char *capture(void (*fn)(FILE *, const struct validate_row *, size_t), const struct validate_row *rows, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	fn(f, rows, n);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* A row by hand, without a file */
static struct validate_row row(const char *name, int reduce, double lo, double hi, const double *pub, size_t npub)
{
	struct validate_row r;
	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.v.source, sizeof(r.v.source), "Title, with comma (Author, 2013)");
	snprintf(r.v.stat, sizeof(r.v.stat), "x");
	r.v.reduce = reduce;
	r.v.band_lo = lo;
	r.v.band_hi = hi;
	memcpy(r.published, pub, npub * sizeof(*pub));
	r.nr_published = npub;
	return r;
}

static void test_band_and_ratio(void **state)
{
	double vals[3 * VALIDATE_MAX_EVENTS];
	size_t counts[3] = { 1, 1, 1 };

	/* three runs 40, 50, 60: mean 50, sd 10, ci95 = 4.3027 * 10 / sqrt(3) = 24.84; published
	 * 25: ratio 2 */
	struct validate_row r = row("a", VALIDATE_MEAN, 40, 60, (double[]){ 25 }, 1);
	vals[0] = 40, vals[VALIDATE_MAX_EVENTS] = 50, vals[2 * VALIDATE_MAX_EVENTS] = 60;
	validate_summarize(&r, vals, counts, 3);
	assert_true(r.done);
	assert_int_equal(r.nr_events, 1);
	assert_float_equal(r.sim[0].mean, 50, 1e-12);
	assert_float_equal(r.sim[0].ci95, 4.3027 * 10 / sqrt(3), 1e-9);
	assert_float_equal(r.ratio, 2, 1e-12);
	assert_true(r.within);   /* the band's ends count */
	/* identical replicates: the interval's rounding noise prints as 0 */
	struct validate_row z = row("z", VALIDATE_MEAN, 0, 1000, (double[]){ 300 }, 1);
	double zv[2 * VALIDATE_MAX_EVENTS] = { [0] = 507.2980769230769, [VALIDATE_MAX_EVENTS] = 507.2980769230769 };
	zv[VALIDATE_MAX_EVENTS] += 5e-14;
	validate_summarize(&z, zv, (size_t[]){ 1, 1 }, 2);
	assert_true(z.sim[0].ci95 > 0);
	char *zt = capture(validate_print_table, &z, 1);
	tu_assert_contains(zt, "507 +- 0 (n=2)");
	free(zt);
	r.v.band_hi = 49.99;
	validate_summarize(&r, vals, counts, 3);
	assert_false(r.within);
	r.v.band_lo = 50, r.v.band_hi = 50;
	validate_summarize(&r, vals, counts, 3);
	assert_true(r.within);

	/* per-event: run 0 has 3 events (7, 5, 2), run 1 has 2 (9, 3): event means 8, 4, 2;
	 * published 8 4 2: ratios 1 1 1 */
	struct validate_row p = row("p", VALIDATE_PER_EVENT, 1, 10, (double[]){ 8, 4, 2 }, 3);
	size_t pc[2] = { 3, 2 };
	vals[0] = 7, vals[1] = 5, vals[2] = 2;
	vals[VALIDATE_MAX_EVENTS] = 9, vals[VALIDATE_MAX_EVENTS + 1] = 3;
	validate_summarize(&p, vals, pc, 2);
	assert_int_equal(p.nr_events, 3);
	assert_float_equal(p.sim[0].mean, 8, 1e-12);
	assert_float_equal(p.sim[1].mean, 4, 1e-12);
	assert_float_equal(p.sim[2].mean, 2, 1e-12);
	assert_int_equal(p.sim[2].n, 1);
	assert_true(isnan(p.sim[2].ci95));
	assert_float_equal(p.ratio, 1, 1e-12);
	assert_true(p.within);
	/* one event outside the band: not within */
	p.v.band_lo = 3;
	validate_summarize(&p, vals, pc, 2);
	assert_false(p.within);
	/* fewer events than published: not within, even in the band */
	p.v.band_lo = 1;
	struct validate_row q = row("q", VALIDATE_PER_EVENT, 0, 100, (double[]){ 8, 4, 2, 1 }, 4);
	validate_summarize(&q, vals, pc, 2);
	assert_false(q.within);
	(void)state;
}

/* Two rows: one done (mean 50 ± ci over three runs, in band), one unreachable */
static void suite(struct validate_row rows[2])
{
	double vals[3 * VALIDATE_MAX_EVENTS];
	size_t counts[3] = { 1, 1, 1 };
	rows[0] = row("zap-ms", VALIDATE_MAX, 20, 100, (double[]){ 46 }, 1);
	rows[0].v.unit = VALIDATE_MS;
	snprintf(rows[0].v.quote, sizeof(rows[0].v.quote), "Avg time: \"46\" ms");
	vals[0] = 40, vals[VALIDATE_MAX_EVENTS] = 50, vals[2 * VALIDATE_MAX_EVENTS] = 60;
	validate_summarize(&rows[0], vals, counts, 3);
	rows[1] = row("v1-after", VALIDATE_MEAN, 0, 0, (double[]){ 21.5 }, 1);
	rows[1].v.stat[0] = '\0';
	rows[1].v.unit = VALIDATE_PERCENT;
	snprintf(rows[1].v.unreachable, sizeof(rows[1].v.unreachable), "never merged | no variant");
}

static void test_outputs(void **state)
{
	struct validate_row rows[2];
	suite(rows);

	char *t = capture(validate_print_table, rows, 2);
	tu_assert_contains(t, "zap-ms");
	tu_assert_contains(t, "46 ms");
	tu_assert_contains(t, "50 +- 25 (n=3)");   /* ci95 24.84, two digits */
	tu_assert_contains(t, "1.09");             /* 50 / 46 */
	tu_assert_contains(t, "20..100");
	tu_assert_contains(t, "yes");
	tu_assert_contains(t, "not modelled: never merged | no variant");
	tu_assert_contains(t, "21.5%");
	free(t);

	char *m = capture(validate_print_markdown, rows, 2);
	tu_assert_contains(m, "| measurement | source | published |");
	tu_assert_contains(m, "| zap-ms | Title, with comma (Author, 2013) | 46 ms | x (max) | 50 ± 25 (n=3) | 1.09 | 20–100 | yes |");
	tu_assert_contains(m, "not modelled: never merged \\| no variant");   /* '|' escaped */
	free(m);

	char *c = capture(validate_write_csv, rows, 2);
	tu_assert_contains(c, "name,source,commit,quote,stat,reduce,unit,published,sim_mean,sim_ci95,n,ratio,band_lo,band_hi,within,unreachable\n");
	tu_assert_contains(c, "zap-ms,\"Title, with comma (Author, 2013)\",,\"Avg time: \"\"46\"\" ms\",x,max,ms,46,50,");
	tu_assert_contains(c, ",3,1.08696,20,100,true,\n");
	tu_assert_contains(c, "v1-after,");
	tu_assert_contains(c, ",mean,percent,21.5,");
	tu_assert_contains(c, ",,never merged | no variant\n");
	free(c);

	json_t *j = validate_to_json(rows, 2);
	json_t *r0 = json_array_get(json_object_get(j, "rows"), 0), *r1 = json_array_get(json_object_get(j, "rows"), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "eptsim_validate")), 1);
	assert_string_equal(json_string_value(json_object_get(r0, "unit")), "ms");
	assert_float_equal(json_real_value(json_array_get(json_object_get(r0, "published"), 0)), 46, 0);
	json_t *sim0 = json_array_get(json_object_get(r0, "simulated"), 0);
	assert_float_equal(json_real_value(json_object_get(sim0, "mean")), 50, 1e-12);
	assert_int_equal(json_integer_value(json_object_get(sim0, "n")), 3);
	assert_true(json_is_true(json_object_get(r0, "within")));
	assert_true(json_is_null(json_object_get(r0, "unreachable")));
	assert_true(json_is_null(json_object_get(r1, "simulated")));
	assert_true(json_is_null(json_object_get(r1, "within")));
	assert_string_equal(json_string_value(json_object_get(r1, "unreachable")), "never merged | no variant");
	json_decref(j);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hash_ignores_validate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_values, setup, teardown),
		cmocka_unit_test(test_band_and_ratio),
		cmocka_unit_test(test_outputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
