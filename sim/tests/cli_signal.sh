#!/usr/bin/env bash
# Results integrity, end to end through the CLI:
#  * SIGINT / SIGTERM during `eptsim run`: exit status 130 / 143, the folder's earlier
#    complete stats.json byte-identical afterwards, DIR/partial/stats.json with
#    "complete": false, no temporary file left; a later complete run removes DIR/partial.
#  * a sweep killed half-way (-j 1, after its first run finished) resumes without running
#    the finished runs again.
#  * SIGINT / SIGTERM during `trace import`, `trace convert`, `trace merge` and `workload`,
#    while OUT.tmp.PID exists: exit status 128 + the signal, no OUT and no OUT.tmp.PID left.
# Prints cmocka's lines, so sim/tests/run-tests.sh counts the tests.
#
#   sim/tests/cli_signal.sh [EPTSIM]      (default: $EPTSIM_BIN, else build/eptsim)
set -u
E=$(realpath "${1:-${EPTSIM_BIN:-build/eptsim}}")
T=$(mktemp -d /tmp/eptsim-sig.XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0; failed=0; failures=()
cd "$T"

begin() { echo "[ RUN      ] $1"; why=""; }
check() { eval "$1" || why="${why:+$why; }$2"; }
end() {
	if [ -z "$why" ]; then echo "[       OK ] $1"; passed=$((passed + 1))
	else echo "$why"; echo "[  FAILED  ] $1"; failed=$((failed + 1)); failures+=("$1"); fi
}

# A small guest: ~10-20 ms of wall time per simulated ms, so 20 ms is a short complete
# run and 100 s one that is certainly still going when the signal comes.
printf '[guest]\nvcpus = 2\nmem = 256M\nkernel_mem = 64M\n[workload]\nduration_ms = 20\n[output]\nsample_us = 200\n' > base.ini

for sig in INT TERM; do
	want=$([ $sig = INT ] && echo 130 || echo 143)
	name="SIG$sig during a run"
	begin "$name"
	D=run-$sig
	"$E" run base.ini --out $D --quiet || why="the first run failed"
	cp $D/stats.json before.json
	(cd $D && find . -path ./partial -prune -o -print | sort) > before.ls
	"$E" run base.ini --set workload.duration_ms=100000 --out $D --quiet 2> err.txt &
	pid=$!
	sleep 0.5
	kill -$sig $pid
	wait $pid; rc=$?
	check '[ $rc -eq $want ]' "exit status $rc, not $want"
	check 'cmp -s before.json $D/stats.json' "the earlier stats.json changed"
	check 'grep -q "\"complete\": false" $D/partial/stats.json' "no partial stats.json with complete false"
	check 'grep -q "partial results in" err.txt' "no message about the partial results: $(cat err.txt)"
	check '[ -z "$(find $D -name "*.tmp*")" ]' "temporary files left: $(find $D -name '*.tmp*')"
	check '[ "$(ls $D/partial | tr "\n" " ")" = "config.hash config.ini series stats.json timing.json " ]' \
		"DIR/partial holds $(ls $D/partial | tr '\n' ' ')"
	# the earlier complete results are all still there, and nothing else but partial/
	(cd $D && find . -path ./partial -prune -o -print | sort) > after.ls
	check 'cmp -s before.ls after.ls' "the folder's listing changed: $(diff before.ls after.ls)"
	"$E" run base.ini --out $D --quiet
	check '[ ! -e $D/partial ]' "a complete run left DIR/partial behind"
	end "$name"
done

# Sweep: 4 runs of ~1 s, one at a time; SIGTERM to the sweep process alone (not its
# group) once the first run has finished: it passes the signal to the run under way, starts
# no other, and exits 143; run again, it runs only the unfinished ones.
name="a killed sweep resumes without redoing finished runs"
begin "$name"
printf '[guest]\nvcpus = 2\nmem = 256M\nkernel_mem = 64M\n[workload]\nduration_ms = 60\n[output]\nseries = false\n' > sbase.ini
printf '[sweep]\nbase = sbase.ini\nvary = guest.thp_fraction: 0, 0.25, 0.5, 0.75\n' > s.ini
"$E" sweep s.ini --out S -j 1 > sweep1.out 2> sweep1.err &
spid=$!
for i in $(seq 1 600); do
	n=$(ls S/runs/*/stats.json 2> /dev/null | wc -l)
	[ "$n" -ge 1 ] && break
	sleep 0.1
done
kill -TERM $spid
wait $spid; rc=$?
check '[ $rc -eq 143 ]' "the killed sweep exited with $rc, not 143: $(cat sweep1.err)"
check 'grep -q "the same command resumes it" sweep1.err' "no resume hint: $(cat sweep1.err)"
check '! pgrep -f -- "--out S/runs/" > /dev/null' "a run of the killed sweep is still running"
done1=$(ls S/runs/*/stats.json 2> /dev/null | sort)
n1=$(echo "$done1" | grep -c .)
check '[ "$n1" -ge 1 ] && [ "$n1" -lt 4 ]' "$n1 runs were done when the sweep was killed (want 1..3): $(cat sweep1.err)"
for f in $done1; do cp "$f" "$f.keep"; stat -c %i "$f" > "$f.inode"; done
"$E" sweep s.ini --out S -j 1 > sweep2.out 2> sweep2.err
rc=$?
check '[ $rc -eq 0 ]' "the resumed sweep exited with $rc: $(cat sweep2.err)"
check '[ "$(ls S/runs/*/stats.json | wc -l)" -eq 4 ]' "not all 4 runs done after the resume"
ran=$(grep -c '^\[sweep\] [0-9]*/[0-9]* ok' sweep2.err)
check '[ "$ran" -eq $((4 - n1)) ]' "the resume ran $ran runs, not $((4 - n1)): $(cat sweep2.err)"
for f in $done1; do
	check 'cmp -s "$f" "$f.keep" && [ "$(stat -c %i "$f")" = "$(cat "$f.inode")" ]' "$f was written again"
done
end "$name"

# The trace writers, stopped while their OUT.tmp.PID exists: an input that stalls (a pipe
# or a FIFO whose writer sleeps) keeps each command in the middle of its write, so the
# signal certainly comes while the temporary is there; `workload` writes 10^9 records.
"$E" workload random --out one.gz --records 400000 --set guest.vcpus=1 > /dev/null 2>&1 ||
	echo "could not write one.gz"
printf '# eptsim-trace 1 vcpus=1 addr=gva paging=4-level source="t"\n0 R 0x1000 8 1\n' > head.txt
# feed FIFO CMD...: a FIFO that CMD's output goes through, then stalls (its writer's PID in $fpid)
feed() { rm -f "$1"; mkfifo "$1"; local f=$1; shift; { "$@"; exec sleep 30; } > "$f" & fpid=$!; }
# start_CMD OUT: run one command in the background (its PID in $cpid), its input stalling
start_import() { feed in.fifo printf ' L 1000,8\n S 2000,4\n'; "$E" trace import --format lackey - "$1" < in.fifo 2> err.txt & cpid=$!; }
start_convert() { feed in.fifo cat head.txt; "$E" trace convert in.fifo "$1" 2> err.txt & cpid=$!; }
start_merge() { feed in.fifo head -c 300000 one.gz; "$E" trace merge one.gz in.fifo "$1" 2> err.txt & cpid=$!; }
start_workload() { fpid=; "$E" workload random --out "$1" --records 1000000000 2> err.txt & cpid=$!; }
for cmd in import convert merge workload; do
	for sig in INT TERM; do
		want=$([ $sig = INT ] && echo 130 || echo 143)
		name="SIG$sig during $cmd leaves no temporary"
		begin "$name"
		mkdir -p w-$cmd-$sig
		out=w-$cmd-$sig/out.gz
		start_$cmd $out
		for i in $(seq 1 300); do
			[ -n "$(ls w-$cmd-$sig/ 2> /dev/null | grep tmp)" ] && break
			sleep 0.02
		done
		check '[ -n "$(ls w-$cmd-$sig | grep tmp)" ]' "no temporary appeared: $(cat err.txt)"
		kill -$sig $cpid
		for i in $(seq 1 100); do kill -0 $cpid 2> /dev/null || break; sleep 0.1; done
		if kill -0 $cpid 2> /dev/null; then
			why="still running 10 s after SIG$sig"
			kill -KILL $cpid
		fi
		wait $cpid; rc=$?
		check '[ $rc -eq $want ]' "exit status $rc, not $want: $(cat err.txt)"
		check '[ -z "$(ls w-$cmd-$sig)" ]' "left behind: $(ls w-$cmd-$sig)"
		end "$name"
		[ -n "$fpid" ] && kill $fpid 2> /dev/null && wait $fpid 2> /dev/null
	done
done

echo "[==========] $((passed + failed)) test(s) run."
echo "[  PASSED  ] $passed test(s)."
if [ $failed -gt 0 ]; then
	echo "[  FAILED  ] $failed test(s), listed below:"
	for f in "${failures[@]}"; do echo "[  FAILED  ] $f"; done
	exit 1
fi
exit 0
