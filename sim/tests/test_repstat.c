/* Tests for sim/repstat: the replicates' mean, sample sd and 95% interval against values
 * worked by hand, the edge cases (one value, none), and the t quantiles (the table's ends
 * and the expansion beyond it, against published values). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "sim/repstat.h"

static void test_hand_values(void **state)
{
	/* 1, 2, 3, 4: mean 2.5; squares of deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, sd =
	 * sqrt(5 / 3) = 1.290994; ci95 = t(0.975, 3) * sd / sqrt(4) = 3.1824 * 1.290994 / 2 */
	const double v[] = { 1, 2, 3, 4 };
	struct repstat st;
	repstat_compute(v, 4, &st);
	assert_int_equal(st.n, 4);
	assert_float_equal(st.mean, 2.5, 1e-12);
	assert_float_equal(st.sd, 1.2910, 1e-4);
	assert_float_equal(st.ci95, 2.0543, 1e-3);
	assert_float_equal(st.ci95, 3.1824 * sqrt(5.0 / 3) / 2, 1e-9);

	/* 10, 12: mean 11, sd sqrt(2), ci95 = 12.7062 * sqrt(2) / sqrt(2) = 12.7062 */
	const double w[] = { 10, 12 };
	repstat_compute(w, 2, &st);
	assert_float_equal(st.mean, 11, 1e-12);
	assert_float_equal(st.sd, sqrt(2), 1e-12);
	assert_float_equal(st.ci95, 12.7062, 1e-9);

	/* all equal: no spread */
	const double z[] = { 7, 7, 7 };
	repstat_compute(z, 3, &st);
	assert_float_equal(st.mean, 7, 0);
	assert_float_equal(st.sd, 0, 0);
	assert_float_equal(st.ci95, 0, 0);

	/* a large mean with a small spread: two passes keep it */
	const double big[] = { 1e12 + 1, 1e12 + 2, 1e12 + 3, 1e12 + 4 };
	repstat_compute(big, 4, &st);
	assert_float_equal(st.sd, 1.290994, 1e-5);
}

static void test_edges(void **state)
{
	struct repstat st;
	const double one = 42;
	repstat_compute(&one, 1, &st);   /* one run: a mean, no spread */
	assert_int_equal(st.n, 1);
	assert_float_equal(st.mean, 42, 0);
	assert_true(isnan(st.sd));
	assert_true(isnan(st.ci95));
	repstat_compute(NULL, 0, &st);
	assert_int_equal(st.n, 0);
	assert_true(isnan(st.mean));
}

static void test_t_quantiles(void **state)
{
	assert_true(isnan(repstat_t975(0)));
	assert_float_equal(repstat_t975(1), 12.7062, 1e-9);
	assert_float_equal(repstat_t975(3), 3.1824, 1e-9);
	assert_float_equal(repstat_t975(10), 2.2281, 1e-9);
	assert_float_equal(repstat_t975(30), 2.0423, 1e-9);
	/* beyond the table: published t(0.975) for 40, 60, 120 degrees of freedom; toward 1.96 */
	assert_float_equal(repstat_t975(40), 2.0211, 2e-4);
	assert_float_equal(repstat_t975(60), 2.0003, 2e-4);
	assert_float_equal(repstat_t975(120), 1.9799, 2e-4);
	assert_float_equal(repstat_t975(1000000), 1.95996, 1e-4);
	/* decreasing, across the table's end too */
	for (size_t df = 1; df < 200; df++)
		assert_true(repstat_t975(df + 1) < repstat_t975(df));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_values),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_t_quantiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
