#!/usr/bin/env bash
# Runs every cmocka test binary given, from the repository root, and ends with one summary
# line "N passed, N failed".  Exit status: 0 iff every binary passed.
set -u
build=$1; shift
passed=0; failed=0; bad=()
for t in "$@"; do
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
