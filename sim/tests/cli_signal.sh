#!/usr/bin/env bash
# Results integrity, end to end through the CLI:
#  * SIGINT / SIGTERM during `eptsim run`: exit status 130 / 143, the folder's earlier
#    complete stats.json byte-identical afterwards, DIR/partial/stats.json with
#    "complete": false, no temporary file left; a later complete run removes DIR/partial.
#  * a sweep killed half-way (-j 1, after its first run finished) resumes without running
#    the finished runs again.
#  * a sweep killed by SIGKILL takes its runs with it (PR_SET_PDEATHSIG); a run into a
#    folder that another live run holds is refused (exit 2, naming the folder and the PID).
#  * SIGINT / SIGTERM during `trace import`, `trace convert`, `trace merge` and `workload`,
#    while OUT.tmp.PID exists: exit status 128 + the signal, no OUT and no OUT.tmp.PID left.
#  * a run replaces DIR's results as a whole: the old run's series do not survive into the
#    new one, files in DIR that are not results stay, no temporary is left;
#  * a run that fails half-way through writing (a file size limit: EFBIG on stats.json after
#    the series and config files were written) leaves the old complete run byte for byte,
#    and no temporary;
#  * --out . (a folder holding the current directory) is refused;
#  * the seed is a config key: DIR/config.ini of a --seed run reproduces it byte for byte.
# Prints cmocka's lines, so sim/tests/run-tests.sh counts the tests.
#
#   sim/tests/cli_signal.sh [EPTSIM]      (default: $EPTSIM_BIN, else build/eptsim)
set -u
. "$(dirname "$0")/lib-cli.sh"
cli_init eptsim-sig "$@"

begin() { echo "[ RUN      ] $1"; why=""; }
check() { eval "$1" || why="${why:+$why; }$2"; }
end() { if [ -z "$why" ]; then cli_pass "$1"; else cli_fail "$1" "$why"; fi; }

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

# every file under DIR (names and contents), and every temporary under the test folder
sums() { (cd "$1" && find . -type f | sort | xargs -r sha1sum); }
temps() { find "$T" -name '*.tmp*'; }

# Item 7: the second run writes no series; the first run's must not stay beside it.  A
# file of the user's (a sweep's stderr.log, notes) stays.
name="a run replaces DIR's results whole: old series gone, other files kept"
begin "$name"
"$E" run base.ini --out D --quiet || why="the first run failed"
check '[ -n "$(ls D/series 2> /dev/null)" ]' "the first run wrote no series"
echo "my notes" > D/notes.txt
"$E" run base.ini --seed 2 --set output.series=false --out D --quiet || why="the second run failed"
check '[ ! -e D/series ]' "the first run's series survived: $(ls D/series 2> /dev/null | head -3)"
check '[ "$(ls D | tr "\n" " ")" = "config.hash config.ini notes.txt stats.json timing.json " ]' \
	"D holds $(ls D | tr '\n' ' ')"
check 'grep -q "^ \"seed\": 2," D/stats.json' "stats.json is not the second run's"
check 'grep -q "^seed = 2$" D/config.ini' "config.ini is not the second run's"
check '[ "$(cat D/notes.txt)" = "my notes" ]' "the user's file is gone or changed"
check '[ -z "$(temps)" ]' "temporaries left: $(temps)"
end "$name"

# Item 7: a write that fails half-way.  A file size limit of 8 KiB lets the series,
# config.ini and config.hash (~2 KiB each) through, and stops stats.json (~20 KiB) with
# EFBIG: the old complete run must be there byte for byte, nothing of the new one.
name="a run that fails while writing leaves the old complete run intact"
begin "$name"
"$E" run base.ini --out F --quiet || why="the first run failed"
echo "my notes" > F/notes.txt
sums F > before.sum
check '[ "$(stat -c %s F/stats.json)" -gt 8192 ] && [ "$(stat -c %s F/config.ini)" -lt 8192 ]' \
	"the sizes do not straddle the 8 KiB limit: $(ls -l F)"
(trap '' XFSZ; ulimit -f 8; exec "$E" run base.ini --seed 2 --out F --quiet) 2> err.txt
rc=$?
check '[ $rc -eq 1 ]' "exit status $rc, not 1: $(cat err.txt)"
check 'grep -q "File too large" err.txt' "no error naming the cause: $(cat err.txt)"
sums F > after.sum
check 'cmp -s before.sum after.sum' "the folder changed: $(diff before.sum after.sum | head -6)"
check '[ -z "$(temps)" ]' "temporaries left: $(temps)"
"$E" run base.ini --seed 2 --out F --quiet --skip-done > skip.txt || why="the third run failed"
check '! grep -q "up to date" skip.txt' "--skip-done took the folder for the seed 2 run"
end "$name"

# A DIR that holds the current directory cannot be swapped (the caller would be left in the
# removed old tree): bad input, nothing written.
name="--out . is refused"
begin "$name"
mkdir -p cwd && (cd cwd && cp ../base.ini . && "$E" run base.ini --out . --quiet 2> ../dot.err; echo $? > ../dot.rc)
check '[ "$(cat dot.rc)" -eq 2 ]' "exit status $(cat dot.rc), not 2: $(cat dot.err)"
check 'grep -q "^eptsim: \.: holds the current directory" dot.err' "message: $(cat dot.err)"
check '[ "$(ls -A cwd)" = base.ini ]' "written into the current directory: $(ls -A cwd | tr '\n' ' ')"
end "$name"

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

# Orphans: SIGKILL cannot be caught, so the sweep cannot pass it on; its runs get SIGTERM
# from the kernel when it dies (PR_SET_PDEATHSIG), stop cleanly and exit.
name="a SIGKILLed sweep's runs die with it"
begin "$name"
printf '[sweep]\nbase = base.ini\nset = workload.duration_ms = 100000\nvary = guest.thp_fraction: 0, 1\n' > k.ini
"$E" sweep k.ini --out K -j 2 > /dev/null 2> ksweep.err &
spid=$!
kids=""
for i in $(seq 1 300); do
	kids=$(pgrep -P $spid | tr '\n' ' ')
	[ "$(echo $kids | wc -w)" -eq 2 ] && break
	sleep 0.05
done
check '[ "$(echo $kids | wc -w)" -eq 2 ]' "the sweep did not start 2 runs: $(cat ksweep.err)"
sleep 0.5   # the runs are simulating
kill -KILL $spid
wait $spid 2> /dev/null
for i in $(seq 1 100); do
	alive=""
	for k in $kids; do kill -0 $k 2> /dev/null && alive="$alive $k"; done
	[ -z "$alive" ] && break
	sleep 0.1
done
check '[ -z "$alive" ]' "runs still going 10 s after the sweep was killed:$alive"
for k in $alive; do kill -KILL $k; done
check '[ "$(ls K/runs/*/partial/stats.json 2> /dev/null | wc -l)" -eq 2 ]' \
	"the runs did not stop cleanly (no partial results): $(cat K/runs/*/stderr.log)"
end "$name"

# One live run per folder: a second run into it is refused before it does anything.
name="a run into a folder another live run holds is refused"
begin "$name"
"$E" run base.ini --set workload.duration_ms=100000 --out L --quiet 2> l1.err &
lpid=$!
for i in $(seq 1 100); do [ -e .L.lock ] && break; sleep 0.05; done
check '[ -e .L.lock ] && [ "$(cat .L.lock)" = "$lpid" ]' "no lock file .L.lock with the run's PID"
"$E" run base.ini --out L --quiet 2> l2.err
rc=$?
check '[ $rc -eq 2 ]' "exit status $rc, not 2: $(cat l2.err)"
check 'grep -q "^eptsim: L: in use by another eptsim run (PID $lpid; lock file ./.L.lock)$" l2.err' \
	"message: $(cat l2.err)"
check '[ ! -e L ] && [ -z "$(ls | grep "^L\.")" ]' "the refused run wrote: $(ls -d L* 2> /dev/null)"
kill -TERM $lpid
wait $lpid
check '[ ! -e .L.lock ]' "the lock file stayed after the run"
"$E" run base.ini --out L --quiet 2> l3.err
check '[ $? -eq 0 ] && [ -e L/stats.json ] && [ ! -e L/partial ]' "a run after it failed: $(cat l3.err)"
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

cli_done
