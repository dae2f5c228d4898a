#!/usr/bin/env bash
# make bench: speed figures, one per line ("name value unit").  Prints; never fails on a
# number.  Inputs are generated deterministically into a temporary folder.
#
#   replay_hit_*    a TLB-hit-dominated trace: the committed capture of `ls -l /usr/sbin`
#                   (traces/samples/) looped to BENCH_RECORDS records
#   replay_miss_*   a TLB-miss-dominated trace: random accesses over 1 GiB of 4K pages
#   *_over_decode   replay time / `eptsim trace info` time on the same file (decode-only)
#   *_over_zcat     replay time / `zcat FILE > /dev/null`
#   *_cache_*       the same replay with walk.refs = cache (walk references and data through
#                   the cache hierarchy), and its time over the default (probabilistic)
#   linear_records_* the hit replay at 1/4, 1/2 and all of the records
#   scale_*         configs/scale-1t.ini (1 TiB, 256 vCPUs, 268M 4K sptes prefaulted, one
#                   zap-all): build and zap wall time and peak RSS per variant, then the
#                   same at 256 GiB and 512 GiB (linear in shadow pages), and the memory
#                   per mapped 4K page
set -eu
B=${1:-build}
E=$B/eptsim
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
N=${BENCH_RECORDS:-100000000}
SCALE_MEM=${BENCH_SCALE_MEM:-1T}
LINEAR_MEMS=${BENCH_LINEAR_MEMS:-256G 512G}

now() { date +%s.%N; }
fig() { awk -v n="$1" -v v="$2" -v u="$3" 'BEGIN { printf "%s %s %s\n", n, v, u }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
div() { awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { printf f, a / b }'; }
st() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$1/stats.json" | head -1; }
timing() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$1/timing.json" | head -1; }

# ---------------------------------------------------------------- traces
sample=traces/samples/ls-l-usr-sbin.trace.gz
"$E" trace cat "$sample" > "$out/ls.txt"
per=$(($(wc -l < "$out/ls.txt") - 1))
# a trace of about n records: the capture k times over (the text form re-encodes to the
# same bytes per copy)
loop_trace() {
	local n=$1 f=$2 k
	k=$(((n + per - 1) / per))
	{ cat "$out/ls.txt"; for _ in $(seq 2 "$k"); do tail -n +2 "$out/ls.txt"; done; } | "$E" trace convert - "$f"
}
loop_trace "$N" "$out/hit.trace.gz"
common="--set guest.vcpus=1 --set guest.mem=2G --set guest.kernel_mem=256M --set workload.insns_per_access=4"
"$E" workload random --records "$N" $common --set workload.wss_mb=1024 --out "$out/miss.trace.gz" > /dev/null

replay() {   # replay FILE DIR [--set ...]: the replay-ls guest, the whole trace once
	local f=$1 d=$2
	shift 2
	"$E" run configs/replay-ls.ini --set workload.elf= --set workload.trace="$f" --set workload.trace_end=stop \
		--set workload.duration_ms=1000000 --set output.series=false "$@" --out "$d" --quiet
}

for kind in hit miss; do
	f=$out/$kind.trace.gz
	t0=$(now); zcat "$f" > /dev/null; t1=$(now)
	"$E" trace info "$f" > /dev/null; t2=$(now)
	replay "$f" "$out/r-$kind"; t3=$(now)
	recs=$(st "$out/r-$kind" vcpu.records)
	misses=$(st "$out/r-$kind" tlb.misses)
	z=$(secs "$t0" "$t1"); d=$(secs "$t1" "$t2"); r=$(secs "$t2" "$t3")
	fig "replay_${kind}_records" "$recs" records
	fig "replay_${kind}_bytes_per_record" "$(div "$(wc -c < "$f")" "$recs" %.3f)" bytes
	fig "replay_${kind}_tlb_miss_rate" "$(div "$misses" "$recs" %.4f)" "misses/record"
	fig "replay_${kind}_wall" "$r" s
	fig "replay_${kind}_records_per_s" "$(div "$recs" "$r" %.0f)" records/s
	fig "replay_${kind}_ns_per_record" "$(div "$r" "$recs" %.12f | awk '{ printf "%.1f", $1 * 1e9 }')" ns
	fig "decode_only_${kind}_wall" "$d" s
	fig "zcat_${kind}_wall" "$z" s
	fig "replay_${kind}_over_decode" "$(div "$r" "$d")" ratio
	fig "replay_${kind}_over_zcat" "$(div "$r" "$z")" ratio
	# the same replay with the walk's references and the data through the cache hierarchy
	t0=$(now); replay "$f" "$out/c-$kind" --set walk.refs=cache; t1=$(now)
	c=$(secs "$t0" "$t1")
	fig "replay_${kind}_cache_wall" "$c" s
	fig "replay_${kind}_cache_ns_per_record" "$(div "$c" "$recs" %.12f | awk '{ printf "%.1f", $1 * 1e9 }')" ns
	fig "replay_${kind}_cache_over_probabilistic" "$(div "$c" "$r")" ratio
done

# Linear in records: the hit replay at a quarter, a half and all of the records.
for q in 4 2; do
	loop_trace $((N / q)) "$out/hit$q.trace.gz"
done
for q in 4 2 1; do
	f=$out/hit$q.trace.gz
	[ "$q" = 1 ] && f=$out/hit.trace.gz
	t0=$(now); replay "$f" "$out/lin$q"; t1=$(now)
	recs=$(st "$out/lin$q" vcpu.records)
	fig "linear_records_${recs}_wall" "$(secs "$t0" "$t1")" s
	fig "linear_records_${recs}_ns_per_record" "$(awk -v s="$(secs "$t0" "$t1")" -v n="$recs" 'BEGIN { printf "%.1f", s * 1e9 / n }')" ns
done

# Instructions per record (repeatable on a noisy machine): callgrind on the capture itself.
if command -v valgrind > /dev/null 2>&1; then
	valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" "$E" run configs/replay-ls.ini --set workload.elf= \
		--set workload.trace="$sample" --set output.series=false --out "$out/r-cg" --quiet > /dev/null 2> "$out/cg.log"
	ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out/cg.out" | head -1)
	recs=$(st "$out/r-cg" vcpu.records)
	fig callgrind_instructions_per_record "$(div "$ir" "$recs" %.0f)" "instructions (replay of the ls capture, $recs records, set-up included)"
	valgrind --tool=callgrind --callgrind-out-file="$out/cgc.out" "$E" run configs/replay-ls.ini --set workload.elf= \
		--set workload.trace="$sample" --set output.series=false --set walk.refs=cache --out "$out/r-cgc" --quiet \
		> /dev/null 2> "$out/cg.log"
	irc=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out/cgc.out" | head -1)
	fig callgrind_cache_instructions_per_record "$(div "$irc" "$recs" %.0f)" "instructions (the same with walk.refs = cache)"
else
	fig callgrind_instructions_per_record n/a "(valgrind not installed)"
fi

# The default scenario (kbuild, 4 vCPUs).
"$E" run configs/pci-rom-kbuild.ini --set workload.duration_ms=300 --out "$out/k" --quiet
fig kbuild_run_wall "$(timing "$out/k" run_s)" s
fig kbuild_records_per_s "$(timing "$out/k" records_per_s)" records/s

# ---------------------------------------------------------------- scale
scale() {   # scale NAME MEM VARIANT [more --set]
	local name=$1 mem=$2 v=$3
	shift 3
	"$E" run configs/scale-1t.ini --set guest.mem="$mem" --set mmu.zap_all="$v" "$@" --out "$out/$name" --quiet
	fig "${name}_build_wall" "$(timing "$out/$name" build_s)" s
	fig "${name}_run_wall" "$(timing "$out/$name" run_s)" s
	fig "${name}_peak_rss" "$(timing "$out/$name" peak_rss_kib | awk '{ printf "%.0f", $1 / 1024 }')" MiB
}
total=0
for v in legacy fast-flush-at-break fast-v7; do
	scale "scale_${v}" "$SCALE_MEM" "$v"
	d=$out/scale_$v
	fig "scale_${v}_sptes" "$(st "$d" ept.prefaulted)" sptes
	fig "scale_${v}_shadow_pages_zapped" "$(st "$d" zap.pages_zapped)" pages
	fig "scale_${v}_lock_breaks" "$(tr -d ' \n' < "$d/stats.json" | sed -n 's/.*"zap.lock_breaks":\[\([0-9]*\).*/\1/p')" breaks
	fig "scale_${v}_refaults" "$(st "$d" ept.faults)" faults
	total=$(awk -v t="$total" -v a="$(timing "$d" build_s)" -v b="$(timing "$d" run_s)" 'BEGIN { print t + a + b }')
done
fig scale_total_wall "$total" "s (state built and one zap-all simulated, three variants)"

# Linear in shadow pages: the zap-all of fast-v7 at 256G, 512G and 1T with the vCPUs idle
# (one access per ~0.3 s: what is left is building the EPT and zapping it), wall time per 4K
# spte; then callgrind's instructions per spte at 16G, 32G and 64G (repeatable: wall time
# here also pays for the VM's first touch of fresh memory).
for mem in $LINEAR_MEMS $SCALE_MEM; do
	scale "linear_pages_${mem}" "$mem" fast-v7 --set workload.insns_per_access=1e9
	d=$out/linear_pages_$mem
	n=$(st "$d" ept.prefaulted)
	fig "linear_pages_${mem}_pages" "$(st "$d" zap.pages_zapped)" "shadow pages zapped"
	fig "linear_pages_${mem}_build_ns_per_spte" "$(awk -v a="$(timing "$d" build_s)" -v n="$n" 'BEGIN { printf "%.2f", a * 1e9 / n }')" ns
	fig "linear_pages_${mem}_zap_ns_per_spte" "$(awk -v a="$(timing "$d" run_s)" -v n="$n" 'BEGIN { printf "%.2f", a * 1e9 / n }')" ns
done
if command -v valgrind > /dev/null 2>&1; then
	prev_ir=; prev_n=
	for mem in ${BENCH_CALLGRIND_MEMS:-16G 32G 64G}; do
		valgrind --tool=callgrind --callgrind-out-file="$out/cgs.out" "$E" run configs/scale-1t.ini \
			--set guest.mem="$mem" --set workload.insns_per_access=1e9 --out "$out/cgs-$mem" --quiet > /dev/null 2> "$out/cgs.log"
		ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$out/cgs.out" | head -1)
		n=$(st "$out/cgs-$mem" ept.prefaulted)
		fig "linear_pages_callgrind_${mem}_instructions" "$ir" "instructions (build + zap-all, set-up of 256 vCPUs included)"
		# the cost of each spte added since the size before: constant if linear
		[ -n "$prev_ir" ] && fig "linear_pages_callgrind_${mem}_marginal_instructions_per_spte" \
			"$(awk -v a="$ir" -v b="$prev_ir" -v n="$n" -v m="$prev_n" 'BEGIN { printf "%.1f", (a - b) / (n - m) }')" instructions
		prev_ir=$ir; prev_n=$n
	done
fi

# Memory per mapped 4K page: the guest built with and without its EPT (no run).
scale mem_prefault "$SCALE_MEM" fast-v7 --set workload.duration_ms=0.001
scale mem_empty "$SCALE_MEM" fast-v7 --set workload.duration_ms=0.001 --set guest.prefault=false
a=$(timing "$out/mem_prefault" peak_rss_kib); b=$(timing "$out/mem_empty" peak_rss_kib)
n=$(st "$out/mem_prefault" ept.prefaulted)
fig bytes_per_mapped_4k_page "$(awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "%.2f", (a - b) * 1024 / n }')" "bytes (sptes, rmaps, shadow-page structs)"
fig bytes_per_mapped_4k_page_all_included "$(awk -v a="$a" -v n="$n" 'BEGIN { printf "%.2f", a * 1024 / n }')" "bytes (peak RSS of the whole process / sptes)"
