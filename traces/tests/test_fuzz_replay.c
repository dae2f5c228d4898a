/* traces/tests/fuzz replay: the fuzz targets of traces/ (fuzz_trace, fuzz_trace_text,
 * fuzz_lackey) over their seeds (traces/tests/fuzz-seeds/) and over every input they ever
 * found (traces/tests/regress/TARGET/): each must give a clean result or error, with the
 * targets' own checks holding (README, "Fuzzing").  Run from the repository root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define FUZZ_NO_ENTRY
#include "traces/tests/fuzz_lackey.c"
#include "traces/tests/fuzz_trace.c"
#include "traces/tests/fuzz_trace_text.c"

static void test_trace_inputs(void **state)
{
	assert_true(fuzz_replay_dir("traces/tests/fuzz-seeds/trace", fuzz_trace_input) > 0);
	fuzz_replay_dir("traces/tests/regress/trace", fuzz_trace_input);
}

static void test_trace_text_inputs(void **state)
{
	assert_true(fuzz_replay_dir("traces/tests/fuzz-seeds/trace_text", fuzz_trace_text_input) > 0);
	fuzz_replay_dir("traces/tests/regress/trace_text", fuzz_trace_text_input);
}

static void test_lackey_inputs(void **state)
{
	assert_true(fuzz_replay_dir("traces/tests/fuzz-seeds/lackey", fuzz_lackey_input) > 0);
	fuzz_replay_dir("traces/tests/regress/lackey", fuzz_lackey_input);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_trace_inputs),
		cmocka_unit_test(test_trace_text_inputs),
		cmocka_unit_test(test_lackey_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
