/* sim/tests/fuzz replay: the fuzz targets of sim/ (fuzz_config, fuzz_sweep, fuzz_set) over
 * their seeds and over every input they ever found (sim/tests/regress/config/, sweep/, set/):
 * each must give a clean result or error, with the targets' own checks holding (README,
 * "Fuzzing").  Run from the repository root; under make test-san this is ASan + UBSan too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define FUZZ_NO_ENTRY
#include "sim/tests/fuzz_config.c"
#include "sim/tests/fuzz_sweep.c"
#include "sim/tests/fuzz_set.c"

static void test_config_inputs(void **state)
{
	int n = fuzz_replay_dir("configs", fuzz_config_input);

	assert_true(n > 0);
	fuzz_replay_dir("configs/sweeps", fuzz_config_input);
	assert_true(fuzz_replay_dir("sim/tests/regress/config", fuzz_config_input) > 0);
}

static void test_config_regressions_load(void **state)
{
	/* the two dump findings are valid configs: they must load (and reload, checked above) */
	static const char *const ok[] = { "sim/tests/regress/config/trace-path-over-127-chars-cut-in-dump.ini",
					  "sim/tests/regress/config/trace-list-longer-than-a-line.ini" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		FILE *f = fopen(ok[i], "rb");
		uint8_t buf[4096];
		size_t n;

		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		assert_int_equal(fuzz_config_input(buf, n), 0);
	}
}

static void test_sweep_inputs(void **state)
{
	assert_true(fuzz_replay_dir("configs/sweeps", fuzz_sweep_input) > 0);
	fuzz_replay_dir("sim/tests/regress/sweep", fuzz_sweep_input);
}

static void test_set_inputs(void **state)
{
	assert_true(fuzz_replay_dir("sim/tests/fuzz-seeds/set", fuzz_set_input) > 0);
	fuzz_replay_dir("sim/tests/regress/set", fuzz_set_input);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_inputs),
		cmocka_unit_test(test_config_regressions_load),
		cmocka_unit_test(test_sweep_inputs),
		cmocka_unit_test(test_set_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
