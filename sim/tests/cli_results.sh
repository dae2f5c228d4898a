#!/usr/bin/env bash
# What `eptsim run` leaves in its results folder, end to end through the CLI:
#  * the seed is a config key: DIR/config.ini of a --seed run reproduces it byte for byte;
# Prints cmocka's lines, so sim/tests/run-tests.sh counts the tests.
#
#   sim/tests/cli_results.sh [EPTSIM]      (default: $EPTSIM_BIN, else build/eptsim)
set -u
E=$(realpath "${1:-${EPTSIM_BIN:-build/eptsim}}")
T=$(mktemp -d /tmp/eptsim-res.XXXXXX)
trap 'chmod -R u+w "$T"; rm -rf "$T"' EXIT
passed=0; failed=0; failures=()
cd "$T"

begin() { echo "[ RUN      ] $1"; why=""; }
check() { eval "$1" || why="${why:+$why; }$2"; }
end() {
	if [ -z "$why" ]; then echo "[       OK ] $1"; passed=$((passed + 1))
	else echo "$why"; echo "[  FAILED  ] $1"; failed=$((failed + 1)); failures+=("$1"); fi
}

# A small guest: a few ms simulated take well under a second.
printf '[guest]\nvcpus = 2\nmem = 256M\nkernel_mem = 64M\n[workload]\nduration_ms = 5\n[output]\nsample_us = 200\n' > base.ini

# Item 14: re-running DIR/config.ini (no --seed) is the same run: same seed, same config
# hash, the same stats.json but for config_file (the file the config came from).
name="DIR/config.ini of a --seed run reproduces it"
begin "$name"
"$E" run base.ini --seed 7 --out seed7 --quiet || why="the --seed 7 run failed"
"$E" run seed7/config.ini --out again --quiet || why="the re-run of seed7/config.ini failed"
"$E" run base.ini --out seed1 --quiet || why="the seed 1 run failed"
strip() { grep -v '^ "config_file": ' "$1"; }
check 'cmp -s <(strip seed7/stats.json) <(strip again/stats.json)' \
	"stats.json differs: $(diff <(strip seed7/stats.json) <(strip again/stats.json) | head -5)"
check 'cmp -s seed7/config.hash again/config.hash' "the config hash differs"
check 'grep -q "^ \"seed\": 7," again/stats.json' "the re-run's seed is not 7"
check '! cmp -s <(strip seed7/stats.json) <(strip seed1/stats.json)' "seed 7 and seed 1 gave the same stats"
end "$name"

echo "[==========] $((passed + failed)) test(s) run."
echo "[  PASSED  ] $passed test(s)."
if [ $failed -gt 0 ]; then
	echo "[  FAILED  ] $failed test(s), listed below:"
	for f in "${failures[@]}"; do echo "[  FAILED  ] $f"; done
	exit 1
fi
exit 0
