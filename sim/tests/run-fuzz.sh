#!/usr/bin/env bash
# run-fuzz.sh BUILD SECONDS TARGET...   (make fuzz; README, "Fuzzing")
#
# Runs each libFuzzer target for SECONDS from the repository root, one after the other.  The
# corpus grows in BUILD/corpus/NAME/ (kept between runs, not committed) from the seeds: the
# target's fuzz-seeds/ and regress/ folders beside it, plus the committed configs for the
# config and sweep loaders.  Each target's log is BUILD/fuzz-logs/NAME.log; a finding is saved
# in BUILD/crashes/NAME/ and printed.  Ends with one line per target (seconds, executions,
# corpus size) and exits 1 if any target found something.
set -u
build=$1; secs=$2; shift 2
failed=(); summary=()
for bin in "$@"; do
	name=$(basename "$bin")              # fuzz_trace, fuzz_config, ...
	mod=$(dirname "$(dirname "$bin")")   # BUILD/traces
	mod=${mod#"$build"/}
	short=${name#fuzz_}
	seeds=()
	for d in "$mod/tests/fuzz-seeds/$short" "$mod/tests/regress/$short"; do
		[ -d "$d" ] && seeds+=("$d")
	done
	case $short in
	config) seeds+=(configs) ;;
	sweep) seeds+=(configs/sweeps) ;;
	esac
	corpus=$build/corpus/$name; crashes=$build/crashes/$name; log=$build/fuzz-logs/$name.log
	mkdir -p "$corpus" "$crashes" "$build/fuzz-logs"
	echo "fuzz: $name for ${secs}s (seeds: ${seeds[*]})"
	"$bin" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$crashes/" "$corpus" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	files=$(find "$corpus" -type f | wc -l)
	line="$name: ${secs}s, ${execs:-?} executions, corpus $files files"
	if [ $rc -ne 0 ]; then
		line="$line: FAILED (exit $rc)"
		failed+=("$name")
		tail -60 "$log"
		for f in $(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log"); do
			echo "fuzz: $name: crash input $f:"
			od -c "$f" | head -20
		done
	fi
	echo "$line"
	summary+=("$line")
done
echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
if ((${#failed[@]})); then echo "fuzz: findings in: ${failed[*]}"; exit 1; fi
exit 0
