/* sim/rng: streams are reproducible, independent of each other, and the derived
 * distributions have the means the workload generators rely on. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim/rng.h"

#include <math.h>

#define N 200000

static void test_reproducible_and_distinct(void **state)
{
	struct rng a, b, c;
	(void)state;
	rng_seed(&a, 42, 1);
	rng_seed(&b, 42, 1);
	rng_seed(&c, 42, 2);
	int same_c = 0;
	for (int i = 0; i < 1000; i++) {
		uint64_t x = rng_next(&a);
		assert_int_equal(x, rng_next(&b));
		same_c += x == rng_next(&c);
	}
	assert_int_equal(same_c, 0);
	rng_seed(&c, 43, 1);
	rng_seed(&a, 42, 1);
	assert_true(rng_next(&a) != rng_next(&c));
}

static void test_uniform(void **state)
{
	struct rng r;
	unsigned hist[10] = { 0 };
	double sum = 0;
	(void)state;
	rng_seed(&r, 1, 0);
	for (int i = 0; i < N; i++) {
		double u = rng_double(&r);
		assert_true(u >= 0 && u < 1);
		sum += u;
		uint64_t k = rng_below(&r, 10);
		assert_true(k < 10);
		hist[k]++;
	}
	assert_true(fabs(sum / N - 0.5) < 0.01);
	for (int k = 0; k < 10; k++)   /* each bucket within 5% of N/10 */
		assert_true(fabs((double)hist[k] - N / 10.0) < N / 10.0 * 0.05);
}

static void test_exp_and_geom_means(void **state)
{
	struct rng r;
	double se = 0, sg = 0;
	(void)state;
	rng_seed(&r, 7, 3);
	for (int i = 0; i < N; i++) {
		double e = rng_exp(&r, 250.0);
		assert_true(e >= 0);
		se += e;
		uint64_t g = rng_geom(&r, 40.0);
		assert_true(g >= 1);
		sg += (double)g;
	}
	assert_true(fabs(se / N - 250.0) < 250.0 * 0.02);
	assert_true(fabs(sg / N - 40.0) < 40.0 * 0.02);
	assert_int_equal(rng_geom(&r, 1.0), 1);
	assert_true(rng_exp(&r, 0.0) == 0.0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reproducible_and_distinct),
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_exp_and_geom_means),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
