#!/usr/bin/env bash
# Runs every cmocka test binary given, then the CLI tests sim/tests/cli_*.sh on
# BUILD/eptsim (they print cmocka's lines too), from the repository root, and ends with one
# summary line "N passed, N failed".  Exit status: 0 iff every binary and script passed.
set -u
build=$1; shift
export EPTSIM_BIN=$build/eptsim
passed=0; failed=0; bad=()
for t in "$@" "$(dirname "$0")"/cli_*.sh; do
	out=$("$t" 2>&1); rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
	if [ $rc -ne 0 ]; then
		[ -z "$f" ] && failed=$((failed + 1))
		bad+=("$t")
	fi
done
echo "tests ($build): $passed passed, $failed failed"
if ((${#bad[@]})); then echo "failing binaries: ${bad[*]}"; exit 1; fi
exit 0
