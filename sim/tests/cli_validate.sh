#!/usr/bin/env bash
# `eptsim validate` end to end on a tiny synthetic suite (seconds): bad input exits 2 with a
# message naming the file and the key, before anything runs (no results folder); a good suite
# runs its replicates and exits 0 with rows outside their band; a row whose stat a run does
# not have is an error (exit 1).  Prints cmocka's lines, so sim/tests/run-tests.sh counts them.
#
#   sim/tests/cli_validate.sh [EPTSIM]      (default: $EPTSIM_BIN, else build/eptsim)
set -u
. "$(dirname "$0")/lib-cli.sh"
cli_init eptsim-validate "$@"

# check NAME WANT_RC WANT_STDERR [WANT_STDOUT] -- COMMAND...
check() {
	local name=$1 rc_want=$2 err_want=$3 out_want=$4; shift 5
	echo "[ RUN      ] $name"
	"$@" > "$T/stdout" 2> "$T/stderr"
	local rc=$? why=""
	[ $rc -eq "$rc_want" ] || why="exit status $rc, not $rc_want"
	[ -z "$err_want" ] || grep -qF -- "$err_want" "$T/stderr" || why="${why:+$why; }stderr lacks '$err_want'"
	[ -z "$out_want" ] || grep -qF -- "$out_want" "$T/stdout" || why="${why:+$why; }stdout lacks '$out_want'"
	if [ -z "$why" ]; then
		cli_pass "$name"
	else
		echo "$why; stdout, stderr:"; sed 's/^/    /' "$T/stdout" "$T/stderr"
		cli_fail "$name"
	fi
}

run='[guest]\nvcpus = 2\nmem = 64M\nkernel_mem = 16M\n[workload]\nduration_ms = 2\n[output]\nseries = false\n'
row() { mkdir -p "$(dirname "$1")"; printf "$run[validate]\nsource = T (A, 2013)\n$2" > "$1"; }

row bad1/nostat.ini 'published = 5\n'
row bad2/reduce.ini 'published = 5\nstat = vcpu.records\nreduce = average\n'
row bad3/band.ini 'published = 5\nstat = vcpu.records\nband_lo = 3\nband_hi = 1\n'
mkdir -p empty
row good/a-records.ini 'published = 1000\nstat = vcpu.records\nband_lo = 1\nband_hi = 2\n'
row good/b-notmodelled.ini 'published = 3\nunreachable = no such variant\n'
row good/c-records-median.ini 'published = 1000\nstat = vcpu.records\nreduce = median\nband_lo = 0\nband_hi = 1e12\n'
row nostat/x.ini 'published = 5\nstat = zap.nosuch\n'

check missing_stat 2 "nostat.ini: validate.stat: missing" "" -- "$E" validate bad1 --out o1 -q
[ ! -e o1 ] || cli_fail missing_stat_no_output "o1 was created"
check unknown_reduce 2 "reduce.ini:13: validate.reduce: 'average' is not one of" "" -- "$E" validate bad2/reduce.ini --out o2 -q
check band_order 2 "band.ini: validate.band_lo: above band_hi" "" -- "$E" validate bad3 --out o3 -q
check no_ini 2 "no *.ini in empty" "" -- "$E" validate empty --out o4 -q
check no_such_path 2 "nosuchdir: No such file or directory" "" -- "$E" validate nosuchdir --out o5 -q
check bad_replicates 2 "--replicates" "" -- "$E" validate good -n 0 --out o6 -q
# a good suite: rows out of the band still exit 0; the not-modelled row is listed, not run
check good_suite 0 "" "not modelled: no such variant" -- "$E" validate good -n 2 -j 2 --out res -q
cp "$T/stdout" good.out
echo "[ RUN      ] good_table"
if grep -qE '^a-records +1000 +[0-9.e+]+ \+- [0-9.e+]+ \(n=2\) .* 1\.\.2 +no$' good.out &&
   grep -qE '^c-records-median +1000 .* yes$' good.out && grep -qE '^b-notmodelled +3 .* not modelled$' good.out; then
	cli_pass good_table
else
	cli_fail good_table "$(sed 's/^/    /' good.out)"
fi
echo "[ RUN      ] good_files"
if [ -s res/validate.csv ] && [ -s res/validate.json ] && [ -f res/a-records/runs/seed=2/stats.json ] &&
   [ ! -e res/c-records-median ] && [ ! -e res/b-notmodelled ] &&
   python3 -c 'import json,sys; d=json.load(open("res/validate.json")); r=d["rows"]; sys.exit(not (len(r)==3 and r[0]["within"] is False and r[1]["unreachable"] and r[2]["within"] is True and r[0]["simulated"][0]["n"]==2))'; then
	cli_pass good_files
else
	cli_fail good_files "validate.csv/json or the runs are not as expected (c shares a's runs)"
fi
check markdown 0 "" "| a-records | T (A, 2013) | 1000 | vcpu.records (mean) |" -- "$E" validate good -n 2 --out res -q --markdown
check stat_not_in_run 1 "zap.nosuch: no such stat in stats.json" "" -- "$E" validate nostat -n 1 --out res2 -q
cli_done
