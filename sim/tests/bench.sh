#!/usr/bin/env bash
# make bench: speed figures, one per line ("name value unit").  Prints; never fails on a
# number.  Inputs are generated deterministically into a temporary folder.
# (Issue 6 adds the 1 TiB / 256-vCPU scale figures and memory per mapped page.)
set -eu
B=${1:-build}
E=$B/eptsim
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
N=${BENCH_RECORDS:-100000000}

now() { date +%s.%N; }
fig() { awk -v n="$1" -v v="$2" -v u="$3" 'BEGIN { printf "%s %s %s\n", n, v, u }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# Two 1-vCPU traces of N records: one whose accesses mostly hit the TLB (a 64 KiB working
# set), one whose accesses mostly miss (random over 1 GiB of 4K pages).
common="--set guest.vcpus=1 --set guest.mem=2G --set guest.kernel_mem=256M --set workload.insns_per_access=4"
"$E" workload random --records "$N" $common --set workload.wss_mb=0.0625 --out "$out/hit.trace.gz" > /dev/null
"$E" workload random --records "$N" $common --set workload.wss_mb=1024 --out "$out/miss.trace.gz" > /dev/null

for kind in hit miss; do
	f=$out/$kind.trace.gz
	t0=$(now); zcat "$f" > /dev/null; t1=$(now)
	"$E" trace info "$f" > /dev/null; t2=$(now)
	"$E" run /dev/null --set workload.trace="$f" --set workload.trace_end=stop \
		--set workload.duration_ms=1000000 $common --set output.series=false --out "$out/r-$kind" --quiet; t3=$(now)
	recs=$(sed -n 's/.*"vcpu.records": \([0-9]*\).*/\1/p' "$out/r-$kind/stats.json" | head -1)
	misses=$(sed -n 's/.*"tlb.misses": \([0-9]*\).*/\1/p' "$out/r-$kind/stats.json" | head -1)
	z=$(secs "$t0" "$t1"); d=$(secs "$t1" "$t2"); r=$(secs "$t2" "$t3")
	fig "replay_${kind}_records" "$recs" records
	fig "replay_${kind}_tlb_miss_rate" "$(awk -v m="$misses" -v n="$recs" 'BEGIN { printf "%.4f", m / n }')" "misses/record"
	fig "replay_${kind}_wall" "$r" s
	fig "replay_${kind}_records_per_s" "$(awk -v n="$recs" -v s="$r" 'BEGIN { printf "%.0f", n / s }')" records/s
	fig "replay_${kind}_ns_per_record" "$(awk -v n="$recs" -v s="$r" 'BEGIN { printf "%.1f", s * 1e9 / n }')" ns
	fig "decode_only_${kind}_wall" "$d" s
	fig "zcat_${kind}_wall" "$z" s
	fig "replay_${kind}_over_decode" "$(awk -v a="$r" -v b="$d" 'BEGIN { printf "%.2f", a / b }')" ratio
	fig "replay_${kind}_over_zcat" "$(awk -v a="$r" -v b="$z" 'BEGIN { printf "%.2f", a / b }')" ratio
done

# Instructions per record (repeatable on a noisy machine): callgrind on a short replay.
if command -v valgrind > /dev/null 2>&1; then
	"$E" workload random --records 1000000 $common --set workload.wss_mb=0.0625 --out "$out/short.trace.gz" > /dev/null
	valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$E" run /dev/null \
		--set workload.trace="$out/short.trace.gz" --set workload.trace_end=stop --set workload.duration_ms=1000000 \
		$common --set output.series=false --out "$out/r-cg" --quiet > /dev/null 2> "$out/cg.log"
	ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out/cg.out" | head -1)
	fig callgrind_instructions_per_record "$(awk -v i="$ir" 'BEGIN { printf "%.0f", i / 1000000 }')" "instructions (1M-record hit replay, set-up included)"
else
	fig callgrind_instructions_per_record n/a "(valgrind not installed)"
fi

# The default scenario (kbuild, 4 vCPUs) for scale.
t0=$(now)
"$E" run configs/pci-rom-kbuild.ini --set workload.duration_ms=300 --out "$out/k" --quiet
t1=$(now)
recs=$(sed -n 's/.*"vcpu.records": \([0-9]*\).*/\1/p' "$out/k/stats.json" | head -1)
s=$(secs "$t0" "$t1")
fig kbuild_run_wall "$s" s
fig kbuild_records_per_s "$(awk -v n="$recs" -v s="$s" 'BEGIN { printf "%.0f", n / s }')" records/s
