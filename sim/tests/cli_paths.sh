#!/usr/bin/env bash
# Output and results paths end to end (sim/paths.c) where the outcome is not a bad-input row:
# a disk that fills during the run (exit 1, the file and ENOSPC named, no temporary left),
# and sweep --collect on a corrupt stats.json and on a stat of the wrong type (README,
# Sweeps).  Prints cmocka's lines, so sim/tests/run-tests.sh counts the checks.
#
#   sim/tests/cli_paths.sh [EPTSIM]      (default: $EPTSIM_BIN, else build/eptsim)
set -u
. "$(dirname "$0")/lib-cli.sh"
cli_init eptsim-paths "$@"

# check NAME RC WANT... -- COMMAND...: exit status RC and every WANT a substring of stderr.
check() {
	local name=$1 want_rc=$2; shift 2
	local wants=()
	while [ "$1" != "--" ]; do wants+=("$1"); shift; done
	shift
	echo "[ RUN      ] $name"
	"$@" > "$T/stdout" 2> "$T/stderr"
	local rc=$? why=""
	[ $rc -eq "$want_rc" ] || why="exit status $rc, not $want_rc"
	for w in "${wants[@]}"; do
		grep -qF -- "$w" "$T/stderr" || why="${why:+$why; }message lacks '$w'"
	done
	if [ -z "$why" ]; then
		cli_pass "$name"
	else
		echo "$why; stderr was:"; sed 's/^/    /' "$T/stderr"
		cli_fail "$name"
	fi
}

printf '[guest]\nvcpus = 1\nmem = 64M\nkernel_mem = 16M\n[workload]\nduration_ms = 2\n[output]\nseries = false\n' > tiny.ini
printf '[sweep]\nbase = tiny.ini\nvary = guest.vcpus: 1, 2\n' > s.ini

# Room for the check and config.ini, not for stats.json: the write reports ENOSPC and the file.
mkdir full
if mount -t tmpfs -o size=64k tmpfs full 2> /dev/null; then
	mounts+=("$T/full")
	dd if=/dev/zero of=full/fill bs=4k count=13 2> /dev/null
	check "disk full while writing the results (run)" 1 \
		"eptsim: writing results to full/x: full/x/stats.json: No space left on device" -- \
		"$E" run tiny.ini --out full/x --quiet
	echo "[ RUN      ] no temporary left on the full disk"
	if ls -a full full/x 2> /dev/null | grep -q '\.tmp\.'; then
		cli_fail "no temporary left on the full disk" "" "temporary left"
	else
		cli_pass "no temporary left on the full disk"
	fi
else
	echo "(note: cannot mount a tmpfs here: the disk-full check is skipped; test_paths checks the errno with /dev/full)"
fi

# sweep --collect: a corrupt stats.json is called corrupt (the file and the JSON error); a
# stat of the wrong type is a warning naming the run's file and the stat.
"$E" sweep s.ini --out sw -j 2 > /dev/null 2>&1 || { echo "cannot run the sweep"; exit 1; }
printf '{"complete": true, "config_hash": "x", "stats": {' > sw/runs/vcpus=1/stats.json
sed -i '0,/"zap.count": [0-9][0-9]*/s//"zap.count": "seven"/' sw/runs/vcpus=2/stats.json
check "sweep --collect: corrupt stats.json and a wrongly typed stat" 1 \
	"eptsim sweep: missing sw/runs/vcpus=1 (corrupt stats.json: sw/runs/vcpus=1/stats.json: invalid JSON at line 1:" \
	"eptsim sweep: warning: sw/runs/vcpus=2/stats.json: stat zap.count: a string, not a number" -- \
	"$E" sweep --collect sw
check "sweep --dry-run names a corrupt stats.json" 0 -- "$E" sweep s.ini --out sw --dry-run
grep -qF "corrupt stats.json       sw/runs/vcpus=1: sw/runs/vcpus=1/stats.json: invalid JSON" "$T/stdout" ||
	{ cli_fail "dry-run output"; cat "$T/stdout"; }

cli_done
